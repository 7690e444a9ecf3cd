/*
 * redis_writer.c - closed steps and decoder state to Redis, asynchronously
 * (redis_writer.h says what; this file says how).
 *
 * A batch is one step (or a run of blob puts) serialised as RESP commands
 * into a buffer of its own, with the end offset of every command, so it can
 * be handed to hiredis command by command and, after a reconnect, again
 * from the start.  Batches form a FIFO queue:
 *
 *   QUEUED -> SENDING (commands handed, replies counted) -> ACKED (every
 *   reply OK; the buffer is freed, only the done mark is kept) ->
 *   DONE_SENT -> freed when the done mark's reply is OK.
 *
 * A lost connection puts SENDING back to QUEUED (everything is re-sent:
 * the writes are idempotent) and DONE_SENT back to ACKED.  A batch dropped
 * by the memory bound while some of its commands are in flight becomes a
 * "zombie": out of the queue, buffer freed, the struct kept until hiredis
 * has called back for each of those commands (privdata points at it).
 *
 * hiredis rules kept here: every callback runs exactly once (reply NULL
 * when the connection goes); replies belong to hiredis and are never
 * freed here; the context pointer is cleared in the disconnect (and failed
 * connect) callback; redisAsyncFree is called only from our own timer and
 * kick events, never from inside a hiredis callback - callbacks that want
 * the connection gone set want_drop and kick.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libevent.h>

#include "mamori/exporters.h"
#include "mamori/log.h"
#include "mamori/redis_schema.h"
#include "mamori/redis_writer.h"

#define RING 64              /* stall-detection time marks */
#define KV_FIELD_MAX 192     /* collector id + exporter address + stat name */
#define KV_VALUE_MAX 32
/* RESP overhead of one bulk argument: '$', up to 20 length digits, 2 CRLF */
#define BULK_OVH 25

enum bkind { K_STEP, K_BLOB };
enum bstate { B_QUEUED, B_SENDING, B_ACKED, B_DONE_SENT };

struct mm_redis_writer;

struct batch {
	struct batch *prev, *next;
	struct mm_redis_writer *w;
	enum bkind kind;
	enum bstate state;
	uint64_t step;
	uint64_t nhosts;         /* hosts serialised (the done mark's value) */
	uint64_t nblobs;         /* puts/dels carried by a blob batch */
	char *buf;               /* the commands, back to back */
	size_t len, cap;
	size_t *end;             /* end offset of each command in buf */
	size_t ncmd, end_cap;
	size_t next_cmd;         /* next command to hand to hiredis */
	size_t answered;         /* replies (or NULL callbacks) this round */
	size_t failed;           /* ... that were not OK */
	uint32_t inflight;       /* commands handed, not yet called back */
	uint32_t attempts;       /* rounds that got an error reply */
	int errored;             /* this round got an error reply */
	int dropped;             /* zombie */
	int overflow;            /* could not grow: dropped when sealed */
	char *done;              /* the done mark command (steps) */
	size_t done_len;
	uint64_t sealed_ms;
	size_t bytes;            /* what this batch counts against the bound */
};

struct fname {
	char *s;
	size_t len;
};

struct shard {
	uint64_t *ref;           /* offset << 8 | length of an address in buf */
	size_t n, cap;
};

struct kv {
	char f[KV_FIELD_MAX];
	char v[KV_VALUE_MAX];
	size_t flen, vlen;
};

struct xdelta {
	uint8_t addr[16];
	struct mm_exporter_stats d;
};

struct mm_redis_writer {
	struct event_base *base;
	struct mm_redis_writer_opts opt;

	/* copied from the config */
	char host[256], socket[256], user[MM_NAME_MAX], password[256];
	uint16_t port;
	int db;
	char cid[MM_NAME_MAX];
	uint32_t step_s;
	char ttl[16];
	size_t ttl_len;
	struct fname ctrf[MM_C_COUNT], hllf[MM_S_COUNT], topf[MM_RT_COUNT];
	size_t host_cmd_max;     /* most bytes one host's command can take */

	/* connection */
	redisAsyncContext *ac;
	int connected;           /* TCP/unix connect done */
	int ready;               /* handshake done: steps may be sent */
	int want_drop;           /* a callback asked for the connection to go */
	const char *drop_why;    /* why we are freeing the context, for the log */
	int freeing;
	int ever_ready;
	unsigned hs_pending;
	int hs_failed;
	uint64_t connect_started_ms;
	unsigned failures;       /* consecutive, drives the backoff */
	uint64_t rnd;            /* xorshift state for the jitter */

	/* flow control and stall detection */
	size_t inflight_bytes, inflight_cmds;
	uint64_t seq_sent, seq_done;
	struct {
		uint64_t seq_end, ms;
	} ring[RING];
	unsigned rhead, rn;

	/* the queue */
	struct batch *head, *tail, *send_cur;
	size_t nqueued, nsteps_q;
	struct batch *open;      /* step being serialised */
	struct batch *blob;      /* blob commands gathered since the last kick */
	char blob_key[MM_REDIS_KEY_MAX];
	char *pairs;             /* puts to blob_key not yet formatted: [flen][f][vlen][v]... */
	size_t pairs_len, pairs_cap, npairs;
	size_t bytes_ours;       /* batches, scratch buffers: counted against the bound */
	struct shard shard[MM_REDIS_IDX_SHARDS];
	uint64_t build_start_us;
	size_t bytes_per_host;   /* of the last step, to size the next */
	struct kv *kv;
	size_t nkv, kv_cap;

	/* statistics inputs */
	struct mm_agg_stats agg_prev;
	int have_agg_prev;
	struct mm_redis_exporter *exp_prev;  /* sorted by address */
	size_t nexp_prev;
	struct xdelta *exp_pend;             /* sorted by address */
	size_t nexp_pend;
	struct mm_redis_writer_stats st, st_prev;

	struct event *retry_ev, *tick_ev, *kick_ev;
	void (*idle_fn)(void *);
	void *idle_arg;
	int busy;
	struct mm_ratelimit rl;
};

static const char PUT_PREFIX[] = "$5\r\nFCALL\r\n$6\r\nmm_put\r\n$1\r\n1\r\n";
static const char ADD_PREFIX[] = "$5\r\nFCALL\r\n$6\r\nmm_add\r\n$1\r\n1\r\n";

static void pump(struct mm_redis_writer *w);
static void kick(struct mm_redis_writer *w);

/* ---- small helpers ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Warnings about Redis go through one rate limiter: an outage must not
 * flood the log with a line per step or per reply. */
static MM_PRINTF(2, 3) void wwarn(struct mm_redis_writer *w, const char *fmt, ...)
{
	char buf[512];
	uint64_t skipped = 0;
	va_list ap;

	if (!mm_ratelimit_ok(&w->rl, now_ms(), &skipped))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (skipped)
		mm_warnx("redis: %s (%" PRIu64 " similar lines suppressed)", buf, skipped);
	else
		mm_warnx("redis: %s", buf);
}

static void account(struct mm_redis_writer *w, struct batch *b, long long delta)
{
	if (b)
		b->bytes = (size_t)((long long)b->bytes + delta);
	w->bytes_ours = (size_t)((long long)w->bytes_ours + delta);
}

/* Everything the bound counts: ours plus what hiredis holds for us. */
static size_t usage(const struct mm_redis_writer *w)
{
	size_t u = w->bytes_ours;

	if (w->ac && w->ac->c.obuf)
		u += sdslen(w->ac->c.obuf);
	return u + w->inflight_cmds * sizeof(redisCallback);
}

static void note_usage(struct mm_redis_writer *w)
{
	size_t u = usage(w);
	if (u > w->st.bytes_queued_max)
		w->st.bytes_queued_max = u;
}

/* ---- batches and the queue ---- */

static struct batch *batch_new(struct mm_redis_writer *w, enum bkind kind, uint64_t step)
{
	struct batch *b = calloc(1, sizeof(*b));

	if (b == NULL) {
		w->st.alloc_failures++;
		return NULL;
	}
	b->w = w;
	b->kind = kind;
	b->step = step;
	account(w, b, (long long)sizeof(*b));
	return b;
}

static void batch_free(struct mm_redis_writer *w, struct batch *b)
{
	account(w, NULL, -(long long)b->bytes);
	free(b->buf);
	free(b->end);
	free(b->done);
	free(b);
}

/* Free the commands of a batch, keeping the struct (and the end offsets
 * while replies are still due: they give each reply's size). */
static void batch_shed(struct mm_redis_writer *w, struct batch *b, int keep_end)
{
	account(w, b, -(long long)b->cap);
	free(b->buf);
	b->buf = NULL;
	b->cap = 0;
	if (!keep_end) {
		account(w, b, -(long long)(b->end_cap * sizeof(size_t)));
		free(b->end);
		b->end = NULL;
		b->end_cap = 0;
	}
}

static void unlink_batch(struct mm_redis_writer *w, struct batch *b)
{
	if (w->send_cur == b)
		w->send_cur = b->next;
	if (b->prev)
		b->prev->next = b->next;
	else
		w->head = b->next;
	if (b->next)
		b->next->prev = b->prev;
	else
		w->tail = b->prev;
	b->prev = b->next = NULL;
	w->nqueued--;
	if (b->kind == K_STEP)
		w->nsteps_q--;
}

/* Give back the slack of the doubling growth: a queued step holds exactly
 * its bytes, so an outage queues up to twice as many steps in the bound. */
static void shrink_to_fit(struct mm_redis_writer *w, struct batch *b)
{
	if (b->cap > b->len && b->len > 0) {
		char *p = realloc(b->buf, b->len);
		if (p) {
			account(w, b, -(long long)(b->cap - b->len));
			b->buf = p;
			b->cap = b->len;
		}
	}
	if (b->end_cap > b->ncmd && b->ncmd > 0) {
		size_t *p = realloc(b->end, b->ncmd * sizeof(size_t));
		if (p) {
			account(w, b, -(long long)((b->end_cap - b->ncmd) * sizeof(size_t)));
			b->end = p;
			b->end_cap = b->ncmd;
		}
	}
}

static void enqueue(struct mm_redis_writer *w, struct batch *b)
{
	shrink_to_fit(w, b);
	b->sealed_ms = now_ms();
	b->prev = w->tail;
	b->next = NULL;
	if (w->tail)
		w->tail->next = b;
	else
		w->head = b;
	w->tail = b;
	w->nqueued++;
	if (b->kind == K_STEP) {
		w->nsteps_q++;
		w->st.steps_queued++;
	}
	if (w->send_cur == NULL)
		w->send_cur = b;
	w->busy = 1;
	kick(w);
}

enum drop_why { DROP_BOUND, DROP_FAILED };

static void drop_batch(struct mm_redis_writer *w, struct batch *b, enum drop_why why)
{
	unlink_batch(w, b);
	if (b->kind == K_STEP) {
		if (why == DROP_FAILED)
			w->st.steps_failed++;
		else
			w->st.steps_dropped++;
		wwarn(w, "step %" PRIu64 " dropped (%s): %zu bytes, %" PRIu64 " hosts", b->step,
		      why == DROP_FAILED ? "refused by Redis too often" : "queue memory bound reached", b->len,
		      b->nhosts);
	} else {
		w->st.blobs_dropped += b->nblobs;
		wwarn(w, "%" PRIu64 " decoder-state writes dropped (%s)", b->nblobs,
		      why == DROP_FAILED ? "refused by Redis too often" : "queue memory bound reached");
	}
	w->st.bytes_dropped += b->len;
	if (b->inflight) {
		b->dropped = 1;
		batch_shed(w, b, 1);
	} else {
		batch_free(w, b);
	}
}

/* Make room for `need` more bytes by dropping the oldest batches that
 * still carry data (acknowledged ones only wait for a tiny done mark).
 * 0 when it fits, -1 when it cannot. */
static int make_room(struct mm_redis_writer *w, size_t need)
{
	while (usage(w) + need > w->opt.queue_max_bytes) {
		struct batch *b = w->head;
		while (b && (b->state == B_ACKED || b->state == B_DONE_SENT))
			b = b->next;
		if (b == NULL)
			return -1;
		drop_batch(w, b, DROP_BOUND);
	}
	return 0;
}

/* Grow b's buffer to hold `extra` more bytes, within the bound. */
static int breserve(struct mm_redis_writer *w, struct batch *b, size_t extra)
{
	size_t ncap;
	char *p;

	if (b->overflow)
		return -1;
	if (b->cap - b->len >= extra)
		return 0;
	ncap = b->cap ? b->cap * 2 : 65536;
	if (ncap < b->len + extra)
		ncap = b->len + extra;
	if (make_room(w, ncap - b->cap) < 0) {
		ncap = b->len + extra; /* doubling does not fit: exactly then */
		if (make_room(w, ncap - b->cap) < 0)
			goto overflow;
	}
	p = realloc(b->buf, ncap);
	if (p == NULL) {
		w->st.alloc_failures++;
		goto overflow;
	}
	account(w, b, (long long)(ncap - b->cap));
	b->buf = p;
	b->cap = ncap;
	note_usage(w);
	return 0;
overflow:
	b->overflow = 1;
	return -1;
}

/* Room for `n` more command end offsets. */
static int ereserve(struct mm_redis_writer *w, struct batch *b, size_t n)
{
	size_t ncap;
	size_t *p;

	if (b->overflow)
		return -1;
	if (b->end_cap - b->ncmd >= n)
		return 0;
	ncap = b->end_cap ? b->end_cap * 2 : 256;
	if (ncap < b->ncmd + n)
		ncap = b->ncmd + n;
	if (make_room(w, (ncap - b->end_cap) * sizeof(size_t)) < 0)
		goto overflow;
	p = realloc(b->end, ncap * sizeof(size_t));
	if (p == NULL) {
		w->st.alloc_failures++;
		goto overflow;
	}
	account(w, b, (long long)((ncap - b->end_cap) * sizeof(size_t)));
	b->end = p;
	b->end_cap = ncap;
	return 0;
overflow:
	b->overflow = 1;
	return -1;
}

/* RESP writers: the caller has reserved the room. */
static void put_raw(struct batch *b, const void *p, size_t n)
{
	memcpy(b->buf + b->len, p, n);
	b->len += n;
}

static void put_hdr(struct batch *b, uint64_t argc)
{
	char *p = b->buf + b->len, *s = p;
	*p++ = '*';
	p = mm_redis_put_dec(p, argc);
	*p++ = '\r';
	*p++ = '\n';
	b->len += (size_t)(p - s);
}

static void put_bulk(struct batch *b, const void *data, size_t n)
{
	char *p = b->buf + b->len, *s = p;
	*p++ = '$';
	p = mm_redis_put_dec(p, n);
	*p++ = '\r';
	*p++ = '\n';
	memcpy(p, data, n);
	p += n;
	*p++ = '\r';
	*p++ = '\n';
	b->len += (size_t)(p - s);
}

static void put_bulk_u64(struct batch *b, uint64_t v)
{
	char tmp[20];
	put_bulk(b, tmp, (size_t)(mm_redis_put_dec(tmp, v) - tmp));
}

static void cmd_end(struct batch *b)
{
	b->end[b->ncmd++] = b->len;
}

static size_t cmd_len(const struct batch *b, size_t i)
{
	return b->end[i] - (i ? b->end[i - 1] : 0);
}

/* ---- connection ---- */

static void ring_reset(struct mm_redis_writer *w)
{
	w->rhead = w->rn = 0;
	w->seq_sent = w->seq_done = 0;
	w->inflight_bytes = w->inflight_cmds = 0;
}

/* A command went to hiredis.  Time marks are kept per quantum of
 * stall_ms / 32, so the age of the oldest unanswered command is known to
 * within 3 % with a fixed ring; a full ring means the oldest mark is far
 * older than stall_ms anyway. */
static void note_sent(struct mm_redis_writer *w, size_t bytes)
{
	uint64_t now = now_ms(), q = w->opt.stall_ms / 32 + 1;

	w->st.commands_sent++;
	w->inflight_cmds++;
	w->inflight_bytes += bytes;
	w->seq_sent++;
	if (w->rn) {
		unsigned last = (w->rhead + w->rn - 1) % RING;
		if (now - w->ring[last].ms < q || w->rn == RING) {
			w->ring[last].seq_end = w->seq_sent;
			return;
		}
	}
	unsigned i = (w->rhead + w->rn) % RING;
	w->ring[i].seq_end = w->seq_sent;
	w->ring[i].ms = now;
	w->rn++;
}

/* expected_err: an error reply that is an answer, not a failure (the
 * library probe on a server without it) - not counted in errors. */
static void note_reply2(struct mm_redis_writer *w, size_t bytes, const redisReply *rep, int expected_err)
{
	w->inflight_cmds--;
	w->inflight_bytes -= bytes;
	w->seq_done++;
	while (w->rn && w->ring[w->rhead].seq_end <= w->seq_done) {
		w->rhead = (w->rhead + 1) % RING;
		w->rn--;
	}
	if (rep) {
		w->st.replies++;
		if (rep->type == REDIS_REPLY_ERROR && !expected_err)
			w->st.errors++;
	}
}

static void note_reply(struct mm_redis_writer *w, size_t bytes, const redisReply *rep)
{
	note_reply2(w, bytes, rep, 0);
}

static void schedule_retry(struct mm_redis_writer *w)
{
	uint64_t d = w->opt.backoff_min_ms;
	struct timeval tv;

	if (w->freeing)
		return;
	for (unsigned i = 0; i < w->failures && d < w->opt.backoff_max_ms; i++)
		d *= 2;
	if (d > w->opt.backoff_max_ms)
		d = w->opt.backoff_max_ms;
	/* Jitter (half to all of d): collectors restarted together by one
	 * Redis outage do not reconnect in lockstep. */
	w->rnd ^= w->rnd << 13;
	w->rnd ^= w->rnd >> 7;
	w->rnd ^= w->rnd << 17;
	d = d / 2 + w->rnd % (d / 2 + 1);
	if (w->failures < 64)
		w->failures++;
	tv.tv_sec = (time_t)(d / 1000);
	tv.tv_usec = (suseconds_t)(d % 1000) * 1000;
	evtimer_add(w->retry_ev, &tv);
}

/* After a disconnect every unfinished batch goes back to be sent whole. */
static void requeue_all(struct mm_redis_writer *w)
{
	struct batch *b = w->head, *next;

	for (; b; b = next) {
		next = b->next;
		b->inflight = 0;
		if (b->errored) {
			b->errored = 0;
			if (++b->attempts >= w->opt.max_attempts) {
				drop_batch(w, b, DROP_FAILED);
				continue;
			}
		}
		if (b->state == B_SENDING) {
			b->state = B_QUEUED;
			if (b->kind == K_STEP)
				w->st.steps_resent++;
		} else if (b->state == B_DONE_SENT) {
			b->state = B_ACKED;
		}
		/* Acknowledged data is gone from memory: only unfinished
		 * batches start over. */
		if (b->state == B_QUEUED)
			b->next_cmd = b->answered = b->failed = 0;
	}
	w->send_cur = w->head;
}

/* The connection is gone (disconnect callback, failed connect, or our own
 * redisAsyncFree of a context still connecting).  Idempotent. */
static void conn_lost(struct mm_redis_writer *w, const char *why)
{
	if (w->ac == NULL)
		return;
	w->ac = NULL;
	if (w->ready) {
		w->st.disconnects++;
		if (!w->freeing)
			wwarn(w, "connection lost: %s; %zu steps queued", why, w->nsteps_q);
	}
	w->connected = w->ready = w->want_drop = 0;
	w->hs_pending = 0;
	ring_reset(w);
	requeue_all(w);
	schedule_retry(w);
}

/* Drop the connection on purpose (stall, error reply, reconfigure).  Only
 * from our own events: never inside a hiredis callback. */
static void drop_connection(struct mm_redis_writer *w, const char *why)
{
	redisAsyncContext *ac = w->ac;

	if (ac == NULL)
		return;
	/* A ready connection runs every callback (reply NULL) and then the
	 * disconnect callback, which calls conn_lost; one still connecting
	 * calls nothing, so conn_lost is called here. */
	w->drop_why = why;
	redisAsyncFree(ac);
	conn_lost(w, why);
	w->drop_why = NULL;
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct mm_redis_writer *w = ac->data;
	char why[160];

	snprintf(why, sizeof(why), "%s",
		 w->drop_why ? w->drop_why : status == REDIS_OK ? "closed" : ac->errstr);
	conn_lost(w, why);
}

static void send_done(struct mm_redis_writer *w, struct batch *b);
static void schema_set_cb(redisAsyncContext *ac, void *r, void *priv);

static void become_ready(struct mm_redis_writer *w)
{
	w->ready = 1;
	/* The backoff is reset by progress (batch_complete), not here: a
	 * server that accepts the handshake but refuses every step must
	 * still see the retries slow down. */
	if (w->nqueued == 0)
		w->failures = 0;
	w->st.connects++;
	if (w->ever_ready)
		w->st.reconnects++;
	w->ever_ready = 1;
	mm_info("redis: connected to %s, db %d (%zu steps queued)", w->socket[0] ? w->socket : w->host, w->db,
		w->nsteps_q);
	/* Steps whose data was acknowledged before the drop need only
	 * their done mark. */
	for (struct batch *b = w->head; b; b = b->next)
		if (b->state == B_ACKED && b->kind == K_STEP)
			send_done(w, b);
	pump(w);
}

static void hs_fail(struct mm_redis_writer *w, const char *what, const redisReply *rep)
{
	char msg[128];

	mm_sanitize_text(rep->str, rep->len, msg, sizeof(msg));
	wwarn(w, "%s refused: %s", what, msg);
	if (!w->hs_failed)
		w->st.connect_failures++;
	w->hs_failed = 1;
	w->want_drop = 1;
	kick(w);
}

static void hs_one_done(struct mm_redis_writer *w)
{
	if (--w->hs_pending == 0 && !w->hs_failed)
		become_ready(w);
}

static void hs_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_redis_writer *w = priv;
	const redisReply *rep = r;

	(void)ac;
	note_reply(w, 0, rep);
	if (rep == NULL)
		return; /* the connection is going; conn_lost follows */
	if (rep->type == REDIS_REPLY_ERROR)
		hs_fail(w, "handshake command", rep);
	hs_one_done(w);
}

static int hs_send(struct mm_redis_writer *w, redisCallbackFn *fn, int argc, const char **argv)
{
	if (redisAsyncCommandArgv(w->ac, fn, w, argc, argv, NULL) != REDIS_OK)
		return -1;
	note_sent(w, 0);
	w->hs_pending++;
	return 0;
}

static void version_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_redis_writer *w = priv;
	const redisReply *rep = r;

	(void)ac;
	note_reply2(w, 0, rep, 1);
	if (rep == NULL)
		return;
	/* Missing (an error: no such function) or older: load ours.  A
	 * newer library keeps our functions (the versioning rule). */
	if (rep->type != REDIS_REPLY_INTEGER || rep->integer < MM_REDIS_LIB_VERSION) {
		const char *argv[4] = { "FUNCTION", "LOAD", "REPLACE", mm_redis_lua_lib };
		if (hs_send(w, hs_cb, 4, argv) < 0) {
			w->hs_failed = 1;
			w->want_drop = 1;
			kick(w);
		}
	}
	hs_one_done(w);
}

/* GET mm:schema answered; SET NX only when it is missing, so that a
 * server over maxmemory (which refuses every SET) still lets us in to
 * try - and count - the steps. */
static void schema_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_redis_writer *w = priv;
	const redisReply *rep = r;
	char want[8];

	(void)ac;
	note_reply(w, 0, rep);
	if (rep == NULL)
		return;
	snprintf(want, sizeof(want), "%d", MM_REDIS_SCHEMA_VERSION);
	if (rep->type == REDIS_REPLY_ERROR) {
		hs_fail(w, "GET " MM_REDIS_SCHEMA_KEY, rep);
	} else if (rep->type == REDIS_REPLY_NIL) {
		/* NX GET: a concurrent collector's value comes back here */
		const char *argv[5] = { "SET", MM_REDIS_SCHEMA_KEY, want, "NX", "GET" };
		if (hs_send(w, schema_set_cb, 5, argv) < 0) {
			w->hs_failed = 1;
			w->want_drop = 1;
			kick(w);
		}
	} else if (rep->type == REDIS_REPLY_STRING && strcmp(rep->str, want) != 0) {
		/* Another layout lives here: writing ours would corrupt it
		 * for its readers.  Keep queueing (and dropping) instead. */
		char v[32];
		mm_sanitize_text(rep->str, rep->len, v, sizeof(v));
		wwarn(w, MM_REDIS_SCHEMA_KEY " is \"%s\", this collector writes schema %s: not writing", v, want);
		w->st.schema_mismatch = 1;
		w->hs_failed = 1;
		w->want_drop = 1;
		kick(w);
	} else {
		w->st.schema_mismatch = 0;
	}
	hs_one_done(w);
}

/* SET mm:schema NX GET: nil = we set it; a string = someone was first. */
static void schema_set_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct mm_redis_writer *w = priv;
	const redisReply *rep = r;

	if (rep && rep->type == REDIS_REPLY_NIL) {
		note_reply(w, 0, rep);
		hs_one_done(w);
		return;
	}
	schema_cb(ac, r, priv); /* the string (or error) as if from GET */
}

/* AUTH, SELECT, the function library and the schema mark, pipelined. */
static void handshake(struct mm_redis_writer *w)
{
	char db[16];
	int bad = 0;

	w->hs_pending = 0;
	w->hs_failed = 0;
	if (w->password[0] || w->user[0]) {
		const char *a3[3] = { "AUTH", w->user, w->password };
		const char *a2[2] = { "AUTH", w->password };
		bad |= w->user[0] ? hs_send(w, hs_cb, 3, a3) : hs_send(w, hs_cb, 2, a2);
	}
	if (w->db) {
		snprintf(db, sizeof(db), "%d", w->db);
		const char *a[2] = { "SELECT", db };
		bad |= hs_send(w, hs_cb, 2, a);
	}
	const char *v[3] = { "FCALL", "mm_version", "0" };
	bad |= hs_send(w, version_cb, 3, v);
	const char *s[2] = { "GET", MM_REDIS_SCHEMA_KEY };
	bad |= hs_send(w, schema_cb, 2, s);
	if (bad) {
		w->hs_failed = 1;
		w->want_drop = 1;
		kick(w);
	}
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct mm_redis_writer *w = ac->data;

	if (status != REDIS_OK) {
		char why[160];
		snprintf(why, sizeof(why), "%s", ac->errstr);
		w->st.connect_failures++;
		wwarn(w, "connect to %s: %s", w->socket[0] ? w->socket : w->host, why);
		/* hiredis frees the context after this returns. */
		conn_lost(w, why);
		return;
	}
	w->connected = 1;
	handshake(w);
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mm_redis_writer *w = arg;
	redisAsyncContext *ac;

	(void)fd;
	(void)what;
	if (w->ac)
		return;
	/* hiredis resolves a host name synchronously here: configure an
	 * address (docs/redis-schema.md). */
	if (w->socket[0])
		ac = redisAsyncConnectUnix(w->socket);
	else
		ac = redisAsyncConnect(w->host, w->port);
	if (ac == NULL || ac->err) {
		w->st.connect_failures++;
		wwarn(w, "connect to %s: %s", w->socket[0] ? w->socket : w->host, ac ? ac->errstr : "out of memory");
		if (ac)
			redisAsyncFree(ac);
		schedule_retry(w);
		return;
	}
	ac->data = w;
	w->ac = ac;
	w->connect_started_ms = now_ms();
	/* The libevent events must exist before the connect callback is
	 * set: setting it arms the write event that reports the connect. */
	redisLibeventAttach(ac, w->base);
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
}

/* ---- sending ---- */

/* Refusals that say "not now" rather than "never": the step is re-sent
 * (after the backoff) without counting towards max_attempts. */
static int transient(const redisReply *rep)
{
	static const char *const pre[] = {
		"OOM", "BUSY", "LOADING", "TRYAGAIN", "MASTERDOWN", "READONLY", "CLUSTERDOWN",
		"ERR Function not found", /* FUNCTION FLUSH: the reconnect reloads it */
	};
	for (size_t i = 0; i < sizeof(pre) / sizeof(pre[0]); i++)
		if (strncmp(rep->str, pre[i], strlen(pre[i])) == 0)
			return 1;
	return 0;
}

static void batch_complete(struct mm_redis_writer *w, struct batch *b)
{
	w->failures = 0; /* progress: the next outage starts its backoff afresh */
	unlink_batch(w, b);
	if (b->kind == K_STEP) {
		w->st.steps_flushed++;
		w->st.last_flush_ms = (uint32_t)(now_ms() - b->sealed_ms);
	}
	batch_free(w, b);
	kick(w); /* for the idle callback, outside this hiredis callback */
}

static void done_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct batch *b = priv;
	struct mm_redis_writer *w = b->w;
	const redisReply *rep = r;

	(void)ac;
	note_reply(w, b->done_len, rep);
	b->inflight--;
	if (b->dropped) {
		if (b->inflight == 0)
			batch_free(w, b);
		return;
	}
	if (rep == NULL)
		return;
	if (rep->type == REDIS_REPLY_ERROR) {
		char msg[128];
		mm_sanitize_text(rep->str, rep->len, msg, sizeof(msg));
		wwarn(w, "done mark of step %" PRIu64 " refused: %s", b->step, msg);
		if (!transient(rep))
			b->errored = 1;
		w->want_drop = 1;
		kick(w);
		return;
	}
	batch_complete(w, b);
}

static void send_done(struct mm_redis_writer *w, struct batch *b)
{
	if (!w->ready || w->want_drop)
		return; /* stays ACKED: sent when the connection is ready again */
	if (redisAsyncFormattedCommand(w->ac, done_cb, b, b->done, b->done_len) != REDIS_OK) {
		w->want_drop = 1;
		kick(w);
		return;
	}
	note_sent(w, b->done_len);
	b->inflight++;
	b->state = B_DONE_SENT;
}

static void data_cb(redisAsyncContext *ac, void *r, void *priv)
{
	struct batch *b = priv;
	struct mm_redis_writer *w = b->w;
	const redisReply *rep = r;
	size_t i = b->answered++;

	(void)ac;
	note_reply(w, cmd_len(b, i), rep);
	b->inflight--;
	if (b->dropped) {
		if (b->inflight == 0)
			batch_free(w, b);
		return;
	}
	if (rep == NULL) {
		b->failed++;
		return;
	}
	if (rep->type == REDIS_REPLY_ERROR) {
		char msg[128];
		/* one line per batch and round: the other commands of it
		 * are likely refused for the same reason */
		if (b->failed == 0) {
			mm_sanitize_text(rep->str, rep->len, msg, sizeof(msg));
			wwarn(w, "%s %" PRIu64 " refused: %s (attempt %u)", b->kind == K_STEP ? "step" : "blob batch",
			      b->step, msg, b->attempts + 1);
		}
		b->failed++;
		if (!transient(rep))
			b->errored = 1;
		/* Reconnect: the handshake reloads the function library if it
		 * was flushed; OOM and the like get the backoff. */
		w->want_drop = 1;
		kick(w);
		return;
	}
	if (b->answered == b->ncmd && b->failed == 0) {
		/* All acknowledged: the data is not needed again. */
		batch_shed(w, b, 0);
		if (b->kind == K_STEP) {
			b->state = B_ACKED;
			send_done(w, b);
		} else {
			batch_complete(w, b);
			return;
		}
	}
	if (w->inflight_bytes <= w->opt.window_bytes / 2)
		pump(w);
}

/* Hand queued commands to hiredis while the window has room. */
static void pump(struct mm_redis_writer *w)
{
	struct batch *b;

	if (!w->ready || w->want_drop)
		return;
	for (b = w->send_cur; b; b = b->next) {
		while (b->next_cmd < b->ncmd) {
			size_t i = b->next_cmd, len = cmd_len(b, i);
			if (w->inflight_bytes >= w->opt.window_bytes) {
				w->send_cur = b;
				return;
			}
			if (redisAsyncFormattedCommand(w->ac, data_cb, b, b->buf + (b->end[i] - len), len) != REDIS_OK) {
				w->send_cur = b;
				w->want_drop = 1;
				kick(w);
				return;
			}
			note_sent(w, len);
			b->inflight++;
			b->next_cmd++;
			b->state = B_SENDING;
		}
	}
	w->send_cur = NULL;
	note_usage(w);
}

/* ---- serialising steps ---- */

static int blob_flush_key(struct mm_redis_writer *w);

static void seal_blob(struct mm_redis_writer *w)
{
	struct batch *b;

	blob_flush_key(w);
	b = w->blob;
	if (b == NULL)
		return;
	w->blob = NULL;
	if (b->overflow || b->ncmd == 0) {
		w->st.blobs_dropped += b->nblobs;
		w->st.bytes_dropped += b->len;
		batch_free(w, b);
		return;
	}
	enqueue(w, b);
}

static void sink_begin(void *arg, uint64_t step, uint32_t nhosts)
{
	struct mm_redis_writer *w = arg;
	struct batch *b;

	if (w->open) {
		/* begin without end: the aggregator's business, but do not
		 * leak; the half step is dropped. */
		w->st.steps_dropped++;
		w->st.bytes_dropped += w->open->len;
		batch_free(w, w->open);
		w->open = NULL;
	}
	seal_blob(w);
	for (unsigned s = 0; s < MM_REDIS_IDX_SHARDS; s++)
		w->shard[s].n = 0;
	w->build_start_us = now_us();
	b = batch_new(w, K_STEP, step);
	if (b == NULL)
		return;
	w->open = b;
	/* Size it like the last step (per host, plus a margin) so a big
	 * step is not copied by doubling; the first guess is 256 B/host. */
	breserve(w, b, (size_t)nhosts * (w->bytes_per_host ? w->bytes_per_host + w->bytes_per_host / 8 : 256) + 4096);
	ereserve(w, b, (size_t)nhosts + MM_REDIS_IDX_SHARDS + 8);
}

static int shard_push(struct mm_redis_writer *w, struct batch *b, unsigned s, size_t off, size_t len)
{
	struct shard *sh = &w->shard[s];

	if (sh->n == sh->cap) {
		size_t ncap = sh->cap ? sh->cap * 2 : 64;
		if (make_room(w, (ncap - sh->cap) * sizeof(uint64_t)) < 0)
			goto overflow;
		uint64_t *p = realloc(sh->ref, ncap * sizeof(uint64_t));
		if (p == NULL) {
			w->st.alloc_failures++;
			goto overflow;
		}
		account(w, NULL, (long long)((ncap - sh->cap) * sizeof(uint64_t)));
		sh->ref = p;
		sh->cap = ncap;
	}
	sh->ref[sh->n++] = (uint64_t)off << 8 | len;
	return 0;
overflow:
	b->overflow = 1;
	return -1;
}

static void sink_host(void *arg, uint64_t step, const uint8_t addr[16], unsigned group, int external,
		      const struct mm_hoststep *hs)
{
	struct mm_redis_writer *w = arg;
	struct batch *b = w->open;
	uint8_t hll[MM_S_COUNT][MM_REDIS_HLL_ENC_MAX], top[MM_RT_COUNT][MM_REDIS_TOPK_ENC_MAX];
	size_t hl[MM_S_COUNT], tl[MM_RT_COUNT];
	char key[MM_REDIS_KEY_MAX];
	uint64_t nf = 0;

	(void)step; /* the step of begin() names every key of the batch */
	(void)group;
	(void)external;
	if (b == NULL || b->overflow)
		return;
	for (int c = 0; c < MM_C_COUNT; c++)
		nf += hs->ctr[c] != 0;
	for (int s = 0; s < MM_S_COUNT; s++)
		nf += (hl[s] = mm_redis_enc_hll(&hs->hll[s], hll[s])) != 0;
	tl[MM_RT_PEERS_IN] = mm_redis_enc_topk_addr(hs->peers_in, top[MM_RT_PEERS_IN]);
	tl[MM_RT_PEERS_OUT] = mm_redis_enc_topk_addr(hs->peers_out, top[MM_RT_PEERS_OUT]);
	for (int t = MM_RT_DPORTS_IN; t < MM_RT_COUNT; t++)
		tl[t] = mm_redis_enc_topk_port(hs->ports[t - MM_RT_DPORTS_IN], top[t]);
	for (int t = 0; t < MM_RT_COUNT; t++)
		nf += tl[t] != 0;
	if (nf == 0)
		return; /* nothing to say about this host */
	if (breserve(w, b, w->host_cmd_max) < 0 || ereserve(w, b, 1) < 0)
		return;

	size_t klen = mm_rkey_host(key, addr, b->step);
	size_t alen = (size_t)(strchr(key, '}') - key) - 6; /* "mm:h:{" */
	put_hdr(b, 5 + 2 * nf);
	put_raw(b, PUT_PREFIX, sizeof(PUT_PREFIX) - 1);
	put_bulk(b, key, klen);
	size_t aoff = b->len - 2 - klen + 6; /* the address inside the key */
	put_bulk(b, w->ttl, w->ttl_len);
	for (int c = 0; c < MM_C_COUNT; c++) {
		if (hs->ctr[c] == 0)
			continue;
		put_bulk(b, w->ctrf[c].s, w->ctrf[c].len);
		put_bulk_u64(b, hs->ctr[c]);
	}
	for (int s = 0; s < MM_S_COUNT; s++) {
		if (hl[s] == 0)
			continue;
		put_bulk(b, w->hllf[s].s, w->hllf[s].len);
		put_bulk(b, hll[s], hl[s]);
	}
	for (int t = 0; t < MM_RT_COUNT; t++) {
		if (tl[t] == 0)
			continue;
		put_bulk(b, w->topf[t].s, w->topf[t].len);
		put_bulk(b, top[t], tl[t]);
	}
	cmd_end(b);
	if (shard_push(w, b, mm_redis_shard(addr), aoff, alen) < 0)
		return;
	b->nhosts++;
	w->st.hosts_written++;
}

/* One mm_add per shard (per MM_REDIS_IDX_CHUNK members): the index costs
 * O(shards) commands a step, not one per host. */
static int write_index(struct mm_redis_writer *w, struct batch *b)
{
	char key[MM_REDIS_KEY_MAX];

	for (unsigned s = 0; s < MM_REDIS_IDX_SHARDS; s++) {
		const struct shard *sh = &w->shard[s];
		size_t klen = mm_rkey_index(key, b->step, s);
		for (size_t first = 0; first < sh->n; first += MM_REDIS_IDX_CHUNK) {
			size_t m = sh->n - first, need = 128 + klen + w->ttl_len;
			if (m > MM_REDIS_IDX_CHUNK)
				m = MM_REDIS_IDX_CHUNK;
			for (size_t i = 0; i < m; i++)
				need += (sh->ref[first + i] & 0xff) + BULK_OVH;
			if (breserve(w, b, need) < 0 || ereserve(w, b, 1) < 0)
				return -1;
			put_hdr(b, 5 + m);
			put_raw(b, ADD_PREFIX, sizeof(ADD_PREFIX) - 1);
			put_bulk(b, key, klen);
			put_bulk(b, w->ttl, w->ttl_len);
			for (size_t i = 0; i < m; i++) {
				uint64_t ref = sh->ref[first + i];
				/* source is an earlier command of this buffer:
				 * no overlap with the bytes being appended */
				put_bulk(b, b->buf + (ref >> 8), ref & 0xff);
			}
			cmd_end(b);
		}
	}
	return 0;
}

static int kv_add(struct mm_redis_writer *w, const char *exporter, const char *name, const char *val)
{
	struct kv *e;
	int n;

	if (w->nkv == w->kv_cap) {
		size_t ncap = w->kv_cap ? w->kv_cap * 2 : 64;
		struct kv *p = realloc(w->kv, ncap * sizeof(*p));
		if (p == NULL) {
			w->st.alloc_failures++;
			return -1;
		}
		account(w, NULL, (long long)((ncap - w->kv_cap) * sizeof(*p)));
		w->kv = p;
		w->kv_cap = ncap;
	}
	e = &w->kv[w->nkv];
	if (exporter)
		n = snprintf(e->f, sizeof(e->f), "%s:%s:%s", w->cid, exporter, name);
	else
		n = snprintf(e->f, sizeof(e->f), "%s:%s", w->cid, name);
	if (n < 0 || (size_t)n >= sizeof(e->f))
		return -1;
	e->flen = (size_t)n;
	n = snprintf(e->v, sizeof(e->v), "%s", val);
	e->vlen = (size_t)n;
	w->nkv++;
	return 0;
}

static int kv_u64(struct mm_redis_writer *w, const char *exporter, const char *name, uint64_t v)
{
	char t[24];
	*mm_redis_put_dec(t, v) = '\0';
	return kv_add(w, exporter, name, t);
}

static int kv_dbl(struct mm_redis_writer *w, const char *exporter, const char *name, const char *fmt, double v)
{
	char t[KV_VALUE_MAX];
	snprintf(t, sizeof(t), fmt, v);
	return kv_add(w, exporter, name, t);
}

/* FCALL mm_put 1 key ttl <the gathered pairs> */
static int write_kv(struct mm_redis_writer *w, struct batch *b, const char *key)
{
	size_t klen = strlen(key), need = 128 + klen + w->ttl_len;

	if (w->nkv == 0)
		return 0;
	for (size_t i = 0; i < w->nkv; i++)
		need += w->kv[i].flen + w->kv[i].vlen + 2 * BULK_OVH;
	if (breserve(w, b, need) < 0 || ereserve(w, b, 1) < 0)
		return -1;
	put_hdr(b, 5 + 2 * w->nkv);
	put_raw(b, PUT_PREFIX, sizeof(PUT_PREFIX) - 1);
	put_bulk(b, key, klen);
	put_bulk(b, w->ttl, w->ttl_len);
	for (size_t i = 0; i < w->nkv; i++) {
		put_bulk(b, w->kv[i].f, w->kv[i].flen);
		put_bulk(b, w->kv[i].v, w->kv[i].vlen);
	}
	cmd_end(b);
	w->nkv = 0;
	return 0;
}

static uint64_t delta(uint64_t cur, uint64_t prev)
{
	return cur >= prev ? cur - prev : cur; /* a reset counts from zero */
}

static uint64_t xget(const struct mm_exporter_stats *s, size_t k)
{
	return mm_stat_get(s, k);
}

static void xset(struct mm_exporter_stats *s, size_t k, uint64_t v)
{
	memcpy((char *)s + mm_exporter_stat_fields[k].off, &v, sizeof(v));
}

/*
 * mm:stat:<step> (the collector) and mm:xstat:<step> (its exporters).
 * Counters are the step's deltas; hosts_tracked, external_tracked,
 * queue_bytes and step_s are gauges.  Completeness of the collector: the
 * records that arrived over those expected, where an exporter's expected
 * records are its records / its completeness (every record it sent,
 * counting those of lost packets at its mean records per packet).
 */
static int write_stats(struct mm_redis_writer *w, struct batch *b, const struct mm_agg_stats *st)
{
	char key[MM_REDIS_KEY_MAX], ax[MM_REDIS_ADDR_MAX];
	uint64_t dgr = 0, rec = 0, lrec = 0, lpkt = 0, mal = 0, unk = 0;
	double expected = 0;
	int bad = 0;

	w->nkv = 0;
	bad |= kv_u64(w, NULL, "step_s", w->step_s);
	bad |= kv_u64(w, NULL, "hosts", b->nhosts);
	if (st) {
		const struct mm_agg_stats *p = &w->agg_prev;
		struct mm_agg_stats z;
		if (!w->have_agg_prev) {
			memset(&z, 0, sizeof(z));
			p = &z;
		}
		bad |= kv_u64(w, NULL, "agg_records", delta(st->records, p->records));
		bad |= kv_u64(w, NULL, "agg_records_unmonitored", delta(st->records_unmonitored, p->records_unmonitored));
		bad |= kv_u64(w, NULL, "agg_late_records", delta(st->late_records, p->late_records));
		bad |= kv_u64(w, NULL, "agg_future_records", delta(st->future_records, p->future_records));
		bad |= kv_u64(w, NULL, "agg_hosts_dropped", delta(st->hosts_dropped, p->hosts_dropped));
		bad |= kv_u64(w, NULL, "agg_external_evicted", delta(st->external_evicted, p->external_evicted));
		bad |= kv_u64(w, NULL, "agg_hosts_tracked", st->hosts_tracked);
		bad |= kv_u64(w, NULL, "agg_external_tracked", st->external_tracked);
		w->agg_prev = *st;
		w->have_agg_prev = 1;
	}
	for (size_t i = 0; i < w->nexp_pend; i++) {
		const struct mm_exporter_stats *d = &w->exp_pend[i].d;
		double c = mm_redis_completeness(d->records, d->lost_records, d->datagrams, d->lost_packets);
		dgr += d->datagrams;
		rec += d->records;
		lrec += d->lost_records;
		lpkt += d->lost_packets;
		mal += d->malformed;
		unk += d->unknown_sampling;
		expected += c > 0 ? (double)d->records / c
				  : (double)(d->records + d->lost_records + d->lost_packets);
	}
	double complete = expected > 0 ? (double)rec / expected : 1.0;
	if (complete > 1.0)
		complete = 1.0;
	bad |= kv_u64(w, NULL, "exporters", w->nexp_pend);
	bad |= kv_u64(w, NULL, "datagrams", dgr);
	bad |= kv_u64(w, NULL, "records", rec);
	bad |= kv_u64(w, NULL, "lost_records", lrec);
	bad |= kv_u64(w, NULL, "lost_packets", lpkt);
	bad |= kv_u64(w, NULL, "malformed", mal);
	bad |= kv_u64(w, NULL, "unknown_sampling", unk);
	bad |= kv_dbl(w, NULL, "records_per_s", "%.1f", (double)rec / (w->step_s ? w->step_s : 1));
	bad |= kv_dbl(w, NULL, "completeness", "%.6f", complete);
	bad |= kv_u64(w, NULL, "redis_steps_dropped", w->st.steps_dropped - w->st_prev.steps_dropped);
	bad |= kv_u64(w, NULL, "redis_steps_failed", w->st.steps_failed - w->st_prev.steps_failed);
	bad |= kv_u64(w, NULL, "redis_bytes_dropped", w->st.bytes_dropped - w->st_prev.bytes_dropped);
	bad |= kv_u64(w, NULL, "redis_reconnects", w->st.reconnects - w->st_prev.reconnects);
	bad |= kv_u64(w, NULL, "redis_errors", w->st.errors - w->st_prev.errors);
	bad |= kv_u64(w, NULL, "redis_queue_bytes", usage(w));
	w->st_prev = w->st;
	mm_rkey_stat(key, b->step);
	if (bad || write_kv(w, b, key) < 0)
		return -1;

	for (size_t i = 0; i < w->nexp_pend; i++) {
		const struct mm_exporter_stats *d = &w->exp_pend[i].d;
		mm_redis_addr_text(w->exp_pend[i].addr, ax, sizeof(ax));
		for (size_t k = 0; k < mm_exporter_nstat_fields; k++) {
			uint64_t v = xget(d, k);
			if (v)
				bad |= kv_u64(w, ax, mm_exporter_stat_fields[k].name, v);
		}
		bad |= kv_dbl(w, ax, "records_per_s", "%.1f", (double)d->records / (w->step_s ? w->step_s : 1));
		bad |= kv_dbl(w, ax, "completeness", "%.6f",
			      mm_redis_completeness(d->records, d->lost_records, d->datagrams, d->lost_packets));
	}
	w->nexp_pend = 0;
	mm_rkey_xstat(key, b->step);
	if (bad || write_kv(w, b, key) < 0)
		return -1;
	return 0;
}

static int write_done(struct mm_redis_writer *w, struct batch *b)
{
	char key[MM_REDIS_KEY_MAX];
	size_t klen = mm_rkey_done(key, b->step);
	size_t cidlen = strlen(w->cid);
	struct batch tmp;

	/* A scratch batch struct lends the RESP writers to the done buffer. */
	memset(&tmp, 0, sizeof(tmp));
	tmp.cap = 64 + sizeof(PUT_PREFIX) + klen + w->ttl_len + cidlen + 4 * BULK_OVH;
	tmp.buf = malloc(tmp.cap);
	if (tmp.buf == NULL) {
		w->st.alloc_failures++;
		return -1;
	}
	put_hdr(&tmp, 7);
	put_raw(&tmp, PUT_PREFIX, sizeof(PUT_PREFIX) - 1);
	put_bulk(&tmp, key, klen);
	put_bulk(&tmp, w->ttl, w->ttl_len);
	put_bulk(&tmp, w->cid, cidlen);
	put_bulk_u64(&tmp, b->nhosts);
	b->done = tmp.buf;
	b->done_len = tmp.len;
	account(w, b, (long long)tmp.cap);
	return 0;
}

static void sink_end(void *arg, uint64_t step, const struct mm_agg_stats *st)
{
	struct mm_redis_writer *w = arg;
	struct batch *b;

	if (w->open == NULL)
		sink_begin(w, step, 0); /* end without begin: still write stats and mark */
	b = w->open;
	if (b == NULL) {
		w->st.steps_dropped++;
		return;
	}
	w->open = NULL;
	if (!b->overflow)
		write_index(w, b);
	if (!b->overflow && write_stats(w, b, st) < 0)
		b->overflow = 1;
	if (!b->overflow && write_done(w, b) < 0)
		b->overflow = 1;
	for (unsigned s = 0; s < MM_REDIS_IDX_SHARDS; s++)
		w->shard[s].n = 0;
	w->st.last_build_us = (uint32_t)(now_us() - w->build_start_us);
	if (b->nhosts >= 100)
		w->bytes_per_host = b->len / b->nhosts;
	if (b->overflow) {
		w->st.steps_dropped++;
		w->st.bytes_dropped += b->len;
		wwarn(w, "step %" PRIu64 " dropped: it does not fit the queue memory bound (%zu bytes)", b->step,
		      w->opt.queue_max_bytes);
		batch_free(w, b);
		return;
	}
	enqueue(w, b);
	note_usage(w);
}

/* ---- blobs ---- */

static struct batch *blob_batch(struct mm_redis_writer *w)
{
	if (w->blob == NULL)
		w->blob = batch_new(w, K_BLOB, 0);
	return w->blob;
}

/* Format the puts gathered for blob_key as one FCALL mm_put. */
static int blob_flush_key(struct mm_redis_writer *w)
{
	struct batch *b;
	size_t klen = strlen(w->blob_key), need = 128 + klen + w->ttl_len + w->pairs_len + 2 * BULK_OVH * w->npairs;
	int rc = -1;

	if (w->npairs == 0)
		return 0;
	b = blob_batch(w);
	if (b != NULL && breserve(w, b, need) == 0 && ereserve(w, b, 1) == 0) {
		put_hdr(b, 5 + 2 * w->npairs);
		put_raw(b, PUT_PREFIX, sizeof(PUT_PREFIX) - 1);
		put_bulk(b, w->blob_key, klen);
		put_bulk(b, w->ttl, w->ttl_len);
		for (size_t off = 0; off < w->pairs_len;) {
			size_t n;
			for (int k = 0; k < 2; k++) {
				memcpy(&n, w->pairs + off, sizeof(n));
				put_bulk(b, w->pairs + off + sizeof(n), n);
				off += sizeof(n) + n;
			}
		}
		cmd_end(b);
		b->nblobs += w->npairs;
		rc = 0;
	} else {
		w->st.blobs_dropped += w->npairs;
		w->st.bytes_dropped += w->pairs_len;
	}
	w->pairs_len = 0;
	w->npairs = 0;
	w->blob_key[0] = '\0';
	return rc;
}

static int pairs_add(struct mm_redis_writer *w, const void *p, size_t n)
{
	if (w->pairs_cap - w->pairs_len < n + sizeof(n)) {
		size_t ncap = w->pairs_cap ? w->pairs_cap * 2 : 4096;
		while (ncap - w->pairs_len < n + sizeof(n))
			ncap *= 2;
		if (make_room(w, ncap - w->pairs_cap) < 0)
			return -1;
		char *q = realloc(w->pairs, ncap);
		if (q == NULL) {
			w->st.alloc_failures++;
			return -1;
		}
		account(w, NULL, (long long)(ncap - w->pairs_cap));
		w->pairs = q;
		w->pairs_cap = ncap;
	}
	memcpy(w->pairs + w->pairs_len, &n, sizeof(n));
	memcpy(w->pairs + w->pairs_len + sizeof(n), p, n);
	w->pairs_len += sizeof(n) + n;
	return 0;
}

int mm_redis_writer_put_blob(struct mm_redis_writer *w, const char *key, const char *field, const void *val,
			     size_t len)
{
	size_t klen = strlen(key), flen = strlen(field), mark = w->pairs_len;

	if (klen == 0 || klen >= MM_REDIS_KEY_MAX || flen == 0) {
		w->st.blobs_dropped++;
		return -1;
	}
	if (strcmp(w->blob_key, key) != 0) {
		blob_flush_key(w);
		memcpy(w->blob_key, key, klen + 1);
	}
	if (pairs_add(w, field, flen) < 0 || pairs_add(w, val, len) < 0) {
		w->pairs_len = mark;
		w->st.blobs_dropped++;
		return -1;
	}
	w->npairs++;
	w->st.blobs_queued++;
	w->busy = 1;
	kick(w);
	return 0;
}

int mm_redis_writer_del_blob(struct mm_redis_writer *w, const char *key, const char *field)
{
	size_t klen = strlen(key), flen = strlen(field);
	struct batch *b;

	if (klen == 0 || klen >= MM_REDIS_KEY_MAX || flen == 0) {
		w->st.blobs_dropped++;
		return -1;
	}
	blob_flush_key(w); /* keep the order of puts and dels */
	b = blob_batch(w);
	if (b == NULL || breserve(w, b, 64 + klen + flen + 3 * BULK_OVH) < 0 || ereserve(w, b, 1) < 0) {
		w->st.blobs_dropped++;
		return -1;
	}
	put_hdr(b, 3);
	put_bulk(b, "HDEL", 4);
	put_bulk(b, key, klen);
	put_bulk(b, field, flen);
	cmd_end(b);
	b->nblobs++;
	w->st.blobs_queued++;
	w->busy = 1;
	kick(w);
	return 0;
}

/* ---- events ---- */

static void kick(struct mm_redis_writer *w)
{
	if (!w->freeing)
		event_active(w->kick_ev, EV_TIMEOUT, 0);
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mm_redis_writer *w = arg;

	(void)fd;
	(void)what;
	seal_blob(w);
	if (w->want_drop)
		drop_connection(w, w->hs_failed ? "handshake refused" : "error reply");
	pump(w);
	if (w->busy && mm_redis_writer_pending(w) == 0) {
		w->busy = 0;
		if (w->idle_fn)
			w->idle_fn(w->idle_arg); /* last: fn may do anything but free w */
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct mm_redis_writer *w = arg;
	uint64_t now = now_ms();

	(void)fd;
	(void)what;
	if (w->ac == NULL)
		return;
	if (!w->connected && now - w->connect_started_ms > w->opt.stall_ms) {
		w->st.connect_failures++;
		wwarn(w, "connect to %s timed out after %u ms", w->socket[0] ? w->socket : w->host, w->opt.stall_ms);
		drop_connection(w, "connect timed out");
		return;
	}
	if (w->rn && w->seq_done < w->seq_sent && now - w->ring[w->rhead].ms > w->opt.stall_ms) {
		w->st.stalls++;
		if (!w->ready)
			w->st.connect_failures++;
		wwarn(w, "no reply for %" PRIu64 " ms (%zu commands unanswered): dropping the connection",
		      now - w->ring[w->rhead].ms, w->inflight_cmds);
		drop_connection(w, "stalled");
	}
}

/* ---- set-up ---- */

static void free_names(struct mm_redis_writer *w)
{
	for (int i = 0; i < MM_C_COUNT; i++)
		free(w->ctrf[i].s);
	for (int i = 0; i < MM_S_COUNT; i++)
		free(w->hllf[i].s);
	for (int i = 0; i < MM_RT_COUNT; i++)
		free(w->topf[i].s);
	memset(w->ctrf, 0, sizeof(w->ctrf));
	memset(w->hllf, 0, sizeof(w->hllf));
	memset(w->topf, 0, sizeof(w->topf));
}

static int set_name(struct fname *f, const char *cid, const char *pre, const char *name)
{
	int n;

	if (name == NULL || name[0] == '\0' || strchr(name, ':'))
		return -1;
	n = asprintf(&f->s, "%s:%s%s", cid, pre, name);
	if (n < 0) {
		f->s = NULL;
		return -1;
	}
	f->len = (size_t)n;
	return 0;
}

/* Field names are "<collector_id>:<name>", built once per config. */
static int build_names(struct mm_redis_writer *w, char *err, size_t errlen)
{
	size_t max = 64 + sizeof(PUT_PREFIX) + MM_REDIS_KEY_MAX + BULK_OVH + w->ttl_len + BULK_OVH;

	free_names(w);
	for (int i = 0; i < MM_C_COUNT; i++) {
		if (set_name(&w->ctrf[i], w->cid, "", mm_ctr_name((enum mm_ctr)i)) < 0)
			goto bad;
		max += w->ctrf[i].len + 20 + 2 * BULK_OVH;
	}
	for (int i = 0; i < MM_S_COUNT; i++) {
		if (set_name(&w->hllf[i], w->cid, "hll:", mm_sketch_name((enum mm_sketch)i)) < 0)
			goto bad;
		max += w->hllf[i].len + MM_REDIS_HLL_ENC_MAX + 2 * BULK_OVH;
	}
	for (int i = 0; i < MM_RT_COUNT; i++) {
		if (set_name(&w->topf[i], w->cid, "top:", mm_redis_topk_name((enum mm_redis_topk)i)) < 0)
			goto bad;
		max += w->topf[i].len + MM_REDIS_TOPK_ENC_MAX + 2 * BULK_OVH;
	}
	w->host_cmd_max = max;
	return 0;
bad:
	snprintf(err, errlen, "redis writer: a counter or sketch name is missing or holds ':'");
	free_names(w);
	return -1;
}

static int apply_config(struct mm_redis_writer *w, const struct mm_config *cfg, char *err, size_t errlen)
{
	if (cfg->collector_id[0] == '\0' || strchr(cfg->collector_id, ':') || strchr(cfg->collector_id, '{')) {
		snprintf(err, errlen, "redis writer: collector id \"%s\" is empty or holds ':' or '{'",
			 cfg->collector_id);
		return -1;
	}
	snprintf(w->host, sizeof(w->host), "%s", cfg->redis_host);
	snprintf(w->socket, sizeof(w->socket), "%s", cfg->redis_socket);
	snprintf(w->user, sizeof(w->user), "%s", cfg->redis_user);
	snprintf(w->password, sizeof(w->password), "%s", cfg->redis_password);
	w->port = cfg->redis_port;
	w->db = cfg->redis_db;
	snprintf(w->cid, sizeof(w->cid), "%s", cfg->collector_id);
	w->step_s = cfg->step_s;
	w->ttl_len = (size_t)(mm_redis_put_dec(w->ttl, cfg->retention_s ? cfg->retention_s : 1) - w->ttl);
	w->ttl[w->ttl_len] = '\0';
	return build_names(w, err, errlen);
}

void mm_redis_writer_opts_default(struct mm_redis_writer_opts *o)
{
	o->queue_max_bytes = (size_t)256 << 20;
	o->stall_ms = 10000;
	o->backoff_min_ms = 100;
	o->backoff_max_ms = 30000;
	o->window_bytes = 1u << 20;
	o->max_attempts = 5;
}

struct mm_redis_writer *mm_redis_writer_new(struct event_base *base, const struct mm_config *cfg,
					    const struct mm_redis_writer_opts *opts, char *err, size_t errlen)
{
	struct mm_redis_writer *w = calloc(1, sizeof(*w));
	struct timeval tick, zero = { 0, 0 };

	if (w == NULL) {
		snprintf(err, errlen, "redis writer: out of memory");
		return NULL;
	}
	w->base = base;
	if (opts)
		w->opt = *opts;
	else
		mm_redis_writer_opts_default(&w->opt);
	if (w->opt.stall_ms == 0)
		w->opt.stall_ms = 10000;
	if (w->opt.backoff_min_ms == 0)
		w->opt.backoff_min_ms = 1;
	if (w->opt.backoff_max_ms < w->opt.backoff_min_ms)
		w->opt.backoff_max_ms = w->opt.backoff_min_ms;
	if (w->opt.window_bytes == 0)
		w->opt.window_bytes = 1u << 20;
	if (w->opt.max_attempts == 0)
		w->opt.max_attempts = 1;
	{
		struct sigaction sa;
		if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL)
			mm_warnx("redis writer: SIGPIPE is not ignored: a Redis dying mid-write will kill "
				 "this process");
	}
	mm_ratelimit_init(&w->rl, 1.0, 10.0);
	w->rnd = (uint64_t)now_us() ^ (uint64_t)(uintptr_t)w;
	if (w->rnd == 0)
		w->rnd = 1;
	if (apply_config(w, cfg, err, errlen) < 0)
		goto fail;
	w->retry_ev = evtimer_new(base, retry_cb, w);
	w->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, w);
	w->kick_ev = event_new(base, -1, 0, kick_cb, w);
	if (w->retry_ev == NULL || w->tick_ev == NULL || w->kick_ev == NULL) {
		snprintf(err, errlen, "redis writer: cannot create events");
		goto fail;
	}
	uint32_t t = w->opt.stall_ms / 4;
	if (t < 10)
		t = 10;
	if (t > 1000)
		t = 1000;
	tick.tv_sec = t / 1000;
	tick.tv_usec = (suseconds_t)(t % 1000) * 1000;
	evtimer_add(w->tick_ev, &tick);
	evtimer_add(w->retry_ev, &zero);
	return w;
fail:
	w->freeing = 1;
	mm_redis_writer_free(w);
	return NULL;
}

void mm_redis_writer_reconfigure(struct mm_redis_writer *w, const struct mm_config *cfg)
{
	char err[160];
	int conn = strcmp(w->host, cfg->redis_host) || w->port != cfg->redis_port ||
		   strcmp(w->socket, cfg->redis_socket) || strcmp(w->user, cfg->redis_user) ||
		   strcmp(w->password, cfg->redis_password) || w->db != cfg->redis_db;
	struct mm_redis_writer save = *w;

	/* Names are rebuilt; on failure the old settings stay. */
	memset(w->ctrf, 0, sizeof(w->ctrf));
	memset(w->hllf, 0, sizeof(w->hllf));
	memset(w->topf, 0, sizeof(w->topf));
	if (apply_config(w, cfg, err, sizeof(err)) < 0) {
		mm_warnx("%s; keeping the previous Redis settings", err);
		memcpy(w->host, save.host, sizeof(w->host));
		memcpy(w->socket, save.socket, sizeof(w->socket));
		memcpy(w->user, save.user, sizeof(w->user));
		memcpy(w->password, save.password, sizeof(w->password));
		memcpy(w->cid, save.cid, sizeof(w->cid));
		memcpy(w->ttl, save.ttl, sizeof(w->ttl));
		w->port = save.port;
		w->db = save.db;
		w->step_s = save.step_s;
		w->ttl_len = save.ttl_len;
		w->host_cmd_max = save.host_cmd_max;
		memcpy(w->ctrf, save.ctrf, sizeof(w->ctrf));
		memcpy(w->hllf, save.hllf, sizeof(w->hllf));
		memcpy(w->topf, save.topf, sizeof(w->topf));
		return;
	}
	for (int i = 0; i < MM_C_COUNT; i++)
		free(save.ctrf[i].s);
	for (int i = 0; i < MM_S_COUNT; i++)
		free(save.hllf[i].s);
	for (int i = 0; i < MM_RT_COUNT; i++)
		free(save.topf[i].s);
	if (!conn)
		return;
	/* New server or credentials: try them now, not after the backoff
	 * the old ones earned. */
	w->failures = 0;
	if (w->ac) {
		w->want_drop = 1;
		kick(w);
	} else {
		struct timeval zero = { 0, 0 };
		evtimer_del(w->retry_ev);
		evtimer_add(w->retry_ev, &zero);
	}
}

void mm_redis_writer_free(struct mm_redis_writer *w)
{
	struct batch *b, *next;

	if (w == NULL)
		return;
	w->freeing = 1;
	if (w->ac) {
		redisAsyncContext *ac = w->ac;
		redisAsyncFree(ac); /* callbacks (reply NULL), then on_disconnect */
		w->ac = NULL;
	}
	for (b = w->head; b; b = next) {
		next = b->next;
		batch_free(w, b);
	}
	if (w->open)
		batch_free(w, w->open);
	if (w->blob)
		batch_free(w, w->blob);
	for (unsigned s = 0; s < MM_REDIS_IDX_SHARDS; s++)
		free(w->shard[s].ref);
	free(w->pairs);
	free(w->kv);
	free(w->exp_prev);
	free(w->exp_pend);
	free_names(w);
	if (w->retry_ev)
		event_free(w->retry_ev);
	if (w->tick_ev)
		event_free(w->tick_ev);
	if (w->kick_ev)
		event_free(w->kick_ev);
	free(w);
}

void mm_redis_writer_sink(struct mm_redis_writer *w, struct mm_step_sink *sink)
{
	sink->begin = sink_begin;
	sink->host = sink_host;
	sink->end = sink_end;
	sink->arg = w;
}

static int addr_cmp(const void *a, const void *b)
{
	return memcmp(a, b, 16); /* addr is the first member of both structs */
}

void mm_redis_writer_step_stats(struct mm_redis_writer *w, const struct mm_redis_exporter *ex, size_t n)
{
	struct mm_redis_exporter *cur = NULL;
	struct xdelta *d = NULL, *merged = NULL;
	size_t i, j, k, nm = 0;

	if (n == 0) {
		/* No exporters (any more): nothing new to attribute. */
		free(w->exp_prev);
		w->exp_prev = NULL;
		w->nexp_prev = 0;
		return;
	}
	cur = malloc(n * sizeof(*cur));
	d = malloc(n * sizeof(*d));
	merged = malloc((n + w->nexp_pend) * sizeof(*merged));
	if (cur == NULL || d == NULL || merged == NULL) {
		w->st.alloc_failures++;
		goto out;
	}
	memcpy(cur, ex, n * sizeof(*cur));
	qsort(cur, n, sizeof(*cur), addr_cmp); /* and so d: merged with exp_pend below */
	for (i = 0; i < n; i++) {
		const struct mm_redis_exporter *p =
			w->nexp_prev ? bsearch(cur[i].addr, w->exp_prev, w->nexp_prev, sizeof(*p), addr_cmp) : NULL;
		memcpy(d[i].addr, cur[i].addr, 16);
		for (k = 0; k < mm_exporter_nstat_fields; k++)
			xset(&d[i].d, k, delta(xget(&cur[i].st, k), p ? xget(&p->st, k) : 0));
	}
	/* Merge with what is pending since the last step (both sorted). */
	for (i = j = 0; i < n || j < w->nexp_pend;) {
		int c = i == n ? 1 : j == w->nexp_pend ? -1 : memcmp(d[i].addr, w->exp_pend[j].addr, 16);
		if (c < 0) {
			merged[nm++] = d[i++];
		} else if (c > 0) {
			merged[nm++] = w->exp_pend[j++];
		} else {
			merged[nm] = d[i++];
			for (k = 0; k < mm_exporter_nstat_fields; k++)
				xset(&merged[nm].d, k, xget(&merged[nm].d, k) + xget(&w->exp_pend[j].d, k));
			nm++;
			j++;
		}
	}
	free(w->exp_prev);
	w->exp_prev = cur;
	w->nexp_prev = n;
	cur = NULL;
	free(w->exp_pend);
	w->exp_pend = merged;
	w->nexp_pend = nm;
	merged = NULL;
out:
	free(cur);
	free(d);
	free(merged);
}

size_t mm_redis_writer_pending(const struct mm_redis_writer *w)
{
	return w->nqueued + (w->open != NULL) + (w->blob != NULL || w->npairs != 0);
}

void mm_redis_writer_on_idle(struct mm_redis_writer *w, void (*fn)(void *arg), void *arg)
{
	w->idle_fn = fn;
	w->idle_arg = arg;
}

const struct mm_redis_writer_stats *mm_redis_writer_stats(struct mm_redis_writer *w)
{
	w->st.bytes_queued = usage(w);
	w->st.steps_pending = (uint32_t)w->nsteps_q;
	w->st.connected = w->ready;
	return &w->st;
}
