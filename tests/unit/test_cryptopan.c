/*
 * test_cryptopan.c - Crypto-PAn (common/cryptopan.c) against published
 * vectors, and the properties mamori relies on: prefix preservation,
 * prefixes mapping to prefixes, the inverse, IPv4-mapped addresses.
 *
 * Vectors:
 *  - IPv4, the sample key and trace of the original distribution
 *    (Xu/Fan/Ammar/Moon, sample_trace_raw.dat -> sample_trace_sanitized.dat),
 *    as transcribed in the Go implementation's tests (Yawning Angel,
 *    github.com/Yawning/cryptopan) and in node-cryptopan's test data;
 *  - IPv6 under the same key, from the Go and C# implementations;
 *  - IPv6 and IPv4 under the key of libanon (Schoenwaelder, C; key =
 *    SHA1("tes") || SHA1("ting") cut to 32 bytes), an independent
 *    implementation of the 128-bit construction.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/cryptopan.h"
#include "mamori/flow.h"
#include "mamori/prefix.h"

static const uint8_t ref_key[32] = {
	21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
	216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2,
};

struct vec {
	const char *in, *out;
};

/* The original distribution's sample trace (every distinct address). */
static const struct vec ref_v4[] = {
	{ "128.11.68.132", "135.242.180.132" }, { "129.118.74.4", "134.136.186.123" },
	{ "130.132.252.244", "133.68.164.234" }, { "141.223.7.43", "141.167.8.160" },
	{ "141.233.145.108", "141.129.237.235" }, { "152.163.225.39", "151.140.114.167" },
	{ "156.29.3.236", "147.225.12.42" },     { "165.247.96.84", "162.9.99.234" },
	{ "166.107.77.190", "160.132.178.185" }, { "192.102.249.13", "252.138.62.131" },
	{ "192.215.32.125", "252.43.47.189" },   { "192.233.80.103", "252.25.108.8" },
	{ "192.41.57.43", "252.222.221.184" },   { "193.150.244.223", "253.169.52.216" },
	{ "195.205.63.100", "255.186.223.5" },   { "198.200.171.101", "249.199.68.213" },
	{ "198.26.132.101", "249.36.123.202" },  { "198.36.213.5", "249.7.21.132" },
	{ "198.51.77.238", "249.18.186.254" },   { "199.217.79.101", "248.38.184.213" },
	{ "202.49.198.20", "245.206.7.234" },    { "203.12.160.252", "244.248.163.4" },
	{ "204.184.162.189", "243.192.77.90" },  { "204.202.136.230", "243.178.4.198" },
	{ "204.29.20.4", "243.33.20.123" },      { "205.178.38.67", "242.108.198.51" },
	{ "205.188.147.153", "242.96.16.101" },  { "205.188.248.25", "242.96.88.27" },
	{ "205.245.121.43", "242.21.121.163" },  { "207.105.49.5", "241.118.205.138" },
	{ "207.135.65.238", "241.202.129.222" }, { "207.155.9.214", "241.220.250.22" },
	{ "207.188.7.45", "241.255.249.220" },   { "207.25.71.27", "241.33.119.156" },
	{ "207.33.151.131", "241.1.233.131" },   { "208.147.89.59", "227.237.98.191" },
	{ "208.234.120.210", "227.154.67.17" },  { "208.28.185.184", "227.39.94.90" },
	{ "208.52.56.122", "227.8.63.165" },     { "209.12.231.7", "226.243.167.8" },
	{ "209.238.72.3", "226.6.119.243" },     { "209.246.74.109", "226.22.124.76" },
	{ "209.68.60.238", "226.184.220.233" },  { "209.85.249.6", "226.170.70.6" },
	{ "212.120.124.31", "228.135.163.231" }, { "212.146.8.236", "228.19.4.234" },
	{ "212.186.227.154", "228.59.98.98" },   { "212.204.172.118", "228.71.195.169" },
	{ "212.206.130.201", "228.69.242.193" }, { "216.148.237.145", "235.84.194.111" },
	{ "216.157.30.252", "235.89.31.26" },    { "216.184.159.48", "235.96.225.78" },
	{ "216.227.10.221", "235.28.253.36" },   { "216.254.18.172", "235.7.16.162" },
	{ "216.32.132.250", "235.192.139.38" },  { "216.35.217.178", "235.195.157.81" },
	{ "24.0.250.221", "100.15.198.226" },    { "24.13.62.231", "100.2.192.247" },
	{ "24.14.213.138", "100.1.42.141" },     { "24.5.0.80", "100.9.15.210" },
	{ "24.7.198.88", "100.10.6.25" },        { "24.94.26.44", "100.88.228.35" },
	{ "38.15.67.68", "64.3.66.187" },        { "4.3.88.225", "124.60.155.63" },
	{ "63.14.55.111", "95.9.215.7" },        { "63.195.241.44", "95.179.238.44" },
	{ "63.97.7.140", "95.97.9.123" },        { "64.14.118.196", "0.255.183.58" },
	{ "64.34.154.117", "0.221.154.117" },    { "64.39.15.238", "0.219.7.41" },
};

/* The same key over 128 bits (Go, C#). */
static const struct vec ref_v6[] = {
	{ "::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed" },
	{ "::2", "78ff:f001:9fc0:20df:8380:b1f1:704:ef" },
	{ "::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838" },
	{ "2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e" },
	{ "2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c" },
};

static const uint8_t anon_key[32] = {
	0xd1, 0xc0, 0x56, 0xa9, 0x83, 0x78, 0x6a, 0x38, 0xca, 0x76, 0xa0, 0x5c, 0xda, 0x24, 0x0c, 0x7b,
	0x86, 0xd7, 0x71, 0x36, 0x93, 0x54, 0x40, 0x00, 0xa0, 0xe6, 0xc4, 0xdd, 0x5b, 0x3d, 0xab, 0xdd,
};

/* libanon's test output (test/anon-key.1.out and its IPv4/IPv6 tests). */
static const struct vec anon_v4[] = {
	{ "1.2.3.4", "236.157.211.10" },   { "1.2.3.3", "236.157.211.12" },
	{ "0.0.0.0", "237.113.211.225" },  { "1.1.1.1", "236.159.20.242" },
	{ "255.255.255.254", "0.0.127.6" }, { "255.255.255.255", "0.0.127.7" },
	{ "2.6.8.15", "238.6.10.23" },     { "2.6.3.83", "238.6.7.179" },
	{ "6.3.11.123", "233.3.231.131" }, { "112.28.3.2", "136.126.15.210" },
	{ "220.201.45.30", "61.17.221.254" },
};

static const struct vec anon_v6[] = {
	{ "31d6:1be5:41bd:663c:3e9e:1005:1eec:6f01", "cc29:fb1a:b9fd:613c:e68:a03b:1efd:961f" },
	{ "5dc9:b9a:5699:45e4:3c33:2f50:a4d:2fca", "a3cf:3bda:5768:b87b:ac8c:cc56:a43:5235" },
	{ "2d70:77b8:119d:918:4165:78ae:2f24:1d00", "dcce:77ba:d5ad:16df:c119:68b2:2f0a:2518" },
	{ "17a3:638e:1942:258e:c87:4416:5298:4071", "f7a3:94a6:da41:21f1:8fa6:bbe9:aa59:c001" },
	{ "1c12:2019:e3f:648a:1689:65e9:1bcb:2436", "fdf2:1602:ce3f:5a8a:5da9:597:e43b:1bce" },
	{ "2cc:5582:1702:485c:4a77:5077:575c:1035", "eecc:4a6d:2f3d:775b:cb88:ae6f:a8a2:6fc1" },
	{ "bba:3c9d:5b3a:21de:2cf8:6578:2ae7:779f", "e7bd:c302:a5f5:d85e:3308:768:2570:fa5f" },
	{ "e22:869:6f4f:55f9:73d2:7795:3881:1671", "e1ad:da60:80b0:bc67:c2c:7b50:3873:e40f" },
	{ "827:7f95:2fe6:531f:d63:7bdf:323f:3ef6", "e527:7fea:c099:b4df:4e9d:73ac:2d3f:eb06" },
	{ "1e45:45f7:d60:36d0:1827:6b55:5dae:5741", "fefb:a377:29d:3a2d:e8a6:eb59:a391:d621" },
	{ "fffe:638:709:861::3", "1:ce05:ee9:971:7f1f:1f8:ec7:c05b" },
	{ "fffe:638:709:861::4", "1:ce05:ee9:971:7f1f:1f8:ec7:c05f" },
	{ "ffff:638:709:861::1", "0:e9f8:3928:f76e:3f:3fc6:135:ffa6" },
	{ "ffff:638:709:861::2", "0:e9f8:3928:f76e:3f:3fc6:135:ffa5" },
	{ "2001:638:709:861::1", "d0f1:f603:8e9:98c:3f5f:1f9:ffcf:bf9f" },
	{ "2001:638:709:861::2", "d0f1:f603:8e9:98c:3f5f:1f9:ffcf:bf9d" },
	{ "2001:638:709:861::3", "d0f1:f603:8e9:98c:3f5f:1f9:ffcf:bf9c" },
	{ "2001:638:709:861::4", "d0f1:f603:8e9:98c:3f5f:1f9:ffcf:bf98" },
	{ "2001:638:709:4::1", "d0f1:f603:8e9:6cb:803f:3e39:f134:3fbe" },
	{ "2001:638:709:4::2", "d0f1:f603:8e9:6cb:803f:3e39:f134:3fbd" },
	{ "2001:638:709:4::3", "d0f1:f603:8e9:6cb:803f:3e39:f134:3fbc" },
	{ "2001:638:709:4::4", "d0f1:f603:8e9:6cb:803f:3e39:f134:3fbb" },
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void addr(const char *s, uint8_t a[16])
{
	ck_assert_msg(mm_addr_parse(s, a) > 0, "bad address %s", s);
}

/* Every vector both ways through the 16-byte interface, and through the
 * raw 32/128-bit one. */
static void check_vectors(const uint8_t key[32], const struct vec *v, size_t n)
{
	struct mm_cryptopan *cp = mm_cryptopan_new(key);
	char got[64];

	ck_assert_ptr_nonnull(cp);
	for (size_t i = 0; i < n; i++) {
		uint8_t in[16], want[16], out[16], back[16], raw[16];
		int v4;

		addr(v[i].in, in);
		addr(v[i].out, want);
		v4 = mm_addr_is4(in);
		ck_assert_int_eq(mm_cryptopan_addr(cp, in, out), 0);
		ck_assert_msg(memcmp(out, want, 16) == 0, "%s -> %s, want %s", v[i].in,
			      mm_addr_str(out, got, sizeof(got)), v[i].out);
		ck_assert_int_eq(mm_cryptopan_addr_inverse(cp, out, back), 0);
		ck_assert_msg(memcmp(back, in, 16) == 0, "inverse of %s gave %s", v[i].out,
			      mm_addr_str(back, got, sizeof(got)));
		ck_assert_int_eq(mm_cryptopan_anon(cp, v4 ? in + 12 : in, raw, v4 ? 32 : 128), 0);
		ck_assert_mem_eq(raw, v4 ? want + 12 : want, v4 ? 4 : 16);
	}
	mm_cryptopan_free(cp);
}

START_TEST(reference_ipv4)
{
	check_vectors(ref_key, ref_v4, N(ref_v4));
}
END_TEST

START_TEST(reference_ipv6)
{
	check_vectors(ref_key, ref_v6, N(ref_v6));
}
END_TEST

START_TEST(libanon_ipv4_ipv6)
{
	check_vectors(anon_key, anon_v4, N(anon_v4));
	check_vectors(anon_key, anon_v6, N(anon_v6));
}
END_TEST

/* Number of leading bits two byte strings share. */
static unsigned common_bits(const uint8_t *a, const uint8_t *b, unsigned nbytes)
{
	unsigned n = 0;

	for (unsigned i = 0; i < nbytes; i++) {
		uint8_t x = a[i] ^ b[i];
		if (x == 0) {
			n += 8;
			continue;
		}
		while (!(x & 0x80)) {
			n++;
			x <<= 1;
		}
		break;
	}
	return n;
}

static uint64_t rng = 88172645463325252ull;
static uint8_t rnd8(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint8_t)(rng >> 24);
}

/* For random pairs with every possible common prefix length: the
 * pseudonyms share exactly as many bits (prefix-preserving, one-to-one),
 * and the inverse gives the address back. */
START_TEST(prefix_preserving_random)
{
	struct mm_cryptopan *cp = mm_cryptopan_new(ref_key);
	unsigned nbits = _i == 0 ? 32 : 128, nbytes = nbits / 8;

	ck_assert_ptr_nonnull(cp);
	for (unsigned k = 0; k <= nbits; k++) {
		uint8_t a[16], b[16], pa[16], pb[16], back[16];

		for (unsigned i = 0; i < nbytes; i++)
			a[i] = b[i] = rnd8();
		/* b: the first k bits of a, then bit k flipped, the rest random */
		if (k < nbits) {
			b[k / 8] ^= (uint8_t)(0x80 >> (k % 8));
			for (unsigned bit = k + 1; bit < nbits; bit++)
				if (rnd8() & 1)
					b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		}
		ck_assert_uint_eq(common_bits(a, b, nbytes), k);
		ck_assert_int_eq(mm_cryptopan_anon(cp, a, pa, nbits), 0);
		ck_assert_int_eq(mm_cryptopan_anon(cp, b, pb, nbits), 0);
		ck_assert_msg(common_bits(pa, pb, nbytes) == k, "%u bits: pseudonyms share %u", k,
			      common_bits(pa, pb, nbytes));
		ck_assert_int_eq(mm_cryptopan_deanon(cp, pa, back, nbits), 0);
		ck_assert_mem_eq(back, a, nbytes);
		/* in place */
		memcpy(back, a, nbytes);
		ck_assert_int_eq(mm_cryptopan_anon(cp, back, back, nbits), 0);
		ck_assert_mem_eq(back, pa, nbytes);
	}
	mm_cryptopan_free(cp);
}
END_TEST

static struct mm_prefix P(const char *s)
{
	struct mm_prefix p;
	const char *why = NULL;

	ck_assert_msg(mm_prefix_parse(s, &p, &why) == 0, "%s: %s", s, why);
	return p;
}

/* A prefix maps to the prefix of its members' pseudonyms; its inverse
 * gives it back; families stay apart. */
START_TEST(prefixes)
{
	static const char *const ok[] = { "128.11.0.0/16", "24.0.0.0/8", "0.0.0.0/0", "207.25.71.27/32",
					  "2001:db8::/32", "2001:638:709:861::/64", "::/0", "::ffff:0:0/96",
					  "fe80::/10", "2001:db8::1/128" };
	struct mm_cryptopan *cp = mm_cryptopan_new(ref_key);
	char s1[64], s2[64];

	ck_assert_ptr_nonnull(cp);
	for (size_t i = 0; i < N(ok); i++) {
		struct mm_prefix p = P(ok[i]), q, back;
		uint8_t member[16], pm[16];

		ck_assert_int_eq(mm_prefix_mixes_v4mapped(&p), 0);
		ck_assert_int_eq(mm_cryptopan_prefix(cp, &p, &q), 0);
		ck_assert_uint_eq(q.len, p.len);
		ck_assert_uint_eq(q.af, p.af);
		ck_assert_int_eq(mm_cryptopan_prefix_inverse(cp, &q, &back), 0);
		ck_assert_msg(memcmp(back.addr, p.addr, 16) == 0 && back.len == p.len, "%s -> %s -> %s", ok[i],
			      mm_prefix_str(&q, s1, sizeof(s1)), mm_prefix_str(&back, s2, sizeof(s2)));
		/* members (random host bits) map inside the image */
		for (int t = 0; t < 16; t++) {
			memcpy(member, p.addr, 16);
			for (unsigned bit = p.len; bit < 128; bit++)
				if (rnd8() & 1)
					member[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
			ck_assert_int_eq(mm_cryptopan_addr(cp, member, pm), 0);
			ck_assert_msg(mm_prefix_contains(&q, pm), "a member of %s maps outside %s", ok[i],
				      mm_prefix_str(&q, s1, sizeof(s1)));
		}
	}
	/* 128.11.68.132 -> 135.242.180.132: its /16 is 135.242.0.0/16 */
	{
		struct mm_prefix p = P("128.11.0.0/16"), q;
		ck_assert_int_eq(mm_cryptopan_prefix(cp, &p, &q), 0);
		ck_assert_str_eq(mm_prefix_str(&q, s1, sizeof(s1)), "135.242.0.0/16");
	}
	/* IPv6 prefixes that hold the IPv4-mapped space and more: refused */
	static const char *const mixed[] = { "::/1", "::/64", "::/80", "::fffe:0:0/95", "::ff00:0:0/88" };
	for (size_t i = 0; i < N(mixed); i++) {
		struct mm_prefix p = P(mixed[i]), q;
		ck_assert_msg(mm_prefix_mixes_v4mapped(&p), "%s", mixed[i]);
		ck_assert_int_eq(mm_cryptopan_prefix(cp, &p, &q), -1);
	}
	mm_cryptopan_free(cp);
}
END_TEST

/* Another key, another mapping; nbits other than 32/128 refused. */
START_TEST(keys_and_lengths)
{
	uint8_t k2[32], a[16] = { 10, 1, 2, 3 }, x[16], y[16];
	struct mm_cryptopan *cp = mm_cryptopan_new(ref_key), *cp2;

	memcpy(k2, ref_key, 32);
	k2[31] ^= 1; /* only the pad changes */
	cp2 = mm_cryptopan_new(k2);
	ck_assert_ptr_nonnull(cp);
	ck_assert_ptr_nonnull(cp2);
	ck_assert_int_eq(mm_cryptopan_anon(cp, a, x, 32), 0);
	ck_assert_int_eq(mm_cryptopan_anon(cp2, a, y, 32), 0);
	ck_assert_int_ne(memcmp(x, y, 4), 0);
	ck_assert_int_eq(mm_cryptopan_anon(cp, a, x, 64), -1);
	ck_assert_int_eq(mm_cryptopan_deanon(cp, a, x, 0), -1);
	mm_cryptopan_free(cp);
	mm_cryptopan_free(cp2);
	mm_cryptopan_free(NULL);
}
END_TEST

static Suite *cryptopan_suite(void)
{
	Suite *s = suite_create("cryptopan");
	TCase *tc = tcase_create("vectors");

	tcase_add_test(tc, reference_ipv4);
	tcase_add_test(tc, reference_ipv6);
	tcase_add_test(tc, libanon_ipv4_ipv6);
	suite_add_tcase(s, tc);
	tc = tcase_create("properties");
	tcase_add_loop_test(tc, prefix_preserving_random, 0, 2);
	tcase_add_test(tc, prefixes);
	tcase_add_test(tc, keys_and_lengths);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(cryptopan_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
