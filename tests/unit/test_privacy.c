/*
 * test_privacy.c - the collector's privacy filter (common/privacy.c):
 * protected prefixes dropped and counted, pseudonyms in every record
 * equal to Crypto-PAn's with and without the cache, the cache's counters,
 * bound and first-in-first-out replacement, groups mapped so that pseudonyms find their group; and the
 * key file (common/privacy_key.c): formats, permissions, the daemon set-up
 * and its file:line messages.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mamori/config.h"
#include "mamori/cryptopan.h"
#include "mamori/flow.h"
#include "mamori/prefix.h"
#include "mamori/privacy.h"

static const uint8_t key[32] = {
	21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
	216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2,
};

static struct mm_prefix P(const char *s)
{
	struct mm_prefix p;
	const char *why = NULL;

	ck_assert_msg(mm_prefix_parse(s, &p, &why) == 0, "%s: %s", s, why);
	return p;
}

static void A(const char *s, uint8_t a[16])
{
	ck_assert_msg(mm_addr_parse(s, a) > 0, "bad address %s", s);
}

static struct mm_flow flow(const char *src, const char *dst)
{
	struct mm_flow f;

	memset(&f, 0, sizeof(f));
	A(src, f.src_addr);
	A(dst, f.dst_addr);
	f.af = mm_addr_is4(f.src_addr) ? 4 : 6;
	A("192.0.2.250", f.exporter);
	f.exporter_af = 4;
	f.bytes = f.bytes_scaled = 1500;
	f.packets = f.packets_scaled = 1;
	f.sampling_rate = 1;
	f.src_port = 1234;
	f.dst_port = 53;
	f.proto = 17;
	f.start_ms = f.end_ms = 1700000000000ull;
	return f;
}

/* ---- protected prefixes ------------------------------------------------ */

START_TEST(protected_dropped)
{
	const struct mm_prefix prot[] = { P("10.1.0.0/16"), P("192.0.2.7"), P("2001:db8:5::/48"), P("203.0.113.0/25") };
	struct mm_privacy *p = mm_privacy_new(prot, 4, NULL, 0);
	static const struct {
		const char *src, *dst;
		int drop;
	} cases[] = {
		{ "10.1.2.3", "198.51.100.1", 1 },   { "198.51.100.1", "10.1.255.255", 1 },
		{ "10.2.0.1", "198.51.100.1", 0 },   { "10.0.255.255", "10.2.0.0", 0 },
		{ "192.0.2.7", "10.9.9.9", 1 },      { "192.0.2.8", "10.9.9.9", 0 },
		{ "192.0.2.6", "10.9.9.9", 0 },      { "2001:db8:5:1::1", "2001:db8::1", 1 },
		{ "2001:db8:6::1", "2001:db8::1", 0 }, { "2001:db8::1", "2001:db8:5:ffff::", 1 },
		{ "203.0.113.127", "10.0.0.1", 1 },  { "203.0.113.128", "10.0.0.1", 0 },
		/* an IPv6 address whose top 16 bits look like 10.1 in the IPv4 table's terms */
		{ "a01::1", "2001:db8::1", 0 },
	};
	unsigned drops = 0;

	ck_assert_ptr_nonnull(p);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mm_flow f = flow(cases[i].src, cases[i].dst), tmp;
		const struct mm_flow *out = mm_privacy_flow(p, &f, &tmp);

		if (cases[i].drop) {
			ck_assert_msg(out == NULL, "%s -> %s not dropped", cases[i].src, cases[i].dst);
			drops++;
		} else {
			/* no pseudonyms: the record itself goes on, untouched */
			ck_assert_msg(out == &f, "%s -> %s dropped or copied", cases[i].src, cases[i].dst);
		}
	}
	ck_assert_uint_eq(mm_privacy_stats(p)->records, sizeof(cases) / sizeof(cases[0]));
	ck_assert_uint_eq(mm_privacy_stats(p)->dropped, drops);
	ck_assert_uint_eq(mm_privacy_stats(p)->pseudonymised, 0);
	mm_privacy_free(p);
}
END_TEST

/* ::/0 protects everything, IPv4-mapped too; nothing protected drops
 * nothing. */
START_TEST(protected_everything_and_nothing)
{
	const struct mm_prefix all = P("::/0");
	struct mm_privacy *p = mm_privacy_new(&all, 1, NULL, 0), *none = mm_privacy_new(NULL, 0, NULL, 0);
	struct mm_flow f = flow("198.51.100.1", "203.0.113.9"), g = flow("2001:db8::1", "2001:db8::2"), tmp;

	ck_assert_ptr_null(mm_privacy_flow(p, &f, &tmp));
	ck_assert_ptr_null(mm_privacy_flow(p, &g, &tmp));
	ck_assert_ptr_eq(mm_privacy_flow(none, &f, &tmp), &f);
	ck_assert_int_eq(mm_privacy_protected(none, f.src_addr), 0);
	mm_privacy_free(p);
	mm_privacy_free(none);
}
END_TEST

/* Random addresses and random protected prefixes: the filter agrees with
 * a linear scan (the top-16 pre-filter never hides a match). */
static uint64_t rng = 0x243f6a8885a308d3ull;
static uint32_t rnd32(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void rnd_addr(uint8_t a[16], int v4)
{
	for (int i = 0; i < 16; i++)
		a[i] = (uint8_t)rnd32();
	if (v4)
		memcpy(a, (const uint8_t[12]){ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff }, 12);
	/* a small space, so that hits happen */
	a[v4 ? 12 : 0] &= 0x0f;
}

START_TEST(protected_random)
{
	struct mm_prefix prot[64];
	struct mm_privacy *p;

	for (int i = 0; i < 64; i++) {
		int v4 = i % 2;
		unsigned len = v4 ? 96 + 4 + rnd32() % 29 : 4 + rnd32() % 125;
		rnd_addr(prot[i].addr, v4);
		prot[i].len = (uint8_t)len;
		prot[i].af = v4 ? 4 : 6;
		for (unsigned b = len; b < 128; b++)
			prot[i].addr[b / 8] &= (uint8_t)~(0x80 >> (b % 8));
	}
	p = mm_privacy_new(prot, 64, NULL, 0);
	ck_assert_ptr_nonnull(p);
	for (int t = 0; t < 20000; t++) {
		uint8_t a[16];
		int want = 0;

		rnd_addr(a, t % 2);
		if (t % 7 == 0) /* inside a prefix, near its edge */
			memcpy(a, prot[t % 64].addr, 16), a[15] ^= (uint8_t)(t & 1);
		for (int i = 0; i < 64; i++)
			want |= mm_prefix_contains(&prot[i], a);
		ck_assert_int_eq(mm_privacy_protected(p, a), want);
	}
	mm_privacy_free(p);
}
END_TEST

/* A reload's new set: put in place at once, the old one handed back, the
 * counters (and the cache) kept. */
START_TEST(protected_swapped)
{
	const struct mm_prefix first = P("10.1.0.0/16"), second[2] = { P("10.2.0.0/16"), P("2001:db8::/32") };
	struct mm_privacy *p = mm_privacy_new(&first, 1, NULL, 0);
	struct mm_protect *next = mm_protect_new(second, 2), *none = mm_protect_new(NULL, 0);
	struct mm_flow a = flow("10.1.0.1", "198.51.100.1"), b = flow("10.2.0.1", "198.51.100.1"), tmp;

	ck_assert_ptr_nonnull(next);
	ck_assert_ptr_nonnull(none);
	ck_assert_ptr_null(mm_privacy_flow(p, &a, &tmp));
	ck_assert_ptr_eq(mm_privacy_flow(p, &b, &tmp), &b);
	mm_privacy_swap_protect(p, &next); /* next: the old set now */
	ck_assert_ptr_eq(mm_privacy_flow(p, &a, &tmp), &a);
	ck_assert_ptr_null(mm_privacy_flow(p, &b, &tmp));
	ck_assert_uint_eq(mm_privacy_stats(p)->records, 4);
	ck_assert_uint_eq(mm_privacy_stats(p)->dropped, 2);
	mm_protect_free(next);
	mm_privacy_swap_protect(p, &none); /* nothing protected */
	ck_assert_ptr_eq(mm_privacy_flow(p, &b, &tmp), &b);
	mm_protect_free(none);
	mm_privacy_free(p);
}
END_TEST

/* ---- pseudonyms ------------------------------------------------------ */

START_TEST(pseudonyms_in_records)
{
	struct mm_cryptopan *cp = mm_cryptopan_new(key);
	const struct mm_prefix prot = P("10.1.0.0/16");
	struct mm_privacy *p = mm_privacy_new(&prot, 1, cp, 1024);
	struct mm_flow f = flow("128.11.68.132", "129.118.74.4"), tmp, want;
	const struct mm_flow *out;
	uint8_t a[16];

	ck_assert_ptr_nonnull(p);
	out = mm_privacy_flow(p, &f, &tmp);
	ck_assert_ptr_eq(out, &tmp);
	/* the original distribution's sample: only the addresses change */
	want = f;
	A("135.242.180.132", want.src_addr);
	A("134.136.186.123", want.dst_addr);
	ck_assert_mem_eq(out, &want, sizeof(want));
	A("128.11.68.132", a);
	ck_assert_mem_eq(f.src_addr, a, 16); /* the input is not touched */
	/* protected prefixes are matched on the real address, before */
	f = flow("10.1.0.9", "129.118.74.4");
	ck_assert_ptr_null(mm_privacy_flow(p, &f, &tmp));
	/* IPv6 */
	f = flow("2001:db8::1", "::1");
	out = mm_privacy_flow(p, &f, &tmp);
	A("4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e", a);
	ck_assert_mem_eq(out->src_addr, a, 16);
	A("78ff:f001:9fc0:20df:8380:b1f1:704:ed", a);
	ck_assert_mem_eq(out->dst_addr, a, 16);
	/* a record without addresses keeps its zeros */
	memset(&f, 0, sizeof(f));
	ck_assert_ptr_eq(mm_privacy_flow(p, &f, &tmp), &f);
	ck_assert_uint_eq(mm_privacy_stats(p)->records, 4);
	ck_assert_uint_eq(mm_privacy_stats(p)->dropped, 1);
	ck_assert_uint_eq(mm_privacy_stats(p)->pseudonymised, 4);
	ck_assert_uint_eq(mm_privacy_stats(p)->errors, 0);
	mm_privacy_free(p);
	mm_cryptopan_free(cp);
}
END_TEST

/* The cache returns what Crypto-PAn computes, counts hits and misses,
 * stays within its bound and replaces the least recently used entry. */
START_TEST(cache_counts_and_bound)
{
	struct mm_cryptopan *cp = mm_cryptopan_new(key);
	struct mm_privacy *small = mm_privacy_new(NULL, 0, cp, 64), *none = mm_privacy_new(NULL, 0, cp, 0);
	uint8_t pool[200][16];
	uint64_t lookups = 0;

	ck_assert_uint_eq(mm_privacy_cache_size(small, 4), 70); /* 10 sets of 7 */
	ck_assert_uint_eq(mm_privacy_cache_size(small, 6), 64);
	ck_assert_uint_eq(mm_privacy_cache_size(none, 4), 0);
	for (int i = 0; i < 200; i++)
		rnd_addr(pool[i], i % 3 != 0);
	/* 16 addresses, looked up 50 times each: 16 misses, the rest hits */
	for (int r = 0; r < 50; r++)
		for (int i = 0; i < 16; i++) {
			uint8_t x[16], y[16];
			ck_assert_int_eq(mm_privacy_addr(small, pool[i], x), 0);
			ck_assert_int_eq(mm_cryptopan_addr(cp, pool[i], y), 0);
			ck_assert_mem_eq(x, y, 16);
			lookups++;
		}
	ck_assert_uint_eq(mm_privacy_stats(small)->cache_misses + mm_privacy_stats(small)->cache_hits, lookups);
	/* 16 addresses in 10 sets of 7 (IPv4) and 16 of 4 (IPv6): a set
	 * overflows only when too many fall into it */
	ck_assert_uint_le(mm_privacy_stats(small)->cache_misses, 16 + 49 * 16);
	ck_assert_uint_ge(mm_privacy_stats(small)->cache_hits, 40 * 16);
	/* 200 addresses through 64 entries: evictions, results still right */
	for (int r = 0; r < 3; r++)
		for (int i = 0; i < 200; i++) {
			uint8_t x[16], y[16];
			ck_assert_int_eq(mm_privacy_addr(small, pool[i], x), 0);
			ck_assert_int_eq(mm_privacy_addr(none, pool[i], y), 0);
			ck_assert_mem_eq(x, y, 16);
		}
	ck_assert_uint_gt(mm_privacy_stats(small)->cache_evictions, 0);
	ck_assert_uint_eq(mm_privacy_stats(none)->cache_hits, 0);
	ck_assert_uint_eq(mm_privacy_stats(none)->cache_misses, 600);
	ck_assert_uint_le(mm_privacy_memory(small), mm_privacy_memory(none) + 70 * 10 + 64 * 33);
	mm_privacy_free(small);
	mm_privacy_free(none);
	mm_cryptopan_free(cp);
}
END_TEST

/* First in, first out within a set: with one set per family (7 ways for
 * IPv4, 4 for IPv6), the way filled first is the one replaced, even after
 * a hit on it (a hit writes nothing). */
START_TEST(cache_fifo)
{
	struct mm_cryptopan *cp = mm_cryptopan_new(key);
	struct mm_privacy *p = mm_privacy_new(NULL, 0, cp, 3); /* one set each */
	uint8_t a[9][16], x[16], y[16];

	ck_assert_uint_eq(mm_privacy_cache_size(p, 4), 7);
	ck_assert_uint_eq(mm_privacy_cache_size(p, 6), 4);
	for (int fam = 4; fam <= 6; fam += 2) {
		unsigned ways = fam == 4 ? 7 : 4;
		uint64_t h0 = mm_privacy_stats(p)->cache_hits, m0 = mm_privacy_stats(p)->cache_misses;
		uint64_t e0 = mm_privacy_stats(p)->cache_evictions;

		for (unsigned i = 0; i <= ways; i++)
			rnd_addr(a[i], fam == 4);
		for (unsigned i = 0; i < ways; i++)
			mm_privacy_addr(p, a[i], x);
		mm_privacy_addr(p, a[0], x); /* a hit; a[0] is still the oldest */
		ck_assert_uint_eq(mm_privacy_stats(p)->cache_hits - h0, 1);
		ck_assert_uint_eq(mm_privacy_stats(p)->cache_evictions - e0, 0);
		mm_privacy_addr(p, a[ways], x); /* replaces a[0] */
		ck_assert_uint_eq(mm_privacy_stats(p)->cache_evictions - e0, 1);
		for (unsigned i = 1; i <= ways; i++) {
			mm_privacy_addr(p, a[i], x);
			ck_assert_int_eq(mm_cryptopan_addr(cp, a[i], y), 0);
			ck_assert_mem_eq(x, y, 16);
		}
		ck_assert_uint_eq(mm_privacy_stats(p)->cache_hits - h0, 1 + ways);
		mm_privacy_addr(p, a[0], x); /* gone: computed again, replacing a[1] */
		ck_assert_uint_eq(mm_privacy_stats(p)->cache_misses - m0, ways + 2);
		ck_assert_uint_eq(mm_privacy_stats(p)->cache_evictions - e0, 2);
	}
	mm_privacy_free(p);
	mm_cryptopan_free(cp);
}
END_TEST

/* ---- groups ------------------------------------------------------------ */

static void load_cfg(struct mm_config *c, const char *text)
{
	ck_assert_int_eq(mm_config_load_string(c, "t.conf", text, stderr), 0);
}

START_TEST(groups_follow_pseudonyms)
{
	struct mm_config c;
	struct mm_cryptopan *cp = mm_cryptopan_new(key);
	char err[256] = "";
	static const struct {
		const char *addr;
		int group;
	} hosts[] = {
		{ "10.0.0.1", 0 },     { "10.0.255.254", 0 }, { "10.1.0.1", -1 },   { "198.51.100.77", 1 },
		{ "198.51.101.1", -1 }, { "2001:db8:1::5", 1 }, { "2001:db8:2::5", -1 }, { "203.0.113.5", 2 },
		{ "203.0.113.6", -1 },
	};

	load_cfg(&c, "[group a]\nprefix = 10.0.0.0/16\n[group b]\nprefix = 198.51.100.0/24\n"
		     "prefix = 2001:db8:1::/48\n[group c]\nprefix = 203.0.113.5\n");
	ck_assert_int_eq(mm_privacy_map_groups(&c, cp, err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		uint8_t a[16], pa[16];
		A(hosts[i].addr, a);
		ck_assert_int_eq(mm_cryptopan_addr(cp, a, pa), 0);
		ck_assert_msg(mm_config_group_of(&c, pa) == hosts[i].group, "pseudonym of %s: group %d, want %d",
			      hosts[i].addr, mm_config_group_of(&c, pa), hosts[i].group);
	}
	/* lengths and order kept; 10.0.0.0/16 is not itself any more */
	ck_assert_uint_eq(c.group_prefixes[0].len, 112);
	ck_assert_uint_eq(c.group_prefixes[3].len, 128);
	{
		struct mm_prefix real = P("10.0.0.0/16");
		ck_assert_int_ne(memcmp(c.group_prefixes[0].addr, real.addr, 16), 0);
	}
	mm_config_free(&c);
	mm_cryptopan_free(cp);
}
END_TEST

/* An IPv6 prefix whose image covers the IPv4-mapped space is refused:
 * find a /4 whose image is ::/4 under some key. */
START_TEST(groups_image_covering_ipv4)
{
	char text[128], err[256] = "";

	for (int k = 0; k < 8; k++) {
		uint8_t kk[32];
		struct mm_cryptopan *cp;

		memcpy(kk, key, 32);
		kk[0] ^= (uint8_t)k;
		cp = mm_cryptopan_new(kk);
		for (unsigned top = 1; top < 16; top++) {
			struct mm_prefix p = { { (uint8_t)(top << 4) }, 4, 6 }, q;
			char ps[64];
			struct mm_config c;

			ck_assert_int_eq(mm_cryptopan_prefix(cp, &p, &q), 0);
			if (!mm_prefix_mixes_v4mapped(&q))
				continue;
			snprintf(text, sizeof(text), "[group six]\nprefix = %s\n", mm_prefix_str(&p, ps, sizeof(ps)));
			load_cfg(&c, text);
			ck_assert_int_eq(mm_privacy_map_groups(&c, cp, err, sizeof(err)), -1);
			ck_assert_msg(strstr(err, "t.conf:1: [group six] prefix ") == err &&
					      strstr(err, "maps to ::/4 under this key, which covers the IPv4 space") != NULL,
				      "%s", err);
			/* unchanged on failure */
			ck_assert_mem_eq(c.group_prefixes[0].addr, p.addr, 16);
			mm_config_free(&c);
			mm_cryptopan_free(cp);
			return;
		}
		mm_cryptopan_free(cp);
	}
	ck_abort_msg("no key maps a /4 onto ::/4");
}
END_TEST

/* ---- the key file ------------------------------------------------------ */

static char tmpdir[64];

static void setup_dir(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/mm-privacy.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void teardown_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static const char *write_key(const char *name, const void *data, size_t len, mode_t mode)
{
	static char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	fclose(f);
	ck_assert_int_eq(chmod(path, mode), 0);
	return path;
}

START_TEST(key_formats)
{
	uint8_t k[32];
	char err[256] = "", hex[80];

	/* 64 hex digits (the sample key), with or without a line end, any case */
	for (int i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", key[i]);
	ck_assert_str_eq(hex, "1522178d33a4cf80130a5b1649907d10d8988f837979652762574c2d2a842202");
	ck_assert_int_eq(mm_privacy_key_read(write_key("h1", hex, 64, 0600), k, err, sizeof(err)), 0);
	ck_assert_mem_eq(k, key, 32);
	strcat(hex, "\n");
	memset(k, 0, 32);
	ck_assert_int_eq(mm_privacy_key_read(write_key("h2", hex, 65, 0400), k, err, sizeof(err)), 0);
	ck_assert_mem_eq(k, key, 32);
	for (char *s = hex; *s; s++)
		if (*s >= 'a' && *s <= 'f')
			*s = (char)(*s - 'a' + 'A');
	memcpy(hex + 64, "\r\n", 3);
	ck_assert_int_eq(mm_privacy_key_read(write_key("h3", hex, 66, 0600), k, err, sizeof(err)), 0);
	ck_assert_mem_eq(k, key, 32);
	/* 32 raw bytes */
	memset(k, 0, 32);
	ck_assert_int_eq(mm_privacy_key_read(write_key("raw", key, 32, 0600), k, err, sizeof(err)), 0);
	ck_assert_mem_eq(k, key, 32);
	/* anything else */
	ck_assert_int_eq(mm_privacy_key_read(write_key("short", key, 31, 0600), k, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "31 bytes: expected 32 raw bytes or 64 hex digits");
	hex[10] = 'g';
	ck_assert_int_eq(mm_privacy_key_read(write_key("nothex", hex, 64, 0600), k, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not a hex digit at byte 11: expected 32 raw bytes or 64 hex digits");
	{
		char big[300];
		memset(big, 'a', sizeof(big));
		ck_assert_int_eq(mm_privacy_key_read(write_key("big", big, sizeof(big), 0600), k, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "over 130 bytes: expected 32 raw bytes or 64 hex digits");
	}
}
END_TEST

START_TEST(key_permissions)
{
	static const mode_t bad[] = { 0644, 0640, 0604, 0660, 0610, 0601, 0700 | 0020 };
	uint8_t k[32];
	char err[256] = "", want[256];
	const char *path;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		path = write_key("k", key, 32, bad[i]);
		ck_assert_int_eq(mm_privacy_key_read(path, k, err, sizeof(err)), -1);
		snprintf(want, sizeof(want), "mode %04o lets group or others in (chmod 600 %s)", (unsigned)bad[i], path);
		ck_assert_str_eq(err, want);
	}
	ck_assert_int_eq(mm_privacy_key_read(tmpdir, k, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "not a regular file");
	snprintf(want, sizeof(want), "%s/missing", tmpdir);
	ck_assert_int_eq(mm_privacy_key_read(want, k, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cannot open: No such file or directory");
	/* someone else's file, even with mode 0600 (as root: chown to nobody) */
	if (geteuid() == 0) {
		path = write_key("other", key, 32, 0600);
		ck_assert_int_eq(chown(path, 65534, 65534), 0);
		ck_assert_int_eq(mm_privacy_key_read(path, k, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "owned by uid 65534, neither this user (0) nor root");
	}
}
END_TEST

/* The daemons' set-up: off does nothing; on maps the groups; a bad key
 * file is reported with the configuration's file and key_file line. */
START_TEST(setup_messages)
{
	struct mm_config c;
	struct mm_cryptopan *cp = (void *)1;
	char text[512], err[512] = "", want[512];
	const char *path = write_key("k", key, 32, 0600);
	uint8_t a[16], pa[16];

	load_cfg(&c, "[group a]\nprefix = 10.0.0.0/16\n");
	ck_assert_int_eq(mm_privacy_setup(&c, &cp, err, sizeof(err)), 0);
	ck_assert_ptr_null(cp);
	A("10.0.0.1", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), 0);
	mm_config_free(&c);

	snprintf(text, sizeof(text), "[group a]\nprefix = 10.0.0.0/16\n[privacy]\npseudonymise = yes\nkey_file = %s\n",
		 path);
	load_cfg(&c, text);
	ck_assert_int_eq(mm_privacy_setup(&c, &cp, err, sizeof(err)), 0);
	ck_assert_ptr_nonnull(cp);
	ck_assert_int_eq(mm_cryptopan_addr(cp, a, pa), 0);
	ck_assert_int_eq(mm_config_group_of(&c, pa), 0);
	mm_cryptopan_free(cp);
	mm_config_free(&c);

	chmod(path, 0644);
	load_cfg(&c, text);
	ck_assert_int_eq(mm_privacy_setup(&c, &cp, err, sizeof(err)), -1);
	ck_assert_ptr_null(cp);
	snprintf(want, sizeof(want), "t.conf:5: key_file %s: mode 0644 lets group or others in (chmod 600 %s)", path,
		 path);
	ck_assert_str_eq(err, want);
	mm_config_free(&c);
}
END_TEST

static Suite *privacy_suite(void)
{
	Suite *s = suite_create("privacy");
	TCase *tc = tcase_create("protect");

	tcase_add_test(tc, protected_dropped);
	tcase_add_test(tc, protected_everything_and_nothing);
	tcase_add_test(tc, protected_random);
	tcase_add_test(tc, protected_swapped);
	suite_add_tcase(s, tc);
	tc = tcase_create("pseudonyms");
	tcase_add_test(tc, pseudonyms_in_records);
	tcase_add_test(tc, cache_counts_and_bound);
	tcase_add_test(tc, cache_fifo);
	tcase_add_test(tc, groups_follow_pseudonyms);
	tcase_add_test(tc, groups_image_covering_ipv4);
	suite_add_tcase(s, tc);
	tc = tcase_create("key");
	tcase_add_checked_fixture(tc, setup_dir, teardown_dir);
	tcase_add_test(tc, key_formats);
	tcase_add_test(tc, key_permissions);
	tcase_add_test(tc, setup_messages);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(privacy_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
