/*
 * mamori - the analysts' and researchers' command.
 *
 *   mamori [-c FILE] host ADDR [--last N | --range FIRST:N | --all] [--json]
 *   mamori [-c FILE] alerts [--since DURATION | --count N] [--follow] [--class C]
 *                           [--host ADDR] [--prefix P] [--tier act|investigate] [--json]
 *   mamori [-c FILE] eval --truth TRUTH.tsv --alerts ALERTS.jsonl [...]   (cmd_eval.c)
 *   mamori [-c FILE] exabgp [--dry-run]                                 (cmd_exabgp.c)
 *   mamori [-c FILE] deanon|anon [--key FILE] --reason TEXT ADDR...        (cmd_deanon.c)
 *
 * `host` shows what a host did over a window read from Redis: every
 * collector's contribution summed, counters (sampling-scaled), distinct
 * peers and ports (HyperLogLog estimates), top peers and ports, and which
 * collectors saw it.  Baselines and alerts join it with the detector.
 *
 * `alerts` reads the detector's alert stream ([alerts] stream, JSON of
 * docs/alerts.md): the newest N (XREVRANGE) or everything since a time
 * (XRANGE), oldest first, then with --follow new events as they come
 * (XREAD BLOCK, 1 s at a time, until Ctrl-C).
 */
#include <getopt.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cmd.h"
#include "mamori/classes.h"
#include "mamori/config.h"
#include "mamori/prefix.h"
#include "mamori/redis_schema.h"
#include "mamori/window.h"

#define DEFAULT_CONFIG "/etc/mamori/mamori.conf"

static void usage(FILE *f)
{
	fprintf(f, "usage: mamori [-c FILE] host ADDR [--last N | --range FIRST:N | --all] [--json]\n"
		   "  host ADDR        a host's window from Redis, all collectors summed\n"
		   "    --last N       the last N complete steps (default: [window] steps)\n"
		   "    --range F:N    N steps from step number F (replays run on their own clock)\n"
		   "    --all          every step Redis still holds for the host\n"
		   "    --json         one JSON object instead of the table\n"
		   "       mamori [-c FILE] alerts [--since DURATION | --count N] [--follow] [--class C]\n"
		   "                    [--host ADDR] [--prefix P] [--tier act|investigate] [--json]\n"
		   "  alerts           incident events from the alert stream, oldest first\n"
		   "    --since D      events of the last D (30s, 15m, 2h, 1d; default: --count 20)\n"
		   "    --count N      the newest N events\n"
		   "    --follow       then wait for new ones (Ctrl-C stops)\n"
		   "    --class C, --host ADDR, --prefix P, --tier T   only matching events\n"
		   "    --json         the raw JSON lines instead of the table\n"
		   "  -c FILE          configuration (default " DEFAULT_CONFIG "; eval reads it only when given)\n");
	mm_cmd_eval_usage(f);
	mm_cmd_exabgp_usage(f);
	mm_cmd_deanon_usage(f);
}

static void print_addr_top(const char *name, const struct mm_topk_addr *t, int json, int *first)
{
	char a[MM_REDIS_ADDR_MAX];
	if (json) {
		printf("%s\"%s\":[", *first ? "" : ",", name);
		*first = 0;
		int f = 1;
		for (int i = 0; i < MM_TOPK; i++)
			if (t[i].count) {
				mm_redis_addr_text(t[i].addr, a, sizeof(a));
				printf("%s{\"addr\":\"%s\",\"packets\":%" PRIu64 "}", f ? "" : ",", a, t[i].count);
				f = 0;
			}
		printf("]");
		return;
	}
	printf("  %-12s", name);
	for (int i = 0; i < MM_TOPK; i++)
		if (t[i].count) {
			mm_redis_addr_text(t[i].addr, a, sizeof(a));
			printf(" %s (%" PRIu64 ")", a, t[i].count);
		}
	printf("\n");
}

static void print_port_top(const char *name, const struct mm_topk_port *t, int json, int *first)
{
	if (json) {
		printf("%s\"%s\":[", *first ? "" : ",", name);
		*first = 0;
		int f = 1;
		for (int i = 0; i < MM_TOPK; i++)
			if (t[i].count) {
				printf("%s{\"port\":%u,\"packets\":%" PRIu64 "}", f ? "" : ",", t[i].port, t[i].count);
				f = 0;
			}
		printf("]");
		return;
	}
	printf("  %-12s", name);
	for (int i = 0; i < MM_TOPK; i++)
		if (t[i].count)
			printf(" %u (%" PRIu64 ")", t[i].port, t[i].count);
	printf("\n");
}

static int cmd_host(const struct mm_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "last", required_argument, NULL, 'l' }, { "range", required_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'a' },        { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t first = 0, nsteps = cfg->window_steps;
	int json = 0, all = 0, range = 0, ch;
	char err[256], *end;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			nsteps = strtoull(optarg, &end, 10);
			if (*end || nsteps == 0 || nsteps > 100000) {
				fprintf(stderr, "mamori: --last %s: expected 1..100000\n", optarg);
				return 2;
			}
			break;
		case 'r':
			first = strtoull(optarg, &end, 10);
			if (*end != ':' || (nsteps = strtoull(end + 1, &end, 10), *end) || nsteps == 0 ||
			    nsteps > 100000) {
				fprintf(stderr, "mamori: --range %s: expected FIRST:N (N 1..100000)\n", optarg);
				return 2;
			}
			range = 1;
			break;
		case 'a': all = 1; break;
		case 'j': json = 1; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	uint8_t addr[16];
	if (mm_addr_parse(argv[optind], addr) < 0) {
		fprintf(stderr, "mamori: %s: not an IPv4 or IPv6 address\n", argv[optind]);
		return 2;
	}
	struct mm_redis_reader *r = mm_redis_reader_open(cfg, 5000, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "mamori: %s\n", err);
		return 1;
	}
	if (all) {
		uint64_t last = 0;
		long n = mm_redis_host_steps(r, addr, &first, &last);
		if (n < 0) {
			fprintf(stderr, "mamori: %s\n", mm_redis_reader_error(r));
			mm_redis_reader_close(r);
			return 1;
		}
		nsteps = n ? last - first + 1 : 1;
	} else if (!range) {
		/* the last complete steps: the current one is still open */
		first = (uint64_t)time(NULL) / cfg->step_s - cfg->late_steps - nsteps;
	}
	struct mm_hoststep hs;
	struct mm_redis_contrib who;
	int got = mm_redis_read_host(r, addr, first, (uint32_t)nsteps, &hs, &who);
	if (got < 0) {
		fprintf(stderr, "mamori: %s\n", mm_redis_reader_error(r));
		mm_redis_reader_close(r);
		return 1;
	}
	mm_redis_reader_close(r);

	if (json) {
		printf("{\"host\":\"%s\",\"first_step\":%" PRIu64 ",\"steps\":%" PRIu64 ",\"step_s\":%u,"
		       "\"steps_with_data\":%d,\"collectors\":[",
		       argv[optind], first, nsteps, cfg->step_s, got);
		for (unsigned i = 0; i < who.n; i++)
			printf("%s\"%s\"", i ? "," : "", who.id[i]);
		printf("],\"counters\":{");
		int f = 1;
		for (int c = 0; c < MM_C_COUNT; c++)
			if (hs.ctr[c]) {
				printf("%s\"%s\":%" PRIu64, f ? "" : ",", mm_ctr_name((enum mm_ctr)c), hs.ctr[c]);
				f = 0;
			}
		printf("},\"distinct\":{");
		for (int s = 0; s < MM_S_COUNT; s++)
			printf("%s\"%s\":%.0f", s ? "," : "", mm_sketch_name((enum mm_sketch)s),
			       mm_hll_estimate(&hs.hll[s]));
		printf("},\"top\":{");
		f = 1;
	} else {
		printf("host %s: steps %" PRIu64 "..%" PRIu64 " (%" PRIu64 " x %u s), %d with data, collectors:",
		       argv[optind], first, first + nsteps - 1, nsteps, cfg->step_s, got);
		for (unsigned i = 0; i < who.n; i++)
			printf(" %s", who.id[i]);
		printf("%s\n", who.n ? "" : " none");
		for (int c = 0; c < MM_C_COUNT; c++)
			if (hs.ctr[c])
				printf("  %-22s %20" PRIu64 "  (%.1f/s)\n", mm_ctr_name((enum mm_ctr)c), hs.ctr[c],
				       (double)hs.ctr[c] / ((double)nsteps * cfg->step_s));
		for (int s = 0; s < MM_S_COUNT; s++)
			printf("  distinct %-13s %20.0f  (HyperLogLog, +-13%%)\n", mm_sketch_name((enum mm_sketch)s),
			       mm_hll_estimate(&hs.hll[s]));
	}
	int f = 1;
	print_addr_top("peers_in", hs.peers_in, json, &f);
	print_addr_top("peers_out", hs.peers_out, json, &f);
	print_port_top("dports_in", hs.ports[MM_T_DPORTS_IN], json, &f);
	print_port_top("sports_in", hs.ports[MM_T_SPORTS_IN], json, &f);
	print_port_top("dports_out", hs.ports[MM_T_DPORTS_OUT], json, &f);
	if (json)
		printf("}}\n");
	return 0;
}

/* ---- alerts ---- */

/* Set by SIGINT / SIGTERM: --follow stops after the current XREAD. */
static volatile sig_atomic_t stop_following;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_following = 1;
}

struct alert_filter {
	const char *cls;    /* class name, or NULL */
	const char *host;   /* address text, or NULL */
	const char *prefix; /* prefix text, or NULL */
	int min_tier;       /* 0 any, 1 investigate and up, 2 act */
	int json;
};

/* The string value of "key" in a flat JSON object (our own output: no
 * escapes in the fields looked up).  Copies at most outlen - 1 bytes. */
static int json_field(const char *json, const char *key, char *out, size_t outlen)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(json, pat);
	if (p == NULL)
		return -1;
	p += strlen(pat);
	if (*p == '"') {
		p++;
		e = strchr(p, '"');
	} else {
		e = p + strcspn(p, ",}");
	}
	if (e == NULL)
		return -1;
	size_t n = (size_t)(e - p) < outlen - 1 ? (size_t)(e - p) : outlen - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

static int alert_matches(const struct alert_filter *f, const char *json)
{
	char v[128];

	if (f->cls && (json_field(json, "class", v, sizeof(v)) < 0 || strcmp(v, f->cls) != 0))
		return 0;
	if (f->host && (json_field(json, "host", v, sizeof(v)) < 0 || strcmp(v, f->host) != 0))
		return 0;
	if (f->prefix && (json_field(json, "prefix", v, sizeof(v)) < 0 || strcmp(v, f->prefix) != 0))
		return 0;
	if (f->min_tier) {
		if (json_field(json, "tier", v, sizeof(v)) < 0)
			return 0;
		int t = strcmp(v, "act") == 0 ? 2 : strcmp(v, "investigate") == 0 ? 1 : 0;
		if (t < f->min_tier)
			return 0;
	}
	return 1;
}

static void alert_print(const struct alert_filter *f, const char *json)
{
	char ev[16], cls[40], host[64], tier[16], sev[16], id[24], t[24], feat[48], cur[24], base[24], unit[16];
	char when[32] = "-";

	if (!alert_matches(f, json))
		return;
	if (f->json) {
		printf("%s\n", json);
		fflush(stdout);
		return;
	}
	if (json_field(json, "event", ev, sizeof(ev)) < 0)
		snprintf(ev, sizeof(ev), "?");
	if (json_field(json, "class", cls, sizeof(cls)) < 0)
		snprintf(cls, sizeof(cls), "?");
	if (json_field(json, "host", host, sizeof(host)) < 0 && json_field(json, "prefix", host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "?");
	if (json_field(json, "tier", tier, sizeof(tier)) < 0)
		snprintf(tier, sizeof(tier), "?");
	if (json_field(json, "severity", sev, sizeof(sev)) < 0)
		snprintf(sev, sizeof(sev), "?");
	if (json_field(json, "id", id, sizeof(id)) < 0)
		snprintf(id, sizeof(id), "?");
	if (json_field(json, strcmp(ev, "end") == 0 ? "end_time" : "last_time", t, sizeof(t)) == 0) {
		time_t tt = (time_t)strtoll(t, NULL, 10);
		struct tm tm;
		if (localtime_r(&tt, &tm) != NULL)
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	}
	printf("%-19s %-6s %-16s %-20s %-11s %-8s %-16s", when, ev, cls, host, tier, sev, id);
	if (json_field(json, "feature", feat, sizeof(feat)) == 0 && json_field(json, "current", cur, sizeof(cur)) == 0 &&
	    json_field(json, "baseline", base, sizeof(base)) == 0 && json_field(json, "unit", unit, sizeof(unit)) == 0)
		printf(" %s %s %s (baseline %s)", feat, cur, unit, base);
	printf("\n");
	fflush(stdout);
}

/* One stream entry: [id, [field, value, ...]].  Prints the "json" field;
 * copies the entry id to last_id. */
static void alert_entry(const struct alert_filter *f, const redisReply *e, char *last_id, size_t idlen)
{
	if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
		return;
	snprintf(last_id, idlen, "%s", e->element[0]->str);
	const redisReply *fv = e->element[1];
	for (size_t i = 0; fv->type == REDIS_REPLY_ARRAY && i + 1 < fv->elements; i += 2)
		if (fv->element[i]->type == REDIS_REPLY_STRING && strcmp(fv->element[i]->str, "json") == 0 &&
		    fv->element[i + 1]->type == REDIS_REPLY_STRING)
			alert_print(f, fv->element[i + 1]->str);
}

/* "30s", "15m", "2h", "1d" or plain seconds; 0 on error. */
static uint64_t parse_duration(const char *s)
{
	char *end;
	uint64_t n = strtoull(s, &end, 10);
	uint64_t mult = 1;

	if (end == s)
		return 0;
	if (*end == 's')
		end++;
	else if (*end == 'm')
		mult = 60, end++;
	else if (*end == 'h')
		mult = 3600, end++;
	else if (*end == 'd')
		mult = 86400, end++;
	if (*end != '\0' || n > 3650ull * 86400)
		return 0;
	return n * mult;
}

redisContext *mm_cli_redis_connect(const struct mm_config *cfg)
{
	struct timeval tv = { 5, 0 };
	redisContext *c = cfg->redis_socket[0] ? redisConnectUnixWithTimeout(cfg->redis_socket, tv)
					       : redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
	redisReply *r = NULL;

	if (c == NULL || c->err) {
		fprintf(stderr, "mamori: redis: %s\n", c ? c->errstr : "out of memory");
		goto err;
	}
	if (cfg->redis_password[0] || cfg->redis_user[0]) {
		r = cfg->redis_user[0] ? redisCommand(c, "AUTH %s %s", cfg->redis_user, cfg->redis_password)
				       : redisCommand(c, "AUTH %s", cfg->redis_password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "mamori: redis AUTH: %s\n", r ? r->str : c->errstr);
			goto err;
		}
		freeReplyObject(r);
	}
	if (cfg->redis_db) {
		r = redisCommand(c, "SELECT %d", cfg->redis_db);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			fprintf(stderr, "mamori: redis SELECT: %s\n", r ? r->str : c->errstr);
			goto err;
		}
		freeReplyObject(r);
	}
	return c;
err:
	freeReplyObject(r);
	if (c)
		redisFree(c);
	return NULL;
}

static int cmd_alerts(const struct mm_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "since", required_argument, NULL, 's' }, { "count", required_argument, NULL, 'n' },
		{ "follow", no_argument, NULL, 'f' },      { "class", required_argument, NULL, 'c' },
		{ "host", required_argument, NULL, 'H' },  { "prefix", required_argument, NULL, 'p' },
		{ "tier", required_argument, NULL, 't' },  { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct alert_filter f = { 0 };
	uint64_t since_s = 0, count = 20;
	int follow = 0, ch, rc = 0;
	char hostbuf[MM_REDIS_ADDR_MAX], prefbuf[64], last_id[64] = "$", *end;
	redisReply *r;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			if ((since_s = parse_duration(optarg)) == 0) {
				fprintf(stderr, "mamori: --since %s: expected a duration (30s, 15m, 2h, 1d)\n", optarg);
				return 2;
			}
			break;
		case 'n':
			count = strtoull(optarg, &end, 10);
			if (*end || count > 1000000) {
				fprintf(stderr, "mamori: --count %s: expected 0..1000000\n", optarg);
				return 2;
			}
			break;
		case 'f': follow = 1; break;
		case 'c':
			if (mm_class_parse(optarg) < 0) {
				fprintf(stderr, "mamori: --class %s: unknown class\n", optarg);
				return 2;
			}
			f.cls = optarg;
			break;
		case 'H': {
			uint8_t a[16];
			if (mm_addr_parse(optarg, a) < 0) {
				fprintf(stderr, "mamori: --host %s: not an IPv4 or IPv6 address\n", optarg);
				return 2;
			}
			mm_redis_addr_text(a, hostbuf, sizeof(hostbuf)); /* the alert's spelling */
			f.host = hostbuf;
			break;
		}
		case 'p':
			snprintf(prefbuf, sizeof(prefbuf), "%s", optarg);
			f.prefix = prefbuf;
			break;
		case 't':
			if (strcmp(optarg, "act") == 0)
				f.min_tier = 2;
			else if (strcmp(optarg, "investigate") == 0)
				f.min_tier = 1;
			else {
				fprintf(stderr, "mamori: --tier %s: expected act or investigate\n", optarg);
				return 2;
			}
			break;
		case 'j': f.json = 1; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	redisContext *c = mm_cli_redis_connect(cfg);
	if (c == NULL)
		return 1;
	if (!f.json)
		printf("%-19s %-6s %-16s %-20s %-11s %-8s %-16s %s\n", "time", "event", "class", "host/prefix", "tier",
		       "severity", "id", "evidence");
	if (since_s) {
		uint64_t from_ms = ((uint64_t)time(NULL) - since_s) * 1000;
		r = redisCommand(c, "XRANGE %s %llu +", cfg->alert_stream, (unsigned long long)from_ms);
		if (r && r->type == REDIS_REPLY_ARRAY)
			for (size_t i = 0; i < r->elements; i++)
				alert_entry(&f, r->element[i], last_id, sizeof(last_id));
	} else {
		r = redisCommand(c, "XREVRANGE %s + - COUNT %llu", cfg->alert_stream, (unsigned long long)(count ? count : 1));
		if (r && r->type == REDIS_REPLY_ARRAY) {
			if (r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2)
				snprintf(last_id, sizeof(last_id), "%s", r->element[0]->element[0]->str);
			for (size_t i = count ? r->elements : 0; i-- > 0;) {
				char ignored[64];
				alert_entry(&f, r->element[i], ignored, sizeof(ignored));
			}
		}
	}
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "mamori: %s: %s\n", cfg->alert_stream, r ? r->str : c->errstr);
		freeReplyObject(r);
		redisFree(c);
		return 1;
	}
	freeReplyObject(r);
	if (follow) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_stop_signal;
		sigaction(SIGINT, &sa, NULL);
		sigaction(SIGTERM, &sa, NULL);
		struct timeval tv = { 3, 0 }; /* above the 1 s BLOCK */
		redisSetTimeout(c, tv);
		/* bounded turns: 1 s each, until a signal (or about 100 years) */
		for (uint64_t turn = 0; !stop_following && turn < 3153600000ull; turn++) {
			r = redisCommand(c, "XREAD COUNT 100 BLOCK 1000 STREAMS %s %s", cfg->alert_stream, last_id);
			if (r == NULL || r->type == REDIS_REPLY_ERROR) {
				if (!stop_following) {
					fprintf(stderr, "mamori: %s: %s\n", cfg->alert_stream, r ? r->str : c->errstr);
					rc = 1;
				}
				freeReplyObject(r);
				break;
			}
			/* [[stream, [entries]]] or nil on timeout */
			if (r->type == REDIS_REPLY_ARRAY && r->elements == 1 && r->element[0]->elements == 2) {
				const redisReply *entries = r->element[0]->element[1];
				for (size_t i = 0; i < entries->elements; i++)
					alert_entry(&f, entries->element[i], last_id, sizeof(last_id));
			}
			freeReplyObject(r);
		}
	}
	redisFree(c);
	return rc;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	struct mm_config cfg;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		path = argv[2];
		i = 3;
	}
	if (i >= argc || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	/* eval works on files: the configuration only when one is named */
	if (strcmp(argv[i], "eval") == 0 && i == 1)
		return mm_cmd_eval(NULL, argc - i, argv + i);
	/* so do deanon and anon with --key (then only syslog logs them) */
	if ((strcmp(argv[i], "deanon") == 0 || strcmp(argv[i], "anon") == 0) && i == 1)
		return mm_cmd_deanon(NULL, argc - i, argv + i);
	if (mm_config_load(&cfg, path, stderr) != 0) {
		mm_config_free(&cfg);
		return 1;
	}
	int r;
	if (strcmp(argv[i], "host") == 0) {
		r = cmd_host(&cfg, argc - i, argv + i);
	} else if (strcmp(argv[i], "alerts") == 0) {
		r = cmd_alerts(&cfg, argc - i, argv + i);
	} else if (strcmp(argv[i], "eval") == 0) {
		r = mm_cmd_eval(&cfg, argc - i, argv + i);
	} else if (strcmp(argv[i], "exabgp") == 0) {
		r = mm_cmd_exabgp(&cfg, argc - i, argv + i);
	} else if (strcmp(argv[i], "deanon") == 0 || strcmp(argv[i], "anon") == 0) {
		r = mm_cmd_deanon(&cfg, argc - i, argv + i);
	} else {
		fprintf(stderr, "mamori: unknown command '%s'\n", argv[i]);
		usage(stderr);
		r = 2;
	}
	mm_config_free(&cfg);
	return r;
}
