/*
 * redis_writer.h - the collector's asynchronous Redis writer: closed steps
 * (from the aggregator, through a struct mm_step_sink) and decoder state
 * (templates, sampler rates) go to Redis over one hiredis async connection
 * on the collector's libevent loop.  Layout: redis_schema.h and
 * docs/redis-schema.md.
 *
 * Cost: one FCALL mm_put per active host per step, plus one mm_add per
 * index shard touched (per MM_REDIS_IDX_CHUNK members), two statistics
 * calls and the done mark: nhosts + O(64) commands a step.
 *
 * Never blocks: every step is serialised (RESP, ready to send) into a
 * buffer of its own when it closes and queued.  Commands are handed to
 * hiredis only while the connection is up and ready (AUTH, SELECT and the
 * function library done), and only up to `window_bytes` unanswered at a
 * time, so hiredis' output buffer stays small.  A step's buffer is kept
 * until every command in it was answered OK; then its done mark
 * (mm:done:<step> <collector_id> <hosts>) is written.  If the connection
 * drops, or an error reply comes, every step not yet complete is sent
 * again whole after the reconnect - harmless, because the collector only
 * overwrites its own fields (HSET / SADD / EXPIRE).
 *
 * Outages: reconnect with exponential backoff (with jitter) between
 * backoff_min_ms and backoff_max_ms.  A stalled server (the oldest
 * unanswered command, or a connect in progress, older than stall_ms) has
 * its connection dropped and is treated like a disconnect.  Memory is
 * bounded by queue_max_bytes, which counts the queued step buffers, the
 * step being built, hiredis' output buffer and its per-command callbacks;
 * when a new step would not fit, the oldest whole steps are dropped and
 * counted (steps_dropped, bytes_dropped).  An error reply makes the writer
 * reconnect (which reloads a flushed function library) and re-send after
 * the backoff: indefinitely for "not now" refusals (OOM, BUSY, LOADING,
 * READONLY, ...), at most max_attempts times for any other (NOPERM, ...),
 * after which the step is dropped and counted in steps_failed.
 *
 * Single-threaded: every call from the thread running the event base.
 * The process must ignore SIGPIPE: hiredis 0.14 writes with write(2), and
 * a Redis that dies mid-write would otherwise kill the collector
 * (mm_redis_writer_new warns when SIGPIPE is still at its default).
 */
#ifndef MAMORI_REDIS_WRITER_H
#define MAMORI_REDIS_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/aggregate.h"
#include "mamori/config.h"
#include "mamori/decode.h"

struct event_base;
struct mm_redis_writer;

/* Tuning that the config file does not (yet) carry. */
struct mm_redis_writer_opts {
	size_t queue_max_bytes;  /* memory bound, default 256 MiB */
	uint32_t stall_ms;       /* unanswered or connecting this long = stalled, default 10000 */
	uint32_t backoff_min_ms; /* first reconnect delay, default 100 */
	uint32_t backoff_max_ms; /* reconnect delay cap, default 30000 */
	uint32_t window_bytes;   /* most bytes handed to hiredis unanswered, default 1 MiB */
	uint32_t max_attempts;   /* a step refused this often is dropped, default 5 */
};

struct mm_redis_writer_stats {
	uint64_t commands_sent;   /* handed to hiredis, resends and handshake included */
	uint64_t replies;         /* replies received */
	uint64_t errors;          /* error replies */
	uint64_t host_commands;   /* FCALL mm_put of a host (commands_sent includes them) */
	uint64_t connects;        /* connections that became ready */
	uint64_t reconnects;      /* ... after the first */
	uint64_t connect_failures;/* connects refused, failed or timed out, handshakes failed */
	uint64_t disconnects;     /* ready connections lost */
	uint64_t stalls;          /* connections dropped by the stall timer */
	uint64_t steps_queued;    /* closed steps serialised and queued */
	uint64_t steps_flushed;   /* steps whose done mark was acknowledged */
	uint64_t steps_resent;    /* times a step was queued again after a reconnect */
	uint64_t steps_dropped;   /* whole steps dropped: memory bound */
	uint64_t steps_failed;    /* whole steps dropped: refused max_attempts times */
	uint64_t bytes_dropped;   /* serialised bytes of the dropped steps and blobs */
	uint64_t blobs_queued;    /* put_blob / del_blob calls */
	uint64_t blobs_dropped;   /* of those, dropped with their batch */
	uint64_t hosts_written;   /* hosts serialised */
	uint64_t alloc_failures;
	uint64_t bytes_queued;    /* now: everything the bound counts */
	uint64_t bytes_queued_max;/* high-water mark of bytes_queued */
	uint32_t steps_pending;   /* now: steps queued and not yet done */
	uint32_t last_flush_ms;   /* last flushed step: closed -> done mark acknowledged */
	uint32_t last_build_us;   /* last step: begin -> end of serialising it */
	int connected;            /* 1 = ready (handshake done) */
	int schema_mismatch;      /* mm:schema holds another version: nothing is written */
};

/* Cumulative counters of one exporter, as the exporter table keeps them. */
struct mm_redis_exporter {
	uint8_t addr[16];
	struct mm_exporter_stats st;
};

void mm_redis_writer_opts_default(struct mm_redis_writer_opts *o);

/*
 * New writer on `base`.  Copies what it needs from cfg ([redis], retention,
 * step, collector_id); opts NULL = defaults.  Starts connecting at once
 * (the attempt runs on the loop).  NULL with err filled on a bad
 * collector id or ENOMEM.
 */
struct mm_redis_writer *mm_redis_writer_new(struct event_base *base, const struct mm_config *cfg,
					    const struct mm_redis_writer_opts *opts, char *err, size_t errlen);
/* Drop the connection and everything queued (unsent steps are lost: drain
 * first with mm_redis_writer_pending / on_idle).  Not from inside a
 * callback of the writer.  NULL is fine. */
void mm_redis_writer_free(struct mm_redis_writer *w);

/* New [redis] / [collector] / [window] settings.  Steps already queued
 * keep what they were serialised with; a change of server, credentials or
 * db reconnects. */
void mm_redis_writer_reconfigure(struct mm_redis_writer *w, const struct mm_config *cfg);

/* The sink the aggregator hands closed steps to.  group and external are
 * not stored (the detector derives both from the address). */
void mm_redis_writer_sink(struct mm_redis_writer *w, struct mm_step_sink *sink);

/*
 * Exporter counters for the statistics of the next step to close: call it
 * just before mm_agg_advance / mm_agg_flush with every exporter's
 * cumulative counters.  The writer keeps the previous snapshot and writes
 * the difference (a counter that went down - a re-created exporter - counts
 * from 0), so the export that arrived between two calls is attributed to
 * the first step closed after the second: per step, nothing is counted
 * twice or lost.  ex is copied.
 */
void mm_redis_writer_step_stats(struct mm_redis_writer *w, const struct mm_redis_exporter *ex, size_t n);

/*
 * Queue HSET key field value (+ EXPIRE retention) - for decoder state:
 * key from mm_rkey_exporter_state, field and value from
 * mm_exporter_export.  Consecutive puts to one key go out as one FCALL.
 * Queued and retried like steps, but carry no done mark; the key's TTL
 * is the retention, so export at least once per retention period to keep
 * it.  0, or -1 on ENOMEM / a bad key (counted).
 */
int mm_redis_writer_put_blob(struct mm_redis_writer *w, const char *key, const char *field, const void *val,
			     size_t len);
/* Queue HDEL key field (a withdrawn template). */
int mm_redis_writer_del_blob(struct mm_redis_writer *w, const char *key, const char *field);

/* Steps and blob batches not yet complete in Redis. */
size_t mm_redis_writer_pending(const struct mm_redis_writer *w);
/* fn(arg) from the loop whenever the writer has just become idle
 * (pending 0).  fn must not free the writer. */
void mm_redis_writer_on_idle(struct mm_redis_writer *w, void (*fn)(void *arg), void *arg);

const struct mm_redis_writer_stats *mm_redis_writer_stats(struct mm_redis_writer *w);

#endif
