/*
 * test_window.c - one host's step aggregate (common/window.c): the field
 * names (unique, stable, readable), the amplification slots against the
 * mm_amp_vectors table, the HyperLogLog (error within 3 sigma from 10 to
 * 100 k distinct keys, exact-ish small counts, merge = union), the
 * space-saving top-K (heavy hitters kept, over-estimates bounded, merge),
 * and mm_hoststep_merge (sums, saturation, sketch union).
 */
#include <check.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/classes.h"
#include "mamori/flow.h"
#include "mamori/window.h"

/* A distinct 16-byte key per (set, i): IPv6 addresses 2001:db8:set::i. */
static void key_of(uint32_t set, uint32_t i, uint8_t k[16])
{
	memset(k, 0, 16);
	k[0] = 0x20;
	k[1] = 0x01;
	k[2] = 0x0d;
	k[3] = 0xb8;
	k[4] = (uint8_t)(set >> 8);
	k[5] = (uint8_t)set;
	k[12] = (uint8_t)(i >> 24);
	k[13] = (uint8_t)(i >> 16);
	k[14] = (uint8_t)(i >> 8);
	k[15] = (uint8_t)i;
}

static void hll_fill(struct mm_hll *h, uint32_t set, uint32_t from, uint32_t to)
{
	uint8_t k[16];

	for (uint32_t i = from; i < to; i++) {
		key_of(set, i, k);
		mm_hll_add(h, k, 16);
	}
}

/* ---- names ------------------------------------------------------------ */

static int valid_name(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 32)
		return 0;
	for (; *s; s++)
		if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '_'))
			return 0;
	return 1;
}

START_TEST(test_names_unique)
{
	const char *all[MM_C_COUNT + MM_S_COUNT];
	unsigned n = 0;

	for (unsigned c = 0; c < MM_C_COUNT; c++) {
		const char *s = mm_ctr_name((enum mm_ctr)c);
		ck_assert_msg(valid_name(s), "counter %u: bad name \"%s\"", c, s ? s : "(null)");
		all[n++] = s;
	}
	for (unsigned k = 0; k < MM_S_COUNT; k++) {
		const char *s = mm_sketch_name((enum mm_sketch)k);
		ck_assert_msg(valid_name(s), "sketch %u: bad name \"%s\"", k, s ? s : "(null)");
		all[n++] = s;
	}
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = i + 1; j < n; j++)
			ck_assert_msg(strcmp(all[i], all[j]) != 0, "name \"%s\" used twice (%u, %u)", all[i], i, j);
	ck_assert_ptr_null(mm_ctr_name(MM_C_COUNT));
	ck_assert_ptr_null(mm_ctr_name((enum mm_ctr)-1));
	ck_assert_ptr_null(mm_sketch_name(MM_S_COUNT));
	ck_assert_ptr_null(mm_amp_slot_name(MM_AMP_SLOTS));
}
END_TEST

/* The names are the Redis fields: pin some, and the direction suffixes. */
START_TEST(test_names_stable)
{
	static const struct {
		enum mm_ctr c;
		const char *name;
	} pin[] = {
		{ MM_C_BYTES_IN, "bytes_in" },
		{ MM_C_PKTS_OUT, "pkts_out" },
		{ MM_C_FLOWS_IN, "flows_in" },
		{ MM_C_TCP_PKTS_OUT, "tcp_pkts_out" },
		{ MM_C_UDP_BYTES_IN, "udp_bytes_in" },
		{ MM_C_ICMP_FLOWS_OUT, "icmp_flows_out" },
		{ MM_C_OTHER_BYTES_OUT, "other_bytes_out" },
		{ MM_C_SYN_FLOWS_IN, "syn_flows_in" },
		{ MM_C_SYN_PKTS_OUT, "syn_pkts_out" },
		{ MM_C_SMALL_FLOWS_IN, "small_flows_in" },
		{ MM_C_AUTH_FLOWS_OUT, "auth_flows_out" },
		{ MM_C_AMP_BYTES_IN, "amp_dns_bytes_in" },
		{ MM_C_AMP_PKTS_IN + 3, "amp_memcached_pkts_in" },
		{ MM_C_AMP_FLOWS_IN + 7, "amp_other_flows_in" },
	};

	for (size_t i = 0; i < sizeof(pin) / sizeof(pin[0]); i++)
		ck_assert_str_eq(mm_ctr_name(pin[i].c), pin[i].name);
	ck_assert_str_eq(mm_sketch_name(MM_S_PEERS_IN), "peers_in");
	ck_assert_str_eq(mm_sketch_name(MM_S_PEERS_OUT), "peers_out");
	ck_assert_str_eq(mm_sketch_name(MM_S_DPORTS_OUT), "dports_out");
	/* per-direction pairs: even = in, odd = out */
	for (unsigned c = 0; c < MM_C_AMP_BYTES_IN; c++) {
		const char *s = mm_ctr_name((enum mm_ctr)c);
		const char *suf = c % 2 == 0 ? "_in" : "_out";
		ck_assert_msg(strlen(s) > strlen(suf) && strcmp(s + strlen(s) - strlen(suf), suf) == 0,
			      "counter %u \"%s\" should end in %s", c, s, suf);
	}
	/* amplification counters: amp_<slot>_{bytes,pkts,flows}_in */
	for (unsigned sl = 0; sl < MM_AMP_SLOTS; sl++) {
		char want[64];
		snprintf(want, sizeof(want), "amp_%s_bytes_in", mm_amp_slot_name(sl));
		ck_assert_str_eq(mm_ctr_name((enum mm_ctr)(MM_C_AMP_BYTES_IN + sl)), want);
		snprintf(want, sizeof(want), "amp_%s_pkts_in", mm_amp_slot_name(sl));
		ck_assert_str_eq(mm_ctr_name((enum mm_ctr)(MM_C_AMP_PKTS_IN + sl)), want);
		snprintf(want, sizeof(want), "amp_%s_flows_in", mm_amp_slot_name(sl));
		ck_assert_str_eq(mm_ctr_name((enum mm_ctr)(MM_C_AMP_FLOWS_IN + sl)), want);
	}
}
END_TEST

/* ---- amplification slots ------------------------------------------------ */

START_TEST(test_amp_slots)
{
	static const uint16_t named[7] = { 53, 123, 1900, 11211, 389, 19, 161 };
	unsigned other = 0;

	for (unsigned i = 0; i < 7; i++) {
		const struct mm_amp_vector *v = mm_amp_vector_by_port(named[i]);
		ck_assert_int_eq(mm_amp_slot(named[i]), (int)i);
		/* the slot's name is the vector's name in the one table */
		ck_assert_ptr_nonnull(v);
		ck_assert_str_eq(v->name, mm_amp_slot_name(i));
	}
	ck_assert_str_eq(mm_amp_slot_name(7), "other");
	/* every vector of the table has a slot: its own, or "other" */
	for (const struct mm_amp_vector *v = mm_amp_vectors; v->name != NULL; v++) {
		int s = mm_amp_slot(v->port);
		ck_assert_msg(s >= 0, "vector %s (port %u) has no slot", v->name, v->port);
		if (s < 7)
			ck_assert_str_eq(mm_amp_slot_name((unsigned)s), v->name);
		else
			other++;
	}
	ck_assert_uint_gt(other, 0);
	ck_assert_int_eq(mm_amp_slot(17), 7);   /* qotd */
	ck_assert_int_eq(mm_amp_slot(3702), 7); /* ws-discovery */
	ck_assert_int_eq(mm_amp_slot(0), -1);
	ck_assert_int_eq(mm_amp_slot(80), -1);
	ck_assert_int_eq(mm_amp_slot(443), -1);
	ck_assert_int_eq(mm_amp_slot(65535), -1);
	/* no port outside the table maps anywhere */
	for (unsigned p = 0; p < 65536; p++)
		ck_assert_int_eq(mm_amp_slot((uint16_t)p) >= 0, mm_amp_vector_by_port((uint16_t)p) != NULL);
}
END_TEST

/* ---- HyperLogLog --------------------------------------------------------- */

/* The hashes: SipHash-1-3 (the host index) against CPython's (its
 * str/bytes hash since 3.11; PYTHONHASHSEED=0 makes the key zero), XXH64
 * (the sketches: part of the stored format) against libxxhash 0.8.1. */
START_TEST(test_hash_stable)
{
	static const struct {
		const char *s;
		uint64_t sip, xx;
	} ref[] = {
		{ "abc", 0xc03bc3a0042630f2ull, 0x44bc2cf5ad770999ull },
		{ "0123456789abcdef", 0x1d42b30f7e060c24ull, 0x5c5b90c34e376d0bull },
		{ "mamori-hll-v1 and some more bytes", 0x9fd1238c610eb1c6ull, 0 },
		{ "mamori-hll-v1 and some more bytes, longer than 32", 0, 0x8bd4a70384bbfc3aull },
		{ "", 0, 0xef46db3751d8e999ull },
	};
	const uint64_t key0[2] = { 0, 0 };
	uint8_t a[16];
	uint8_t v4[4] = { 192, 0, 2, 1 };

	for (size_t i = 0; i < sizeof(ref) / sizeof(ref[0]); i++) {
		if (ref[i].sip != 0)
			ck_assert_uint_eq(mm_siphash13(key0, ref[i].s, strlen(ref[i].s)), ref[i].sip);
		if (ref[i].xx != 0)
			ck_assert_uint_eq(mm_xxh64(ref[i].s, strlen(ref[i].s), 0), ref[i].xx);
	}
	ck_assert_uint_eq(mm_hll_hash("\x00\x35", 2), 0x34cf42d494070818ull); /* port 53 */
	mm_addr_set4(a, v4);
	ck_assert_uint_eq(mm_hll_hash(a, 16), 0xde3cbbe5a2240bf0ull);
}
END_TEST

START_TEST(test_hll_empty_and_small)
{
	struct mm_hll h;
	uint8_t k[16];

	memset(&h, 0, sizeof(h));
	ck_assert(mm_hll_estimate(&h) == 0.0);
	/* duplicates do not count */
	key_of(1, 1, k);
	for (int i = 0; i < 1000; i++)
		mm_hll_add(&h, k, 16);
	ck_assert_int_eq((int)lround(mm_hll_estimate(&h)), 1);
	/* small counts: linear counting, within one of the truth */
	for (uint32_t n = 1; n <= 8; n++) {
		memset(&h, 0, sizeof(h));
		hll_fill(&h, 2, 0, n);
		double e = mm_hll_estimate(&h);
		ck_assert_msg(fabs(e - n) <= 1.0, "n = %u: estimate %.2f", n, e);
	}
}
END_TEST

/*
 * Standard error sigma = 1.04 / sqrt(64) = 13 %.  For each size, T
 * independent sketches (disjoint key sets): the mean relative error within
 * 3 standard errors of the mean (3 sigma / sqrt(T): no bias), the RMS error
 * at most 1.1 sigma (the stated error holds), and every single sketch
 * within 4 sigma (HLL's error is skewed to the right; a single-sketch
 * 3 sigma bound fails about once in 300 by design).
 */
START_TEST(test_hll_error)
{
	static const uint32_t sizes[] = { 10, 100, 1000, 100000 };
	const double sigma = 1.04 / sqrt(MM_HLL_REGS);

	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint32_t n = sizes[s], trials = n >= 100000 ? 16 : 128;
		double sq = 0.0, sum = 0.0, mean, rms;

		for (uint32_t t = 0; t < trials; t++) {
			struct mm_hll h;
			double e, rel;

			memset(&h, 0, sizeof(h));
			hll_fill(&h, 100 + t, 0, n);
			e = mm_hll_estimate(&h);
			rel = (e - n) / n;
			ck_assert_msg(fabs(rel) <= 4 * sigma, "n = %u trial %u: estimate %.1f (%+.1f %%)", n, t, e,
				      100 * rel);
			sq += rel * rel;
			sum += rel;
		}
		mean = sum / trials;
		rms = sqrt(sq / trials);
		ck_assert_msg(fabs(mean) <= 3 * sigma / sqrt(trials), "n = %u: mean error %+.2f %% over %u sketches", n,
			      100 * mean, trials);
		ck_assert_msg(rms <= 1.1 * sigma, "n = %u: rms error %.1f %%", n, 100 * rms);
	}
}
END_TEST

START_TEST(test_hll_merge_is_union)
{
	struct mm_hll a, b, u, ab, ba;

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	memset(&u, 0, sizeof(u));
	hll_fill(&a, 7, 0, 1000);
	hll_fill(&b, 7, 500, 1500);
	hll_fill(&u, 7, 0, 1500);
	ab = a;
	mm_hll_merge(&ab, &b);
	ba = b;
	mm_hll_merge(&ba, &a);
	/* register for register the sketch of the union */
	ck_assert_mem_eq(ab.reg, u.reg, MM_HLL_REGS);
	ck_assert_mem_eq(ba.reg, u.reg, MM_HLL_REGS);
	/* idempotent */
	mm_hll_merge(&ab, &a);
	ck_assert_mem_eq(ab.reg, u.reg, MM_HLL_REGS);
	/* registers never exceed 64 - 6 + 1 */
	for (unsigned i = 0; i < MM_HLL_REGS; i++)
		ck_assert_uint_le(u.reg[i], 64 - MM_HLL_BITS + 1);
	/* mm_hll_add == mm_hll_add_hash(mm_hll_hash) */
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	for (uint32_t i = 0; i < 300; i++) {
		uint8_t k[16];
		key_of(9, i, k);
		mm_hll_add(&a, k, 16);
		mm_hll_add_hash(&b, mm_hll_hash(k, 16));
	}
	ck_assert_mem_eq(a.reg, b.reg, MM_HLL_REGS);
}
END_TEST

/* ---- top-K ------------------------------------------------------------------ */

static void topk_sorted(const struct mm_topk_port t[MM_TOPK])
{
	for (unsigned i = 1; i < MM_TOPK; i++)
		ck_assert_msg(t[i - 1].count >= t[i].count, "entry %u (%llu) < entry %u (%llu)", i - 1,
			      (unsigned long long)t[i - 1].count, i, (unsigned long long)t[i].count);
}

START_TEST(test_topk_heavy_hitters)
{
	struct mm_topk_port t[MM_TOPK];
	struct mm_topk_addr ta[MM_TOPK];
	/* three heavy ports among 5000 light ones; N = 38500, N / K = 9625:
	 * space-saving guarantees every key above N / K is kept */
	static const uint16_t heavy[3] = { 22, 53, 443 };
	static const uint64_t hcount[3] = { 12000, 11000, 10500 };
	uint64_t done[3] = { 0, 0, 0 }, total = 0;
	uint32_t light = 0;

	memset(t, 0, sizeof(t));
	memset(ta, 0, sizeof(ta));
	while (light < 5000) {
		for (int h = 0; h < 3; h++)
			if (done[h] < hcount[h]) {
				uint64_t n = hcount[h] - done[h] < 7 ? hcount[h] - done[h] : 7;
				mm_topk_port_add(t, heavy[h], n);
				done[h] += n;
				total += n;
			}
		mm_topk_port_add(t, (uint16_t)(10000 + light), 1);
		total++;
		light++;
	}
	for (int h = 0; h < 3; h++) {
		mm_topk_port_add(t, heavy[h], hcount[h] - done[h]);
		total += hcount[h] - done[h];
	}
	topk_sorted(t);
	for (int h = 0; h < 3; h++) {
		int found = 0;
		for (unsigned i = 0; i < MM_TOPK; i++)
			if (t[i].port == heavy[h] && t[i].count > 0) {
				found = 1;
				/* over-estimate by at most the smallest count */
				ck_assert_uint_ge(t[i].count, hcount[h]);
				ck_assert_uint_le(t[i].count, hcount[h] + t[MM_TOPK - 1].count);
			}
		ck_assert_msg(found, "heavy port %u lost", heavy[h]);
	}
	/* space-saving: the counts add up to the stream */
	uint64_t sum = 0;
	for (unsigned i = 0; i < MM_TOPK; i++)
		sum += t[i].count;
	ck_assert_uint_eq(sum, total);
	ck_assert_uint_eq(t[0].port, 22);

	/* addresses the same way, and n = 0 is ignored */
	for (uint32_t i = 0; i < 1000; i++) {
		uint8_t k[16];
		key_of(1, i % 50 == 0 ? 0 : i, k);
		mm_topk_addr_add(ta, k, i % 50 == 0 ? 100 : 1);
		mm_topk_addr_add(ta, k, 0);
	}
	uint8_t k0[16];
	key_of(1, 0, k0);
	ck_assert_mem_eq(ta[0].addr, k0, 16);
	ck_assert_uint_ge(ta[0].count, 2000);
}
END_TEST

START_TEST(test_topk_small_and_merge)
{
	struct mm_topk_port a[MM_TOPK], b[MM_TOPK];
	struct mm_topk_addr x[MM_TOPK], y[MM_TOPK];
	uint8_t k1[16], k2[16], k3[16];

	memset(a, 0, sizeof(a));
	memset(b, 0, sizeof(b));
	/* fewer keys than K: exact */
	mm_topk_port_add(a, 80, 5);
	mm_topk_port_add(a, 443, 9);
	mm_topk_port_add(a, 80, 5);
	ck_assert_uint_eq(a[0].port, 80);
	ck_assert_uint_eq(a[0].count, 10);
	ck_assert_uint_eq(a[1].port, 443);
	ck_assert_uint_eq(a[1].count, 9);
	ck_assert_uint_eq(a[2].count, 0);
	/* port 0 is a key like any other */
	mm_topk_port_add(b, 0, 3);
	mm_topk_port_add(b, 443, 4);
	mm_topk_port_add(b, 22, 1);
	mm_topk_port_add(b, 25, 1);
	mm_topk_port_add(b, 26, 2); /* replaces the smallest (1) and inherits it */
	ck_assert_uint_eq(b[0].port, 443);
	ck_assert_uint_eq(b[1].port, 0);
	ck_assert_uint_eq(b[2].port, 26);
	ck_assert_uint_eq(b[2].count, 3);
	/* merge: same keys add up, the K largest stay, sorted */
	mm_topk_port_merge(a, b);
	ck_assert_uint_eq(a[0].port, 443);
	ck_assert_uint_eq(a[0].count, 13);
	ck_assert_uint_eq(a[1].port, 80);
	ck_assert_uint_eq(a[1].count, 10);
	ck_assert(a[2].count == 3 && a[3].count == 3);
	topk_sorted(a);
	/* merging into an empty list copies */
	memset(b, 0, sizeof(b));
	mm_topk_port_merge(b, a);
	ck_assert_mem_eq(a, b, sizeof(a));
	/* saturation */
	memset(a, 0, sizeof(a));
	mm_topk_port_add(a, 1, UINT64_MAX - 1);
	mm_topk_port_add(a, 1, 5);
	ck_assert_uint_eq(a[0].count, UINT64_MAX);

	memset(x, 0, sizeof(x));
	memset(y, 0, sizeof(y));
	key_of(3, 1, k1);
	key_of(3, 2, k2);
	key_of(3, 3, k3);
	mm_topk_addr_add(x, k1, 10);
	mm_topk_addr_add(x, k2, 1);
	mm_topk_addr_add(y, k2, 20);
	mm_topk_addr_add(y, k3, 5);
	mm_topk_addr_merge(x, y);
	ck_assert_mem_eq(x[0].addr, k2, 16);
	ck_assert_uint_eq(x[0].count, 21);
	ck_assert_mem_eq(x[1].addr, k1, 16);
	ck_assert_mem_eq(x[2].addr, k3, 16);
	ck_assert_uint_eq(x[3].count, 0);
}
END_TEST

/* ---- whole steps ------------------------------------------------------------- */

START_TEST(test_hoststep_merge)
{
	struct mm_hoststep a, b, c;
	uint8_t k[16];

	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	for (unsigned i = 0; i < MM_C_COUNT; i++) {
		a.ctr[i] = i;
		b.ctr[i] = 1000 * i;
	}
	a.ctr[MM_C_BYTES_IN] = UINT64_MAX - 10;
	b.ctr[MM_C_BYTES_IN] = 11;
	hll_fill(&a.hll[MM_S_PEERS_IN], 5, 0, 100);
	hll_fill(&b.hll[MM_S_PEERS_IN], 5, 50, 200);
	key_of(4, 1, k);
	mm_topk_addr_add(a.peers_in, k, 7);
	mm_topk_addr_add(b.peers_in, k, 8);
	mm_topk_port_add(a.ports[MM_T_DPORTS_IN], 22, 3);
	mm_topk_port_add(b.ports[MM_T_DPORTS_IN], 23, 4);
	c = a;
	mm_hoststep_merge(&c, &b);
	ck_assert_uint_eq(c.ctr[MM_C_BYTES_IN], UINT64_MAX); /* saturates, does not wrap */
	for (unsigned i = 1; i < MM_C_COUNT; i++)
		ck_assert_uint_eq(c.ctr[i], 1001 * i);
	struct mm_hll u;
	memset(&u, 0, sizeof(u));
	hll_fill(&u, 5, 0, 200);
	ck_assert_mem_eq(c.hll[MM_S_PEERS_IN].reg, u.reg, MM_HLL_REGS);
	ck_assert_uint_eq(c.peers_in[0].count, 15);
	ck_assert_uint_eq(c.ports[MM_T_DPORTS_IN][0].port, 23);
	ck_assert_uint_eq(c.ports[MM_T_DPORTS_IN][1].port, 22);
	/* merging an empty step changes nothing */
	memset(&b, 0, sizeof(b));
	a = c;
	mm_hoststep_merge(&c, &b);
	ck_assert_mem_eq(&a, &c, sizeof(a));
}
END_TEST

static Suite *window_suite(void)
{
	Suite *s = suite_create("window");
	TCase *tc = tcase_create("names");

	tcase_add_test(tc, test_names_unique);
	tcase_add_test(tc, test_names_stable);
	tcase_add_test(tc, test_amp_slots);
	suite_add_tcase(s, tc);

	tc = tcase_create("hll");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_hash_stable);
	tcase_add_test(tc, test_hll_empty_and_small);
	tcase_add_test(tc, test_hll_error);
	tcase_add_test(tc, test_hll_merge_is_union);
	suite_add_tcase(s, tc);

	tc = tcase_create("topk");
	tcase_add_test(tc, test_topk_heavy_hitters);
	tcase_add_test(tc, test_topk_small_and_merge);
	tcase_add_test(tc, test_hoststep_merge);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(window_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
