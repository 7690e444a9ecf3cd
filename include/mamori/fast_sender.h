/*
 * fast_sender.h - the fast path's crossings (fastpath.h) to Redis: one
 * XADD <[fastpath] stream> MAXLEN ~ <stream_maxlen> * <fields> per event,
 * over a hiredis async connection of its own on the collector's libevent
 * loop, so that an event never waits behind a step's host data in the
 * step writer's queue (redis_writer.h).  Layout: docs/redis-schema.md.
 *
 * Never blocks and never queues much: an event that finds the connection
 * down (a reconnect is tried at most once a second) or too many replies
 * outstanding is dropped and counted - the step scoring still sees the
 * traffic, a second later the fast path says it again if it still holds.
 */
#ifndef MAMORI_FAST_SENDER_H
#define MAMORI_FAST_SENDER_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"
#include "mamori/fastpath.h"

struct event_base;
struct mm_fast_sender;

struct mm_fast_sender_stats {
	uint64_t sent;        /* XADDs handed to hiredis */
	uint64_t added;       /* acknowledged with an entry id */
	uint64_t failed;      /* error replies, or lost with the connection */
	uint64_t dropped;     /* not sent: disconnected, or MM_FAST_SENDER_MAX_PENDING outstanding */
	uint64_t connects;    /* connection attempts */
};
#define MM_FAST_SENDER_MAX_PENDING 4096

/* Connects at once (asynchronously).  NULL with err filled on no memory. */
struct mm_fast_sender *mm_fast_sender_new(struct event_base *base, const struct mm_config *cfg, char *err,
					  size_t errlen);
/* Not from inside its own callbacks.  NULL is fine. */
void mm_fast_sender_free(struct mm_fast_sender *s);
/* An mm_fast_fn: arg is the sender. */
void mm_fast_sender_send(void *sender, const struct mm_fast_event *e);
/* Events sent and not yet answered. */
size_t mm_fast_sender_pending(const struct mm_fast_sender *s);
const struct mm_fast_sender_stats *mm_fast_sender_stats(const struct mm_fast_sender *s);

#endif
