/*
 * test_score.c - the scoring core (detector/features.c, detector/score.c).
 *
 * The maths on hand-made windows (score, Poisson floor, minimum of sampled
 * packets, ceilings and combine modes, M-of-N confirmation, tiers and
 * severity), then every class on a simulated host: a warm baseline, an
 * attack of the class's shape injected, the class confirmed within its
 * delay and nothing else raised; and the benign look-alikes the brief
 * names (flash crowd, busy resolver, nightly backup, CDN) raising nothing.
 * The simulation draws sampled packets from Poisson distributions at
 * 1:1000, sums 6-step windows and 30-step slow windows, scores and learns
 * the way the daemon is meant to.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/config.h"
#include "mamori/score.h"
#include "lib/sim.h"

#define T0 170000000u /* 2023-11-14 22:13:20 UTC at 10 s steps */

/* ---- hand-made windows ----------------------------------------------- */

static void params(struct mm_detect_params *p)
{
	mm_detect_params_default(p);
}

/* A warm baseline with every feature at mean (units) and sigma. */
static void warm_baseline(struct mm_baseline *b, const struct mm_detect_params *p, double mean, double sigma)
{
	mm_baseline_init(b);
	b->updates = (uint16_t)p->warmup_steps;
	b->last_step = T0 - 1;
	for (int f = 0; f < MM_F_COUNT; f++) {
		b->mean[f] = (float)mean;
		b->var[f] = (float)(sigma * sigma);
	}
}

/* Score h (a 60 s window at the params' rate) once, with no confirmation
 * history (confirmed = hit). */
static void score_once(const struct mm_detect_params *p, const struct mm_hoststep *h, const struct mm_baseline *b,
		       int external, struct mm_score_result *r)
{
	struct mm_features x;
	struct mm_view v = { &x, NULL, T0, external };

	mm_features_compute(h, 60, p->sampling_rate, &x);
	ck_assert_int_eq(mm_score_host(p, &v, b, NULL, NULL, NULL, r), 0);
}

/* Inbound UDP of n sampled packets (scaled by rate) from spoofed sources. */
static void udp_in(struct mm_hoststep *h, uint64_t n, uint32_t rate, unsigned sources)
{
	h->ctr[MM_C_UDP_PKTS_IN] += n * rate;
	h->ctr[MM_C_PKTS_IN] += n * rate;
	h->ctr[MM_C_UDP_BYTES_IN] += n * rate * 500;
	h->ctr[MM_C_BYTES_IN] += n * rate * 500;
	/* Few flows: the flow ceiling stays out of the way. */
	h->ctr[MM_C_UDP_FLOWS_IN] += n * rate / 100;
	h->ctr[MM_C_FLOWS_IN] += n * rate / 100;
	for (unsigned i = 0; i < sources; i++) {
		uint32_t key = 0x55000000u + i;
		mm_hll_add(&h->hll[MM_S_PEERS_IN], &key, sizeof(key));
	}
}

START_TEST(test_params_match_config)
{
	struct mm_config c;
	struct mm_detect_params a, b;

	ck_assert_int_eq(mm_config_load_string(&c, "t.conf", "[group g]\nprefix = 10.0.0.0/8\n", stderr), 0);
	mm_detect_params_default(&a);
	mm_detect_params_from_group(&b, &c, &c.groups[0]);
	ck_assert_uint_eq(a.step_s, b.step_s);
	ck_assert_uint_eq(a.sampling_rate, b.sampling_rate);
	ck_assert_double_eq(a.min_sampled_packets, b.min_sampled_packets);
	ck_assert_double_eq(a.min_sampled_flows, b.min_sampled_flows);
	ck_assert_double_eq(a.min_reflectors, b.min_reflectors);
	ck_assert_double_eq(a.ceiling_pps, b.ceiling_pps);
	ck_assert_double_eq(a.ceiling_bytes_s, b.ceiling_bytes_s);
	ck_assert_double_eq(a.ceiling_flows, b.ceiling_flows);
	ck_assert_double_eq(a.ceiling_tcp_pps, b.ceiling_tcp_pps);
	ck_assert_double_eq(a.ceiling_udp_pps, b.ceiling_udp_pps);
	ck_assert_double_eq(a.ceiling_icmp_pps, b.ceiling_icmp_pps);
	ck_assert_double_eq(a.ceiling_syn_pps, b.ceiling_syn_pps);
	ck_assert_double_eq(a.ceiling_amp_pps, b.ceiling_amp_pps);
	ck_assert_double_eq(a.ceiling_out_pps, b.ceiling_out_pps);
	ck_assert_double_eq(a.ceiling_out_bytes_s, b.ceiling_out_bytes_s);
	ck_assert_double_eq(a.score_investigate, b.score_investigate);
	ck_assert_double_eq(a.score_act, b.score_act);
	ck_assert_int_eq(a.combine, b.combine);
	ck_assert_uint_eq(a.confirm_fast_hits, b.confirm_fast_hits);
	ck_assert_uint_eq(a.confirm_fast_steps, b.confirm_fast_steps);
	ck_assert_uint_eq(a.confirm_slow_hits, b.confirm_slow_hits);
	ck_assert_uint_eq(a.confirm_slow_steps, b.confirm_slow_steps);
	ck_assert_double_eq_tol(a.alpha, b.alpha, 1e-12);
	ck_assert_uint_eq(a.warmup_steps, b.warmup_steps);
	ck_assert_double_eq(a.learn_clip, b.learn_clip);
	ck_assert_int_eq(a.time_of_week, b.time_of_week);
	/* The slow window: the configured one, at least the window, at most
	 * what is retained. */
	ck_assert_uint_eq(mm_slow_window_steps(&c), 30);
	c.slow_window_steps = 3;
	ck_assert_uint_eq(mm_slow_window_steps(&c), 6);
	c.slow_window_steps = 1440;
	c.retention_s = 600;
	ck_assert_uint_eq(mm_slow_window_steps(&c), 60);
	mm_config_free(&c);
}
END_TEST

/* Rates, sampled counts, the residual features, the dominant vector. */
START_TEST(test_features)
{
	struct mm_hoststep h;
	struct mm_features x;

	memset(&h, 0, sizeof(h));
	h.ctr[MM_C_PKTS_IN] = 600000;
	h.ctr[MM_C_BYTES_IN] = 60000000;
	h.ctr[MM_C_TCP_PKTS_IN] = 200000;
	h.ctr[MM_C_SYN_PKTS_IN] = 50000;
	h.ctr[MM_C_UDP_PKTS_IN] = 350000;
	h.ctr[MM_C_ICMP_PKTS_IN] = 40000;
	h.ctr[MM_C_OTHER_PKTS_IN] = 10000;
	h.ctr[MM_C_AMP_PKTS_IN + 1] = 300000; /* ntp */
	h.ctr[MM_C_AMP_BYTES_IN + 1] = 140400000;
	h.ctr[MM_C_AMP_PKTS_IN + 0] = 20000; /* dns */
	h.ctr[MM_C_AMP_BYTES_IN + 0] = 2000000;
	h.ctr[MM_C_UDP_PKTS_OUT] = 20000;
	h.ctr[MM_C_ICMP_PKTS_OUT] = 1000;
	h.ctr[MM_C_SYN_PKTS_OUT] = 3000;
	h.ctr[MM_C_PKTS_OUT] = 30000;
	h.ctr[MM_C_BYTES_OUT] = 6000000;
	h.ctr[MM_C_SYN_FLOWS_OUT] = 2000;
	for (uint32_t i = 0; i < 5; i++)
		mm_hll_add(&h.hll[MM_S_PEERS_OUT], &i, sizeof(i));
	mm_features_compute(&h, 60, 1000, &x);
	ck_assert_double_eq(x.span_s, 60);
	ck_assert_uint_eq(x.sampling_rate, 1000);
	ck_assert_double_eq_tol(x.rate[MM_C_PKTS_IN], 10000, 1e-9);
	ck_assert_double_eq_tol(x.sampled[MM_C_PKTS_IN], 600, 1e-9);
	ck_assert_double_eq_tol(mm_features_mbps(&x, MM_C_BYTES_IN), 8.0, 1e-9);
	/* Residuals: TCP without SYN-only, UDP without unsolicited amp
	 * (320000 amp - 20000 UDP out = 300000). */
	ck_assert_double_eq_tol(x.value[MM_F_TCP_PKTS_IN], 150000 / 60.0, 1e-9);
	ck_assert_double_eq_tol(x.value[MM_F_AMP_PKTS_IN], 300000 / 60.0, 1e-9);
	ck_assert_double_eq_tol(x.value[MM_F_UDP_PKTS_IN], 50000 / 60.0, 1e-9);
	ck_assert_double_eq_tol(x.value[MM_F_FLOOD_PKTS_IN], (150000 + 50000 + 40000 + 10000) / 60.0, 1e-9);
	ck_assert_double_eq_tol(x.value_sampled[MM_F_FLOOD_PKTS_IN], 250, 1e-9);
	ck_assert_double_eq_tol(x.value[MM_F_SYN_PKTS_IN], 50000 / 60.0, 1e-9);
	ck_assert_double_eq_tol(x.value[MM_F_FLOOD_PKTS_OUT], 24000 / 60.0, 1e-9);
	ck_assert_double_eq_tol(x.value_sampled[MM_F_SYN_FLOWS_OUT], 2, 1e-9);
	ck_assert_double_eq_tol(x.value[MM_F_PEERS_OUT], 5, 0.5);
	ck_assert_double_eq(x.value[MM_F_PEERS_OUT], x.value_sampled[MM_F_PEERS_OUT]);
	ck_assert_int_eq(x.amp_vector, 1);
	ck_assert_str_eq(mm_amp_slot_name((unsigned)x.amp_vector), "ntp");
	/* Every feature is named and has a unit. */
	for (int f = 0; f < MM_F_COUNT; f++) {
		ck_assert_ptr_nonnull(mm_feat_info((enum mm_feat)f)->name);
		ck_assert_ptr_nonnull(mm_feat_unit_name((enum mm_feat)f));
	}
	ck_assert_ptr_null(mm_feat_info(MM_F_COUNT));
	/* Nothing: a span of 0 and a rate of 0 are taken as 1. */
	memset(&h, 0, sizeof(h));
	mm_features_compute(&h, 0, 0, &x);
	ck_assert_double_eq(x.span_s, 1);
	ck_assert_uint_eq(x.sampling_rate, 1);
	ck_assert_int_eq(x.amp_vector, -1);
}
END_TEST

/* score = (observed - expected) / spread, in sampled units over the
 * window; spread = max(sigma, the Poisson floor (sqrt(obs) + sqrt(exp)) / 2,
 * exp at least 1). */
START_TEST(test_score_math)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_hoststep h;
	struct mm_score_result r;
	const struct mm_feat_score *fs = &r.feat[MM_F_UDP_PKTS_IN];

	params(&p);
	p.sampling_rate = 10;
	/* Expected 0.1 pps = 0.6 sampled in 60 s at 1:10, taken as 1. */
	warm_baseline(&b, &p, 0.1, 0.01);
	memset(&h, 0, sizeof(h));
	udp_in(&h, 30, 10, 0);
	score_once(&p, &h, &b, 0, &r);
	ck_assert_double_eq_tol(fs->observed, 30, 1e-9);
	ck_assert_double_eq_tol(fs->expected, 0.6, 1e-6);
	ck_assert_double_eq_tol(fs->spread, (sqrt(30.0) + 1) / 2, 1e-9);
	ck_assert_double_eq_tol(fs->score, 29.4 / ((sqrt(30.0) + 1) / 2), 1e-6);
	ck_assert_double_eq_tol(fs->observed_rate, 5.0, 1e-9);
	ck_assert_double_eq_tol(fs->expected_rate, 0.1, 1e-6);
	ck_assert_int_eq(r.source, MM_EXP_OWN);

	/* At expectation the floor is sqrt(exp): 100 pps = 600 sampled, one
	 * sigma more scores 1. */
	warm_baseline(&b, &p, 100, 0.001);
	memset(&h, 0, sizeof(h));
	udp_in(&h, 600, 10, 0);
	score_once(&p, &h, &b, 0, &r);
	ck_assert_double_eq_tol(fs->spread, sqrt(600.0), 1e-3);
	ck_assert_double_eq_tol(fs->score, 0, 1e-3);
	/* Twice the expectation: 2 (sqrt(1200) - sqrt(600)) = 20.3, not the
	 * 24.5 of a plain sqrt(600) spread. */
	memset(&h, 0, sizeof(h));
	udp_in(&h, 1200, 10, 0);
	score_once(&p, &h, &b, 0, &r);
	ck_assert_double_eq_tol(fs->score, 2 * (sqrt(1200.0) - sqrt(600.0)), 1e-3);

	/* The host's own sigma when it is larger: 100 pps sigma = 600
	 * sampled. */
	warm_baseline(&b, &p, 100, 100);
	score_once(&p, &h, &b, 0, &r);
	ck_assert_double_eq_tol(fs->spread, 600, 1e-3);
	ck_assert_double_eq_tol(fs->score, 1.0, 1e-6);

	/* Below expectation: a negative score. */
	warm_baseline(&b, &p, 100, 0.001);
	memset(&h, 0, sizeof(h));
	udp_in(&h, 400, 10, 0);
	score_once(&p, &h, &b, 0, &r);
	ck_assert_double_lt(fs->score, -8);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);
}
END_TEST

/* The same excess fires above min_sampled_packets and not below: at
 * 1:1000 a few sampled packets are no evidence. */
START_TEST(test_min_sampled_packets)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_hoststep h;
	struct mm_score_result r;

	params(&p);
	p.min_sampled_packets = 20;
	/* Expected 0.5 sampled a window (8.3 pps at 1:1000). */
	warm_baseline(&b, &p, 0.5 * 1000 / 60, 0.01);
	memset(&h, 0, sizeof(h));
	udp_in(&h, 19, 1000, 0); /* score 6.9, 19 sampled < 20 */
	score_once(&p, &h, &b, 0, &r);
	ck_assert_double_gt(r.cls[MM_CLASS_FLOOD].score, p.score_investigate);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);
	ck_assert_int_eq(r.cls[MM_CLASS_FLOOD].gate, MM_GATE_FEW_SAMPLES);
	ck_assert_str_eq(mm_gate_name(MM_GATE_FEW_SAMPLES), "few_samples");
	memset(&h, 0, sizeof(h));
	udp_in(&h, 20, 1000, 0);
	score_once(&p, &h, &b, 0, &r);
	ck_assert(r.cls[MM_CLASS_FLOOD].hit);
	ck_assert_int_eq(r.cls[MM_CLASS_FLOOD].gate, MM_GATE_NONE);
	ck_assert_double_eq_tol(r.cls[MM_CLASS_FLOOD].sampled, 20, 1e-9);
	/* Configurable. */
	p.min_sampled_packets = 21;
	score_once(&p, &h, &b, 0, &r);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);
}
END_TEST

/* Ceilings fire on their own (a cold host, no baseline at all), within
 * the minimum of sampled packets, per combine mode. */
START_TEST(test_ceilings)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_hoststep h;
	struct mm_score_result r;

	params(&p);
	memset(&h, 0, sizeof(h));
	udp_in(&h, 90000, 1000, 10); /* 1.5 Mpps */
	score_once(&p, &h, NULL, 0, &r);
	ck_assert_int_eq(r.source, MM_EXP_NONE);
	ck_assert(r.cls[MM_CLASS_FLOOD].hit);
	ck_assert(r.cls[MM_CLASS_FLOOD].ceiling);
	ck_assert_int_eq(r.cls[MM_CLASS_FLOOD].ceiling_ctr, MM_C_PKTS_IN);
	ck_assert_int_eq(r.cls[MM_CLASS_FLOOD].tier, MM_TIER_ACT);
	ck_assert_int_eq(r.cls[MM_CLASS_FLOOD].severity, MM_SEV_HIGH);
	ck_assert(r.hot);
	/* 3 Mpps: twice the ceiling is critical. */
	udp_in(&h, 90000, 1000, 0);
	score_once(&p, &h, NULL, 0, &r);
	ck_assert_int_eq(r.cls[MM_CLASS_FLOOD].severity, MM_SEV_CRITICAL);
	/* Under the ceiling and no baseline: nothing. */
	memset(&h, 0, sizeof(h));
	udp_in(&h, 50000, 1000, 10);
	score_once(&p, &h, NULL, 0, &r);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);
	ck_assert(!r.hot);
	/* A per-protocol ceiling. */
	p.ceiling_udp_pps = 500000;
	score_once(&p, &h, NULL, 0, &r);
	ck_assert(r.cls[MM_CLASS_FLOOD].hit);
	ck_assert_int_eq(r.cls[MM_CLASS_FLOOD].ceiling_ctr, MM_C_UDP_PKTS_IN);
	/* Mbit/s: 50000 x 1000 x 500 B / 60 s = 3.3 Gbit/s. */
	params(&p);
	p.ceiling_bytes_s = 1000 * 1e6 / 8;
	score_once(&p, &h, NULL, 0, &r);
	ck_assert_int_eq(r.cls[MM_CLASS_FLOOD].ceiling_ctr, MM_C_BYTES_IN);
	/* A ceiling crossed by too few sampled packets (a few huge records
	 * at 1:1000000) is not believed. */
	params(&p);
	p.sampling_rate = 1000000;
	p.ceiling_pps = 50000;
	memset(&h, 0, sizeof(h));
	udp_in(&h, 5, 1000000, 1);
	score_once(&p, &h, NULL, 0, &r);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);

	/* combine: a warm host, 1.5 Mpps against 1 Mpps expected (a mild
	 * score: sigma 0.5 Mpps) crosses the ceiling only. */
	params(&p);
	warm_baseline(&b, &p, 1e6, 5e5);
	memset(&h, 0, sizeof(h));
	udp_in(&h, 90000, 1000, 10);
	score_once(&p, &h, &b, 0, &r);
	ck_assert(r.cls[MM_CLASS_FLOOD].hit); /* either */
	p.combine = MM_COMBINE_BASELINE;
	score_once(&p, &h, &b, 0, &r);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);
	p.combine = MM_COMBINE_BOTH;
	score_once(&p, &h, &b, 0, &r);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);
	p.combine = MM_COMBINE_CEILING;
	score_once(&p, &h, &b, 0, &r);
	ck_assert(r.cls[MM_CLASS_FLOOD].hit);
	/* A big score under the ceiling: baseline and either fire, ceiling
	 * and both do not. */
	warm_baseline(&b, &p, 1000, 10);
	memset(&h, 0, sizeof(h));
	udp_in(&h, 6000, 1000, 10); /* 100 kpps against 1 kpps */
	p.combine = MM_COMBINE_CEILING;
	score_once(&p, &h, &b, 0, &r);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);
	p.combine = MM_COMBINE_BOTH;
	score_once(&p, &h, &b, 0, &r);
	ck_assert(!r.cls[MM_CLASS_FLOOD].hit);
	p.combine = MM_COMBINE_BASELINE;
	score_once(&p, &h, &b, 0, &r);
	ck_assert(r.cls[MM_CLASS_FLOOD].hit);
	p.combine = MM_COMBINE_EITHER;
	score_once(&p, &h, &b, 0, &r);
	ck_assert(r.cls[MM_CLASS_FLOOD].hit);
	/* both: a cold host falls back to the ceiling alone. */
	p.combine = MM_COMBINE_BOTH;
	memset(&h, 0, sizeof(h));
	udp_in(&h, 90000, 1000, 10);
	score_once(&p, &h, NULL, 0, &r);
	ck_assert(r.cls[MM_CLASS_FLOOD].hit);
}
END_TEST

/* investigate from score_investigate, act from score_act or a ceiling;
 * severity doubles per level past the threshold. */
START_TEST(test_tiers)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_hoststep h;
	struct mm_score_result r;
	static const struct {
		uint64_t sampled; /* over 0 expected, spread 1 ... */
		int tier, sev;
	} cases[] = {
		{ 5, MM_TIER_NONE, MM_SEV_NONE },          /* 2.8 sigma */
		{ 15, MM_TIER_NONE, MM_SEV_NONE },         /* 5.96 */
		{ 16, MM_TIER_INVESTIGATE, MM_SEV_LOW },   /* 6.2: investigate, 1.03 x 6 */
		{ 36, MM_TIER_ACT, MM_SEV_LOW },           /* 10.1: act, 1.7 x 6 */
		{ 60, MM_TIER_ACT, MM_SEV_MEDIUM },        /* 13.6: 2.3 x 6 */
		{ 200, MM_TIER_ACT, MM_SEV_HIGH },         /* 26.4: 4.4 x 6 */
		{ 700, MM_TIER_ACT, MM_SEV_CRITICAL },     /* 50.9: 8.5 x 6 */
	};

	params(&p);
	/* Expected 0.5 sampled (taken as 1 for the floor): n sampled score
	 * (n - 0.5) / ((sqrt(n) + 1) / 2). */
	warm_baseline(&b, &p, 0.5 * 1000 / 60, 0.01);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&h, 0, sizeof(h));
		udp_in(&h, cases[i].sampled, 1000, 0);
		/* Leave the per-protocol feature as the only one scored:
		 * the UDP residual and the total are equal here. */
		score_once(&p, &h, &b, 0, &r);
		ck_assert_msg(r.cls[MM_CLASS_FLOOD].tier == cases[i].tier, "%zu: tier %d, score %f", i,
			      r.cls[MM_CLASS_FLOOD].tier, (double)r.cls[MM_CLASS_FLOOD].score);
		ck_assert_msg(r.cls[MM_CLASS_FLOOD].severity == cases[i].sev, "%zu: severity %d, score %f", i,
			      r.cls[MM_CLASS_FLOOD].severity, (double)r.cls[MM_CLASS_FLOOD].score);
	}
	ck_assert_str_eq(mm_tier_name(MM_TIER_ACT), "act");
	ck_assert_str_eq(mm_tier_name(MM_TIER_INVESTIGATE), "investigate");
	ck_assert_str_eq(mm_severity_name(MM_SEV_CRITICAL), "critical");
	ck_assert_str_eq(mm_expect_src_name(MM_EXP_GROUP), "group");
	ck_assert_ptr_null(mm_tier_name((enum mm_tier)3));
}
END_TEST

/* Floods need hits in 2 of the last 3 steps; a step not scored is a miss. */
START_TEST(test_confirm_fast)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_hoststep hit, calm;
	struct mm_features xh, xc;
	struct mm_confirm cf;
	struct mm_score_result r;
	/* 1 = a hitting window at that step, 0 = calm; want = confirmed */
	static const struct {
		const char *pattern, *want;
	} cases[] = {
		{ "1", "0" },         { "11", "01" },       { "101", "001" },     { "1001", "0000" },
		{ "111", "011" },     { "1101", "0101" },   { "10011", "00001" }, { "0110", "0010" },
	};

	params(&p);
	warm_baseline(&b, &p, 0.5 * 1000 / 60, 0.01);
	memset(&hit, 0, sizeof(hit));
	udp_in(&hit, 30, 1000, 0);
	memset(&calm, 0, sizeof(calm));
	mm_features_compute(&hit, 60, 1000, &xh);
	mm_features_compute(&calm, 60, 1000, &xc);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		mm_confirm_init(&cf);
		for (size_t i = 0; cases[c].pattern[i] != '\0'; i++) {
			struct mm_view v = { cases[c].pattern[i] == '1' ? &xh : &xc, NULL, T0 + i, 0 };

			mm_score_host(&p, &v, &b, NULL, NULL, &cf, &r);
			ck_assert_msg(r.cls[MM_CLASS_FLOOD].confirmed == (cases[c].want[i] == '1'),
				      "pattern %s step %zu: confirmed %d", cases[c].pattern, i,
				      r.cls[MM_CLASS_FLOOD].confirmed);
		}
	}
	/* A gap of steps: the old hit has gone out of the last three. */
	mm_confirm_init(&cf);
	{
		struct mm_view v = { &xh, NULL, T0, 0 };

		mm_score_host(&p, &v, &b, NULL, NULL, &cf, &r);
		v.step = T0 + 3;
		mm_score_host(&p, &v, &b, NULL, NULL, &cf, &r);
		ck_assert(!r.cls[MM_CLASS_FLOOD].confirmed);
		v.step = T0 + 4;
		mm_score_host(&p, &v, &b, NULL, NULL, &cf, &r);
		ck_assert(r.cls[MM_CLASS_FLOOD].confirmed);
		/* The same step scored again does not count twice. */
		mm_confirm_init(&cf);
		v.step = T0 + 10;
		mm_score_host(&p, &v, &b, NULL, NULL, &cf, &r);
		mm_score_host(&p, &v, &b, NULL, NULL, &cf, &r);
		ck_assert(!r.cls[MM_CLASS_FLOOD].confirmed);
	}
	/* Configurable: 1 of 1 confirms at once. */
	p.confirm_fast_hits = p.confirm_fast_steps = 1;
	mm_confirm_init(&cf);
	{
		struct mm_view v = { &xh, NULL, T0, 0 };

		mm_score_host(&p, &v, &b, NULL, NULL, &cf, &r);
		ck_assert(r.cls[MM_CLASS_FLOOD].confirmed);
	}
}
END_TEST

/* Slow classes need M of a longer N (default 6 of 9). */
START_TEST(test_confirm_slow)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_hoststep h;
	struct mm_features x, calm;
	struct mm_confirm cf;
	struct mm_score_result r;
	static const char pattern[] = "110111011", want[] = "000000011";

	params(&p);
	warm_baseline(&b, &p, 0.01, 0.001);
	memset(&h, 0, sizeof(h));
	/* An SSH server tried 20 sampled times in the window. */
	h.ctr[MM_C_AUTH_FLOWS_IN] = 20 * 1000;
	mm_features_compute(&h, 300, 1000, &x);
	memset(&h, 0, sizeof(h));
	mm_features_compute(&h, 300, 1000, &calm);
	mm_confirm_init(&cf);
	for (size_t i = 0; pattern[i] != '\0'; i++) {
		struct mm_view v = { pattern[i] == '1' ? &x : &calm, NULL, T0 + i, 0 };

		mm_score_host(&p, &v, &b, NULL, NULL, &cf, &r);
		ck_assert_msg(r.cls[MM_CLASS_BRUTEFORCE].hit == (pattern[i] == '1'), "step %zu", i);
		ck_assert_msg(r.cls[MM_CLASS_BRUTEFORCE].confirmed == (want[i] == '1'), "step %zu: confirmed %d", i,
			      r.cls[MM_CLASS_BRUTEFORCE].confirmed);
	}
	ck_assert_int_eq(r.cls[MM_CLASS_BRUTEFORCE].vector, 1); /* the target side */
	ck_assert_int_eq(r.cls[MM_CLASS_BRUTEFORCE].feature, MM_F_AUTH_FLOWS_IN);
}
END_TEST

/* ---- the simulation ---------------------------------------------------- */

#define FAST 6
#define SLOW 30


/* Traffic of one step, in SAMPLED packets or flows (Poisson means); a
 * sampled TCP data packet is a record of its own, as at 1:1000. */
struct shape {
	double tcp_in, udp_in, icmp_in, syn_in; /* packets in */
	double amp_in;                          /* unsolicited reflection in */
	int amp_slot;
	double tcp_out, udp_out, icmp_out, syn_out; /* packets out (syn_out: SYN-only probes) */
	double size_in, size_out;               /* bytes per packet, 0 = 500 */
	double auth_in, auth_out;               /* flows */
	/* distinct keys per step: from a pool of that many (0 = new ones) */
	double peers_in, peers_out, dports_out;
	unsigned peers_in_pool, peers_out_pool, dports_out_pool;
	unsigned pool_base; /* tells pools of different shapes apart */
};

struct sim {
	struct mm_detect_params p;
	struct mm_hoststep ring[SLOW];
	uint64_t step;
	uint64_t steps_run;
	struct mm_baseline bl;
	struct mm_confirm cf;
	const struct mm_baseline *group;
	int external;
	int prefix;          /* score as a prefix aggregate */
	double top_excess;   /* for the prefix: mm_score_prefix's top_host_excess */
	struct rng rng;
	uint64_t fresh;
	struct mm_score_result res;
};

static void sim_init(struct sim *s, uint64_t seed, uint64_t first_step)
{
	memset(s, 0, sizeof(*s));
	params(&s->p);
	mm_baseline_init(&s->bl);
	mm_confirm_init(&s->cf);
	s->rng.s = seed;
	s->step = first_step;
}

/* Draw distinct keys into a sketch; with top, each key also takes its
 * share of `count` scaled packets in that top-K list. */
static void add_keys(struct sim *s, struct mm_hll *h, double n, unsigned pool, unsigned base, unsigned kind,
		     struct mm_topk_addr *top, uint64_t count)
{
	uint64_t k = poisson(&s->rng, n);

	for (uint64_t i = 0; i < k; i++) {
		uint64_t key = pool > 0 ? ((uint64_t)kind << 56 | (uint64_t)base << 32 | rnd(&s->rng) % pool)
					: ((uint64_t)0xff << 56 | s->fresh++);
		uint8_t addr[16] = { 0 };

		mm_hll_add(h, &key, sizeof(key));
		memcpy(addr, &key, sizeof(key));
		if (top != NULL && count / k > 0)
			mm_topk_addr_add(top, addr, count / k);
	}
}

static void add_shape(struct sim *s, struct mm_hoststep *h, const struct shape *t, double scale)
{
	const uint64_t R = s->p.sampling_rate;
	struct rng *r = &s->rng;
	double si = t->size_in > 0 ? t->size_in : 500, so = t->size_out > 0 ? t->size_out : 500;
	uint64_t tin = poisson(r, t->tcp_in * scale), uin = poisson(r, t->udp_in * scale);
	uint64_t iin = poisson(r, t->icmp_in * scale), syn = poisson(r, t->syn_in * scale);
	uint64_t amp = poisson(r, t->amp_in * scale);
	uint64_t tout = poisson(r, t->tcp_out * scale), uout = poisson(r, t->udp_out * scale);
	uint64_t iout = poisson(r, t->icmp_out * scale), sout = poisson(r, t->syn_out * scale);
	uint64_t ain = poisson(r, t->auth_in * scale), aout = poisson(r, t->auth_out * scale);
	uint64_t in = tin + uin + iin + syn + amp, out = tout + uout + iout + sout;

	h->ctr[MM_C_TCP_PKTS_IN] += (tin + syn) * R;
	h->ctr[MM_C_TCP_FLOWS_IN] += (tin + syn) * R;
	h->ctr[MM_C_TCP_BYTES_IN] += (uint64_t)((tin * si + syn * 60) * R);
	h->ctr[MM_C_SYN_PKTS_IN] += syn * R;
	h->ctr[MM_C_SYN_FLOWS_IN] += syn * R;
	h->ctr[MM_C_UDP_PKTS_IN] += (uin + amp) * R;
	h->ctr[MM_C_UDP_FLOWS_IN] += (uin + amp) * R;
	h->ctr[MM_C_UDP_BYTES_IN] += (uint64_t)((uin * si + amp * 1400) * R);
	h->ctr[MM_C_AMP_PKTS_IN + t->amp_slot] += amp * R;
	h->ctr[MM_C_AMP_BYTES_IN + t->amp_slot] += amp * 1400 * R;
	h->ctr[MM_C_AMP_FLOWS_IN + t->amp_slot] += amp * R;
	h->ctr[MM_C_ICMP_PKTS_IN] += iin * R;
	h->ctr[MM_C_ICMP_FLOWS_IN] += iin * R;
	h->ctr[MM_C_PKTS_IN] += in * R;
	h->ctr[MM_C_FLOWS_IN] += in * R;
	h->ctr[MM_C_BYTES_IN] += (uint64_t)(((tin + uin + iin) * si + syn * 60 + amp * 1400) * R);
	h->ctr[MM_C_TCP_PKTS_OUT] += (tout + sout) * R;
	h->ctr[MM_C_TCP_BYTES_OUT] += (uint64_t)((tout * so + sout * 60) * R);
	h->ctr[MM_C_SYN_PKTS_OUT] += sout * R;
	h->ctr[MM_C_SYN_FLOWS_OUT] += sout * R;
	h->ctr[MM_C_UDP_PKTS_OUT] += uout * R;
	h->ctr[MM_C_UDP_BYTES_OUT] += (uint64_t)(uout * so * R);
	h->ctr[MM_C_ICMP_PKTS_OUT] += iout * R;
	h->ctr[MM_C_ICMP_BYTES_OUT] += (uint64_t)(iout * so * R);
	h->ctr[MM_C_PKTS_OUT] += out * R;
	h->ctr[MM_C_FLOWS_OUT] += out * R;
	h->ctr[MM_C_SMALL_FLOWS_OUT] += out * R; /* at 1:1000 every sampled record is small */
	h->ctr[MM_C_BYTES_OUT] += (uint64_t)(((tout + uout + iout) * so + sout * 60) * R);
	h->ctr[MM_C_AUTH_FLOWS_IN] += ain * R;
	h->ctr[MM_C_AUTH_FLOWS_OUT] += aout * R;
	add_keys(s, &h->hll[MM_S_PEERS_IN], t->peers_in * scale, t->peers_in_pool, t->pool_base, 1, h->peers_in,
		 in * R);
	add_keys(s, &h->hll[MM_S_PEERS_OUT], t->peers_out * scale, t->peers_out_pool, t->pool_base, 2, h->peers_out,
		 out * R);
	add_keys(s, &h->hll[MM_S_DPORTS_OUT], t->dports_out * scale, t->dports_out_pool, t->pool_base, 3, NULL, 0);
}

/* The sum of the last n steps (counters and sketches: what the daemon
 * reads back from Redis). */
static void window_sum(const struct sim *s, unsigned n, struct mm_hoststep *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n && i <= s->steps_run; i++) {
		const struct mm_hoststep *h = &s->ring[(s->step - i) % SLOW];

		for (int c = 0; c < MM_C_COUNT; c++)
			out->ctr[c] += h->ctr[c];
		for (int k = 0; k < MM_S_COUNT; k++)
			mm_hll_merge(&out->hll[k], &h->hll[k]);
		mm_topk_addr_merge(out->peers_in, h->peers_in);
		mm_topk_addr_merge(out->peers_out, h->peers_out);
	}
}

/* Run one step with background bg (x bg_scale) and attack atk (x
 * atk_scale, NULL for none): score, then learn. */
static const struct mm_score_result *sim_step(struct sim *s, const struct shape *bg, double bg_scale,
					      const struct shape *atk, double atk_scale)
{
	struct mm_hoststep *h = &s->ring[s->step % SLOW], fast, slow;
	struct mm_features xf, xs;
	struct mm_view v = { &xf, &xs, s->step, s->external };

	memset(h, 0, sizeof(*h));
	if (bg != NULL)
		add_shape(s, h, bg, bg_scale);
	if (atk != NULL)
		add_shape(s, h, atk, atk_scale);
	window_sum(s, FAST, &fast);
	window_sum(s, SLOW, &slow);
	mm_features_compute(&fast, FAST * (double)s->p.step_s, s->p.sampling_rate, &xf);
	mm_features_compute(&slow, SLOW * (double)s->p.step_s, s->p.sampling_rate, &xs);
	if (s->prefix)
		mm_score_prefix(&s->p, &v, &s->bl, NULL, s->top_excess, &s->cf, &s->res);
	else
		mm_score_host(&s->p, &v, &s->bl, s->group, NULL, &s->cf, &s->res);
	mm_baseline_learn(&s->bl, &s->p, &v, NULL, s->res.hot, s->res.bytes_out_hot);
	s->step++;
	s->steps_run++;
	return &s->res;
}

/* What a run raised: confirmed steps and the first one per class. */
struct tally {
	unsigned confirmed[MM_CLASS_COUNT];
	long first[MM_CLASS_COUNT]; /* steps after the tally started, -1 never */
	unsigned steps;
};

static void tally_init(struct tally *t)
{
	memset(t, 0, sizeof(*t));
	for (int k = 0; k < MM_CLASS_COUNT; k++)
		t->first[k] = -1;
}

static void tally_add(struct tally *t, const struct mm_score_result *r)
{
	for (int k = 0; k < MM_CLASS_COUNT; k++)
		if (r->cls[k].confirmed) {
			if (t->confirmed[k]++ == 0)
				t->first[k] = t->steps;
		}
	t->steps++;
}

static void run(struct sim *s, const struct shape *bg, const struct shape *atk, unsigned n, struct tally *t)
{
	for (unsigned i = 0; i < n; i++) {
		const struct mm_score_result *r = sim_step(s, bg, 1.0, atk, 1.0);

		if (t != NULL)
			tally_add(t, r);
	}
}

/* Class k is quiet, or loud but closed by `gate`. */
static void assert_gated(const struct mm_detect_params *p, const struct mm_score_result *r, enum mm_class k,
			 enum mm_gate gate)
{
	const struct mm_class_score *cs = &r->cls[k];

	ck_assert_msg(!cs->hit, "%s hit", mm_class_info(k)->name);
	ck_assert_msg(cs->score < p->score_investigate || cs->gate == gate, "%s: score %f, gate %s, want %s",
		      mm_class_info(k)->name, (double)cs->score, mm_gate_name((enum mm_gate)cs->gate),
		      mm_gate_name(gate));
}

/* Nothing but `allowed` (-1: nothing at all) was confirmed. */
static void assert_only(const struct tally *t, int allowed, const char *what)
{
	for (int k = 0; k < MM_CLASS_COUNT; k++)
		if (k != allowed)
			ck_assert_msg(t->confirmed[k] == 0, "%s: %s confirmed %u times (first at %ld)", what,
				      mm_class_info((enum mm_class)k)->name, t->confirmed[k], t->first[k]);
}

/* Host shapes at 1:1000, sampled per 10 s step. */
static const struct shape web_server = {
	.tcp_in = 3, .syn_in = 0.15, .udp_in = 0.5, .icmp_in = 0.05,
	.tcp_out = 4, .udp_out = 0.5, .icmp_out = 0.05, .size_in = 120, .size_out = 1200,
	.auth_in = 0.02, .peers_in = 3, .peers_in_pool = 400, .peers_out = 3, .peers_out_pool = 400,
	.dports_out = 0.5, .dports_out_pool = 3, .pool_base = 1,
};
static const struct shape client = {
	.tcp_in = 4, .tcp_out = 2.5, .udp_in = 1, .udp_out = 1, .size_in = 1200, .size_out = 150,
	.peers_in = 2, .peers_in_pool = 60, .peers_out = 2, .peers_out_pool = 60,
	.dports_out = 1, .dports_out_pool = 6, .syn_out = 0.02, .pool_base = 2,
};

/* A host warmed on its background for 400 steps (past warm-up), nothing
 * raised meanwhile. */
static void warm(struct sim *s, const struct shape *bg, uint64_t seed)
{
	struct tally t;

	sim_init(s, seed, T0);
	tally_init(&t);
	run(s, bg, NULL, 400, &t);
	ck_assert(mm_baseline_warm(&s->bl, &s->p));
	assert_only(&t, -1, "warm-up");
}

/* The attack is confirmed within `delay` steps, and nothing else is. */
static void expect_class(struct sim *s, const struct shape *bg, const struct shape *atk, enum mm_class k,
			 unsigned steps, long delay)
{
	struct tally t;

	tally_init(&t);
	run(s, bg, atk, steps, &t);
	ck_assert_msg(t.first[k] >= 0 && t.first[k] <= delay, "%s: first confirmed at %ld (want <= %ld)",
		      mm_class_info(k)->name, t.first[k], delay);
	assert_only(&t, (int)k, mm_class_info(k)->name);
}

/* ---- every class on its shape -------------------------------------------- */

/* A UDP flood adding 30 sampled packets a window (5 a step: the brief's
 * weakest flood that must be seen) to a web server: confirmed once the
 * window holds enough of it to be 6 sigma (about 15 sampled packets on the
 * 3 expected), 3 to 9 steps over 120 seeds; twice that in 2 to 4 steps (2
 * is the earliest 2-of-3 allows), at the act tier.  An echo flood too,
 * answered packet for packet or not. */
START_TEST(test_class_flood)
{
	struct sim s;
	static const struct shape atk = { .udp_in = 5, .peers_in = 5 };
	static const struct shape atk2 = { .udp_in = 10, .peers_in = 10 };

	warm(&s, &web_server, 11);
	expect_class(&s, &web_server, &atk, MM_CLASS_FLOOD, 20, 8);
	ck_assert_int_eq(s.res.cls[MM_CLASS_FLOOD].feature, MM_F_UDP_PKTS_IN);
	warm(&s, &web_server, 13);
	expect_class(&s, &web_server, &atk2, MM_CLASS_FLOOD, 20, 4);
	ck_assert_int_eq(s.res.cls[MM_CLASS_FLOOD].tier, MM_TIER_ACT);
	/* An ICMP echo flood (30 a window), answered packet for packet. */
	{
		static const struct shape icmp = { .icmp_in = 5, .icmp_out = 5, .peers_in = 5 };

		warm(&s, &web_server, 12);
		expect_class(&s, &web_server, &icmp, MM_CLASS_FLOOD, 20, 8);
	}
}
END_TEST

START_TEST(test_class_syn_flood)
{
	struct sim s;
	static const struct shape atk = { .syn_in = 8, .peers_in = 8 };

	warm(&s, &web_server, 21);
	expect_class(&s, &web_server, &atk, MM_CLASS_SYN_FLOOD, 20, 4);
	ck_assert_int_eq(s.res.cls[MM_CLASS_SYN_FLOOD].feature, MM_F_SYN_PKTS_IN);
}
END_TEST

/* Reflection from 20 NTP servers at the brief's 50 Mbit/s (4 464 packets
 * of 1400 bytes a second: 45 sampled a step): amplification, vector ntp,
 * within 2 steps; 20 Mbit/s within 6; never flood. */
START_TEST(test_class_amplification)
{
	struct sim s;
	static const struct shape atk = {
		.amp_in = 45, .amp_slot = 1, .peers_in = 45, .peers_in_pool = 20, .pool_base = 9,
	};
	static const struct shape weak = {
		.amp_in = 18, .amp_slot = 1, .peers_in = 18, .peers_in_pool = 20, .pool_base = 9,
	};

	warm(&s, &client, 33);
	expect_class(&s, &client, &weak, MM_CLASS_AMPLIFICATION, 20, 6);
	warm(&s, &client, 31);
	expect_class(&s, &client, &atk, MM_CLASS_AMPLIFICATION, 20, 2);
	ck_assert_int_eq(s.res.cls[MM_CLASS_AMPLIFICATION].vector, 1);
	ck_assert_str_eq(mm_amp_slot_name((unsigned)s.res.cls[MM_CLASS_AMPLIFICATION].vector), "ntp");

	/* One source sending from port 123: not reflection but a flood. */
	{
		static const struct shape one = { .amp_in = 10, .amp_slot = 1, .peers_in = 10, .peers_in_pool = 1,
						  .pool_base = 9 };

		warm(&s, &client, 32);
		expect_class(&s, &client, &one, MM_CLASS_FLOOD, 20, 8);
		assert_gated(&s.p, &s.res, MM_CLASS_AMPLIFICATION, MM_GATE_SHAPE);
	}
}
END_TEST

/* An external source scanning one port over many addresses, 100 probes/s
 * at 1:1000 (one sampled probe a step): no baseline, scored against
 * zero; horizontal; confirmed (6 of 9 on the 5-minute slow window) in 15
 * to 42 steps over 40 seeds: within the brief's 5 minutes mostly. */
START_TEST(test_class_horizontal_scan)
{
	struct sim s;
	static const struct shape atk = { .syn_out = 1, .peers_out = 1, .dports_out = 1, .dports_out_pool = 1,
					  .pool_base = 5 };

	sim_init(&s, 41, T0);
	s.external = 1;
	expect_class(&s, NULL, &atk, MM_CLASS_HORIZONTAL_SCAN, 60, 45);
	ck_assert_int_eq(s.res.source, MM_EXP_NONE);
	ck_assert_int_eq(s.res.cls[MM_CLASS_HORIZONTAL_SCAN].vector, 0);
}
END_TEST

START_TEST(test_class_vertical_scan)
{
	struct sim s;
	static const struct shape atk = { .syn_out = 1, .peers_out = 1, .peers_out_pool = 1, .dports_out = 1,
					  .pool_base = 6 };

	sim_init(&s, 51, T0);
	s.external = 1;
	expect_class(&s, NULL, &atk, MM_CLASS_VERTICAL_SCAN, 60, 45);
	ck_assert_int_eq(s.res.cls[MM_CLASS_VERTICAL_SCAN].vector, 1);
}
END_TEST

/* Brute force from outside (one sampled attempt a step against one
 * host), and against one of ours (the target side). */
START_TEST(test_class_bruteforce)
{
	struct sim s;
	static const struct shape src = { .auth_out = 1, .tcp_out = 1, .peers_out = 1, .peers_out_pool = 1,
					  .dports_out = 1, .dports_out_pool = 1, .pool_base = 7 };
	static const struct shape tgt = { .auth_in = 1, .tcp_in = 1, .peers_in = 1, .peers_in_pool = 1,
					  .pool_base = 7 };

	sim_init(&s, 61, T0);
	s.external = 1;
	expect_class(&s, NULL, &src, MM_CLASS_BRUTEFORCE, 60, 45);
	ck_assert_int_eq(s.res.cls[MM_CLASS_BRUTEFORCE].vector, 0);

	warm(&s, &web_server, 62);
	expect_class(&s, &web_server, &tgt, MM_CLASS_BRUTEFORCE, 60, 45);
	ck_assert_int_eq(s.res.cls[MM_CLASS_BRUTEFORCE].vector, 1);
}
END_TEST

/* A client turned bot: a UDP flood out, 1000 packets/s.  Its window's
 * average reaches min_outbound_pps (500) in the third step, so one step
 * later than the score alone would confirm it. */
START_TEST(test_class_outbound_flood)
{
	struct sim s;
	static const struct shape atk = { .udp_out = 10, .peers_out = 1, .peers_out_pool = 1, .pool_base = 8 };

	warm(&s, &client, 71);
	expect_class(&s, &client, &atk, MM_CLASS_OUTBOUND_FLOOD, 20, 5);
}
END_TEST

/* A client scanning out for telnet at 100 probes/s. */
START_TEST(test_class_outbound_scan)
{
	struct sim s;
	static const struct shape atk = { .syn_out = 1, .peers_out = 1, .dports_out = 1, .dports_out_pool = 1,
					  .pool_base = 10 };

	warm(&s, &client, 81);
	expect_class(&s, &client, &atk, MM_CLASS_OUTBOUND_SCAN, 80, 60);
}
END_TEST

/* A client uploading 10x its usual bytes to one address. */
START_TEST(test_class_exfiltration)
{
	struct sim s;
	static const struct shape atk = { .tcp_out = 4, .size_out = 1400, .tcp_in = 2, .size_in = 60,
					  .peers_out = 0.5, .peers_out_pool = 1, .pool_base = 11 };

	warm(&s, &client, 91);
	expect_class(&s, &client, &atk, MM_CLASS_EXFILTRATION, 60, 20);
	ck_assert_int_eq(s.res.cls[MM_CLASS_EXFILTRATION].feature, MM_F_BYTES_OUT);
}
END_TEST

/* A /24 of 25 clients flooded at 5x the prefix's inbound, spread so that
 * no address is over its own alarm: carpet bombing on the prefix sum; not
 * when a host of the prefix fires itself. */
START_TEST(test_class_carpet_bombing)
{
	struct sim s;
	struct shape prefix = client, atk = { .udp_in = 0 };

	/* The sum of 25 clients. */
	prefix.tcp_in *= 25, prefix.tcp_out *= 25, prefix.udp_in *= 25, prefix.udp_out *= 25;
	prefix.peers_in *= 25, prefix.peers_in_pool *= 25, prefix.peers_out *= 25, prefix.peers_out_pool *= 25;
	atk.udp_in = 4 * (prefix.tcp_in + prefix.udp_in);
	atk.peers_in = atk.udp_in;
	sim_init(&s, 101, T0);
	s.prefix = 1;
	{
		struct tally t;

		tally_init(&t);
		run(&s, &prefix, NULL, 400, &t);
		assert_only(&t, -1, "prefix warm-up");
	}
	expect_class(&s, &prefix, &atk, MM_CLASS_CARPET_BOMBING, 20, 2);
	/* One host of the prefix carries most of it: its own incident says it. */
	s.top_excess = 1e9;
	sim_step(&s, &prefix, 1, &atk, 1);
	ck_assert(!s.res.cls[MM_CLASS_CARPET_BOMBING].hit);
	ck_assert_int_eq(s.res.cls[MM_CLASS_CARPET_BOMBING].gate, MM_GATE_EXPLAINED);
	/* Hosts that crossed on their own but each carry a small part: still
	 * the prefix that is attacked. */
	s.top_excess = 1;
	sim_step(&s, &prefix, 1, &atk, 1);
	ck_assert(s.res.cls[MM_CLASS_CARPET_BOMBING].hit);
}
END_TEST

/* A cold host is judged against its group's typical host; the group
 * baseline is used once warm, the host's own once warm. */
START_TEST(test_cold_host_group)
{
	struct sim s;
	struct mm_baseline group;
	static const struct shape atk = { .udp_in = 30, .peers_in = 30 };
	struct tally t;

	/* The group's typical host: a web server (learnt from one, here). */
	warm(&s, &web_server, 111);
	group = s.bl;
	sim_init(&s, 112, T0 + 400);
	s.group = &group;
	tally_init(&t);
	run(&s, &web_server, NULL, 20, &t);
	ck_assert_int_eq(s.res.source, MM_EXP_GROUP);
	assert_only(&t, -1, "cold host, quiet");
	expect_class(&s, &web_server, &atk, MM_CLASS_FLOOD, 10, 2);
	ck_assert_int_eq(s.res.source, MM_EXP_GROUP);
	/* A group that has learnt group_warmup_steps (18) stands in, one
	 * step fewer does not: a host's 180 are not asked of it. */
	group.updates = (uint16_t)s.p.group_warmup_steps;
	sim_init(&s, 114, T0 + 400);
	s.group = &group;
	run(&s, &web_server, NULL, 1, NULL);
	ck_assert_int_eq(s.res.source, MM_EXP_GROUP);
	group.updates = (uint16_t)(s.p.group_warmup_steps - 1);
	run(&s, &web_server, NULL, 1, NULL);
	ck_assert_int_eq(s.res.source, MM_EXP_NONE);
	/* No group either: volume classes only by ceilings. */
	sim_init(&s, 113, T0);
	tally_init(&t);
	run(&s, &web_server, &atk, 20, &t);
	ck_assert_int_eq(s.res.source, MM_EXP_NONE);
	assert_only(&t, -1, "no baseline at all");
	ck_assert_int_eq(s.res.cls[MM_CLASS_OUTBOUND_SCAN].gate, MM_GATE_NO_BASELINE);
}
END_TEST

/* ---- benign look-alikes -------------------------------------------------- */

/* Long quiet runs of each host shape raise nothing. */
START_TEST(test_quiet_background)
{
	const struct shape *shapes[] = { &web_server, &client };
	struct sim s;
	struct tally t;

	for (size_t i = 0; i < 2; i++) {
		warm(&s, shapes[i], 200 + i);
		tally_init(&t);
		run(&s, shapes[i], NULL, 3000, &t);
		assert_only(&t, -1, "quiet background");
	}
}
END_TEST

/* At 1:100 a quiet host's new stream is many sigmas over its baseline: a
 * rise of ~30 packets/s from many peers confirms as a flood without the
 * absolute floor and is held back (gate `small`) with it. */
START_TEST(test_floor_quiet_host)
{
	static const struct shape quiet = {
		.tcp_in = 0.4, .tcp_out = 0.3, .udp_in = 0.1, .udp_out = 0.1, .size_in = 1000, .size_out = 150,
		.peers_in = 0.5, .peers_in_pool = 20, .peers_out = 0.5, .peers_out_pool = 20, .pool_base = 12,
	};
	static const struct shape stream = { .udp_in = 3, .size_in = 1200, .peers_in = 3, .pool_base = 13 };
	struct sim s;
	struct tally t;
	int loud = 0;

	for (int floor = 0; floor < 2; floor++) {
		sim_init(&s, 77, T0);
		s.p.sampling_rate = 100;
		if (!floor)
			s.p.min_flood_pps = 0;
		tally_init(&t);
		run(&s, &quiet, NULL, 400, &t);
		ck_assert(mm_baseline_warm(&s.bl, &s.p));
		assert_only(&t, -1, "warm-up");
		tally_init(&t);
		for (unsigned i = 0; i < 20; i++) {
			const struct mm_score_result *r = sim_step(&s, &quiet, 1.0, &stream, 1.0);

			tally_add(&t, r);
			if (floor && r->cls[MM_CLASS_FLOOD].score >= s.p.score_investigate) {
				ck_assert_int_eq(r->cls[MM_CLASS_FLOOD].gate, MM_GATE_SMALL);
				loud++;
			}
		}
		if (floor) {
			assert_only(&t, -1, "30 pps with the floor");
			ck_assert_msg(loud > 0, "the stream never scored high: the test shows nothing");
		} else {
			ck_assert_msg(t.confirmed[MM_CLASS_FLOOD] > 0, "no flood without the floor");
		}
	}
}
END_TEST

/* A flash crowd: ten times the visitors, each behaving as usual (their
 * connections complete, the server answers them). */
START_TEST(test_benign_flash_crowd)
{
	struct sim s;
	struct tally t;
	struct shape extra = web_server;

	/* Nine times more visitors (new ones): their web traffic, not the
	 * admins' SSH. */
	extra.peers_in_pool = extra.peers_out_pool = 0;
	extra.auth_in = 0;
	warm(&s, &web_server, 301);
	tally_init(&t);
	for (unsigned i = 0; i < 60; i++)
		tally_add(&t, sim_step(&s, &web_server, 1, &extra, 9));
	assert_only(&t, -1, "flash crowd");
	/* Loud, and told apart by their shape. */
	ck_assert_double_ge(s.res.cls[MM_CLASS_FLOOD].score, s.p.score_investigate);
	ck_assert_int_eq(s.res.cls[MM_CLASS_FLOOD].gate, MM_GATE_ANSWERED);
	ck_assert_double_ge(s.res.cls[MM_CLASS_EXFILTRATION].score, s.p.score_investigate);
	ck_assert_int_eq(s.res.cls[MM_CLASS_EXFILTRATION].gate, MM_GATE_SHAPE);
	assert_gated(&s.p, &s.res, MM_CLASS_SYN_FLOOD, MM_GATE_SHAPE);
	assert_gated(&s.p, &s.res, MM_CLASS_OUTBOUND_FLOOD, MM_GATE_ANSWERED);
}
END_TEST

/* A busy resolver: lots of UDP from port 53 in, each the answer to its
 * own query out; a surge of both is not reflection, nor a flood either
 * way. */
START_TEST(test_benign_busy_resolver)
{
	static const struct shape resolver = {
		.udp_out = 20, .amp_in = 0, .udp_in = 10, .size_out = 80, .size_in = 300,
		.peers_in = 10, .peers_in_pool = 2000, .peers_out = 10, .peers_out_pool = 2000,
		.dports_out = 2, .dports_out_pool = 2, .pool_base = 12,
	};
	/* The answers: UDP from port 53, as many as the queries. */
	static const struct shape answers = { .amp_in = 20, .amp_slot = 0 };
	struct shape both = resolver;
	struct sim s;
	struct tally t;

	both.amp_in = answers.amp_in;
	warm(&s, &both, 401);
	ck_assert_double_lt(s.bl.mean[MM_F_AMP_PKTS_IN], 0.1 * (20 * 100));
	tally_init(&t);
	for (unsigned i = 0; i < 60; i++)
		tally_add(&t, sim_step(&s, &both, 3, NULL, 0));
	assert_only(&t, -1, "busy resolver surge");
	assert_gated(&s.p, &s.res, MM_CLASS_OUTBOUND_FLOOD, MM_GATE_ANSWERED);
	assert_gated(&s.p, &s.res, MM_CLASS_FLOOD, MM_GATE_ANSWERED);
	assert_gated(&s.p, &s.res, MM_CLASS_AMPLIFICATION, MM_GATE_NONE);
}
END_TEST

/* A backup host: 30 sampled packets of 1400 bytes a step to one address
 * from 02:00 to 03:00 UTC every night.  The first nights may alert
 * (exfiltration cannot be told from a first backup); from the third on
 * nothing, and never anything else.  One-minute steps keep 5.5 days
 * short; the run starts at noon so the host is warm by the first night. */
START_TEST(test_benign_nightly_backup)
{
	static const struct shape backup = { .tcp_out = 30, .size_out = 1400, .tcp_in = 15, .size_in = 60,
					     .peers_out = 1, .peers_out_pool = 1, .pool_base = 13 };
	const uint64_t day0 = 19675; /* 2023-11-14 */
	struct sim s;
	struct tally early, later;

	sim_init(&s, 501, day0 * 1440 + 720);
	s.p.step_s = 60;
	tally_init(&early);
	tally_init(&later);
	while (s.step < (day0 + 6) * 1440) {
		uint64_t minute = s.step % 1440, day = s.step / 1440 - day0;
		int on = minute >= 120 && minute < 180;
		const struct mm_score_result *r = sim_step(&s, &client, 1, on ? &backup : NULL, 1);

		tally_add(day <= 2 ? &early : &later, r);
	}
	assert_only(&early, MM_CLASS_EXFILTRATION, "backup, first nights");
	ck_assert_uint_gt(early.confirmed[MM_CLASS_EXFILTRATION], 0); /* it does look like exfiltration */
	assert_only(&later, -1, "backup, later nights");
	ck_assert_uint_ge(s.bl.burst.days, 2);
	ck_assert_uint_eq(s.bl.burst.hour, 2);
}
END_TEST

/* A CDN node: heavy TCP both ways with thousands of peers, and its
 * evening rise to twice the traffic over an hour. */
START_TEST(test_benign_cdn)
{
	static const struct shape cdn = {
		.tcp_in = 150, .syn_in = 6, .tcp_out = 220, .size_in = 80, .size_out = 1400, .udp_in = 5, .udp_out = 5,
		.peers_in = 100, .peers_in_pool = 30000, .peers_out = 100, .peers_out_pool = 30000,
		.dports_out = 1, .dports_out_pool = 2, .pool_base = 14,
	};
	struct sim s;
	struct tally t;

	warm(&s, &cdn, 601);
	tally_init(&t);
	run(&s, &cdn, NULL, 300, &t);
	for (unsigned i = 0; i < 360; i++)
		tally_add(&t, sim_step(&s, &cdn, 1.0 + i / 360.0, NULL, 0));
	for (unsigned i = 0; i < 300; i++)
		tally_add(&t, sim_step(&s, &cdn, 2.0, NULL, 0));
	assert_only(&t, -1, "CDN");
}
END_TEST

static Suite *score_suite(void)
{
	Suite *s = suite_create("score");
	TCase *tc = tcase_create("maths");

	tcase_add_test(tc, test_params_match_config);
	tcase_add_test(tc, test_features);
	tcase_add_test(tc, test_score_math);
	tcase_add_test(tc, test_min_sampled_packets);
	tcase_add_test(tc, test_ceilings);
	tcase_add_test(tc, test_tiers);
	tcase_add_test(tc, test_confirm_fast);
	tcase_add_test(tc, test_confirm_slow);
	suite_add_tcase(s, tc);

	tc = tcase_create("classes");
	tcase_add_test(tc, test_class_flood);
	tcase_add_test(tc, test_class_syn_flood);
	tcase_add_test(tc, test_class_amplification);
	tcase_add_test(tc, test_class_horizontal_scan);
	tcase_add_test(tc, test_class_vertical_scan);
	tcase_add_test(tc, test_class_bruteforce);
	tcase_add_test(tc, test_class_outbound_flood);
	tcase_add_test(tc, test_class_outbound_scan);
	tcase_add_test(tc, test_class_exfiltration);
	tcase_add_test(tc, test_class_carpet_bombing);
	tcase_add_test(tc, test_cold_host_group);
	suite_add_tcase(s, tc);

	tc = tcase_create("benign");
	tcase_add_test(tc, test_quiet_background);
	tcase_add_test(tc, test_floor_quiet_host);
	tcase_add_test(tc, test_benign_flash_crowd);
	tcase_add_test(tc, test_benign_busy_resolver);
	tcase_add_test(tc, test_benign_nightly_backup);
	tcase_add_test(tc, test_benign_cdn);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(score_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
