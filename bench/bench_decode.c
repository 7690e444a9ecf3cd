/*
 * bench_decode - decoder throughput on one core: records/s per format.
 *
 * Loads every export datagram of a capture into memory, then decodes them
 * again and again through mm_decode (templates stay cached, as in a live
 * collector) for at least --seconds, and reports the median of --runs runs.
 * The sink only sums counters, so the figure is the decoder's own cost.
 *
 *   bench_decode [--seconds S] [--runs N] FILE.pcap...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mamori/capture.h"
#include "mamori/decode.h"

struct dgram {
	uint8_t src[16];
	uint8_t *p;
	size_t len;
};

struct load {
	struct dgram *d;
	size_t n, cap;
};

static int on_datagram(void *arg, const uint8_t src[16], int af, uint16_t sport, const uint8_t *p, size_t len,
		       uint64_t ts)
{
	(void)af;
	(void)sport;
	(void)ts;
	struct load *l = arg;
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->d = realloc(l->d, l->cap * sizeof(*l->d));
		if (l->d == NULL)
			abort();
	}
	struct dgram *g = &l->d[l->n++];
	memcpy(g->src, src, 16);
	g->p = malloc(len);
	if (g->p == NULL)
		abort();
	memcpy(g->p, p, len);
	g->len = len;
	return 0;
}

static void sink(void *arg, const struct mm_flow *f)
{
	*(uint64_t *)arg += f->bytes_scaled;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	double seconds = 2.0;
	int runs = 3, i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc)
			runs = atoi(argv[++i]);
		else {
			fprintf(stderr, "usage: bench_decode [--seconds S] [--runs N] FILE.pcap...\n");
			return 2;
		}
	}
	if (runs < 1 || runs > 99)
		runs = 3;
	printf("%-50s %12s %14s %10s\n", "capture", "records", "records/s", "ns/record");
	for (; i < argc; i++) {
		struct load l = { 0 };
		char err[256];
		if (mm_capture_read(argv[i], on_datagram, &l, NULL, err, sizeof(err)) < 0 || l.n == 0) {
			fprintf(stderr, "bench_decode: %s: %s\n", argv[i], l.n ? err : "no datagrams");
			return 1;
		}
		struct mm_decode_limits lim;
		mm_decode_limits_default(&lim);
		double rate[99];
		uint64_t per_pass = 0;
		for (int r = 0; r < runs; r++) {
			/* one exporter per run; the first pass warms the template cache */
			struct mm_exporter *ex = mm_exporter_new(l.d[0].src, &lim);
			uint64_t acc = 0;
			struct mm_flow_sink s = { sink, &acc };
			for (size_t k = 0; k < l.n; k++)
				mm_decode(ex, l.d[k].p, l.d[k].len, 0, &s);
			uint64_t recs0 = ex->st.records;
			per_pass = recs0;
			double t0 = now_s(), t;
			do {
				for (size_t k = 0; k < l.n; k++)
					mm_decode(ex, l.d[k].p, l.d[k].len, 0, &s);
				t = now_s();
			} while (t - t0 < seconds);
			rate[r] = (double)(ex->st.records - recs0) / (t - t0);
			if (acc == 42)
				putchar(' '); /* keep acc alive */
			mm_exporter_free(ex);
		}
		qsort(rate, (size_t)runs, sizeof(double), cmp_double);
		double med = rate[runs / 2];
		const char *base = strrchr(argv[i], '/');
		printf("%-50s %12llu %14.0f %10.1f\n", base ? base + 1 : argv[i], (unsigned long long)per_pass, med,
		       1e9 / med);
		for (size_t k = 0; k < l.n; k++)
			free(l.d[k].p);
		free(l.d);
	}
	return 0;
}
