/*
 * bench_aggregate - the collector's per-host aggregation on one core:
 * records/s through mm_agg_add, the time to close a step, and memory per
 * tracked host, for 10 k, 100 k and 1 M active monitored hosts.
 *
 * The flows are generated once into an array of --records records (cheap
 * PRNG, outside the timed part) and replayed through mm_agg_add for at least
 * --seconds; the first pass, which inserts the hosts, is not timed.
 * Monitored space: IPv4 /24s (90 % of the hosts) and one IPv6 /48 (10 %),
 * so both address families and the trie fallback are on the path.  Half the
 * records are inbound (an external source, from a pool of --peers
 * addresses, to a random monitored host), half outbound.  Protocols: 60 %
 * TCP (a third SYN-only), 30 % UDP (a tenth from port 53), 10 % ICMP; half
 * the flows last 0 s, the rest up to 20 s (spread over 2 steps, some late).
 * The "spoofed" row draws every external source at random instead, so the
 * external table replaces an entry on almost every inbound record.
 * Times are the thread's CPU time, so that other jobs on a shared machine
 * do not count (their cache pressure still does).
 *
 *   bench_aggregate [--seconds S] [--records N] [--peers N] [--external N]
 *                   [--spoofed HOSTS] [--hosts N[,N...]]
 *
 * --external sets max_external (0: no external tracking); --spoofed 0
 * leaves out the spoofed row.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mamori/aggregate.h"

#define STEP_MS 10000
#define T0 1700000000000ull /* a step boundary */

static uint64_t rng_next(uint64_t *s)
{
	/* splitmix64 */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* The thread's CPU time, not the wall clock: on a shared machine the time
 * spent descheduled is not ours. */
static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = 0;
	fclose(f);
	return rss * (sysconf(_SC_PAGESIZE) / 1024);
}

/* Monitored host i: 10.a.b.c for 9 of 10, 2001:db8:0:0::i for the rest. */
static void host_addr(uint32_t i, uint8_t a[16])
{
	if (i % 10 != 9) {
		uint32_t v = i - i / 10; /* dense numbering of the v4 hosts */
		uint8_t v4[4] = { 10, (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
		mm_addr_set4(a, v4);
	} else {
		memset(a, 0, 16);
		a[0] = 0x20;
		a[1] = 0x01;
		a[2] = 0x0d;
		a[3] = 0xb8;
		a[12] = (uint8_t)(i >> 24);
		a[13] = (uint8_t)(i >> 16);
		a[14] = (uint8_t)(i >> 8);
		a[15] = (uint8_t)i;
	}
}

static void external_addr(uint64_t r, int v6, uint8_t a[16])
{
	if (!v6) {
		/* 100.64.0.0 .. 223.x: never inside 10/8 */
		uint8_t v4[4] = { (uint8_t)(100 + (r % 120)), (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24) };
		mm_addr_set4(a, v4);
	} else {
		memset(a, 0, 16);
		a[0] = 0x2a;
		a[1] = 0x00;
		memcpy(a + 8, &r, 8);
	}
}

static void gen(struct mm_flow *f, size_t n, uint32_t hosts, uint32_t peers, int spoof, uint64_t seed)
{
	uint64_t s = seed;

	for (size_t i = 0; i < n; i++) {
		uint64_t r = rng_next(&s), r2 = rng_next(&s);
		uint32_t h = (uint32_t)(r % hosts);
		uint8_t ha[16], xa[16];
		unsigned pr = (unsigned)((r >> 32) % 10);
		uint64_t pk = 1 + (r2 % 20);

		memset(&f[i], 0, sizeof(f[i]));
		host_addr(h, ha);
		external_addr(spoof ? rng_next(&s) : (r2 >> 16) % peers, h % 10 == 9, xa);
		if ((r >> 40) & 1) {
			memcpy(f[i].src_addr, xa, 16);
			memcpy(f[i].dst_addr, ha, 16);
		} else {
			memcpy(f[i].src_addr, ha, 16);
			memcpy(f[i].dst_addr, xa, 16);
		}
		f[i].af = h % 10 == 9 ? 6 : 4;
		if (pr < 6) {
			f[i].proto = 6;
			f[i].tcp_flags = (r2 >> 8) % 3 == 0 ? 0x02 : 0x1b;
			f[i].src_port = (uint16_t)(1024 + (r2 >> 24) % 60000);
			f[i].dst_port = (uint16_t)((r2 >> 40) % 4 == 0 ? 22 : 443);
		} else if (pr < 9) {
			f[i].proto = 17;
			f[i].src_port = (uint16_t)((r2 >> 24) % 10 == 0 ? 53 : 1024 + (r2 >> 32) % 60000);
			f[i].dst_port = 53;
		} else {
			f[i].proto = 1;
			f[i].dst_port = 8 << 8;
		}
		f[i].packets = pk;
		f[i].bytes = pk * (40 + (r2 >> 48) % 1400);
		f[i].sampling_rate = 1;
		f[i].packets_scaled = f[i].packets;
		f[i].bytes_scaled = f[i].bytes;
		/* start within the last step before "now" (T0 + 15 s) */
		f[i].start_ms = T0 + 5000 + (r >> 44) % 10000;
		f[i].end_ms = f[i].start_ms + ((r >> 50) & 1 ? (r2 >> 52) % 20000 : 0);
	}
}

struct count_sink {
	uint64_t hosts, steps;
};

static void cs_begin(void *arg, uint64_t step, uint32_t n)
{
	(void)step;
	(void)n;
	((struct count_sink *)arg)->steps++;
}

static void cs_host(void *arg, uint64_t step, const uint8_t addr[16], unsigned group, int external,
		    const struct mm_hoststep *hs)
{
	(void)step;
	(void)addr;
	(void)group;
	(void)external;
	(void)hs;
	((struct count_sink *)arg)->hosts++;
}

static int run(uint32_t hosts, uint32_t max_ext, const struct mm_flow *recs, size_t nrecs, double seconds,
	       const char *label)
{
	struct mm_agg_config cfg;
	uint32_t nv4 = hosts - hosts / 10, n24 = (nv4 + 255) / 256;
	struct mm_prefix *pfx = calloc(n24 + 1, sizeof(*pfx));
	struct count_sink cs = { 0, 0 };
	struct mm_step_sink sink = { cs_begin, cs_host, NULL, &cs };
	long rss0, rss1;
	double t0, t1, c0, c1;
	uint64_t done = 0;

	if (pfx == NULL)
		return -1;
	/* one /24 per 256 IPv4 hosts (the trie fallback for new hosts), one /48 */
	for (uint32_t i = 0; i < n24; i++) {
		uint8_t v4[4] = { 10, (uint8_t)(i >> 8), (uint8_t)i, 0 };
		mm_addr_set4(pfx[i].addr, v4);
		pfx[i].len = 96 + 24;
		pfx[i].af = 4;
	}
	pfx[n24].addr[0] = 0x20;
	pfx[n24].addr[1] = 0x01;
	pfx[n24].addr[2] = 0x0d;
	pfx[n24].addr[3] = 0xb8;
	pfx[n24].len = 48;
	pfx[n24].af = 6;

	mm_agg_config_default(&cfg);
	cfg.step_ms = STEP_MS;
	cfg.late_steps = 1;
	cfg.max_hosts = hosts;
	cfg.max_external = max_ext;
	cfg.prefixes = pfx;
	cfg.nprefixes = n24 + 1;

	/* bytes per monitored host: what max_hosts adds to mm_agg_memory */
	cfg.max_hosts = 1;
	struct mm_agg *one = mm_agg_new(&cfg, T0 + 15000);
	if (one == NULL) {
		free(pfx);
		return -1;
	}
	size_t mem1 = mm_agg_memory(one);
	mm_agg_free(one);
	cfg.max_hosts = hosts;

	rss0 = rss_kib();
	struct mm_agg *a = mm_agg_new(&cfg, T0 + 15000);
	if (a == NULL) {
		free(pfx);
		return -1;
	}
	for (size_t i = 0; i < nrecs; i++) /* warm-up: inserts the hosts */
		mm_agg_add(a, &recs[i]);
	t0 = now_s();
	do {
		for (size_t i = 0; i < nrecs; i++)
			mm_agg_add(a, &recs[i]);
		done += nrecs;
		t1 = now_s();
	} while (t1 - t0 < seconds);
	rss1 = rss_kib();
	const struct mm_agg_stats *st = mm_agg_stats(a);
	uint32_t tracked = st->hosts_tracked, ext = st->external_tracked;
	uint64_t evicted = st->external_evicted, dropped = st->hosts_dropped;

	/* close both open steps: every tracked host had data in them */
	c0 = now_s();
	mm_agg_advance(a, T0 + 15000 + 2 * STEP_MS, &sink);
	c1 = now_s();
	double close_s = (c1 - c0) / (double)(cs.steps ? cs.steps : 1);
	double all = tracked + ext ? (double)tracked + ext : 1.0;

	printf("%-8s %9u %12.0f %8.1f %9u %7u %10.1f %10.1f %8.0f %8.0f %9llu %7llu\n", label, hosts,
	       (double)done / (t1 - t0), 1e9 * (t1 - t0) / (double)done, tracked, ext, 1e3 * close_s,
	       1e9 * close_s / all, (double)(mm_agg_memory(a) - mem1) / (hosts > 1 ? hosts - 1 : 1),
	       (double)(rss1 - rss0) * 1024.0 / all, (unsigned long long)evicted, (unsigned long long)dropped);
	fflush(stdout);
	mm_agg_free(a);
	free(pfx);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = 2.0;
	size_t nrecs = 1000000;
	uint32_t peers = 50000, max_ext = 65536, spoof = 100000;
	uint32_t hostv[8] = { 10000, 100000, 1000000 };
	unsigned nh = 3;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--records") == 0 && i + 1 < argc)
			nrecs = strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--spoofed") == 0 && i + 1 < argc)
			spoof = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--external") == 0 && i + 1 < argc)
			max_ext = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--peers") == 0 && i + 1 < argc)
			peers = (uint32_t)strtoul(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--hosts") == 0 && i + 1 < argc) {
			char *p = argv[++i];
			nh = 0;
			while (*p && nh < 8) {
				hostv[nh++] = (uint32_t)strtoul(p, &p, 10);
				if (*p == ',')
					p++;
			}
		} else {
			fprintf(stderr, "usage: bench_aggregate [--seconds S] [--records N] [--peers N] [--external N] "
				"[--spoofed N] "
					"[--hosts N[,N...]]\n");
			return 2;
		}
	}
	if (nrecs == 0 || peers == 0 || nh == 0)
		return 2;
	struct mm_flow *recs = malloc(nrecs * sizeof(*recs));
	if (recs == NULL) {
		perror("bench_aggregate");
		return 1;
	}
	printf("mm_agg_add on one core: %zu records replayed for >= %.1f s; step %d s, late_steps 1, "
	       "%u external peers\n",
	       nrecs, seconds, STEP_MS / 1000, peers);
	printf("times are the thread's CPU time; close = mm_agg_advance over one step (every tracked host,\n"
	       "monitored or external, had data in it) to a sink that does nothing; mem B/h = mm_agg_memory per\n"
	       "configured monitored host; rss B/h = RSS growth per tracked host (monitored + external)\n");
	printf("%-8s %9s %12s %8s %9s %7s %10s %10s %8s %8s %9s %7s\n", "flows", "hosts", "records/s", "ns/rec",
	       "tracked", "extern", "close ms", "ns/host", "mem B/h", "rss B/h", "evicted", "dropped");
	for (unsigned i = 0; i < nh; i++) {
		if (hostv[i] == 0)
			continue;
		gen(recs, nrecs, hostv[i], peers, 0, 42 + i);
		if (run(hostv[i], max_ext, recs, nrecs, seconds, "peers") < 0) {
			fprintf(stderr, "bench_aggregate: mm_agg_new failed for %u hosts\n", hostv[i]);
			return 1;
		}
	}
	/* the worst case for the external table: every inbound source new */
	if (spoof > 0) {
		gen(recs, nrecs, spoof, peers, 1, 7);
		if (run(spoof, max_ext, recs, nrecs, seconds, "spoofed") < 0)
			return 1;
	}
	free(recs);
	return 0;
}
