/*
 * test_fastpath.c - the collector's fast path (fastpath.h): counts spread
 * over time like the step windows (exact parts, nothing before the ring,
 * a long flow at its active timeout no spike, a clock ahead moved back),
 * every ceiling raising its class and nothing below it, the minimum of
 * sampled packets, the group's combine mode, repeats while over, a bounded
 * table and bounded events per check, the stream format (round trip and
 * refusals), the reader's confirmation, and the ceilings equal to the
 * detector's.
 */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/aggregate.h"
#include "mamori/config.h"
#include "mamori/fastpath.h"
#include "mamori/prefix.h"
#include "mamori/score.h"

#define T0 1700000000000ull /* a check's clock, on a bucket boundary */

/* Events collected by the check. */
struct evlist {
	unsigned n;
	struct mm_fast_event e[16];
};

static void collect(void *arg, const struct mm_fast_event *e)
{
	struct evlist *l = arg;

	if (l->n < 16)
		l->e[l->n] = *e;
	l->n++;
}

/* A config with one group: every ceiling off unless set by the caller. */
static void group_cfg(struct mm_config *c)
{
	/* the [group] defaults, then the ceilings off */
	ck_assert_int_eq(mm_config_load_string(c, "t.conf", "[group g]\nprefix = 10.0.0.0/16\n", NULL), 0);
	c->groups[0].ceiling_pps = c->groups[0].ceiling_mbps = c->groups[0].ceiling_flows = 0;
	c->groups[0].ceiling_icmp_pps = c->groups[0].ceiling_syn_pps = c->groups[0].ceiling_amp_pps = 0;
	c->groups[0].sampling_rate = 1;
	c->groups[0].min_sampled_packets = 1;
}

static struct mm_fast *fast_new(struct mm_config *c, uint32_t max_hosts)
{
	struct mm_fast_params p;
	struct mm_fast *f;
	uint8_t a[16];

	mm_fast_params_from_config(&p, c);
	p.max_hosts = max_hosts;
	f = mm_fast_new(&p, T0);
	ck_assert_ptr_nonnull(f);
	for (uint32_t i = 0; i < max_hosts; i++) {
		ck_assert_int_eq(mm_addr_parse("10.0.0.1", a), 4); /* the family */
		a[15] = (uint8_t)(1 + i);
		mm_fast_host_new(f, i, a, 0);
	}
	return f;
}

static struct mm_fast_rec rec(uint64_t start, uint64_t end, uint64_t pkts, uint64_t bytes, int pclass)
{
	struct mm_fast_rec r = { start, end, bytes, pkts, 1, (uint8_t)pclass, 0, -1 };
	return r;
}

/* ---- spreading ---------------------------------------------------------- */

START_TEST(test_spread_exact)
{
	struct mm_config c;
	struct mm_fast *f;
	struct mm_fast_rec r;

	group_cfg(&c);
	f = fast_new(&c, 4);
	/* The ring (check 250 ms, interval 1 s) covers [T0 - 1750, T0 + 500). */
	ck_assert_uint_eq(mm_fast_ring_buckets(f), 9);
	/* 8000 packets over 2 s ending now: 1000 a bucket; the first 250 ms
	 * are before the ring, and the best second holds 4000 exactly. */
	r = rec(T0 - 2000, T0, 8000, 8000000, 1);
	mm_fast_count(f, 0, 0, &r);
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_PPS), 4000);
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_UDP_PPS), 4000);
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_MBPS), 4000000);
	/* its flow started before the ring: not a new flow */
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_FLOWS), 0);
	/* Uneven parts still add up: 1001 packets over 0.9 s, all inside one
	 * interval, sum exactly; a flow counts once, where it starts. */
	r = rec(T0 - 950, T0 - 50, 1001, 7, 0);
	mm_fast_count(f, 1, 0, &r);
	ck_assert_uint_eq(mm_fast_host_peak(f, 1, MM_FCE_PPS), 1001);
	ck_assert_uint_eq(mm_fast_host_peak(f, 1, MM_FCE_TCP_PPS), 1001);
	ck_assert_uint_eq(mm_fast_host_peak(f, 1, MM_FCE_MBPS), 7);
	ck_assert_uint_eq(mm_fast_host_peak(f, 1, MM_FCE_FLOWS), 1);
	/* A zero-length flow goes wholly to its bucket. */
	r = rec(T0 - 10, T0 - 10, 5, 500, 2);
	mm_fast_count(f, 2, 0, &r);
	ck_assert_uint_eq(mm_fast_host_peak(f, 2, MM_FCE_ICMP_PPS), 5);
	/* The source side counts out. */
	mm_fast_count(f, 3, 1, &r);
	ck_assert_uint_eq(mm_fast_host_peak(f, 3, MM_FCE_OUT_PPS), 5);
	ck_assert_uint_eq(mm_fast_host_peak(f, 3, MM_FCE_OUT_MBPS), 500);
	ck_assert_uint_eq(mm_fast_host_peak(f, 3, MM_FCE_PPS), 0);
	ck_assert_uint_eq(mm_fast_stats(f)->records, 4);
	mm_fast_free(f);
	mm_config_free(&c);
}
END_TEST

/* A long flow exported at its active timeout adds its rate, not its
 * volume: 60 s at 10 kpps is 10 k in any second, below a 20 kpps ceiling;
 * the same packets counted at arrival would be 600 k. */
START_TEST(test_long_flow_no_spike)
{
	struct mm_config c;
	struct mm_fast *f;
	struct mm_fast_rec r;
	struct evlist l = { 0 };

	group_cfg(&c);
	c.groups[0].ceiling_pps = 20000;
	f = fast_new(&c, 2);
	r = rec(T0 - 60000, T0, 600000, 600000000, 1);
	mm_fast_count(f, 0, 0, &r);
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_PPS), 10000);
	ck_assert_uint_eq(mm_fast_check(f, T0, collect, &l), 0);
	ck_assert_uint_eq(l.n, 0);
	/* Two such flows at once are 20 kpps: that is over. */
	mm_fast_count(f, 0, 0, &r);
	ck_assert_uint_eq(mm_fast_check(f, T0 + 10, collect, &l), 1);
	ck_assert_uint_eq(l.e[0].cls, MM_CLASS_FLOOD);
	ck_assert_double_eq(l.e[0].rate, 20000);
	mm_fast_free(f);
	mm_config_free(&c);
}
END_TEST

/* Records wholly before the ring are dropped (counted); a clock ahead is
 * moved back to the ring's end, its duration kept. */
START_TEST(test_late_and_future)
{
	struct mm_config c;
	struct mm_fast *f;
	struct mm_fast_rec r;

	group_cfg(&c);
	f = fast_new(&c, 1);
	r = rec(T0 - 5000, T0 - 1750, 100, 100, 1); /* ends where the ring starts */
	mm_fast_count(f, 0, 0, &r);
	r = rec(T0 - 1751, T0 - 1751, 100, 100, 1);
	mm_fast_count(f, 0, 0, &r);
	ck_assert_uint_eq(mm_fast_stats(f)->late, 2);
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_PPS), 0);
	/* 10 s ahead, 200 ms long: moved to end at T0 + 500, all inside */
	r = rec(T0 + 10000, T0 + 10200, 300, 300, 1);
	mm_fast_count(f, 0, 0, &r);
	ck_assert_uint_eq(mm_fast_stats(f)->future, 1);
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_PPS), 300);
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_FLOWS), 1);
	mm_fast_free(f);
	mm_config_free(&c);
}
END_TEST

/* ---- ceilings and classes ------------------------------------------------ */

struct case_ {
	const char *what;
	int ceiling;           /* the one configured (100 per second, or 1 Mbit/s) */
	int out, pclass, syn, amp;
	uint64_t pkts, bytes, flows;
	int want_class;        /* -1: nothing */
};

START_TEST(test_every_ceiling)
{
	static const struct case_ cases[] = {
		{ "pps", MM_FCE_PPS, 0, 3, 0, -1, 100, 100, 1, MM_CLASS_FLOOD },
		{ "pps below", MM_FCE_PPS, 0, 3, 0, -1, 99, 100, 1, -1 },
		{ "mbps", MM_FCE_MBPS, 0, 1, 0, -1, 10, 125000, 1, MM_CLASS_FLOOD },
		{ "mbps below", MM_FCE_MBPS, 0, 1, 0, -1, 10, 124999, 1, -1 },
		{ "flows", MM_FCE_FLOWS, 0, 1, 0, -1, 100, 100, 100, MM_CLASS_FLOOD },
		{ "tcp", MM_FCE_TCP_PPS, 0, 0, 0, -1, 100, 100, 1, MM_CLASS_FLOOD },
		{ "tcp: udp is not", MM_FCE_TCP_PPS, 0, 1, 0, -1, 500, 100, 1, -1 },
		{ "udp", MM_FCE_UDP_PPS, 0, 1, 0, -1, 100, 100, 1, MM_CLASS_FLOOD },
		{ "icmp", MM_FCE_ICMP_PPS, 0, 2, 0, -1, 100, 100, 1, MM_CLASS_FLOOD },
		{ "syn", MM_FCE_SYN_PPS, 0, 0, 1, -1, 100, 100, 1, MM_CLASS_SYN_FLOOD },
		{ "syn: not without the flag", MM_FCE_SYN_PPS, 0, 0, 0, -1, 500, 100, 1, -1 },
		{ "amp", MM_FCE_AMP_PPS, 0, 1, 0, 1, 100, 100, 1, MM_CLASS_AMPLIFICATION },
		{ "out pps", MM_FCE_OUT_PPS, 1, 1, 0, -1, 100, 100, 1, MM_CLASS_OUTBOUND_FLOOD },
		{ "out mbps", MM_FCE_OUT_MBPS, 1, 0, 0, -1, 10, 125000, 1, MM_CLASS_OUTBOUND_FLOOD },
		{ "out: inbound is not", MM_FCE_OUT_PPS, 0, 1, 0, -1, 500, 100, 1, -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct case_ *t = &cases[i];
		struct mm_config c;
		struct mm_fast *f;
		struct evlist l = { 0 };
		uint32_t *ceil;
		struct mm_fast_rec r;

		group_cfg(&c);
		switch (t->ceiling) {
		case MM_FCE_PPS: ceil = &c.groups[0].ceiling_pps; break;
		case MM_FCE_MBPS: ceil = &c.groups[0].ceiling_mbps; break;
		case MM_FCE_FLOWS: ceil = &c.groups[0].ceiling_flows; break;
		case MM_FCE_TCP_PPS: ceil = &c.groups[0].ceiling_tcp_pps; break;
		case MM_FCE_UDP_PPS: ceil = &c.groups[0].ceiling_udp_pps; break;
		case MM_FCE_ICMP_PPS: ceil = &c.groups[0].ceiling_icmp_pps; break;
		case MM_FCE_SYN_PPS: ceil = &c.groups[0].ceiling_syn_pps; break;
		case MM_FCE_AMP_PPS: ceil = &c.groups[0].ceiling_amp_pps; break;
		case MM_FCE_OUT_PPS: ceil = &c.groups[0].ceiling_out_pps; break;
		default: ceil = &c.groups[0].ceiling_out_mbps; break;
		}
		*ceil = t->ceiling == MM_FCE_MBPS || t->ceiling == MM_FCE_OUT_MBPS ? 1 : 100;
		f = fast_new(&c, 1);
		r = rec(T0 - 500, T0 - 500, t->pkts, t->bytes, t->pclass);
		r.flows = t->flows;
		r.syn = (uint8_t)t->syn;
		r.amp = (int8_t)t->amp;
		mm_fast_count(f, 0, t->out, &r);
		mm_fast_check(f, T0, collect, &l);
		if (t->want_class < 0) {
			ck_assert_msg(l.n == 0, "%s: %u events, want none", t->what, l.n);
		} else {
			ck_assert_msg(l.n == 1, "%s: %u events, want 1", t->what, l.n);
			ck_assert_msg(l.e[0].cls == t->want_class, "%s: class %u", t->what, l.e[0].cls);
			ck_assert_msg(l.e[0].ceiling == t->ceiling, "%s: ceiling %u", t->what, l.e[0].ceiling);
			ck_assert_int_eq(l.e[0].repeat, 0);
			ck_assert_uint_eq(l.e[0].time_ms, T0);
			ck_assert_uint_eq(l.e[0].first_ms, T0);
			ck_assert_uint_eq(l.e[0].interval_ms, 1000);
			ck_assert_double_eq(l.e[0].limit, *ceil);
			ck_assert_msg(l.e[0].rate >= l.e[0].limit, "%s: rate %g", t->what, l.e[0].rate);
			ck_assert_int_eq(l.e[0].vector, t->amp >= 0 ? t->amp : -1);
		}
		mm_fast_free(f);
		mm_config_free(&c);
	}
}
END_TEST

/* One attack, one class: a SYN flood or a reflection over their own
 * ceilings crosses ceiling_pps too, and only the specific class is said;
 * service-port traffic answered by the host's own UDP out is no
 * reflection, and over ceiling_pps it is a flood (as for the detector). */
START_TEST(test_specific_class_wins)
{
	struct mm_config c;
	struct mm_fast *f;
	struct evlist l = { 0 };
	struct mm_fast_rec r;

	group_cfg(&c);
	c.groups[0].ceiling_pps = 100;
	c.groups[0].ceiling_syn_pps = 100;
	c.groups[0].ceiling_amp_pps = 100;
	f = fast_new(&c, 3);
	r = rec(T0 - 100, T0 - 100, 300, 18000, 0);
	r.syn = 1;
	mm_fast_count(f, 0, 0, &r);
	r = rec(T0 - 100, T0 - 100, 300, 300000, 1);
	r.amp = 0; /* dns */
	mm_fast_count(f, 1, 0, &r);
	/* host 2: the same reflection, but it sent as many UDP packets out */
	mm_fast_count(f, 2, 0, &r);
	r.amp = -1;
	mm_fast_count(f, 2, 1, &r);
	mm_fast_check(f, T0, collect, &l);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_uint_eq(l.e[0].cls, MM_CLASS_SYN_FLOOD);
	ck_assert_uint_eq(l.e[0].addr[15], 1);
	ck_assert_double_eq(l.e[0].class_pps, 300);
	ck_assert_uint_eq(l.e[1].cls, MM_CLASS_AMPLIFICATION);
	ck_assert_int_eq(l.e[1].vector, 0);
	ck_assert_uint_eq(l.e[1].addr[15], 2);
	ck_assert_double_eq(l.e[1].sampled, 300);
	ck_assert_uint_eq(l.e[2].cls, MM_CLASS_FLOOD);
	ck_assert_uint_eq(l.e[2].ceiling, MM_FCE_PPS);
	ck_assert_uint_eq(l.e[2].addr[15], 3);
	ck_assert_double_eq(l.e[2].class_pps, 300);
	ck_assert_int_eq(l.e[2].vector, -1);
	mm_fast_free(f);
	mm_config_free(&c);
}
END_TEST

/* The ceilings need min_sampled_packets x sampling_rate scaled packets
 * behind them, and only groups whose combine lets a ceiling alone fire
 * are checked. */
START_TEST(test_minimum_and_combine)
{
	static const int modes[] = { MM_COMBINE_EITHER, MM_COMBINE_CEILING, MM_COMBINE_BOTH, MM_COMBINE_BASELINE };

	for (size_t m = 0; m < 4; m++) {
		struct mm_config c;
		struct mm_fast *f;
		struct evlist l = { 0 };
		struct mm_fast_rec r;

		group_cfg(&c);
		c.groups[0].ceiling_mbps = 1;
		c.groups[0].sampling_rate = 1000;
		c.groups[0].min_sampled_packets = 10;
		c.groups[0].combine = modes[m];
		f = fast_new(&c, 2);
		/* 1 Gbit in 9 sampled packets: over, but too few behind it */
		r = rec(T0 - 100, T0 - 100, 9000, 125000000, 1);
		mm_fast_count(f, 0, 0, &r);
		r.pkts = 10000;
		mm_fast_count(f, 1, 0, &r);
		mm_fast_check(f, T0, collect, &l);
		if (m < 2) {
			ck_assert_uint_eq(l.n, 1);
			ck_assert_uint_eq(l.e[0].addr[15], 2);
			ck_assert_double_eq(l.e[0].sampled, 10);
			ck_assert_double_eq(l.e[0].rate, 1000);
		} else {
			ck_assert_uint_eq(l.n, 0);
		}
		mm_fast_free(f);
		mm_config_free(&c);
	}
}
END_TEST

/* Over: said at once, again every repeat_ms (one step) while over, and
 * after going under and over again a new episode. */
START_TEST(test_repeat_and_episodes)
{
	struct mm_config c;
	struct mm_fast *f;
	struct evlist l = { 0 };
	struct mm_fast_rec r;
	uint64_t t;

	group_cfg(&c);
	c.groups[0].ceiling_pps = 1000;
	c.step_s = 2;
	f = fast_new(&c, 1);
	for (t = T0; t < T0 + 5000; t += 250) {
		r = rec(t - 250, t, 500, 500, 1); /* 2000 pps */
		mm_fast_count(f, 0, 0, &r);
		mm_fast_check(f, t, collect, &l);
	}
	/* over once a second's worth is in (T0 + 250), then every 2 s */
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.e[0].repeat, 0);
	ck_assert_uint_eq(l.e[0].time_ms, T0 + 250);
	ck_assert_int_eq(l.e[1].repeat, 1);
	ck_assert_uint_eq(l.e[1].time_ms, T0 + 2250);
	ck_assert_uint_eq(l.e[1].first_ms, T0 + 250);
	ck_assert_uint_eq(l.e[2].time_ms, T0 + 4250);
	/* quiet for 3 s: the ring forgets; a trickle makes it evaluated */
	l.n = 0;
	for (; t < T0 + 8000; t += 250) {
		r = rec(t - 1, t - 1, 1, 1, 1);
		mm_fast_count(f, 0, 0, &r);
		mm_fast_check(f, t, collect, &l);
	}
	ck_assert_uint_eq(l.n, 0);
	r = rec(t - 250, t, 2000, 2000, 1);
	mm_fast_count(f, 0, 0, &r);
	mm_fast_check(f, t, collect, &l);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.e[0].repeat, 0);
	ck_assert_uint_eq(l.e[0].first_ms, t);
	ck_assert_uint_eq(mm_fast_stats(f)->repeats, 2);
	ck_assert_uint_eq(mm_fast_stats(f)->events, 4);
	mm_fast_free(f);
	mm_config_free(&c);
}
END_TEST

/* Under a ceiling nothing is said however the load comes: a steady 90 %
 * of it from many records of every length, checked 40 times. */
START_TEST(test_below_ceiling_quiet)
{
	struct mm_config c;
	struct mm_fast *f;
	struct evlist l = { 0 };
	uint64_t t;

	group_cfg(&c);
	c.groups[0].ceiling_pps = 10000;
	f = fast_new(&c, 1);
	for (t = T0; t < T0 + 10000; t += 250) {
		/* 9000 pps: short flows (2250 a bucket) ... */
		for (int i = 0; i < 9; i++) {
			struct mm_fast_rec r = rec(t - 250 + 25 * (uint64_t)i, t - 250 + 25 * (uint64_t)i + 25, 250, 250, 1);
			mm_fast_count(f, 0, 0, &r);
		}
		mm_fast_check(f, t, collect, &l);
	}
	ck_assert_uint_eq(l.n, 0);
	ck_assert_uint_le(mm_fast_host_peak(f, 0, MM_FCE_PPS), 9000);
	mm_fast_free(f);
	mm_config_free(&c);
}
END_TEST

/* A reload lowers the ceiling under a running 9000 pps: the next checks
 * see it crossed; the host moved to a second group with none stays quiet. */
START_TEST(test_reload_groups)
{
	struct mm_config c, next;
	struct mm_fast *f;
	struct evlist l = { 0 };
	uint64_t t;

	group_cfg(&c);
	c.groups[0].ceiling_pps = 10000;
	f = fast_new(&c, 1);
	ck_assert_int_eq(mm_config_load_string(&next, "n.conf",
						"[group g]\nprefix = 10.0.0.0/24\nceiling_pps = 5000\nsampling_rate = 1\n"
						"min_sampled_packets = 1\n[group h]\nprefix = 10.0.1.0/24\nceiling_pps = 0\n"
						"ceiling_mbps = 0\nceiling_flows = 0\nceiling_icmp_pps = 0\nceiling_syn_pps = 0\n"
						"ceiling_amp_pps = 0\n",
						NULL),
			 0);
	for (t = T0; t < T0 + 6000; t += 250) {
		for (int i = 0; i < 9; i++) {
			struct mm_fast_rec r = rec(t - 250 + 25 * (uint64_t)i, t - 250 + 25 * (uint64_t)i + 25, 250, 250, 1);
			mm_fast_count(f, 0, 0, &r);
		}
		mm_fast_check(f, t, collect, &l);
		if (t == T0 + 1000) /* a refused reload: prepared, dropped */
			mm_fast_groups_drop(mm_fast_groups_prepare(f, next.groups, next.ngroups));
		if (t == T0 + 2000) {
			ck_assert_uint_eq(l.n, 0);
			struct mm_fast_limits *lim = mm_fast_groups_prepare(f, next.groups, next.ngroups);

			ck_assert_ptr_nonnull(lim);
			mm_fast_groups_commit(f, lim, next.ngroups);
		}
		if (t == T0 + 4000) {
			ck_assert_uint_ge(l.n, 1);
			ck_assert_int_eq(l.e[0].cls, MM_CLASS_FLOOD);
			ck_assert(l.e[0].limit == 5000);
			l.n = 0;
			mm_fast_host_group(f, 0, 1);
		}
		if (t >= T0 + 5000)
			break;
	}
	ck_assert_uint_eq(l.n, 0);
	/* Counted, then a reload leaves it unmonitored (and its old group
	 * index now names g again): forgotten, it raises nothing. */
	t += 250;
	for (int i = 0; i < 9; i++) {
		struct mm_fast_rec r = rec(t - 250 + 25 * (uint64_t)i, t - 250 + 25 * (uint64_t)i + 25, 250, 250, 1);
		mm_fast_count(f, 0, 0, &r);
	}
	mm_fast_host_group(f, 0, 0);
	mm_fast_host_forget(f, 0);
	for (; t < T0 + 8000; t += 250)
		mm_fast_check(f, t, collect, &l);
	ck_assert_uint_eq(l.n, 0);
	mm_fast_free(f);
	mm_config_free(&next);
	mm_config_free(&c);
}
END_TEST

/* ---- bounds -------------------------------------------------------------- */

START_TEST(test_bounded)
{
	struct mm_config c;
	struct mm_fast_params p;
	struct mm_fast *f;
	struct evlist l = { 0 };
	struct mm_fast_rec r = rec(T0 - 10, T0 - 10, 200, 200, 1);

	group_cfg(&c);
	c.groups[0].ceiling_pps = 100;
	mm_fast_params_from_config(&p, &c);
	p.max_hosts = 3;
	p.max_events = 2;
	f = mm_fast_new(&p, T0);
	ck_assert_ptr_nonnull(f);
	/* an index out of the table is ignored */
	mm_fast_count(f, 3, 0, &r);
	mm_fast_count(f, UINT32_MAX, 0, &r);
	ck_assert_uint_eq(mm_fast_stats(f)->records, 0);
	ck_assert_uint_eq(mm_fast_host_peak(f, 3, MM_FCE_PPS), 0);
	for (uint32_t i = 0; i < 3; i++)
		mm_fast_count(f, i, 0, &r);
	/* twice: a host is on the list once */
	mm_fast_count(f, 0, 0, &r);
	ck_assert_uint_eq(mm_fast_check(f, T0, collect, &l), 2);
	ck_assert_uint_eq(mm_fast_stats(f)->deferred, 1);
	ck_assert_uint_eq(mm_fast_check(f, T0 + 250, collect, &l), 1);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_uint_eq(mm_fast_stats(f)->hosts_checked, 3);
	/* a new host in an index starts empty */
	mm_fast_host_new(f, 0, l.e[0].addr, 0);
	ck_assert_uint_eq(mm_fast_host_peak(f, 0, MM_FCE_PPS), 0);
	mm_fast_free(f);
	/* what a bad parameter gets */
	p.check_ms = 300;
	ck_assert_ptr_null(mm_fast_new(&p, T0));
	p.check_ms = 50;
	ck_assert_ptr_null(mm_fast_new(&p, T0)); /* 20 checks an interval */
	p.check_ms = 250;
	p.max_hosts = 0;
	ck_assert_ptr_null(mm_fast_new(&p, T0));
	mm_config_free(&c);
}
END_TEST

/* Memory: exactly the table, reserved by max_hosts and the ring. */
START_TEST(test_memory)
{
	struct mm_config c;
	struct mm_fast_params p;
	struct mm_fast *a, *b;

	group_cfg(&c);
	mm_fast_params_from_config(&p, &c);
	p.max_hosts = 1000;
	a = mm_fast_new(&p, T0);
	p.max_hosts = 2000;
	b = mm_fast_new(&p, T0);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* per host: 9 buckets of 64 bytes, the header and a list entry */
	ck_assert_uint_ge((mm_fast_memory(b) - mm_fast_memory(a)) / 1000, 9 * 64 + 4 + 100);
	ck_assert_uint_le((mm_fast_memory(b) - mm_fast_memory(a)) / 1000, 9 * 64 + 4 + 128);
	mm_fast_free(a);
	mm_fast_free(b);
	mm_config_free(&c);
}
END_TEST

/* ---- the stream format and the reader ---------------------------------- */

static int parse_fields(size_t n, const char **names, char vals[][MM_FAST_VAL_MAX], struct mm_fast_event *e)
{
	const char *v[MM_FAST_FIELDS + 2];
	size_t lens[MM_FAST_FIELDS + 2];

	for (size_t i = 0; i < n; i++) {
		v[i] = vals[i];
		lens[i] = strlen(vals[i]);
	}
	return mm_fast_event_parse(n, names, v, lens, e);
}

static struct mm_fast_event sample_event(void)
{
	struct mm_fast_event e;

	memset(&e, 0, sizeof(e));
	mm_addr_parse("10.0.5.9", e.addr);
	e.cls = MM_CLASS_AMPLIFICATION;
	e.ceiling = MM_FCE_AMP_PPS;
	e.vector = 1;
	e.interval_ms = 1000;
	e.time_ms = T0 + 250;
	e.first_ms = T0;
	e.data_end_ms = T0 + 250;
	e.rate = 300000;
	e.limit = 50000;
	e.class_pps = 300000;
	e.sampled = 300;
	return e;
}

START_TEST(test_stream_round_trip)
{
	struct mm_fast_event e = sample_event(), back;
	const char *names[MM_FAST_FIELDS + 2];
	char vals[MM_FAST_FIELDS + 2][MM_FAST_VAL_MAX];
	size_t n = mm_fast_event_fields(&e, "edge-1", names, vals);

	ck_assert_uint_eq(n, MM_FAST_FIELDS);
	ck_assert_int_eq(parse_fields(n, names, vals, &back), 0);
	ck_assert_str_eq(back.collector, "edge-1");
	ck_assert_mem_eq(back.addr, e.addr, 16);
	ck_assert_uint_eq(back.cls, e.cls);
	ck_assert_uint_eq(back.ceiling, e.ceiling);
	ck_assert_int_eq(back.vector, 1);
	ck_assert_uint_eq(back.time_ms, e.time_ms);
	ck_assert_uint_eq(back.first_ms, e.first_ms);
	ck_assert_uint_eq(back.data_end_ms, e.data_end_ms);
	ck_assert_uint_eq(back.interval_ms, 1000);
	ck_assert_double_eq(back.rate, e.rate);
	ck_assert_double_eq(back.limit, e.limit);
	ck_assert_double_eq(back.sampled, e.sampled);
	/* the values an operator reads in redis-cli */
	ck_assert_str_eq(names[2], "host");
	ck_assert_str_eq(vals[2], "10.0.5.9");
	ck_assert_str_eq(vals[3], "amplification");
	ck_assert_str_eq(vals[4], "ntp");
	ck_assert_str_eq(vals[5], "ceiling_amp_pps");
	/* a later version's extra field is ignored */
	names[n] = "later";
	strcpy(vals[n], "x");
	ck_assert_int_eq(parse_fields(n + 1, names, vals, &back), 0);
}
END_TEST

START_TEST(test_stream_refusals)
{
	static const struct {
		const char *field, *value;
	} bad[] = {
		{ "v", "2" },          { "v", "" },          { "collector", "a:b" },     { "collector", "" },
		{ "host", "10.0.0" },  { "host", "x" },      { "class", "carpet_bombing" }, { "class", "flood" },
		{ "vector", "quake" }, { "ceiling", "ceiling_x" }, { "ceiling", "ceiling_pps" }, { "rate", "nan" },
		{ "rate", "-1" },      { "rate", "1e400" },  { "rate", "12x" },      { "sampled", "inf" },
		{ "time_ms", "-5" },   { "time_ms", "99999999999999999999999" }, { "first_ms", "1800000000000" },
		{ "interval_ms", "0" }, { "repeat", "2" },   { "data_end_ms", " 1" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct mm_fast_event e = sample_event(), back;
		const char *names[MM_FAST_FIELDS + 2];
		char vals[MM_FAST_FIELDS + 2][MM_FAST_VAL_MAX];
		size_t n = mm_fast_event_fields(&e, "edge-1", names, vals);
		int found = 0;

		for (size_t k = 0; k < n; k++)
			if (strcmp(names[k], bad[i].field) == 0) {
				strcpy(vals[k], bad[i].value);
				found = 1;
			}
		ck_assert(found);
		ck_assert_msg(parse_fields(n, names, vals, &back) == -1, "%s = '%s' accepted", bad[i].field,
			      bad[i].value);
	}
	/* a field missing, a field twice */
	{
		struct mm_fast_event e = sample_event(), back;
		const char *names[MM_FAST_FIELDS + 2];
		char vals[MM_FAST_FIELDS + 2][MM_FAST_VAL_MAX];
		size_t n = mm_fast_event_fields(&e, "edge-1", names, vals);

		ck_assert_int_eq(parse_fields(n - 1, names, vals, &back), -1);
		names[n] = names[0];
		memcpy(vals[n], vals[0], sizeof(vals[0])); /* the field twice */
		ck_assert_int_eq(parse_fields(n + 1, names, vals, &back), -1);
	}
}
END_TEST

/* The detector re-checks a crossing against its own configuration. */
START_TEST(test_confirms)
{
	struct mm_config c;
	struct mm_fast_limits l;
	struct mm_fast_event e = sample_event();

	group_cfg(&c);
	c.groups[0].ceiling_amp_pps = 50000;
	c.groups[0].sampling_rate = 1000;
	c.groups[0].min_sampled_packets = 10;
	mm_fast_limits_from_group(&l, &c.groups[0], 1000);
	ck_assert_int_eq(mm_fast_confirms(&l, &e), 1);
	e.rate = 49999;
	ck_assert_int_eq(mm_fast_confirms(&l, &e), 0);
	e.rate = 300000;
	e.sampled = 9;
	ck_assert_int_eq(mm_fast_confirms(&l, &e), 0);
	e.sampled = 300;
	c.groups[0].ceiling_amp_pps = 0;
	mm_fast_limits_from_group(&l, &c.groups[0], 1000);
	ck_assert_int_eq(mm_fast_confirms(&l, &e), 0);
	c.groups[0].ceiling_amp_pps = 50000;
	c.groups[0].combine = MM_COMBINE_BASELINE;
	mm_fast_limits_from_group(&l, &c.groups[0], 1000);
	ck_assert_int_eq(mm_fast_confirms(&l, &e), 0);
	mm_config_free(&c);
}
END_TEST

/* Same keys, same meaning: the fast path's ceilings are the detector's,
 * per second. */
START_TEST(test_ceilings_are_the_detectors)
{
	struct mm_config c;
	struct mm_fast_limits l;
	struct mm_detect_params p;

	mm_config_defaults(&c);
	ck_assert_int_eq(mm_config_load_string(&c, "t.conf",
					       "[group g]\nprefix = 10.0.0.0/8\nceiling_pps = 123457\n"
					       "ceiling_mbps = 777\nceiling_tcp_pps = 5\nceiling_udp_pps = 6\n"
					       "ceiling_out_pps = 8\nceiling_out_mbps = 9\n",
					       NULL),
			 0);
	mm_detect_params_from_group(&p, &c, &c.groups[0]);
	mm_fast_limits_from_group(&l, &c.groups[0], 1000);
	ck_assert_double_eq(l.ceiling[MM_FCE_PPS], p.ceiling_pps);
	ck_assert_double_eq(l.limit[MM_FCE_MBPS], p.ceiling_bytes_s);
	ck_assert_double_eq(l.ceiling[MM_FCE_FLOWS], p.ceiling_flows);
	ck_assert_double_eq(l.ceiling[MM_FCE_TCP_PPS], p.ceiling_tcp_pps);
	ck_assert_double_eq(l.ceiling[MM_FCE_UDP_PPS], p.ceiling_udp_pps);
	ck_assert_double_eq(l.ceiling[MM_FCE_ICMP_PPS], p.ceiling_icmp_pps);
	ck_assert_double_eq(l.ceiling[MM_FCE_SYN_PPS], p.ceiling_syn_pps);
	ck_assert_double_eq(l.ceiling[MM_FCE_AMP_PPS], p.ceiling_amp_pps);
	ck_assert_double_eq(l.ceiling[MM_FCE_OUT_PPS], p.ceiling_out_pps);
	ck_assert_double_eq(l.limit[MM_FCE_OUT_MBPS], p.ceiling_out_bytes_s);
	ck_assert_double_eq((double)l.min_sampled, p.min_sampled_packets);
	/* over 250 ms the limits are a quarter, rounded up */
	mm_fast_limits_from_group(&l, &c.groups[0], 250);
	ck_assert_uint_eq(l.limit[MM_FCE_PPS], 30865);
	for (int i = 0; i < MM_FCE_COUNT; i++) {
		ck_assert_int_eq(mm_fast_ceiling_parse(mm_fast_ceiling_name((enum mm_fast_ceiling)i)), i);
		ck_assert_ptr_nonnull(mm_fast_ceiling_unit((enum mm_fast_ceiling)i));
	}
	ck_assert_int_eq(mm_fast_ceiling_parse("ceiling"), -1);
	ck_assert_ptr_null(mm_fast_ceiling_name(MM_FCE_COUNT));
	mm_config_free(&c);
}
END_TEST

/* Through the aggregator: records of monitored hosts reach the fast path
 * by table index (a new host in an index starts empty), the source side
 * only where a ceiling reads it. */
START_TEST(test_through_aggregator)
{
	for (int out_ceiling = 0; out_ceiling < 2; out_ceiling++) {
		struct mm_config c;
		struct mm_fast_params p;
		struct mm_agg_config ac;
		struct mm_fast *f;
		struct mm_agg *a;
		struct evlist l = { 0 };
		struct mm_flow fl;

		group_cfg(&c);
		c.groups[0].ceiling_pps = 1000;
		c.groups[0].ceiling_out_pps = out_ceiling ? 1000 : 0;
		mm_fast_params_from_config(&p, &c);
		p.max_hosts = 16;
		f = mm_fast_new(&p, T0);
		ck_assert_ptr_nonnull(f);
		ck_assert_int_eq(mm_fast_wants_out(f, 0), out_ceiling);
		mm_agg_config_default(&ac);
		ac.max_hosts = 16;
		ac.prefixes = c.group_prefixes;
		ac.prefix_group = c.group_prefix_group;
		ac.nprefixes = c.ngroup_prefixes;
		ac.fast = f;
		a = mm_agg_new(&ac, T0);
		ck_assert_ptr_nonnull(a);
		memset(&fl, 0, sizeof(fl));
		mm_addr_parse("203.0.113.9", fl.src_addr);
		mm_addr_parse("10.0.1.10", fl.dst_addr);
		fl.proto = 17;
		fl.packets = fl.packets_scaled = 400;
		fl.bytes = fl.bytes_scaled = 40000;
		fl.sampling_rate = 1;
		fl.start_ms = fl.end_ms = T0 - 300;
		for (int i = 0; i < 3; i++)
			mm_agg_add(a, &fl); /* 1200 packets in */
		/* and 1200 TCP packets out of 10.0.1.11 */
		mm_addr_parse("10.0.1.11", fl.src_addr);
		mm_addr_parse("198.51.100.1", fl.dst_addr);
		fl.proto = 6;
		for (int i = 0; i < 3; i++)
			mm_agg_add(a, &fl);
		mm_agg_sync(a);
		ck_assert_uint_eq(mm_fast_check(f, T0, collect, &l), 1u + (unsigned)out_ceiling);
		ck_assert_uint_eq(l.e[0].cls, MM_CLASS_FLOOD);
		ck_assert_uint_eq(l.e[0].addr[15], 10);
		ck_assert_double_eq(l.e[0].rate, 1200);
		if (out_ceiling) {
			ck_assert_uint_eq(l.e[1].cls, MM_CLASS_OUTBOUND_FLOOD);
			ck_assert_uint_eq(l.e[1].addr[15], 11);
		}
		ck_assert_uint_eq(mm_fast_stats(f)->records, 3u + 3u * (unsigned)out_ceiling);
		mm_agg_free(a);
		mm_fast_free(f);
		mm_config_free(&c);
	}
}
END_TEST

static Suite *fastpath_suite(void)
{
	Suite *s = suite_create("fastpath");
	TCase *tc = tcase_create("counts");

	tcase_add_test(tc, test_spread_exact);
	tcase_add_test(tc, test_long_flow_no_spike);
	tcase_add_test(tc, test_late_and_future);
	suite_add_tcase(s, tc);

	tc = tcase_create("check");
	tcase_add_test(tc, test_every_ceiling);
	tcase_add_test(tc, test_specific_class_wins);
	tcase_add_test(tc, test_minimum_and_combine);
	tcase_add_test(tc, test_repeat_and_episodes);
	tcase_add_test(tc, test_below_ceiling_quiet);
	tcase_add_test(tc, test_reload_groups);
	tcase_add_test(tc, test_through_aggregator);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_test(tc, test_bounded);
	tcase_add_test(tc, test_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("stream");
	tcase_add_test(tc, test_stream_round_trip);
	tcase_add_test(tc, test_stream_refusals);
	tcase_add_test(tc, test_confirms);
	tcase_add_test(tc, test_ceilings_are_the_detectors);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(fastpath_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
