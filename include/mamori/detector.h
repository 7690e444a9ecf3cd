/*
 * detector.h - the detector daemon's per-step state and logic
 * (detector/run.c), without Redis or a clock so that it can be driven from
 * tests: the daemon (detector/main.c) reads a step's windows and feeds them
 * here host by host, then closes the step.
 *
 * Per host: its baseline and M-of-N hit history, in a bounded table
 * (max_hosts entries; a host beyond it is refused and counted, not scored).
 * External sources (in no group: scanners, brute forcers) are scored for
 * the source-side classes with the first group's keys and no baseline, in
 * the same table but bounded apart ([window] max_external); those idle
 * for 64 slow windows are forgotten.
 * Per group: the detection parameters, the group baseline, the
 * time-of-week profile and the step's learning accumulator.
 * Per carpet-bombing prefix (the group's carpet_prefix4 / carpet_prefix6
 * around each host; [detector] max_prefixes of them): its own baseline,
 * hit history and the step's sum of its hosts' fast windows.  A host's
 * inbound classes (flood, SYN flood, amplification) wait for its prefix
 * to be scored at the end of the step: when the prefix is under carpet
 * bombing they are folded into that one incident (counted), otherwise
 * they go on as the host's own.  With --shard N/M a prefix's hosts are
 * split over the detectors, and each scores its share of the prefix.
 * One incident table for everything; its events go to the callback given
 * at creation.
 *
 * Memory: about (max_hosts + max_external) x (sizeof(struct mm_det_host)
 * + the slow blocks, ~1.5 KiB + 8) bytes at most (hosts are allocated as first seen), ~2 KiB per
 * prefix, ~12 KiB per group, plus the incident table (incident.h).
 */
#ifndef MAMORI_DETECTOR_H
#define MAMORI_DETECTOR_H

#include <stdint.h>
#include "mamori/config.h"
#include "mamori/fastpath.h"
#include "mamori/incident.h"
#include "mamori/redis_schema.h"
#include "mamori/score.h"
#include "mamori/window.h"

struct mm_det_block; /* run.c: a block of the host's slow window */

struct mm_det_host {
	uint8_t addr[16];
	int group;                 /* index into cfg->groups (externals: 0) */
	uint8_t external;          /* in no group: source-side classes only */
	uint8_t loaded;            /* the persisted baseline was looked up */
	uint64_t last_step;        /* last step scored */
	struct mm_baseline base;
	struct mm_confirm confirm;
	uint64_t since;            /* its slow blocks hold every step from here, 0 = none yet */
	struct mm_det_block *blk;  /* the slow window's blocks (mm_det_slow_add) */
	struct mm_det_host *next;  /* hash chain */
};

struct mm_det_stats {
	uint64_t scored;           /* host-steps scored */
	uint64_t hosts;            /* in the table */
	uint64_t refused;          /* hosts not tracked: table full */
	uint64_t starts;           /* incidents started */
	uint64_t externals;        /* external sources in the table */
	uint64_t externals_forgotten;
	uint64_t prefixes;         /* carpet-bombing prefixes in the table */
	uint64_t prefixes_refused; /* a host's prefix not tracked: table full */
	uint64_t prefixes_scored;  /* prefix-steps scored */
	uint64_t folded;           /* host inbound observations folded into carpet bombing */
	uint64_t hosts_dropped_by_reload; /* monitored hosts a reload left outside every group */
	uint64_t fast_started;     /* fast-path crossings that started an incident */
	uint64_t fast_merged;      /* ... that found it open */
	uint64_t fast_refused;     /* ... not confirmed by this detector's keys, not a
				    * monitored host, or no room */
};

struct mm_det;

/* cfg must outlive the detector.  max_hosts 0 = cfg->max_hosts.  Events of
 * every incident go to fn(arg, ...).  NULL on no memory. */
struct mm_det *mm_det_new(const struct mm_config *cfg, uint32_t max_hosts, mm_incident_fn fn, void *arg);
void mm_det_free(struct mm_det *d);
/*
 * A reload: the groups and incident timing of `next` take effect.  Called
 * with the new config before the caller copies it to where d's cfg
 * pointer points (d keeps that pointer; it reads the running groups from
 * it to match them by name).  Groups that stay (by name) keep their
 * baselines and time-of-week profiles; hosts, their baselines and slow
 * windows, and open incidents all stay; a host no longer in any group is
 * forgotten (counted), an external source now in one becomes monitored.
 * Table sizes and the window are restart-only.  0, or -1 (no memory)
 * with nothing changed.
 */
int mm_det_reconfigure(struct mm_det *d, const struct mm_config *next);

/* The host's state; with create, made (baseline cold, loaded = 0; an
 * external: loaded = 1, nothing to load) when missing.  NULL when missing
 * and not created, or the table is full (counted), or the address is in
 * no group and externals are off (max_external 0). */
struct mm_det_host *mm_det_host(struct mm_det *d, const uint8_t addr[16], int create);

/*
 * The slow window (slow_window_steps, 30 by default) is not read from
 * Redis at every step: each host keeps it in memory as blocks of
 * mm_det_block_steps() steps (5 by default), holding the counters and
 * sketches the slow features use (about 1.5 KiB a host).  The slow window
 * at step t is every block that overlaps [t - slow + 1, t], so it spans
 * between slow and slow + block - 1 steps (rates divide by the span: no
 * bias; distinct counts cover that span).  The daemon adds each scored
 * step's own data (mm_det_score's `newest`); a host seen for the first
 * time is filled once from Redis, block by block (mm_det_slow_add over a
 * range within one block) and h->since set to where that data starts.
 */
uint32_t mm_det_block_steps(const struct mm_det *d);
/* The steps [first, first + n) summed in hs, all within one block. */
void mm_det_slow_add(struct mm_det *d, struct mm_det_host *h, uint64_t first, const struct mm_hoststep *hs);
/* The slow window at `step` rebuilt from the blocks (the slow features'
 * counters and sketches only, the rest 0); returns the steps it spans. */
uint32_t mm_det_slow_window(const struct mm_det *d, const struct mm_det_host *h, uint64_t step,
			    struct mm_hoststep *out);

/* Score host h at `step` from its fast window (fast_steps steps summed,
 * normally [window] steps; fewer when the data begins inside the window,
 * the start of a replay, so that rates are not diluted by steps nobody
 * recorded) and its slow blocks, after adding `newest` (the step's own
 * data, also inside `fast`) to them.  Feeds the incidents, learns.  who
 * (may be NULL) and completeness (0..1, -1 unknown) go into the evidence.
 * Returns the number of incidents started now (the held-back inbound ones
 * start in mm_det_end_step). */
int mm_det_score(struct mm_det *d, struct mm_det_host *h, uint64_t step, const struct mm_hoststep *fast,
		 uint32_t fast_steps, const struct mm_hoststep *newest, const struct mm_redis_contrib *who,
		 double completeness);

/*
 * A crossing a collector's fast path reported (fastpath.h): re-checked
 * against this detector's own keys for the host's group
 * (mm_fast_confirms), then raised as the incident's start, or merged into
 * the one open (mm_incidents_raise).  Its step is the crossing's time;
 * the incident starts at the step of the episode's first crossing.
 * Returns 1 (started), 0 (merged), -1 (refused, counted).
 */
int mm_det_fast(struct mm_det *d, const struct mm_fast_event *e);

/* Close `step` after every host of it: the prefixes, the held-back host
 * observations, group learning, incident updates and ends.  Returns the
 * number of update and end events. */
unsigned mm_det_end_step(struct mm_det *d, uint64_t step);

const struct mm_det_stats *mm_det_stats(const struct mm_det *d);
struct mm_incidents *mm_det_incidents(struct mm_det *d);

#endif
