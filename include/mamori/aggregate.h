/*
 * aggregate.h - the collector's per-host, per-step aggregation: flow records
 * in (hot path, no allocation, no syscall), closed steps out to a sink (the
 * Redis writer, or a test).
 *
 * Which hosts: addresses inside the monitored prefixes are tracked in full,
 * as victims and sources.  Sources outside them are tracked only when they
 * stand out (a bounded space-saving table ranked by scaled flows), so an
 * internet-wide scanner is still seen; only the outbound side of such an
 * external source is kept.  Every limit is configuration; what is dropped is
 * counted in mm_agg_stats.
 *
 * Time: steps are [k * step_ms, (k + 1) * step_ms).  The aggregator keeps
 * the current step and `late_steps` earlier ones open.  A flow's scaled bytes
 * and packets are spread over the open steps its [start, end] covers, in
 * proportion to time; its flow count goes to the step of its start.  Time
 * before the oldest open step is clamped into the current step and counted
 * as late; time after `now` (exporter clock ahead) is clamped into the
 * current step and counted as future.  The clock is whatever the caller
 * passes to mm_agg_advance (wall clock live, the capture's clock in replay).
 *
 * Memory: mm_agg_memory() gives the exact bytes; per tracked host it is
 * (late_steps + 1) * sizeof(struct mm_hoststep) plus the table entry.
 */
#ifndef MAMORI_AGGREGATE_H
#define MAMORI_AGGREGATE_H

#include <stdint.h>
#include <stddef.h>
#include "mamori/fastpath.h"
#include "mamori/flow.h"
#include "mamori/prefix.h"
#include "mamori/window.h"

struct mm_agg_config {
	uint32_t step_ms;          /* default 10000 */
	uint32_t late_steps;       /* earlier steps kept open for late records, default 1 */
	uint32_t max_hosts;        /* monitored hosts tracked at once, default 1000000 */
	uint32_t max_external;     /* external sources tracked, default 65536 */
	uint32_t external_min_flows; /* an external source is emitted only above this (scaled flows/step) */
	/* Monitored prefixes and the host group each belongs to (index into
	 * the caller's group table); longest prefix wins. */
	const struct mm_prefix *prefixes;
	const uint16_t *prefix_group;
	unsigned nprefixes;
	/* The fast path (fastpath.h), fed every record of a monitored host by
	 * the host's table index; NULL = none.  The caller owns it and sizes
	 * it for max_hosts. */
	struct mm_fast *fast;
};

struct mm_agg_stats {
	uint64_t records;            /* flow records seen */
	uint64_t records_unmonitored;/* neither end monitored and source not tracked */
	uint64_t late_records;       /* records with time before the oldest open step */
	uint64_t future_records;     /* records with time after now */
	uint64_t hosts_dropped;      /* updates lost: host table full */
	uint64_t external_evicted;   /* external sources replaced in the space-saving table */
	uint64_t steps_closed;
	uint32_t hosts_tracked;      /* monitored hosts with data in an open step */
	uint32_t external_tracked;
};

/* Receives each closed step, host by host.  The pointers are valid only
 * during the call. */
struct mm_step_sink {
	void (*begin)(void *arg, uint64_t step, uint32_t nhosts);
	/* group: host group index; external: 1 for a tracked external source */
	void (*host)(void *arg, uint64_t step, const uint8_t addr[16], unsigned group, int external,
		     const struct mm_hoststep *hs);
	void (*end)(void *arg, uint64_t step, const struct mm_agg_stats *st);
	void *arg;
};

struct mm_agg;
void mm_agg_config_default(struct mm_agg_config *c);
/* NULL on ENOMEM or a bad config. Copies what it needs from cfg. */
struct mm_agg *mm_agg_new(const struct mm_agg_config *cfg, uint64_t now_ms);
void mm_agg_free(struct mm_agg *a);
/* Add one record (hot path).  The record is copied; it is counted at most
 * MM_AGG_PIPELINE calls later (its memory is prefetched meanwhile), or by
 * the next mm_agg_sync / mm_agg_advance / mm_agg_flush, in arrival order,
 * with the same result as counting it at once.  mm_agg_stats counts
 * records once they are counted. */
#define MM_AGG_PIPELINE 16
void mm_agg_add(struct mm_agg *a, const struct mm_flow *f);
/* Count every record still in the pipeline (before reading the stats). */
void mm_agg_sync(struct mm_agg *a);
/* Move the clock to now_ms: every step that leaves the open range is closed
 * and handed to `sink` (oldest first), then forgotten. */
void mm_agg_advance(struct mm_agg *a, uint64_t now_ms, const struct mm_step_sink *sink);
/* Close every open step (shutdown, end of a replay). */
void mm_agg_flush(struct mm_agg *a, const struct mm_step_sink *sink);
/* Monitor these prefixes from now on (a reload).  Hosts already tracked
 * keep their open steps (emitted as usual when they close); those no
 * longer inside a prefix take no new records; records taken before the
 * call are counted under the old prefixes.  0, or -1 (no memory, a bad
 * prefix) with the old prefixes still in force. */
/* Ask the fast path again which sides of a record it counts (after its
 * groups changed). */
void mm_agg_fast_sides(struct mm_agg *a);
int mm_agg_set_prefixes(struct mm_agg *a, const struct mm_prefix *prefixes, const uint16_t *prefix_group,
			unsigned nprefixes);
const struct mm_agg_stats *mm_agg_stats(const struct mm_agg *a);
size_t mm_agg_memory(const struct mm_agg *a);

#endif
