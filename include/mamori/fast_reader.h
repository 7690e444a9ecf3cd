/*
 * fast_reader.h - the detector's side of the fast path's stream
 * (docs/redis-schema.md): the crossings the collectors added, read with a
 * synchronous hiredis context and handed over parsed (mm_fast_event_parse);
 * entries that do not parse are skipped and counted.  The live detector
 * polls for new ones on a short timer ([fastpath] poll_ms); a replay
 * reads them all once.
 */
#ifndef MAMORI_FAST_READER_H
#define MAMORI_FAST_READER_H

#include <stdint.h>
#include <hiredis/hiredis.h>
#include "mamori/fastpath.h"

#define MM_FAST_ID_MAX 48 /* a stream entry id "<ms>-<seq>" and its NUL */

typedef void (*mm_fast_read_fn)(void *arg, const struct mm_fast_event *e);

/* Entries after *last_id (XREAD without BLOCK, at most `count`), oldest
 * first; last_id is moved to the last one read.  Returns the entries read
 * (bad ones included), or -1 on a Redis error (c->errstr says). */
long mm_fast_read_new(redisContext *c, const char *stream, char last_id[MM_FAST_ID_MAX], unsigned count,
		      mm_fast_read_fn fn, void *arg, uint64_t *bad);
/* Every entry of the stream, oldest first (XRANGE, page by page). */
long mm_fast_read_all(redisContext *c, const char *stream, mm_fast_read_fn fn, void *arg, uint64_t *bad);

#endif
