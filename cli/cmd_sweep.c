/*
 * cmd_sweep.c - `mamori eval --sweep SECTION.KEY=FROM:TO:STEP` (repeatable):
 * the threshold sweep researchers choose by.  The windows the collector
 * wrote to Redis do not depend on the detector's keys, so each setting
 * only reruns the detector's replay over them (baselines wiped first,
 * since a replay resumes from the ones persisted) with the configuration
 * file given with -c and the swept keys overridden, and scores its alerts
 * against the truth.  Out: a table with one row per setting (the overall
 * row of `mamori eval`), the per-class rows as CSV (--csv), and PNG plots
 * drawn by gnuplot (--plots DIR): recall and precision, median detection
 * delay, false alerts per million host-windows, each against the setting.
 *
 * The overrides are mm_config_override's (config.h); the result is
 * checked by the config parser before the detector sees it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <hiredis/hiredis.h>

#include "cmd.h"
#include "mamori/classes.h"
#include "mamori/eval.h"
#include "mamori/score.h"

#define SWEEP_MAX_SETTINGS 256

int mm_sweep_parse(const char *spec, struct mm_sweep_key *out)
{
	const char *dot = strchr(spec, '.'), *eq = strchr(spec, '=');
	unsigned long long a, b, s;
	char tail;

	if (dot == NULL || eq == NULL || dot > eq || dot == spec || eq == dot + 1 ||
	    (size_t)(dot - spec) >= sizeof(out->section) || (size_t)(eq - dot - 1) >= sizeof(out->key))
		return -1;
	memcpy(out->section, spec, (size_t)(dot - spec));
	out->section[dot - spec] = '\0';
	memcpy(out->key, dot + 1, (size_t)(eq - dot - 1));
	out->key[eq - dot - 1] = '\0';
	if (sscanf(eq + 1, "%llu:%llu:%llu%c", &a, &b, &s, &tail) != 3 || s == 0 || b < a || (b - a) / s >= SWEEP_MAX_SETTINGS)
		return -1;
	out->from = a;
	out->to = b;
	out->step = s;
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t len = 0, cap = 0;

	if (f == NULL)
		return NULL;
	for (;;) {
		if (len + 4096 + 1 > cap) {
			char *g = realloc(buf, cap = cap * 2 + 8192);
			if (g == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = g;
		}
		size_t n = fread(buf + len, 1, 4096, f);
		len += n;
		if (n < 4096)
			break;
	}
	fclose(f);
	buf[len] = '\0';
	return buf;
}

static int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0) {
		if (f)
			fclose(f);
		return -1;
	}
	return fclose(f);
}

/* Delete the persisted baselines (mm:b:*): a replay resumes from them. */
static int wipe_baselines(const struct mm_config *cfg)
{
	struct timeval tv = { 10, 0 };
	redisContext *c = cfg->redis_socket[0] ? redisConnectUnixWithTimeout(cfg->redis_socket, tv)
					       : redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
	unsigned long long cur = 0;
	int rc = 0;

	if (c == NULL || c->err) {
		fprintf(stderr, "mamori eval: redis: %s\n", c ? c->errstr : "no memory");
		if (c)
			redisFree(c);
		return -1;
	}
	if (cfg->redis_password[0])
		freeReplyObject(cfg->redis_user[0] ? redisCommand(c, "AUTH %s %s", cfg->redis_user, cfg->redis_password)
						   : redisCommand(c, "AUTH %s", cfg->redis_password));
	if (cfg->redis_db)
		freeReplyObject(redisCommand(c, "SELECT %d", (int)cfg->redis_db));
	do {
		redisReply *r = redisCommand(c, "SCAN %llu MATCH mm:b:* COUNT 1000", cur);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
			freeReplyObject(r);
			rc = -1;
			break;
		}
		cur = strtoull(r->element[0]->str, NULL, 10);
		for (size_t i = 0; i < r->element[1]->elements; i++)
			freeReplyObject(redisCommand(c, "DEL %s", r->element[1]->element[i]->str));
		freeReplyObject(r);
	} while (cur != 0);
	redisFree(c);
	return rc;
}

/* Run argv[0] with stdout and stderr to files; its exit status, or -1. */
static int run(char *const argv[], const char *out, const char *err)
{
	pid_t pid = fork();
	int st;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		FILE *o = out ? freopen(out, "w", stdout) : stdout, *e = err ? freopen(err, "w", stderr) : stderr;
		if (o == NULL || e == NULL)
			_exit(126);
		execvp(argv[0], argv);
		fprintf(stderr, "%s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int gnuplot(const char *script);

/* mamori-detector beside this program, else from PATH. */
static void detector_path(char *out, size_t len)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n > 0) {
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL && (size_t)(slash - self) + sizeof("/mamori-detector") <= len) {
			memcpy(out, self, (size_t)(slash - self));
			memcpy(out + (slash - self), "/mamori-detector", sizeof("/mamori-detector"));
			if (access(out, X_OK) == 0)
				return;
		}
	}
	snprintf(out, len, "mamori-detector");
}

struct setting {
	uint64_t v[SWEEP_MAX_KEYS];
	struct mm_eval_row all;
	struct mm_eval_row cls[MM_CLASS_COUNT];
	int have[MM_CLASS_COUNT];
};

static const char *nz(double v, char *buf, size_t len, int prec)
{
	if (isnan(v))
		return "-";
	snprintf(buf, len, "%.*f", prec, v);
	return buf;
}

static void plot(const char *dir, const struct mm_sweep_key *k, unsigned nk, const struct setting *s, size_t ns)
{
	char dat[4096], gp[4096], xl[256] = "";
	FILE *f;

	snprintf(dat, sizeof(dat), "%s/sweep.dat", dir);
	snprintf(gp, sizeof(gp), "%s/sweep.gp", dir);
	if ((f = fopen(dat, "w")) == NULL) {
		fprintf(stderr, "mamori eval: %s: %s\n", dat, strerror(errno));
		return;
	}
	for (unsigned i = 0; i < nk; i++)
		snprintf(xl + strlen(xl), sizeof(xl) - strlen(xl), "%s%s.%s", i ? ", " : "", k[i].section, k[i].key);
	fprintf(f, "# setting label recall precision delay_median delay_p95 false_per_mhw\n");
	for (size_t i = 0; i < ns; i++) {
		char label[128] = "";
		for (unsigned j = 0; j < nk; j++)
			snprintf(label + strlen(label), sizeof(label) - strlen(label), "%s%" PRIu64, j ? "/" : "",
				 s[i].v[j]);
		fprintf(f, "%zu %s %g %g %g %g %g\n", i, label, s[i].all.recall, s[i].all.precision,
			s[i].all.delay_median, s[i].all.delay_p95,
			isnan(s[i].all.false_act_per_m) ? NAN : s[i].all.false_act_per_m + s[i].all.false_inv_per_m);
	}
	fclose(f);
	if ((f = fopen(gp, "w")) == NULL) {
		fprintf(stderr, "mamori eval: %s: %s\n", gp, strerror(errno));
		return;
	}
	fprintf(f,
		"set terminal pngcairo size 800,500 noenhanced\n"
		"set datafile missing 'nan'\nset grid\nset key outside bottom center horizontal\n"
		"set xlabel '%s'\nset xtics rotate by -30\n"
		"set output '%s/sweep-recall-precision.png'\nset yrange [0:1.05]\nset ylabel 'share'\n"
		"plot '%s' using 1:3:xtic(2) with linespoints title 'recall', '' using 1:4 with linespoints title 'precision'\n"
		"set output '%s/sweep-delay.png'\nset yrange [0:*]\nset ylabel 'steps from attack start to alert'\n"
		"plot '%s' using 1:5:xtic(2) with linespoints title 'median delay', '' using 1:6 with linespoints title 'p95 delay'\n"
		"set output '%s/sweep-false.png'\nset ylabel 'false alerts per million host-windows'\n"
		"plot '%s' using 1:7:xtic(2) with linespoints title 'false alerts (act + investigate)'\n",
		xl, dir, dat, dir, dat, dir, dat);
	fclose(f);
	if (gnuplot(gp) == 0)
		fprintf(stderr, "mamori eval: plots in %s/sweep-*.png\n", dir);
}

/* gnuplot SCRIPT; 0, or -1 with a note (no gnuplot: Debian gnuplot-nox). */
static int gnuplot(const char *script)
{
	char *argv[] = { "gnuplot", (char *)script, NULL };
	int rc = run(argv, NULL, NULL);

	if (rc != 0) {
		fprintf(stderr, "mamori eval: gnuplot %s (exit %d): no plots (Debian: gnuplot-nox)\n", script, rc);
		return -1;
	}
	return 0;
}

int mm_eval_plot(const struct mm_eval *r, const char *dir)
{
	char dat[4096], gp[4096];
	FILE *f;

	snprintf(dat, sizeof(dat), "%s/eval.dat", dir);
	snprintf(gp, sizeof(gp), "%s/eval.gp", dir);
	if ((f = fopen(dat, "w")) == NULL) {
		fprintf(stderr, "mamori eval: %s: %s\n", dat, strerror(errno));
		return -1;
	}
	fprintf(f, "# class recall precision delay_median delay_p95 false_act false_investigate\n");
	for (size_t i = 0; i < r->nrows; i++) {
		const struct mm_eval_row *w = &r->rows[i];
		if (w->by_strength)
			continue;
		fprintf(f, "%s %g %g %g %g %u %u\n", w->cls < 0 ? "all" : mm_class_info((enum mm_class)w->cls)->name,
			w->recall, w->precision, w->delay_median, w->delay_p95, w->false_act, w->false_inv);
	}
	fclose(f);
	if ((f = fopen(gp, "w")) == NULL) {
		fprintf(stderr, "mamori eval: %s: %s\n", gp, strerror(errno));
		return -1;
	}
	fprintf(f,
		"set terminal pngcairo size 900,500 noenhanced\n"
		"set datafile missing 'nan'\nset grid ytics\nset key outside bottom center horizontal\n"
		"set style data histograms\nset style histogram clustered gap 1\nset style fill solid 0.8 border -1\n"
		"set xtics rotate by -30\n"
		"set output '%s/eval-recall-precision.png'\nset yrange [0:1.05]\nset ylabel 'share'\n"
		"plot '%s' using 2:xtic(1) title 'recall', '' using 3 title 'precision'\n"
		"set output '%s/eval-delay.png'\nset yrange [0:*]\nset ylabel 'steps from attack start to alert'\n"
		"plot '%s' using 4:xtic(1) title 'median delay', '' using 5 title 'p95 delay'\n"
		"set output '%s/eval-false.png'\nset ylabel 'false alerts'\n"
		"plot '%s' using 6:xtic(1) title 'act', '' using 7 title 'investigate'\n",
		dir, dat, dir, dat, dir, dat);
	fclose(f);
	if (gnuplot(gp) < 0)
		return -1;
	fprintf(stderr, "mamori eval: plots in %s/eval-*.png\n", dir);
	return 0;
}

int mm_cmd_sweep(const struct mm_config *cfg, const struct mm_sweep_args *a)
{
	struct setting *set = NULL;
	size_t ns = 1, done = 0;
	char *text = NULL, tmpdir[] = "/tmp/mamori-sweep.XXXXXX", det[4096];
	int rc = 2;

	if (cfg == NULL || cfg->path[0] == '\0') {
		fprintf(stderr, "mamori eval: --sweep reruns the detector: name its configuration with -c\n");
		return 2;
	}
	for (unsigned i = 0; i < a->nkeys; i++)
		ns *= (a->keys[i].to - a->keys[i].from) / a->keys[i].step + 1;
	if (ns > SWEEP_MAX_SETTINGS) {
		fprintf(stderr, "mamori eval: %zu settings to sweep, at most %d\n", ns, SWEEP_MAX_SETTINGS);
		return 2;
	}
	if ((text = slurp(cfg->path)) == NULL) {
		fprintf(stderr, "mamori eval: %s: %s\n", cfg->path, strerror(errno));
		return 2;
	}
	set = calloc(ns, sizeof(*set));
	if (set == NULL || mkdtemp(tmpdir) == NULL) {
		fprintf(stderr, "mamori eval: %s\n", strerror(errno));
		goto out;
	}
	if (a->detector)
		snprintf(det, sizeof(det), "%s", a->detector);
	else
		detector_path(det, sizeof(det));

	for (size_t i = 0; i < ns; i++) {
		size_t idx = i;
		char conf[256], alerts[256], log[256], err[256];
		struct mm_config check;
		struct mm_eval_event *ev = NULL;
		size_t nev = 0;
		uint64_t step_s = 0, hw = 0;
		unsigned long bad = 0;
		struct mm_eval *r;

		for (unsigned j = a->nkeys; j-- > 0;) {
			uint64_t nv = (a->keys[j].to - a->keys[j].from) / a->keys[j].step + 1;
			set[i].v[j] = a->keys[j].from + (idx % nv) * a->keys[j].step;
			idx /= nv;
		}
		struct mm_config_set cs[SWEEP_MAX_KEYS];
		for (unsigned j = 0; j < a->nkeys; j++) {
			cs[j].section = a->keys[j].section;
			cs[j].key = a->keys[j].key;
			snprintf(cs[j].value, sizeof(cs[j].value), "%" PRIu64, set[i].v[j]);
		}
		char *t = mm_config_override(text, cs, a->nkeys);
		snprintf(conf, sizeof(conf), "%s/sweep-%zu.conf", tmpdir, i);
		snprintf(alerts, sizeof(alerts), "%s/alerts-%zu.json", tmpdir, i);
		snprintf(log, sizeof(log), "%s/detector-%zu.log", tmpdir, i);
		if (t == NULL || write_file(conf, t) != 0) {
			free(t);
			fprintf(stderr, "mamori eval: %s: cannot write\n", conf);
			goto out;
		}
		free(t);
		if (mm_config_load(&check, conf, stderr) != 0) {
			mm_config_free(&check);
			fprintf(stderr, "mamori eval: the swept configuration %s is refused (see above)\n", conf);
			goto out;
		}
		mm_config_free(&check);
		if (wipe_baselines(cfg) < 0)
			goto out;
		{
			char *argv[] = { det, "-c", conf, "--replay-all", "--json", NULL };
			int st = run(argv, alerts, log);
			if (st != 0) {
				fprintf(stderr, "mamori eval: %s exited %d; its log: %s\n", det, st, log);
				goto out;
			}
		}
		if (mm_eval_load_alerts(alerts, &ev, &nev, &step_s, &bad) < 0 || mm_eval_load_det_log(log, &hw) < 0) {
			free(ev);
			goto out;
		}
		struct mm_eval_params p = { step_s ? (uint32_t)step_s : cfg->step_s, cfg->window_steps,
					    mm_slow_window_steps(cfg), hw, 0 };
		r = mm_eval_run(&p, a->attacks, a->nattacks, ev, nev, err, sizeof(err));
		free(ev);
		if (r == NULL) {
			fprintf(stderr, "mamori eval: %s\n", err);
			goto out;
		}
		set[i].all = *mm_eval_overall(r);
		for (size_t k = 0; k < r->nrows; k++)
			if (r->rows[k].cls >= 0 && !r->rows[k].by_strength) {
				set[i].cls[r->rows[k].cls] = r->rows[k];
				set[i].have[r->rows[k].cls] = 1;
			}
		mm_eval_free(r);
		done++;
		fprintf(stderr, "mamori eval: setting %zu/%zu done\n", i + 1, ns);
	}

	/* the table: one row per setting */
	for (unsigned j = 0; j < a->nkeys; j++)
		printf("%s%s.%s", j ? " " : "", a->keys[j].section, a->keys[j].key);
	printf("  %6s %9s %6s %6s %8s %8s %7s %5s %5s\n", "recall", "precision", "f.act", "f.inv", "act/Mhw",
	       "inv/Mhw", "alr/inc", "d.med", "d.p95");
	for (size_t i = 0; i < done; i++) {
		const struct mm_eval_row *w = &set[i].all;
		char b[8][32];
		for (unsigned j = 0; j < a->nkeys; j++) {
			char h[96];
			snprintf(h, sizeof(h), "%s.%s", a->keys[j].section, a->keys[j].key);
			printf("%s%*" PRIu64, j ? " " : "", (int)strlen(h), set[i].v[j]);
		}
		printf("  %6s %9s %6u %6u %8s %8s %7s %5s %5s\n", nz(w->recall, b[0], 32, 3), nz(w->precision, b[1], 32, 3),
		       w->false_act, w->false_inv, nz(w->false_act_per_m, b[2], 32, 3), nz(w->false_inv_per_m, b[3], 32, 3),
		       nz(w->alerts_per_incident, b[4], 32, 2), nz(w->delay_median, b[5], 32, 1),
		       nz(w->delay_p95, b[6], 32, 0));
	}
	if (a->csv) {
		FILE *o = fopen(a->csv, "w");
		if (o == NULL) {
			fprintf(stderr, "mamori eval: %s: %s\n", a->csv, strerror(errno));
			goto out;
		}
		for (unsigned j = 0; j < a->nkeys; j++)
			fprintf(o, "%s.%s,", a->keys[j].section, a->keys[j].key);
		fprintf(o, "class,attacks,detected,recall,precision,false_act,false_investigate,false_act_per_mhw,"
			   "false_investigate_per_mhw,alerts_per_incident,delay_median,delay_p95\n");
		for (size_t i = 0; i < done; i++)
			for (int c = -1; c < MM_CLASS_COUNT; c++) {
				const struct mm_eval_row *w = c < 0 ? &set[i].all : &set[i].cls[c];
				if (c >= 0 && !set[i].have[c])
					continue;
				for (unsigned j = 0; j < a->nkeys; j++)
					fprintf(o, "%" PRIu64 ",", set[i].v[j]);
				fprintf(o, "%s,%u,%u,%g,%g,%u,%u,%g,%g,%g,%g,%g\n",
					c < 0 ? "all" : mm_class_info((enum mm_class)c)->name, w->attacks, w->detected,
					w->recall, w->precision, w->false_act, w->false_inv, w->false_act_per_m,
					w->false_inv_per_m, w->alerts_per_incident, w->delay_median, w->delay_p95);
			}
		fclose(o);
	}
	if (a->plots)
		plot(a->plots, a->keys, a->nkeys, set, done);
	rc = 0;
out:
	free(text);
	free(set);
	if (!a->keep) {
		char cmd[64];
		snprintf(cmd, sizeof(cmd), "%s", tmpdir);
		if (strncmp(cmd, "/tmp/mamori-sweep.", 18) == 0) {
			char *argv[] = { "rm", "-rf", cmd, NULL };
			run(argv, NULL, NULL);
		}
	} else {
		fprintf(stderr, "mamori eval: the runs are kept in %s\n", tmpdir);
	}
	return rc;
}
