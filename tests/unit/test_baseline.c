/*
 * test_baseline.c - the detector's baselines (detector/baseline.c):
 * EWMA convergence, warm-up, learning frozen while hot, clipped updates (a
 * ramp from 1x to 20x over 200 steps is still detected), silent steps,
 * the time-of-week profile, the group baseline, the recurring-burst
 * memory, and the blob: round trip, and every kind of corruption rejected.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/score.h"
#include "lib/sim.h"

#define T0 170000000u /* a step number in 2023 at 10 s steps */

/* ---- helpers ---------------------------------------------------------- */


/* Features with every detection feature at v (units), over span_s at
 * 1:rate: what the baseline learns from, without a hoststep. */
static void flat_features(struct mm_features *x, double span_s, uint32_t rate, double v)
{
	memset(x, 0, sizeof(*x));
	x->span_s = span_s;
	x->sampling_rate = rate;
	x->amp_vector = -1;
	for (int f = 0; f < MM_F_COUNT; f++) {
		int distinct = mm_feat_info((enum mm_feat)f)->unit == MM_U_DISTINCT;

		x->value[f] = v;
		x->value_sampled[f] = distinct ? v : v * span_s / rate;
	}
}

static void params(struct mm_detect_params *p)
{
	mm_detect_params_default(p);
}

/* ---- EWMA ------------------------------------------------------------- */

/* Values drawn around 50 with sigma 5 (a busy feature at 1:1): the mean
 * and the variance settle on the truth. */
START_TEST(test_ewma_converges)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_features x;
	struct mm_view v = { &x, NULL, 0, 0 };
	struct rng r = { 88172645463325252ull };

	params(&p);
	p.alpha = 0.01;
	mm_baseline_init(&b);
	for (unsigned i = 0; i < 3000; i++) {
		double z = sqrt(-2 * log(unif(&r) + 1e-300)) * cos(2 * M_PI * unif(&r));

		flat_features(&x, 60, 1, 50 + 5 * z);
		v.step = T0 + i;
		mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	}
	ck_assert_uint_eq(b.updates, 3000);
	ck_assert_uint_eq(b.last_step, T0 + 2999);
	for (int f = 0; f < MM_F_COUNT; f++) {
		ck_assert_msg(fabs(b.mean[f] - 50) < 2.0, "feature %d mean %f", f, (double)b.mean[f]);
		ck_assert_msg(sqrt(b.var[f]) > 3.5 && sqrt(b.var[f]) < 6.5, "feature %d sigma %f", f,
			      sqrt(b.var[f]));
	}
}
END_TEST

/* Warm-up: the first steps are their plain mean (no drag from the initial
 * zero), the baseline is trusted from warmup_steps on. */
START_TEST(test_warmup)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_features x;
	struct mm_view v = { &x, NULL, 0, 0 };

	params(&p);
	p.warmup_steps = 20;
	mm_baseline_init(&b);
	ck_assert(!mm_baseline_warm(&b, &p));
	ck_assert(!mm_baseline_warm(NULL, &p));
	flat_features(&x, 60, 1000, 10);
	v.step = T0;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	ck_assert_float_eq_tol(b.mean[MM_F_PKTS_OUT], 10, 1e-6);
	ck_assert_float_eq_tol(b.var[MM_F_PKTS_OUT], 0, 1e-6);
	flat_features(&x, 60, 1000, 20);
	v.step = T0 + 1;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	ck_assert_float_eq_tol(b.mean[MM_F_PKTS_OUT], 15, 1e-5);
	ck_assert_float_eq_tol(b.var[MM_F_PKTS_OUT], 25, 1e-4); /* population variance of {10, 20} */
	for (unsigned i = 2; i < 19; i++) {
		v.step = T0 + i;
		mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	}
	ck_assert_uint_eq(b.updates, 19);
	ck_assert(!mm_baseline_warm(&b, &p));
	v.step = T0 + 19;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	ck_assert(mm_baseline_warm(&b, &p));
	/* The same step again (a re-read) or an older one teaches nothing. */
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	v.step = T0 + 3;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	ck_assert_uint_eq(b.updates, 20);
}
END_TEST

/* While hot nothing is learnt: mean, variance and the count stay. */
START_TEST(test_frozen_while_hot)
{
	struct mm_detect_params p;
	struct mm_baseline b, before;
	struct mm_features x;
	struct mm_view v = { &x, NULL, 0, 0 };

	params(&p);
	mm_baseline_init(&b);
	flat_features(&x, 60, 1000, 5);
	for (unsigned i = 0; i < 200; i++) {
		v.step = T0 + i;
		mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	}
	before = b;
	flat_features(&x, 60, 1000, 5000);
	for (unsigned i = 200; i < 260; i++) {
		v.step = T0 + i;
		mm_baseline_learn(&b, &p, &v, NULL, 1, 0);
	}
	ck_assert_uint_eq(b.updates, before.updates);
	ck_assert_mem_eq(b.mean, before.mean, sizeof(b.mean));
	ck_assert_mem_eq(b.var, before.var, sizeof(b.var));
	ck_assert_uint_eq(b.last_step, T0 + 259);
	/* Not hot any more: learning resumes where it was. */
	flat_features(&x, 60, 1000, 5);
	v.step = T0 + 260;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	ck_assert_uint_eq(b.updates, before.updates + 1);
	ck_assert_float_eq_tol(b.mean[MM_F_BYTES_OUT], 5, 1e-4);
}
END_TEST

/* Once warm, one step moves the mean by at most alpha x clip x sigma,
 * sigma floored at the Poisson spread and capped at 0.2 x the mean;
 * before warm-up it is unclipped. */
START_TEST(test_update_clipped)
{
	struct mm_detect_params p;
	struct mm_baseline b, c;
	struct mm_features x;
	struct mm_view v = { &x, NULL, T0, 0 };
	const enum mm_feat f = MM_F_PKTS_OUT;
	const double big = 1000 + 100 * 150.0;
	double sigma, moved, per = 60.0 / 1000.0;

	params(&p);
	mm_baseline_init(&b);
	b.updates = (uint16_t)p.warmup_steps;
	b.last_step = T0 - 1;
	/* 1000 pps with sigma 150 pps: above the Poisson floor (1000 pps is
	 * 60 sampled a window: sqrt(60) = 7.75 sampled = 129 pps), under
	 * the cap (200 pps). */
	for (int i = 0; i < MM_F_COUNT; i++) {
		b.mean[i] = 1000;
		b.var[i] = 150 * 150;
	}
	c = b;
	flat_features(&x, 60, 1000, big); /* +100 sigma */
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	moved = b.mean[f] - 1000.0;
	ck_assert_msg(fabs(moved - p.alpha * p.learn_clip * 150) < 1e-3, "moved %f", moved);

	/* A sigma below the Poisson spread is floored. */
	c.var[f] = 1;
	b = c;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	sigma = sqrt(1000 * per) / per;
	moved = b.mean[f] - 1000.0;
	ck_assert_msg(fabs(moved - p.alpha * p.learn_clip * sigma) < 1e-2, "moved %f, want %f", moved,
		      p.alpha * p.learn_clip * sigma);

	/* A sigma above 0.2 x the mean is capped there. */
	c.var[f] = 900 * 900;
	b = c;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	moved = b.mean[f] - 1000.0;
	ck_assert_msg(fabs(moved - p.alpha * p.learn_clip * 200) < 1e-2, "moved %f", moved);

	/* Cold: the plain weight, no clipping. */
	c.updates = 10;
	b = c;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	moved = b.mean[f] - 1000.0;
	ck_assert_msg(fabs(moved - (big - 1000) / 11.0) < 0.5, "moved %f", moved);
}
END_TEST

/* ---- a small host model for the ramp ----------------------------------- */

#define WIN 6

struct host {
	struct mm_hoststep ring[WIN];
	struct mm_baseline b;
	struct mm_confirm cf;
	struct mm_detect_params p;
	struct rng r;
	uint64_t step;
};

/* One step of a web server at 1:1000 (sampled per step: 3 TCP in, 4 TCP
 * out, 0.5 UDP in and out) plus `udp_extra` sampled UDP packets in from
 * spoofed sources; scored, then learnt as the daemon would. */
static const struct mm_score_result *host_step(struct host *h, double udp_extra, int learn_hot,
					       struct mm_score_result *res)
{
	struct mm_hoststep *s = &h->ring[h->step % WIN], win;
	struct mm_features fast;
	struct mm_view v = { &fast, NULL, h->step, 0 };
	const double R = 1000;
	uint64_t tin = poisson(&h->r, 3), tout = poisson(&h->r, 4);
	uint64_t uin = poisson(&h->r, 0.5) + poisson(&h->r, udp_extra), uout = poisson(&h->r, 0.5);

	memset(s, 0, sizeof(*s));
	s->ctr[MM_C_TCP_PKTS_IN] = (uint64_t)(tin * R);
	s->ctr[MM_C_TCP_PKTS_OUT] = (uint64_t)(tout * R);
	s->ctr[MM_C_UDP_PKTS_IN] = (uint64_t)(uin * R);
	s->ctr[MM_C_UDP_PKTS_OUT] = (uint64_t)(uout * R);
	s->ctr[MM_C_PKTS_IN] = (uint64_t)((tin + uin) * R);
	s->ctr[MM_C_PKTS_OUT] = (uint64_t)((tout + uout) * R);
	s->ctr[MM_C_BYTES_IN] = (uint64_t)((tin + uin) * R * 200);
	s->ctr[MM_C_BYTES_OUT] = (uint64_t)((tout + uout) * R * 1200);
	memset(&win, 0, sizeof(win));
	for (unsigned i = 0; i < WIN; i++)
		for (int c = 0; c < MM_C_COUNT; c++)
			win.ctr[c] += h->ring[i].ctr[c];
	mm_features_compute(&win, WIN * 10.0, 1000, &fast);
	mm_score_host(&h->p, &v, &h->b, NULL, NULL, &h->cf, res);
	mm_baseline_learn(&h->b, &h->p, &v, NULL, learn_hot ? res->hot : 0, res->bytes_out_hot);
	h->step++;
	return res;
}

static void host_init(struct host *h, uint64_t seed)
{
	memset(h, 0, sizeof(*h));
	params(&h->p);
	mm_baseline_init(&h->b);
	mm_confirm_init(&h->cf);
	h->r.s = seed;
	h->step = T0;
}

/* A flood ramping linearly from 1x to 20x the host's inbound packets over
 * 200 steps is caught, and the baseline has not been taught it. */
START_TEST(test_ramp_detected)
{
	struct host h;
	struct mm_score_result res;
	double base_in, learnt;
	int first = -1;

	host_init(&h, 0x9e3779b97f4a7c15ull);
	for (unsigned i = 0; i < 400; i++)
		ck_assert(!host_step(&h, 0, 1, &res)->cls[MM_CLASS_FLOOD].confirmed);
	ck_assert(mm_baseline_warm(&h.b, &h.p));
	base_in = h.b.mean[MM_F_FLOOD_PKTS_IN];
	for (unsigned i = 0; i < 200; i++) {
		/* Inbound is 3.5 sampled packets a step: add 0 .. 19 x that. */
		double extra = 3.5 * 19.0 * (i + 1) / 200.0;

		host_step(&h, extra, 1, &res);
		if (first < 0 && res.cls[MM_CLASS_FLOOD].confirmed)
			first = (int)i;
	}
	ck_assert_msg(first >= 0, "the ramp was never detected");
	/* Detected while the attack was still small (under 3x). */
	ck_assert_msg(first < 20, "detected only at step %d of the ramp", first);
	ck_assert(res.cls[MM_CLASS_FLOOD].confirmed);
	learnt = h.b.mean[MM_F_FLOOD_PKTS_IN];
	ck_assert_msg(learnt < 1.5 * base_in, "baseline taught the ramp: %f -> %f", base_in, learnt);
}
END_TEST

/* Clipping on its own: learning the same ramp without the freeze, the
 * mean lags far behind where an unclipped EWMA would be. */
START_TEST(test_ramp_clipping_alone)
{
	struct host h, u;
	struct mm_score_result res;

	host_init(&h, 42);
	host_init(&u, 42);
	u.p.learn_clip = 1e9; /* effectively unclipped */
	for (unsigned i = 0; i < 400; i++) {
		host_step(&h, 0, 0, &res);
		host_step(&u, 0, 0, &res);
	}
	for (unsigned i = 0; i < 60; i++) {
		double extra = 3.5 * 19.0 * (i + 1) / 200.0;

		host_step(&h, extra, 0, &res);
		host_step(&u, extra, 0, &res);
	}
	ck_assert_msg(h.b.mean[MM_F_FLOOD_PKTS_IN] < 0.7 * u.b.mean[MM_F_FLOOD_PKTS_IN],
		      "clipped %f vs unclipped %f", (double)h.b.mean[MM_F_FLOOD_PKTS_IN],
		      (double)u.b.mean[MM_F_FLOOD_PKTS_IN]);
}
END_TEST

/* Steps with no data between two learnt ones are learnt as silence (the
 * mean decays as (1 - alpha)^gap), at most 4 / alpha of them. */
START_TEST(test_silent_steps)
{
	struct mm_detect_params p;
	struct mm_baseline b, c;
	struct mm_features x;
	struct mm_view v = { &x, NULL, 0, 0 };

	params(&p);
	mm_baseline_init(&b);
	flat_features(&x, 60, 1000, 100);
	for (unsigned i = 0; i < 300; i++) {
		v.step = T0 + i;
		mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	}
	c = b;
	v.step = T0 + 299 + 51; /* 50 silent steps */
	mm_baseline_learn(&b, &p, &v, NULL, 1, 0);
	ck_assert_uint_eq(b.updates, c.updates + 50);
	/* Clipped at 3 sigma with sigma at its Poisson floor (100 pps = 6
	 * sampled, sqrt 6 = 2.45 sampled = 40.8 pps): the mean falls by at
	 * most alpha x 3 x 40.8 a step, and by at least (1 - alpha)^50. */
	ck_assert(b.mean[MM_F_PKTS_OUT] < c.mean[MM_F_PKTS_OUT]);
	ck_assert(b.mean[MM_F_PKTS_OUT] >= c.mean[MM_F_PKTS_OUT] - 50 * p.alpha * 3 * 40.83 - 0.5);
	/* A huge gap costs at most 4 / alpha steps of work. */
	c = b;
	v.step += 1000000;
	mm_baseline_learn(&b, &p, &v, NULL, 1, 0);
	ck_assert_uint_eq(b.updates, c.updates + 400);
}
END_TEST

/* ---- time of week, groups ---------------------------------------------- */

/* A group quiet at night (00-08 UTC: 1) and busy by day (3): after two
 * weeks the factor is 1/avg at night and 3/avg by day, avg = 56/24; a host
 * of that shape learns a flat de-seasonalised mean and is expected at
 * its hour's level. */
START_TEST(test_time_of_week)
{
	struct mm_detect_params p;
	struct mm_tow *tow = malloc(sizeof(*tow));
	struct mm_baseline host;
	struct mm_group_acc acc;
	struct mm_features x;
	struct mm_view v = { &x, NULL, 0, 0 };
	const double avg = 56.0 / 24.0;
	uint64_t first;

	ck_assert_ptr_nonnull(tow);
	params(&p);
	p.step_s = 600; /* 6 steps an hour keep two weeks short */
	first = 1699833600 / 600; /* Monday 2023-11-13 00:00 UTC */
	ck_assert_uint_eq(mm_tow_slot(first, p.step_s), 0);
	ck_assert_uint_eq(mm_tow_slot(first + 6 * 24 * 3 + 6 * 5, p.step_s), 3 * 24 + 5);
	mm_tow_init(tow);
	mm_baseline_init(&host);
	for (uint64_t s = first; s < first + 14 * 24 * 6; s++) {
		unsigned hour = (unsigned)(s * 600 / 3600 % 24);
		double level = hour < 8 ? 1.0 : 3.0;

		/* Factor 1 until a day of slots is learnt. */
		if (s < first + 23 * 6)
			ck_assert_double_eq(mm_tow_factor(tow, &p, s, MM_F_PKTS_OUT), 1.0);
		flat_features(&x, 600, 1, level);
		v.step = s;
		mm_baseline_learn(&host, &p, &v, tow, 0, 0);
		mm_group_acc_init(&acc);
		mm_group_acc_add(&acc, &p, &v, tow);
		mm_group_learn(NULL, tow, &p, &acc, s);
	}
	ck_assert_uint_eq(tow->learnt_slots, MM_TOW_SLOTS);
	ck_assert_double_eq_tol(mm_tow_factor(tow, &p, first + 3 * 6, MM_F_PKTS_OUT), 1.0 / avg, 0.02);
	ck_assert_double_eq_tol(mm_tow_factor(tow, &p, first + 12 * 6, MM_F_PKTS_OUT), 3.0 / avg, 0.02);
	/* The host's expectation follows the hour. */
	ck_assert_double_eq_tol(host.mean[MM_F_PKTS_OUT] * mm_tow_factor(tow, &p, first + 3 * 6, MM_F_PKTS_OUT),
				1.0, 0.2);
	ck_assert_double_eq_tol(host.mean[MM_F_PKTS_OUT] * mm_tow_factor(tow, &p, first + 12 * 6, MM_F_PKTS_OUT),
				3.0, 0.3);
	/* Off for the group: factor 1. */
	p.time_of_week = 0;
	ck_assert_double_eq(mm_tow_factor(tow, &p, first + 3 * 6, MM_F_PKTS_OUT), 1.0);
	ck_assert_double_eq(mm_tow_factor(NULL, &p, first, MM_F_PKTS_OUT), 1.0);
	free(tow);
}
END_TEST

/* The group baseline is the typical host: the cross-host mean and
 * variance. */
START_TEST(test_group_baseline)
{
	struct mm_detect_params p;
	struct mm_baseline g;
	struct mm_group_acc acc;
	struct mm_features x;
	struct mm_view v = { &x, NULL, 0, 0 };

	params(&p);
	mm_baseline_init(&g);
	for (unsigned s = 0; s < 500; s++) {
		mm_group_acc_init(&acc);
		/* Hosts at 10, 20 and 30: mean 20, variance 200/3. */
		for (int h = 1; h <= 3; h++) {
			flat_features(&x, 60, 1000, 10.0 * h);
			v.step = T0 + s;
			mm_group_acc_add(&acc, &p, &v, NULL);
		}
		ck_assert_uint_eq(acc.n, 3);
		mm_group_learn(&g, NULL, &p, &acc, T0 + s);
	}
	ck_assert(mm_baseline_warm(&g, &p));
	ck_assert_float_eq_tol(g.mean[MM_F_BYTES_OUT], 20, 1e-3);
	ck_assert_float_eq_tol(g.var[MM_F_BYTES_OUT], 200.0 / 3.0, 1e-2);
	/* Nothing added: nothing learnt. */
	mm_group_acc_init(&acc);
	mm_group_learn(&g, NULL, &p, &acc, T0 + 999);
	ck_assert_uint_eq(g.last_step, T0 + 499);
}
END_TEST

/* ---- the burst memory ---------------------------------------------------- */

/* Bytes out hot for an hour from 02:00 UTC every night: after two nights
 * the memory holds it (hour 2, level, two days); a burst hot for most of
 * a day erases it; unseen for three days it is forgotten. */
START_TEST(test_burst_memory)
{
	struct mm_detect_params p;
	struct mm_baseline b;
	struct mm_features x;
	struct mm_view v = { &x, NULL, 0, 0 };
	uint64_t day0 = 19675; /* 2023-11-14 */
	uint64_t spd = 8640;   /* steps a day at 10 s */

	params(&p);
	mm_baseline_init(&b);
	for (uint64_t d = 0; d < 3; d++) {
		for (uint64_t s = 0; s < spd; s++) {
			int hot = s >= 2 * 360 && s < 3 * 360;

			flat_features(&x, 300, 1000, hot ? 5e6 : 1e4);
			v.step = (day0 + d) * spd + s;
			mm_baseline_learn(&b, &p, &v, NULL, hot, hot);
		}
	}
	/* Two nights folded in (the third is today's candidate). */
	ck_assert_uint_eq(b.burst.days, 2);
	ck_assert_uint_eq(b.burst.hour, 2);
	ck_assert_uint_eq(b.burst.hours, 1);
	ck_assert_float_eq_tol(b.burst.level, 5e6, 1);
	ck_assert_uint_eq(b.burst.day, day0 + 1);

	/* A fourth day hot from 00:00 to 12:00: not a schedule. */
	for (uint64_t s = 0; s < spd; s++) {
		int hot = s < 12 * 360;

		flat_features(&x, 300, 1000, hot ? 5e6 : 1e4);
		v.step = (day0 + 3) * spd + s;
		mm_baseline_learn(&b, &p, &v, NULL, hot, hot);
	}
	ck_assert_uint_eq(b.burst.days, 3); /* day 3's burst folded in */
	v.step = (day0 + 4) * spd;
	mm_baseline_learn(&b, &p, &v, NULL, 0, 0);
	ck_assert_uint_eq(b.burst.days, 0);

	/* Learnt again, then three quiet days: forgotten. */
	mm_baseline_init(&b);
	for (uint64_t d = 0; d < 6; d++)
		for (uint64_t s = 0; s < spd; s++) {
			int hot = d < 2 && s >= 2 * 360 && s < 3 * 360;

			flat_features(&x, 300, 1000, hot ? 5e6 : 1e4);
			v.step = (day0 + d) * spd + s;
			mm_baseline_learn(&b, &p, &v, NULL, hot, hot);
			if (d == 2 && s == 0)
				ck_assert_uint_eq(b.burst.days, 2);
		}
	ck_assert_uint_eq(b.burst.days, 0);
}
END_TEST

/* ---- the blob ------------------------------------------------------------ */

static void random_baseline(struct mm_baseline *b, uint64_t seed)
{
	struct rng r = { seed };

	mm_baseline_init(b);
	b->updates = (uint16_t)rnd(&r);
	b->last_step = (uint32_t)rnd(&r);
	for (int f = 0; f < MM_F_COUNT; f++) {
		b->mean[f] = (float)(unif(&r) * 1e9);
		b->var[f] = (float)(unif(&r) * 1e12);
	}
	b->burst.level = 12345.5f;
	b->burst.cand_level = 99.25f;
	b->burst.day = 19675;
	b->burst.cand_day = 19676;
	b->burst.cand_steps = 77;
	b->burst.hour = 23;
	b->burst.hours = 3;
	b->burst.days = 4;
	b->burst.cand_hour = 1;
}

static void assert_same(const struct mm_baseline *a, const struct mm_baseline *b)
{
	ck_assert_uint_eq(a->updates, b->updates);
	ck_assert_uint_eq(a->last_step, b->last_step);
	ck_assert_uint_eq(a->flags, b->flags);
	ck_assert_mem_eq(a->mean, b->mean, sizeof(a->mean));
	ck_assert_mem_eq(a->var, b->var, sizeof(a->var));
	ck_assert_mem_eq(&a->burst.level, &b->burst.level, sizeof(float));
	ck_assert_mem_eq(&a->burst.cand_level, &b->burst.cand_level, sizeof(float));
	ck_assert_uint_eq(a->burst.day, b->burst.day);
	ck_assert_uint_eq(a->burst.cand_day, b->burst.cand_day);
	ck_assert_uint_eq(a->burst.cand_steps, b->burst.cand_steps);
	ck_assert_uint_eq(a->burst.hour, b->burst.hour);
	ck_assert_uint_eq(a->burst.hours, b->burst.hours);
	ck_assert_uint_eq(a->burst.days, b->burst.days);
	ck_assert_uint_eq(a->burst.cand_hour, b->burst.cand_hour);
}

START_TEST(test_blob_round_trip)
{
	uint8_t blob[MM_BASELINE_BLOB_SIZE];
	struct mm_baseline a, b;

	ck_assert_uint_eq(sizeof(struct mm_baseline), 156);
	ck_assert_uint_eq(sizeof(struct mm_confirm), 24);
	for (uint64_t seed = 1; seed < 50; seed++) {
		random_baseline(&a, seed * 0x9e3779b97f4a7c15ull);
		ck_assert_uint_eq(mm_baseline_encode(&a, blob), MM_BASELINE_BLOB_SIZE);
		ck_assert_int_eq(mm_baseline_decode(blob, sizeof(blob), &b), 0);
		assert_same(&a, &b);
	}
	/* The layout is the documented one. */
	random_baseline(&a, 7);
	mm_baseline_encode(&a, blob);
	ck_assert_uint_eq(blob[0], MM_BASELINE_BLOB_VERSION);
	ck_assert_uint_eq(blob[1], MM_F_COUNT);
	ck_assert_uint_eq(blob[2] | blob[3] << 8, a.updates);
	ck_assert_uint_eq(blob[24], 23); /* burst hour */
	ck_assert_uint_eq(blob[27], 1);  /* cand_hour */
	ck_assert_uint_eq((uint32_t)mm_xxh64(blob, 156, 0x6d6d626cu),
			  (uint32_t)(blob[156] | blob[157] << 8 | blob[158] << 16 | (uint32_t)blob[159] << 24));
	/* A fresh baseline too. */
	mm_baseline_init(&a);
	mm_baseline_encode(&a, blob);
	ck_assert_int_eq(mm_baseline_decode(blob, sizeof(blob), &b), 0);
	assert_same(&a, &b);
}
END_TEST

/* Re-seal a tampered blob with a valid check, so that the value checks
 * (not the check sum) are what rejects it. */
static void reseal(uint8_t *blob)
{
	uint32_t c = (uint32_t)mm_xxh64(blob, 156, 0x6d6d626cu);

	for (int i = 0; i < 4; i++)
		blob[156 + i] = (uint8_t)(c >> (8 * i));
}

static void put_float(uint8_t *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, 4);
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(u >> (8 * i));
}

START_TEST(test_blob_corrupt)
{
	uint8_t good[MM_BASELINE_BLOB_SIZE + 1], bad[MM_BASELINE_BLOB_SIZE + 1];
	struct mm_baseline a, b, keep;

	random_baseline(&a, 99);
	mm_baseline_encode(&a, good);
	random_baseline(&keep, 5);
	b = keep;

	/* Lengths. */
	ck_assert_int_eq(mm_baseline_decode(NULL, MM_BASELINE_BLOB_SIZE, &b), -1);
	ck_assert_int_eq(mm_baseline_decode(good, 0, &b), -1);
	ck_assert_int_eq(mm_baseline_decode(good, MM_BASELINE_BLOB_SIZE - 1, &b), -1);
	good[MM_BASELINE_BLOB_SIZE] = 0;
	ck_assert_int_eq(mm_baseline_decode(good, MM_BASELINE_BLOB_SIZE + 1, &b), -1);
	/* Every single bit flipped anywhere. */
	for (size_t i = 0; i < MM_BASELINE_BLOB_SIZE; i++)
		for (int bit = 0; bit < 8; bit++) {
			memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
			bad[i] ^= (uint8_t)(1u << bit);
			ck_assert_msg(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b) == -1, "byte %zu bit %d",
				      i, bit);
		}
	/* Valid check, bad contents. */
	memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
	bad[0] = 2; /* a version this code does not know */
	reseal(bad);
	ck_assert_int_eq(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b), -1);
	memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
	bad[1] = 15; /* another feature count */
	reseal(bad);
	ck_assert_int_eq(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b), -1);
	memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
	put_float(bad + 28, NAN);
	reseal(bad);
	ck_assert_int_eq(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b), -1);
	memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
	put_float(bad + 32, -1.0f); /* a negative variance */
	reseal(bad);
	ck_assert_int_eq(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b), -1);
	memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
	put_float(bad + 28 + 8 * 15, INFINITY);
	reseal(bad);
	ck_assert_int_eq(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b), -1);
	memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
	bad[24] = 24; /* hour of day */
	reseal(bad);
	ck_assert_int_eq(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b), -1);
	memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
	bad[25] = MM_BURST_MAX_HOURS + 1;
	reseal(bad);
	ck_assert_int_eq(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b), -1);
	memcpy(bad, good, MM_BASELINE_BLOB_SIZE);
	bad[8] = 1; /* reserved flags */
	reseal(bad);
	ck_assert_int_eq(mm_baseline_decode(bad, MM_BASELINE_BLOB_SIZE, &b), -1);
	/* Nothing written on failure. */
	assert_same(&b, &keep);
	/* The untouched blob still decodes. */
	ck_assert_int_eq(mm_baseline_decode(good, MM_BASELINE_BLOB_SIZE, &b), 0);
	assert_same(&a, &b);
}
END_TEST

static Suite *baseline_suite(void)
{
	Suite *s = suite_create("baseline");
	TCase *tc = tcase_create("ewma");

	tcase_add_test(tc, test_ewma_converges);
	tcase_add_test(tc, test_warmup);
	tcase_add_test(tc, test_frozen_while_hot);
	tcase_add_test(tc, test_update_clipped);
	tcase_add_test(tc, test_ramp_detected);
	tcase_add_test(tc, test_ramp_clipping_alone);
	tcase_add_test(tc, test_silent_steps);
	suite_add_tcase(s, tc);

	tc = tcase_create("groups");
	tcase_add_test(tc, test_time_of_week);
	tcase_add_test(tc, test_group_baseline);
	tcase_add_test(tc, test_burst_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("blob");
	tcase_add_test(tc, test_blob_round_trip);
	tcase_add_test(tc, test_blob_corrupt);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(baseline_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
