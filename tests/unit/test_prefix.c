/*
 * test_prefix.c - prefixes and the longest-prefix-match trie
 * (common/prefix.c), plus the address helpers of common/flow.c.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/flow.h"
#include "mamori/prefix.h"

static struct mm_prefix P(const char *s)
{
	struct mm_prefix p;
	const char *why = NULL;

	ck_assert_msg(mm_prefix_parse(s, &p, &why) == 0, "'%s': %s", s, why);
	ck_assert_ptr_null(why);
	return p;
}

static const uint8_t *A(const char *s, uint8_t buf[16])
{
	ck_assert_msg(mm_addr_parse(s, buf) > 0, "bad address '%s'", s);
	return buf;
}

static const char *pstr(const struct mm_prefix *p)
{
	static char buf[64]; /* tests only; each test runs alone */

	return mm_prefix_str(p, buf, sizeof(buf));
}

/* ---- parsing ------------------------------------------------------- */

START_TEST(test_addr_parse)
{
	static const uint8_t v4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 };
	uint8_t a[16];

	ck_assert_int_eq(mm_addr_parse("192.0.2.1", a), 4);
	ck_assert_mem_eq(a, v4, 16);
	ck_assert_int_eq(mm_addr_parse("::ffff:192.0.2.1", a), 6);
	ck_assert_mem_eq(a, v4, 16);
	ck_assert_int_eq(mm_addr_parse("2001:db8::1", a), 6);
	ck_assert_uint_eq(a[0], 0x20);
	ck_assert_uint_eq(a[1], 0x01);
	ck_assert_uint_eq(a[15], 0x01);
	/* inet_aton's shorthand forms are not addresses here. */
	ck_assert_int_eq(mm_addr_parse("10.1", a), -1);
	ck_assert_int_eq(mm_addr_parse("10.0.0.256", a), -1);
	ck_assert_int_eq(mm_addr_parse("", a), -1);
	ck_assert_int_eq(mm_addr_parse(" 10.0.0.1", a), -1);
	ck_assert_int_eq(mm_addr_parse("fe80::1%eth0", a), -1);
	ck_assert_int_eq(mm_addr_parse(NULL, a), -1);
}
END_TEST

START_TEST(test_parse_ok)
{
	struct mm_prefix p;

	p = P("10.0.0.0/8");
	ck_assert_uint_eq(p.af, 4);
	ck_assert_uint_eq(p.len, 104);
	ck_assert_str_eq(pstr(&p), "10.0.0.0/8");

	p = P("192.0.2.1");
	ck_assert_uint_eq(p.len, 128);
	ck_assert_str_eq(pstr(&p), "192.0.2.1/32");

	p = P("0.0.0.0/0");
	ck_assert_uint_eq(p.af, 4);
	ck_assert_uint_eq(p.len, 96);
	ck_assert_str_eq(pstr(&p), "0.0.0.0/0");

	p = P("192.0.2.255/32");
	ck_assert_uint_eq(p.len, 128);

	p = P("2001:db8::/32");
	ck_assert_uint_eq(p.af, 6);
	ck_assert_uint_eq(p.len, 32);
	ck_assert_str_eq(pstr(&p), "2001:db8::/32");

	p = P("::/0");
	ck_assert_uint_eq(p.len, 0);
	ck_assert_str_eq(pstr(&p), "::/0");

	p = P("2001:db8::1");
	ck_assert_uint_eq(p.len, 128);
	ck_assert_str_eq(pstr(&p), "2001:db8::1/128");

	p = P("2001:db8:0:2::/63");
	ck_assert_str_eq(pstr(&p), "2001:db8:0:2::/63");

	/* IPv4-mapped written as IPv6 stays IPv6 in print, same bits. */
	p = P("::ffff:10.0.0.0/104");
	ck_assert_uint_eq(p.af, 6);
	ck_assert_uint_eq(p.len, 104);
	ck_assert_str_eq(pstr(&p), "::ffff:10.0.0.0/104");

	/* Leading zeros in the length are fine up to three digits. */
	p = P("10.0.0.0/08");
	ck_assert_uint_eq(p.len, 104);
}
END_TEST

static const struct {
	const char *s;
	const char *why;
} bad[] = {
	{ "", "empty prefix" },
	{ "/8", "not an IPv4 or IPv6 address" },
	{ "10.0.0.0/33", "prefix length out of range (IPv4: 0..32)" },
	{ "10.0.0.0/999", "prefix length out of range (IPv4: 0..32)" },
	{ "2001:db8::/129", "prefix length out of range (IPv6: 0..128)" },
	{ "10.0.0.0/", "prefix length is not a number" },
	{ "10.0.0.0/x", "prefix length is not a number" },
	{ "10.0.0.0/-1", "prefix length is not a number" },
	{ "10.0.0.0/+8", "prefix length is not a number" },
	{ "10.0.0.0/8 ", "prefix length is not a number" },
	{ "10.0.0.0/8/8", "prefix length is not a number" },
	{ "10.0.0.0/0008", "prefix length is not a number" },
	{ "10.0.0/24", "not an IPv4 or IPv6 address" },
	{ "router", "not an IPv4 or IPv6 address" },
	{ " 10.0.0.0/8", "not an IPv4 or IPv6 address" },
	{ "0000000000000000000000000000000000000000000000000000000000000000/8", "address too long" },
	{ "10.0.0.1/8", "host bits set" },
	{ "10.0.0.0/0", "host bits set" },
	{ "192.0.2.1/31", "host bits set" },
	{ "2001:db8::1/127", "host bits set" },
	{ "::1/0", "host bits set" },
};

START_TEST(test_parse_errors)
{
	struct mm_prefix p;
	const char *why = NULL;

	ck_assert_int_eq(mm_prefix_parse(bad[_i].s, &p, &why), -1);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strcmp(why, bad[_i].why) == 0, "'%s': got '%s', want '%s'", bad[_i].s, why, bad[_i].why);
}
END_TEST

/* After "host bits set" the masked prefix is left for a suggestion. */
START_TEST(test_parse_host_bits_suggestion)
{
	struct mm_prefix p;
	const char *why;

	ck_assert_int_eq(mm_prefix_parse("10.1.2.3/12", &p, &why), -1);
	ck_assert_str_eq(pstr(&p), "10.0.0.0/12");
	ck_assert_int_eq(mm_prefix_parse("2001:db8:ffff::1/33", &p, &why), -1);
	ck_assert_str_eq(pstr(&p), "2001:db8:8000::/33");
	ck_assert_int_eq(mm_prefix_parse("255.255.255.255/1", &p, &why), -1);
	ck_assert_str_eq(pstr(&p), "128.0.0.0/1");
	/* why may be NULL. */
	ck_assert_int_eq(mm_prefix_parse("10.0.0.1/8", &p, NULL), -1);
	ck_assert_int_eq(mm_prefix_parse(NULL, &p, NULL), -1);
}
END_TEST

START_TEST(test_str_small_buffer)
{
	struct mm_prefix p = P("2001:db8:1234:5678::/64");
	char buf[8];

	/* Truncated, still NUL-ended. */
	ck_assert_str_eq(mm_prefix_str(&p, buf, sizeof(buf)), "2001:db");
	ck_assert_str_eq(mm_prefix_str(&p, buf, 0), "");
}
END_TEST

/* ---- contains / overlap -------------------------------------------- */

START_TEST(test_contains)
{
	struct mm_prefix p = P("192.0.2.0/25"), all4 = P("0.0.0.0/0"), all = P("::/0"),
			 v6 = P("2001:db8::/33"), host = P("192.0.2.7");
	uint8_t a[16];

	ck_assert(mm_prefix_contains(&p, A("192.0.2.0", a)));
	ck_assert(mm_prefix_contains(&p, A("192.0.2.127", a)));
	ck_assert(!mm_prefix_contains(&p, A("192.0.2.128", a)));
	ck_assert(!mm_prefix_contains(&p, A("192.0.3.1", a)));
	ck_assert(mm_prefix_contains(&host, A("192.0.2.7", a)));
	ck_assert(!mm_prefix_contains(&host, A("192.0.2.6", a)));
	/* 0.0.0.0/0 is every IPv4 address and no IPv6 one. */
	ck_assert(mm_prefix_contains(&all4, A("255.255.255.255", a)));
	ck_assert(!mm_prefix_contains(&all4, A("2001:db8::1", a)));
	ck_assert(mm_prefix_contains(&all, A("2001:db8::1", a)));
	ck_assert(mm_prefix_contains(&all, A("10.0.0.1", a)));
	ck_assert(mm_prefix_contains(&v6, A("2001:db8:7fff::1", a)));
	ck_assert(!mm_prefix_contains(&v6, A("2001:db8:8000::1", a)));
}
END_TEST

START_TEST(test_overlap)
{
	struct mm_prefix a = P("10.0.0.0/8"), b = P("10.1.0.0/16"), c = P("11.0.0.0/8"),
			 d = P("10.1.0.0/16"), all = P("::/0"), v6 = P("2001:db8::/32"),
			 mapped = P("::ffff:10.1.2.3");

	ck_assert(mm_prefix_overlap(&a, &b));
	ck_assert(mm_prefix_overlap(&b, &a));
	ck_assert(mm_prefix_overlap(&b, &d));
	ck_assert(!mm_prefix_overlap(&a, &c));
	ck_assert(!mm_prefix_overlap(&c, &b));
	ck_assert(mm_prefix_overlap(&all, &a));
	ck_assert(mm_prefix_overlap(&v6, &all));
	ck_assert(!mm_prefix_overlap(&v6, &a));
	ck_assert(mm_prefix_overlap(&mapped, &b));
}
END_TEST

/* ---- LPM ----------------------------------------------------------- */

START_TEST(test_lpm_basic)
{
	struct mm_lpm *t = mm_lpm_new();
	struct mm_prefix p8 = P("10.0.0.0/8"), p16 = P("10.1.0.0/16"), p24 = P("10.1.2.0/24"),
			 h = P("10.1.2.3"), v6 = P("2001:db8::/32"), v6h = P("2001:db8::1");
	uint8_t a[16];

	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(mm_lpm_lookup(t, A("10.1.2.3", a)), -1); /* empty */
	ck_assert_int_eq(mm_lpm_insert(t, &p16, 16), 0);
	ck_assert_int_eq(mm_lpm_insert(t, &p8, 8), 0);
	ck_assert_int_eq(mm_lpm_insert(t, &p24, 24), 0);
	ck_assert_int_eq(mm_lpm_insert(t, &h, 32), 0);
	ck_assert_int_eq(mm_lpm_insert(t, &v6, 6), 0);
	ck_assert_int_eq(mm_lpm_insert(t, &v6h, 128), 0);

	/* Longest wins, whatever the insertion order. */
	ck_assert_int_eq(mm_lpm_lookup(t, A("10.1.2.3", a)), 32);
	ck_assert_int_eq(mm_lpm_lookup(t, A("10.1.2.4", a)), 24);
	ck_assert_int_eq(mm_lpm_lookup(t, A("10.1.3.4", a)), 16);
	ck_assert_int_eq(mm_lpm_lookup(t, A("10.2.0.0", a)), 8);
	ck_assert_int_eq(mm_lpm_lookup(t, A("10.255.255.255", a)), 8);
	ck_assert_int_eq(mm_lpm_lookup(t, A("11.0.0.0", a)), -1);
	ck_assert_int_eq(mm_lpm_lookup(t, A("9.255.255.255", a)), -1);
	ck_assert_int_eq(mm_lpm_lookup(t, A("2001:db8::1", a)), 128);
	ck_assert_int_eq(mm_lpm_lookup(t, A("2001:db8::2", a)), 6);
	ck_assert_int_eq(mm_lpm_lookup(t, A("2001:db9::1", a)), -1);
	/* An IPv6 address with the same low 32 bits is not 10.1.2.3. */
	ck_assert_int_eq(mm_lpm_lookup(t, A("::a01:203", a)), -1);

	/* Re-inserting replaces the value. */
	ck_assert_int_eq(mm_lpm_insert(t, &p24, 99), 0);
	ck_assert_int_eq(mm_lpm_lookup(t, A("10.1.2.4", a)), 99);
	mm_lpm_free(t);
}
END_TEST

START_TEST(test_lpm_defaults)
{
	struct mm_lpm *t = mm_lpm_new();
	struct mm_prefix all = P("::/0"), all4 = P("0.0.0.0/0"), p = P("192.0.2.0/24");
	uint8_t a[16];

	ck_assert_int_eq(mm_lpm_insert(t, &all4, 4), 0);
	ck_assert_int_eq(mm_lpm_lookup(t, A("203.0.113.9", a)), 4);
	ck_assert_int_eq(mm_lpm_lookup(t, A("2001:db8::1", a)), -1);
	ck_assert_int_eq(mm_lpm_insert(t, &all, 0), 0);
	ck_assert_int_eq(mm_lpm_lookup(t, A("2001:db8::1", a)), 0);
	ck_assert_int_eq(mm_lpm_lookup(t, A("::", a)), 0);
	ck_assert_int_eq(mm_lpm_lookup(t, A("203.0.113.9", a)), 4);
	ck_assert_int_eq(mm_lpm_insert(t, &p, 24), 0);
	ck_assert_int_eq(mm_lpm_lookup(t, A("192.0.2.200", a)), 24);
	ck_assert_int_eq(mm_lpm_lookup(t, A("192.0.3.200", a)), 4);
	mm_lpm_free(t);
}
END_TEST

START_TEST(test_lpm_edges)
{
	struct mm_lpm *t = mm_lpm_new();
	struct mm_prefix ones = P("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), zero = P("::");
	uint8_t a[16];

	ck_assert_int_eq(mm_lpm_insert(t, &ones, 1), 0);
	ck_assert_int_eq(mm_lpm_insert(t, &zero, 2), 0);
	ck_assert_int_eq(mm_lpm_lookup(t, A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", a)), 1);
	ck_assert_int_eq(mm_lpm_lookup(t, A("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", a)), -1);
	ck_assert_int_eq(mm_lpm_lookup(t, A("::", a)), 2);
	ck_assert_int_eq(mm_lpm_lookup(t, A("::1", a)), -1);
	/* Negative values are refused (-1 means "no match"). */
	errno = 0;
	ck_assert_int_eq(mm_lpm_insert(t, &zero, -1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(mm_lpm_lookup(t, A("::", a)), 2);
	ck_assert_int_eq(mm_lpm_lookup(NULL, a), -1);
	mm_lpm_free(t);
	mm_lpm_free(NULL);
}
END_TEST

/* Random prefixes against a linear scan: the trie must agree on every
 * lookup.  Deterministic (xorshift) so a failure reproduces. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void rand_addr(uint8_t a[16], const uint8_t *near)
{
	for (int i = 0; i < 16; i++)
		a[i] = (uint8_t)rng();
	if (rng() % 2) { /* half IPv4 */
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		a[12] = (uint8_t)(10 + rng() % 2);
	} else {
		a[0] = 0x20;
		a[1] = (uint8_t)(rng() % 2);
	}
	if (near != NULL && rng() % 2) /* share a random-length head with a prefix */
		memcpy(a, near, 4 + rng() % 12);
}

START_TEST(test_lpm_random)
{
	enum { NP = 400, NL = 20000 };
	struct mm_prefix *ps = calloc(NP, sizeof(*ps));
	struct mm_lpm *t = mm_lpm_new();

	for (int i = 0; i < NP; i++) {
		uint8_t a[16];
		unsigned len;

		rand_addr(a, NULL);
		len = mm_addr_is4(a) ? 96 + (unsigned)(rng() % 33) : (unsigned)(rng() % 129);
		memcpy(ps[i].addr, a, 16);
		/* Mask with the same arithmetic the lookup must honour. */
		for (unsigned b = len; b < 128; b++)
			ps[i].addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
		ps[i].len = (uint8_t)len;
		ps[i].af = mm_addr_is4(a) ? 4 : 6;
		ck_assert_int_eq(mm_lpm_insert(t, &ps[i], i), 0);
	}
	for (int n = 0; n < NL; n++) {
		uint8_t a[16];
		int want = -1, wantlen = -1;

		rand_addr(a, ps[rng() % NP].addr);
		/* Later inserts of an identical prefix replace earlier ones. */
		for (int i = 0; i < NP; i++) {
			if (mm_prefix_contains(&ps[i], a) && (int)ps[i].len >= wantlen) {
				want = i;
				wantlen = ps[i].len;
			}
		}
		ck_assert_int_eq(mm_lpm_lookup(t, a), want);
	}
	mm_lpm_free(t);
	free(ps);
}
END_TEST

/* ---- flow.c helpers ------------------------------------------------ */

START_TEST(test_addr_str)
{
	uint8_t a[16];
	char buf[64], small[8];

	ck_assert_str_eq(mm_addr_str(A("192.0.2.1", a), buf, sizeof(buf)), "192.0.2.1");
	ck_assert_str_eq(mm_addr_str(A("::ffff:0.0.0.0", a), buf, sizeof(buf)), "0.0.0.0");
	ck_assert_str_eq(mm_addr_str(A("2001:db8::1", a), buf, sizeof(buf)), "2001:db8::1");
	ck_assert_str_eq(mm_addr_str(A("::", a), buf, sizeof(buf)), "::");
	/* Too small: empty, never half an address. */
	ck_assert_str_eq(mm_addr_str(A("2001:db8::1", a), small, sizeof(small)), "");
	ck_assert_str_eq(mm_addr_str(A("192.0.2.1", a), small, sizeof(small)), "");
	ck_assert_str_eq(mm_addr_str(a, buf, 0), "");
}
END_TEST

START_TEST(test_sampling_src_name)
{
	ck_assert_str_eq(mm_sampling_src_name(MM_SAMPLING_DEFAULTED), "defaulted");
	ck_assert_str_eq(mm_sampling_src_name(MM_SAMPLING_HEADER), "header");
	ck_assert_str_eq(mm_sampling_src_name(MM_SAMPLING_LEARNT), "learnt");
	ck_assert_str_eq(mm_sampling_src_name(MM_SAMPLING_RECORD), "record");
	ck_assert_str_eq(mm_sampling_src_name(MM_SAMPLING_CONFIGURED), "configured");
	ck_assert_str_eq(mm_sampling_src_name(5), "unknown");
	ck_assert_str_eq(mm_sampling_src_name(~0u), "unknown");
}
END_TEST

static Suite *prefix_suite(void)
{
	Suite *s = suite_create("prefix");
	TCase *tc = tcase_create("parse");

	tcase_add_test(tc, test_addr_parse);
	tcase_add_test(tc, test_parse_ok);
	tcase_add_loop_test(tc, test_parse_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_parse_host_bits_suggestion);
	tcase_add_test(tc, test_str_small_buffer);
	tcase_add_test(tc, test_contains);
	tcase_add_test(tc, test_overlap);
	suite_add_tcase(s, tc);

	tc = tcase_create("lpm");
	tcase_add_test(tc, test_lpm_basic);
	tcase_add_test(tc, test_lpm_defaults);
	tcase_add_test(tc, test_lpm_edges);
	tcase_add_test(tc, test_lpm_random);
	suite_add_tcase(s, tc);

	tc = tcase_create("flow");
	tcase_add_test(tc, test_addr_str);
	tcase_add_test(tc, test_sampling_src_name);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(prefix_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
