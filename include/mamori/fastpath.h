/*
 * fastpath.h - the collector's fast path: every monitored host's rates over
 * a short sliding interval (default 1 s, checked every 250 ms) against its
 * group's ceilings, so that a flood far over a hard limit is raised within
 * a second instead of at the next step (docs/fastpath.md).  Pure: no I/O,
 * no clock (the caller gives `now`), no globals.
 *
 * Who calls what.  The aggregator (aggregate.h) counts every record of a
 * monitored host here too, by the host's index in its table (the address is
 * looked up once, for both); mm_fast_host_new is called when an index gets
 * a new host.  The pipeline runs mm_fast_check on its timer (or on the
 * capture's clock in a replay) and sends each crossing it reports to Redis
 * (collector/fast_sender.c, the stream of docs/redis-schema.md).  The
 * detector reads them back (mm_fast_event_parse), checks them against its
 * own configuration (mm_fast_confirms) and raises the incident's start.
 *
 * Counts.  Per host, a ring of buckets `check_ms` wide covering two
 * intervals and one bucket ahead of the clock.  A record's scaled packets
 * and bytes are spread over its [start, end) in proportion to time, with
 * the aggregator's rounding (muldiv.h), so a long flow exported at its
 * active timeout adds its own rate to the interval, not its whole volume.
 * Time before the ring is dropped: it is no longer "now" (the step windows
 * still count it).  A record ending after the ring (an exporter's clock
 * ahead) is moved back to end there, keeping its rate.  A flow is counted
 * once, in the bucket of its start, and not at all when that lies before
 * the ring (a long flow is not a new flow every time it is exported).
 *
 * The check.  Each host counted since the previous check is evaluated:
 * per ceiling, the largest sum over any `interval` of whole buckets in the
 * ring (the newest window holds the bucket being filled: such a window
 * spans less than the interval, so a rate is never overstated), against
 * the group's ceiling x interval, with at least min_sampled_packets x
 * sampling_rate scaled packets behind it - the detector's ceilings, keys
 * and meaning (docs/detections.md), per second instead of per window.
 * Classes as the detector names them: SYN-only packets in -> syn_flood,
 * unsolicited amplification (from a service port, beyond the host's own
 * UDP out) -> amplification, and then only the other inbound ceilings ->
 * flood; outbound ceilings -> outbound_flood.  Only groups whose `combine`
 * lets a ceiling alone fire (either, ceiling) are checked.  A host going
 * over is reported at once; while it stays over, again every `repeat_ms`
 * (the detector keeps its incident open on those).
 *
 * Memory (mm_fast_memory, exact): max_hosts x (ring x 64 + 120 + 4) bytes,
 * ring = 2 x interval / check + 1 buckets (9 with the defaults: 700 bytes
 * a host), allocated at once and committed by the kernel as hosts are
 * touched.  The aggregator bounds the hosts (max_hosts) and counts those it
 * has no room for.
 */
#ifndef MAMORI_FASTPATH_H
#define MAMORI_FASTPATH_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/classes.h"
#include "mamori/config.h"

/* The ceilings the fast path checks: the [group] keys of the same name. */
enum mm_fast_ceiling {
	MM_FCE_PPS = 0,   /* ceiling_pps: packets in */
	MM_FCE_MBPS,      /* ceiling_mbps: bytes in */
	MM_FCE_FLOWS,     /* ceiling_flows: flows in */
	MM_FCE_TCP_PPS,   /* ceiling_tcp_pps */
	MM_FCE_UDP_PPS,   /* ceiling_udp_pps */
	MM_FCE_ICMP_PPS,  /* ceiling_icmp_pps */
	MM_FCE_SYN_PPS,   /* ceiling_syn_pps: packets of SYN-only flows in */
	MM_FCE_AMP_PPS,   /* ceiling_amp_pps: unsolicited amplification packets in */
	MM_FCE_OUT_PPS,   /* ceiling_out_pps: packets out */
	MM_FCE_OUT_MBPS,  /* ceiling_out_mbps: bytes out */
	MM_FCE_COUNT
};
/* The config key ("ceiling_pps", ...); NULL out of range. */
const char *mm_fast_ceiling_name(enum mm_fast_ceiling c);
/* By config key, or -1. */
int mm_fast_ceiling_parse(const char *name);
/* The class a crossing of c raises. */
enum mm_class mm_fast_ceiling_class(enum mm_fast_ceiling c);
/* The unit the ceiling and the rates of an event are in: "pps", "Mbit/s", "flows/s". */
const char *mm_fast_ceiling_unit(enum mm_fast_ceiling c);

/* One group's ceilings over one interval. */
struct mm_fast_limits {
	uint8_t on;                      /* combine lets a ceiling fire alone */
	uint32_t sampling_rate;          /* the group's 1:N */
	uint32_t min_sampled;            /* min_sampled_packets */
	uint64_t min_scaled;             /* min_sampled x sampling_rate: scaled packets behind a crossing */
	double ceiling[MM_FCE_COUNT];    /* as configured, per second (Mbit/s for the MBPS ones); 0 = off */
	uint64_t limit[MM_FCE_COUNT];    /* the same, as a count in one interval (bytes for MBPS) */
};
void mm_fast_limits_from_group(struct mm_fast_limits *l, const struct mm_group_cfg *g, uint32_t interval_ms);

struct mm_fast_params {
	uint32_t interval_ms;            /* a multiple of check_ms, at most MM_FAST_MAX_CHECKS of them */
	uint32_t check_ms;
	uint32_t repeat_ms;              /* a host still over is reported again this often */
	uint32_t max_hosts;              /* indices 0 .. max_hosts - 1 */
	uint32_t max_events;             /* per check; hosts beyond wait for the next one (counted) */
	const struct mm_group_cfg *groups; /* their ceilings are copied */
	unsigned ngroups;
};
/* From [fastpath], [window] (repeat: one step, max_hosts) and the groups. */
void mm_fast_params_from_config(struct mm_fast_params *p, const struct mm_config *c);

/* One record, one side of it, as the aggregator hands it over. */
struct mm_fast_rec {
	uint64_t start_ms, end_ms;       /* start <= end */
	uint64_t bytes, pkts;            /* sampling-scaled */
	uint64_t flows;                  /* scaled: the sampling rate */
	uint8_t pclass;                  /* 0 TCP, 1 UDP, 2 ICMP, 3 other */
	uint8_t syn;                     /* TCP, SYN without ACK */
	int8_t amp;                      /* UDP from an amplification port: mm_amp_slot, else -1 */
};

/* A crossing, as reported by the check and carried in the stream. */
struct mm_fast_event {
	uint8_t addr[16];                /* IPv4 IPv4-mapped */
	uint8_t cls;                     /* enum mm_class */
	uint8_t ceiling;                 /* enum mm_fast_ceiling crossed furthest */
	int8_t vector;                   /* amplification: its slot (mm_amp_slot_name), else -1 */
	uint8_t repeat;                  /* 0: went over now; 1: still over */
	uint32_t interval_ms;
	uint64_t time_ms;                /* the check's clock */
	uint64_t first_ms;               /* when it went over (this episode) */
	uint64_t data_end_ms;            /* end of the interval that crossed, flow time */
	double rate;                     /* the ceiling's counter per second, in its unit */
	double limit;                    /* the ceiling, same unit */
	double class_pps;                /* the class's feature (docs/detections.md), packets/s:
					  * flood_pkts_in, syn_pkts_in, amp_pkts_in, pkts_out */
	double sampled;                  /* sampled packets behind it (estimate: scaled / the group's rate) */
	char collector[MM_NAME_MAX];     /* who saw it (filled by the sender and the parser) */
};

typedef void (*mm_fast_fn)(void *arg, const struct mm_fast_event *e);

struct mm_fast_stats {
	uint64_t records;                /* record sides counted (a record has one per tracked end) */
	uint64_t late;                   /* ... ending before the ring: not counted */
	uint64_t future;                 /* ... ending after it: moved back */
	uint64_t checks;
	uint64_t hosts_checked;          /* host evaluations */
	uint64_t events;                 /* crossings reported (repeats included) */
	uint64_t repeats;
	uint64_t deferred;               /* host evaluations put off: max_events reached */
};

struct mm_fast;

/* NULL on a bad parameter or no memory.  now_ms sets the clock. */
struct mm_fast *mm_fast_new(const struct mm_fast_params *p, uint64_t now_ms);
void mm_fast_free(struct mm_fast *f);
/* A reload, in two halves so that it can be refused at no cost: the
 * ceilings of these groups, prepared (NULL when out of memory; nothing
 * changed), then put in force (the interval and check stay; hosts keep
 * their counts) or dropped.  A host whose group index is past the groups
 * in force is checked against group 0's. */
struct mm_fast_limits *mm_fast_groups_prepare(const struct mm_fast *f, const struct mm_group_cfg *groups, unsigned n);
void mm_fast_groups_commit(struct mm_fast *f, struct mm_fast_limits *lim, unsigned n);
void mm_fast_groups_drop(struct mm_fast_limits *lim);
/* Host index `host` now belongs to `group` (a reload moved it). */
void mm_fast_host_group(struct mm_fast *f, uint32_t host, unsigned group);
/* Host index `host` is no longer monitored: its counts and states go, so
 * it raises nothing (until mm_fast_host_new gives the index again). */
void mm_fast_host_forget(struct mm_fast *f, uint32_t host);

/* Index `host` now holds addr, of group `group`: its counts start empty. */
void mm_fast_host_new(struct mm_fast *f, uint32_t host, const uint8_t addr[16], unsigned group);
/* Count one side of a record: out = 0 for its destination, 1 for its
 * source.  No allocation, no system call. */
void mm_fast_count(struct mm_fast *f, uint32_t host, int out, const struct mm_fast_rec *r);
/* Whether the source side of a record of protocol class pclass counts at
 * all: only when some checked group has an outbound ceiling, or (UDP) an
 * amplification ceiling, which subtracts the host's own UDP out.  The
 * aggregator skips the others (half the work with the default keys). */
int mm_fast_wants_out(const struct mm_fast *f, int pclass);
/* A hint: host's header and the bucket of end_ms will be written soon (the
 * aggregator's pipeline calls it a few records ahead).  Changes nothing. */
void mm_fast_prefetch(const struct mm_fast *f, uint32_t host, uint64_t end_ms);
/* Move the clock to now_ms and evaluate every host counted since the last
 * check; fn gets each crossing (pointer valid during the call only).
 * Returns the number of events. */
unsigned mm_fast_check(struct mm_fast *f, uint64_t now_ms, mm_fast_fn fn, void *arg);

/* The largest count of what ceiling c looks at (packets, bytes, flows) in
 * any interval the ring holds for `host`, as the check compares it with
 * the ceiling x interval; 0 for an index out of range. */
uint64_t mm_fast_host_peak(const struct mm_fast *f, uint32_t host, enum mm_fast_ceiling c);

const struct mm_fast_stats *mm_fast_stats(const struct mm_fast *f);
size_t mm_fast_memory(const struct mm_fast *f);
/* Buckets in a host's ring. */
unsigned mm_fast_ring_buckets(const struct mm_fast *f);

/*
 * The stream format (docs/redis-schema.md): field/value pairs.  fields
 * fills names[] and vals[] (each value up to MM_FAST_VAL_MAX bytes with its
 * NUL) and returns how many; collector is the sender's id.  parse takes
 * them back (any order, unknown fields ignored), NUL-terminated values of
 * the given lengths; 0, or -1 for an entry that is not a valid event of
 * this version.
 */
#define MM_FAST_FIELDS 15
#define MM_FAST_VAL_MAX 64
#define MM_FAST_VERSION 1
size_t mm_fast_event_fields(const struct mm_fast_event *e, const char *collector,
			    const char *names[MM_FAST_FIELDS], char vals[MM_FAST_FIELDS][MM_FAST_VAL_MAX]);
int mm_fast_event_parse(size_t n, const char *const *names, const char *const *vals, const size_t *lens,
			struct mm_fast_event *e);

/* Does a reported crossing hold under these limits (the reader's own
 * configuration: the group on, the ceiling configured, the rate at or
 * above it, enough sampled packets)?  1 or 0. */
int mm_fast_confirms(const struct mm_fast_limits *l, const struct mm_fast_event *e);

#endif
