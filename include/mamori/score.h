/*
 * score.h - the detector's scoring core: features of a host window, the
 * adaptive baselines (per host, per group, time of week, a recurring-burst
 * memory) and the per-class decision.  Pure: no I/O, no clock, no globals;
 * the daemon reads windows from Redis, calls these, and keeps the state.
 * What each class looks at, its defaults and why: docs/detections.md.
 *
 * Units.  A *rate* feature is a sampling-scaled counter divided by the span
 * it covers (packets/s, bytes/s, flows/s).  A *distinct* feature (peers,
 * ports: HyperLogLog over the sampled records) is a count over the span.
 * Every feature also carries the *sampled* count behind it, since
 * "how many packets were actually seen" decides whether anything can be
 * said at 1:1000: counters scaled / sampling rate, distinct counts as they
 * are.  struct mm_hoststep does not carry the sampling rate its counters
 * were scaled with (it sums records of any rate), so the sampled count is
 * an ESTIMATE: scaled / the group's configured `sampling_rate`.  Exact
 * sampled counts would need unscaled counters in the window.
 *
 * Scoring, per class (the brief's recipe): expected = baseline mean x the
 * group's time-of-week factor, both in sampled units over the scored span;
 * spread = max(the baseline's sigma, the Poisson floor); score =
 * (observed - expected) / spread.  The floor is the brief's
 * sqrt(expected), refined to (sqrt(observed) + sqrt(expected)) / 2 so that
 * scores keep their meaning in the far tail of small counts (see
 * detector/sampled.h), with expected taken as at least 1.  A class hits when its score
 * reaches `score_investigate` (or a ceiling is crossed, per `combine`) with
 * at least the minimum of sampled packets or flows, and fires (is
 * confirmed) when it hit in M of the last N steps.
 */
#ifndef MAMORI_SCORE_H
#define MAMORI_SCORE_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/classes.h"
#include "mamori/config.h"
#include "mamori/window.h"

/* ---- features ------------------------------------------------------- */

/*
 * The detection features: what the classes score and the baselines learn.
 * "Residual" inbound features leave out what a more specific class owns
 * (SYN-only packets, unsolicited amplification), so that one attack raises
 * one class.  Which window a feature is learnt and scored on is its kind
 * (mm_feat_info): the fast window ([window] steps) for floods, the slow
 * window ([detector] slow_window_steps) for scans, brute force and
 * exfiltration.
 */
enum mm_feat {
	MM_F_TCP_PKTS_IN = 0,  /* TCP packets in, SYN-only ones excluded (pps) */
	MM_F_UDP_PKTS_IN,      /* UDP packets in, amplification excluded (pps) */
	MM_F_ICMP_PKTS_IN,     /* ICMP/ICMPv6 packets in (pps) */
	MM_F_OTHER_PKTS_IN,    /* other protocols in (GRE, ESP, ...) (pps) */
	MM_F_FLOOD_PKTS_IN,    /* the four above together (pps) */
	MM_F_SYN_PKTS_IN,      /* packets of SYN-only TCP flows in (pps) */
	MM_F_AMP_PKTS_IN,      /* unsolicited amplification: UDP in from a service port
				* beyond the host's own UDP out (pps) */
	MM_F_AUTH_FLOWS_IN,    /* TCP flows to an auth port of the host (flows/s) */
	MM_F_PKTS_OUT,         /* every packet out (pps) */
	MM_F_FLOOD_PKTS_OUT,   /* UDP + ICMP + other + SYN-only packets out (pps) */
	MM_F_BYTES_OUT,        /* bytes out (B/s) */
	MM_F_SYN_FLOWS_OUT,    /* SYN-only TCP flows out: unanswered probes (flows/s) */
	MM_F_SMALL_FLOWS_OUT,  /* flows of <= 3 exported packets out (flows/s) */
	MM_F_PEERS_OUT,        /* distinct destinations (count over the span) */
	MM_F_DPORTS_OUT,       /* distinct destination ports (count over the span) */
	MM_F_AUTH_FLOWS_OUT,   /* TCP flows to auth ports elsewhere (flows/s) */
	MM_F_COUNT
};

enum mm_feat_unit { MM_U_PKTS, MM_U_BYTES, MM_U_FLOWS, MM_U_DISTINCT };
enum mm_feat_window { MM_W_FAST, MM_W_SLOW };

struct mm_feat_info {
	const char *name;          /* stable: evidence, docs, tests */
	enum mm_feat_unit unit;    /* rate units: pps, B/s, flows/s; distinct: a count */
	enum mm_feat_window window;
};
const struct mm_feat_info *mm_feat_info(enum mm_feat f);
/* Unit text for evidence: "pps", "B/s", "flows/s", "distinct". */
const char *mm_feat_unit_name(enum mm_feat f);

struct mm_features {
	double span_s;                 /* seconds the window covers */
	uint32_t sampling_rate;        /* assumed 1:N (see the top of this file) */
	double rate[MM_C_COUNT];       /* every counter per second (scaled) */
	double sampled[MM_C_COUNT];    /* every counter's sampled count: scaled / N */
	double distinct[MM_S_COUNT];   /* HLL estimates over the span */
	double value[MM_F_COUNT];      /* detection features, units as mm_feat_info */
	double value_sampled[MM_F_COUNT]; /* sampled count behind each */
	int amp_vector;                /* amplification slot with most bytes in, -1 none */
	double amp_matched_sampled;    /* amplification packets in matched by UDP out:
					* min(the two), sampled (a resolver's answers) */
	double amp_sampled;            /* amplification packets in, every slot, sampled */
	double top_peer_in_sampled;    /* packets of the largest source in (top-K), sampled */
};

/* Features of `h` (a step, or a window of steps summed) covering span_s
 * seconds, counters scaled with 1:sampling_rate (0 is taken as 1). */
void mm_features_compute(const struct mm_hoststep *h, double span_s, uint32_t sampling_rate,
			 struct mm_features *out);
/* Mbit/s of a byte counter's rate. */
double mm_features_mbps(const struct mm_features *f, enum mm_ctr bytes_ctr);

/* What is scored at one step: the fast window and the slow window of one
 * host (or prefix aggregate).  Features of kind MM_W_SLOW come from `slow`
 * (NULL = `fast`).  step is the scored step (its time of week). */
struct mm_view {
	const struct mm_features *fast;
	const struct mm_features *slow;
	uint64_t step;
	int external;  /* a source outside every group: only source-side classes */
};
/* The features struct a feature is read from. */
const struct mm_features *mm_view_of(const struct mm_view *v, enum mm_feat f);

/* ---- parameters (a group's detection keys) -------------------------- */

struct mm_detect_params {
	uint32_t step_s;               /* [window] step: time of day / week */
	uint32_t sampling_rate;
	double min_sampled_packets;
	double min_sampled_flows;
	double min_reflectors;
	/* ceilings, scaled per second, 0 = off */
	double ceiling_pps, ceiling_bytes_s, ceiling_flows;
	double ceiling_tcp_pps, ceiling_udp_pps, ceiling_icmp_pps;
	double ceiling_syn_pps, ceiling_amp_pps;
	double ceiling_out_pps, ceiling_out_bytes_s;
	double single_source_pps;      /* flood from one source: packets/s in it needs, 0 = off */
	double min_flood_pps;          /* a flood's rise, scaled packets/s, for the baseline path */
	double min_outbound_pps;       /* the same for an outbound flood */
	double min_exfil_bytes_s;      /* exfiltration's rise in bytes/s out, the same */
	double score_investigate, score_act;
	enum mm_combine combine;
	unsigned confirm_fast_hits, confirm_fast_steps;   /* M of N, N <= 16 */
	unsigned confirm_slow_hits, confirm_slow_steps;
	/* learning */
	double alpha;                  /* EWMA weight per step */
	unsigned warmup_steps;
	unsigned group_warmup_steps;  /* a group baseline sees every host each step: warm sooner */
	double learn_clip;             /* sigmas */
	int time_of_week;
};

/* The documented defaults (equal to the config table's: test_score). */
void mm_detect_params_default(struct mm_detect_params *p);
/* A group's keys (and [window] step) as parameters. */
void mm_detect_params_from_group(struct mm_detect_params *p, const struct mm_config *c,
				 const struct mm_group_cfg *g);
/* The slow window the detector reads: slow_window_steps, at least the
 * window and at most what the retention keeps. */
uint32_t mm_slow_window_steps(const struct mm_config *c);

/* ---- time ----------------------------------------------------------- */

#define MM_TOW_SLOTS 168 /* hours of the week, Monday 00:00 UTC first */
unsigned mm_tow_slot(uint64_t step, uint32_t step_s);

/* ---- baselines ------------------------------------------------------ */

/*
 * A recurring daily burst of bytes out (a nightly backup): learnt when the
 * host's bytes out are hot for at most MM_BURST_MAX_HOURS at about the same
 * hour on MM_BURST_LEARN_DAYS consecutive days; while it holds, the burst
 * level is expected during those hours and exfiltration does not fire on
 * it.  A burst hot all day is not a schedule: it erases the memory.
 */
#define MM_BURST_MAX_HOURS 6
#define MM_BURST_LEARN_DAYS 2
struct mm_burst {
	float level;        /* learnt burst level, B/s */
	float cand_level;   /* today's peak while hot */
	uint16_t day;       /* day (mod 2^16) the memory was last confirmed */
	uint16_t cand_day;  /* the day cand_* describe */
	uint16_t cand_steps;/* hot steps today */
	uint8_t hour;       /* hour of day the learnt burst starts (UTC) */
	uint8_t hours;      /* its length in hours, 1..MM_BURST_MAX_HOURS */
	uint8_t days;       /* consecutive days seen, saturating */
	uint8_t cand_hour;  /* hour today's burst started */
};

/*
 * One baseline: a host's own, a prefix aggregate's, or a group's (the
 * typical host a cold host falls back to).  Per feature an EWMA mean and
 * variance of the de-seasonalised value (value / time-of-week factor), in
 * the feature's units.  sizeof = 156 bytes on every ABI we build for
 * (8 + 16 x 8 + 20); with struct mm_confirm (24) a host costs 180 bytes.
 */
struct mm_baseline {
	uint32_t last_step;    /* last step learnt or skipped as hot, 0 = never
				* (32 bits: step numbers until 2106 at 1 s steps) */
	uint16_t updates;      /* steps learnt, saturating: warm at warmup_steps */
	uint16_t flags;        /* reserved, 0 */
	float mean[MM_F_COUNT];
	float var[MM_F_COUNT];
	struct mm_burst burst;
};

void mm_baseline_init(struct mm_baseline *b);
int mm_baseline_warm(const struct mm_baseline *b, const struct mm_detect_params *p);
/* A group's typical host: warm after group_warmup_steps. */
int mm_group_baseline_warm(const struct mm_baseline *b, const struct mm_detect_params *p);

/*
 * Group time-of-week profile: per hour of the week and feature, the EWMA of
 * the group's mean host value; factor = slot / mean of the learnt slots,
 * 1 until the slot and a day of slots are learnt, clamped to [1/8, 8].
 * sizeof is about 11.5 KiB per group.
 */
struct mm_tow {
	float slot_mean[MM_TOW_SLOTS][MM_F_COUNT];
	uint32_t slot_n[MM_TOW_SLOTS];
	float level[MM_F_COUNT];  /* mean of the learnt slots, cached */
	unsigned learnt_slots;
};
void mm_tow_init(struct mm_tow *t);
/* Factor of feature f at `step` (1 with tow NULL or time_of_week off). */
double mm_tow_factor(const struct mm_tow *t, const struct mm_detect_params *p, uint64_t step, enum mm_feat f);

/*
 * Learning one step.  hot: the host (or prefix) hit some class this step or
 * has an open incident: mean and variance stay as they are (the attack is
 * not learnt), the step only moves last_step.  bytes_out_hot: exfiltration's
 * raw score was hot (mm_score_result), fed to the burst memory, which
 * learns even while hot: that is its job.  Steps between last_step and
 * v->step are learnt as silent (zero) windows, at most 4 / alpha of them.
 * Innovations are clipped to +-learn_clip sigma once warm (sigma taken as
 * at least the Poisson spread and at most 0.2 x the mean), so a step moves
 * the mean by at most alpha x learn_clip x sigma and a slow ramp cannot
 * teach the baseline the attack.
 */
void mm_baseline_learn(struct mm_baseline *b, const struct mm_detect_params *p, const struct mm_view *v,
		       const struct mm_tow *tow, int hot, int bytes_out_hot);

/* The group's accumulator for one step: the daemon adds every host that
 * was not hot, then learns the group baseline and profile from it. */
struct mm_group_acc {
	uint32_t n;
	double raw[MM_F_COUNT];       /* sum of values */
	double des[MM_F_COUNT];       /* sum of de-seasonalised values */
	double des_sq[MM_F_COUNT];    /* sum of their squares */
};
void mm_group_acc_init(struct mm_group_acc *a);
void mm_group_acc_add(struct mm_group_acc *a, const struct mm_detect_params *p, const struct mm_view *v,
		      const struct mm_tow *tow);
/* The group baseline learns the cross-host mean and variance (so a cold
 * host is judged against the spread of its group); the profile learns the
 * raw mean in the step's slot.  Either may be NULL.  Nothing with n = 0. */
void mm_group_learn(struct mm_baseline *group, struct mm_tow *tow, const struct mm_detect_params *p,
		    const struct mm_group_acc *a, uint64_t step);

/*
 * The blob kept in Redis per host: version 1, 160 bytes, little-endian:
 *   0 version (1)   1 feature count (16)   2 updates u16   4 last_step u32
 *   8 flags u16     10 burst (18 bytes: level f32, cand_level f32, day u16,
 *   cand_day u16, cand_steps u16, hour, hours, days, cand_hour)
 *   28 mean f32, var f32 per feature (128 bytes)
 *   156 check u32: low half of XXH64(bytes 0..155, seed 0x6d6d626c)
 */
#define MM_BASELINE_BLOB_VERSION 1
#define MM_BASELINE_BLOB_SIZE 160
size_t mm_baseline_encode(const struct mm_baseline *b, uint8_t out[MM_BASELINE_BLOB_SIZE]);
/* 0, or -1 when the blob is not a valid one (length, version, feature
 * count, check, a value that is not finite or out of range); *b is then
 * untouched. */
int mm_baseline_decode(const uint8_t *blob, size_t len, struct mm_baseline *b);

/* ---- scoring -------------------------------------------------------- */

/* Hit history per class for M-of-N confirmation, kept per host (and per
 * prefix aggregate) by the daemon next to its baseline: 24 bytes. */
struct mm_confirm {
	uint32_t last_step;            /* last step scored, 0 = never */
	uint16_t hits[MM_CLASS_COUNT]; /* bit 0 = that step */
};
void mm_confirm_init(struct mm_confirm *c);

enum mm_tier { MM_TIER_NONE = 0, MM_TIER_INVESTIGATE = 1, MM_TIER_ACT = 2 };
const char *mm_tier_name(enum mm_tier t);
/* Severity from how far past its threshold a class is (docs/detections.md). */
enum mm_severity { MM_SEV_NONE = 0, MM_SEV_LOW, MM_SEV_MEDIUM, MM_SEV_HIGH, MM_SEV_CRITICAL };
const char *mm_severity_name(enum mm_severity s);

/* Where the expectations came from. */
enum mm_expect_src { MM_EXP_NONE = 0, MM_EXP_GROUP, MM_EXP_OWN };
const char *mm_expect_src_name(enum mm_expect_src s);

/* Why a class did not hit although a feature was high (evidence, tests). */
enum mm_gate {
	MM_GATE_NONE = 0,
	MM_GATE_FEW_SAMPLES,  /* below min_sampled_packets / flows */
	MM_GATE_ANSWERED,     /* a conversation: the surge is answered (flash crowd, download) */
	MM_GATE_SHAPE,        /* not the class's shape (not mostly SYN, few reflectors, ...) */
	MM_GATE_EXPLAINED,    /* a more specific class explains it */
	MM_GATE_BURST,        /* the host's learnt daily burst (backup) */
	MM_GATE_NO_BASELINE,  /* nothing to compare with and no ceiling crossed */
	MM_GATE_SMALL,        /* the rise is under the group's min_flood_pps / min_exfil_kbps */
};
const char *mm_gate_name(enum mm_gate g);

/* One feature against its expectation, in sampled units over its span. */
struct mm_feat_score {
	double observed, expected, spread, score;
	double observed_rate, expected_rate; /* the same in the feature's units */
};

struct mm_class_score {
	float score;          /* baseline score (sigmas) of the deciding feature */
	uint8_t hit;          /* this step, per combine (gates and minimums passed) */
	uint8_t sustain;      /* at least half way to a hit: keeps an open incident */
	uint8_t confirmed;    /* hit in M of the last N steps: fire */
	uint8_t ceiling;      /* a ceiling was crossed this step */
	uint8_t tier;         /* enum mm_tier when hit, NONE otherwise */
	uint8_t severity;     /* enum mm_severity when hit */
	uint8_t gate;         /* enum mm_gate: why a high feature did not hit */
	int8_t vector;        /* amplification: slot (mm_amp_slot_name); scans:
			       * 0 horizontal, 1 vertical; bruteforce: 0 source
			       * side, 1 target side; -1 otherwise */
	uint8_t feature;      /* enum mm_feat that decided */
	uint8_t ceiling_ctr;  /* enum mm_ctr of the ceiling crossed (if ceiling) */
	double observed_rate; /* of the deciding feature, its units */
	double expected_rate;
	double sampled;       /* sampled count behind observed_rate */
};

struct mm_score_result {
	struct mm_class_score cls[MM_CLASS_COUNT];
	struct mm_feat_score feat[MM_F_COUNT];
	enum mm_expect_src source;
	int hot;            /* some class hit, or a learnt burst runs: freeze learning */
	int bytes_out_hot;  /* exfiltration's raw score was hot: the burst memory */
};

/*
 * Score one host at v->step.  host: its own baseline (may be NULL or
 * cold); group: its group's (may be NULL or cold); tow may be NULL.  The
 * own baseline is used once warm, else the group's once warm, else none:
 * then volume classes can only fire on ceilings.  The slow classes
 * (scans, brute force, exfiltration) need the host's own warm baseline;
 * an external source (v->external) is scored on them against zero.  confirm is
 * updated (the step's hits shifted in).  Returns 0.
 */
int mm_score_host(const struct mm_detect_params *p, const struct mm_view *v, const struct mm_baseline *host,
		  const struct mm_baseline *group, const struct mm_tow *tow, struct mm_confirm *confirm,
		  struct mm_score_result *out);

/*
 * Score a prefix aggregate (the hoststeps of a /24 or /64 summed) for
 * carpet bombing against the prefix's own baseline: the flood, SYN and
 * amplification features of the sum.  top_host_excess: the largest inbound
 * excess (mm_inbound_excess) of one host of the prefix whose own inbound
 * classes hit this step, 0 when none hit.  When that host carries at
 * least MM_CARPET_HOST_SHARE of the prefix's excess it is the target and
 * its own incident tells the story (gate EXPLAINED); below, the attack is
 * spread over the prefix, whatever single hosts also crossed.
 * Only cls[MM_CLASS_CARPET_BOMBING] is set.  Returns 0.
 */
#define MM_CARPET_HOST_SHARE 0.5
int mm_score_prefix(const struct mm_detect_params *p, const struct mm_view *v, const struct mm_baseline *prefix,
		    const struct mm_tow *tow, double top_host_excess, struct mm_confirm *confirm,
		    struct mm_score_result *out);
/* Sampled inbound packets above expectation in a result: the flood, SYN
 * and amplification features' (observed - expected), those above 0. */
double mm_inbound_excess(const struct mm_score_result *r);

#endif
