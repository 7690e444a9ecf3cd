/*
 * cmd_eval.c - `mamori eval`: reads the ground truth (mamori-gen --truth,
 * docs/generator.md) and the detector's alert JSON lines (docs/alerts.md),
 * hands them to the matcher (common/eval.c) and prints the table
 * (docs/evaluation.md).
 *
 * Bad input lines are reported as FILE:LINE: reason on stderr and
 * skipped; the run goes on and says how many it skipped (--strict: exit 2
 * after reporting them all).  A file that cannot be read is exit 2.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "mamori/classes.h"
#include "mamori/eval.h"
#include "mamori/json_scan.h"
#include "mamori/prefix.h"
#include "mamori/privacy.h"
#include "mamori/redis_schema.h"

#define LINE_MAX_BYTES (1 << 20) /* an alert is at most MM_ALERT_JSON_MAX; this is generous */

void mm_cmd_eval_usage(FILE *f)
{
	fprintf(f, "       mamori [-c FILE] eval --truth TRUTH.tsv --alerts ALERTS.jsonl [--step S]\n"
		   "                    [--window N] [--slow-window N] [--hosts N --steps M | --det-log LOG]\n"
		   "                    [--csv OUT.csv] [--json] [-v] [--strict] [--any-class]\n"
		   "                    [--min-recall X] [--max-false N] [--key FILE]\n"
		   "  eval             match alerts to the ground truth: recall, precision, false alerts, delay\n"
		   "    --truth F      ground truth of mamori-gen --truth\n"
		   "    --alerts F     the detector's JSON lines (--json, [alerts] file, mamori alerts --json); - stdin\n"
		   "    --step S       seconds per step (default: the alerts' step_s, else 10)\n"
		   "    --window N, --slow-window N   grace after an attack, in steps (default 6, 30; -c: the config's)\n"
		   "    --hosts N --steps M   host-windows scored = N x M, for false alerts per million\n"
		   "    --det-log LOG  or read them from the detector's \"scored N host-steps\" line\n"
		   "    --csv F        also write the table as CSV\n"
		   "    --json         one JSON object per row instead of the table\n"
		   "    -v             also every attack's verdict and every false alert\n"
		   "    --strict       a bad input line is an error (exit 2), not skipped\n"
		   "    --any-class    match on host and time only, for a detector that does not classify\n"
		   "    --min-recall X, --max-false N   exit 1 unless overall recall >= X, false alerts <= N\n"
		   "    --key FILE     the alerts are on pseudonyms: map the truth's addresses through this\n"
		   "                   Crypto-PAn key ([privacy] key_file, docs/privacy.md)\n"
		   "       mamori -c FILE eval --truth TRUTH.tsv --sweep SECTION.KEY=FROM:TO:STEP [--sweep ...]\n"
		   "                    [--csv OUT.csv] [--plots DIR] [--detector PATH] [--keep]\n"
		   "    --sweep S      rerun mamori-detector --replay-all over what is in Redis once per setting\n"
		   "                   (FILE with KEY overridden; section \"group\" = every [group]), up to 3 keys\n"
		   "    --plots DIR    recall/precision, delay and false alerts against the setting (gnuplot PNGs);\n"
		   "                   without --sweep: the same per class for the one run\n"
		   "    --detector P   the detector to run (default: beside mamori, else from PATH)\n"
		   "    --keep         keep each setting's configuration, alerts and detector log\n");
}

/* ---- reading lines ---- */

struct reader {
	const char *path;
	FILE *fp;
	char *buf;
	size_t cap;
	unsigned long line;
	unsigned long bad;
};

/* The next line without its newline, or NULL at the end (or on a read
 * error, reported). */
static char *next_line(struct reader *r)
{
	ssize_t n = getline(&r->buf, &r->cap, r->fp);

	if (n < 0) {
		if (ferror(r->fp))
			fprintf(stderr, "mamori eval: %s: %s\n", r->path, strerror(errno));
		return NULL;
	}
	r->line++;
	while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r'))
		r->buf[--n] = '\0';
	if ((size_t)n >= LINE_MAX_BYTES)
		r->buf[LINE_MAX_BYTES - 1] = '\0';
	return r->buf;
}

static void bad_line(struct reader *r, const char *why)
{
	r->bad++;
	if (r->bad <= 20)
		fprintf(stderr, "mamori eval: %s:%lu: %s%s\n", r->path, r->line, why,
			r->bad == 20 ? " (further bad lines not shown)" : "");
}

/* An address or prefix in the alerts' spelling; with cp, its pseudonym
 * (the truth is in real addresses, pseudonymised alerts are not).  0, or
 * -1. */
static int canon_key(const char *in, struct mm_cryptopan *cp, char *out, size_t outlen)
{
	if (strchr(in, '/')) {
		struct mm_prefix p;
		const char *why;
		if (mm_prefix_parse(in, &p, &why) < 0 || (cp != NULL && mm_cryptopan_prefix(cp, &p, &p) < 0))
			return -1;
		mm_prefix_str(&p, out, outlen);
		return 0;
	}
	uint8_t a[16];
	if (mm_addr_parse(in, a) < 0 || outlen < MM_REDIS_ADDR_MAX || (cp != NULL && mm_cryptopan_addr(cp, a, a) < 0))
		return -1;
	mm_redis_addr_text(a, out, outlen);
	return 0;
}

/* ---- the ground truth ---- */

enum { T_CLASS, T_VECTOR, T_TARGET, T_START, T_END, T_STRENGTH, T_PEER, T_NCOL };
static const char *const truth_cols[T_NCOL] = { "class", "vector", "target", "start", "end", "strength", "peer" };

/* "1700000150" or "1700000008.500" (at most 3 decimals) into ms. */
static int parse_time_ms(const char *s, uint64_t *ms)
{
	char *end;
	errno = 0;
	uint64_t sec = strtoull(s, &end, 10);
	unsigned frac = 0, digits = 0;

	if (end == s || *s == '-' || errno || sec > UINT64_MAX / 1000 - 1)
		return -1;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++) {
			if (++digits > 3)
				return -1;
			frac = frac * 10 + (unsigned)(*end - '0');
		}
	if (*end)
		return -1;
	while (digits < 3 && digits > 0)
		frac *= 10, digits++;
	*ms = sec * 1000 + frac;
	return 0;
}

struct vec_att {
	struct mm_eval_attack *v;
	size_t n, cap;
};

struct vec_look {
	struct mm_eval_lookalike *v;
	size_t n, cap;
};

/* Truth lines of class "benign" (look-alikes) go to *look (may be NULL:
 * skipped), "unmatched" ones (labelled traffic of no class of ours) are
 * counted in *unmatched, the rest are attacks. */
static int read_truth(const char *path, struct mm_cryptopan *cp, struct vec_att *out, struct vec_look *look,
		      unsigned long *bad, unsigned long *unmatched)
{
	struct reader r = { .path = path };
	int col[T_NCOL];
	char *line, *f[32];
	int rc = -1;

	r.fp = fopen(path, "r");
	if (r.fp == NULL) {
		fprintf(stderr, "mamori eval: %s: %s\n", path, strerror(errno));
		return -1;
	}
	/* the header names the columns; class, target, start and end are needed */
	if ((line = next_line(&r)) == NULL) {
		fprintf(stderr, "mamori eval: %s: empty, expected a header line\n", path);
		goto out;
	}
	for (int c = 0; c < T_NCOL; c++)
		col[c] = -1;
	int nf = 0;
	for (char *save, *t = strtok_r(line, "\t", &save); t && nf < 32; t = strtok_r(NULL, "\t", &save), nf++)
		for (int c = 0; c < T_NCOL; c++)
			if (strcmp(t, truth_cols[c]) == 0)
				col[c] = nf;
	if (col[T_CLASS] < 0 || col[T_TARGET] < 0 || col[T_START] < 0 || col[T_END] < 0) {
		fprintf(stderr, "mamori eval: %s:1: not a ground-truth header (class, target, start, end)\n", path);
		goto out;
	}
	while ((line = next_line(&r)) != NULL) {
		struct mm_eval_attack a;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		nf = 0;
		for (char *p = line; nf < 32;) {
			f[nf++] = p;
			p = strchr(p, '\t');
			if (p == NULL)
				break;
			*p++ = '\0';
		}
		memset(&a, 0, sizeof(a));
		if (nf <= col[T_CLASS] || nf <= col[T_TARGET] || nf <= col[T_START] || nf <= col[T_END]) {
			bad_line(&r, "too few columns");
			continue;
		}
		if (strcmp(f[col[T_CLASS]], "benign") == 0) {
			struct mm_eval_lookalike l;
			if (look == NULL)
				continue;
			memset(&l, 0, sizeof(l));
			if (canon_key(f[col[T_TARGET]], cp, l.key, sizeof(l.key)) < 0 ||
			    parse_time_ms(f[col[T_START]], &l.start_ms) < 0 || parse_time_ms(f[col[T_END]], &l.end_ms) < 0 ||
			    l.end_ms < l.start_ms) {
				bad_line(&r, "benign: target, start or end unreadable");
				continue;
			}
			if (look->n == look->cap) {
				size_t nc = look->cap ? look->cap * 2 : 16;
				struct mm_eval_lookalike *nv = realloc(look->v, nc * sizeof(*nv));
				if (nv == NULL) {
					fprintf(stderr, "mamori eval: out of memory\n");
					goto out;
				}
				look->v = nv;
				look->cap = nc;
			}
			look->v[look->n++] = l;
			continue;
		}
		if ((a.cls = mm_eval_truth_class(f[col[T_CLASS]])) == MM_EVAL_UNMATCHED) {
			(*unmatched)++; /* labelled traffic of no class of ours: not scored */
			continue;
		}
		if (a.cls < 0) {
			bad_line(&r, "unknown class");
			continue;
		}
		if (canon_key(f[col[T_TARGET]], cp, a.key, sizeof(a.key)) < 0) {
			bad_line(&r, "target is not an address or prefix");
			continue;
		}
		if (parse_time_ms(f[col[T_START]], &a.start_ms) < 0 || parse_time_ms(f[col[T_END]], &a.end_ms) < 0 ||
		    a.end_ms < a.start_ms) {
			bad_line(&r, "start/end: expected Unix seconds (.mmm), end not before start");
			continue;
		}
		snprintf(a.vector, sizeof(a.vector), "%s", col[T_VECTOR] >= 0 && nf > col[T_VECTOR] ? f[col[T_VECTOR]] : "-");
		if (col[T_STRENGTH] >= 0 && nf > col[T_STRENGTH]) {
			char *end;
			a.strength = strtod(f[col[T_STRENGTH]], &end);
			if (end == f[col[T_STRENGTH]] || *end || !isfinite(a.strength)) {
				bad_line(&r, "strength is not a number");
				continue;
			}
		}
		if (col[T_PEER] >= 0 && nf > col[T_PEER] && strcmp(f[col[T_PEER]], "-") != 0 &&
		    canon_key(f[col[T_PEER]], cp, a.peer, sizeof(a.peer)) < 0) {
			bad_line(&r, "peer is not an address or prefix");
			continue;
		}
		if (out->n == out->cap) {
			size_t nc = out->cap ? out->cap * 2 : 64;
			struct mm_eval_attack *nv = realloc(out->v, nc * sizeof(*nv));
			if (nv == NULL) {
				fprintf(stderr, "mamori eval: out of memory\n");
				goto out;
			}
			out->v = nv;
			out->cap = nc;
		}
		out->v[out->n++] = a;
	}
	rc = ferror(r.fp) ? -1 : 0;
out:
	*bad += r.bad;
	free(r.buf);
	fclose(r.fp);
	return rc;
}

/* ---- the alerts: flat members of one JSON object per line ---- */

enum { J_SCHEMA, J_EVENT, J_ID, J_CLASS, J_VECTOR, J_TIER, J_HOST, J_PREFIX, J_STEP_S, J_FIRST, J_LAST, J_END, J_N };
static const char *const json_keys[J_N] = { "schema", "event",  "id",         "class",     "vector",   "tier",
					    "host",   "prefix", "step_s",     "first_step", "last_step", "end_step" };

struct vec_ev {
	struct mm_eval_event *v;
	size_t n, cap;
};

/* One alert line into e.  NULL, or why it is refused. */
static const char *parse_alert(const char *line, struct mm_eval_event *e, uint64_t *step_s)
{
	struct mm_json_span v[J_N];
	char buf[MM_EVAL_KEY_MAX];
	uint64_t schema;

	if (mm_json_members(line, json_keys, J_N, v) < 0)
		return "not a JSON object";
	memset(e, 0, sizeof(*e));
	if (mm_json_u64(&v[J_SCHEMA], &schema) < 0 || schema != 1)
		return "schema missing or not 1";
	if (mm_json_str(&v[J_EVENT], buf, sizeof(buf)) < 0)
		return "no event";
	if (strcmp(buf, "start") == 0)
		e->ev = MM_EVAL_START;
	else if (strcmp(buf, "update") == 0)
		e->ev = MM_EVAL_UPDATE;
	else if (strcmp(buf, "end") == 0)
		e->ev = MM_EVAL_END;
	else
		return "event is not start, update or end";
	if (mm_json_str(&v[J_CLASS], buf, sizeof(buf)) < 0 || (e->cls = mm_class_parse(buf)) < 0)
		return "class missing or unknown";
	if ((mm_json_str(&v[J_HOST], buf, sizeof(buf)) < 0 && mm_json_str(&v[J_PREFIX], buf, sizeof(buf)) < 0) ||
	    canon_key(buf, NULL, e->key, sizeof(e->key)) < 0)
		return "host or prefix missing or not an address";
	if (mm_json_u64(&v[J_FIRST], &e->first_step) < 0)
		return "first_step missing";
	if (mm_json_u64(&v[J_LAST], &e->last_step) < 0)
		e->last_step = e->first_step;
	if (e->ev == MM_EVAL_END && mm_json_u64(&v[J_END], &e->end_step) < 0)
		return "end without end_step";
	if (mm_json_str(&v[J_VECTOR], e->vector, sizeof(e->vector)) < 0)
		e->vector[0] = '\0'; /* null */
	if (mm_json_str(&v[J_TIER], buf, sizeof(buf)) == 0)
		e->act = strcmp(buf, "act") == 0;
	if (mm_json_str(&v[J_ID], e->id, sizeof(e->id)) < 0) /* no id: one incident per class, key, start */
		snprintf(e->id, sizeof(e->id), "%d/%.20s/%" PRIu64, e->cls, e->key, e->first_step);
	if (mm_json_u64(&v[J_STEP_S], step_s) < 0)
		*step_s = 0;
	return NULL;
}

static int read_alerts(const char *path, struct vec_ev *out, uint64_t *step_s, unsigned long *bad)
{
	struct reader r = { .path = path };
	char *line;
	int rc = -1;

	r.fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	if (r.fp == NULL) {
		fprintf(stderr, "mamori eval: %s: %s\n", path, strerror(errno));
		return -1;
	}
	*step_s = 0;
	while ((line = next_line(&r)) != NULL) {
		struct mm_eval_event e;
		uint64_t s;
		const char *why;
		if (*mm_json_skip_ws(line) == '\0')
			continue;
		if ((why = parse_alert(line, &e, &s)) != NULL) {
			bad_line(&r, why);
			continue;
		}
		if (s && *step_s && s != *step_s) {
			bad_line(&r, "step_s differs from the earlier alerts'");
			continue;
		}
		if (s)
			*step_s = s;
		if (out->n == out->cap) {
			size_t nc = out->cap ? out->cap * 2 : 256;
			struct mm_eval_event *nv = realloc(out->v, nc * sizeof(*nv));
			if (nv == NULL) {
				fprintf(stderr, "mamori eval: out of memory\n");
				goto out;
			}
			out->v = nv;
			out->cap = nc;
		}
		out->v[out->n++] = e;
	}
	rc = ferror(r.fp) ? -1 : 0;
out:
	*bad += r.bad;
	free(r.buf);
	if (r.fp != stdin)
		fclose(r.fp);
	return rc;
}

/* The last "scored N host-steps" of a detector log.  0, or -1. */
static int read_det_log(const char *path, uint64_t *hw)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;
	int found = 0;

	if (fp == NULL) {
		fprintf(stderr, "mamori eval: %s: %s\n", path, strerror(errno));
		return -1;
	}
	while (getline(&buf, &cap, fp) >= 0) {
		const char *p = strstr(buf, "scored ");
		unsigned long long n;
		char rest[16];
		if (p && sscanf(p, "scored %llu %15s", &n, rest) == 2 && strncmp(rest, "host-steps", 10) == 0) {
			*hw = n;
			found = 1;
		}
	}
	free(buf);
	fclose(fp);
	if (!found) {
		fprintf(stderr, "mamori eval: %s: no \"scored N host-steps\" line (the detector prints it on exit)\n",
			path);
		return -1;
	}
	return 0;
}

int mm_eval_load_alerts(const char *path, struct mm_eval_event **v, size_t *n, uint64_t *step_s,
			unsigned long *bad)
{
	struct vec_ev ve = { 0 };

	if (read_alerts(path, &ve, step_s, bad) < 0) {
		free(ve.v);
		return -1;
	}
	*v = ve.v;
	*n = ve.n;
	return 0;
}

int mm_eval_load_det_log(const char *path, uint64_t *hw)
{
	return read_det_log(path, hw);
}

/* ---- output ---- */

static const char *row_class(const struct mm_eval_row *w)
{
	return w->cls < 0 ? "all" : mm_class_info((enum mm_class)w->cls)->name;
}

/* A figure, or "-" when undefined. */
static const char *fmt(char *buf, size_t len, double v, int prec)
{
	if (isnan(v))
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%.*f", prec, v);
	return buf;
}

static const char *fmt_strength(char *buf, size_t len, const struct mm_eval_row *w)
{
	if (w->cls < 0)
		snprintf(buf, len, "%s", "");
	else if (isnan(w->strength))
		snprintf(buf, len, "%s", w->attacks ? "all" : "-");
	else
		snprintf(buf, len, "%g", w->strength);
	return buf;
}

static void print_table(const struct mm_eval *r, FILE *o)
{
	char b[16][24];

	fprintf(o, "%-16s %8s %7s %8s %6s %9s %9s %5s %4s %5s %5s %8s %8s %7s %6s %5s %5s %5s %4s\n", "class",
		"strength", "attacks", "detected", "recall", "incidents", "precision", "extra", "2nd", "f.act", "f.inv",
		"act/Mhw", "inv/Mhw", "alr/inc", "ev/inc", "d.med", "d.p95", "e.med", "open");
	for (size_t i = 0; i < r->nrows; i++) {
		const struct mm_eval_row *w = &r->rows[i];
		char cls[40];
		snprintf(cls, sizeof(cls), "%s%s", w->by_strength ? "  " : "", row_class(w));
		if (w->by_strength)
			fprintf(o, "%-16s %8s %7u %8u %6s %9u %9s %5u %4u %5s %5s %8s %8s %7s %6s %5s %5s %5s %4u\n", cls,
				fmt_strength(b[0], sizeof(b[0]), w), w->attacks, w->detected,
				fmt(b[1], sizeof(b[1]), w->recall, 3), w->incidents, "", w->extra, w->secondary, "", "",
				"", "", fmt(b[2], sizeof(b[2]), w->alerts_per_incident, 2),
				fmt(b[9], sizeof(b[9]), w->events_per_incident, 1),
				fmt(b[3], sizeof(b[3]), w->delay_median, 1), fmt(b[4], sizeof(b[4]), w->delay_p95, 0),
				fmt(b[5], sizeof(b[5]), w->time_to_end_median, 1), w->open);
		else
			fprintf(o, "%-16s %8s %7u %8u %6s %9u %9s %5u %4u %5u %5u %8s %8s %7s %6s %5s %5s %5s %4u\n", cls,
				fmt_strength(b[0], sizeof(b[0]), w), w->attacks, w->detected,
				fmt(b[1], sizeof(b[1]), w->recall, 3), w->incidents,
				fmt(b[2], sizeof(b[2]), w->precision, 3), w->extra, w->secondary, w->false_act,
				w->false_inv, fmt(b[3], sizeof(b[3]), w->false_act_per_m, 3),
				fmt(b[4], sizeof(b[4]), w->false_inv_per_m, 3),
				fmt(b[5], sizeof(b[5]), w->alerts_per_incident, 2),
				fmt(b[9], sizeof(b[9]), w->events_per_incident, 1),
				fmt(b[6], sizeof(b[6]), w->delay_median, 1), fmt(b[7], sizeof(b[7]), w->delay_p95, 0),
				fmt(b[8], sizeof(b[8]), w->time_to_end_median, 1), w->open);
	}
}

static const char *const csv_cols =
	"class,strength,attacks,detected,missed,recall,incidents,precision,matched,extra,secondary,false_act,"
	"false_investigate,false_act_per_mhw,false_investigate_per_mhw,alerts_per_incident,events_per_incident,"
	"delay_median,"
	"delay_p95,time_to_end_median,open,vector_ok,vector_n";

/* A number, or the empty CSV field / JSON null when undefined. */
static void num(FILE *o, double v, const char *undef)
{
	if (isnan(v))
		fputs(undef, o);
	else
		fprintf(o, "%.6g", v);
}

static void print_row_values(FILE *o, const struct mm_eval_row *w, int json)
{
	const char *u = json ? "null" : "";
	static const char *const keys[] = { "strength",   "attacks",     "detected",  "missed",    "recall",
					    "incidents",  "precision",   "matched",   "extra",     "secondary",
					    "false_act",  "false_investigate", "false_act_per_mhw",
					    "false_investigate_per_mhw", "alerts_per_incident", "events_per_incident",
					    "delay_median",
					    "delay_p95",  "time_to_end_median", "open", "vector_ok", "vector_n" };
	double vals[] = { w->strength,
			  w->attacks,
			  w->detected,
			  w->missed,
			  w->recall,
			  w->incidents,
			  w->by_strength ? NAN : w->precision,
			  w->matched,
			  w->extra,
			  w->secondary,
			  w->by_strength ? NAN : w->false_act,
			  w->by_strength ? NAN : w->false_inv,
			  w->false_act_per_m,
			  w->false_inv_per_m,
			  w->alerts_per_incident,
			  w->events_per_incident,
			  w->delay_median,
			  w->delay_p95,
			  w->time_to_end_median,
			  w->open,
			  w->vector_ok,
			  w->vector_n };

	if (json)
		fprintf(o, "{\"class\":\"%s\",\"by_strength\":%s", row_class(w), w->by_strength ? "true" : "false");
	else
		fputs(row_class(w), o);
	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		if (json)
			fprintf(o, ",\"%s\":", keys[i]);
		else
			fputc(',', o);
		num(o, vals[i], u);
	}
	fputs(json ? "}\n" : "\n", o);
}

static void print_verbose(const struct mm_eval *r, const struct mm_eval_attack *a, FILE *o)
{
	fprintf(o, "\nattacks (class, host or prefix, strength, steps, incidents, target-side, delay, time to end):\n");
	for (size_t j = 0; j < r->natt; j++) {
		const struct mm_eval_verdict *v = &r->verdict[j];
		fprintf(o, "  %-16s %-20s %8g %" PRIu64 "..%" PRIu64 "  %u %u ", mm_class_info((enum mm_class)a[j].cls)->name,
			a[j].key, a[j].strength, v->first_step, v->last_step, v->incidents, v->secondary);
		if (v->incidents == 0)
			fprintf(o, "missed\n");
		else if (v->ended)
			fprintf(o, "%+" PRId64 " %+" PRId64 "\n", v->delay, v->time_to_end);
		else
			fprintf(o, "%+" PRId64 " open\n", v->delay);
	}
	unsigned n = 0;
	for (size_t i = 0; i < r->ninc; i++) {
		const struct mm_eval_incident *in = &r->inc[i];
		if (in->attack >= 0)
			continue;
		if (n++ == 0)
			fprintf(o, "false alerts (class, host or prefix, vector, tier, id, first step, end step):\n");
		fprintf(o, "  %-16s %-20s %-10s %-11s %-16s %" PRIu64 " ", mm_class_info((enum mm_class)in->cls)->name,
			in->key, in->vector[0] ? in->vector : "-", in->act ? "act" : "investigate", in->id,
			in->first_step);
		if (in->has_end)
			fprintf(o, "%" PRIu64 "\n", in->end_step);
		else
			fprintf(o, "open\n");
	}
}

/* ---- the command ---- */

static int parse_u64(const char *opt, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s || *end || errno || *s == '-' || v < lo || v > hi) {
		fprintf(stderr, "mamori eval: --%s %s: expected %" PRIu64 "..%" PRIu64 "\n", opt, s, lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

int mm_cmd_eval(const struct mm_config *cfg, int argc, char **argv)
{
	enum { O_TRUTH = 256, O_ALERTS, O_STEP, O_WINDOW, O_SLOW, O_HOSTS, O_STEPS, O_DETLOG, O_CSV, O_JSON, O_STRICT,
	       O_MINRECALL, O_MAXFALSE, O_SWEEP, O_PLOTS, O_DETECTOR, O_KEEP, O_ANYCLASS, O_KEY };
	static const struct option longopts[] = {
		{ "truth", required_argument, NULL, O_TRUTH },	  { "alerts", required_argument, NULL, O_ALERTS },
		{ "step", required_argument, NULL, O_STEP },	  { "window", required_argument, NULL, O_WINDOW },
		{ "slow-window", required_argument, NULL, O_SLOW }, { "hosts", required_argument, NULL, O_HOSTS },
		{ "steps", required_argument, NULL, O_STEPS },	  { "det-log", required_argument, NULL, O_DETLOG },
		{ "csv", required_argument, NULL, O_CSV },	  { "json", no_argument, NULL, O_JSON },
		{ "strict", no_argument, NULL, O_STRICT },	  { "min-recall", required_argument, NULL, O_MINRECALL },
		{ "max-false", required_argument, NULL, O_MAXFALSE }, { "verbose", no_argument, NULL, 'v' },
		{ "sweep", required_argument, NULL, O_SWEEP },	  { "plots", required_argument, NULL, O_PLOTS },
		{ "detector", required_argument, NULL, O_DETECTOR }, { "keep", no_argument, NULL, O_KEEP },
		{ "any-class", no_argument, NULL, O_ANYCLASS },	  { "key", required_argument, NULL, O_KEY },
		{ NULL, 0, NULL, 0 },
	};
	const char *truth = NULL, *alerts = NULL, *det_log = NULL, *csv = NULL, *key_file = NULL;
	struct mm_cryptopan *cp = NULL;
	uint64_t step = 0, window = cfg ? cfg->window_steps : 6, slow = cfg ? cfg->slow_window_steps : 30;
	uint64_t hosts = 0, steps = 0, max_false = 0, alert_step = 0, hw = 0;
	double min_recall = NAN;
	int json = 0, strict = 0, verbose = 0, any_class = 0, have_max_false = 0, ch, rc = 2;
	unsigned long bad = 0, unmatched = 0;
	struct vec_att va = { 0 };
	struct vec_look vl = { 0 };
	struct vec_ev ve = { 0 };
	struct mm_eval *r = NULL;
	struct mm_sweep_args sw = { 0 };
	char err[256], *end;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "v", longopts, NULL)) != -1) {
		switch (ch) {
		case O_TRUTH: truth = optarg; break;
		case O_ALERTS: alerts = optarg; break;
		case O_STEP:
			if (parse_u64("step", optarg, 1, 86400, &step) < 0)
				return 2;
			break;
		case O_WINDOW:
			if (parse_u64("window", optarg, 0, 100000, &window) < 0)
				return 2;
			break;
		case O_SLOW:
			if (parse_u64("slow-window", optarg, 0, 100000, &slow) < 0)
				return 2;
			break;
		case O_HOSTS:
			if (parse_u64("hosts", optarg, 1, UINT32_MAX, &hosts) < 0)
				return 2;
			break;
		case O_STEPS:
			if (parse_u64("steps", optarg, 1, UINT32_MAX, &steps) < 0)
				return 2;
			break;
		case O_DETLOG: det_log = optarg; break;
		case O_CSV: csv = optarg; break;
		case O_JSON: json = 1; break;
		case O_STRICT: strict = 1; break;
		case O_ANYCLASS: any_class = 1; break;
		case 'v': verbose = 1; break;
		case O_MINRECALL:
			min_recall = strtod(optarg, &end);
			if (end == optarg || *end || !(min_recall >= 0 && min_recall <= 1)) {
				fprintf(stderr, "mamori eval: --min-recall %s: expected 0..1\n", optarg);
				return 2;
			}
			break;
		case O_MAXFALSE:
			if (parse_u64("max-false", optarg, 0, UINT32_MAX, &max_false) < 0)
				return 2;
			have_max_false = 1;
			break;
		case O_SWEEP:
			if (sw.nkeys == SWEEP_MAX_KEYS || mm_sweep_parse(optarg, &sw.keys[sw.nkeys]) < 0) {
				fprintf(stderr, "mamori eval: --sweep %s: expected SECTION.KEY=FROM:TO:STEP (at most %d)\n",
					optarg, SWEEP_MAX_KEYS);
				return 2;
			}
			sw.nkeys++;
			break;
		case O_PLOTS: sw.plots = optarg; break;
		case O_DETECTOR: sw.detector = optarg; break;
		case O_KEEP: sw.keep = 1; break;
		case O_KEY: key_file = optarg; break;
		default: mm_cmd_eval_usage(stderr); return 2;
		}
	}
	if (key_file != NULL) {
		uint8_t key[MM_CRYPTOPAN_KEY_LEN];

		if (mm_privacy_key_read(key_file, key, err, sizeof(err)) < 0) {
			fprintf(stderr, "mamori eval: --key %s: %s\n", key_file, err);
			return 2;
		}
		cp = mm_cryptopan_new(key);
		memset(key, 0, sizeof(key));
		if (cp == NULL) {
			fprintf(stderr, "mamori eval: --key %s: cannot set up AES-128\n", key_file);
			return 2;
		}
	}
	if (sw.nkeys > 0) {
		if (optind != argc || truth == NULL || alerts != NULL) {
			fprintf(stderr, "mamori eval: --sweep needs --truth (and -c); the alerts come from its runs\n");
			return 2;
		}
		unsigned long unm = 0;

		rc = read_truth(truth, cp, &va, NULL, &bad, &unm);
		mm_cryptopan_free(cp);
		if (rc < 0)
			return 2;
		if (unm)
			fprintf(stderr, "mamori eval: %lu unmatched truth rows (no class) not scored\n", unm);
		if (bad && strict) {
			free(va.v);
			return 2;
		}
		sw.attacks = va.v;
		sw.nattacks = va.n;
		sw.csv = csv;
		rc = mm_cmd_sweep(cfg, &sw);
		free(va.v);
		return rc;
	}
	if (optind != argc || truth == NULL || alerts == NULL) {
		fprintf(stderr, "mamori eval: --truth and --alerts are needed\n");
		mm_cmd_eval_usage(stderr);
		goto out;
	}
	if ((hosts != 0) != (steps != 0) || (hosts && det_log)) {
		fprintf(stderr, "mamori eval: give --hosts and --steps together, or --det-log\n");
		goto out;
	}
	if (hosts)
		hw = hosts * steps; /* both under 2^32 */
	else if (det_log && read_det_log(det_log, &hw) < 0)
		goto out;

	if (read_truth(truth, cp, &va, &vl, &bad, &unmatched) < 0 || read_alerts(alerts, &ve, &alert_step, &bad) < 0)
		goto out;
	if (step && alert_step && step != alert_step) {
		fprintf(stderr, "mamori eval: --step %" PRIu64 " but the alerts say step_s %" PRIu64 "\n", step,
			alert_step);
		goto out;
	}
	if (step == 0)
		step = alert_step ? alert_step : cfg ? cfg->step_s : 10;
	if (bad) {
		fprintf(stderr, "mamori eval: %lu bad line%s %s\n", bad, bad == 1 ? "" : "s",
			strict ? "(--strict: stopping)" : "skipped");
		if (strict)
			goto out;
	}

	struct mm_eval_params p = { (uint32_t)step, (uint32_t)window, (uint32_t)slow, hw, any_class };
	r = mm_eval_run(&p, va.v, va.n, ve.v, ve.n, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "mamori eval: %s\n", err);
		goto out;
	}
	if (r->conflicts)
		fprintf(stderr, "mamori eval: %u events name another class or host than their id's first event\n",
			r->conflicts);

	if (csv) {
		FILE *o = fopen(csv, "w");
		if (o == NULL) {
			fprintf(stderr, "mamori eval: %s: %s\n", csv, strerror(errno));
			goto out;
		}
		fprintf(o, "%s\n", csv_cols);
		for (size_t i = 0; i < r->nrows; i++)
			print_row_values(o, &r->rows[i], 0);
		if (fclose(o) != 0) {
			fprintf(stderr, "mamori eval: %s: %s\n", csv, strerror(errno));
			goto out;
		}
	}
	if (json) {
		for (size_t i = 0; i < r->nrows; i++)
			print_row_values(stdout, &r->rows[i], 1);
	} else {
		const struct mm_eval_row *o = mm_eval_overall(r);
		print_table(r, stdout);
		printf("\n%zu attacks, %zu incidents from %zu events; step %" PRIu64 " s, grace %" PRIu64
		       " steps (slow classes %" PRIu64 ")",
		       va.n, r->ninc, ve.n, step, window, slow);
		if (hw)
			printf("; %" PRIu64 " host-windows scored", hw);
		else
			printf("; host-windows unknown (--hosts/--steps or --det-log)");
		if (o->vector_n)
			printf("; amplification vector right %u/%u", o->vector_ok, o->vector_n);
		if (unmatched)
			printf("; %lu unmatched truth row%s (no class) not scored", unmatched, unmatched == 1 ? "" : "s");
		printf("\n");
		if (vl.n) {
			unsigned la, lf = mm_eval_lookalike_false(r, &p, vl.v, vl.n, &la);
			unsigned all = o->false_act + o->false_inv;
			printf("%zu benign look-alikes: %u of the %u false alerts on them (act %u); %u elsewhere (act %u)\n",
			       vl.n, lf, all, la, all - lf, o->false_act - la);
		}
		if (verbose)
			print_verbose(r, va.v, stdout);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "mamori eval: stdout: %s\n", strerror(errno));
		goto out;
	}
	if (sw.plots != NULL && mm_eval_plot(r, sw.plots) < 0)
		goto out;

	/* the floors */
	const struct mm_eval_row *o = mm_eval_overall(r);
	rc = 0;
	if (!isnan(min_recall) && !(o->recall >= min_recall)) {
		if (isnan(o->recall))
			fprintf(stderr, "mamori eval: recall undefined (no attacks): --min-recall %g not met\n", min_recall);
		else
			fprintf(stderr, "mamori eval: recall %.3f below --min-recall %g\n", o->recall, min_recall);
		rc = 1;
	}
	if (have_max_false && o->false_act + o->false_inv > max_false) {
		fprintf(stderr, "mamori eval: %u false alerts (act %u, investigate %u), more than --max-false %" PRIu64 "\n",
			o->false_act + o->false_inv, o->false_act, o->false_inv, max_false);
		rc = 1;
	}
out:
	mm_cryptopan_free(cp);
	mm_eval_free(r);
	free(va.v);
	free(vl.v);
	free(ve.v);
	return rc;
}
