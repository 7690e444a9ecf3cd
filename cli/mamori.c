/*
 * mamori - the analysts' and researchers' command.
 *
 *   mamori [-c FILE] host ADDR [--last N | --range FIRST:N | --all] [--json]
 *
 * `host` shows what a host did over a window read from Redis: every
 * collector's contribution summed, counters (sampling-scaled), distinct
 * peers and ports (HyperLogLog estimates), top peers and ports, and which
 * collectors saw it.  Baselines and alerts join it with the detector.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mamori/config.h"
#include "mamori/redis_schema.h"
#include "mamori/window.h"

#define DEFAULT_CONFIG "/etc/mamori/mamori.conf"

static void usage(FILE *f)
{
	fprintf(f, "usage: mamori [-c FILE] host ADDR [--last N | --range FIRST:N | --all] [--json]\n"
		   "  host ADDR        a host's window from Redis, all collectors summed\n"
		   "    --last N       the last N complete steps (default: [window] steps)\n"
		   "    --range F:N    N steps from step number F (replays run on their own clock)\n"
		   "    --all          every step Redis still holds for the host\n"
		   "    --json         one JSON object instead of the table\n"
		   "  -c FILE          configuration (default " DEFAULT_CONFIG ")\n");
}

static void print_addr_top(const char *name, const struct mm_topk_addr *t, int json, int *first)
{
	char a[MM_REDIS_ADDR_MAX];
	if (json) {
		printf("%s\"%s\":[", *first ? "" : ",", name);
		*first = 0;
		int f = 1;
		for (int i = 0; i < MM_TOPK; i++)
			if (t[i].count) {
				mm_redis_addr_text(t[i].addr, a, sizeof(a));
				printf("%s{\"addr\":\"%s\",\"packets\":%" PRIu64 "}", f ? "" : ",", a, t[i].count);
				f = 0;
			}
		printf("]");
		return;
	}
	printf("  %-12s", name);
	for (int i = 0; i < MM_TOPK; i++)
		if (t[i].count) {
			mm_redis_addr_text(t[i].addr, a, sizeof(a));
			printf(" %s (%" PRIu64 ")", a, t[i].count);
		}
	printf("\n");
}

static void print_port_top(const char *name, const struct mm_topk_port *t, int json, int *first)
{
	if (json) {
		printf("%s\"%s\":[", *first ? "" : ",", name);
		*first = 0;
		int f = 1;
		for (int i = 0; i < MM_TOPK; i++)
			if (t[i].count) {
				printf("%s{\"port\":%u,\"packets\":%" PRIu64 "}", f ? "" : ",", t[i].port, t[i].count);
				f = 0;
			}
		printf("]");
		return;
	}
	printf("  %-12s", name);
	for (int i = 0; i < MM_TOPK; i++)
		if (t[i].count)
			printf(" %u (%" PRIu64 ")", t[i].port, t[i].count);
	printf("\n");
}

static int cmd_host(const struct mm_config *cfg, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "last", required_argument, NULL, 'l' }, { "range", required_argument, NULL, 'r' },
		{ "all", no_argument, NULL, 'a' },        { "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t first = 0, nsteps = cfg->window_steps;
	int json = 0, all = 0, range = 0, ch;
	char err[256], *end;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'l':
			nsteps = strtoull(optarg, &end, 10);
			if (*end || nsteps == 0 || nsteps > 100000) {
				fprintf(stderr, "mamori: --last %s: expected 1..100000\n", optarg);
				return 2;
			}
			break;
		case 'r':
			first = strtoull(optarg, &end, 10);
			if (*end != ':' || (nsteps = strtoull(end + 1, &end, 10), *end) || nsteps == 0 ||
			    nsteps > 100000) {
				fprintf(stderr, "mamori: --range %s: expected FIRST:N (N 1..100000)\n", optarg);
				return 2;
			}
			range = 1;
			break;
		case 'a': all = 1; break;
		case 'j': json = 1; break;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	uint8_t addr[16];
	if (mm_addr_parse(argv[optind], addr) < 0) {
		fprintf(stderr, "mamori: %s: not an IPv4 or IPv6 address\n", argv[optind]);
		return 2;
	}
	struct mm_redis_reader *r = mm_redis_reader_open(cfg, 5000, err, sizeof(err));
	if (r == NULL) {
		fprintf(stderr, "mamori: %s\n", err);
		return 1;
	}
	if (all) {
		uint64_t last = 0;
		long n = mm_redis_host_steps(r, addr, &first, &last);
		if (n < 0) {
			fprintf(stderr, "mamori: %s\n", mm_redis_reader_error(r));
			mm_redis_reader_close(r);
			return 1;
		}
		nsteps = n ? last - first + 1 : 1;
	} else if (!range) {
		/* the last complete steps: the current one is still open */
		first = (uint64_t)time(NULL) / cfg->step_s - cfg->late_steps - nsteps;
	}
	struct mm_hoststep hs;
	struct mm_redis_contrib who;
	int got = mm_redis_read_host(r, addr, first, (uint32_t)nsteps, &hs, &who);
	if (got < 0) {
		fprintf(stderr, "mamori: %s\n", mm_redis_reader_error(r));
		mm_redis_reader_close(r);
		return 1;
	}
	mm_redis_reader_close(r);

	if (json) {
		printf("{\"host\":\"%s\",\"first_step\":%" PRIu64 ",\"steps\":%" PRIu64 ",\"step_s\":%u,"
		       "\"steps_with_data\":%d,\"collectors\":[",
		       argv[optind], first, nsteps, cfg->step_s, got);
		for (unsigned i = 0; i < who.n; i++)
			printf("%s\"%s\"", i ? "," : "", who.id[i]);
		printf("],\"counters\":{");
		int f = 1;
		for (int c = 0; c < MM_C_COUNT; c++)
			if (hs.ctr[c]) {
				printf("%s\"%s\":%" PRIu64, f ? "" : ",", mm_ctr_name((enum mm_ctr)c), hs.ctr[c]);
				f = 0;
			}
		printf("},\"distinct\":{");
		for (int s = 0; s < MM_S_COUNT; s++)
			printf("%s\"%s\":%.0f", s ? "," : "", mm_sketch_name((enum mm_sketch)s),
			       mm_hll_estimate(&hs.hll[s]));
		printf("},\"top\":{");
		f = 1;
	} else {
		printf("host %s: steps %" PRIu64 "..%" PRIu64 " (%" PRIu64 " x %u s), %d with data, collectors:",
		       argv[optind], first, first + nsteps - 1, nsteps, cfg->step_s, got);
		for (unsigned i = 0; i < who.n; i++)
			printf(" %s", who.id[i]);
		printf("%s\n", who.n ? "" : " none");
		for (int c = 0; c < MM_C_COUNT; c++)
			if (hs.ctr[c])
				printf("  %-22s %20" PRIu64 "  (%.1f/s)\n", mm_ctr_name((enum mm_ctr)c), hs.ctr[c],
				       (double)hs.ctr[c] / ((double)nsteps * cfg->step_s));
		for (int s = 0; s < MM_S_COUNT; s++)
			printf("  distinct %-13s %20.0f  (HyperLogLog, +-13%%)\n", mm_sketch_name((enum mm_sketch)s),
			       mm_hll_estimate(&hs.hll[s]));
	}
	int f = 1;
	print_addr_top("peers_in", hs.peers_in, json, &f);
	print_addr_top("peers_out", hs.peers_out, json, &f);
	print_port_top("dports_in", hs.ports[MM_T_DPORTS_IN], json, &f);
	print_port_top("sports_in", hs.ports[MM_T_SPORTS_IN], json, &f);
	print_port_top("dports_out", hs.ports[MM_T_DPORTS_OUT], json, &f);
	if (json)
		printf("}}\n");
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = DEFAULT_CONFIG;
	struct mm_config cfg;
	int i = 1;

	if (argc > 2 && strcmp(argv[1], "-c") == 0) {
		path = argv[2];
		i = 3;
	}
	if (i >= argc || strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
		usage(i >= argc ? stderr : stdout);
		return i >= argc ? 2 : 0;
	}
	if (mm_config_load(&cfg, path, stderr) != 0) {
		mm_config_free(&cfg);
		return 1;
	}
	int r;
	if (strcmp(argv[i], "host") == 0) {
		r = cmd_host(&cfg, argc - i, argv + i);
	} else {
		fprintf(stderr, "mamori: unknown command '%s'\n", argv[i]);
		usage(stderr);
		r = 2;
	}
	mm_config_free(&cfg);
	return r;
}
