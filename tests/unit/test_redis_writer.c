/*
 * test_redis_writer.c - the Redis writer and the schema reader against a
 * throwaway redis-server (unix socket in a mkdtemp directory, no
 * persistence unless a test needs AOF to survive a SIGKILL):
 *
 *   encodings      HLL / top-K values round trip; malformed values refused
 *   exact          known host steps in -> the exact fields, a TTL on every
 *                  key, index, done mark, statistics; the reader gives the
 *                  host steps back
 *   two_collectors two writers, different ids -> the reader sums them
 *   command_count  <= 1 command per active host + O(shards) per step
 *   blobs          put/del decoder state, read back with mm_redis_load_hash
 *   kill_restart   SIGKILL mid-step (AOF on), steps keep closing, restart
 *                  -> every step exactly once, the one in flight included
 *   bound          outage + small bound -> oldest steps dropped and
 *                  counted, the rest exact
 *   auth           requirepass; ACL user limited to mm:* keys with SELECT
 *                  db; a wrong password never gets through
 *   stall          SIGSTOP -> the stall timer drops the connection;
 *                  SIGCONT -> everything arrives
 *   schema         mm:schema of another version: nothing written
 *   refusals       OOM and a flushed function library are retried until
 *                  they pass; a permanent refusal (ACL) drops the step
 *                  after max_attempts; freeing with a step in flight
 *   from_aggregator the real aggregator's closed step through the sink:
 *                  what it emitted is what the reader returns
 *
 * Every wait runs the libevent loop until a condition holds, bounded by a
 * deadline timer (wait_for); nothing sleeps to synchronise.  redis-server
 * gets PR_SET_PDEATHSIG so a failing test cannot leave it behind.  Without
 * redis-server on PATH only the encoding tests run (with a SKIP line).
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>

#include "mamori/aggregate.h"
#include "mamori/config.h"
#include "mamori/flow.h"
#include "mamori/log.h"
#include "mamori/prefix.h"
#include "mamori/redis_schema.h"
#include "mamori/redis_writer.h"

#define WAIT_MS 20000 /* generous: the sanitizer and valgrind builds are slow */
#define RETENTION 3600

/* ---- a throwaway redis-server ---- */

struct srv {
	pid_t pid;
	char dir[80];
	char sock[128];
	int aof;
	const char *extra[8];
};

static int find_redis(void)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (path == NULL)
		return 0;
	snprintf(buf, sizeof(buf), "%s", path);
	for (char *save = NULL, *d = strtok_r(buf, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		char p[4200];
		snprintf(p, sizeof(p), "%s/redis-server", d);
		if (access(p, X_OK) == 0)
			return 1;
	}
	return 0;
}

typedef int (*pred_fn)(void *arg);

struct waiter {
	struct event_base *base;
	pred_fn pred;
	void *arg;
	int ok;
};

static void wait_poll(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *wt = arg;
	(void)fd;
	(void)what;
	if (wt->pred && wt->pred(wt->arg)) {
		wt->ok = 1;
		event_base_loopbreak(wt->base);
	}
}

static void wait_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *wt = arg;
	(void)fd;
	(void)what;
	event_base_loopbreak(wt->base);
}

/* Run the loop until pred(arg) holds (checked every 2 ms) or timeout_ms
 * passes; pred NULL just runs the loop that long.  1 = pred held. */
static int wait_for(struct event_base *base, pred_fn pred, void *arg, unsigned timeout_ms)
{
	struct waiter wt = { base, pred, arg, 0 };
	struct timeval poll = { 0, 2000 }, dl = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	struct event *pe, *de;

	if (pred && pred(arg))
		return 1;
	pe = event_new(base, -1, EV_PERSIST, wait_poll, &wt);
	de = evtimer_new(base, wait_deadline, &wt);
	ck_assert(pe && de);
	evtimer_add(pe, &poll);
	evtimer_add(de, &dl);
	event_base_loop(base, 0);
	event_free(pe);
	event_free(de);
	return wt.ok;
}

static int srv_pings(void *arg)
{
	const struct srv *s = arg;
	struct timeval tv = { 0, 200000 };
	redisContext *c = redisConnectUnixWithTimeout(s->sock, tv);
	int ok = 0;

	if (c && !c->err) {
		redisReply *r = redisCommand(c, "PING");
		/* NOAUTH also says the server is up */
		ok = r != NULL && (r->type == REDIS_REPLY_STATUS || r->type == REDIS_REPLY_ERROR);
		freeReplyObject(r);
	}
	if (c)
		redisFree(c);
	return ok;
}

static void srv_spawn(struct srv *s, struct event_base *base)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char log[128];
		const char *argv[32];
		int n = 0, fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(log, sizeof(log), "%s/redis.log", s->dir);
		fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		argv[n++] = "redis-server";
		argv[n++] = "--port";
		argv[n++] = "0";
		argv[n++] = "--unixsocket";
		argv[n++] = s->sock;
		argv[n++] = "--save";
		argv[n++] = "";
		argv[n++] = "--dir";
		argv[n++] = s->dir;
		argv[n++] = "--appendonly";
		argv[n++] = s->aof ? "yes" : "no";
		argv[n++] = "--appendfsync";
		argv[n++] = "always";
		for (int i = 0; i < 8 && s->extra[i]; i++)
			argv[n++] = s->extra[i];
		argv[n] = NULL;
		execvp("redis-server", (char *const *)argv);
		_exit(127);
	}
	s->pid = pid;
	ck_assert_msg(wait_for(base, srv_pings, s, 10000), "redis-server did not answer PING (see %s/redis.log)",
		      s->dir);
}

/* Every server of this run lives under one directory that main() (Check's
 * runner process) creates and removes at the end, so a failing test - its
 * forked child gone at once, past srv_stop - leaves nothing behind (the
 * server itself dies with it: PR_SET_PDEATHSIG).  Test-only state. */
static char test_root[48];

static void srv_start(struct srv *s, struct event_base *base, int aof, const char *const *extra)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->dir, sizeof(s->dir), "%s/srv.XXXXXX", test_root);
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	snprintf(s->sock, sizeof(s->sock), "%s/redis.sock", s->dir);
	s->aof = aof;
	for (int i = 0; extra && extra[i] && i < 7; i++)
		s->extra[i] = extra[i];
	srv_spawn(s, base);
}

static void srv_kill(struct srv *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGCONT);
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
		s->pid = 0;
	}
}

static void rm_tree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char p[512];
		struct stat st;
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
		if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p);
		else
			unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static void srv_stop(struct srv *s)
{
	srv_kill(s);
	rm_tree(s->dir);
}

/* ---- fixtures: config, hosts, host steps ---- */

static void tcfg(struct mm_config *c, const struct srv *s, const char *cid)
{
	mm_config_defaults(c);
	snprintf(c->collector_id, sizeof(c->collector_id), "%s", cid);
	snprintf(c->redis_socket, sizeof(c->redis_socket), "%s", s->sock);
	c->retention_s = RETENTION;
	c->step_s = 10;
}

static void test_opts(struct mm_redis_writer_opts *o)
{
	mm_redis_writer_opts_default(o);
	o->backoff_min_ms = 10;
	o->backoff_max_ms = 200;
	o->stall_ms = 400;
}

/* Even hosts IPv4 10.x.y.1, odd ones IPv6 2001:db8::x. */
static void host_addr(uint8_t a[16], unsigned h)
{
	memset(a, 0, 16);
	if (h % 2 == 0) {
		a[10] = a[11] = 0xff;
		a[12] = 10;
		a[13] = (uint8_t)(h >> 8);
		a[14] = (uint8_t)h;
		a[15] = 1;
	} else {
		a[0] = 0x20;
		a[1] = 0x01;
		a[2] = 0x0d;
		a[3] = 0xb8;
		a[12] = (uint8_t)(h >> 24);
		a[13] = (uint8_t)(h >> 16);
		a[14] = (uint8_t)(h >> 8);
		a[15] = (uint8_t)h;
	}
}

/* A deterministic host step: some counters (one always, one above 2^40),
 * dense / sparse / empty sketches, top-K lists whose keys depend on the
 * host only, so two collectors' lists merge without eviction. */
static void gen_hs(struct mm_hoststep *hs, unsigned h, uint64_t step, unsigned coll)
{
	uint64_t seed = h * 7919u + step * 104729u + coll * 1299709u;

	memset(hs, 0, sizeof(*hs));
	for (unsigned c = 0; c < MM_C_COUNT; c++)
		if ((c + h + step) % 4 == 0 || c == MM_C_BYTES_IN)
			hs->ctr[c] = 1 + (seed + c * 31) % 100000 + (c == MM_C_BYTES_IN ? (uint64_t)1 << 40 : 0);
	for (unsigned s = 0; s < MM_S_COUNT; s++) {
		if ((h + s) % 3 == 0) {
			for (unsigned i = 0; i < MM_HLL_REGS; i++)
				hs->hll[s].reg[i] = (uint8_t)(1 + (i + h + coll) % 7);
		} else if ((h + s) % 3 == 1) {
			for (unsigned i = 0; i < 5; i++)
				hs->hll[s].reg[(h * 3 + i * 11 + s) % MM_HLL_REGS] = (uint8_t)(1 + (i + coll) % 9);
		}
	}
	hs->peers_in[0].addr[10] = hs->peers_in[0].addr[11] = 0xff;
	hs->peers_in[0].addr[12] = 192;
	hs->peers_in[0].addr[14] = 2;
	hs->peers_in[0].addr[15] = (uint8_t)(h % 250);
	hs->peers_in[0].count = 5000 + h + coll * 100;
	hs->peers_in[1].addr[0] = 0x20;
	hs->peers_in[1].addr[1] = 0x01;
	hs->peers_in[1].addr[15] = (uint8_t)h;
	hs->peers_in[1].count = 10 + coll;
	if (h % 2) {
		host_addr(hs->peers_out[0].addr, h + 1);
		hs->peers_out[0].count = (uint64_t)1 << 35;
	}
	for (unsigned p = 0; p < MM_T_PORTS_COUNT; p++) {
		hs->ports[p][0].port = (uint16_t)(53 + p);
		hs->ports[p][0].count = 300 + coll * 10 + p;
		hs->ports[p][1].port = 443;
		hs->ports[p][1].count = 20 + coll;
	}
}

/* What the reader must return: every contribution folded in (the same
 * merge the reader uses, so top-K ordering matches). */
static void expect_hs(struct mm_hoststep *e, unsigned h, uint64_t step, const unsigned *colls, unsigned ncolls)
{
	struct mm_hoststep t;
	memset(e, 0, sizeof(*e));
	for (unsigned i = 0; i < ncolls; i++) {
		gen_hs(&t, h, step, colls[i]);
		mm_hoststep_merge(e, &t);
	}
}

/* Field by field (struct padding makes memcmp wrong); the first
 * difference in why. */
static int hs_equal(const struct mm_hoststep *a, const struct mm_hoststep *b, char *why, size_t n)
{
	for (unsigned c = 0; c < MM_C_COUNT; c++)
		if (a->ctr[c] != b->ctr[c]) {
			snprintf(why, n, "counter %s: %llu != %llu", mm_ctr_name(c), (unsigned long long)a->ctr[c],
				 (unsigned long long)b->ctr[c]);
			return 0;
		}
	for (unsigned s = 0; s < MM_S_COUNT; s++)
		if (memcmp(a->hll[s].reg, b->hll[s].reg, MM_HLL_REGS) != 0) {
			snprintf(why, n, "hll %s differs", mm_sketch_name(s));
			return 0;
		}
	for (unsigned k = 0; k < MM_TOPK; k++) {
		if (a->peers_in[k].count != b->peers_in[k].count || memcmp(a->peers_in[k].addr, b->peers_in[k].addr, 16) ||
		    a->peers_out[k].count != b->peers_out[k].count ||
		    memcmp(a->peers_out[k].addr, b->peers_out[k].addr, 16)) {
			snprintf(why, n, "peer top-K entry %u differs", k);
			return 0;
		}
		for (unsigned p = 0; p < MM_T_PORTS_COUNT; p++)
			if (a->ports[p][k].port != b->ports[p][k].port || a->ports[p][k].count != b->ports[p][k].count) {
				snprintf(why, n, "port top-K %u entry %u: %u/%llu != %u/%llu", p, k, a->ports[p][k].port,
					 (unsigned long long)a->ports[p][k].count, b->ports[p][k].port,
					 (unsigned long long)b->ports[p][k].count);
				return 0;
			}
	}
	return 1;
}

static void close_step(const struct mm_step_sink *sink, uint64_t step, unsigned nhosts, unsigned coll)
{
	struct mm_hoststep hs;
	uint8_t a[16];

	sink->begin(sink->arg, step, nhosts);
	for (unsigned h = 0; h < nhosts; h++) {
		gen_hs(&hs, h, step, coll);
		host_addr(a, h);
		sink->host(sink->arg, step, a, 0, 0, &hs);
	}
	sink->end(sink->arg, step, NULL);
}

/* Every host of every step in [first, first + nsteps) as expected, in
 * one pipelined read per step; and each step's done marks. */
static void check_steps(const struct mm_config *cfg, uint64_t first, unsigned nsteps, unsigned nhosts,
			const unsigned *colls, unsigned ncolls)
{
	char err[256], why[160];
	struct mm_redis_reader *r = mm_redis_reader_open(cfg, 5000, err, sizeof(err));
	uint8_t(*addrs)[16] = calloc(nhosts, 16);
	struct mm_hoststep *out = calloc(nhosts, sizeof(*out)), e;
	struct mm_redis_contrib *who = calloc(nhosts, sizeof(*who));

	ck_assert_msg(r != NULL, "reader: %s", err);
	ck_assert(addrs && out && who);
	for (unsigned h = 0; h < nhosts; h++)
		host_addr(addrs[h], h);
	for (uint64_t s = first; s < first + nsteps; s++) {
		ck_assert_msg(mm_redis_read_hosts(r, (const uint8_t(*)[16])addrs, nhosts, s, 1, out, who) == 0,
			      "read: %s", mm_redis_reader_error(r));
		for (unsigned h = 0; h < nhosts; h++) {
			expect_hs(&e, h, s, colls, ncolls);
			ck_assert_msg(hs_equal(&out[h], &e, why, sizeof(why)), "step %llu host %u: %s",
				      (unsigned long long)s, h, why);
			ck_assert_uint_eq(who[h].n, ncolls);
			ck_assert_uint_eq(who[h].steps, 1);
			ck_assert_uint_eq(who[h].bad_fields, 0);
		}
		ck_assert_int_eq(mm_redis_read_done(r, s, NULL, NULL), (long)ncolls);
	}
	mm_redis_reader_close(r);
	free(addrs);
	free(out);
	free(who);
}

static redisContext *tconnect(const struct srv *s, const char *user, const char *pw, int db)
{
	redisContext *c = redisConnectUnix(s->sock);
	ck_assert(c && !c->err);
	if (pw) {
		redisReply *r = user ? redisCommand(c, "AUTH %s %s", user, pw) : redisCommand(c, "AUTH %s", pw);
		ck_assert(r && r->type != REDIS_REPLY_ERROR);
		freeReplyObject(r);
	}
	if (db) {
		redisReply *r = redisCommand(c, "SELECT %d", db);
		ck_assert(r && r->type != REDIS_REPLY_ERROR);
		freeReplyObject(r);
	}
	return c;
}

static void rcmd_ok(redisContext *c, const char *cmd)
{
	redisReply *r = redisCommand(c, cmd);
	ck_assert_msg(r && r->type != REDIS_REPLY_ERROR, "%s: %s", cmd, r ? r->str : c->errstr);
	freeReplyObject(r);
}

static long long rint_cmd(redisContext *c, const char *cmd, const char *key)
{
	redisReply *r = redisCommand(c, "%s %s", cmd, key);
	long long v;
	ck_assert(r && r->type == REDIS_REPLY_INTEGER);
	v = r->integer;
	freeReplyObject(r);
	return v;
}

/* Every key: a TTL in (0, RETENTION], except mm:schema (none).  Returns
 * the number of keys. */
static long check_ttls(redisContext *c)
{
	char cursor[32] = "0";
	long n = 0;

	do {
		redisReply *r = redisCommand(c, "SCAN %s COUNT 1000", cursor);
		ck_assert(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		for (size_t i = 0; i < r->element[1]->elements; i++) {
			const char *k = r->element[1]->element[i]->str;
			long long ttl = rint_cmd(c, "TTL", k);
			if (strcmp(k, MM_REDIS_SCHEMA_KEY) == 0)
				ck_assert_int_eq(ttl, -1);
			else
				ck_assert_msg(ttl > 0 && ttl <= RETENTION, "key %s has TTL %lld", k, ttl);
			n++;
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return n;
}

static long long info_calls(redisContext *c, const char *cmd)
{
	redisReply *r = redisCommand(c, "INFO commandstats");
	char pat[64];
	long long v = 0;

	ck_assert(r && r->type == REDIS_REPLY_STRING);
	snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", cmd);
	const char *p = strstr(r->str, pat);
	if (p)
		v = atoll(p + strlen(pat));
	freeReplyObject(r);
	return v;
}

struct env {
	struct event_base *base;
	struct srv srv;
	struct mm_config cfg;
	struct mm_redis_writer *w;
	struct mm_step_sink sink;
	uint64_t want_flushed;
};

static int flushed(void *arg)
{
	struct env *e = arg;
	const struct mm_redis_writer_stats *st = mm_redis_writer_stats(e->w);
	return st->steps_flushed >= e->want_flushed && mm_redis_writer_pending(e->w) == 0;
}

static void env_start(struct env *e, const char *cid, const struct mm_redis_writer_opts *o, int aof,
		      const char *const *extra)
{
	char err[256];
	struct mm_redis_writer_opts def;

	memset(e, 0, sizeof(*e));
	e->base = event_base_new();
	ck_assert_ptr_nonnull(e->base);
	srv_start(&e->srv, e->base, aof, extra);
	tcfg(&e->cfg, &e->srv, cid);
	if (o == NULL) {
		test_opts(&def);
		o = &def;
	}
	e->w = mm_redis_writer_new(e->base, &e->cfg, o, err, sizeof(err));
	ck_assert_msg(e->w != NULL, "writer: %s", err);
	mm_redis_writer_sink(e->w, &e->sink);
}

static void env_stop(struct env *e)
{
	mm_redis_writer_free(e->w);
	srv_stop(&e->srv);
	mm_config_free(&e->cfg);
	event_base_free(e->base);
}

/* ---- tests ---- */

START_TEST(encodings)
{
	struct mm_hll h, d;
	struct mm_topk_addr ta[MM_TOPK], da[MM_TOPK];
	struct mm_topk_port tp[MM_TOPK], dp[MM_TOPK];
	uint8_t buf[MM_REDIS_TOPK_ENC_MAX];
	size_t n;

	/* empty -> nothing; sparse -> pairs; half full or more -> 64 bytes */
	memset(&h, 0, sizeof(h));
	ck_assert_uint_eq(mm_redis_enc_hll(&h, buf), 0);
	h.reg[0] = 3;
	h.reg[63] = 59;
	n = mm_redis_enc_hll(&h, buf);
	ck_assert_uint_eq(n, 4);
	memset(&d, 0xaa, sizeof(d));
	ck_assert_int_eq(mm_redis_dec_hll(buf, n, &d), 0);
	ck_assert_mem_eq(d.reg, h.reg, MM_HLL_REGS);
	for (unsigned i = 0; i < MM_HLL_REGS / 2; i++)
		h.reg[i] = (uint8_t)(i % 5 + 1);
	n = mm_redis_enc_hll(&h, buf);
	ck_assert_uint_eq(n, MM_HLL_REGS);
	ck_assert_int_eq(mm_redis_dec_hll(buf, n, &d), 0);
	ck_assert_mem_eq(d.reg, h.reg, MM_HLL_REGS);
	/* malformed: odd length, index out of range, zero register */
	uint8_t bad1[3] = { 1, 2, 3 }, bad2[2] = { 64, 1 }, bad3[2] = { 5, 0 };
	ck_assert_int_eq(mm_redis_dec_hll(bad1, 3, &d), -1);
	ck_assert_int_eq(mm_redis_dec_hll(bad2, 2, &d), -1);
	ck_assert_int_eq(mm_redis_dec_hll(bad3, 2, &d), -1);
	ck_assert_int_eq(mm_redis_dec_hll(buf, 0, &d), -1);

	/* top-K: IPv4 entries are compact; all four IPv4 fit in 64 bytes */
	memset(ta, 0, sizeof(ta));
	ck_assert_uint_eq(mm_redis_enc_topk_addr(ta, buf), 0);
	for (unsigned i = 0; i < MM_TOPK; i++) {
		host_addr(ta[i].addr, 2 * i);
		ta[i].count = UINT64_MAX - i; /* the longest varint */
	}
	n = mm_redis_enc_topk_addr(ta, buf);
	ck_assert_uint_eq(n, MM_TOPK * (1 + 4 + 10));
	ck_assert_uint_le(n, 64);
	memset(da, 0, sizeof(da));
	ck_assert_int_eq(mm_redis_dec_topk_addr(buf, n, da), 0);
	for (unsigned i = 0; i < MM_TOPK; i++) {
		ck_assert_mem_eq(da[i].addr, ta[i].addr, 16);
		ck_assert_uint_eq(da[i].count, ta[i].count);
	}
	host_addr(ta[1].addr, 7); /* IPv6 */
	ta[3].count = 0;          /* an empty tail entry is left out */
	ta[1].count = 300;
	n = mm_redis_enc_topk_addr(ta, buf);
	ck_assert_uint_eq(n, (1 + 4 + 10) + (1 + 16 + 2) + (1 + 4 + 10));
	memset(da, 0, sizeof(da));
	ck_assert_int_eq(mm_redis_dec_topk_addr(buf, n, da), 0);
	ck_assert_mem_eq(da[1].addr, ta[1].addr, 16);
	ck_assert_uint_eq(da[1].count, 300);
	ck_assert_uint_eq(da[3].count, 0);
	/* cut inside an entry -> refused, output untouched; cut between
	 * entries (15, 34) -> the shorter list it is */
	for (size_t cut = 1; cut < n; cut++) {
		int rc;
		memset(da, 0x55, sizeof(da));
		rc = mm_redis_dec_topk_addr(buf, cut, da);
		if (cut == 15 || cut == 34) {
			ck_assert_int_eq(rc, 0);
			ck_assert_uint_eq(da[cut == 15 ? 1 : 2].count, 0);
			continue;
		}
		if (rc == 0)
			ck_abort_msg("truncated top-K (%zu of %zu bytes) accepted", cut, n);
		ck_assert_uint_eq(da[0].count, 0x5555555555555555ull);
	}
	uint8_t badlen[6] = { 5, 1, 2, 3, 4, 1 };
	ck_assert_int_eq(mm_redis_dec_topk_addr(badlen, 6, da), -1);

	memset(tp, 0, sizeof(tp));
	tp[0].port = 53;
	tp[0].count = 1000000;
	tp[1].port = 65535;
	tp[1].count = 1;
	n = mm_redis_enc_topk_port(tp, buf);
	ck_assert_uint_eq(n, (2 + 3) + (2 + 1));
	memset(dp, 0, sizeof(dp));
	ck_assert_int_eq(mm_redis_dec_topk_port(buf, n, dp), 0);
	ck_assert_uint_eq(dp[0].port, 53);
	ck_assert_uint_eq(dp[0].count, 1000000);
	ck_assert_uint_eq(dp[1].port, 65535);
	ck_assert_uint_eq(dp[1].count, 1);
	ck_assert_int_eq(mm_redis_dec_topk_port(buf, n - 1, dp), -1);
	/* a varint running past 64 bits */
	uint8_t longv[13] = { 0, 53, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f };
	ck_assert_int_eq(mm_redis_dec_topk_port(longv, 12, dp), -1);

	/* keys, addresses and shards */
	char k[MM_REDIS_KEY_MAX];
	uint8_t a[16], b[16];
	host_addr(a, 2);
	ck_assert_uint_eq(mm_rkey_host(k, a, 172800000), strlen("mm:h:{10.0.2.1}:172800000"));
	ck_assert_str_eq(k, "mm:h:{10.0.2.1}:172800000");
	host_addr(a, 3);
	mm_rkey_host(k, a, 7);
	ck_assert_str_eq(k, "mm:h:{2001:db8::3}:7");
	memset(a, 0xff, 16);
	ck_assert_uint_lt(mm_rkey_host(k, a, UINT64_MAX), MM_REDIS_KEY_MAX);
	mm_rkey_index(k, 7, 63);
	ck_assert_str_eq(k, "mm:idx:7:63");
	mm_rkey_done(k, 7);
	ck_assert_str_eq(k, "mm:done:7");
	host_addr(a, 4);
	mm_rkey_exporter_state(k, a);
	ck_assert_str_eq(k, "mm:tpl:{10.0.4.1}");
	ck_assert_int_eq(mm_redis_addr_parse("10.0.4.1", 8, b), 0);
	ck_assert_mem_eq(a, b, 16);
	ck_assert_int_eq(mm_redis_addr_parse("2001:db8::3", 11, b), 0);
	host_addr(a, 3);
	ck_assert_mem_eq(a, b, 16);
	ck_assert_int_eq(mm_redis_addr_parse("10.0.4", 6, b), -1);
	ck_assert_uint_lt(mm_redis_shard(a), MM_REDIS_IDX_SHARDS);

	ck_assert(mm_redis_completeness(0, 0, 0, 0) == 1.0);
	ck_assert(mm_redis_completeness(900, 100, 10, 0) == 0.9);
	ck_assert(mm_redis_completeness(100, 0, 9, 1) == 0.9);
}
END_TEST

struct idx_seen {
	unsigned n, nhosts;
	unsigned char *seen;
	int bad;
};

static int idx_cb(void *arg, const uint8_t addr[16])
{
	struct idx_seen *s = arg;
	for (unsigned h = 0; h < s->nhosts; h++) {
		uint8_t a[16];
		host_addr(a, h);
		if (memcmp(a, addr, 16) == 0) {
			s->bad |= s->seen[h]++ != 0;
			s->n++;
			return 0;
		}
	}
	s->bad = 1;
	return 0;
}

static int done_cb(void *arg, const char *collector, uint64_t hosts)
{
	char *out = arg;
	snprintf(out, 64, "%s=%llu", collector, (unsigned long long)hosts);
	return 0;
}

struct statv {
	char completeness[32], hosts[32], ex_a_complete[32], ex_a_lost[32], ex_b_records[32];
	int nx;
};

static int stat_cb(void *arg, const char *collector, const char *exporter, const char *name, const char *value)
{
	struct statv *s = arg;
	ck_assert_str_eq(collector, "c1");
	if (exporter == NULL) {
		if (strcmp(name, "completeness") == 0)
			snprintf(s->completeness, sizeof(s->completeness), "%s", value);
		if (strcmp(name, "hosts") == 0)
			snprintf(s->hosts, sizeof(s->hosts), "%s", value);
		return 0;
	}
	s->nx++;
	if (strcmp(exporter, "192.0.2.10") == 0 && strcmp(name, "completeness") == 0)
		snprintf(s->ex_a_complete, sizeof(s->ex_a_complete), "%s", value);
	if (strcmp(exporter, "192.0.2.10") == 0 && strcmp(name, "lost_records") == 0)
		snprintf(s->ex_a_lost, sizeof(s->ex_a_lost), "%s", value);
	if (strcmp(exporter, "2001:db8::10") == 0 && strcmp(name, "records") == 0)
		snprintf(s->ex_b_records, sizeof(s->ex_b_records), "%s", value);
	return 0;
}

START_TEST(exact)
{
	struct env e;
	const unsigned nhosts = 50, coll = 1;
	const uint64_t step = 170000000;
	struct mm_redis_exporter ex[2];
	char why[160], err[256];

	env_start(&e, "c1", NULL, 0, NULL);
	/* exporter counters: a first snapshot, then +1000/+100 records of
	 * which A lost 100: completeness 0.9, 1.0, collector 1000/1100 */
	memset(ex, 0, sizeof(ex));
	host_addr(ex[0].addr, 0);
	ex[0].addr[13] = 0;
	ex[0].addr[12] = 192;
	ex[0].addr[14] = 2;
	ex[0].addr[15] = 10;
	ck_assert_int_eq(mm_redis_addr_parse("2001:db8::10", 12, ex[1].addr), 0);
	ex[0].st.records = 5000;
	ex[0].st.lost_records = 7;
	ex[1].st.records = 50;
	mm_redis_writer_step_stats(e.w, ex, 2);
	/* the first snapshot belongs to a step before this one */
	close_step(&e.sink, step - 1, 0, coll);
	ex[0].st.records += 900;
	ex[0].st.lost_records += 100;
	ex[0].st.datagrams = 30;
	ex[1].st.records += 100;
	ex[1].st.datagrams = 10;
	mm_redis_writer_step_stats(e.w, ex, 2);
	close_step(&e.sink, step, nhosts, coll);
	e.want_flushed = 2;
	ck_assert_msg(wait_for(e.base, flushed, &e, WAIT_MS), "steps not flushed");

	const struct mm_redis_writer_stats *st = mm_redis_writer_stats(e.w);
	ck_assert_uint_eq(st->steps_flushed, 2);
	ck_assert_uint_eq(st->steps_dropped, 0);
	ck_assert_uint_eq(st->errors, 0);
	ck_assert_uint_eq(st->hosts_written, nhosts);
	ck_assert_int_eq(st->connected, 1);
	ck_assert_uint_eq(st->connects, 1);

	/* the exact fields of every host */
	redisContext *c = tconnect(&e.srv, NULL, NULL, 0);
	for (unsigned h = 0; h < nhosts; h++) {
		struct mm_hoststep hs;
		uint8_t a[16], enc[MM_REDIS_TOPK_ENC_MAX];
		char key[MM_REDIS_KEY_MAX], f[128];
		unsigned want = 0;

		gen_hs(&hs, h, step, coll);
		host_addr(a, h);
		mm_rkey_host(key, a, step);
		redisReply *r = redisCommand(c, "HGETALL %s", key);
		ck_assert(r && r->type == REDIS_REPLY_ARRAY);
		for (unsigned i = 0; i < MM_C_COUNT; i++) {
			if (hs.ctr[i] == 0)
				continue;
			want++;
			snprintf(f, sizeof(f), "c1:%s", mm_ctr_name(i));
			redisReply *v = redisCommand(c, "HGET %s %s", key, f);
			ck_assert(v && v->type == REDIS_REPLY_STRING);
			ck_assert_uint_eq(strtoull(v->str, NULL, 10), hs.ctr[i]);
			freeReplyObject(v);
		}
		for (unsigned s = 0; s < MM_S_COUNT; s++) {
			size_t n = mm_redis_enc_hll(&hs.hll[s], enc);
			if (n == 0)
				continue;
			want++;
			snprintf(f, sizeof(f), "c1:hll:%s", mm_sketch_name(s));
			redisReply *v = redisCommand(c, "HGET %s %s", key, f);
			ck_assert(v && v->type == REDIS_REPLY_STRING);
			ck_assert_uint_eq(v->len, n);
			ck_assert_mem_eq(v->str, enc, n);
			freeReplyObject(v);
		}
		for (unsigned t = 0; t < MM_RT_COUNT; t++) {
			size_t n = t == MM_RT_PEERS_IN    ? mm_redis_enc_topk_addr(hs.peers_in, enc)
				   : t == MM_RT_PEERS_OUT ? mm_redis_enc_topk_addr(hs.peers_out, enc)
							  : mm_redis_enc_topk_port(hs.ports[t - MM_RT_DPORTS_IN], enc);
			if (n == 0)
				continue;
			want++;
			snprintf(f, sizeof(f), "c1:top:%s", mm_redis_topk_name(t));
			redisReply *v = redisCommand(c, "HGET %s %s", key, f);
			ck_assert(v && v->type == REDIS_REPLY_STRING);
			ck_assert_uint_eq(v->len, n);
			ck_assert_mem_eq(v->str, enc, n);
			freeReplyObject(v);
		}
		ck_assert_uint_eq(r->elements, 2 * want);
		freeReplyObject(r);
		/* IPv4 hosts with sparse sketches stay listpack-encoded */
		if (h == 2) {
			redisReply *v = redisCommand(c, "OBJECT ENCODING %s", key);
			ck_assert(v && v->type == REDIS_REPLY_STRING);
			ck_assert_str_eq(v->str, "listpack");
			freeReplyObject(v);
		}
	}
	/* TTLs: every key but mm:schema; the empty step has stats too */
	long nkeys = check_ttls(c);
	ck_assert_int_ge(nkeys, (long)nhosts + 1 + 3);
	redisReply *r = redisCommand(c, "GET " MM_REDIS_SCHEMA_KEY);
	ck_assert(r && r->type == REDIS_REPLY_STRING);
	ck_assert_str_eq(r->str, "1");
	freeReplyObject(r);
	redisFree(c);

	/* the reader: hosts back exactly, alone and over a window */
	check_steps(&e.cfg, step, 1, nhosts, &coll, 1);
	struct mm_redis_reader *rd = mm_redis_reader_open(&e.cfg, 5000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	for (unsigned h = 0; h < nhosts; h += 7) {
		struct mm_hoststep out, want;
		struct mm_redis_contrib who;
		uint8_t a[16];
		host_addr(a, h);
		expect_hs(&want, h, step, &coll, 1);
		ck_assert_int_eq(mm_redis_read_host(rd, a, step - 3, 6, &out, &who), 1);
		ck_assert_msg(hs_equal(&out, &want, why, sizeof(why)), "host %u: %s", h, why);
		ck_assert_uint_eq(who.n, 1);
		ck_assert_str_eq(who.id[0], "c1");
	}
	/* the index: every host once */
	struct idx_seen seen = { 0, nhosts, calloc(nhosts, 1), 0 };
	ck_assert_int_eq(mm_redis_read_index(rd, step, idx_cb, &seen), (long)nhosts);
	ck_assert_uint_eq(seen.n, nhosts);
	ck_assert_int_eq(seen.bad, 0);
	free(seen.seen);
	ck_assert_int_eq(mm_redis_read_index(rd, step + 1, idx_cb, &seen), 0);
	/* the done mark */
	char done[64] = "";
	ck_assert_int_eq(mm_redis_read_done(rd, step, done_cb, done), 1);
	ck_assert_str_eq(done, "c1=50");
	ck_assert_int_eq(mm_redis_read_done(rd, step - 1, done_cb, done), 1);
	ck_assert_str_eq(done, "c1=0");
	/* statistics: per exporter deltas and completeness */
	struct statv sv;
	memset(&sv, 0, sizeof(sv));
	ck_assert_int_gt(mm_redis_read_stats(rd, step, stat_cb, &sv), 0);
	ck_assert_str_eq(sv.hosts, "50");
	ck_assert_str_eq(sv.completeness, "0.909091");
	ck_assert_str_eq(sv.ex_a_complete, "0.900000");
	ck_assert_str_eq(sv.ex_a_lost, "100");
	ck_assert_str_eq(sv.ex_b_records, "100");
	memset(&sv, 0, sizeof(sv));
	mm_redis_read_stats(rd, step - 1, stat_cb, &sv);
	ck_assert_str_eq(sv.hosts, "0");
	mm_redis_reader_close(rd);
	env_stop(&e);
}
END_TEST

/* A loopback TCP port free a moment ago (for redis-server's --port). */
static uint16_t free_port(void)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	close(fd);
	return ntohs(sin.sin_port);
}

START_TEST(two_collectors)
{
	struct env e;
	struct mm_redis_writer *w2;
	struct mm_step_sink sink2;
	struct mm_config cfg2;
	const unsigned nhosts = 300, colls[2] = { 1, 2 };
	char err[256], port[8];

	/* the second collector comes over TCP, the first over the socket */
	snprintf(port, sizeof(port), "%u", free_port());
	const char *extra[] = { "--port", port, "--bind", "127.0.0.1", NULL };
	env_start(&e, "ams1", NULL, 0, extra);
	tcfg(&cfg2, &e.srv, "fra.2");
	cfg2.redis_socket[0] = '\0';
	snprintf(cfg2.redis_host, sizeof(cfg2.redis_host), "127.0.0.1");
	cfg2.redis_port = (uint16_t)atoi(port);
	struct mm_redis_writer_opts o;
	test_opts(&o);
	w2 = mm_redis_writer_new(e.base, &cfg2, &o, err, sizeof(err));
	ck_assert_msg(w2 != NULL, "%s", err);
	mm_redis_writer_sink(w2, &sink2);
	for (uint64_t s = 100; s < 103; s++) {
		close_step(&e.sink, s, nhosts, colls[0]);
		close_step(&sink2, s, nhosts, colls[1]);
	}
	e.want_flushed = 3;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	struct env e2 = e;
	e2.w = w2;
	ck_assert(wait_for(e.base, flushed, &e2, WAIT_MS));
	check_steps(&e.cfg, 100, 3, nhosts, colls, 2);
	check_steps(&cfg2, 100, 3, nhosts, colls, 2); /* the reader over TCP too */
	redisContext *c = tconnect(&e.srv, NULL, NULL, 0);
	redisReply *cl = redisCommand(c, "CLIENT LIST");
	ck_assert(cl && cl->type == REDIS_REPLY_STRING);
	ck_assert_msg(strstr(cl->str, "addr=127.0.0.1:") != NULL, "no TCP client: %s", cl->str);
	ck_assert_msg(strstr(cl->str, "addr=/") != NULL || strstr(cl->str, "addr=:0") != NULL ||
			      strstr(cl->str, "redis.sock") != NULL,
		      "no unix-socket client: %s", cl->str);
	freeReplyObject(cl);
	redisFree(c);

	/* over the window of three steps, both collectors, three steps */
	struct mm_redis_reader *rd = mm_redis_reader_open(&e.cfg, 5000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	struct mm_hoststep out, want, t;
	struct mm_redis_contrib who;
	uint8_t a[16];
	char why[160];
	host_addr(a, 17);
	memset(&want, 0, sizeof(want));
	for (uint64_t s = 100; s < 103; s++) {
		expect_hs(&t, 17, s, colls, 2);
		mm_hoststep_merge(&want, &t);
	}
	ck_assert_int_eq(mm_redis_read_host(rd, a, 100, 3, &out, &who), 3);
	ck_assert_msg(hs_equal(&out, &want, why, sizeof(why)), "%s", why);
	ck_assert_uint_eq(who.n, 2);
	ck_assert_uint_eq(who.steps, 3);
	int c1 = strcmp(who.id[0], "ams1") == 0 || strcmp(who.id[1], "ams1") == 0;
	int c2 = strcmp(who.id[0], "fra.2") == 0 || strcmp(who.id[1], "fra.2") == 0;
	ck_assert(c1 && c2);
	mm_redis_reader_close(rd);
	mm_redis_writer_free(w2);
	mm_config_free(&cfg2);
	env_stop(&e);
}
END_TEST

START_TEST(command_count)
{
	struct env e;
	const unsigned nhosts = 2000;

	env_start(&e, "c1", NULL, 0, NULL);
	close_step(&e.sink, 1, 10, 1); /* connect and load the library first */
	e.want_flushed = 1;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	redisContext *c = tconnect(&e.srv, NULL, NULL, 0);
	long long f0 = info_calls(c, "fcall");
	uint64_t sent0 = mm_redis_writer_stats(e.w)->commands_sent;

	for (uint64_t s = 2; s < 5; s++)
		close_step(&e.sink, s, nhosts, 1);
	e.want_flushed = 4;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	uint64_t sent = mm_redis_writer_stats(e.w)->commands_sent - sent0;
	long long fcalls = info_calls(c, "fcall") - f0;
	/* per step: one per host, <= 64 index calls, 2 stats calls, 1 done mark */
	ck_assert_uint_le(sent, 3 * (nhosts + MM_REDIS_IDX_SHARDS + 3));
	ck_assert_uint_ge(sent, 3 * nhosts);
	ck_assert_int_eq(fcalls, (long long)sent);
	fprintf(stderr, "command_count: %u hosts/step: %.4f commands per host per step (%llu FCALLs in 3 steps)\n",
		nhosts, (double)sent / (3.0 * nhosts), (unsigned long long)fcalls);
	redisFree(c);
	env_stop(&e);
}
END_TEST

struct loaded {
	int n;
	char f[4][32];
	uint8_t v[4][64];
	size_t len[4];
};

static int load_cb(void *arg, const char *field, const uint8_t *val, size_t len)
{
	struct loaded *l = arg;
	if (l->n == 4 || len > 64)
		return -1;
	snprintf(l->f[l->n], 32, "%s", field);
	memcpy(l->v[l->n], val, len);
	l->len[l->n++] = len;
	return 0;
}

START_TEST(blobs)
{
	struct env e;
	char key[MM_REDIS_KEY_MAX], err[256];
	uint8_t ex[16], v1[5] = { 1, 0, 0, 0, 100 }, v2[40], v3[3] = { 1, 0, 1 };
	struct loaded l;

	env_start(&e, "c1", NULL, 0, NULL);
	host_addr(ex, 6);
	mm_rkey_exporter_state(key, ex);
	for (unsigned i = 0; i < sizeof(v2); i++)
		v2[i] = (uint8_t)(i * 37);
	v2[7] = 0; /* binary, with a NUL inside */
	ck_assert_int_eq(mm_redis_writer_put_blob(e.w, key, "s.9.0.1", v1, sizeof(v1)), 0);
	ck_assert_int_eq(mm_redis_writer_put_blob(e.w, key, "t.9.0.256", v2, sizeof(v2)), 0);
	ck_assert_int_eq(mm_redis_writer_put_blob(e.w, key, "t.9.0.257", v3, sizeof(v3)), 0);
	ck_assert_int_eq(mm_redis_writer_del_blob(e.w, key, "t.9.0.257"), 0);
	ck_assert_int_eq(mm_redis_writer_put_blob(e.w, "", "x", v1, 1), -1);
	e.want_flushed = 0;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->blobs_queued, 4);
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->blobs_dropped, 1);

	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(mm_redis_load_hash(&e.cfg, key, load_cb, &l, err, sizeof(err)), 2);
	ck_assert_int_eq(l.n, 2);
	for (int i = 0; i < 2; i++) {
		if (strcmp(l.f[i], "s.9.0.1") == 0) {
			ck_assert_uint_eq(l.len[i], sizeof(v1));
			ck_assert_mem_eq(l.v[i], v1, sizeof(v1));
		} else {
			ck_assert_str_eq(l.f[i], "t.9.0.256");
			ck_assert_uint_eq(l.len[i], sizeof(v2));
			ck_assert_mem_eq(l.v[i], v2, sizeof(v2));
		}
	}
	redisContext *c = tconnect(&e.srv, NULL, NULL, 0);
	check_ttls(c);
	redisFree(c);
	/* a key that is not there: no fields, no error */
	memset(&l, 0, sizeof(l));
	ck_assert_int_eq(mm_redis_load_hash(&e.cfg, "mm:tpl:{192.0.2.99}", load_cb, &l, err, sizeof(err)), 0);
	env_stop(&e);
	/* no server: an error, quickly */
	ck_assert_int_eq(mm_redis_load_hash(&e.cfg, key, load_cb, &l, err, sizeof(err)), -1);
	ck_assert_ptr_nonnull(strstr(err, "connect"));
}
END_TEST

struct killer {
	struct env *e;
	uint64_t replies0;
};

/* Some replies of the big step came back, and more are due: kill now. */
static int mid_step(void *arg)
{
	struct killer *k = arg;
	const struct mm_redis_writer_stats *st = mm_redis_writer_stats(k->e->w);
	return st->replies > k->replies0 + 10 && st->replies < st->commands_sent;
}

static int disconnected(void *arg)
{
	struct env *e = arg;
	return !mm_redis_writer_stats(e->w)->connected;
}

START_TEST(kill_restart)
{
	struct env e;
	struct mm_redis_writer_opts o;
	const unsigned small = 200, big = 5000;
	const unsigned coll = 1;

	/* A small window keeps the big step in flight over many round
	 * trips; AOF with fsync always keeps what was acknowledged. */
	test_opts(&o);
	o.window_bytes = 8 * 1024;
	env_start(&e, "c1", &o, 1, NULL);
	for (uint64_t s = 1; s <= 3; s++)
		close_step(&e.sink, s, small, coll);
	e.want_flushed = 3;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));

	struct killer k = { &e, mm_redis_writer_stats(e.w)->replies };
	close_step(&e.sink, 4, big, coll);
	ck_assert_msg(wait_for(e.base, mid_step, &k, WAIT_MS), "step 4 never in flight");
	srv_kill(&e.srv);
	ck_assert(wait_for(e.base, disconnected, &e, WAIT_MS));
	/* steps keep closing during the outage */
	for (uint64_t s = 5; s <= 8; s++) {
		close_step(&e.sink, s, small, coll);
		wait_for(e.base, NULL, NULL, 20);
	}
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_pending, 5);
	srv_spawn(&e.srv, e.base);
	e.want_flushed = 8;
	ck_assert_msg(wait_for(e.base, flushed, &e, 60000), "not every step flushed after the restart");
	const struct mm_redis_writer_stats *st = mm_redis_writer_stats(e.w);
	ck_assert_uint_ge(st->steps_resent, 1); /* step 4 went again */
	ck_assert_uint_eq(st->steps_dropped, 0);
	ck_assert_uint_ge(st->reconnects, 1);
	ck_assert_uint_ge(st->disconnects, 1);

	check_steps(&e.cfg, 1, 3, small, &coll, 1);
	check_steps(&e.cfg, 4, 1, big, &coll, 1);
	check_steps(&e.cfg, 5, 4, small, &coll, 1);

	/* and the totals: sum of bytes_in over every host and step */
	char err[256];
	struct mm_redis_reader *rd = mm_redis_reader_open(&e.cfg, 5000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	uint64_t got = 0, want = 0;
	uint8_t(*addrs)[16] = calloc(big, 16);
	struct mm_hoststep *out = calloc(big, sizeof(*out)), hs;
	for (unsigned h = 0; h < big; h++)
		host_addr(addrs[h], h);
	ck_assert_int_eq(mm_redis_read_hosts(rd, (const uint8_t(*)[16])addrs, big, 1, 8, out, NULL), 0);
	for (unsigned h = 0; h < big; h++) {
		got += out[h].ctr[MM_C_BYTES_IN];
		for (uint64_t s = 1; s <= 8; s++)
			if (s == 4 || h < small) {
				gen_hs(&hs, h, s, coll);
				want += hs.ctr[MM_C_BYTES_IN];
			}
	}
	ck_assert_uint_eq(got, want);
	free(addrs);
	free(out);
	mm_redis_reader_close(rd);
	env_stop(&e);
}
END_TEST

static int connect_failed_twice(void *arg)
{
	struct env *e = arg;
	return mm_redis_writer_stats(e->w)->connect_failures >= 2;
}

START_TEST(bound)
{
	struct env e;
	struct mm_redis_writer_opts o;
	const unsigned nhosts = 200, nsteps = 10, coll = 1;
	char err[256];

	/* a step of these 200 hosts is ~200 KB: a 700 KB bound holds three,
	 * with room for the one being built */
	test_opts(&o);
	o.queue_max_bytes = 700 * 1024;
	env_start(&e, "c1", &o, 0, NULL);
	srv_kill(&e.srv); /* the outage starts before anything is written */
	mm_redis_writer_free(e.w);
	e.w = mm_redis_writer_new(e.base, &e.cfg, &o, err, sizeof(err));
	ck_assert(e.w);
	mm_redis_writer_sink(e.w, &e.sink);
	ck_assert(wait_for(e.base, connect_failed_twice, &e, WAIT_MS));
	for (uint64_t s = 1; s <= nsteps; s++) {
		close_step(&e.sink, s, nhosts, coll);
		ck_assert_uint_le(mm_redis_writer_stats(e.w)->bytes_queued, o.queue_max_bytes);
	}
	const struct mm_redis_writer_stats *st = mm_redis_writer_stats(e.w);
	uint64_t dropped = st->steps_dropped;
	ck_assert_uint_ge(dropped, 1);
	ck_assert_uint_le(dropped, nsteps - 3);
	ck_assert_uint_eq(st->steps_pending, nsteps - dropped);
	ck_assert_uint_gt(st->bytes_dropped, 0);
	ck_assert_uint_le(st->bytes_queued_max, o.queue_max_bytes);

	srv_spawn(&e.srv, e.base);
	e.want_flushed = nsteps - dropped;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_dropped, dropped);
	/* the oldest went: no trace of them; the newest are exact */
	struct mm_redis_reader *rd = mm_redis_reader_open(&e.cfg, 5000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	for (uint64_t s = 1; s <= dropped; s++) {
		struct idx_seen seen = { 0, nhosts, calloc(nhosts, 1), 0 };
		ck_assert_int_eq(mm_redis_read_done(rd, s, NULL, NULL), 0);
		ck_assert_int_eq(mm_redis_read_index(rd, s, idx_cb, &seen), 0);
		free(seen.seen);
	}
	mm_redis_reader_close(rd);
	check_steps(&e.cfg, dropped + 1, (unsigned)(nsteps - dropped), nhosts, &coll, 1);
	env_stop(&e);
}
END_TEST

START_TEST(auth_password)
{
	struct env e;
	const char *extra[] = { "--requirepass", "s3cret", NULL };
	const unsigned coll = 1;
	char err[256];

	env_start(&e, "c1", NULL, 0, extra);
	/* no password: refused at AUTH-less FCALL, retried with backoff */
	e.want_flushed = 1;
	close_step(&e.sink, 1, 20, coll);
	ck_assert(wait_for(e.base, connect_failed_twice, &e, WAIT_MS));
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_flushed, 0);
	ck_assert_int_eq(mm_redis_writer_stats(e.w)->connected, 0);
	mm_redis_writer_free(e.w);
	/* wrong password: the same */
	snprintf(e.cfg.redis_password, sizeof(e.cfg.redis_password), "wrong");
	struct mm_redis_writer_opts o;
	test_opts(&o);
	e.w = mm_redis_writer_new(e.base, &e.cfg, &o, err, sizeof(err));
	mm_redis_writer_sink(e.w, &e.sink);
	close_step(&e.sink, 1, 20, coll);
	ck_assert(wait_for(e.base, connect_failed_twice, &e, WAIT_MS));
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_flushed, 0);
	/* the right one, given by reconfigure: the queued step goes through */
	snprintf(e.cfg.redis_password, sizeof(e.cfg.redis_password), "s3cret");
	mm_redis_writer_reconfigure(e.w, &e.cfg);
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	check_steps(&e.cfg, 1, 1, 20, &coll, 1);
	env_stop(&e);
}
END_TEST

START_TEST(auth_acl_user_db)
{
	struct env e;
	const unsigned coll = 1;
	char err[256];

	env_start(&e, "c1", NULL, 0, NULL);
	mm_redis_writer_free(e.w);
	/* The least privilege docs/redis-schema.md gives: the collector
	 * may run its functions and the commands they call, on mm:* only;
	 * the reader may only read; the default user is off. */
	redisContext *c = tconnect(&e.srv, NULL, NULL, 0);
	rcmd_ok(c, "ACL SETUSER mamori on >pw-1 resetkeys ~mm:* -@all +fcall +function|load +get +set +hset +sadd "
		   "+expire +hdel +select");
	rcmd_ok(c, "ACL SETUSER det on >pw-2 resetkeys ~mm:* -@all +hgetall +smembers +hscan +select +ping");
	rcmd_ok(c, "ACL SETUSER admin on >pw-0 ~* &* +@all");
	rcmd_ok(c, "ACL SETUSER default off");
	redisFree(c);

	snprintf(e.cfg.redis_user, sizeof(e.cfg.redis_user), "mamori");
	snprintf(e.cfg.redis_password, sizeof(e.cfg.redis_password), "pw-1");
	e.cfg.redis_db = 5;
	struct mm_redis_writer_opts o;
	test_opts(&o);
	e.w = mm_redis_writer_new(e.base, &e.cfg, &o, err, sizeof(err));
	ck_assert(e.w);
	mm_redis_writer_sink(e.w, &e.sink);
	close_step(&e.sink, 9, 40, coll);
	ck_assert_int_eq(mm_redis_writer_put_blob(e.w, "mm:tpl:{192.0.2.1}", "t.9.0.256", "x", 1), 0);
	ck_assert_int_eq(mm_redis_writer_del_blob(e.w, "mm:tpl:{192.0.2.1}", "t.9.0.257"), 0);
	e.want_flushed = 1;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->errors, 0);

	struct mm_config rcfg = e.cfg;
	snprintf(rcfg.redis_user, sizeof(rcfg.redis_user), "det");
	snprintf(rcfg.redis_password, sizeof(rcfg.redis_password), "pw-2");
	check_steps(&rcfg, 9, 1, 40, &coll, 1);
	/* the reader user cannot write */
	c = tconnect(&e.srv, "det", "pw-2", 5);
	redisReply *r = redisCommand(c, "SET mm:x 1");
	ck_assert(r && r->type == REDIS_REPLY_ERROR);
	freeReplyObject(r);
	redisFree(c);
	/* everything went to db 5, with a TTL; db 0 is empty */
	c = tconnect(&e.srv, "admin", "pw-0", 5);
	ck_assert_int_ge(check_ttls(c), 40 + 1 + 4);
	rcmd_ok(c, "SELECT 0");
	r = redisCommand(c, "DBSIZE");
	ck_assert(r && r->type == REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	redisFree(c);
	env_stop(&e);
}
END_TEST

static int stalled(void *arg)
{
	struct env *e = arg;
	return mm_redis_writer_stats(e->w)->stalls >= 1;
}

START_TEST(stall)
{
	struct env e;
	const unsigned nhosts = 300, coll = 1;

	env_start(&e, "c1", NULL, 0, NULL);
	close_step(&e.sink, 1, nhosts, coll);
	e.want_flushed = 1;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	kill(e.srv.pid, SIGSTOP);
	close_step(&e.sink, 2, nhosts, coll);
	ck_assert_msg(wait_for(e.base, stalled, &e, WAIT_MS), "stall not detected");
	ck_assert_int_eq(mm_redis_writer_stats(e.w)->connected, 0);
	close_step(&e.sink, 3, nhosts, coll);
	wait_for(e.base, NULL, NULL, 600); /* reconnects into the stopped server stall too */
	kill(e.srv.pid, SIGCONT);
	e.want_flushed = 3;
	ck_assert_msg(wait_for(e.base, flushed, &e, WAIT_MS), "no recovery after SIGCONT");
	ck_assert_uint_ge(mm_redis_writer_stats(e.w)->stalls, 1);
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_dropped, 0);
	check_steps(&e.cfg, 1, 3, nhosts, &coll, 1);
	env_stop(&e);
}
END_TEST

struct atleast {
	struct env *e;
	uint64_t errors, failed;
};

static int errors_at_least(void *arg)
{
	const struct atleast *a = arg;
	const struct mm_redis_writer_stats *st = mm_redis_writer_stats(a->e->w);
	return st->errors >= a->errors && st->steps_failed >= a->failed;
}

START_TEST(refusals)
{
	struct env e;
	struct mm_redis_writer_opts o;
	const unsigned coll = 1;
	struct atleast al = { &e, 0, 0 };

	test_opts(&o);
	o.max_attempts = 3;
	env_start(&e, "c1", &o, 0, NULL);
	close_step(&e.sink, 1, 20, coll);
	e.want_flushed = 1;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	redisContext *c = tconnect(&e.srv, NULL, NULL, 0);

	/* over maxmemory: refused again and again, never given up */
	rcmd_ok(c, "CONFIG SET maxmemory 1");
	close_step(&e.sink, 2, 20, coll);
	al.errors = mm_redis_writer_stats(e.w)->errors + 3 * o.max_attempts;
	ck_assert(wait_for(e.base, errors_at_least, &al, WAIT_MS));
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_failed, 0);
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_flushed, 1);
	rcmd_ok(c, "CONFIG SET maxmemory 0");
	e.want_flushed = 2;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));

	/* the library flushed under our feet: reloaded by the reconnect */
	uint64_t connects = mm_redis_writer_stats(e.w)->connects;
	rcmd_ok(c, "FUNCTION FLUSH");
	close_step(&e.sink, 3, 20, coll);
	e.want_flushed = 3;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	ck_assert_uint_gt(mm_redis_writer_stats(e.w)->connects, connects);
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_failed, 0);

	/* a refusal that will not go away (no permission on the index
	 * keys): dropped after max_attempts, counted */
	rcmd_ok(c, "ACL SETUSER default resetkeys ~mm:h:* ~mm:schema ~mm:done:* ~mm:stat:* ~mm:xstat:*");
	close_step(&e.sink, 4, 20, coll);
	al.errors = 0;
	al.failed = 1;
	ck_assert(wait_for(e.base, errors_at_least, &al, WAIT_MS));
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_failed, 1);
	rcmd_ok(c, "ACL SETUSER default allkeys");
	close_step(&e.sink, 5, 20, coll);
	e.want_flushed = 4;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));
	check_steps(&e.cfg, 1, 3, 20, &coll, 1);
	check_steps(&e.cfg, 5, 1, 20, &coll, 1);
	redisReply *r = redisCommand(c, "EXISTS mm:done:4");
	ck_assert(r && r->type == REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, 0);
	freeReplyObject(r);
	redisFree(c);

	/* freed with a big step in flight: no leak, no callback into freed
	 * memory (valgrind and ASan builds) */
	struct killer k = { &e, mm_redis_writer_stats(e.w)->replies };
	close_step(&e.sink, 6, 3000, coll);
	ck_assert(wait_for(e.base, mid_step, &k, WAIT_MS));
	env_stop(&e);
}
END_TEST

/* Between the aggregator and the writer: keeps a copy of what the
 * aggregator emitted, then hands it on. */
struct tee {
	const struct mm_step_sink *next;
	uint64_t step;
	unsigned n, external;
	uint8_t addr[128][16];
	struct mm_hoststep hs[128];
	int bad;
};

static void tee_begin(void *arg, uint64_t step, uint32_t nhosts)
{
	struct tee *t = arg;
	t->step = step;
	t->next->begin(t->next->arg, step, nhosts);
}

static void tee_host(void *arg, uint64_t step, const uint8_t addr[16], unsigned group, int external,
		     const struct mm_hoststep *hs)
{
	struct tee *t = arg;
	t->external += external != 0;
	if (t->n < 128) {
		memcpy(t->addr[t->n], addr, 16);
		t->hs[t->n++] = *hs;
	} else {
		t->bad = 1;
	}
	t->next->host(t->next->arg, step, addr, group, external, hs);
}

static void tee_end(void *arg, uint64_t step, const struct mm_agg_stats *st)
{
	struct tee *t = arg;
	t->next->end(t->next->arg, step, st);
}

START_TEST(from_aggregator)
{
	struct env e;
	struct mm_agg_config ac;
	struct mm_prefix pfx;
	const char *why = NULL;
	uint16_t group = 0;
	struct tee t;
	struct mm_step_sink tee_sink = { tee_begin, tee_host, tee_end, &t };
	const uint64_t t0 = 1700000000000ull; /* a step boundary for 10 s steps */
	char err[256], why2[160];

	env_start(&e, "c1", NULL, 0, NULL);
	memset(&t, 0, sizeof(t));
	t.next = &e.sink;
	ck_assert_int_eq(mm_prefix_parse("10.0.0.0/8", &pfx, &why), 0);
	mm_agg_config_default(&ac);
	ac.step_ms = 10000;
	ac.prefixes = &pfx;
	ac.prefix_group = &group;
	ac.nprefixes = 1;
	struct mm_agg *agg = mm_agg_new(&ac, t0);
	ck_assert_ptr_nonnull(agg);
	/* 20 monitored hosts, each hit by a few TCP and UDP flows */
	for (unsigned i = 0; i < 20; i++) {
		for (unsigned k = 0; k < 3; k++) {
			struct mm_flow f;
			memset(&f, 0, sizeof(f));
			host_addr(f.dst_addr, 2 * i); /* 10.0.x.1 */
			host_addr(f.src_addr, 2 * i);
			f.src_addr[12] = 198;
			f.src_addr[15] = (uint8_t)(k + 1);
			f.af = 4;
			f.proto = k == 2 ? 17 : 6;
			f.tcp_flags = k == 0 ? 2 : 0x18;
			f.src_port = (uint16_t)(k == 2 ? 53 : 40000 + k);
			f.dst_port = (uint16_t)(k == 2 ? 33000 : 443);
			f.packets = 1 + k;
			f.bytes = 100 * (1 + k) + i;
			f.sampling_rate = 100;
			f.packets_scaled = f.packets * 100;
			f.bytes_scaled = f.bytes * 100;
			f.start_ms = f.end_ms = t0 + 1000 + 100 * i;
			f.format = MM_FMT_IPFIX;
			mm_agg_add(agg, &f);
		}
	}
	mm_agg_flush(agg, &tee_sink);
	mm_agg_free(agg);
	ck_assert_int_eq(t.bad, 0);
	ck_assert_uint_eq(t.n - t.external, 20); /* monitored; the sources may be tracked too */
	ck_assert_uint_eq(t.step, t0 / 10000);
	e.want_flushed = 1;
	ck_assert(wait_for(e.base, flushed, &e, WAIT_MS));

	/* what the aggregator emitted is what the reader gives back */
	struct mm_redis_reader *rd = mm_redis_reader_open(&e.cfg, 5000, err, sizeof(err));
	ck_assert_msg(rd != NULL, "%s", err);
	for (unsigned i = 0; i < t.n; i++) {
		struct mm_hoststep out, want;
		memset(&want, 0, sizeof(want));
		mm_hoststep_merge(&want, &t.hs[i]);
		ck_assert_int_eq(mm_redis_read_host(rd, t.addr[i], t.step, 1, &out, NULL), 1);
		ck_assert_msg(hs_equal(&out, &want, why2, sizeof(why2)), "host %u: %s", i, why2);
		ck_assert_uint_gt(out.ctr[MM_C_BYTES_IN] + out.ctr[MM_C_BYTES_OUT], 0);
	}
	char done[64], want_done[64];
	snprintf(want_done, sizeof(want_done), "c1=%u", t.n);
	ck_assert_int_eq(mm_redis_read_done(rd, t.step, done_cb, done), 1);
	ck_assert_str_eq(done, want_done);
	mm_redis_reader_close(rd);
	env_stop(&e);
}
END_TEST

static int mismatch(void *arg)
{
	struct env *e = arg;
	return mm_redis_writer_stats(e->w)->schema_mismatch;
}

START_TEST(schema_mismatch)
{
	struct env e;
	char err[256];

	env_start(&e, "c1", NULL, 0, NULL);
	mm_redis_writer_free(e.w);
	redisContext *c = tconnect(&e.srv, NULL, NULL, 0);
	redisReply *r = redisCommand(c, "SET " MM_REDIS_SCHEMA_KEY " 2");
	freeReplyObject(r);
	struct mm_redis_writer_opts o;
	test_opts(&o);
	e.w = mm_redis_writer_new(e.base, &e.cfg, &o, err, sizeof(err));
	mm_redis_writer_sink(e.w, &e.sink);
	close_step(&e.sink, 1, 10, 1);
	ck_assert(wait_for(e.base, mismatch, &e, WAIT_MS));
	wait_for(e.base, NULL, NULL, 100);
	r = redisCommand(c, "DBSIZE");
	ck_assert(r && r->type == REDIS_REPLY_INTEGER);
	ck_assert_int_eq(r->integer, 1); /* only mm:schema */
	freeReplyObject(r);
	ck_assert_uint_eq(mm_redis_writer_stats(e.w)->steps_flushed, 0);
	redisFree(c);
	env_stop(&e);
}
END_TEST

static Suite *suite(int have_redis)
{
	Suite *s = suite_create("redis_writer");
	TCase *tc = tcase_create("encodings");

	tcase_add_test(tc, encodings);
	suite_add_tcase(s, tc);
	if (!have_redis)
		return s;
	tc = tcase_create("redis");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, exact);
	tcase_add_test(tc, two_collectors);
	tcase_add_test(tc, command_count);
	tcase_add_test(tc, blobs);
	tcase_add_test(tc, kill_restart);
	tcase_add_test(tc, bound);
	tcase_add_test(tc, auth_password);
	tcase_add_test(tc, auth_acl_user_db);
	tcase_add_test(tc, stall);
	tcase_add_test(tc, schema_mismatch);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, from_aggregator);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	int have = find_redis(), failed;

	signal(SIGPIPE, SIG_IGN); /* as the collector does: see redis_writer.h */

	/* warnings of the outage tests are expected; MM_TEST_VERBOSE shows them */
	mm_log_init("test_redis_writer", 1, getenv("MM_TEST_VERBOSE") ? MM_LOG_DEBUG : MM_LOG_ERR);
	if (!have)
		printf("SKIP: redis-server not found on PATH: only the encoding tests run\n");
	snprintf(test_root, sizeof(test_root), "/tmp/mm-redis-test.XXXXXX");
	if (have && mkdtemp(test_root) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	SRunner *sr = srunner_create(suite(have));
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (have)
		rm_tree(test_root);
	libevent_global_shutdown();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
