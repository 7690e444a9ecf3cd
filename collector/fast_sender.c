/*
 * fast_sender.c - crossings of the fast path to a Redis stream
 * (fast_sender.h): I/O only, the format is fastpath.c's.  The stream
 * keeps [window] retention: EXPIRE after each entry, entries older than
 * that trimmed (docs/redis-schema.md, docs/privacy.md).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "mamori/fast_sender.h"
#include "mamori/log.h"

#define RECONNECT_MS 1000

struct mm_fast_sender {
	struct event_base *base;
	const struct mm_config *cfg;
	redisAsyncContext *ac;    /* NULL: down (the next event reconnects, at most once a second) */
	uint64_t last_connect_ms;
	size_t pending;           /* replies due (handshake included) */
	char maxlen[24];
	struct mm_fast_sender_stats st;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct mm_fast_sender *s = ac->data;

	(void)status;
	if (s != NULL && s->ac == ac)
		s->ac = NULL; /* hiredis frees it */
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct mm_fast_sender *s = ac->data;

	if (status != REDIS_OK && s != NULL && s->ac == ac) {
		mm_debug("fast path: redis connect: %s", ac->errstr);
		s->ac = NULL; /* hiredis frees it after this returns */
	}
}

/* Handshake replies: counted, an error is only logged (the XADDs after
 * it will fail and be counted too). */
static void handshake_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_fast_sender *s = priv;
	const redisReply *rep = r;

	(void)ac;
	s->pending--;
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		mm_warnx("fast path: redis refused the handshake: %s", rep->str);
}

static int command(struct mm_fast_sender *s, redisCallbackFn *fn, int argc, const char **argv, const size_t *lens);

/* EXPIRE and XTRIM replies: an error is logged (a user without the
 * commands, docs/redis-schema.md), nothing else depends on them. */
static void retention_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_fast_sender *s = priv;
	const redisReply *rep = r;

	(void)ac;
	s->pending--;
	if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
		mm_warnx("fast path: the stream's retention refused: %s", rep->str);
}

/* Retention (docs/privacy.md): the entry's id is the Redis server's clock,
 * so what is older than [window] retention by that clock is trimmed
 * (exact MINID, Redis >= 6.2), whatever the collector's own clock says. */
static void xadd_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_fast_sender *s = priv;
	const redisReply *rep = r;
	unsigned long long ms;

	s->pending--;
	if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
		s->st.added++;
		unsigned long long keep = (unsigned long long)s->cfg->retention_s * 1000u;

		if (s->ac == ac && sscanf(rep->str, "%llu-", &ms) == 1 && ms > keep) {
			char minid[32];
			const char *t[4] = { "XTRIM", s->cfg->fast_stream, "MINID", minid };

			snprintf(minid, sizeof(minid), "%llu", ms - keep);
			command(s, retention_cb, 4, t, NULL);
		}
	} else {
		s->st.failed++;
		if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
			mm_warnx("fast path: XADD refused: %s", rep->str);
	}
}

static int command(struct mm_fast_sender *s, redisCallbackFn *fn, int argc, const char **argv, const size_t *lens)
{
	if (redisAsyncCommandArgv(s->ac, fn, s, argc, argv, lens) != REDIS_OK)
		return -1;
	s->pending++;
	return 0;
}

/* Connect asynchronously; AUTH and SELECT go first (hiredis sends what
 * was queued once connected). */
static void connect_redis(struct mm_fast_sender *s)
{
	const struct mm_config *c = s->cfg;
	redisAsyncContext *ac;

	s->last_connect_ms = mono_ms();
	s->st.connects++;
	ac = c->redis_socket[0] ? redisAsyncConnectUnix(c->redis_socket) : redisAsyncConnect(c->redis_host, c->redis_port);
	if (ac == NULL || ac->err) {
		mm_debug("fast path: redis connect: %s", ac != NULL ? ac->errstr : "no memory");
		if (ac != NULL)
			redisAsyncFree(ac);
		return;
	}
	ac->data = s;
	s->ac = ac;
	redisLibeventAttach(ac, s->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (c->redis_password[0]) {
		const char *a3[3] = { "AUTH", c->redis_user, c->redis_password };
		const char *a2[2] = { "AUTH", c->redis_password };

		if (c->redis_user[0] ? command(s, handshake_cb, 3, a3, NULL) : command(s, handshake_cb, 2, a2, NULL))
			return;
	}
	if (c->redis_db != 0) {
		char db[16];
		const char *a[2] = { "SELECT", db };

		snprintf(db, sizeof(db), "%d", c->redis_db);
		command(s, handshake_cb, 2, a, NULL);
	}
}

struct mm_fast_sender *mm_fast_sender_new(struct event_base *base, const struct mm_config *cfg, char *err,
					  size_t errlen)
{
	struct mm_fast_sender *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->base = base;
	s->cfg = cfg;
	snprintf(s->maxlen, sizeof(s->maxlen), "%" PRIu32, cfg->fast_stream_maxlen);
	connect_redis(s);
	return s;
}

void mm_fast_sender_free(struct mm_fast_sender *s)
{
	if (s == NULL)
		return;
	if (s->ac != NULL) {
		redisAsyncContext *ac = s->ac;

		ac->data = NULL; /* its callbacks no longer point here ... */
		s->ac = NULL;
		redisAsyncFree(ac); /* ... but the command callbacks still do: they run now */
	}
	free(s);
}

void mm_fast_sender_send(void *sender, const struct mm_fast_event *e)
{
	struct mm_fast_sender *s = sender;
	const char *names[MM_FAST_FIELDS];
	char vals[MM_FAST_FIELDS][MM_FAST_VAL_MAX];
	const char *argv[6 + 2 * MM_FAST_FIELDS];
	size_t n, argc = 0;

	if (s->ac == NULL && mono_ms() - s->last_connect_ms >= RECONNECT_MS)
		connect_redis(s);
	if (s->ac == NULL || s->pending >= MM_FAST_SENDER_MAX_PENDING) {
		s->st.dropped++;
		return;
	}
	n = mm_fast_event_fields(e, s->cfg->collector_id, names, vals);
	argv[argc++] = "XADD";
	argv[argc++] = s->cfg->fast_stream;
	argv[argc++] = "MAXLEN";
	argv[argc++] = "~";
	argv[argc++] = s->maxlen;
	argv[argc++] = "*";
	for (size_t i = 0; i < n; i++) {
		argv[argc++] = names[i];
		argv[argc++] = vals[i];
	}
	if (command(s, xadd_cb, (int)argc, argv, NULL) < 0) {
		s->st.dropped++;
		return;
	}
	s->st.sent++;
	/* an idle stream goes once its newest crossing is past the retention
	 * (read each time: a reload may change it) */
	char ttl[24];
	const char *x[3] = { "EXPIRE", s->cfg->fast_stream, ttl };

	snprintf(ttl, sizeof(ttl), "%" PRIu32, s->cfg->retention_s);
	command(s, retention_cb, 3, x, NULL);
}

size_t mm_fast_sender_pending(const struct mm_fast_sender *s)
{
	return s != NULL && s->ac != NULL ? s->pending : 0;
}

const struct mm_fast_sender_stats *mm_fast_sender_stats(const struct mm_fast_sender *s)
{
	return &s->st;
}
