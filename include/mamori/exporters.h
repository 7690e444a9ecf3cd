/*
 * exporters.h - the collector's table of exporter states (decode.h's
 * struct mm_exporter), keyed by exporter address.
 *
 * Bounded: at most limits.max_exporters states; a new exporter beyond that
 * evicts the least recently seen one (its template cache goes with it) and
 * the eviction is counted.  Lookup is a keyed hash (SipHash-1-3 with a
 * random key, so spoofed source addresses cannot be chosen to collide) over
 * 2 * max_exporters buckets.  Memory: the table itself is about
 * max_exporters * 40 bytes; each state is what decode.h's formula says.
 *
 * Configuration applied to each exporter when it is created (and again by
 * mm_exporters_reconfigure): the [exporter] section matching its address
 * (longest prefix) gives sampling_rate -> ex->cfg_rate and default_rate ->
 * ex->default_rate; without one (or with default_rate 0) default_rate is
 * [collector] default_sampling_rate.  With allow_unlisted_exporters = 0,
 * datagrams from an address no [exporter] section covers are refused before
 * any state is created, and counted in mm_exporters_stats.denied.
 *
 * Single-threaded: one table per event loop.
 */
#ifndef MAMORI_EXPORTERS_H
#define MAMORI_EXPORTERS_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"
#include "mamori/decode.h"

struct mm_exporters;

struct mm_exporters_stats {
	uint64_t created;      /* exporter states created */
	uint64_t evicted;      /* LRU evictions at limits.max_exporters */
	uint64_t denied;       /* datagrams refused by the allowlist */
	uint64_t removed;      /* states dropped by a reconfigure that no longer allows them */
	uint64_t alloc_failed; /* datagrams dropped because a state could not be allocated */
};

/*
 * New empty table for `cfg`.  The table copies cfg->limits (every exporter's
 * ex->lim points at that copy, so limits changed by a later reload apply
 * only after a restart) and keeps the cfg pointer for allowlist and rate
 * lookups: cfg must outlive the table or be replaced with
 * mm_exporters_reconfigure first.  NULL on ENOMEM.
 */
struct mm_exporters *mm_exporters_new(const struct mm_config *cfg);
/* Frees the table and every exporter state in it. */
void mm_exporters_free(struct mm_exporters *t);

/*
 * The state of the exporter at `addr` (16 bytes, IPv4-mapped when v4),
 * created (with its configuration applied) when new, and marked most
 * recently used; last_seen_ms is set to now_ms.  NULL when the allowlist
 * refuses the address (counted in denied) or on ENOMEM (alloc_failed).
 * The table owns the state: it stays valid until the exporter is evicted,
 * i.e. until the next mm_exporters_get of another address, a reconfigure or
 * mm_exporters_free.
 */
struct mm_exporter *mm_exporters_get(struct mm_exporters *t, const uint8_t addr[16], uint64_t now_ms);
/* Lookup only: no creation, no LRU update.  NULL when absent. */
struct mm_exporter *mm_exporters_find(const struct mm_exporters *t, const uint8_t addr[16]);

/* Switch to a new configuration: re-apply rates to every state and remove
 * those the allowlist no longer admits (counted in removed). */
void mm_exporters_reconfigure(struct mm_exporters *t, const struct mm_config *cfg);

size_t mm_exporters_count(const struct mm_exporters *t);
/* Call fn for every state, most recently used first.  fn must not add or
 * remove exporters. */
void mm_exporters_foreach(const struct mm_exporters *t, void (*fn)(void *arg, struct mm_exporter *ex),
			  void *arg);
/* mm_exporter_expire on every state. */
void mm_exporters_expire(struct mm_exporters *t, uint64_t now_ms);

const struct mm_exporters_stats *mm_exporters_stats(const struct mm_exporters *t);
/* Sum of the per-exporter counters over every state ever in the table:
 * those present plus those evicted or removed (whose counters are folded in
 * when they go), so totals never go backwards. */
void mm_exporters_totals(const struct mm_exporters *t, struct mm_exporter_stats *sum);

/*
 * The per-exporter counters by name, in struct order, for statistics lines
 * and JSON: mm_exporter_stat_fields[i].name and mm_stat_get(st, i).
 * exporters.c asserts at compile time that it lists every field of
 * struct mm_exporter_stats.
 */
struct mm_stat_field {
	const char *name;
	size_t off;
};
extern const struct mm_stat_field mm_exporter_stat_fields[];
extern const size_t mm_exporter_nstat_fields;
uint64_t mm_stat_get(const struct mm_exporter_stats *st, size_t i);

#endif
