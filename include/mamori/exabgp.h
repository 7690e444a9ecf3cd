/*
 * exabgp.h - the blackhole / FlowSpec hand-off (docs/exabgp.md): incident
 * events of the alert stream (docs/alerts.md) turned into the text API
 * lines ExaBGP reads from a process it runs (`mamori exabgp`,
 * cli/cmd_exabgp.c).  Pure: no I/O, no clock.
 *
 * On the start of an incident of a chosen class at or above the chosen
 * tier (or an update that raises it there), the victim's route is
 * announced; on its end, withdrawn.  Two actions:
 *   blackhole  announce route 203.0.113.5/32 next-hop self community [65535:666]
 *              (RFC 7999 BLACKHOLE by default); withdraw route 203.0.113.5/32
 *   flowspec   announce flow route { match { destination 203.0.113.5/32;
 *              protocol udp; source-port =53; } then { discard; } }
 *              (protocol from the incident's feature, the source port from an
 *              amplification's vector, SYN floods `tcp-flags [ syn ]`; IPv6
 *              as destination X/128/0 and next-header; rate-limit N instead
 *              of discard when configured); withdraw flow route { match { ... } }
 * Incidents that lead to the same route share it: it is withdrawn when
 * the last of them ends.  At most max_routes routes at once; a start
 * beyond that is refused and counted, never silently dropped.
 *
 * Every value in a line is re-rendered from parsed binary values (an
 * address, a port, a table's protocol name): nothing from the stream is
 * copied into a line, so a forged event cannot inject a command.
 */
#ifndef MAMORI_EXABGP_H
#define MAMORI_EXABGP_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"
#include "mamori/prefix.h"

#define MM_EXABGP_LINE_MAX 256

enum mm_exabgp_action { MM_EXABGP_BLACKHOLE = 0, MM_EXABGP_FLOWSPEC = 1 };

struct mm_exabgp_params {
	int action;             /* enum mm_exabgp_action */
	uint32_t classes;       /* bit (1 << enum mm_class) per chosen class */
	int min_tier;           /* enum mm_tier */
	char next_hop[64];      /* "self" or an address */
	uint16_t community_asn, community_value;
	uint32_t rate_limit;    /* flowspec: 0 = discard, else rate-limit bytes/s */
	uint32_t max_routes;
};

/* Config checks (config.c) and the parsers behind them: NULL when fine,
 * else why not. */
const char *mm_exabgp_check_action(const char *v);
const char *mm_exabgp_check_classes(const char *v);
const char *mm_exabgp_check_next_hop(const char *v);
const char *mm_exabgp_check_community(const char *v);
/* The [exabgp] section as parameters.  0, or -1 (a value the checks
 * would have refused: a config not loaded through mm_config_load). */
int mm_exabgp_params_from_config(struct mm_exabgp_params *p, const struct mm_config *c);

/* One incident event as the hand-off needs it. */
struct mm_exabgp_event {
	int event;              /* enum mm_incident_event: start, update, end */
	char id[17];            /* 16 hex digits */
	int cls;                /* enum mm_class */
	int tier;               /* enum mm_tier */
	struct mm_prefix target;/* the host (/32, /128) or the prefix */
	uint16_t src_port;      /* amplification: the vector's UDP source port, 0 = none */
	uint8_t proto;          /* IP protocol of the flood (6, 17, 1), 0 = any */
	uint8_t syn;            /* a SYN flood */
};

/* One alert JSON object (docs/alerts.md, schema 1), strictly: NULL, or
 * why it is refused (not an object, a member missing or malformed). */
const char *mm_exabgp_event_parse(const char *json, struct mm_exabgp_event *ev);

/* The announce and withdraw lines for an event (no newline), whatever its
 * class and tier.  0, or -1 when they do not fit. */
int mm_exabgp_rule(const struct mm_exabgp_params *p, const struct mm_exabgp_event *ev, char *announce,
		   size_t alen, char *withdraw, size_t wlen);

/* Receives each line to hand to ExaBGP. */
typedef void (*mm_exabgp_out_fn)(void *arg, const char *line);

struct mm_exabgp_stats {
	uint64_t events;        /* events fed */
	uint64_t announced;     /* announce lines */
	uint64_t withdrawn;     /* withdraw lines */
	uint64_t shared;        /* starts whose route was already announced */
	uint64_t refused;       /* starts beyond max_routes (or the incident table) */
	uint64_t ignored;       /* events of other classes, lower tiers, unknown ends */
	uint32_t routes;        /* announced now */
};

struct mm_exabgp;
/* NULL on no memory.  p is copied. */
struct mm_exabgp *mm_exabgp_new(const struct mm_exabgp_params *p);
void mm_exabgp_free(struct mm_exabgp *x);
/* Feed one event: out (NULL = keep the state only, as when rebuilding
 * from the stream's history) gets the lines it leads to.  Returns how many
 * lines it led to. */
int mm_exabgp_feed(struct mm_exabgp *x, const struct mm_exabgp_event *ev, mm_exabgp_out_fn out, void *arg);
/* Announce every route held (after a silent rebuild): ExaBGP may have
 * started afresh, and announcing again what it has is harmless. */
int mm_exabgp_announce_all(struct mm_exabgp *x, mm_exabgp_out_fn out, void *arg);
const struct mm_exabgp_stats *mm_exabgp_stats(const struct mm_exabgp *x);

#endif
