/*
 * bench_privacy - what the collector's privacy filter (common/privacy.c)
 * costs per record on one core: the filter off, protected prefixes only,
 * and Crypto-PAn pseudonyms without and with the cache, for IPv4 and IPv6
 * traffic; and one Crypto-PAn mapping on its own.
 *
 * Records: one end a monitored host (--hosts, drawn Zipf-like: a few busy
 * hosts, a long tail), the other an external peer (--peers, likewise), so
 * the cache sees a realistic reuse of addresses; the "spoofed" rows draw
 * every external address at random, so that its end always misses.  The
 * records are made once (outside the timed part) and replayed through
 * mm_privacy_flow for at least --seconds.  Times are the thread's CPU time.
 *
 *   bench_privacy [--seconds S] [--records N] [--hosts N] [--peers N] [--cache N]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mamori/cryptopan.h"
#include "mamori/privacy.h"

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Zipf-like rank in [0, n): the inverse of a 1/x density. */
static uint32_t zipf(uint64_t *s, uint32_t n)
{
	double u = (double)(rng_next(s) >> 11) / 9007199254740992.0;
	uint32_t r = (uint32_t)(exp(u * log((double)n + 1)) - 1);
	return r < n ? r : n - 1;
}

static void addr_of(uint32_t i, int v6, uint32_t base, uint8_t a[16])
{
	if (v6) {
		memset(a, 0, 16);
		a[0] = 0x20;
		a[1] = 0x01;
		a[2] = (uint8_t)(base >> 8);
		a[3] = (uint8_t)base;
		for (int k = 0; k < 4; k++)
			a[12 + k] = (uint8_t)(i >> (24 - 8 * k));
		a[8] = (uint8_t)(i * 131); /* spread over /64s too */
	} else {
		uint8_t v4[4] = { (uint8_t)(base + (i >> 24)), (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i };
		mm_addr_set4(a, v4);
	}
}

static struct mm_flow *make(size_t n, uint32_t hosts, uint32_t peers, int v6, int spoofed)
{
	struct mm_flow *f = calloc(n, sizeof(*f));
	uint64_t s = 42;

	if (f == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		uint8_t h[16], p[16];
		addr_of(zipf(&s, hosts), v6, v6 ? 0xdb8 : 10, h);
		if (spoofed)
			addr_of((uint32_t)rng_next(&s), v6, v6 ? 0x470 : 100, p);
		else
			addr_of(zipf(&s, peers) * 7919u, v6, v6 ? 0x470 : 100, p);
		memcpy(i % 2 ? f[i].src_addr : f[i].dst_addr, h, 16);
		memcpy(i % 2 ? f[i].dst_addr : f[i].src_addr, p, 16);
		f[i].af = v6 ? 6 : 4;
		f[i].packets = f[i].packets_scaled = 1;
		f[i].bytes = f[i].bytes_scaled = 100;
	}
	return f;
}

struct result {
	double ns;
	double hit;
};

static struct result run(struct mm_privacy *p, const struct mm_flow *f, size_t n, double seconds)
{
	struct mm_flow tmp;
	uint64_t recs = 0, kept = 0;
	double t0, t;

	/* one untimed pass: the cache warm, as in a running collector */
	for (size_t i = 0; i < n; i++)
		kept += mm_privacy_flow(p, &f[i], &tmp) != NULL;
	const struct mm_privacy_stats s0 = *mm_privacy_stats(p);
	t0 = now_s();
	do {
		for (size_t i = 0; i < n; i++) {
			const struct mm_flow *o = mm_privacy_flow(p, &f[i], &tmp);
			kept += o != NULL && o->src_addr[15] != 0x5a; /* keep the result alive */
		}
		recs += n;
		t = now_s() - t0;
	} while (t < seconds);
	const struct mm_privacy_stats *s1 = mm_privacy_stats(p);
	uint64_t h = s1->cache_hits - s0.cache_hits, m = s1->cache_misses - s0.cache_misses;
	if (kept == 0)
		fprintf(stderr, "(nothing kept)\n");
	return (struct result){ 1e9 * t / (double)recs, h + m ? (double)h / (double)(h + m) : -1 };
}

int main(int argc, char **argv)
{
	static const uint8_t key[32] = { 21, 34, 23, 141, 51, 164, 207, 128, 19, 10, 91, 22, 73, 144, 125, 16,
					 216, 152, 143, 131, 121, 121, 101, 39, 98, 87, 76, 45, 42, 132, 34, 2 };
	double seconds = 1.0;
	size_t nrec = 1000000;
	uint32_t hosts = 100000, peers = 1000000, cache = 1048576;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--seconds") == 0)
			seconds = atof(argv[i + 1]);
		else if (strcmp(argv[i], "--records") == 0)
			nrec = strtoull(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--hosts") == 0)
			hosts = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--peers") == 0)
			peers = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else if (strcmp(argv[i], "--cache") == 0)
			cache = (uint32_t)strtoul(argv[i + 1], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_privacy [--seconds S] [--records N] [--hosts N] [--peers N] "
					"[--cache N]\n");
			return 2;
		}
	}
	if (nrec == 0 || hosts == 0 || peers == 0)
		return 2;

	struct mm_cryptopan *cp = mm_cryptopan_new(key);
	struct mm_prefix prot[16];
	for (int i = 0; i < 16; i++) {
		uint8_t v4[4] = { 192, 0, (uint8_t)(2 + i), 0 };
		memset(&prot[i], 0, sizeof(prot[i]));
		mm_addr_set4(prot[i].addr, v4);
		prot[i].len = 120;
		prot[i].af = 4;
	}
	if (cp == NULL)
		return 1;

	/* one mapping, no cache */
	{
		uint8_t a[16], o[16];
		uint64_t s = 7, n = 0, cnt = 0;
		double t0 = now_s(), t;
		do {
			for (int i = 0; i < 1000; i++) {
				addr_of((uint32_t)rng_next(&s), 0, 10, a);
				mm_cryptopan_addr(cp, a, o);
				n += o[15] & 1;
			}
			cnt += 1000;
			t = now_s() - t0;
		} while (t < seconds / 2);
		double ns4 = 1e9 * t / (double)cnt;
		cnt = 0;
		t0 = now_s();
		do {
			for (int i = 0; i < 1000; i++) {
				addr_of((uint32_t)rng_next(&s), 1, 0xdb8, a);
				mm_cryptopan_addr(cp, a, o);
				n += o[15] & 1;
			}
			cnt += 1000;
			t = now_s() - t0;
		} while (t < seconds / 2);
		double ns6 = 1e9 * t / (double)cnt;
		printf("Crypto-PAn, one address (AES-128 via libcrypto EVP, %s): IPv4 %.0f ns, IPv6 %.0f ns%s\n",
		       "ECB over the address's blocks", ns4, ns6, n == 0 ? " (?)" : "");
	}

	printf("records: %zu, monitored hosts %u, peers %u (Zipf-like), cache %u entries; ns/record (hit ratio)\n",
	       nrec, hosts, peers, cache);
	printf("%-8s %-10s %12s %12s %18s %18s\n", "family", "peers", "off", "protect", "pseudonyms", "pseudonyms+cache");
	for (int v6 = 0; v6 <= 1; v6++)
		for (int spoofed = 0; spoofed <= 1; spoofed++) {
			struct mm_flow *f = make(nrec, hosts, peers, v6, spoofed);
			struct mm_privacy *off = mm_privacy_new(NULL, 0, NULL, 0);
			struct mm_privacy *pr = mm_privacy_new(prot, 16, NULL, 0);
			struct mm_privacy *nc = mm_privacy_new(prot, 16, cp, 0);
			struct mm_privacy *wc = mm_privacy_new(prot, 16, cp, cache);
			if (f == NULL || off == NULL || pr == NULL || nc == NULL || wc == NULL) {
				fprintf(stderr, "out of memory\n");
				return 1;
			}
			struct result a = run(off, f, nrec, seconds), b = run(pr, f, nrec, seconds);
			struct result c = run(nc, f, nrec, seconds), d = run(wc, f, nrec, seconds);
			printf("%-8s %-10s %12.1f %12.1f %18.1f %11.1f (%.3f)\n", v6 ? "IPv6" : "IPv4",
			       spoofed ? "spoofed" : "zipf", a.ns, b.ns, c.ns, d.ns, d.hit);
			mm_privacy_free(off);
			mm_privacy_free(pr);
			mm_privacy_free(nc);
			mm_privacy_free(wc);
			free(f);
		}
	mm_cryptopan_free(cp);
	return 0;
}
