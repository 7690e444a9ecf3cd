/*
 * alert.c - incident events as versioned JSON (docs/alerts.md) and their
 * delivery: a capped Redis Stream and a pub/sub channel over one hiredis
 * async connection on the caller's libevent loop, JSON lines on a file or
 * stdout, syslog, and an exec hook (posix_spawn, no shell, JSON on stdin,
 * SIGKILL at the timeout, at most hook_max at once; children are reaped
 * through a pidfd each, so no SIGCHLD handler is installed).
 *
 * Redis: the stream is capped by length (MAXLEN ~) and by age (XTRIM
 * MINID, [alerts] stream_retention) and expires that long after its last
 * event, so it never outlives the retention (docs/redis-schema.md).
 * The connection is opened lazily by the first event and again
 * after a loss; commands issued while it connects are queued by hiredis.
 * Every failure is counted (redis_errors), none is fatal: the stream is a
 * copy, the detector's incident state is the truth.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>
#include "mamori/alert.h"
#include "mamori/classes.h"
#include "mamori/fastpath.h"
#include "mamori/prefix.h"
#include "mamori/redis_schema.h"
#include "mamori/score.h"

extern char **environ;

/* ---- the JSON formatter ---- */

struct jbuf {
	char *p;
	size_t len, pos;
	int overflow;
};

static void jraw(struct jbuf *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void jraw(struct jbuf *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->p + j->pos, j->len - j->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= j->len - j->pos)
		j->overflow = 1;
	else
		j->pos += (size_t)n;
}

/* A JSON string: quotes, backslash and control characters escaped. */
static void jstr(struct jbuf *j, const char *s)
{
	jraw(j, "\"");
	for (; *s != '\0' && !j->overflow; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			jraw(j, "\\%c", c);
		else if (c == '\n')
			jraw(j, "\\n");
		else if (c == '\t')
			jraw(j, "\\t");
		else if (c < 0x20 || c == 0x7f)
			jraw(j, "\\u%04x", c);
		else
			jraw(j, "%c", c);
	}
	jraw(j, "\"");
}

static void jkey(struct jbuf *j, const char *k)
{
	jraw(j, ",\"%s\":", k);
}

static void jkstr(struct jbuf *j, const char *k, const char *v)
{
	jkey(j, k);
	if (v == NULL)
		jraw(j, "null");
	else
		jstr(j, v);
}

/* Numbers: 6 significant digits; NaN and infinities (never valid JSON)
 * become null. */
static void jnum(struct jbuf *j, double v)
{
	if (isfinite(v))
		jraw(j, "%.6g", v);
	else
		jraw(j, "null");
}

static void jknum(struct jbuf *j, const char *k, double v)
{
	jkey(j, k);
	jnum(j, v);
}

static const char *vector_name(enum mm_class k, int vector)
{
	if (vector < 0)
		return NULL;
	switch (k) {
	case MM_CLASS_AMPLIFICATION:
		return mm_amp_slot_name((unsigned)vector);
	case MM_CLASS_HORIZONTAL_SCAN:
	case MM_CLASS_VERTICAL_SCAN:
	case MM_CLASS_OUTBOUND_SCAN:
		return vector == 0 ? "horizontal" : "vertical";
	case MM_CLASS_BRUTEFORCE:
		return vector == 0 ? "source" : "target";
	default:
		return NULL;
	}
}

static const char *const ports_kind_names[MM_T_PORTS_COUNT] = { "dports_in", "sports_in", "dports_out" };

static void json_evidence(struct jbuf *j, const struct mm_evidence *ev)
{
	char a[MM_REDIS_ADDR_MAX];
	int first = 1;

	jraw(j, "\"features\":[");
	for (unsigned i = 0; i < ev->nfeat && i < MM_EVIDENCE_FEATS; i++) {
		const struct mm_feat_info *fi = mm_feat_info((enum mm_feat)ev->feat[i].feature);
		jraw(j, "%s{\"feature\":", i ? "," : "");
		jstr(j, fi ? fi->name : "unknown");
		jkstr(j, "unit", mm_feat_unit_name((enum mm_feat)ev->feat[i].feature));
		jknum(j, "current", ev->feat[i].current);
		jknum(j, "baseline", ev->feat[i].baseline);
		jknum(j, "score", ev->feat[i].score);
		jraw(j, "}");
	}
	jraw(j, "]");
	jkstr(j, "ports_kind", ev->ports_kind < MM_T_PORTS_COUNT ? ports_kind_names[ev->ports_kind] : NULL);
	jraw(j, ",\"top_ports\":[");
	for (int i = 0; i < MM_TOPK; i++)
		if (ev->ports[i].count) {
			jraw(j, "%s{\"port\":%u,\"packets\":%" PRIu64 "}", first ? "" : ",", ev->ports[i].port,
			     ev->ports[i].count);
			first = 0;
		}
	jraw(j, "]");
	jkstr(j, "peers_dir", ev->peers_out ? "out" : "in");
	jraw(j, ",\"top_peers\":[");
	first = 1;
	for (int i = 0; i < MM_TOPK; i++)
		if (ev->peers[i].count) {
			mm_redis_addr_text(ev->peers[i].addr, a, sizeof(a));
			jraw(j, "%s{\"addr\":", first ? "" : ",");
			jstr(j, a);
			jraw(j, ",\"packets\":%" PRIu64 "}", ev->peers[i].count);
			first = 0;
		}
	jraw(j, "]");
	jknum(j, "distinct_peers", ev->distinct_peers);
	jkstr(j, "baseline_source", mm_expect_src_name((enum mm_expect_src)ev->source));
}

size_t mm_alert_json(enum mm_incident_event ev, const struct mm_incident *inc, uint32_t step_s,
		     const char *detector_id, char *buf, size_t len)
{
	struct jbuf j = { buf, len, 0, 0 };
	const struct mm_class_info *ci = mm_class_info((enum mm_class)inc->key.cls);
	const char *evname = mm_incident_event_name(ev);
	const struct mm_feat_info *fi = mm_feat_info((enum mm_feat)inc->feature);
	char addr[MM_REDIS_ADDR_MAX + 8];

	if (buf == NULL || len == 0 || ci == NULL || evname == NULL)
		return 0;
	jraw(&j, "{\"schema\":%d", MM_ALERT_SCHEMA_VERSION);
	jkstr(&j, "event", evname);
	jkstr(&j, "id", inc->id);
	jkstr(&j, "class", ci->name);
	jkstr(&j, "class_text", ci->text);
	jkstr(&j, "vector", vector_name((enum mm_class)inc->key.cls, inc->ev.vector));
	jkstr(&j, "tier", mm_tier_name((enum mm_tier)inc->tier));
	jkstr(&j, "severity", mm_severity_name((enum mm_severity)inc->severity));
	jkstr(&j, "peak_severity", mm_severity_name((enum mm_severity)inc->peak_severity));
	if (inc->key.plen >= 128) {
		mm_redis_addr_text(inc->key.addr, addr, sizeof(addr));
		jkstr(&j, "host", addr);
	} else {
		struct mm_prefix p;
		memcpy(p.addr, inc->key.addr, 16);
		p.len = inc->key.plen;
		p.af = mm_addr_is4(inc->key.addr) && inc->key.plen >= 96 ? 4 : 6;
		jkstr(&j, "prefix", mm_prefix_str(&p, addr, sizeof(addr)));
	}
	jkstr(&j, "role", ci->role == MM_ROLE_SOURCE ? "source" : "victim");
	jraw(&j, ",\"step_s\":%" PRIu32, step_s);
	jraw(&j, ",\"first_step\":%" PRIu64 ",\"first_time\":%" PRIu64, inc->start_step,
	     inc->start_step * step_s);
	jraw(&j, ",\"last_step\":%" PRIu64 ",\"last_time\":%" PRIu64, inc->last_seen_step,
	     inc->last_seen_step * step_s);
	if (ev == MM_INC_END)
		jraw(&j, ",\"end_step\":%" PRIu64 ",\"end_time\":%" PRIu64, inc->end_step, inc->end_step * step_s);
	jraw(&j, ",\"updates\":%" PRIu32, inc->updates);
	jraw(&j, ",\"adopted\":%s", inc->adopted ? "true" : "false");
	jkstr(&j, "merged_id", inc->merged_id[0] ? inc->merged_id : NULL);
	jknum(&j, "score", inc->score);
	jknum(&j, "peak_score", inc->peak_score);
	jkstr(&j, "feature", fi ? fi->name : NULL);
	jkstr(&j, "unit", fi ? mm_feat_unit_name((enum mm_feat)inc->feature) : NULL);
	jknum(&j, "current", inc->current_rate);
	jknum(&j, "peak", inc->peak_rate);
	jknum(&j, "baseline", inc->baseline_rate);
	jraw(&j, ",\"evidence\":{");
	json_evidence(&j, &inc->ev);
	jraw(&j, "}");
	jraw(&j, ",\"collectors\":[");
	for (unsigned i = 0; i < inc->ev.ncollectors && i < MM_EVIDENCE_COLLECTORS; i++) {
		jraw(&j, "%s", i ? "," : "");
		jstr(&j, inc->ev.collectors[i]);
	}
	jraw(&j, "],\"more_collectors\":%u", inc->ev.more_collectors);
	jkey(&j, "completeness");
	if (inc->ev.completeness < 0)
		jraw(&j, "null");
	else
		jnum(&j, inc->ev.completeness);
	jkstr(&j, "detector", detector_id ? detector_id : "");
	/* Added in schema 1 (readers ignore members they do not know). */
	jkey(&j, "fast");
	if (inc->fast.on) {
		const char *cn = mm_fast_ceiling_name((enum mm_fast_ceiling)inc->fast.ceiling);

		jraw(&j, "{\"collector\":");
		jstr(&j, inc->fast.collector);
		jkstr(&j, "ceiling", cn);
		jkstr(&j, "unit", cn != NULL ? mm_fast_ceiling_unit((enum mm_fast_ceiling)inc->fast.ceiling) : NULL);
		jknum(&j, "rate", inc->fast.rate);
		jknum(&j, "limit", inc->fast.limit);
		jraw(&j, ",\"interval_ms\":%" PRIu32 ",\"time_ms\":%" PRIu64 "}", inc->fast.interval_ms,
		     inc->fast.time_ms);
	} else {
		jraw(&j, "null");
	}
	jraw(&j, "}");
	if (j.overflow) {
		buf[0] = '\0';
		return 0;
	}
	return j.pos;
}

/* ---- outputs ---- */

struct hook_run {
	pid_t pid;              /* 0: slot free */
	int pidfd;
	int timed_out;
	struct event *exited;   /* pidfd readable: the child is gone */
	struct event *deadline; /* hook_timeout */
	struct mm_alert_outputs *o;
};

struct mm_alert_outputs {
	struct event_base *base;
	char detector_id[MM_NAME_MAX];
	uint32_t step_s;

	/* Redis */
	char redis_host[256], redis_socket[256], redis_user[MM_NAME_MAX], redis_password[256];
	uint16_t redis_port;
	int redis_db;
	char stream[MM_NAME_MAX], channel[MM_NAME_MAX], maxlen[24];
	char retention[24];      /* [alerts] stream_retention, seconds */
	uint64_t retention_ms;
	redisAsyncContext *ac;   /* NULL: not connected (the next event connects) */
	unsigned replies_due;

	FILE *file;              /* NULL: none */
	int file_owned;          /* opened here (not stdout) */
	int syslog_on;

	char hook[512];
	uint32_t hook_timeout_s, hook_max;
	int hook_min_tier;
	struct hook_run *hooks;  /* hook_max slots */
	unsigned hooks_running;

	struct mm_alert_stats st;
};

static void reply_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_alert_outputs *o = priv;
	const redisReply *rep = r;

	(void)ac;
	o->replies_due--;
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		o->st.redis_errors++;
}

static int send_argv(struct mm_alert_outputs *o, redisCallbackFn *fn, int argc, const char **argv, const size_t *lens);

/* The entry's id is the Redis server's clock in ms: entries older than the
 * retention by that clock go (exact MINID trimming, Redis >= 6.2), so a
 * detector with a wrong clock trims neither too much nor too little. */
static void xadd_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_alert_outputs *o = priv;
	const redisReply *rep = r;
	unsigned long long ms;
	char minid[32];

	reply_cb(ac, r, priv);
	if (rep == NULL || rep->type != REDIS_REPLY_STRING)
		return;
	o->st.stream_added++;
	if (o->ac != ac || sscanf(rep->str, "%llu-", &ms) != 1 || ms <= o->retention_ms)
		return;
	snprintf(minid, sizeof(minid), "%llu", ms - o->retention_ms);
	const char *t[4] = { "XTRIM", o->stream, "MINID", minid };
	send_argv(o, reply_cb, 4, t, NULL);
}

static void publish_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_alert_outputs *o = priv;
	const redisReply *rep = r;

	reply_cb(ac, r, priv);
	if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
		o->st.published++;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct mm_alert_outputs *o = ac->data;

	(void)status;
	if (o != NULL && o->ac == ac)
		o->ac = NULL; /* hiredis frees it; the next event reconnects */
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct mm_alert_outputs *o = ac->data;

	if (status != REDIS_OK && o != NULL && o->ac == ac) {
		o->st.redis_errors++;
		o->ac = NULL; /* hiredis frees the context after this returns */
	}
}

static int send_argv(struct mm_alert_outputs *o, redisCallbackFn *fn, int argc, const char **argv, const size_t *lens)
{
	if (redisAsyncCommandArgv(o->ac, fn, o, argc, argv, lens) != REDIS_OK) {
		o->st.redis_errors++;
		return -1;
	}
	o->replies_due++;
	return 0;
}

/* Connect (asynchronously), AUTH and SELECT queued ahead of anything else. */
static int redis_connect(struct mm_alert_outputs *o)
{
	redisAsyncContext *ac;
	char db[16];

	ac = o->redis_socket[0] ? redisAsyncConnectUnix(o->redis_socket) : redisAsyncConnect(o->redis_host, o->redis_port);
	if (ac == NULL || ac->err) {
		o->st.redis_errors++;
		if (ac)
			redisAsyncFree(ac);
		return -1;
	}
	ac->data = o;
	o->ac = ac;
	redisLibeventAttach(ac, o->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (o->redis_password[0] || o->redis_user[0]) {
		const char *a3[3] = { "AUTH", o->redis_user, o->redis_password };
		const char *a2[2] = { "AUTH", o->redis_password };
		if (o->redis_user[0] ? send_argv(o, reply_cb, 3, a3, NULL) : send_argv(o, reply_cb, 2, a2, NULL))
			return -1;
	}
	if (o->redis_db) {
		snprintf(db, sizeof(db), "%d", o->redis_db);
		const char *a[2] = { "SELECT", db };
		if (send_argv(o, reply_cb, 2, a, NULL))
			return -1;
	}
	return 0;
}

static void redis_deliver(struct mm_alert_outputs *o, const char *json, size_t len)
{
	if (o->ac == NULL && redis_connect(o) < 0)
		return;
	if (o->ac == NULL)
		return;
	const char *x[7] = { "XADD", o->stream, "MAXLEN", "~", o->maxlen, "*", "json" };
	const char *xa[8];
	size_t xl[8];
	for (int i = 0; i < 7; i++) {
		xa[i] = x[i];
		xl[i] = strlen(x[i]);
	}
	xa[7] = json;
	xl[7] = len;
	if (send_argv(o, xadd_cb, 8, xa, xl) < 0)
		return;
	/* an idle stream goes once its newest entry is past the retention */
	const char *e[3] = { "EXPIRE", o->stream, o->retention };
	if (send_argv(o, reply_cb, 3, e, NULL) < 0)
		return;
	if (o->channel[0] && o->ac != NULL) {
		const char *p[3] = { "PUBLISH", o->channel, json };
		size_t pl[3] = { 7, strlen(o->channel), len };
		send_argv(o, publish_cb, 3, p, pl);
	}
}

/* ---- the hook ---- */

static void hook_reap(struct hook_run *h, int killed)
{
	struct mm_alert_outputs *o = h->o;
	int status = 0;

	if (killed)
		kill(h->pid, SIGKILL);
	while (waitpid(h->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (h->timed_out)
		o->st.hooks_timed_out++;
	else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		o->st.hooks_failed++;
	event_free(h->exited);
	event_free(h->deadline);
	if (h->pidfd >= 0)
		close(h->pidfd);
	h->pid = 0;
	o->hooks_running--;
}

static void hook_exited_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	hook_reap(arg, 0);
}

/* Without a pidfd (old kernels, valgrind): look for the child's exit on a
 * short timer instead, never blocking the loop. */
static void hook_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook_run *h = arg;
	siginfo_t si;

	(void)fd;
	(void)what;
	memset(&si, 0, sizeof(si));
	/* WNOWAIT: leave the child to hook_reap, which collects its status */
	if (waitid(P_PID, (id_t)h->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == h->pid)
		hook_reap(h, 0);
}

static void hook_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hook_run *h = arg;

	(void)fd;
	(void)what;
	h->timed_out = 1;
	hook_reap(h, 1);
}

static void hook_run(struct mm_alert_outputs *o, const char *json, size_t len)
{
	struct hook_run *h = NULL;
	posix_spawn_file_actions_t fa;
	int pipefd[2], rc;
	pid_t pid;

	for (uint32_t i = 0; i < o->hook_max; i++)
		if (o->hooks[i].pid == 0) {
			h = &o->hooks[i];
			break;
		}
	if (h == NULL) {
		o->st.hooks_skipped++;
		return;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		o->st.hooks_failed++;
		return;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pipefd[0], 0);
	char *const argv[2] = { o->hook, NULL };
	rc = posix_spawn(&pid, o->hook, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pipefd[0]);
	if (rc != 0) {
		close(pipefd[1]);
		o->st.hooks_failed++;
		return;
	}
	/* At most MM_ALERT_JSON_MAX bytes into an empty pipe (64 KiB): the
	 * write does not block.  A hook that exits without reading gets EPIPE
	 * (SIGPIPE is the daemon's to ignore); either way it is its problem. */
	sigset_t pipe_set, old;
	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	if (write(pipefd[1], json, len) < 0 || write(pipefd[1], "\n", 1) < 0) {
		/* counted through the exit status */
	}
	close(pipefd[1]);
	{
		struct timespec zero = { 0, 0 };
		siginfo_t si;
		while (sigtimedwait(&pipe_set, &si, &zero) > 0)
			; /* a SIGPIPE our write raised */
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	memset(h, 0, sizeof(*h));
	h->o = o;
	h->pid = pid;
	h->pidfd = pidfd_open(pid, 0);
	o->hooks_running++;
	o->st.hooks_run++;
	struct timeval poll_tv = { 0, 50000 };
	if (h->pidfd >= 0)
		h->exited = event_new(o->base, h->pidfd, EV_READ, hook_exited_cb, h);
	else
		h->exited = event_new(o->base, -1, EV_PERSIST, hook_poll_cb, h);
	h->deadline = evtimer_new(o->base, hook_deadline_cb, h);
	struct timeval tv = { (time_t)o->hook_timeout_s, 0 };
	event_add(h->exited, h->pidfd >= 0 ? NULL : &poll_tv);
	evtimer_add(h->deadline, &tv);
}

/* ---- the outputs object ---- */

struct mm_alert_outputs *mm_alert_outputs_new(struct event_base *base, const struct mm_config *cfg,
					      const char *detector_id, char *err, size_t errlen)
{
	struct mm_alert_outputs *o = calloc(1, sizeof(*o));

	if (o == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	o->base = base;
	snprintf(o->detector_id, sizeof(o->detector_id), "%s", detector_id ? detector_id : "");
	o->step_s = cfg->step_s;
	snprintf(o->redis_host, sizeof(o->redis_host), "%s", cfg->redis_host);
	snprintf(o->redis_socket, sizeof(o->redis_socket), "%s", cfg->redis_socket);
	snprintf(o->redis_user, sizeof(o->redis_user), "%s", cfg->redis_user);
	snprintf(o->redis_password, sizeof(o->redis_password), "%s", cfg->redis_password);
	o->redis_port = cfg->redis_port;
	o->redis_db = cfg->redis_db;
	snprintf(o->stream, sizeof(o->stream), "%s", cfg->alert_stream);
	snprintf(o->channel, sizeof(o->channel), "%s", cfg->alert_channel);
	snprintf(o->maxlen, sizeof(o->maxlen), "%" PRIu32, cfg->alert_stream_maxlen);
	snprintf(o->retention, sizeof(o->retention), "%" PRIu32, cfg->alert_stream_retention_s);
	o->retention_ms = (uint64_t)cfg->alert_stream_retention_s * 1000u;
	o->syslog_on = cfg->alert_syslog;
	snprintf(o->hook, sizeof(o->hook), "%s", cfg->alert_hook);
	o->hook_timeout_s = cfg->alert_hook_timeout_s ? cfg->alert_hook_timeout_s : 1;
	o->hook_max = cfg->alert_hook_max ? cfg->alert_hook_max : 1;
	o->hook_min_tier = cfg->alert_hook_min_tier;
	if (strcmp(cfg->alert_file, "-") == 0) {
		o->file = stdout;
	} else if (cfg->alert_file[0]) {
		o->file = fopen(cfg->alert_file, "ae");
		if (o->file == NULL) {
			snprintf(err, errlen, "alerts file %s: %s", cfg->alert_file, strerror(errno));
			goto err;
		}
		o->file_owned = 1;
	}
	if (o->hook[0]) {
		if (access(o->hook, X_OK) != 0) {
			snprintf(err, errlen, "alerts hook %s: %s", o->hook, strerror(errno));
			goto err;
		}
		o->hooks = calloc(o->hook_max, sizeof(*o->hooks));
		if (o->hooks == NULL) {
			snprintf(err, errlen, "out of memory");
			goto err;
		}
	}
	return o;
err:
	mm_alert_outputs_free(o);
	return NULL;
}

void mm_alert_outputs_free(struct mm_alert_outputs *o)
{
	if (o == NULL)
		return;
	if (o->ac != NULL) {
		redisAsyncContext *ac = o->ac;
		redisAsyncFree(ac); /* callbacks run with NULL replies, then on_disconnect */
		o->ac = NULL;
	}
	for (uint32_t i = 0; o->hooks != NULL && i < o->hook_max; i++)
		if (o->hooks[i].pid != 0) {
			o->hooks[i].timed_out = 1;
			hook_reap(&o->hooks[i], 1);
		}
	free(o->hooks);
	if (o->file_owned)
		fclose(o->file);
	else if (o->file != NULL)
		fflush(o->file);
	free(o);
}

void mm_alert_emit(void *outputs, enum mm_incident_event ev, const struct mm_incident *inc)
{
	struct mm_alert_outputs *o = outputs;
	char json[MM_ALERT_JSON_MAX];
	size_t len;

	o->st.events++;
	len = mm_alert_json(ev, inc, o->step_s, o->detector_id, json, sizeof(json));
	if (len == 0) {
		o->st.dropped++;
		return;
	}
	redis_deliver(o, json, len);
	if (o->file != NULL) {
		if (fwrite(json, 1, len, o->file) == len && fputc('\n', o->file) != EOF && fflush(o->file) == 0)
			o->st.file_lines++;
		else
			o->st.dropped++;
	}
	if (o->syslog_on) {
		syslog(LOG_DAEMON | (inc->tier >= MM_TIER_ACT ? LOG_WARNING : LOG_NOTICE), "alert %s", json);
		o->st.syslog_lines++;
	}
	if (o->hook[0] && inc->tier >= o->hook_min_tier)
		hook_run(o, json, len);
}

struct drain {
	int expired;
};

static void drain_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct drain *d = arg;
	(void)fd;
	(void)what;
	d->expired = 1;
}

int mm_alert_outputs_drain(struct mm_alert_outputs *o, uint32_t timeout_ms)
{
	struct drain d = { 0 };
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct event *dl = evtimer_new(o->base, drain_deadline, &d);

	if (dl == NULL)
		return -1;
	evtimer_add(dl, &tv);
	while ((o->replies_due > 0 && o->ac != NULL) || o->hooks_running > 0) {
		if (d.expired)
			break;
		event_base_loop(o->base, EVLOOP_ONCE);
	}
	event_free(dl);
	return (o->replies_due > 0 && o->ac != NULL) || o->hooks_running > 0 ? -1 : 0;
}

const struct mm_alert_stats *mm_alert_outputs_stats(const struct mm_alert_outputs *o)
{
	return &o->st;
}
