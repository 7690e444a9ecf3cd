/*
 * pipeline.h - the collector's path behind the decoders when it feeds
 * Redis: flow records -> per-host step aggregation -> Redis writer, on one
 * step clock, plus persistence of what exporters taught the decoders.
 *
 * The clock is the caller's: the wall clock in the daemon, the capture's
 * own clock in --replay, so the same input gives the same windows.
 */
#ifndef MAMORI_PIPELINE_H
#define MAMORI_PIPELINE_H

#include <stdint.h>
#include <stdio.h>
#include "mamori/aggregate.h"
#include "mamori/config.h"
#include "mamori/exporters.h"
#include "mamori/flow.h"
#include "mamori/redis_writer.h"

struct event_base;
struct mm_pipeline;

/* New pipeline on `base` for `cfg` (groups, [window], [redis]).  `exps` is
 * the exporter table whose statistics and decoder state it persists; it
 * must outlive the pipeline.  NULL with err filled on failure. */
struct mm_pipeline *mm_pipeline_new(struct event_base *base, const struct mm_config *cfg,
				    struct mm_exporters *exps, uint64_t now_ms, char *err, size_t errlen);
void mm_pipeline_free(struct mm_pipeline *p);

/* A reload, in two halves around the caller's swap of its config (the
 * pipeline keeps the pointer it was given).  Before: the monitored
 * prefixes of `next` take effect (open steps are kept: windows survive);
 * 0, or -1 with nothing changed.  After, the swapped-in config at the old
 * address: the Redis writer takes its settings (collector id, retention,
 * server; a new server is connected at once).  [window] sizes and
 * [redis] queue limits are restart-only (the caller keeps them). */
int mm_pipeline_reconfigure(struct mm_pipeline *p, const struct mm_config *next);
void mm_pipeline_reconfigured(struct mm_pipeline *p);

/* Load every exporter's stored templates and sampling state from Redis
 * into the exporter table (synchronous: call before intake starts).
 * Returns items imported, or -1 with err filled (Redis unreachable: the
 * collector runs on and learns from the wire). */
long mm_pipeline_load_state(struct mm_pipeline *p, char *err, size_t errlen);

/* The flow sink: hand it to the decoders. */
void mm_pipeline_flow(void *p, const struct mm_flow *f);

/* Move the step clock to now_ms: closes the steps that are due and hands
 * them to Redis with the exporters' statistics; persists changed decoder
 * state.  Cheap when nothing is due: call it often. */
void mm_pipeline_tick(struct mm_pipeline *p, uint64_t now_ms);

/* Close every open step (shutdown, end of a replay). */
void mm_pipeline_close(struct mm_pipeline *p, uint64_t now_ms);

/* Run the event loop until at most max_pending steps (or state batches)
 * are not yet in Redis, or timeout_ms passes: 0 = done, -1 = timed out
 * (reported).  max_pending 0 at shutdown; a replay uses a small number as
 * back-pressure, since it may wait for Redis where live intake may not. */
int mm_pipeline_drain(struct mm_pipeline *p, size_t max_pending, uint32_t timeout_ms);

const struct mm_agg_stats *mm_pipeline_agg_stats(const struct mm_pipeline *p);
const struct mm_redis_writer_stats *mm_pipeline_writer_stats(struct mm_pipeline *p);
/* One line each for the aggregation and the writer (the periodic report). */
void mm_pipeline_report(struct mm_pipeline *p, char *buf, size_t len);

#endif
