/*
 * score.c - the per-class decision (score.h, docs/detections.md).
 *
 * Every class is one function of the same shape: pick the feature(s) that
 * carry the class, score them against the expectation, apply the class's
 * gates (minimum of sampled packets or flows, the shape that tells the
 * attack from its benign look-alike), check its ceilings, and hand the lot
 * to decide(), which applies the group's `combine` mode, the tiers and the
 * severity in one place.
 */
#include <math.h>
#include <string.h>

#include "mamori/score.h"
#include "sampled.h"

/* A surge whose extra inbound packets are answered by at least this many
 * extra outbound ones is a conversation (flash crowd, download), not a
 * flood: floods are one-way. */
#define ANSWERED_RATIO 0.25
/* ... and the answer must be a real rise, not the noise of a quiet host's
 * few sampled packets out. */
#define ANSWERED_SIGMAS 3.0
/* A SYN flood's excess is mostly SYN-only packets; a flash crowd's is
 * mostly completed connections (SYN then data). */
#define SYN_SHARE 0.5
/* An open incident is kept while the class is at least half way to a hit:
 * level hysteresis on top of the calm steps. */
#define SUSTAIN_FRACTION 0.5
/* A learnt daily burst tolerates this much above its level. */
#define BURST_SPREAD 0.5
/* Scans: the extra probes reach at least half as many new destinations
 * (or ports); below it they are one conversation's retries. */
#define SCAN_SPREAD 0.5
/* "Small" flows (<= 3 exported packets) say something about the flow only
 * when the sampling keeps most packets: at 1:1000 nearly every sampled
 * record is small. */
#define MM_SMALL_FLOWS_MAX_RATE 10
/* Exfiltration goes to few peers: when the extra bytes are spread so that
 * each peer gets less than this many times its usual share, it is a crowd
 * being served. */
#define PER_PEER_RISE 2.0
/* A brute forcer's traffic is mostly its attempts: below this share of
 * its flows out, auth-port flows are a busy peer's mail or SSH among the
 * rest (a mail relay, a CDN). */
#define AUTH_SHARE 0.5
/* Exfiltration rests on a 5-minute window: it needs this many times the
 * volume minimum, so that one large upload of a quiet host is not it. */
#define EXFIL_MIN_FACTOR 5
/* An external source scored against zero is a scanner only when its
 * probes are most of what it sends: a busy client's sampled handshakes
 * are SYN-only records too, a small share among its data. */
#define EXT_PROBE_SHARE 0.5
/* Inbound packets that mostly (this share) come from one source are one
 * conversation (a call, a stream, a transfer) unless they reach the
 * group's single_source_pps. */
#define SINGLE_SOURCE_SHARE 0.8
/* Exfiltration goes to few destinations: when the host reaches at least
 * CROWD_PEERS more destinations than usual over the slow window, and that
 * rise is itself significant (a busy host's fan-out varies by more), the bytes
 * are a crowd being served (a flash crowd on a quiet host, whose per-peer
 * baseline is too small for PER_PEER_RISE to say so). */
#define CROWD_PEERS 20
/* Bytes per packet out below which the window is not a bulk transfer. */
#define EXFIL_MIN_PKT_BYTES 200

static const char *const tier_names[] = { "none", "investigate", "act" };
static const char *const severity_names[] = { "none", "low", "medium", "high", "critical" };
static const char *const source_names[] = { "none", "group", "own" };
static const char *const gate_names[] = { "none", "few_samples", "answered", "shape",
					  "explained", "burst", "no_baseline", "small" };

const char *mm_tier_name(enum mm_tier t)
{
	return (unsigned)t < 3 ? tier_names[t] : NULL;
}

const char *mm_severity_name(enum mm_severity s)
{
	return (unsigned)s < 5 ? severity_names[s] : NULL;
}

const char *mm_expect_src_name(enum mm_expect_src s)
{
	return (unsigned)s < 3 ? source_names[s] : NULL;
}

const char *mm_gate_name(enum mm_gate g)
{
	return (unsigned)g < sizeof(gate_names) / sizeof(gate_names[0]) ? gate_names[g] : NULL;
}

/* ---- parameters ----------------------------------------------------- */

void mm_detect_params_default(struct mm_detect_params *p)
{
	memset(p, 0, sizeof(*p));
	p->step_s = 10;
	p->sampling_rate = 1000;
	p->min_sampled_packets = 10;
	p->min_sampled_flows = 4;
	p->min_reflectors = 3;
	p->ceiling_pps = 1000000;
	p->ceiling_bytes_s = 10000 * 1e6 / 8;
	p->ceiling_flows = 200000;
	p->ceiling_tcp_pps = 0;
	p->ceiling_udp_pps = 0;
	p->ceiling_icmp_pps = 100000;
	p->ceiling_syn_pps = 100000;
	p->ceiling_amp_pps = 50000;
	p->ceiling_out_pps = 0;
	p->single_source_pps = 10000;
	p->min_flood_pps = 200;
	p->min_outbound_pps = 500;
	p->min_exfil_bytes_s = 800e3 / 8;
	p->ceiling_out_bytes_s = 0;
	p->score_investigate = 6;
	p->score_act = 10;
	p->combine = MM_COMBINE_EITHER;
	p->confirm_fast_hits = 2;
	p->confirm_fast_steps = 3;
	p->confirm_slow_hits = 6;
	p->confirm_slow_steps = 9;
	p->alpha = 0.010;
	p->warmup_steps = 180;
	p->group_warmup_steps = 18;
	p->learn_clip = 3;
	p->time_of_week = 1;
}

void mm_detect_params_from_group(struct mm_detect_params *p, const struct mm_config *c,
				 const struct mm_group_cfg *g)
{
	mm_detect_params_default(p);
	p->step_s = c->step_s;
	p->sampling_rate = g->sampling_rate;
	p->min_sampled_packets = g->min_sampled_packets;
	p->min_sampled_flows = g->min_sampled_flows;
	p->min_reflectors = g->min_reflectors;
	p->ceiling_pps = g->ceiling_pps;
	p->ceiling_bytes_s = g->ceiling_mbps * 1e6 / 8;
	p->ceiling_flows = g->ceiling_flows;
	p->ceiling_tcp_pps = g->ceiling_tcp_pps;
	p->ceiling_udp_pps = g->ceiling_udp_pps;
	p->ceiling_icmp_pps = g->ceiling_icmp_pps;
	p->ceiling_syn_pps = g->ceiling_syn_pps;
	p->ceiling_amp_pps = g->ceiling_amp_pps;
	p->ceiling_out_pps = g->ceiling_out_pps;
	p->single_source_pps = g->single_source_pps;
	p->min_flood_pps = g->min_flood_pps;
	p->min_outbound_pps = g->min_outbound_pps;
	p->min_exfil_bytes_s = g->min_exfil_kbps * 1e3 / 8;
	p->ceiling_out_bytes_s = g->ceiling_out_mbps * 1e6 / 8;
	p->score_investigate = g->score_investigate;
	p->score_act = g->score_act;
	p->combine = (enum mm_combine)g->combine;
	p->confirm_fast_hits = g->confirm_fast_hits;
	p->confirm_fast_steps = g->confirm_fast_steps;
	p->confirm_slow_hits = g->confirm_slow_hits;
	p->confirm_slow_steps = g->confirm_slow_steps;
	p->alpha = g->ewma_alpha / 1000.0;
	p->warmup_steps = g->warmup_steps;
	p->group_warmup_steps = g->group_warmup_steps;
	p->learn_clip = g->learn_clip;
	p->time_of_week = g->time_of_week;
}

uint32_t mm_slow_window_steps(const struct mm_config *c)
{
	uint32_t s = c->slow_window_steps;
	uint32_t kept = c->step_s > 0 ? c->retention_s / c->step_s : s;

	if (s > kept)
		s = kept;
	return s > c->window_steps ? s : c->window_steps;
}

/* ---- confirmation ---------------------------------------------------- */

void mm_confirm_init(struct mm_confirm *c)
{
	memset(c, 0, sizeof(*c));
}

static int is_slow_class(enum mm_class c)
{
	switch (c) {
	case MM_CLASS_HORIZONTAL_SCAN:
	case MM_CLASS_VERTICAL_SCAN:
	case MM_CLASS_BRUTEFORCE:
	case MM_CLASS_OUTBOUND_SCAN:
	case MM_CLASS_EXFILTRATION:
		return 1;
	default:
		return 0;
	}
}

/* Move the hit histories to `step` (steps not scored count as misses). */
static void confirm_advance(struct mm_confirm *c, uint64_t step64)
{
	uint32_t step = (uint32_t)step64;
	uint32_t gap;

	if (c->last_step == 0 || step < c->last_step) {
		/* Never scored, or the clock went back: start afresh. */
		memset(c->hits, 0, sizeof(c->hits));
		c->last_step = step;
		return;
	}
	gap = step - c->last_step;
	for (int k = 0; k < MM_CLASS_COUNT; k++)
		c->hits[k] = gap >= 16 ? 0 : (uint16_t)(c->hits[k] << gap);
	c->last_step = step;
}

static int popcount16(uint16_t v)
{
	int n = 0;

	for (; v != 0; v &= (uint16_t)(v - 1))
		n++;
	return n;
}

/* Record this step's hit and say whether the class is confirmed: a hit
 * now, and hits in M of the last N steps. */
static void confirm_class(const struct mm_detect_params *p, struct mm_confirm *c, enum mm_class k,
			  struct mm_class_score *cs)
{
	unsigned m = is_slow_class(k) ? p->confirm_slow_hits : p->confirm_fast_hits;
	unsigned n = is_slow_class(k) ? p->confirm_slow_steps : p->confirm_fast_steps;
	uint16_t mask;

	if (n > 16)
		n = 16;
	mask = (uint16_t)(n >= 16 ? 0xffffu : (1u << n) - 1);
	c->hits[k] = (uint16_t)((c->hits[k] & ~1u) | (cs->hit ? 1u : 0u));
	cs->confirmed = cs->hit && popcount16(c->hits[k] & mask) >= (int)m;
}

/* ---- one feature ----------------------------------------------------- */

struct ctx {
	const struct mm_detect_params *p;
	const struct mm_view *v;
	const struct mm_baseline *bl; /* NULL: nothing to expect */
	const struct mm_tow *tow;
	enum mm_expect_src src;
};

static void feat_score(const struct ctx *x, enum mm_feat f, struct mm_feat_score *out)
{
	const struct mm_features *w = mm_view_of(x->v, f);
	double per = mm_sampled_per_unit(w, f);
	double fac = mm_tow_factor(x->tow, x->p, x->v->step, f);
	double mean = 0, sigma = 0, exp, exp_pkts, spread, fl;

	if (x->bl != NULL) {
		mean = (double)x->bl->mean[f] * fac;
		sigma = sqrt(x->bl->var[f] > 0 ? (double)x->bl->var[f] : 0.0) * fac;
		exp_pkts = (double)x->bl->mean[MM_F_PKTS_OUT] *
			   mm_tow_factor(x->tow, x->p, x->v->step, MM_F_PKTS_OUT) * w->span_s / w->sampling_rate;
	} else {
		exp_pkts = w->sampled[MM_C_PKTS_OUT];
	}
	exp = mean * per;
	fl = mm_sampled_floor(f, w->value_sampled[f], exp, w->sampled[MM_C_PKTS_OUT], exp_pkts,
			      mm_pkt_size_scored(x->bl, w), mm_extra_var(w, f));
	spread = sigma * per > fl ? sigma * per : fl;
	out->observed = w->value_sampled[f];
	out->expected = exp;
	out->spread = spread;
	out->score = (out->observed - exp) / spread;
	out->observed_rate = w->value[f];
	out->expected_rate = mean;
}

/* ---- the decision ------------------------------------------------------ */

struct decision {
	int base_ok;        /* a baseline path exists for this class */
	double score;       /* its score */
	int enough;         /* the minimum of sampled packets / flows is met */
	int small;          /* the rise is under the class's absolute floor */
	int ceil_enough;    /* the same for what the ceilings count */
	enum mm_gate gate;  /* a gate closed the baseline path */
	double ceil_ratio;  /* highest observed / ceiling among those configured */
	int has_ceiling;    /* the class has a ceiling configured */
	int ceiling_ctr;    /* the counter of that ceiling */
};

static enum mm_severity level_of(double r, int ceiling)
{
	if (ceiling)
		return r < 2 ? MM_SEV_HIGH : MM_SEV_CRITICAL;
	if (r < 2)
		return MM_SEV_LOW;
	if (r < 4)
		return MM_SEV_MEDIUM;
	return r < 8 ? MM_SEV_HIGH : MM_SEV_CRITICAL;
}

/* The group's combine mode, tiers and severity, in one place. */
static void decide(const struct mm_detect_params *p, const struct decision *d, struct mm_class_score *cs)
{
	double inv = p->score_investigate;
	int open = d->base_ok && d->enough && !d->small && d->gate == MM_GATE_NONE;
	int base_hit = open && d->score >= inv;
	int base_act = base_hit && d->score >= p->score_act;
	int ceiling = d->has_ceiling && d->ceil_enough && d->ceil_ratio >= 1.0;
	int hit = 0, act = 0;
	enum mm_severity sev = MM_SEV_NONE;

	switch (p->combine) {
	case MM_COMBINE_EITHER:
		hit = base_hit || ceiling;
		act = base_act || ceiling;
		break;
	case MM_COMBINE_BOTH:
		if (!d->has_ceiling) {
			/* Nothing to agree with: the baseline alone. */
			hit = base_hit;
			act = base_act;
		} else if (!d->base_ok) {
			/* A cold host: a ceiling alone, or a flood on a new
			 * host would go unseen. */
			hit = act = ceiling;
		} else {
			hit = act = base_hit && ceiling;
		}
		break;
	case MM_COMBINE_CEILING:
		hit = act = ceiling;
		break;
	case MM_COMBINE_BASELINE:
		hit = base_hit;
		act = base_act;
		break;
	}
	cs->score = d->base_ok ? (float)d->score : 0.0f;
	cs->ceiling = (uint8_t)ceiling;
	cs->ceiling_ctr = (uint8_t)(ceiling ? d->ceiling_ctr : 0);
	cs->hit = (uint8_t)hit;
	cs->sustain = (uint8_t)(hit || (open && d->score >= SUSTAIN_FRACTION * inv) ||
				(p->combine != MM_COMBINE_BASELINE && d->has_ceiling && d->ceil_enough &&
				 d->ceil_ratio >= SUSTAIN_FRACTION));
	cs->tier = (uint8_t)(hit ? (act ? MM_TIER_ACT : MM_TIER_INVESTIGATE) : MM_TIER_NONE);
	if (hit) {
		if (base_hit)
			sev = level_of(d->score / inv, 0);
		if (ceiling && level_of(d->ceil_ratio, 1) > sev)
			sev = level_of(d->ceil_ratio, 1);
	}
	cs->severity = (uint8_t)sev;
	if (!hit && d->base_ok && d->score >= inv)
		cs->gate = (uint8_t)(d->gate != MM_GATE_NONE ? d->gate
				     : !d->enough    ? MM_GATE_FEW_SAMPLES
				     : d->small      ? MM_GATE_SMALL
						     : MM_GATE_NONE);
	else if (!hit && !d->base_ok && !ceiling && !d->has_ceiling)
		cs->gate = MM_GATE_NO_BASELINE;
}

/* One ceiling: the ratio when it is configured. */
static void ceiling_check(struct decision *d, double observed, double ceiling, int ctr)
{
	if (!(ceiling > 0))
		return;
	d->has_ceiling = 1;
	if (observed / ceiling > d->ceil_ratio) {
		d->ceil_ratio = observed / ceiling;
		d->ceiling_ctr = ctr;
	}
}

static void set_deciding(struct mm_class_score *cs, const struct mm_score_result *r, enum mm_feat f,
			 const struct mm_view *v)
{
	cs->feature = (uint8_t)f;
	cs->observed_rate = r->feat[f].observed_rate;
	cs->expected_rate = r->feat[f].expected_rate;
	cs->sampled = mm_view_of(v, f)->value_sampled[f];
}

static double excess(const struct mm_score_result *r, enum mm_feat f)
{
	return r->feat[f].observed - r->feat[f].expected;
}

/* The same rise in the feature's own (scaled, per second) units: what the
 * absolute floors (min_flood_pps, min_exfil_kbps) are stated in.  Below
 * them a rise may be many sigmas on a quiet host (one video call at 1:100
 * sampling is twenty times its baseline) and is still nothing to act on. */
static double rise_rate(const struct mm_score_result *r, enum mm_feat f)
{
	return r->feat[f].observed_rate - r->feat[f].expected_rate;
}

/* The strongest rise among the inbound residuals (a protocol's rise can
 * hide in the noise of the total), or among the outbound packets. */
static double in_rise(const struct mm_score_result *r)
{
	static const enum mm_feat in[] = { MM_F_FLOOD_PKTS_IN, MM_F_TCP_PKTS_IN, MM_F_UDP_PKTS_IN,
					   MM_F_ICMP_PKTS_IN, MM_F_OTHER_PKTS_IN };
	double best = r->feat[in[0]].score;

	for (size_t i = 1; i < sizeof(in) / sizeof(in[0]); i++)
		if (r->feat[in[i]].score > best)
			best = r->feat[in[i]].score;
	return best;
}

static double out_rise(const struct mm_score_result *r)
{
	double a = r->feat[MM_F_PKTS_OUT].score, b = r->feat[MM_F_FLOOD_PKTS_OUT].score;

	return a > b ? a : b;
}

/* Volume classes are scored only against a baseline; with none they have
 * their ceilings. */
static int volume_ok(const struct ctx *x)
{
	return x->bl != NULL;
}

/* The slow classes (scans, brute force, exfiltration) judge what a host
 * does over minutes, which its group's typical host cannot say (a mail
 * server among clients, an SSH server among web servers): our own hosts
 * are scored on them only once their own baseline is warm.  An external
 * source is scored against zero: it has no normal of ours to learn, and
 * what it sends that looks like probes is what there is to judge. */
static int probe_ok(const struct ctx *x)
{
	return x->v->external || x->src == MM_EXP_OWN;
}

/* ---- the classes ------------------------------------------------------ */

static void class_syn_flood(const struct ctx *x, struct mm_score_result *r)
{
	struct mm_class_score *cs = &r->cls[MM_CLASS_SYN_FLOOD];
	const struct mm_features *w = x->v->fast;
	struct decision d = { .base_ok = volume_ok(x), .score = r->feat[MM_F_SYN_PKTS_IN].score };
	double dsyn = excess(r, MM_F_SYN_PKTS_IN), dtcp = excess(r, MM_F_TCP_PKTS_IN);

	d.enough = d.ceil_enough = r->feat[MM_F_SYN_PKTS_IN].observed >= x->p->min_sampled_packets;
	d.small = rise_rate(r, MM_F_SYN_PKTS_IN) < x->p->min_flood_pps;
	/* A flash crowd brings SYNs too (sampled ones show SYN only), with
	 * the rest of each connection behind them. */
	if (dsyn < SYN_SHARE * (dsyn + (dtcp > 0 ? dtcp : 0)))
		d.gate = MM_GATE_SHAPE;
	ceiling_check(&d, w->rate[MM_C_SYN_PKTS_IN], x->p->ceiling_syn_pps, MM_C_SYN_PKTS_IN);
	set_deciding(cs, r, MM_F_SYN_PKTS_IN, x->v);
	decide(x->p, &d, cs);
}

static void class_amplification(const struct ctx *x, struct mm_score_result *r)
{
	struct mm_class_score *cs = &r->cls[MM_CLASS_AMPLIFICATION];
	const struct mm_features *w = x->v->fast;
	struct decision d = { .base_ok = volume_ok(x), .score = r->feat[MM_F_AMP_PKTS_IN].score };

	d.enough = d.ceil_enough = r->feat[MM_F_AMP_PKTS_IN].observed >= x->p->min_sampled_packets;
	d.small = rise_rate(r, MM_F_AMP_PKTS_IN) < x->p->min_flood_pps;
	/* Reflection comes from many reflectors: a single source sending
	 * from a service port (most of it from the top talker) is a flood. */
	if (w->distinct[MM_S_PEERS_IN] < x->p->min_reflectors || w->top_peer_in_sampled >= 0.5 * w->amp_sampled)
		d.gate = MM_GATE_SHAPE;
	ceiling_check(&d, w->value[MM_F_AMP_PKTS_IN], x->p->ceiling_amp_pps, MM_C_AMP_PKTS_IN);
	set_deciding(cs, r, MM_F_AMP_PKTS_IN, x->v);
	decide(x->p, &d, cs);
	cs->vector = (int8_t)w->amp_vector;
}

static void class_flood(const struct ctx *x, struct mm_score_result *r)
{
	static const enum mm_feat cand[] = { MM_F_FLOOD_PKTS_IN, MM_F_TCP_PKTS_IN, MM_F_UDP_PKTS_IN,
					     MM_F_ICMP_PKTS_IN, MM_F_OTHER_PKTS_IN };
	struct mm_class_score *cs = &r->cls[MM_CLASS_FLOOD];
	const struct mm_features *w = x->v->fast;
	const struct mm_detect_params *p = x->p;
	enum mm_feat best = MM_F_FLOOD_PKTS_IN;
	struct decision d = { .base_ok = volume_ok(x) };
	double din, dout, dicmp;

	for (size_t i = 1; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (r->feat[cand[i]].score > r->feat[best].score)
			best = cand[i];
	/* Service-port traffic that is not reflection (one source) is left
	 * out of the residuals all the same: it is the flood's. */
	if (r->cls[MM_CLASS_AMPLIFICATION].gate == MM_GATE_SHAPE &&
	    r->feat[MM_F_AMP_PKTS_IN].score > r->feat[best].score)
		best = MM_F_AMP_PKTS_IN;
	d.score = r->feat[best].score;
	d.enough = r->feat[best].observed >= p->min_sampled_packets;
	d.small = rise_rate(r, best) < p->min_flood_pps;
	/* Ceilings count every packet in; so does their minimum. */
	d.ceil_enough = w->sampled[MM_C_PKTS_IN] >= p->min_sampled_packets;
	din = excess(r, MM_F_FLOOD_PKTS_IN);
	dout = excess(r, MM_F_PKTS_OUT);
	dicmp = excess(r, MM_F_ICMP_PKTS_IN);
	/* One-way is the flood's shape.  ICMP is left out: a host answers
	 * an echo flood packet for packet and is flooded all the same. */
	if (din > 0 && dout >= ANSWERED_RATIO * din && out_rise(r) >= ANSWERED_SIGMAS && dicmp < 0.5 * din)
		d.gate = MM_GATE_ANSWERED;
	/* Measured against all the traffic in, not against the rise: the top
	 * source's count holds its usual traffic too (and top-K counts err
	 * high), so on a host fed mostly by one peer (a proxy, a gateway) a
	 * flood from many sources would pass for that peer's stream. */
	if (w->top_peer_in_sampled >= SINGLE_SOURCE_SHARE * w->sampled[MM_C_PKTS_IN] &&
	    w->rate[MM_C_PKTS_IN] < p->single_source_pps)
		d.gate = MM_GATE_SHAPE;
	ceiling_check(&d, w->rate[MM_C_PKTS_IN], p->ceiling_pps, MM_C_PKTS_IN);
	ceiling_check(&d, w->rate[MM_C_BYTES_IN], p->ceiling_bytes_s, MM_C_BYTES_IN);
	ceiling_check(&d, w->rate[MM_C_FLOWS_IN], p->ceiling_flows, MM_C_FLOWS_IN);
	ceiling_check(&d, w->rate[MM_C_TCP_PKTS_IN], p->ceiling_tcp_pps, MM_C_TCP_PKTS_IN);
	ceiling_check(&d, w->rate[MM_C_UDP_PKTS_IN], p->ceiling_udp_pps, MM_C_UDP_PKTS_IN);
	ceiling_check(&d, w->rate[MM_C_ICMP_PKTS_IN], p->ceiling_icmp_pps, MM_C_ICMP_PKTS_IN);
	set_deciding(cs, r, best, x->v);
	decide(p, &d, cs);

	/* A SYN flood or a reflection crosses the packet ceilings too: when
	 * one of them hit and the flood's own (residual) features did not,
	 * the specific class tells the story alone. */
	if (cs->hit && !(d.base_ok && d.enough && !d.small && d.gate == MM_GATE_NONE && d.score >= p->score_investigate) &&
	    (r->cls[MM_CLASS_SYN_FLOOD].hit || r->cls[MM_CLASS_AMPLIFICATION].hit)) {
		cs->hit = cs->sustain = cs->ceiling = 0;
		cs->ceiling_ctr = 0;
		cs->tier = MM_TIER_NONE;
		cs->severity = MM_SEV_NONE;
		cs->gate = MM_GATE_EXPLAINED;
	}
}

static void class_bruteforce(const struct ctx *x, struct mm_score_result *r)
{
	struct mm_class_score *cs = &r->cls[MM_CLASS_BRUTEFORCE];
	enum mm_feat f = MM_F_AUTH_FLOWS_OUT;
	struct decision d = { .base_ok = probe_ok(x) };

	/* Source side (the host tries passwords elsewhere) and, for our own
	 * hosts, target side (it is tried): one incident either way. */
	if (!x->v->external && r->feat[MM_F_AUTH_FLOWS_IN].score > r->feat[f].score)
		f = MM_F_AUTH_FLOWS_IN;
	d.score = r->feat[f].score;
	d.enough = r->feat[f].observed >= x->p->min_sampled_flows;
	if (f == MM_F_AUTH_FLOWS_OUT) {
		const struct mm_features *w = mm_view_of(x->v, f);
		int k = x->v->external ? MM_CLASS_HORIZONTAL_SCAN : MM_CLASS_OUTBOUND_SCAN;

		if (w->rate[MM_C_AUTH_FLOWS_OUT] < AUTH_SHARE * w->rate[MM_C_FLOWS_OUT])
			d.gate = MM_GATE_SHAPE;
		/* SYN probes to telnet or SSH across many hosts: the scan names
		 * them (scored first). */
		if (r->cls[k].sustain || r->cls[MM_CLASS_VERTICAL_SCAN].sustain)
			d.gate = MM_GATE_EXPLAINED;
	}
	set_deciding(cs, r, f, x->v);
	decide(x->p, &d, cs);
	cs->vector = (int8_t)(f == MM_F_AUTH_FLOWS_IN);
}

/*
 * Scans: probes out (SYN-only flows; tiny flows too where sampling leaves
 * flow sizes meaningful) far above the baseline, and spread: the extra
 * probes go to new destinations (horizontal) or new ports (vertical).
 * Spread is a shape, not a score: a busy host's fan-out is noisy enough to
 * hide a scan of 100 probes/s at 1:1000, its SYN-only flows are not.
 */
static void class_scan(const struct ctx *x, struct mm_score_result *r)
{
	enum mm_feat probe = MM_F_SYN_FLOWS_OUT;
	double dpeers = excess(r, MM_F_PEERS_OUT), dports = excess(r, MM_F_DPORTS_OUT);
	int vertical = dports > dpeers;
	enum mm_class k = x->v->external ? (vertical ? MM_CLASS_VERTICAL_SCAN : MM_CLASS_HORIZONTAL_SCAN)
					 : MM_CLASS_OUTBOUND_SCAN;
	struct mm_class_score *cs = &r->cls[k];
	struct decision d = { .base_ok = probe_ok(x) };
	double dfan = vertical ? dports : dpeers;

	if (x->p->sampling_rate <= MM_SMALL_FLOWS_MAX_RATE &&
	    r->feat[MM_F_SMALL_FLOWS_OUT].score > r->feat[MM_F_SYN_FLOWS_OUT].score)
		probe = MM_F_SMALL_FLOWS_OUT;
	d.score = r->feat[probe].score;
	d.enough = r->feat[probe].observed >= x->p->min_sampled_flows && dfan >= x->p->min_sampled_flows;
	if (dfan < SCAN_SPREAD * excess(r, probe))
		d.gate = MM_GATE_SHAPE;
	if (x->v->external) {
		const struct mm_features *w = mm_view_of(x->v, probe);
		enum mm_ctr pc = probe == MM_F_SYN_FLOWS_OUT ? MM_C_SYN_FLOWS_OUT : MM_C_SMALL_FLOWS_OUT;

		if (w->rate[pc] < EXT_PROBE_SHARE * w->rate[MM_C_FLOWS_OUT])
			d.gate = MM_GATE_SHAPE;
	}
	set_deciding(cs, r, probe, x->v);
	decide(x->p, &d, cs);
	cs->vector = (int8_t)vertical;
}

static void class_outbound_flood(const struct ctx *x, struct mm_score_result *r)
{
	struct mm_class_score *cs = &r->cls[MM_CLASS_OUTBOUND_FLOOD];
	const struct mm_features *w = x->v->fast;
	const struct mm_detect_params *p = x->p;
	struct decision d = { .base_ok = volume_ok(x), .score = r->feat[MM_F_FLOOD_PKTS_OUT].score };
	double dout = excess(r, MM_F_FLOOD_PKTS_OUT);
	double din = excess(r, MM_F_FLOOD_PKTS_IN) + excess(r, MM_F_SYN_PKTS_IN) + excess(r, MM_F_AMP_PKTS_IN);
	int syn_led = w->sampled[MM_C_SYN_PKTS_OUT] >= SYN_SHARE * r->feat[MM_F_FLOOD_PKTS_OUT].observed;

	d.enough = r->feat[MM_F_FLOOD_PKTS_OUT].observed >= p->min_sampled_packets;
	d.small = rise_rate(r, MM_F_FLOOD_PKTS_OUT) < p->min_outbound_pps;
	d.ceil_enough = w->sampled[MM_C_PKTS_OUT] >= p->min_sampled_packets;
	/* A resolver's burst of queries is answered; a flood is not.  SYNs
	 * out are answered by SYN-ACKs whether or not they flood. */
	if (dout > 0 && din >= ANSWERED_RATIO * dout && in_rise(r) >= ANSWERED_SIGMAS && !syn_led)
		d.gate = MM_GATE_ANSWERED;
	/* SYNs spread over many destinations or ports are a scan's probes:
	 * outbound_scan names them (it is scored first). */
	if (syn_led && r->cls[MM_CLASS_OUTBOUND_SCAN].sustain)
		d.gate = MM_GATE_EXPLAINED;
	ceiling_check(&d, w->rate[MM_C_PKTS_OUT], p->ceiling_out_pps, MM_C_PKTS_OUT);
	ceiling_check(&d, w->rate[MM_C_BYTES_OUT], p->ceiling_out_bytes_s, MM_C_BYTES_OUT);
	set_deciding(cs, r, MM_F_FLOOD_PKTS_OUT, x->v);
	decide(p, &d, cs);
}

/* The burst memory covers `step`: learnt, recent, and within an hour of
 * its window. */
static int burst_covers(const struct mm_burst *m, const struct mm_detect_params *p, uint64_t step)
{
	uint64_t t = step * (uint64_t)(p->step_s > 0 ? p->step_s : 1);
	unsigned hour = (unsigned)(t / 3600 % 24);
	uint16_t day = (uint16_t)(t / 86400);
	unsigned from = (m->hour + 23) % 24, len = m->hours + 2u;

	if (m->days < MM_BURST_LEARN_DAYS || (uint16_t)(day - m->day) > 2)
		return 0;
	return (hour + 24 - from) % 24 < len;
}

static void class_exfiltration(const struct ctx *x, struct mm_score_result *r)
{
	struct mm_class_score *cs = &r->cls[MM_CLASS_EXFILTRATION];
	const struct mm_features *w = mm_view_of(x->v, MM_F_BYTES_OUT);
	const struct mm_detect_params *p = x->p;
	const struct mm_feat_score *fs = &r->feat[MM_F_BYTES_OUT], *pe = &r->feat[MM_F_PEERS_OUT];
	struct decision d = { .base_ok = probe_ok(x), .score = fs->score };
	double pp_obs, pp_exp;

	d.enough = w->sampled[MM_C_PKTS_OUT] >= EXFIL_MIN_FACTOR * p->min_sampled_packets;
	d.small = rise_rate(r, MM_F_BYTES_OUT) < p->min_exfil_bytes_s;
	r->bytes_out_hot = d.base_ok && d.enough && d.score >= p->score_investigate;
	if (x->src == MM_EXP_OWN && burst_covers(&x->bl->burst, p, x->v->step)) {
		double per = mm_sampled_per_unit(w, MM_F_BYTES_OUT);
		double level = (double)x->bl->burst.level * per;
		double exp = fs->expected > level ? fs->expected : level;
		double spread = fs->spread > BURST_SPREAD * level ? fs->spread : BURST_SPREAD * level;
		double s = (fs->observed - exp) / spread;

		if (s < d.score) {
			d.score = s;
			if (s < p->score_investigate && r->bytes_out_hot)
				d.gate = MM_GATE_BURST;
		}
	}
	/* Bytes per destination: exfiltration sends a lot to few, a crowd
	 * being served gets the usual share each. */
	pp_obs = fs->observed / (pe->observed > 1 ? pe->observed : 1);
	pp_exp = fs->expected / (pe->expected > 1 ? pe->expected : 1);
	if (d.base_ok && pp_obs < PER_PEER_RISE * pp_exp)
		d.gate = MM_GATE_SHAPE;
	if (excess(r, MM_F_PEERS_OUT) >= CROWD_PEERS && pe->score >= p->score_investigate)
		d.gate = MM_GATE_SHAPE;
	/* Data leaves in full packets; a stream of small ones out is the
	 * ACKs and requests of a transfer in (a CDN fetch). */
	if (w->rate[MM_C_PKTS_OUT] > 0 && w->rate[MM_C_BYTES_OUT] < EXFIL_MIN_PKT_BYTES * w->rate[MM_C_PKTS_OUT])
		d.gate = MM_GATE_SHAPE;
	/* Bulk data leaves over TCP.  Bytes out that are mostly UDP, ICMP or
	 * other protocols are a flood's (outbound_flood names it, and the slow
	 * window remembers it for minutes after it stopped). */
	if (w->rate[MM_C_UDP_BYTES_OUT] + w->rate[MM_C_ICMP_BYTES_OUT] + w->rate[MM_C_OTHER_BYTES_OUT] >=
	    0.5 * w->rate[MM_C_BYTES_OUT])
		d.gate = r->cls[MM_CLASS_OUTBOUND_FLOOD].hit ? MM_GATE_EXPLAINED : MM_GATE_SHAPE;
	set_deciding(cs, r, MM_F_BYTES_OUT, x->v);
	decide(p, &d, cs);
	if (d.gate == MM_GATE_BURST && !cs->hit)
		cs->gate = MM_GATE_BURST;
}

/* ---- entry points ------------------------------------------------------ */

static void result_init(struct mm_score_result *out)
{
	memset(out, 0, sizeof(*out));
	for (int k = 0; k < MM_CLASS_COUNT; k++)
		out->cls[k].vector = -1;
}

static void finish(const struct mm_detect_params *p, const struct mm_view *v, struct mm_confirm *confirm,
		   struct mm_score_result *out)
{
	if (confirm != NULL)
		confirm_advance(confirm, v->step);
	for (int k = 0; k < MM_CLASS_COUNT; k++) {
		struct mm_class_score *cs = &out->cls[k];

		if (confirm != NULL)
			confirm_class(p, confirm, (enum mm_class)k, cs);
		else
			cs->confirmed = cs->hit;
		if (cs->hit)
			out->hot = 1;
	}
	/* A learnt burst (the nightly backup) is not a hit, and not to be
	 * learnt as the host's normal either. */
	if (out->cls[MM_CLASS_EXFILTRATION].gate == MM_GATE_BURST)
		out->hot = 1;
}

int mm_score_host(const struct mm_detect_params *p, const struct mm_view *v, const struct mm_baseline *host,
		  const struct mm_baseline *group, const struct mm_tow *tow, struct mm_confirm *confirm,
		  struct mm_score_result *out)
{
	struct ctx x = { p, v, NULL, tow, MM_EXP_NONE };

	result_init(out);
	if (mm_baseline_warm(host, p)) {
		x.bl = host;
		x.src = MM_EXP_OWN;
	} else if (mm_group_baseline_warm(group, p)) {
		x.bl = group;
		x.src = MM_EXP_GROUP;
	}
	out->source = x.src;
	for (int f = 0; f < MM_F_COUNT; f++)
		feat_score(&x, (enum mm_feat)f, &out->feat[f]);

	/* Order matters where one class explains another: the specific
	 * before the general (SYN flood and reflection before flood, scans
	 * before outbound flood, outbound flood before exfiltration). */
	class_scan(&x, out);
	class_bruteforce(&x, out);
	if (!v->external) {
		class_syn_flood(&x, out);
		class_amplification(&x, out);
		class_flood(&x, out);
		class_outbound_flood(&x, out);
		class_exfiltration(&x, out);
	}
	finish(p, v, confirm, out);
	return 0;
}

double mm_inbound_excess(const struct mm_score_result *r)
{
	static const enum mm_feat in[] = { MM_F_FLOOD_PKTS_IN, MM_F_SYN_PKTS_IN, MM_F_AMP_PKTS_IN };
	double sum = 0;

	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++)
		if (excess(r, in[i]) > 0)
			sum += excess(r, in[i]);
	return sum;
}

int mm_score_prefix(const struct mm_detect_params *p, const struct mm_view *v, const struct mm_baseline *prefix,
		    const struct mm_tow *tow, double top_host_excess, struct mm_confirm *confirm,
		    struct mm_score_result *out)
{
	static const enum mm_feat cand[] = { MM_F_FLOOD_PKTS_IN, MM_F_SYN_PKTS_IN, MM_F_AMP_PKTS_IN };
	struct ctx x = { p, v, NULL, tow, MM_EXP_NONE };
	struct mm_class_score *cs = &out->cls[MM_CLASS_CARPET_BOMBING];
	struct decision d = { 0 };
	enum mm_feat best = MM_F_FLOOD_PKTS_IN;

	result_init(out);
	/* A prefix sums its hosts: its counts are large and steady enough to
	 * trust as soon as the group's (and its learning is clipped from then
	 * on: detector/run.c). */
	if (mm_group_baseline_warm(prefix, p)) {
		x.bl = prefix;
		x.src = MM_EXP_OWN;
	}
	out->source = x.src;
	for (int f = 0; f < MM_F_COUNT; f++)
		feat_score(&x, (enum mm_feat)f, &out->feat[f]);
	for (size_t i = 1; i < sizeof(cand) / sizeof(cand[0]); i++)
		if (out->feat[cand[i]].score > out->feat[best].score)
			best = cand[i];
	d.base_ok = x.bl != NULL;
	d.score = out->feat[best].score;
	d.enough = out->feat[best].observed >= p->min_sampled_packets;
	d.small = rise_rate(out, best) < p->min_flood_pps;
	if (best == MM_F_FLOOD_PKTS_IN) {
		double din = excess(out, MM_F_FLOOD_PKTS_IN), dout = excess(out, MM_F_PKTS_OUT);

		if (din > 0 && dout >= ANSWERED_RATIO * din && out_rise(out) >= ANSWERED_SIGMAS &&
		    excess(out, MM_F_ICMP_PKTS_IN) < 0.5 * din)
			d.gate = MM_GATE_ANSWERED;
	}
	if (top_host_excess > 0 && top_host_excess >= MM_CARPET_HOST_SHARE * mm_inbound_excess(out))
		d.gate = MM_GATE_EXPLAINED;
	/* No prefix ceilings (they are per host), so decide() takes the
	 * baseline alone, except under `ceiling` (the static model), where
	 * carpet bombing is not looked for. */
	set_deciding(cs, out, best, v);
	decide(p, &d, cs);
	cs->vector = (int8_t)(best == MM_F_AMP_PKTS_IN ? v->fast->amp_vector : -1);
	finish(p, v, confirm, out);
	return 0;
}
