/*
 * test_alert.c - the alert JSON (exact text for a crafted incident,
 * escaping, start / update / end, a buffer too small) and the outputs
 * against a throwaway redis-server (unix socket in a mkdtemp directory,
 * started and killed by PID): XADD lands and MAXLEN caps the stream, a
 * SUBSCRIBE client receives every event, the JSON lines file gets one line
 * per event; the exec hook gets the JSON on stdin, a slow hook is killed at
 * the timeout, and a full hook table skips (all counted).
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include "mamori/alert.h"
#include "mamori/classes.h"
#include "mamori/fastpath.h"
#include "mamori/score.h"

static const char expected_start[] =
	"{\"schema\":1,\"event\":\"start\",\"id\":\"099bc619d43298bc\",\"class\":\"amplification\",\"class_text\":\""
	"reflection/amplification attack: responses from many reflectors\",\"vector\":\"dns\",\"tier\":\"ac"
	"t\",\"severity\":\"high\",\"peak_severity\":\"critical\",\"host\":\"203.0.113.5\",\"role\":\"victim\",\"step"
	"_s\":10,\"first_step\":170000000,\"first_time\":1700000000,\"last_step\":170000012,\"last_time\":17"
	"00000120,\"updates\":2,\"adopted\":false,\"merged_id\":null,\"score\":12.5,\"peak_score\":20.25,\"fea"
	"ture\":\"tcp_pkts_in\",\"unit\":\"pps\",\"current\":150000,\"peak\":250000,\"baseline\":1200.5,\"evidenc"
	"e\":{\"features\":[{\"feature\":\"tcp_pkts_in\",\"unit\":\"pps\",\"current\":150000,\"baseline\":1200.5,\""
	"score\":12.5}],\"ports_kind\":\"sports_in\",\"top_ports\":[{\"port\":53,\"packets\":900},{\"port\":123,"
	"\"packets\":10}],\"peers_dir\":\"in\",\"top_peers\":[{\"addr\":\"198.51.100.7\",\"packets\":300}],\"disti"
	"nct_peers\":42,\"baseline_source\":\"own\"},\"collectors\":[\"edge-1\",\"edge-2\"],\"more_collectors\":"
	"0,\"completeness\":0.98,\"detector\":\"det-1\",\"fast\":null}";

static void craft(struct mm_incident *inc)
{
	static const uint8_t victim[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 5 };
	static const uint8_t reflector[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7 };

	memset(inc, 0, sizeof(*inc));
	mm_incident_key_host(&inc->key, victim, MM_CLASS_AMPLIFICATION);
	inc->start_step = 170000000;
	inc->last_seen_step = 170000012;
	inc->end_step = 170000018;
	mm_incident_id(&inc->key, inc->start_step, inc->id);
	inc->tier = MM_TIER_ACT;
	inc->severity = MM_SEV_HIGH;
	inc->peak_severity = MM_SEV_CRITICAL;
	inc->feature = 0;
	inc->score = 12.5f;
	inc->peak_score = 20.25f;
	inc->current_rate = 150000;
	inc->peak_rate = 250000;
	inc->baseline_rate = 1200.5;
	inc->updates = 2;
	inc->ev.nfeat = 1;
	inc->ev.feat[0].feature = 0;
	inc->ev.feat[0].current = 150000;
	inc->ev.feat[0].baseline = 1200.5f;
	inc->ev.feat[0].score = 12.5f;
	inc->ev.ports_kind = MM_T_SPORTS_IN;
	inc->ev.ports[0].port = 53;
	inc->ev.ports[0].count = 900;
	inc->ev.ports[1].port = 123;
	inc->ev.ports[1].count = 10;
	inc->ev.vector = 0;
	inc->ev.source = MM_EXP_OWN;
	memcpy(inc->ev.peers[0].addr, reflector, 16);
	inc->ev.peers[0].count = 300;
	inc->ev.distinct_peers = 42;
	inc->ev.ncollectors = 2;
	strcpy(inc->ev.collectors[0], "edge-1");
	strcpy(inc->ev.collectors[1], "edge-2");
	inc->ev.completeness = 0.98;
}

/* A tiny JSON checker: balanced braces/brackets outside strings, no raw
 * control characters in strings, only known escapes.  1 = well formed. */
static int json_ok(const char *s)
{
	int depth = 0, in_str = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (in_str) {
			if (c < 0x20)
				return 0;
			if (c == '\\') {
				s++;
				if (*s == 'u') {
					for (int i = 1; i <= 4; i++)
						if (!strchr("0123456789abcdefABCDEF", s[i]) || s[i] == '\0')
							return 0;
					s += 4;
				} else if (!*s || !strchr("\"\\/bfnrt", *s)) {
					return 0;
				}
			} else if (c == '"') {
				in_str = 0;
			}
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[')
			depth++;
		else if (c == '}' || c == ']')
			depth--;
		if (depth < 0)
			return 0;
	}
	return depth == 0 && !in_str;
}

START_TEST(json_exact)
{
	struct mm_incident inc;
	char buf[MM_ALERT_JSON_MAX];

	craft(&inc);
	size_t n = mm_alert_json(MM_INC_START, &inc, 10, "det-1", buf, sizeof(buf));
	ck_assert_str_eq(buf, expected_start);
	ck_assert_uint_eq(n, strlen(expected_start));
	ck_assert(json_ok(buf));
}
END_TEST

START_TEST(json_events)
{
	struct mm_incident inc;
	char buf[MM_ALERT_JSON_MAX];

	craft(&inc);
	ck_assert_uint_gt(mm_alert_json(MM_INC_UPDATE, &inc, 10, "det-1", buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "{\"schema\":1,\"event\":\"update\","));
	ck_assert_ptr_null(strstr(buf, "end_step"));
	ck_assert_uint_gt(mm_alert_json(MM_INC_END, &inc, 10, "det-1", buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"event\":\"end\","));
	ck_assert_ptr_nonnull(strstr(buf, ",\"end_step\":170000018,\"end_time\":1700000180,"));
	ck_assert(json_ok(buf));
	/* a prefix (carpet bombing), unknown completeness, NaN score */
	inc.key.cls = MM_CLASS_CARPET_BOMBING;
	inc.key.plen = 96 + 24;
	inc.key.addr[15] = 0;
	inc.ev.completeness = -1;
	inc.score = __builtin_nanf("");
	ck_assert_uint_gt(mm_alert_json(MM_INC_START, &inc, 10, "det-1", buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, ",\"prefix\":\"203.0.113.0/24\",\"role\":\"victim\","));
	ck_assert_ptr_nonnull(strstr(buf, ",\"vector\":null,"));
	ck_assert_ptr_nonnull(strstr(buf, ",\"completeness\":null,"));
	ck_assert_ptr_nonnull(strstr(buf, ",\"score\":null,"));
	ck_assert(json_ok(buf));
}
END_TEST

/* A start the collector's fast path raised: adopted, and the "fast"
 * member says who saw which ceiling crossed (added in schema 1). */
START_TEST(json_fast_start)
{
	struct mm_incident inc;
	char buf[MM_ALERT_JSON_MAX];

	craft(&inc);
	inc.adopted = 1;
	inc.fast.on = 1;
	inc.fast.ceiling = MM_FCE_AMP_PPS;
	inc.fast.interval_ms = 1000;
	inc.fast.time_ms = 1700000000250ull;
	inc.fast.rate = 300000;
	inc.fast.limit = 50000;
	strcpy(inc.fast.collector, "edge-1");
	ck_assert_uint_gt(mm_alert_json(MM_INC_START, &inc, 10, "det-1", buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, ",\"adopted\":true,"));
	ck_assert_ptr_nonnull(strstr(buf, ",\"detector\":\"det-1\",\"fast\":{\"collector\":\"edge-1\",\"ceiling\":"
					  "\"ceiling_amp_pps\",\"unit\":\"pps\",\"rate\":300000,\"limit\":50000,"
					  "\"interval_ms\":1000,\"time_ms\":1700000000250}}"));
	ck_assert(json_ok(buf));
	inc.fast.ceiling = MM_FCE_OUT_MBPS;
	ck_assert_uint_gt(mm_alert_json(MM_INC_END, &inc, 10, "det-1", buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"ceiling\":\"ceiling_out_mbps\",\"unit\":\"Mbit/s\""));
	ck_assert(json_ok(buf));
}
END_TEST

START_TEST(json_escaping_and_size)
{
	struct mm_incident inc;
	char buf[MM_ALERT_JSON_MAX];

	craft(&inc);
	strcpy(inc.ev.collectors[0], "a\"b\\c\nd\x01");
	ck_assert_uint_gt(mm_alert_json(MM_INC_START, &inc, 10, "det\"1", buf, sizeof(buf)), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\"collectors\":[\"a\\\"b\\\\c\\nd\\u0001\",\"edge-2\"]"));
	ck_assert_ptr_nonnull(strstr(buf, "\"detector\":\"det\\\"1\","));
	ck_assert(json_ok(buf));
	/* too small: 0 and an empty string, never a cut object */
	size_t need = strlen(expected_start);
	craft(&inc);
	ck_assert_uint_eq(mm_alert_json(MM_INC_START, &inc, 10, "det-1", buf, need), 0);
	ck_assert_str_eq(buf, "");
	ck_assert_uint_eq(mm_alert_json(MM_INC_START, &inc, 10, "det-1", buf, need + 1), need);
}
END_TEST

/* ---- a throwaway redis-server ---- */

static char test_root[48]; /* test-only: made and removed by main() */

struct srv {
	pid_t pid;
	char dir[96], sock[128];
};

static int srv_pings(const struct srv *s)
{
	struct timeval tv = { 0, 200000 };
	redisContext *c = redisConnectUnixWithTimeout(s->sock, tv);
	int ok = 0;
	if (c && !c->err) {
		redisReply *r = redisCommand(c, "PING");
		ok = r != NULL && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
	}
	if (c)
		redisFree(c);
	return ok;
}

static void srv_start(struct srv *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/srv.XXXXXX", test_root);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char log[160];
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(log, sizeof(log), "%s/redis.log", s->dir);
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* one entry per stream node: MAXLEN ~ then trims exactly */
		execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", s->sock, "--save", "",
		       "--dir", s->dir, "--stream-node-max-entries", "1", (char *)NULL);
		_exit(127);
	}
	s->pid = pid;
	/* bounded: 10 s of 20 ms polls for the first PING */
	for (int i = 0; i < 500 && !srv_pings(s); i++) {
		struct timespec ts = { 0, 20000000 };
		nanosleep(&ts, NULL);
	}
	ck_assert_msg(srv_pings(s), "redis-server did not answer (see %s/redis.log)", s->dir);
}

static void srv_stop(struct srv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static void base_cfg(struct mm_config *c, const char *sock)
{
	mm_config_defaults(c);
	snprintf(c->redis_socket, sizeof(c->redis_socket), "%s", sock);
	c->step_s = 10;
}

static size_t count_lines(const char *path, char *first, size_t firstlen)
{
	FILE *f = fopen(path, "r");
	char line[MM_ALERT_JSON_MAX + 2];
	size_t n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (n == 0 && first != NULL)
			snprintf(first, firstlen, "%s", line);
		n++;
	}
	fclose(f);
	return n;
}

START_TEST(outputs_redis_file)
{
	struct srv s;
	struct mm_config cfg;
	struct mm_incident inc;
	char err[256], path[160], first[MM_ALERT_JSON_MAX + 2];
	struct event_base *base = event_base_new();

	srv_start(&s);
	base_cfg(&cfg, s.sock);
	cfg.alert_stream_maxlen = 2;
	snprintf(cfg.alert_stream, sizeof(cfg.alert_stream), "t:alerts");
	snprintf(cfg.alert_channel, sizeof(cfg.alert_channel), "t:chan");
	snprintf(path, sizeof(path), "%s/alerts.jsonl", s.dir);
	snprintf(cfg.alert_file, sizeof(cfg.alert_file), "%s", path);

	redisContext *sub = redisConnectUnix(s.sock);
	ck_assert(sub && !sub->err);
	redisReply *r = redisCommand(sub, "SUBSCRIBE t:chan");
	ck_assert(r && r->type == REDIS_REPLY_ARRAY);
	freeReplyObject(r);

	struct mm_alert_outputs *o = mm_alert_outputs_new(base, &cfg, "det-1", err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	craft(&inc);
	mm_alert_emit(o, MM_INC_START, &inc);
	for (int i = 0; i < 3; i++)
		mm_alert_emit(o, MM_INC_UPDATE, &inc);
	mm_alert_emit(o, MM_INC_END, &inc);
	ck_assert_int_eq(mm_alert_outputs_drain(o, 10000), 0);
	const struct mm_alert_stats *st = mm_alert_outputs_stats(o);
	ck_assert_uint_eq(st->events, 5);
	ck_assert_uint_eq(st->stream_added, 5);
	ck_assert_uint_eq(st->published, 5);
	ck_assert_uint_eq(st->file_lines, 5);
	ck_assert_uint_eq(st->redis_errors, 0);
	ck_assert_uint_eq(st->dropped, 0);

	/* the stream: capped at 2, the newest last, field "json" */
	redisContext *c = redisConnectUnix(s.sock);
	ck_assert(c && !c->err);
	r = redisCommand(c, "XLEN t:alerts");
	ck_assert(r && r->type == REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, 2);
	freeReplyObject(r);
	r = redisCommand(c, "XREVRANGE t:alerts + - COUNT 1");
	ck_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 1);
	redisReply *fields = r->element[0]->element[1];
	ck_assert_uint_eq(fields->elements, 2);
	ck_assert_str_eq(fields->element[0]->str, "json");
	ck_assert_ptr_nonnull(strstr(fields->element[1]->str, "\"event\":\"end\""));
	freeReplyObject(r);
	redisFree(c);

	/* pub/sub: every event, in order */
	struct timeval tv = { 5, 0 };
	redisSetTimeout(sub, tv);
	for (int i = 0; i < 5; i++) {
		void *vr = NULL;
		ck_assert_int_eq(redisGetReply(sub, &vr), REDIS_OK);
		r = vr;
		ck_assert(r->type == REDIS_REPLY_ARRAY && r->elements == 3);
		ck_assert_str_eq(r->element[0]->str, "message");
		ck_assert_str_eq(r->element[1]->str, "t:chan");
		ck_assert_ptr_nonnull(strstr(r->element[2]->str, i == 0 ? "\"event\":\"start\"" : i < 4 ? "\"event\":\"update\"" : "\"event\":\"end\""));
		freeReplyObject(r);
	}
	redisFree(sub);

	/* the file: one line per event, the first is the start exactly */
	ck_assert_uint_eq(count_lines(path, first, sizeof(first)), 5);
	char want[MM_ALERT_JSON_MAX + 2];
	snprintf(want, sizeof(want), "%s\n", expected_start);
	ck_assert_str_eq(first, want);

	mm_alert_outputs_free(o);
	event_base_free(base);
	srv_stop(&s);
}
END_TEST

/* Retention: the stream expires [alerts] stream_retention after its last
 * event, and entries older than that (by the server's clock) are trimmed
 * at each new one, the younger kept. */
START_TEST(outputs_stream_retention)
{
	struct srv s;
	struct mm_config cfg;
	struct mm_incident inc;
	char err[256];
	struct event_base *base = event_base_new();
	redisReply *r;

	srv_start(&s);
	base_cfg(&cfg, s.sock);
	cfg.alert_stream_retention_s = 3600;
	snprintf(cfg.alert_stream, sizeof(cfg.alert_stream), "t:alerts");
	cfg.alert_channel[0] = '\0';

	redisContext *c = redisConnectUnix(s.sock);
	ck_assert(c && !c->err);
	r = redisCommand(c, "TIME");
	ck_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
	unsigned long long now_ms = strtoull(r->element[0]->str, NULL, 10) * 1000;
	freeReplyObject(r);
	/* one entry 10 s past the retention, one 10 min inside it */
	r = redisCommand(c, "XADD t:alerts %llu-0 json old", now_ms - 3610000ull);
	ck_assert(r && r->type == REDIS_REPLY_STRING);
	freeReplyObject(r);
	r = redisCommand(c, "XADD t:alerts %llu-0 json young", now_ms - 3000000ull);
	ck_assert(r && r->type == REDIS_REPLY_STRING);
	freeReplyObject(r);
	r = redisCommand(c, "TTL t:alerts");
	ck_assert_int_eq(r->integer, -1);
	freeReplyObject(r);

	struct mm_alert_outputs *o = mm_alert_outputs_new(base, &cfg, "det-1", err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	craft(&inc);
	mm_alert_emit(o, MM_INC_START, &inc);
	ck_assert_int_eq(mm_alert_outputs_drain(o, 10000), 0);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->stream_added, 1);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->redis_errors, 0);

	r = redisCommand(c, "TTL t:alerts");
	ck_assert(r && r->type == REDIS_REPLY_INTEGER);
	ck_assert_msg(r->integer > 3500 && r->integer <= 3600, "TTL %lld", r->integer);
	freeReplyObject(r);
	r = redisCommand(c, "XRANGE t:alerts - +");
	ck_assert(r && r->type == REDIS_REPLY_ARRAY);
	ck_assert_uint_eq(r->elements, 2);
	ck_assert_str_eq(r->element[0]->element[1]->element[1]->str, "young");
	ck_assert_ptr_nonnull(strstr(r->element[1]->element[1]->element[1]->str, "\"event\":\"start\""));
	freeReplyObject(r);
	redisFree(c);
	mm_alert_outputs_free(o);
	event_base_free(base);
	srv_stop(&s);
}
END_TEST

START_TEST(outputs_redis_down)
{
	struct mm_config cfg;
	struct mm_incident inc;
	char err[256], sock[160];
	struct event_base *base = event_base_new();

	snprintf(sock, sizeof(sock), "%s/no-such.sock", test_root);
	base_cfg(&cfg, sock);
	struct mm_alert_outputs *o = mm_alert_outputs_new(base, &cfg, "det-1", err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	craft(&inc);
	mm_alert_emit(o, MM_INC_START, &inc);
	mm_alert_outputs_drain(o, 2000);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->events, 1);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->stream_added, 0);
	ck_assert_uint_ge(mm_alert_outputs_stats(o)->redis_errors, 1);
	mm_alert_outputs_free(o);
	event_base_free(base);
}
END_TEST

static void write_script(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "#!/bin/sh\n%s\n", body);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0700), 0);
}

START_TEST(hook_stdin_timeout_limit)
{
	struct mm_config cfg;
	struct mm_incident inc;
	char err[256], dir[96], sock[160], hook[160], body[800], out[160], got[MM_ALERT_JSON_MAX + 2];
	struct event_base *base = event_base_new();

	snprintf(dir, sizeof(dir), "%s/hook.XXXXXX", test_root);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/no-such.sock", dir);
	snprintf(hook, sizeof(hook), "%s/hook.sh", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	/* The hook holds its slot until the test says go (bounded), so the
	 * second event meets a busy slot whatever the machine's speed. */
	snprintf(body, sizeof(body),
		 "i=0; while [ ! -e %s/go ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done\n"
		 "cat > %s.tmp && mv %s.tmp %s",
		 dir, out, out, out);
	write_script(hook, body);

	/* 1: the JSON (and a newline) on stdin */
	base_cfg(&cfg, sock);
	cfg.alert_channel[0] = '\0';
	snprintf(cfg.alert_hook, sizeof(cfg.alert_hook), "%s", hook);
	cfg.alert_hook_max = 1;
	struct mm_alert_outputs *o = mm_alert_outputs_new(base, &cfg, "det-1", err, sizeof(err));
	ck_assert_msg(o != NULL, "%s", err);
	craft(&inc);
	mm_alert_emit(o, MM_INC_START, &inc);
	mm_alert_emit(o, MM_INC_UPDATE, &inc); /* the one slot is busy: skipped */
	{
		char go[128];
		snprintf(go, sizeof(go), "%s/go", dir);
		FILE *g = fopen(go, "w");
		ck_assert_ptr_nonnull(g);
		fclose(g);
	}
	ck_assert_int_eq(mm_alert_outputs_drain(o, 30000), 0);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->hooks_run, 1);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->hooks_skipped, 1);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->hooks_failed, 0);
	ck_assert_uint_eq(count_lines(out, got, sizeof(got)), 1);
	char want[MM_ALERT_JSON_MAX + 2];
	snprintf(want, sizeof(want), "%s\n", expected_start);
	ck_assert_str_eq(got, want);
	/* below hook_min_tier: not run */
	inc.tier = MM_TIER_INVESTIGATE;
	mm_alert_outputs_free(o);
	cfg.alert_hook_min_tier = MM_TIER_ACT;
	o = mm_alert_outputs_new(base, &cfg, "det-1", err, sizeof(err));
	ck_assert_ptr_nonnull(o);
	mm_alert_emit(o, MM_INC_START, &inc);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->hooks_run, 0);
	mm_alert_outputs_free(o);

	/* 2: a slow hook is killed at the timeout and counted */
	write_script(hook, "exec sleep 60");
	cfg.alert_hook_timeout_s = 1;
	cfg.alert_hook_min_tier = MM_TIER_INVESTIGATE;
	o = mm_alert_outputs_new(base, &cfg, "det-1", err, sizeof(err));
	ck_assert_ptr_nonnull(o);
	mm_alert_emit(o, MM_INC_START, &inc);
	ck_assert_int_eq(mm_alert_outputs_drain(o, 10000), 0);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->hooks_run, 1);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->hooks_timed_out, 1);
	mm_alert_outputs_free(o);

	/* 3: a failing hook is counted */
	write_script(hook, "exit 3");
	o = mm_alert_outputs_new(base, &cfg, "det-1", err, sizeof(err));
	ck_assert_ptr_nonnull(o);
	mm_alert_emit(o, MM_INC_START, &inc);
	ck_assert_int_eq(mm_alert_outputs_drain(o, 10000), 0);
	ck_assert_uint_eq(mm_alert_outputs_stats(o)->hooks_failed, 1);
	mm_alert_outputs_free(o);
	event_base_free(base);
}
END_TEST

static int have_redis(void)
{
	return system("command -v redis-server >/dev/null 2>&1") == 0;
}

int main(void)
{
	Suite *s = suite_create("alert");
	TCase *tc = tcase_create("alert");
	int failed, redis = have_redis();

	signal(SIGPIPE, SIG_IGN);
	snprintf(test_root, sizeof(test_root), "/tmp/mm-alert-test.XXXXXX");
	if (mkdtemp(test_root) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, json_exact);
	tcase_add_test(tc, json_events);
	tcase_add_test(tc, json_escaping_and_size);
	tcase_add_test(tc, json_fast_start);
	if (redis) {
		tcase_add_test(tc, outputs_redis_file);
		tcase_add_test(tc, outputs_stream_retention);
	} else
		printf("SKIP: redis-server not found on PATH\n");
	tcase_add_test(tc, outputs_redis_down);
	tcase_add_test(tc, hook_stdin_timeout_limit);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	char cmd[96];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", test_root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", test_root);
	libevent_global_shutdown();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
