/*
 * test_aggregate.c - the collector's per-host aggregation
 * (collector/aggregate.c): known flows in, exact counters out when the step
 * closes.
 *
 *  - classification: in/out, protocol families, SYN-only, small, auth
 *    ports, amplification slots, sampling scale, sketches and top-K;
 *  - spreading over steps (exact parts that add up, also for byte counts
 *    whose product with a duration overflows 64 bits), late and future
 *    clamping and their counters;
 *  - monitored IPv4/IPv6 prefixes with groups (longest wins), checked
 *    against a plain trie on random addresses;
 *  - external sources: a scanner tracked and emitted, the light ones not,
 *    space-saving eviction and its counter;
 *  - bounds: host table full (dropped and counted, memory unchanged);
 *  - time: a jump of many steps, a clock going back, flush, hosts leaving
 *    the table when their steps are closed;
 *  - no record lost: over a seeded random flow set with the clock moving,
 *    every counter summed over the emitted steps equals the input.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/aggregate.h"
#include "mamori/classes.h"
#include "mamori/prefix.h"
#include "mamori/window.h"

#define STEP 10000

/* ---- helpers ------------------------------------------------------------ */

static void addr(const char *s, uint8_t a[16])
{
	ck_assert_msg(mm_addr_parse(s, a) > 0, "bad address %s", s);
}

static void pfx(struct mm_prefix *p, const char *s)
{
	const char *why = NULL;

	ck_assert_msg(mm_prefix_parse(s, p, &why) == 0, "bad prefix %s: %s", s, why ? why : "");
}

static struct mm_flow mk(const char *src, uint16_t sport, const char *dst, uint16_t dport, uint8_t proto,
			 uint8_t flags, uint64_t pkts, uint64_t bytes, uint64_t start, uint64_t end, uint32_t rate)
{
	struct mm_flow f;

	memset(&f, 0, sizeof(f));
	addr(src, f.src_addr);
	addr(dst, f.dst_addr);
	f.af = mm_addr_is4(f.src_addr) ? 4 : 6;
	f.src_port = sport;
	f.dst_port = dport;
	f.proto = proto;
	f.tcp_flags = flags;
	f.packets = pkts;
	f.bytes = bytes;
	f.sampling_rate = rate;
	f.sampling_src = MM_SAMPLING_CONFIGURED;
	f.packets_scaled = mm_scale(pkts, rate);
	f.bytes_scaled = mm_scale(bytes, rate);
	f.start_ms = start;
	f.end_ms = end;
	f.format = MM_FMT_IPFIX;
	return f;
}

static void add(struct mm_agg *a, struct mm_flow f)
{
	mm_agg_add(a, &f);
}

/* A sink that keeps everything and checks the begin/host/end protocol:
 * steps strictly increasing, hosts only inside a step, as many as begin
 * announced. */
struct got {
	uint64_t step;
	uint8_t addr[16];
	unsigned group;
	int external;
	struct mm_hoststep hs;
};

struct col {
	struct got *g;
	size_t n, cap;
	uint64_t steps[256];
	uint32_t nhosts[256];
	unsigned nsteps;
	int in_step;
	uint64_t cur;
	uint32_t expect, seen;
	struct mm_agg_stats last;
};

static void c_begin(void *arg, uint64_t step, uint32_t n)
{
	struct col *c = arg;

	ck_assert_msg(!c->in_step, "begin %llu inside a step", (unsigned long long)step);
	if (c->nsteps > 0)
		ck_assert_msg(step > c->steps[(c->nsteps - 1) % 256], "step %llu after %llu", (unsigned long long)step,
			      (unsigned long long)c->steps[(c->nsteps - 1) % 256]);
	c->steps[c->nsteps % 256] = step;
	c->nhosts[c->nsteps % 256] = n;
	c->nsteps++;
	c->in_step = 1;
	c->cur = step;
	c->expect = n;
	c->seen = 0;
}

static void c_host(void *arg, uint64_t step, const uint8_t a[16], unsigned group, int external,
		   const struct mm_hoststep *hs)
{
	struct col *c = arg;

	ck_assert(c->in_step);
	ck_assert_uint_eq(step, c->cur);
	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->g = realloc(c->g, c->cap * sizeof(*c->g));
		ck_assert_ptr_nonnull(c->g);
	}
	c->g[c->n].step = step;
	memcpy(c->g[c->n].addr, a, 16);
	c->g[c->n].group = group;
	c->g[c->n].external = external;
	c->g[c->n].hs = *hs;
	c->n++;
	c->seen++;
}

static void c_end(void *arg, uint64_t step, const struct mm_agg_stats *st)
{
	struct col *c = arg;

	ck_assert(c->in_step);
	ck_assert_uint_eq(step, c->cur);
	ck_assert_msg(c->seen == c->expect, "step %llu: begin said %u hosts, got %u", (unsigned long long)step,
		      c->expect, c->seen);
	c->last = *st;
	c->in_step = 0;
}

static struct mm_step_sink sink_of(struct col *c)
{
	struct mm_step_sink s = { c_begin, c_host, c_end, c };
	return s;
}

static const struct got *find(const struct col *c, uint64_t step, const char *a)
{
	uint8_t x[16];

	addr(a, x);
	for (size_t i = 0; i < c->n; i++)
		if (c->g[i].step == step && memcmp(c->g[i].addr, x, 16) == 0)
			return &c->g[i];
	return NULL;
}

static size_t count_addr(const struct col *c, const char *a)
{
	uint8_t x[16];
	size_t n = 0;

	addr(a, x);
	for (size_t i = 0; i < c->n; i++)
		n += memcmp(c->g[i].addr, x, 16) == 0;
	return n;
}

static void ctr_eq(const uint64_t *got, const uint64_t *want, const char *what)
{
	for (unsigned i = 0; i < MM_C_COUNT; i++)
		ck_assert_msg(got[i] == want[i], "%s: %s = %llu, want %llu", what, mm_ctr_name((enum mm_ctr)i),
			      (unsigned long long)got[i], (unsigned long long)want[i]);
}

static struct mm_agg *new_agg(uint32_t late, uint32_t max_hosts, uint32_t max_ext, uint32_t min_flows,
			      const struct mm_prefix *p, const uint16_t *g, unsigned np, uint64_t now)
{
	struct mm_agg_config cfg;
	struct mm_agg *a;

	mm_agg_config_default(&cfg);
	cfg.step_ms = STEP;
	cfg.late_steps = late;
	cfg.max_hosts = max_hosts;
	cfg.max_external = max_ext;
	cfg.external_min_flows = min_flows;
	cfg.prefixes = p;
	cfg.prefix_group = g;
	cfg.nprefixes = np;
	a = mm_agg_new(&cfg, now);
	ck_assert_ptr_nonnull(a);
	return a;
}

/* ---- classification -------------------------------------------------------- */

START_TEST(test_counters)
{
	struct mm_prefix p[1];
	uint16_t g[1] = { 3 };
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	const uint64_t T = 1000000; /* step 100 */
	uint64_t w1[MM_C_COUNT] = { 0 }, w2[MM_C_COUNT] = { 0 };
	struct mm_agg *a;
	const struct got *h1, *h2;
	const struct mm_agg_stats *st;

	pfx(&p[0], "10.0.0.0/24");
	a = new_agg(1, 64, 0, 0, p, g, 1, T);
	/* in to .1: a SYN to ssh, a SYN-ACK to ssh (not SYN-only) */
	add(a, mk("198.51.100.7", 40000, "10.0.0.1", 22, 6, 0x02, 1, 60, T + 1000, T + 1000, 1));
	/* out of .1: established TCP, GRE */
	add(a, mk("10.0.0.1", 443, "203.0.113.5", 50000, 6, 0x1b, 10, 5000, T + 1000, T + 1000, 1));
	/* in to .2: reflected DNS, memcached, qotd (slot "other") */
	add(a, mk("192.0.2.53", 53, "10.0.0.2", 33333, 17, 0, 2, 3000, T + 1000, T + 1000, 1));
	add(a, mk("192.0.2.9", 11211, "10.0.0.2", 4444, 17, 0, 5, 7000, T + 1000, T + 1000, 1));
	add(a, mk("192.0.2.17", 17, "10.0.0.2", 5555, 17, 0, 1, 500, T + 1000, T + 1000, 1));
	/* out of .2: ICMP echo request (type 8 code 0 = dst_port 0x0800) */
	add(a, mk("10.0.0.2", 0, "8.8.8.8", 0x0800, 1, 0, 4, 336, T + 1000, T + 1000, 1));
	add(a, mk("10.0.0.1", 0, "192.0.2.99", 0, 47, 0, 100, 100000, T + 1000, T + 1000, 1));
	/* inside: .1 -> .2 SYN to RDP: out of .1 and in to .2 */
	add(a, mk("10.0.0.1", 50001, "10.0.0.2", 3389, 6, 0x02, 2, 120, T + 1000, T + 1000, 1));
	add(a, mk("198.51.100.7", 40001, "10.0.0.1", 22, 6, 0x12, 1, 60, T + 1000, T + 1000, 1));
	/* sampled 1:100: one record of 1 packet is 100 flows, still "small" */
	add(a, mk("192.0.2.53", 53, "10.0.0.2", 33333, 17, 0, 1, 1500, T + 1000, T + 1000, 100));
	/* UDP from port 53 out of a monitored host: no amplification anywhere */
	add(a, mk("10.0.0.2", 53, "192.0.2.1", 5353, 17, 0, 3, 300, T + 1000, T + 1000, 1));
	/* transit */
	add(a, mk("192.0.2.1", 1, "192.0.2.2", 2, 17, 0, 1, 100, T + 1000, T + 1000, 1));

	mm_agg_sync(a);
	st = mm_agg_stats(a);
	ck_assert_uint_eq(st->records, 12);
	ck_assert_uint_eq(st->records_unmonitored, 1);
	ck_assert_uint_eq(st->late_records, 0);
	ck_assert_uint_eq(st->future_records, 0);
	ck_assert_uint_eq(st->hosts_tracked, 2);
	mm_agg_flush(a, &s);

	/* step 99 (open, empty) and step 100 */
	ck_assert_uint_eq(c.nsteps, 2);
	ck_assert_uint_eq(c.steps[0], 99);
	ck_assert_uint_eq(c.nhosts[0], 0);
	ck_assert_uint_eq(c.steps[1], 100);
	ck_assert_uint_eq(c.nhosts[1], 2);
	ck_assert_uint_eq(c.n, 2);
	h1 = find(&c, 100, "10.0.0.1");
	h2 = find(&c, 100, "10.0.0.2");
	ck_assert_ptr_nonnull(h1);
	ck_assert_ptr_nonnull(h2);
	ck_assert(h1 == &c.g[0]); /* emitted in order of first write */
	ck_assert_uint_eq(h1->group, 3);
	ck_assert_uint_eq(h2->group, 3);
	ck_assert_int_eq(h1->external, 0);

	w1[MM_C_BYTES_IN] = 120;
	w1[MM_C_PKTS_IN] = 2;
	w1[MM_C_FLOWS_IN] = 2;
	w1[MM_C_TCP_BYTES_IN] = 120;
	w1[MM_C_TCP_PKTS_IN] = 2;
	w1[MM_C_TCP_FLOWS_IN] = 2;
	w1[MM_C_SYN_FLOWS_IN] = 1;
	w1[MM_C_SYN_PKTS_IN] = 1;
	w1[MM_C_SMALL_FLOWS_IN] = 2;
	w1[MM_C_AUTH_FLOWS_IN] = 2;
	w1[MM_C_BYTES_OUT] = 5000 + 100000 + 120;
	w1[MM_C_PKTS_OUT] = 112;
	w1[MM_C_FLOWS_OUT] = 3;
	w1[MM_C_TCP_BYTES_OUT] = 5120;
	w1[MM_C_TCP_PKTS_OUT] = 12;
	w1[MM_C_TCP_FLOWS_OUT] = 2;
	w1[MM_C_OTHER_BYTES_OUT] = 100000;
	w1[MM_C_OTHER_PKTS_OUT] = 100;
	w1[MM_C_OTHER_FLOWS_OUT] = 1;
	w1[MM_C_SYN_FLOWS_OUT] = 1;
	w1[MM_C_SYN_PKTS_OUT] = 2;
	w1[MM_C_SMALL_FLOWS_OUT] = 1;
	w1[MM_C_AUTH_FLOWS_OUT] = 1;
	ctr_eq(h1->hs.ctr, w1, "10.0.0.1");

	w2[MM_C_BYTES_IN] = 3000 + 7000 + 500 + 120 + 150000;
	w2[MM_C_PKTS_IN] = 2 + 5 + 1 + 2 + 100;
	w2[MM_C_FLOWS_IN] = 4 + 100;
	w2[MM_C_UDP_BYTES_IN] = 160500;
	w2[MM_C_UDP_PKTS_IN] = 108;
	w2[MM_C_UDP_FLOWS_IN] = 103;
	w2[MM_C_TCP_BYTES_IN] = 120;
	w2[MM_C_TCP_PKTS_IN] = 2;
	w2[MM_C_TCP_FLOWS_IN] = 1;
	w2[MM_C_SYN_FLOWS_IN] = 1;
	w2[MM_C_SYN_PKTS_IN] = 2;
	w2[MM_C_SMALL_FLOWS_IN] = 1 + 1 + 1 + 100;
	w2[MM_C_AUTH_FLOWS_IN] = 1;
	w2[MM_C_AMP_BYTES_IN + 0] = 153000;
	w2[MM_C_AMP_PKTS_IN + 0] = 102;
	w2[MM_C_AMP_FLOWS_IN + 0] = 101;
	w2[MM_C_AMP_BYTES_IN + 3] = 7000;
	w2[MM_C_AMP_PKTS_IN + 3] = 5;
	w2[MM_C_AMP_FLOWS_IN + 3] = 1;
	w2[MM_C_AMP_BYTES_IN + 7] = 500;
	w2[MM_C_AMP_PKTS_IN + 7] = 1;
	w2[MM_C_AMP_FLOWS_IN + 7] = 1;
	w2[MM_C_BYTES_OUT] = 636;
	w2[MM_C_PKTS_OUT] = 7;
	w2[MM_C_FLOWS_OUT] = 2;
	w2[MM_C_ICMP_BYTES_OUT] = 336;
	w2[MM_C_ICMP_PKTS_OUT] = 4;
	w2[MM_C_ICMP_FLOWS_OUT] = 1;
	w2[MM_C_UDP_BYTES_OUT] = 300;
	w2[MM_C_UDP_PKTS_OUT] = 3;
	w2[MM_C_UDP_FLOWS_OUT] = 1;
	w2[MM_C_SMALL_FLOWS_OUT] = 1;
	ctr_eq(h2->hs.ctr, w2, "10.0.0.2");

	/* sketches: distinct peers and ports */
	ck_assert_int_eq((int)(mm_hll_estimate(&h2->hs.hll[MM_S_PEERS_IN]) + 0.5), 4);
	ck_assert_int_eq((int)(mm_hll_estimate(&h1->hs.hll[MM_S_PEERS_IN]) + 0.5), 1);
	ck_assert_int_eq((int)(mm_hll_estimate(&h1->hs.hll[MM_S_PEERS_OUT]) + 0.5), 3);
	ck_assert_int_eq((int)(mm_hll_estimate(&h1->hs.hll[MM_S_DPORTS_OUT]) + 0.5), 3);
	ck_assert_int_eq((int)(mm_hll_estimate(&h2->hs.hll[MM_S_DPORTS_OUT]) + 0.5), 2);
	/* top-K by scaled packets */
	ck_assert_uint_eq(h2->hs.ports[MM_T_SPORTS_IN][0].port, 53);
	ck_assert_uint_eq(h2->hs.ports[MM_T_SPORTS_IN][0].count, 102);
	ck_assert_uint_eq(h2->hs.ports[MM_T_DPORTS_IN][0].port, 33333);
	ck_assert_uint_eq(h2->hs.ports[MM_T_DPORTS_IN][0].count, 102);
	ck_assert_uint_eq(h2->hs.ports[MM_T_DPORTS_OUT][0].port, 0x0800);
	ck_assert_uint_eq(h2->hs.ports[MM_T_DPORTS_OUT][0].count, 4);
	uint8_t x[16];
	addr("192.0.2.53", x);
	ck_assert_mem_eq(h2->hs.peers_in[0].addr, x, 16);
	ck_assert_uint_eq(h2->hs.peers_in[0].count, 102);
	addr("192.0.2.99", x);
	ck_assert_mem_eq(h1->hs.peers_out[0].addr, x, 16);
	ck_assert_uint_eq(h1->hs.peers_out[0].count, 100);
	ck_assert_uint_eq(c.last.steps_closed, 2);
	ck_assert_uint_eq(c.last.hosts_tracked, 0);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

/* ---- time: spreading, late, future -------------------------------------------- */

START_TEST(test_spreading)
{
	struct mm_prefix p[1];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const struct got *h;
	static const uint64_t want_p[3] = { 50, 100, 100 }, want_b[3] = { 500, 1000, 1000 };
	static const uint64_t want7[3] = { 1, 3, 3 };

	pfx(&p[0], "10.0.0.0/24");
	/* open steps 0, 1, 2 */
	a = new_agg(2, 16, 0, 0, p, NULL, 1, 25000);
	/* 25 s from t = 5 s: 5 s in step 0, 10 in step 1, 10 in step 2 */
	add(a, mk("192.0.2.1", 1000, "10.0.0.1", 80, 6, 0x18, 250, 2500, 5000, 30000, 1));
	/* 7 packets the same way: floor(7 * 5/25) = 1, floor(7 * 15/25) = 4 -> 3, 7 -> 3 */
	add(a, mk("192.0.2.1", 1000, "10.0.0.2", 80, 6, 0x18, 7, 7, 5000, 30000, 1));
	mm_agg_flush(a, &s);
	ck_assert_uint_eq(c.nsteps, 3);
	for (unsigned k = 0; k < 3; k++) {
		h = find(&c, k, "10.0.0.1");
		ck_assert_ptr_nonnull(h);
		ck_assert_uint_eq(h->hs.ctr[MM_C_PKTS_IN], want_p[k]);
		ck_assert_uint_eq(h->hs.ctr[MM_C_TCP_PKTS_IN], want_p[k]);
		ck_assert_uint_eq(h->hs.ctr[MM_C_BYTES_IN], want_b[k]);
		ck_assert_uint_eq(h->hs.ctr[MM_C_TCP_BYTES_IN], want_b[k]);
		/* the flow counts once, in the step of its start */
		ck_assert_uint_eq(h->hs.ctr[MM_C_FLOWS_IN], k == 0 ? 1 : 0);
		ck_assert_uint_eq(h->hs.ctr[MM_C_TCP_FLOWS_IN], k == 0 ? 1 : 0);
		h = find(&c, k, "10.0.0.2");
		ck_assert_ptr_nonnull(h);
		ck_assert_uint_eq(h->hs.ctr[MM_C_PKTS_IN], want7[k]);
		ck_assert_uint_eq(h->hs.ctr[MM_C_BYTES_IN], want7[k]);
	}
	ck_assert_uint_eq(mm_agg_stats(a)->late_records, 0);
	ck_assert_uint_eq(mm_agg_stats(a)->future_records, 0);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

/* Byte counts near 2^64 times durations: the parts are exactly the floors
 * of the proportional shares (checked with 128-bit arithmetic here) and
 * add up to the total. */
START_TEST(test_spreading_exact_big)
{
	static const uint64_t vals[] = { UINT64_MAX, UINT64_MAX - 12345, 1ull << 63, 0xdeadbeefcafebabeull,
					 123456789012345ull };
	struct mm_prefix p[1];
	uint8_t x[16];

	pfx(&p[0], "2001:db8::/32");
	addr("2001:db8::1", x);
	for (size_t v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
		struct col c = { 0 };
		struct mm_step_sink s = sink_of(&c);
		struct mm_agg *a = new_agg(3, 16, 0, 0, p, NULL, 1, 39999);
		/* [1234, 39999): 8766 + 10000 + 10000 + 9999 ms */
		struct mm_flow f = mk("2a00::9", 1, "2001:db8::1", 2, 17, 0, 1, 1, 1234, 39999, 1);
		static const uint64_t t[4] = { 8766, 10000, 10000, 9999 };
		unsigned __int128 cum = 0;
		uint64_t prev = 0, sum = 0;

		f.bytes_scaled = vals[v];
		f.packets_scaled = vals[v] / 3;
		mm_agg_add(a, &f);
		mm_agg_flush(a, &s);
		ck_assert_uint_eq(c.n, 4);
		for (unsigned k = 0; k < 4; k++) {
			const struct got *h = &c.g[k];
			uint64_t want;

			ck_assert_uint_eq(h->step, k);
			ck_assert_mem_eq(h->addr, x, 16);
			cum += t[k];
			want = (uint64_t)((unsigned __int128)vals[v] * cum / 38765) - prev;
			prev += want;
			ck_assert_msg(h->hs.ctr[MM_C_BYTES_IN] == want, "value %#llx step %u: %llu, want %llu",
				      (unsigned long long)vals[v], k, (unsigned long long)h->hs.ctr[MM_C_BYTES_IN],
				      (unsigned long long)want);
			sum += h->hs.ctr[MM_C_BYTES_IN];
		}
		ck_assert_uint_eq(sum, vals[v]);
		mm_agg_free(a);
		free(c.g);
	}
}
END_TEST

START_TEST(test_late_future)
{
	struct mm_prefix p[1];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const struct mm_agg_stats *st;
	const struct got *h9, *h10;

	pfx(&p[0], "10.0.0.0/24");
	/* now = 100 s: current step 10, step 9 still open: [90 s, 110 s) */
	a = new_agg(1, 16, 0, 0, p, NULL, 1, 100000);
	/* late: 45 s from 50 s, 5 s of it in step 9: 10 packets there, the
	 * 40 s before step 9 -> current step 10 (80), flow -> step 10 */
	add(a, mk("192.0.2.1", 1, "10.0.0.1", 2, 17, 0, 90, 90, 50000, 95000, 1));
	/* wholly late, no duration */
	add(a, mk("192.0.2.1", 1, "10.0.0.2", 2, 17, 0, 5, 5, 1000, 1000, 1));
	/* future: 5 s in step 10, 20 s after it: all in step 10 */
	add(a, mk("192.0.2.1", 1, "10.0.0.3", 2, 17, 0, 25, 25, 105000, 130000, 1));
	add(a, mk("192.0.2.1", 1, "10.0.0.4", 2, 17, 0, 3, 3, 200000, 200000, 1));
	add(a, mk("192.0.2.1", 1, "10.0.0.5", 2, 17, 0, 4, 4, 115000, 125000, 1));
	/* normal: half in step 9, half in step 10; the flow in step 9 */
	add(a, mk("192.0.2.1", 1, "10.0.0.6", 2, 17, 0, 10, 10, 95000, 105000, 1));
	/* 110 s from 0: 10 s in step 9, 10 s in step 10, the 90 s before
	 * step 9 (late) in step 10 too */
	add(a, mk("192.0.2.1", 1, "10.0.0.7", 2, 17, 0, 1100, 1100, 0, 110000, 1));
	mm_agg_sync(a);
	st = mm_agg_stats(a);
	ck_assert_uint_eq(st->late_records, 3);
	ck_assert_uint_eq(st->future_records, 3);
	mm_agg_flush(a, &s);

	h9 = find(&c, 9, "10.0.0.1");
	h10 = find(&c, 10, "10.0.0.1");
	ck_assert(h9 && h10);
	ck_assert_uint_eq(h9->hs.ctr[MM_C_PKTS_IN], 10);
	ck_assert_uint_eq(h10->hs.ctr[MM_C_PKTS_IN], 80);
	ck_assert_uint_eq(h9->hs.ctr[MM_C_FLOWS_IN], 0);
	ck_assert_uint_eq(h10->hs.ctr[MM_C_FLOWS_IN], 1);
	for (int i = 2; i <= 5; i++) {
		char a4[32];
		static const uint64_t pk[6] = { 0, 0, 5, 25, 3, 4 };
		snprintf(a4, sizeof(a4), "10.0.0.%d", i);
		ck_assert_ptr_null(find(&c, 9, a4));
		h10 = find(&c, 10, a4);
		ck_assert_ptr_nonnull(h10);
		ck_assert_uint_eq(h10->hs.ctr[MM_C_PKTS_IN], pk[i]);
		ck_assert_uint_eq(h10->hs.ctr[MM_C_FLOWS_IN], 1);
	}
	h9 = find(&c, 9, "10.0.0.6");
	h10 = find(&c, 10, "10.0.0.6");
	ck_assert(h9 && h10);
	ck_assert_uint_eq(h9->hs.ctr[MM_C_PKTS_IN], 5);
	ck_assert_uint_eq(h10->hs.ctr[MM_C_PKTS_IN], 5);
	ck_assert_uint_eq(h9->hs.ctr[MM_C_FLOWS_IN], 1);
	ck_assert_uint_eq(h10->hs.ctr[MM_C_FLOWS_IN], 0);
	h9 = find(&c, 9, "10.0.0.7");
	h10 = find(&c, 10, "10.0.0.7");
	ck_assert(h9 && h10);
	ck_assert_uint_eq(h9->hs.ctr[MM_C_PKTS_IN], 100);
	ck_assert_uint_eq(h10->hs.ctr[MM_C_PKTS_IN], 1000);
	mm_agg_free(a);
	free(c.g);

	/* a 30-minute flow exported when it ends, at the start of step 360:
	 * the 10 s of step 359 there, the other 1790 s (late) in step 360 */
	memset(&c, 0, sizeof(c));
	a = new_agg(1, 16, 0, 0, p, NULL, 1, 3600000);
	add(a, mk("192.0.2.1", 1, "10.0.0.8", 2, 6, 0x18, 1800, 1800, 1800000, 3600000, 1));
	mm_agg_flush(a, &s);
	h9 = find(&c, 359, "10.0.0.8");
	h10 = find(&c, 360, "10.0.0.8");
	ck_assert(h9 && h10);
	ck_assert_uint_eq(h9->hs.ctr[MM_C_PKTS_IN], 10);
	ck_assert_uint_eq(h10->hs.ctr[MM_C_PKTS_IN], 1790);
	ck_assert_uint_eq(h10->hs.ctr[MM_C_FLOWS_IN], 1);
	ck_assert_uint_eq(c.last.late_records, 1);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

/* ---- prefixes and groups --------------------------------------------------------- */

START_TEST(test_prefix_groups)
{
	static const char *pf[] = { "10.0.0.0/8",   "10.1.0.0/16",    "10.1.2.0/24",   "10.1.2.128/25",
				    "2001:db8::/32", "2001:db8:1::/48", "192.0.2.77/32", "172.16.0.0/12" };
	static const uint16_t gr[] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const struct {
		const char *a;
		int group;
	} hosts[] = {
		{ "10.9.9.9", 1 },      { "10.1.9.9", 2 },      { "10.1.2.3", 3 },   { "10.1.2.200", 4 },
		{ "2001:db8:5::1", 5 }, { "2001:db8:1::1", 6 }, { "192.0.2.77", 7 }, { "172.31.255.1", 8 },
		{ "172.15.0.1", -1 },   { "11.0.0.1", -1 },     { "192.0.2.78", -1 }, { "2001:db9::1", -1 },
	};
	struct mm_prefix p[8];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;

	for (unsigned i = 0; i < 8; i++)
		pfx(&p[i], pf[i]);
	a = new_agg(1, 64, 0, 0, p, gr, 8, 100000);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		int v6 = strchr(hosts[i].a, ':') != NULL;
		add(a, mk(v6 ? "2a00::1" : "198.51.100.1", 1, hosts[i].a, 2, v6 ? 58 : 1, 0, 1, 64, 100000, 100000, 1));
	}
	mm_agg_flush(a, &s);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		const struct got *h = find(&c, 10, hosts[i].a);
		if (hosts[i].group < 0) {
			ck_assert_msg(h == NULL, "%s is not monitored", hosts[i].a);
			continue;
		}
		ck_assert_msg(h != NULL, "%s missing", hosts[i].a);
		ck_assert_msg(h->group == (unsigned)hosts[i].group, "%s: group %u, want %d", hosts[i].a, h->group,
			      hosts[i].group);
		ck_assert_uint_eq(h->hs.ctr[MM_C_ICMP_FLOWS_IN], 1); /* ICMP and ICMPv6 */
	}
	ck_assert_uint_eq(mm_agg_stats(a)->records_unmonitored, 4);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

static uint64_t rng(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* Random addresses, most of them near a prefix, against a plain trie. */
START_TEST(test_prefix_random)
{
	static const char *pf[] = { "10.0.0.0/8",     "10.1.0.0/16",  "10.1.2.0/24",    "10.1.2.128/25",
				    "10.200.3.4/32",  "100.64.0.0/10", "172.16.0.0/12", "0.0.0.0/1",
				    "::ffff:0:0/104", "fc00::/7",      "2001:db8::/32", "2001:db8:1::/48",
				    "2001:db8:1:2::1/128", "::/3",      "2a00:1450::/29", "10.1.2.0/24" };
	enum { NP = sizeof(pf) / sizeof(pf[0]), NA = 4000 };
	struct mm_prefix p[NP];
	uint16_t gr[NP];
	struct mm_lpm *ref = mm_lpm_new();
	uint8_t (*dst)[16] = calloc(NA, 16);
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	uint64_t seed = 7;

	ck_assert_ptr_nonnull(ref);
	ck_assert_ptr_nonnull(dst);
	for (unsigned i = 0; i < NP; i++) {
		pfx(&p[i], pf[i]);
		gr[i] = (uint16_t)(100 + i); /* the duplicate /24 at the end wins, as in the trie */
		ck_assert_int_eq(mm_lpm_insert(ref, &p[i], gr[i]), 0);
	}
	a = new_agg(1, NA, 0, 0, p, gr, NP, 100000);
	for (unsigned i = 0; i < NA; i++) {
		uint64_t r = rng(&seed), r2 = rng(&seed);
		const struct mm_prefix *q = &p[r % NP];
		unsigned keep = (unsigned)((r >> 8) % (q->len + 9)); /* sometimes past the prefix */

		/* the prefix's first `keep` bits, random after */
		for (unsigned b = 0; b < 16; b++)
			dst[i][b] = (uint8_t)(r2 >> (8 * (b % 8))) ^ (uint8_t)(rng(&seed));
		for (unsigned b = 0; b < 128 && b < keep; b++) {
			uint8_t m = (uint8_t)(0x80 >> (b % 8));
			dst[i][b / 8] = (uint8_t)((dst[i][b / 8] & ~m) | (q->addr[b / 8] & m));
		}
		if (r & (1ull << 60)) /* keep IPv4 addresses IPv4-mapped half of the time */
			if (q->af == 4)
				memcpy(dst[i], q->addr, 12);
		struct mm_flow f = mk("2a00::1", 1, "::1", 2, 17, 0, 1, 1, 100000, 100000, 1);
		memcpy(f.dst_addr, dst[i], 16);
		mm_agg_add(a, &f);
	}
	mm_agg_flush(a, &s);
	unsigned monitored = 0;
	for (unsigned i = 0; i < NA; i++) {
		int want = mm_lpm_lookup(ref, dst[i]);
		const struct got *h = NULL;
		char buf[64];

		for (size_t j = 0; j < c.n; j++)
			if (memcmp(c.g[j].addr, dst[i], 16) == 0)
				h = &c.g[j];
		mm_addr_str(dst[i], buf, sizeof(buf));
		if (want < 0) {
			ck_assert_msg(h == NULL, "%s: not monitored, emitted in group %u", buf, h ? h->group : 0);
		} else {
			ck_assert_msg(h != NULL, "%s: monitored (group %d), not emitted", buf, want);
			ck_assert_msg(h->group == (unsigned)want, "%s: group %u, want %d", buf, h->group, want);
			monitored++;
		}
	}
	ck_assert_uint_gt(monitored, NA / 4);
	ck_assert_uint_lt(monitored, NA);
	mm_lpm_free(ref);
	mm_agg_free(a);
	free(dst);
	free(c.g);
}
END_TEST

/* ---- external sources ----------------------------------------------------------------- */

START_TEST(test_external_scanner)
{
	struct mm_prefix p[1];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const struct got *h;
	const uint64_t T = 1000000;

	pfx(&p[0], "10.0.0.0/24");
	a = new_agg(1, 256, 16, 10, p, NULL, 1, T);
	/* a scanner: SYNs to ssh on 50 hosts, and one to a host outside */
	for (int i = 1; i <= 50; i++) {
		char d[32];
		snprintf(d, sizeof(d), "10.0.0.%d", i);
		add(a, mk("203.0.113.66", (uint16_t)(40000 + i), d, 22, 6, 0x02, 1, 60, T + 100, T + 100, 1));
	}
	add(a, mk("203.0.113.66", 39999, "192.0.2.1", 22, 6, 0x02, 1, 60, T + 200, T + 200, 1));
	/* a host answering it: not counted on the external (out side only) */
	add(a, mk("10.0.0.1", 22, "203.0.113.66", 40001, 6, 0x12, 1, 60, T + 200, T + 200, 1));
	/* a light external: tracked, below external_min_flows */
	add(a, mk("203.0.113.1", 1, "10.0.0.1", 80, 6, 0x18, 2, 200, T + 300, T + 300, 1));
	add(a, mk("203.0.113.1", 1, "10.0.0.1", 80, 6, 0x18, 2, 200, T + 300, T + 300, 1));
	/* transit from an untracked source */
	add(a, mk("203.0.113.200", 1, "192.0.2.1", 80, 6, 0x18, 2, 200, T + 300, T + 300, 1));
	mm_agg_sync(a);
	ck_assert_uint_eq(mm_agg_stats(a)->external_tracked, 2);
	ck_assert_uint_eq(mm_agg_stats(a)->records_unmonitored, 1);
	mm_agg_flush(a, &s);

	h = find(&c, 100, "203.0.113.66");
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(h->external, 1);
	ck_assert_uint_eq(h->hs.ctr[MM_C_FLOWS_OUT], 51);
	ck_assert_uint_eq(h->hs.ctr[MM_C_TCP_FLOWS_OUT], 51);
	ck_assert_uint_eq(h->hs.ctr[MM_C_SYN_FLOWS_OUT], 51);
	ck_assert_uint_eq(h->hs.ctr[MM_C_AUTH_FLOWS_OUT], 51);
	ck_assert_uint_eq(h->hs.ctr[MM_C_SMALL_FLOWS_OUT], 51);
	ck_assert_uint_eq(h->hs.ctr[MM_C_BYTES_OUT], 51 * 60);
	for (unsigned i = 0; i < MM_C_COUNT; i++)
		if (i % 2 == 0 && i < MM_C_AMP_BYTES_IN)
			ck_assert_msg(h->hs.ctr[i] == 0, "external has %s", mm_ctr_name((enum mm_ctr)i));
	double e = mm_hll_estimate(&h->hs.hll[MM_S_PEERS_OUT]);
	ck_assert_msg(e > 51 * 0.6 && e < 51 * 1.4, "fan-out estimate %.1f", e);
	ck_assert_int_eq((int)(mm_hll_estimate(&h->hs.hll[MM_S_DPORTS_OUT]) + 0.5), 1);
	ck_assert_uint_eq(h->hs.ports[MM_T_DPORTS_OUT][0].port, 22);
	ck_assert_uint_eq(h->hs.ports[MM_T_DPORTS_OUT][0].count, 51);
	ck_assert_double_eq(mm_hll_estimate(&h->hs.hll[MM_S_PEERS_IN]), 0.0);
	/* the light one is not emitted; the hosts are */
	ck_assert_uint_eq(count_addr(&c, "203.0.113.1"), 0);
	ck_assert_uint_eq(count_addr(&c, "203.0.113.200"), 0);
	ck_assert_uint_eq(c.n, 50 + 1);
	h = find(&c, 100, "10.0.0.7");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->hs.ctr[MM_C_SYN_FLOWS_IN], 1);
	ck_assert_uint_eq(h->hs.ctr[MM_C_AUTH_FLOWS_IN], 1);
	ck_assert_uint_eq(c.last.external_tracked, 0);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

START_TEST(test_external_eviction)
{
	struct mm_prefix p[1];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const struct got *h;
	const uint64_t T = 1000000;
	size_t before;

	pfx(&p[0], "10.0.0.0/24");
	a = new_agg(1, 16, 2, 0, p, NULL, 1, T);
	before = mm_agg_memory(a);
	for (int i = 0; i < 10; i++)
		add(a, mk("203.0.113.10", 1, "10.0.0.1", 80, 6, 0x02, 1, 40, T, T, 1));
	for (int i = 0; i < 5; i++)
		add(a, mk("203.0.113.11", 1, "10.0.0.1", 80, 6, 0x02, 1, 40, T, T, 1));
	/* full: C replaces B (count 5) and counts 6; D then replaces C */
	add(a, mk("203.0.113.12", 1, "10.0.0.1", 80, 6, 0x02, 1, 40, T, T, 1));
	add(a, mk("203.0.113.13", 1, "10.0.0.1", 80, 6, 0x02, 3, 120, T, T, 1));
	mm_agg_sync(a);
	ck_assert_uint_eq(mm_agg_stats(a)->external_evicted, 2);
	ck_assert_uint_eq(mm_agg_stats(a)->external_tracked, 2);
	ck_assert_uint_eq(mm_agg_memory(a), before);
	mm_agg_flush(a, &s);
	h = find(&c, 100, "203.0.113.10");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->hs.ctr[MM_C_FLOWS_OUT], 10);
	/* the newcomer's counters are its own: the inherited count only ranks */
	h = find(&c, 100, "203.0.113.13");
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(h->external, 1);
	ck_assert_uint_eq(h->hs.ctr[MM_C_FLOWS_OUT], 1);
	ck_assert_uint_eq(h->hs.ctr[MM_C_PKTS_OUT], 3);
	ck_assert_uint_eq(count_addr(&c, "203.0.113.11"), 0);
	ck_assert_uint_eq(count_addr(&c, "203.0.113.12"), 0);
	/* the monitored host saw all 17 */
	h = find(&c, 100, "10.0.0.1");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->hs.ctr[MM_C_FLOWS_IN], 17);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

/* Many random sources through a small table: the heaviest stays. */
START_TEST(test_external_churn)
{
	struct mm_prefix p[1];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const struct got *h;
	const uint64_t T = 1000000;
	uint64_t seed = 3;

	pfx(&p[0], "10.0.0.0/24");
	a = new_agg(1, 256, 64, 50, p, NULL, 1, T);
	for (int i = 0; i < 20000; i++) {
		char src[32];
		uint64_t r = rng(&seed);
		if (i % 4 == 0)
			snprintf(src, sizeof(src), "203.0.113.66");
		else
			snprintf(src, sizeof(src), "198.%u.%u.%u", (unsigned)(r >> 8) & 255, (unsigned)(r >> 16) & 255,
				 (unsigned)(r >> 24) & 255);
		add(a, mk(src, 1, "10.0.0.5", 23, 6, 0x02, 1, 40, T, T, 1));
	}
	mm_agg_sync(a);
	ck_assert_uint_eq(mm_agg_stats(a)->external_tracked, 64);
	ck_assert_uint_gt(mm_agg_stats(a)->external_evicted, 10000);
	mm_agg_flush(a, &s);
	h = find(&c, 100, "203.0.113.66");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->hs.ctr[MM_C_FLOWS_OUT], 5000);
	/* nobody else reaches 50 flows */
	ck_assert_uint_eq(c.n, 2);
	h = find(&c, 100, "10.0.0.5");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->hs.ctr[MM_C_FLOWS_IN], 20000);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

/* ---- bounds --------------------------------------------------------------------------- */

START_TEST(test_host_table_full)
{
	struct mm_prefix p[1];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const uint64_t T = 1000000;
	size_t mem;

	pfx(&p[0], "10.0.0.0/24");
	a = new_agg(1, 4, 0, 0, p, NULL, 1, T);
	mem = mm_agg_memory(a);
	ck_assert_uint_gt(mem, 4 * 2 * sizeof(struct mm_hoststep));
	for (int i = 1; i <= 6; i++) {
		char d[32];
		snprintf(d, sizeof(d), "10.0.0.%d", i);
		add(a, mk("192.0.2.1", 1, d, 80, 6, 0x18, 1, 100, T, T, 1));
	}
	add(a, mk("10.0.0.5", 1, "10.0.0.6", 80, 6, 0x18, 1, 100, T, T, 1)); /* both dropped */
	add(a, mk("10.0.0.6", 1, "10.0.0.1", 80, 6, 0x18, 1, 100, T, T, 1)); /* in to .1 kept */
	mm_agg_sync(a);
	ck_assert_uint_eq(mm_agg_stats(a)->hosts_dropped, 2 + 2 + 1);
	ck_assert_uint_eq(mm_agg_stats(a)->hosts_tracked, 4);
	ck_assert_uint_eq(mm_agg_memory(a), mem);
	mm_agg_flush(a, &s);
	ck_assert_uint_eq(c.n, 4);
	ck_assert_uint_eq(find(&c, 100, "10.0.0.1")->hs.ctr[MM_C_FLOWS_IN], 2);
	ck_assert_ptr_null(find(&c, 100, "10.0.0.5"));
	/* the table is empty again: new hosts fit */
	add(a, mk("192.0.2.1", 1, "10.0.0.6", 80, 6, 0x18, 1, 100, T, T, 1));
	mm_agg_sync(a);
	ck_assert_uint_eq(mm_agg_stats(a)->hosts_tracked, 1);
	ck_assert_uint_eq(mm_agg_stats(a)->hosts_dropped, 5);
	ck_assert_uint_eq(mm_agg_memory(a), mem);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

START_TEST(test_config_errors)
{
	struct mm_agg_config cfg;
	struct mm_prefix p;
	struct mm_agg *a;

	ck_assert_ptr_null(mm_agg_new(NULL, 0));
	mm_agg_config_default(&cfg);
	ck_assert_uint_eq(cfg.step_ms, 10000);
	ck_assert_uint_eq(cfg.late_steps, 1);
	ck_assert_uint_eq(cfg.max_hosts, 1000000);
	ck_assert_uint_eq(cfg.max_external, 65536);
	cfg.max_hosts = 8;
	cfg.max_external = 8;
	cfg.step_ms = 0;
	ck_assert_ptr_null(mm_agg_new(&cfg, 0));
	cfg.step_ms = 1000;
	cfg.late_steps = 32;
	ck_assert_ptr_null(mm_agg_new(&cfg, 0));
	cfg.late_steps = 31;
	a = mm_agg_new(&cfg, 0);
	ck_assert_ptr_nonnull(a);
	mm_agg_free(a);
	cfg.max_hosts = 0;
	ck_assert_ptr_null(mm_agg_new(&cfg, 0));
	cfg.max_hosts = 8;
	cfg.nprefixes = 1;
	ck_assert_ptr_null(mm_agg_new(&cfg, 0));
	memset(&p, 0, sizeof(p));
	p.len = 129;
	cfg.prefixes = &p;
	ck_assert_ptr_null(mm_agg_new(&cfg, 0));
	p.len = 128;
	a = mm_agg_new(&cfg, 0);
	ck_assert_ptr_nonnull(a);
	mm_agg_free(a);
	mm_agg_free(NULL);
}
END_TEST

/* ---- the clock ---------------------------------------------------------------------------- */

START_TEST(test_big_gap)
{
	struct mm_prefix p[1];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const uint64_t T = 1000000;
	const uint64_t far = T + 10000000000000ull; /* 10^12 steps later */

	pfx(&p[0], "10.0.0.0/24");
	a = new_agg(1, 16, 0, 0, p, NULL, 1, T);
	add(a, mk("192.0.2.1", 1, "10.0.0.1", 80, 6, 0x18, 3, 300, T, T, 1));
	/* the clock going back changes nothing */
	mm_agg_advance(a, T - 50000, &s);
	ck_assert_uint_eq(c.nsteps, 0);
	mm_agg_advance(a, far, &s);
	/* only the two steps that were open: a loop over the gap would
	 * never finish */
	ck_assert_uint_eq(c.nsteps, 2);
	ck_assert_uint_eq(c.steps[0], 99);
	ck_assert_uint_eq(c.steps[1], 100);
	ck_assert_uint_eq(c.n, 1);
	ck_assert_uint_eq(c.g[0].hs.ctr[MM_C_PKTS_IN], 3);
	ck_assert_uint_eq(c.last.steps_closed, 2);
	ck_assert_uint_eq(c.last.hosts_tracked, 0);
	/* and the new steps work */
	add(a, mk("192.0.2.1", 1, "10.0.0.1", 80, 6, 0x18, 4, 400, far, far, 1));
	/* a record stamped before the jump is late now: current step */
	add(a, mk("192.0.2.1", 1, "10.0.0.2", 80, 6, 0x18, 5, 500, T, T, 1));
	mm_agg_advance(a, far + 2 * STEP, &s);
	ck_assert_uint_eq(c.nsteps, 4);
	ck_assert_uint_eq(c.steps[3], far / STEP);
	ck_assert_ptr_nonnull(find(&c, far / STEP, "10.0.0.1"));
	ck_assert_uint_eq(find(&c, far / STEP, "10.0.0.2")->hs.ctr[MM_C_PKTS_IN], 5);
	ck_assert_uint_eq(c.last.late_records, 1);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

START_TEST(test_step_close_and_flush)
{
	struct mm_prefix p[1];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const uint64_t T = 1000000; /* step 100, step 99 open */

	pfx(&p[0], "10.0.0.0/24");
	a = new_agg(1, 16, 0, 0, p, NULL, 1, T);
	add(a, mk("192.0.2.1", 1, "10.0.0.1", 80, 6, 0x18, 1, 100, T - 5000, T - 5000, 1)); /* step 99 */
	add(a, mk("192.0.2.1", 1, "10.0.0.2", 80, 6, 0x18, 1, 100, T + 5000, T + 5000, 1)); /* step 100 */
	/* a flow over both: .3 has data in both steps */
	add(a, mk("192.0.2.1", 1, "10.0.0.3", 80, 6, 0x18, 10, 1000, T - 5000, T + 5000, 1));
	mm_agg_sync(a);
	ck_assert_uint_eq(mm_agg_stats(a)->hosts_tracked, 3);
	/* step 101: step 99 closes; .1 has nothing left and leaves */
	mm_agg_advance(a, T + STEP, &s);
	ck_assert_uint_eq(c.nsteps, 1);
	ck_assert_uint_eq(c.steps[0], 99);
	ck_assert_uint_eq(c.nhosts[0], 2);
	ck_assert_uint_eq(c.last.hosts_tracked, 2);
	ck_assert_uint_eq(find(&c, 99, "10.0.0.3")->hs.ctr[MM_C_PKTS_IN], 5);
	/* advancing within the step closes nothing */
	mm_agg_advance(a, T + STEP + 9999, &s);
	ck_assert_uint_eq(c.nsteps, 1);
	/* a record for step 101 */
	add(a, mk("192.0.2.1", 1, "10.0.0.1", 80, 6, 0x18, 1, 100, T + STEP, T + STEP, 1));
	mm_agg_flush(a, &s);
	ck_assert_uint_eq(c.nsteps, 3);
	ck_assert_uint_eq(c.steps[1], 100);
	ck_assert_uint_eq(c.steps[2], 101);
	ck_assert_uint_eq(find(&c, 100, "10.0.0.3")->hs.ctr[MM_C_PKTS_IN], 5);
	ck_assert_ptr_nonnull(find(&c, 101, "10.0.0.1"));
	ck_assert_uint_eq(c.last.hosts_tracked, 0);
	ck_assert_uint_eq(c.last.steps_closed, 3);
	/* a NULL sink just forgets */
	add(a, mk("192.0.2.1", 1, "10.0.0.1", 80, 6, 0x18, 1, 100, T + STEP, T + STEP, 1));
	mm_agg_advance(a, T + 5 * STEP, NULL);
	ck_assert_uint_eq(mm_agg_stats(a)->hosts_tracked, 0);
	ck_assert_uint_eq(mm_agg_stats(a)->records, 5);
	mm_agg_free(a);
	free(c.g);
}
END_TEST

/* ---- property: nothing is lost ------------------------------------------------------------- */

#define NHOSTS 24

static int host_index(const uint8_t a[16], uint8_t hosts[NHOSTS][16])
{
	for (int i = 0; i < NHOSTS; i++)
		if (memcmp(a, hosts[i], 16) == 0)
			return i;
	return -1;
}

static int is_auth(uint16_t port)
{
	for (const uint16_t *p = mm_auth_ports; *p; p++)
		if (*p == port)
			return 1;
	return 0;
}

/* The specification, written out again, for one side of one flow. */
static void expect(uint64_t w[MM_C_COUNT], const struct mm_flow *f, int out)
{
	unsigned base = f->proto == 6 ? MM_C_TCP_BYTES_IN
			: f->proto == 17 ? MM_C_UDP_BYTES_IN
			: (f->proto == 1 || f->proto == 58) ? MM_C_ICMP_BYTES_IN : MM_C_OTHER_BYTES_IN;
	uint64_t fl = f->sampling_rate;
	int syn = f->proto == 6 && (f->tcp_flags & 0x02) && !(f->tcp_flags & 0x10);
	int amp = !out && f->proto == 17 ? mm_amp_slot(f->src_port) : -1;

	w[MM_C_BYTES_IN + out] += f->bytes_scaled;
	w[MM_C_PKTS_IN + out] += f->packets_scaled;
	w[MM_C_FLOWS_IN + out] += fl;
	w[base + out] += f->bytes_scaled;
	w[base + 2 + out] += f->packets_scaled;
	w[base + 4 + out] += fl;
	if (syn) {
		w[MM_C_SYN_FLOWS_IN + out] += fl;
		w[MM_C_SYN_PKTS_IN + out] += f->packets_scaled;
	}
	if (f->packets <= 3)
		w[MM_C_SMALL_FLOWS_IN + out] += fl;
	if (f->proto == 6 && is_auth(f->dst_port))
		w[MM_C_AUTH_FLOWS_IN + out] += fl;
	if (amp >= 0) {
		w[MM_C_AMP_BYTES_IN + amp] += f->bytes_scaled;
		w[MM_C_AMP_PKTS_IN + amp] += f->packets_scaled;
		w[MM_C_AMP_FLOWS_IN + amp] += fl;
	}
}

START_TEST(test_no_record_lost)
{
	static const uint8_t protos[] = { 6, 6, 6, 17, 17, 17, 1, 58, 47 };
	static const uint16_t sports[] = { 53, 123, 1900, 11211, 389, 19, 161, 17, 3702, 443, 40000 };
	static const uint16_t dports[] = { 22, 23, 80, 443, 3389, 25, 53, 5060 };
	static const uint32_t rates[] = { 1, 1, 1, 10, 1000 };
	struct mm_prefix p[2];
	uint16_t g[2] = { 1, 2 };
	uint8_t hosts[NHOSTS][16];
	static uint64_t want[NHOSTS][MM_C_COUNT], got[NHOSTS][MM_C_COUNT];
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	uint64_t seed = (uint64_t)_i * 0x1234567ull + 99, now = 1700000000000ull;
	uint64_t nrec = 0;

	memset(want, 0, sizeof(want));
	memset(got, 0, sizeof(got));
	pfx(&p[0], "10.0.0.0/28");
	pfx(&p[1], "2001:db8::/125");
	for (int i = 0; i < NHOSTS; i++) {
		char b[64];
		if (i < 16)
			snprintf(b, sizeof(b), "10.0.0.%d", i);
		else
			snprintf(b, sizeof(b), "2001:db8::%x", i - 16);
		addr(b, hosts[i]);
	}
	a = new_agg(2, NHOSTS, 8, 0, p, g, 2, now);
	for (int i = 0; i < 20000; i++) {
		uint64_t r = rng(&seed), r2 = rng(&seed), r3 = rng(&seed);
		struct mm_flow f;
		int di, si;

		memset(&f, 0, sizeof(f));
		/* ends: a monitored host or an outsider, either side */
		if (r % 3 != 0)
			memcpy(f.dst_addr, hosts[(r >> 8) % NHOSTS], 16);
		else
			addr((r >> 8) & 1 ? "198.51.100.9" : "2a00::9", f.dst_addr);
		if (r % 3 != 1)
			memcpy(f.src_addr, hosts[(r >> 16) % NHOSTS], 16);
		else {
			uint8_t v4[4] = { 203, 0, 113, (uint8_t)(r >> 24) };
			mm_addr_set4(f.src_addr, v4);
		}
		f.proto = protos[(r >> 32) % sizeof(protos)];
		f.tcp_flags = (uint8_t)(r2 & 0x3f);
		f.src_port = sports[(r2 >> 8) % (sizeof(sports) / sizeof(sports[0]))];
		f.dst_port = dports[(r2 >> 16) % (sizeof(dports) / sizeof(dports[0]))];
		f.sampling_rate = rates[(r2 >> 24) % 5];
		f.packets = 1 + (r2 >> 32) % 10;
		f.bytes = (r3 % 100 == 0) ? 1000000000000ull + r3 % 1000 : 40 + (r3 >> 8) % 100000;
		f.packets_scaled = mm_scale(f.packets, f.sampling_rate);
		f.bytes_scaled = mm_scale(f.bytes, f.sampling_rate);
		/* times: mostly recent, some late, some in the future */
		f.start_ms = now - (r3 >> 20) % 45000 + ((r3 >> 40) % 50 == 0 ? 30000 : 0);
		f.end_ms = f.start_ms + ((r3 >> 48) % 5 < 2 ? 0 : (r3 >> 24) % 60000);
		mm_agg_add(a, &f);
		nrec++;
		di = host_index(f.dst_addr, hosts);
		si = host_index(f.src_addr, hosts);
		if (di >= 0)
			expect(want[di], &f, 0);
		if (si >= 0)
			expect(want[si], &f, 1);
		if (i % 25 == 0) {
			now += (r >> 40) % 4000;
			mm_agg_advance(a, now, &s);
		}
	}
	mm_agg_flush(a, &s);
	ck_assert_uint_eq(c.last.records, nrec);
	ck_assert_uint_eq(c.last.hosts_dropped, 0);
	ck_assert_uint_gt(c.last.late_records, 100);
	ck_assert_uint_gt(c.last.future_records, 100);
	for (size_t i = 0; i < c.n; i++) {
		int h = host_index(c.g[i].addr, hosts);
		if (c.g[i].external) {
			ck_assert_int_lt(h, 0);
			continue;
		}
		ck_assert_int_ge(h, 0);
		ck_assert_uint_eq(c.g[i].group, h < 16 ? 1 : 2);
		for (unsigned k = 0; k < MM_C_COUNT; k++)
			got[h][k] += c.g[i].hs.ctr[k];
	}
	for (int h = 0; h < NHOSTS; h++) {
		char what[32];
		snprintf(what, sizeof(what), "host %d", h);
		ctr_eq(got[h], want[h], what);
	}
	mm_agg_free(a);
	free(c.g);
}
END_TEST

/* The prefetch pipeline changes nothing: the same records counted one at a
 * time (mm_agg_sync after each) give the same steps, byte for byte, also
 * with hosts inserted, dropped and externals evicted while records are in
 * flight. */
START_TEST(test_pipeline_same_result)
{
	struct mm_prefix p[2];
	struct col c1 = { 0 }, c2 = { 0 };
	struct mm_step_sink s1 = sink_of(&c1), s2 = sink_of(&c2);
	struct mm_agg *a1, *a2;
	uint64_t seed = 11, now = 1700000000000ull;

	pfx(&p[0], "10.0.0.0/22");
	pfx(&p[1], "2001:db8::/120");
	/* small tables: drops and evictions happen all the time */
	a1 = new_agg(1, 300, 16, 3, p, NULL, 2, now);
	a2 = new_agg(1, 300, 16, 3, p, NULL, 2, now);
	for (int i = 0; i < 30000; i++) {
		uint64_t r = rng(&seed), r2 = rng(&seed);
		struct mm_flow f;
		uint8_t v4[4];

		memset(&f, 0, sizeof(f));
		v4[0] = 10;
		v4[1] = 0;
		v4[2] = (uint8_t)(r & 3);
		v4[3] = (uint8_t)(r >> 8);
		mm_addr_set4(r & (1ull << 20) ? f.src_addr : f.dst_addr, v4);
		v4[0] = 203;
		v4[1] = 0;
		v4[2] = 113;
		v4[3] = (uint8_t)(r >> 24) & 31;
		mm_addr_set4(r & (1ull << 20) ? f.dst_addr : f.src_addr, v4);
		if ((r >> 30) % 7 == 0) /* some IPv6, some host to host */
			addr((r >> 33) & 1 ? "2001:db8::17" : "2001:db8::42", f.dst_addr);
		f.proto = (r >> 40) & 1 ? 6 : 17;
		f.tcp_flags = (uint8_t)r2;
		f.src_port = (uint16_t)((r2 >> 8) % 4 == 0 ? 53 : r2 >> 16);
		f.dst_port = (uint16_t)(r2 >> 32);
		f.sampling_rate = 1 + (uint32_t)((r2 >> 48) % 3);
		f.packets = 1 + (r2 >> 50) % 6;
		f.bytes = 60 * f.packets;
		f.packets_scaled = f.packets * f.sampling_rate;
		f.bytes_scaled = f.bytes * f.sampling_rate;
		f.start_ms = now - (r >> 44) % 25000;
		f.end_ms = f.start_ms + ((r >> 60) ? (r2 >> 20) % 20000 : 0);
		mm_agg_add(a1, &f);
		mm_agg_add(a2, &f);
		mm_agg_sync(a2);
		if (i % 500 == 499) {
			now += 3000;
			mm_agg_advance(a1, now, &s1);
			mm_agg_advance(a2, now, &s2);
		}
	}
	mm_agg_flush(a1, &s1);
	mm_agg_flush(a2, &s2);
	ck_assert_uint_gt(c1.last.hosts_dropped, 0);
	ck_assert_uint_gt(c1.last.external_evicted, 0);
	ck_assert_mem_eq(&c1.last, &c2.last, sizeof(c1.last));
	ck_assert_uint_eq(c1.nsteps, c2.nsteps);
	ck_assert_uint_eq(c1.n, c2.n);
	for (size_t i = 0; i < c1.n; i++) {
		ck_assert_uint_eq(c1.g[i].step, c2.g[i].step);
		ck_assert_mem_eq(c1.g[i].addr, c2.g[i].addr, 16);
		ck_assert_int_eq(c1.g[i].external, c2.g[i].external);
		ck_assert_msg(memcmp(&c1.g[i].hs, &c2.g[i].hs, sizeof(c1.g[i].hs)) == 0, "host %zu differs", i);
	}
	mm_agg_free(a1);
	mm_agg_free(a2);
	free(c1.g);
	free(c2.g);
}
END_TEST

/* A reload's new prefixes: a host tracked before keeps its open step
 * (and what it had), records after the change follow the new prefixes,
 * and records taken before it still count under the old ones. */
START_TEST(test_set_prefixes)
{
	struct mm_prefix p1[1], p2[2];
	static const uint16_t g1[] = { 0 }, g2[] = { 0, 1 };
	struct col c = { 0 };
	struct mm_step_sink s = sink_of(&c);
	struct mm_agg *a;
	const struct got *h;

	pfx(&p1[0], "10.0.0.0/8");
	pfx(&p2[0], "192.0.2.0/24");
	pfx(&p2[1], "2001:db8::/32");
	a = new_agg(1, 64, 0, 0, p1, g1, 1, 100000);
	add(a, mk("198.51.100.1", 1, "10.1.1.1", 2, 17, 0, 1, 64, 100000, 100000, 1));
	ck_assert_int_eq(mm_agg_set_prefixes(a, p2, g2, 2), 0);
	add(a, mk("198.51.100.1", 1, "10.1.1.1", 2, 17, 0, 1, 64, 100000, 100000, 1));   /* no longer monitored */
	add(a, mk("198.51.100.1", 1, "192.0.2.9", 2, 17, 0, 1, 64, 100000, 100000, 1));  /* now monitored */
	add(a, mk("2a00::1", 1, "2001:db8::9", 2, 17, 0, 1, 64, 100000, 100000, 1));
	mm_agg_flush(a, &s);
	h = find(&c, 10, "10.1.1.1");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->hs.ctr[MM_C_UDP_FLOWS_IN], 1); /* the record before the change, kept; not the one after */
	ck_assert_ptr_nonnull(find(&c, 10, "192.0.2.9"));
	h = find(&c, 10, "2001:db8::9");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->group, 1);
	/* A bad prefix: refused, the old ones stay. */
	p2[1].len = 129;
	ck_assert_int_eq(mm_agg_set_prefixes(a, p2, g2, 2), -1);
	{
		uint64_t before = mm_agg_stats(a)->records_unmonitored;

		add(a, mk("198.51.100.1", 1, "192.0.2.10", 2, 17, 0, 1, 64, 100000, 100000, 1));
		mm_agg_sync(a);
		ck_assert_uint_eq(mm_agg_stats(a)->records_unmonitored, before); /* 192.0.2.0/24 still monitored */
		ck_assert_uint_eq(before, 1);
	}
	mm_agg_free(a);
	free(c.g);
}
END_TEST

static Suite *aggregate_suite(void)
{
	Suite *s = suite_create("aggregate");
	TCase *tc = tcase_create("classify");

	tcase_add_test(tc, test_counters);
	tcase_add_test(tc, test_prefix_groups);
	tcase_add_test(tc, test_set_prefixes);
	tcase_add_test(tc, test_prefix_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("time");
	tcase_add_test(tc, test_spreading);
	tcase_add_test(tc, test_spreading_exact_big);
	tcase_add_test(tc, test_late_future);
	tcase_add_test(tc, test_big_gap);
	tcase_add_test(tc, test_step_close_and_flush);
	suite_add_tcase(s, tc);

	tc = tcase_create("external");
	tcase_add_test(tc, test_external_scanner);
	tcase_add_test(tc, test_external_eviction);
	tcase_add_test(tc, test_external_churn);
	suite_add_tcase(s, tc);

	tc = tcase_create("bounds");
	tcase_add_test(tc, test_host_table_full);
	tcase_add_test(tc, test_config_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("property");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_pipeline_same_result);
	tcase_add_loop_test(tc, test_no_record_lost, 0, 4);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(aggregate_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
