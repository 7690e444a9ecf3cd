/*
 * incident.h - one alert per incident: the lifecycle of what the scoring
 * core (score.h) confirms, pure (no I/O, no clock: the caller gives the
 * step).
 *
 * One incident per (host or prefix, class).  It starts on the first
 * confirmed hit, is updated at most every `update_steps` while the class
 * keeps being seen (its "sustain" level, half way to a hit, so that an
 * attack hovering at the threshold does not flap), and ends after
 * `calm_steps` steps without it.  Every event goes through one callback:
 * start, update, end, each carrying the incident (id, class, tier,
 * severity, peak and current rates, evidence).  The table of open
 * incidents is bounded (`max_open`); a start it has no room for is refused
 * and counted.  A start raised elsewhere (the collector's fast path) is
 * adopted: the same incident continues, never a second one.
 *
 * The id is stable for the incident's life: the low 64 bits of XXH64 over
 * (address, prefix length, class, start step) in hex, which anyone who
 * raises a start can compute the same way (mm_incident_id).
 */
#ifndef MAMORI_INCIDENT_H
#define MAMORI_INCIDENT_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"
#include "mamori/score.h"
#include "mamori/window.h"

#define MM_INCIDENT_ID_LEN 16       /* hex digits, without the NUL */
#define MM_EVIDENCE_FEATS 4
#define MM_EVIDENCE_COLLECTORS 4

/* What an incident is about.  A host is its address with plen 128 (IPv4
 * IPv4-mapped, as everywhere); a prefix aggregate (carpet bombing) its
 * first address and length.  Bytes past plen must be zero. */
struct mm_incident_key {
	uint8_t addr[16];
	uint8_t plen;
	uint8_t cls; /* enum mm_class */
};

struct mm_evidence_feat {
	uint8_t feature;        /* enum mm_feat */
	float current;          /* observed, feature units (mm_feat_unit_name) */
	float baseline;         /* expected */
	float score;            /* sigmas */
};

/* The evidence an analyst reads: current against baseline for the
 * features that carry the class, the top ports and peers from the
 * window's top-K, the distinct sources or destinations, who saw it and how
 * complete the data was. */
struct mm_evidence {
	unsigned nfeat;
	struct mm_evidence_feat feat[MM_EVIDENCE_FEATS];
	uint8_t ports_kind;      /* enum mm_topk_ports the ports come from */
	uint8_t peers_out;       /* peers are destinations (1) or sources (0) */
	int8_t vector;           /* as mm_class_score.vector */
	uint8_t source;          /* enum mm_expect_src */
	struct mm_topk_port ports[MM_TOPK];
	struct mm_topk_addr peers[MM_TOPK];
	double distinct_peers;   /* reflectors / sources in, or destinations out */
	unsigned ncollectors;    /* listed in collectors[] */
	unsigned more_collectors;/* not listed */
	char collectors[MM_EVIDENCE_COLLECTORS][MM_NAME_MAX];
	double completeness;     /* 0..1 share of the export that arrived, -1 unknown */
};

/* Evidence of class k from a score result.  topk: the window whose top-K
 * lists to quote (NULL: none).  Collectors and completeness are left
 * empty / unknown: mm_evidence_set_collectors, ev->completeness. */
void mm_evidence_fill(struct mm_evidence *ev, enum mm_class k, const struct mm_score_result *r,
		      const struct mm_hoststep *topk);
void mm_evidence_set_collectors(struct mm_evidence *ev, const char (*ids)[MM_NAME_MAX], unsigned n,
				unsigned more);

/* A start raised by a collector's fast path (fastpath.h): who saw which
 * ceiling crossed, when, by how much.  on = 0: none. */
struct mm_incident_fast {
	uint8_t on;
	uint8_t ceiling;         /* enum mm_fast_ceiling */
	uint32_t interval_ms;    /* the rate's interval */
	uint64_t time_ms;        /* the collector's check that crossed */
	double rate, limit;      /* the ceiling's counter per second and the ceiling (mm_fast_ceiling_unit) */
	char collector[MM_NAME_MAX];
};

struct mm_incident {
	char id[MM_INCIDENT_ID_LEN + 1];
	struct mm_incident_key key;
	uint64_t start_step;     /* first confirmed hit, or the adopted start */
	uint64_t last_seen_step; /* last step the class was sustained */
	uint64_t last_emit_step; /* the start or the last update */
	uint64_t end_step;       /* set in the end event */
	uint8_t tier;            /* enum mm_tier: the highest reached (only rises) */
	uint8_t severity;        /* enum mm_severity: the latest */
	uint8_t peak_severity;
	uint8_t feature;         /* enum mm_feat the rates are of */
	uint8_t adopted;         /* started outside (mm_incidents_adopt) */
	float score, peak_score;
	double current_rate;     /* the latest, feature units */
	double peak_rate;
	double baseline_rate;    /* expected, at the latest */
	uint32_t updates;        /* update events so far */
	char merged_id[MM_INCIDENT_ID_LEN + 1]; /* an adopted start merged into this one ("" none) */
	struct mm_incident_fast fast; /* the fast path's crossing that started it, or also saw it */
	struct mm_evidence ev;   /* the latest */
	/* bookkeeping */
	uint8_t dirty;           /* seen since the last event */
	uint8_t escalated;       /* tier rose since the last event */
};

enum mm_incident_event { MM_INC_START = 0, MM_INC_UPDATE, MM_INC_END };
const char *mm_incident_event_name(enum mm_incident_event e);

/* The callback runs inside mm_incidents_* calls; inc is valid only during
 * the call (copy what is kept).  It must not call back into the table. */
typedef void (*mm_incident_fn)(void *arg, enum mm_incident_event ev, const struct mm_incident *inc);

struct mm_incident_params {
	uint32_t update_steps;   /* updates at most this often (>= 1) */
	uint32_t calm_steps;     /* this many steps without the class end it (>= 1) */
	uint32_t max_open;       /* open incidents at most (>= 1) */
};
void mm_incident_params_from_config(struct mm_incident_params *p, const struct mm_config *c);

/* What the scoring said about one (host, class) this step. */
struct mm_incident_obs {
	uint8_t confirmed;       /* may start an incident */
	uint8_t sustain;         /* keeps an open one going */
	uint8_t tier, severity, feature;
	float score;
	double rate, baseline_rate;
	const struct mm_evidence *ev; /* may be NULL */
};
void mm_incident_obs_from(struct mm_incident_obs *o, const struct mm_class_score *cs, const struct mm_evidence *ev);

struct mm_incident_stats {
	uint64_t started, adopted, merged, updates, ended;
	uint64_t refused;        /* starts and adoptions the full table turned away */
	uint32_t open;
};

struct mm_incidents;

/* NULL on a bad parameter or no memory.  Memory: about
 * max_open x (sizeof(struct mm_incident) + 8) bytes, reserved at once,
 * committed as incidents open. */
struct mm_incidents *mm_incidents_new(const struct mm_incident_params *p, mm_incident_fn fn, void *arg);
void mm_incidents_free(struct mm_incidents *t);
/* New update and calm intervals for every incident, open ones included (a
 * reload); max_open is fixed at creation.  0, or -1 for a zero. */
int mm_incidents_set_timing(struct mm_incidents *t, uint32_t update_steps, uint32_t calm_steps);

/*
 * One (key, class) at `step`.  Starts an incident on a confirmed hit when
 * none is open (emits start), or feeds the open one (sustain or confirmed:
 * rates, score, tier, evidence).  Returns 1 when it started one, 0
 * otherwise, -1 when a start was refused (table full, counted).
 */
int mm_incidents_observe(struct mm_incidents *t, const struct mm_incident_key *key, uint64_t step,
			 const struct mm_incident_obs *obs);

/*
 * Take over a start raised elsewhere, at `step`.  With an incident of the
 * key open, it continues (the raiser's id, when given and different, is
 * kept as merged_id and said in the next update); otherwise one opens with
 * start_step and id (NULL: mm_incident_id of the key and start_step),
 * without a start event: the raiser announced it.  Returns 1 (opened),
 * 0 (merged) or -1 (refused: table full, counted).
 */
int mm_incidents_adopt(struct mm_incidents *t, const struct mm_incident_key *key, uint64_t step,
		       uint64_t start_step, enum mm_tier tier, enum mm_severity severity, const char *id);

/*
 * A start raised elsewhere that this table announces: the collectors'
 * fast path reports a crossing to the detector, which owns the incident.
 * With no incident of the key open, one opens at start_step (adopted, its
 * id mm_incident_id of the key and start_step), fed with obs as seen at
 * `step`, and its start event goes out at once.  With one open (the step
 * scoring, or another collector, was first) it counts as seen at `step`,
 * which keeps it open; the tier only rises, and `fast` is kept if the
 * incident had none (said in its next event); no event.  Returns 1
 * (started), 0 (merged) or -1 (refused: table full, counted).
 */
int mm_incidents_raise(struct mm_incidents *t, const struct mm_incident_key *key, uint64_t step,
		       uint64_t start_step, const struct mm_incident_obs *obs, const struct mm_incident_fast *fast);

/* The end of a step, after every observation of it: updates that are due
 * (the interval passed and something was seen, or the tier rose), and ends
 * for incidents calm for calm_steps.  Returns the number of events. */
unsigned mm_incidents_end_step(struct mm_incidents *t, uint64_t step);
/* End every open incident at `step` (end of a replay).  Returns how many. */
unsigned mm_incidents_end_all(struct mm_incidents *t, uint64_t step);

const struct mm_incident *mm_incidents_find(const struct mm_incidents *t, const struct mm_incident_key *key);
struct mm_incident_stats mm_incidents_stats(const struct mm_incidents *t);

/* The stable id; out gets MM_INCIDENT_ID_LEN hex digits and a NUL. */
void mm_incident_id(const struct mm_incident_key *key, uint64_t start_step, char out[MM_INCIDENT_ID_LEN + 1]);
/* A host's key (plen 128). */
void mm_incident_key_host(struct mm_incident_key *key, const uint8_t addr[16], enum mm_class k);

#endif
