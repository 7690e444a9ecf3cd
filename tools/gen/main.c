/*
 * main.c - mamori-gen: command line, validation, orchestration.
 * Usage: mamori-gen -h, and docs/generator.md.
 *
 * Exit status: 0 done, 1 run-time failure (socket, file), 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gen.h"

#define DEF_HOSTS 10000u
#define DEF_SAMPLING 1000u
#define DEF_DURATION 60.0
#define DEF_STEP_RATE 2000.0
#define DEF_START_PCAP 1700000000ull
#define DEF_TEMPLATE_EVERY 20u
#define DEF_BATCH 64u

static volatile sig_atomic_t stop_flag;
/* "FILE:LINE: " while a --scenario file's values are applied, else "" */
static char where[320];
static unsigned where_line;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

struct opts {
	const struct gen_fmt *fmt;
	uint64_t seed;
	uint32_t hosts;
	struct gen_prefix prefixes[GEN_MAX_PREFIXES];
	unsigned nprefixes;
	uint32_t sampling;
	double duration;    /* < 0: not given */
	double step_rate;
	int64_t start;      /* < 0: default */
	struct gen_attack attacks[GEN_MAX_ATTACKS];
	unsigned nattacks;
	struct gen_benign benign[GEN_MAX_ATTACKS];
	unsigned nbenign;
	double cycle_day, cycle_weekend;
	double onoff_share, onoff_period; /* clients' on/off sessions, 0 = off */
	const char *scenario;
	unsigned aline[GEN_MAX_ATTACKS], bline[GEN_MAX_ATTACKS]; /* the --scenario line, 0: command line */
	unsigned char given[512]; /* options given on the command line, by code */
	const char *truth, *dump, *pcap, *send;
	int pace;           /* GEN_PACE_* */
	double rate;
	uint64_t count;
	unsigned batch;
	unsigned pool;
	unsigned rpd;
	unsigned template_every;
	uint8_t exporter4[4];
	int has_exporter;
	uint32_t domain;
	int legacy_sampling;
	const char *payload; /* --sflow-payload */
	int allow_remote;
	uint8_t dst[16];
	int dst_af;
	uint16_t dport;
	uint8_t pcap_dst4[4];
	uint16_t pcap_dport;
	int rate_given, count_given, batch_given, pool_given, pcap_dst_given;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: mamori-gen [-f v5|v9|ipfix|sflow] [-s SEED] [--hosts N] [--prefix P]... [--sampling N]\n"
		"                  [--duration SECONDS] [--step-rate RECORDS_PER_S] [--start UNIX_TS]\n"
		"                  [--attack CLASS:key=val,key=val ...]... [--benign KIND:key=val,...]...\n"
		"                  [--cycle day=A,weekend=W] [--scenario FILE] [--truth FILE] [--dump FILE]\n"
		"                  (--send HOST:PORT [--rate RECORDS_PER_S|--rate max] [--count N]\n"
		"                   [--batch N] [--pool N] [--allow-remote]\n"
		"                   | --pcap FILE [--pcap-dst ADDR:PORT] [--count N])\n"
		"                  [--records-per-datagram N] [--template-every N] [--exporter ADDR]\n"
		"                  [--domain N] [--sampling-ies psamp|legacy] [--sflow-payload TEXT]\n"
		"\n"
		"mamori's flow exporter: a seeded background of many hosts plus labelled attacks,\n"
		"encoded as NetFlow v5, v9, IPFIX or sFlow v5 and sent over UDP or written to a\n"
		"pcap file.\n"
		"\n"
		"Scenario\n"
		"  -f, --format F          v5, v9 (default), ipfix or sflow (one flow sample per\n"
		"                          sampled packet, raw Ethernet/IP/L4 headers)\n"
		"  -s, --seed N            PRNG seed (default 1); same arguments = same output\n"
		"  --hosts N               monitored hosts (default %u, at most %u)\n"
		"  --prefix P              monitored prefix, repeatable (default 10.0.0.0/16)\n"
		"  --sampling N            1:N packet sampling applied to the flows (default %u)\n"
		"  --duration S            scenario seconds (default %g; unlimited with --count;\n"
		"                          with --pool: wall-clock seconds)\n"
		"  --step-rate R           background flow records per scenario second (default %g)\n"
		"  --start T               scenario start, Unix seconds or 'now' (default: %llu\n"
		"                          with --pcap, now with --send)\n"
		"  --attack SPEC           inject an attack, repeatable (see below)\n"
		"  --benign SPEC           inject a benign look-alike, repeatable: flash_crowd, cdn,\n"
		"                          backup, update_check (docs/scenarios.md)\n"
		"  --cycle day=A,weekend=W daily cycle of the background rate (amplitude A < 1,\n"
		"                          peak 15:00 UTC) and weekend factor W; 'off' (default)\n"
		"  --onoff on=P,period=S   bursty clients: each is active in a share P of its\n"
		"                          S-second periods, idle in the others; 'off' (default)\n"
		"  --scenario FILE         read the settings above from FILE (KEY VALUE lines);\n"
		"                          options given on the command line win\n"
		"  --truth FILE            write the ground truth (tab-separated)\n"
		"  --dump FILE             write every generated record (tab-separated)\n"
		"\n"
		"Output (one of)\n"
		"  --send HOST:PORT        UDP to a collector (loopback only unless --allow-remote)\n"
		"    --rate R|max          flow records per wall second (k/M suffixes), or max;\n"
		"                          default: real time (one scenario second per second)\n"
		"    --count N             stop after N flow records (k/M suffixes)\n"
		"    --batch N             datagrams per sendmmsg (default %u)\n"
		"    --pool N              benchmark mode: encode N background datagrams once and\n"
		"                          send them in a loop, patching only sequence numbers and\n"
		"                          timestamps (wall clock); no attacks\n"
		"    --allow-remote        permit a non-loopback destination\n"
		"  --pcap FILE             classic pcap, Ethernet/IPv4/UDP, scenario-clock timestamps\n"
		"    --pcap-dst ADDR:PORT  destination in the pcap (default 127.0.0.1:2055;\n"
		"                          sflow: 127.0.0.1:6343)\n"
		"\n"
		"Exporter\n"
		"  --records-per-datagram N  records per datagram (default: as many as fit a\n"
		"                          1500-byte MTU; v5 at most 30)\n"
		"  --template-every N      re-send templates and sampling options every N data\n"
		"                          datagrams (default %u; 0 = at start only)\n"
		"  --exporter ADDR         exporter IPv4 address: pcap source (default 127.0.0.1),\n"
		"                          bound as the source with --send (e.g. 127.0.0.2);\n"
		"                          sFlow: also the agent address\n"
		"  --domain N              v9 source id / IPFIX observation domain / v5 engine\n"
		"                          (type = N>>8, id = N&255) / sFlow sub-agent id\n"
		"                          (default 0)\n"
		"  --sampling-ies S        IPFIX sampling options: psamp (305/306, default) or\n"
		"                          legacy (34/35)\n"
		"  --sflow-payload TEXT    sflow: packets carry TEXT (repeated) after their headers\n"
		"                          and raw headers copy up to 128 bytes of the frame, as\n"
		"                          agents do (to test that no payload is kept)\n"
		"  -h, --help              this text\n"
		"\n",
		DEF_HOSTS, GEN_MAX_HOSTS, DEF_SAMPLING, DEF_DURATION, DEF_STEP_RATE, DEF_START_PCAP, DEF_BATCH,
		DEF_TEMPLATE_EVERY);
	gen_attack_usage(out);
	fprintf(out,
		"\nExample:\n"
		"  mamori-gen -f ipfix --duration 600 --pcap out.pcap --truth truth.tsv \\\n"
		"      --attack syn_flood:victim=10.0.1.3,start=120,end=300,pps=200 \\\n"
		"      --attack amplification:vector=ntp,mbps=50,reflectors=40,start=400,end=500\n"
		"  mamori-gen -f v5 --send 127.0.0.1:2055 --rate 3M --count 30M --pool 4096\n");
}

static int fail_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "mamori-gen: %s", where);
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (mamori-gen -h for help)\n");
	return 2;
}

/* Unsigned decimal with an optional k/M/G suffix ("30M", "1.5k"). */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	char num[64], *end;
	size_t len = strlen(s);
	uint64_t mult = 1;

	if (len == 0 || len >= sizeof(num) || s[0] < '0' || s[0] > '9')
		return -1;
	switch (s[len - 1]) {
	case 'k':
	case 'K':
		mult = 1000;
		break;
	case 'M':
		mult = 1000000;
		break;
	case 'G':
		mult = 1000000000;
		break;
	}
	if (mult > 1)
		len--;
	memcpy(num, s, len);
	num[len] = '\0';
	if (strchr(num, '.')) {
		errno = 0;
		double d = strtod(num, &end);
		if (errno || *end != '\0' || !(d >= 0) || d * (double)mult >= 1.8e19)
			return -1;
		d *= (double)mult;
		if (d != floor(d) || d > (double)max)
			return -1;
		*out = (uint64_t)d;
		return 0;
	}
	errno = 0;
	unsigned long long v = strtoull(num, &end, 10);
	if (errno || end == num || *end != '\0' || v > max / mult)
		return -1;
	*out = (uint64_t)v * mult;
	return 0;
}

static int parse_pos_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(s, &end);
	if (errno || end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		d *= 1e3, end++;
	else if (*end == 'M')
		d *= 1e6, end++;
	if (*end != '\0' || !isfinite(d) || d < 0)
		return -1;
	*out = d;
	return 0;
}

/* "a.b.c.d:port", "[v6]:port", "localhost:port". */
static int parse_hostport(const char *s, uint8_t addr[16], uint16_t *port)
{
	char host[64];
	const char *colon;
	size_t hl;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':')
			return -1;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s + 1, hl);
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, s, hl);
	}
	host[hl] = '\0';
	uint64_t p;
	if (parse_u64(colon + 1, 65535, &p) < 0 || p == 0)
		return -1;
	*port = (uint16_t)p;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	return gen_addr_parse(host, addr);
}

static int is_loopback(const uint8_t a[16], int af)
{
	static const uint8_t lo6[16] = { [15] = 1 };
	if (af == 4)
		return a[12] == 127;
	return memcmp(a, lo6, 16) == 0;
}

enum {
	O_HOSTS = 256, O_PREFIX, O_SAMPLING, O_DURATION, O_STEP_RATE, O_START, O_ATTACK, O_TRUTH, O_DUMP,
	O_SEND, O_RATE, O_COUNT, O_BATCH, O_POOL, O_PCAP, O_PCAP_DST, O_RPD, O_TEMPLATE_EVERY, O_EXPORTER,
	O_DOMAIN, O_SAMPLING_IES, O_ALLOW_REMOTE, O_SCENARIO, O_BENIGN, O_CYCLE, O_ONOFF, O_SFLOW_PAYLOAD,
};

static const struct option longopts[] = {
	{ "format", required_argument, NULL, 'f' },
	{ "seed", required_argument, NULL, 's' },
	{ "help", no_argument, NULL, 'h' },
	{ "hosts", required_argument, NULL, O_HOSTS },
	{ "prefix", required_argument, NULL, O_PREFIX },
	{ "sampling", required_argument, NULL, O_SAMPLING },
	{ "duration", required_argument, NULL, O_DURATION },
	{ "step-rate", required_argument, NULL, O_STEP_RATE },
	{ "start", required_argument, NULL, O_START },
	{ "attack", required_argument, NULL, O_ATTACK },
	{ "truth", required_argument, NULL, O_TRUTH },
	{ "dump", required_argument, NULL, O_DUMP },
	{ "send", required_argument, NULL, O_SEND },
	{ "rate", required_argument, NULL, O_RATE },
	{ "count", required_argument, NULL, O_COUNT },
	{ "batch", required_argument, NULL, O_BATCH },
	{ "pool", required_argument, NULL, O_POOL },
	{ "pcap", required_argument, NULL, O_PCAP },
	{ "pcap-dst", required_argument, NULL, O_PCAP_DST },
	{ "records-per-datagram", required_argument, NULL, O_RPD },
	{ "template-every", required_argument, NULL, O_TEMPLATE_EVERY },
	{ "exporter", required_argument, NULL, O_EXPORTER },
	{ "domain", required_argument, NULL, O_DOMAIN },
	{ "sampling-ies", required_argument, NULL, O_SAMPLING_IES },
	{ "allow-remote", no_argument, NULL, O_ALLOW_REMOTE },
	{ "scenario", required_argument, NULL, O_SCENARIO },
	{ "benign", required_argument, NULL, O_BENIGN },
	{ "cycle", required_argument, NULL, O_CYCLE },
	{ "onoff", required_argument, NULL, O_ONOFF },
	{ "sflow-payload", required_argument, NULL, O_SFLOW_PAYLOAD },
	{ NULL, 0, NULL, 0 },
};

/* "KEY=V,..." with each KEY one of keys[n] (at most once), V a number >= 0:
 * vals[i] and bit i of *seen for each; "off" sets nothing.  -1 on
 * anything else. */
static int parse_kv(const char *arg, const char *const *keys, unsigned n, double *vals, unsigned *seen)
{
	char buf[128];
	*seen = 0;
	if (strcmp(arg, "off") == 0)
		return 0;
	if (strlen(arg) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", arg);
	for (char *save, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		unsigned i = 0;
		if (!eq)
			return -1;
		*eq = '\0';
		while (i < n && strcmp(kv, keys[i]) != 0)
			i++;
		if (i == n || (*seen & 1u << i) || parse_pos_double(eq + 1, &vals[i]) < 0)
			return -1;
		*seen |= 1u << i;
	}
	return 0;
}

/* '--onoff': "off" or "on=P,period=S" (both). */
static int parse_onoff(const char *arg, double *share, double *period)
{
	static const char *const keys[] = { "on", "period" };
	double v[2];
	unsigned seen;
	*share = *period = 0;
	if (parse_kv(arg, keys, 2, v, &seen) < 0)
		return -1;
	if (seen == 0)
		return strcmp(arg, "off") == 0 ? 0 : -1;
	if (seen != 3 || !(v[0] > 0 && v[0] <= 1) || v[1] < 10 || v[1] > 86400)
		return -1;
	*share = v[0];
	*period = v[1];
	return 0;
}

/* '--cycle': "off" or "day=A,weekend=W" (either). */
static int parse_cycle(const char *arg, double *day, double *weekend)
{
	static const char *const keys[] = { "day", "weekend" };
	double v[2];
	unsigned seen;
	*day = *weekend = 0;
	if (parse_kv(arg, keys, 2, v, &seen) < 0 || (strcmp(arg, "off") != 0 && seen == 0))
		return -1;
	if ((seen & 1) && !(v[0] < 1))
		return -1;
	if ((seen & 2) && !(v[1] > 0 && v[1] <= 4))
		return -1;
	*day = seen & 1 ? v[0] : 0;
	*weekend = seen & 2 ? v[1] : 0;
	return 0;
}

/* One option's value (from the command line or a --scenario file):
 * 0, or 2 after a usage message. */
static int apply_opt(struct opts *o, int c, const char *arg)
{
	char err[GEN_ERRLEN];
	uint64_t v;

	switch (c) {
		case 'f':
			o->fmt = gen_fmt_find(arg);
			if (!o->fmt)
				return fail_usage("-f '%s': use v5, v9, ipfix or sflow", arg);
			break;
		case 's':
			if (parse_u64(arg, UINT64_MAX, &o->seed) < 0) {
				/* full 64-bit seeds: strtoull */
				char *end;
				errno = 0;
				o->seed = strtoull(arg, &end, 0);
				if (errno || *end || end == arg || arg[0] == '-')
					return fail_usage("-s '%s': the seed is an unsigned integer", arg);
			}
			break;
		case O_HOSTS:
			if (parse_u64(arg, GEN_MAX_HOSTS, &v) < 0 || v == 0)
				return fail_usage("--hosts '%s': 1..1000000", arg);
			o->hosts = (uint32_t)v;
			break;
		case O_PREFIX:
			if (o->nprefixes == GEN_MAX_PREFIXES)
				return fail_usage("--prefix '%s': too many prefixes (64 at most)", arg);
			if (gen_prefix_parse(arg, &o->prefixes[o->nprefixes], err, sizeof(err)) < 0) {
				fprintf(stderr, "mamori-gen: %s--prefix: %s\n", where, err);
				return 2;
			}
			for (unsigned j = 0; j < o->nprefixes; j++)
				if (gen_prefix_overlap(&o->prefixes[j], &o->prefixes[o->nprefixes]))
					return fail_usage("--prefix '%s' overlaps an earlier --prefix", arg);
			o->nprefixes++;
			break;
		case O_SAMPLING:
			if (parse_u64(arg, 1000000, &v) < 0 || v == 0)
				return fail_usage("--sampling '%s': 1..1000000 (1 = unsampled)", arg);
			o->sampling = (uint32_t)v;
			break;
		case O_DURATION:
			if (parse_pos_double(arg, &o->duration) < 0 || o->duration <= 0 || o->duration > 1e8)
				return fail_usage("--duration '%s': seconds > 0", arg);
			break;
		case O_STEP_RATE:
			if (parse_pos_double(arg, &o->step_rate) < 0 || o->step_rate > 1e9)
				return fail_usage("--step-rate '%s': records per second >= 0", arg);
			break;
		case O_START:
			if (strcmp(arg, "now") == 0) {
				o->start = (int64_t)time(NULL);
			} else {
				if (parse_u64(arg, UINT32_MAX - 86400ull * 365, &v) < 0 || v < 86400)
					return fail_usage("--start '%s': Unix seconds (>= 86400, 32-bit) or 'now'", arg);
				o->start = (int64_t)v;
			}
			break;
		case O_ATTACK:
			if (o->nattacks == GEN_MAX_ATTACKS)
				return fail_usage("--attack '%s': too many attacks (64 at most)", arg);
			if (gen_attack_parse(arg, &o->attacks[o->nattacks], err, sizeof(err)) < 0) {
				fprintf(stderr, "mamori-gen: %s%s\n", where, err);
				return 2;
			}
			o->aline[o->nattacks] = where_line;
			o->nattacks++;
			break;
		case O_TRUTH:
			o->truth = arg;
			break;
		case O_DUMP:
			o->dump = arg;
			break;
		case O_SEND:
			o->send = arg;
			o->dst_af = parse_hostport(arg, o->dst, &o->dport);
			if (o->dst_af < 0)
				return fail_usage("--send '%s': HOST:PORT with a numeric address ([v6]:port)", arg);
			break;
		case O_RATE:
			o->rate_given = 1;
			if (strcmp(arg, "max") == 0) {
				o->pace = GEN_PACE_MAX;
			} else {
				if (parse_pos_double(arg, &o->rate) < 0 || o->rate <= 0 || o->rate > 1e9)
					return fail_usage("--rate '%s': records per second (k/M suffixes) or max", arg);
				o->pace = GEN_PACE_RATE;
			}
			break;
		case O_COUNT:
			o->count_given = 1;
			if (parse_u64(arg, UINT64_MAX / 2, &o->count) < 0 || o->count == 0)
				return fail_usage("--count '%s': a positive number of records (k/M/G suffixes)", arg);
			break;
		case O_BATCH:
			o->batch_given = 1;
			if (parse_u64(arg, 1024, &v) < 0 || v == 0)
				return fail_usage("--batch '%s': 1..1024 datagrams", arg);
			o->batch = (unsigned)v;
			break;
		case O_POOL:
			o->pool_given = 1;
			if (parse_u64(arg, 1u << 20, &v) < 0 || v == 0)
				return fail_usage("--pool '%s': 1..1048576 datagrams", arg);
			o->pool = (unsigned)v;
			break;
		case O_PCAP:
			o->pcap = arg;
			break;
		case O_PCAP_DST: {
			uint8_t a[16];
			if (parse_hostport(arg, a, &o->pcap_dport) != 4)
				return fail_usage("--pcap-dst '%s': IPv4:PORT", arg);
			memcpy(o->pcap_dst4, a + 12, 4);
			o->pcap_dst_given = 1;
			break;
		}
		case O_RPD:
			if (parse_u64(arg, 65535, &v) < 0 || v == 0)
				return fail_usage("--records-per-datagram '%s': a positive number", arg);
			o->rpd = (unsigned)v;
			break;
		case O_TEMPLATE_EVERY:
			if (parse_u64(arg, 1000000, &v) < 0)
				return fail_usage("--template-every '%s': 0..1000000 datagrams", arg);
			o->template_every = (unsigned)v;
			break;
		case O_EXPORTER: {
			uint8_t a[16];
			if (gen_addr_parse(arg, a) != 4)
				return fail_usage("--exporter '%s': an IPv4 address", arg);
			memcpy(o->exporter4, a + 12, 4);
			o->has_exporter = 1;
			break;
		}
		case O_DOMAIN:
			if (parse_u64(arg, UINT32_MAX, &v) < 0)
				return fail_usage("--domain '%s': 0..4294967295", arg);
			o->domain = (uint32_t)v;
			break;
		case O_SAMPLING_IES:
			if (strcmp(arg, "psamp") == 0)
				o->legacy_sampling = 0;
			else if (strcmp(arg, "legacy") == 0)
				o->legacy_sampling = 1;
			else
				return fail_usage("--sampling-ies '%s': psamp or legacy", arg);
			break;
		case O_ALLOW_REMOTE:
			o->allow_remote = 1;
			break;
		case O_SFLOW_PAYLOAD:
			if (arg[0] == '\0' || strlen(arg) > 64)
				return fail_usage("--sflow-payload '%s': 1..64 characters", arg);
			o->payload = arg;
			break;
	case O_SCENARIO:
		o->scenario = arg;
		break;
	case O_BENIGN:
		if (o->nbenign == GEN_MAX_ATTACKS)
			return fail_usage("--benign '%s': too many look-alikes (64 at most)", arg);
		if (gen_benign_parse(arg, &o->benign[o->nbenign], err, sizeof(err)) < 0) {
			fprintf(stderr, "mamori-gen: %s%s\n", where, err);
			return 2;
		}
		o->bline[o->nbenign] = where_line;
		o->nbenign++;
		break;
	case O_CYCLE:
		if (parse_cycle(arg, &o->cycle_day, &o->cycle_weekend) < 0)
			return fail_usage("--cycle '%s': off, or day=A (0 <= A < 1),weekend=W (0 < W <= 4)", arg);
		break;
	case O_ONOFF:
		if (parse_onoff(arg, &o->onoff_share, &o->onoff_period) < 0)
			return fail_usage("--onoff '%s': off, or on=P (0 < P <= 1),period=S (10..86400 s)", arg);
		break;
	default:
		return fail_usage("unknown option code '%s'", "?");
	}
	return 0;
}

/* The --scenario file: each value through apply_opt, unless the command
 * line gave that option (prefix: any --prefix replaces the file's; attack
 * and benign lines add to the command line's). */
static int apply_file(struct opts *o)
{
	static const struct {
		const char *key;
		int code;
	} map[] = {
		{ "seed", 's' },	  { "format", 'f' },	     { "duration", O_DURATION }, { "step-rate", O_STEP_RATE },
		{ "hosts", O_HOSTS },	  { "prefix", O_PREFIX },    { "sampling", O_SAMPLING }, { "start", O_START },
		{ "cycle", O_CYCLE },	  { "attack", O_ATTACK },    { "benign", O_BENIGN },	 { "onoff", O_ONOFF },
	};
	struct gen_sfile sf;
	char err[GEN_ERRLEN];
	int rc = 0;

	if (gen_sfile_load(o->scenario, &sf, err, sizeof(err)) < 0) {
		fprintf(stderr, "mamori-gen: %s\n", err);
		return 2;
	}
	for (unsigned i = 0; i < sf.n && rc == 0; i++) {
		int code = -1;
		for (unsigned m = 0; m < sizeof(map) / sizeof(map[0]); m++)
			if (strcmp(map[m].key, sf.e[i].key) == 0)
				code = map[m].code;
		if (code < 0 || (code != O_ATTACK && code != O_BENIGN && o->given[code]))
			continue;
		snprintf(where, sizeof(where), "%s:%u: ", o->scenario, sf.e[i].line);
		where_line = sf.e[i].line;
		rc = apply_opt(o, code, sf.e[i].value);
	}
	where[0] = '\0';
	where_line = 0;
	gen_sfile_free(&sf);
	return rc;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	char err[GEN_ERRLEN];
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->fmt = &gen_fmt_v9;
	o->seed = 1;
	o->hosts = DEF_HOSTS;
	o->sampling = DEF_SAMPLING;
	o->duration = -1;
	o->step_rate = DEF_STEP_RATE;
	o->start = -1;
	o->pace = GEN_PACE_REALTIME;
	o->batch = DEF_BATCH;
	o->template_every = DEF_TEMPLATE_EVERY;
	o->exporter4[0] = 127;
	o->exporter4[3] = 1;
	o->pcap_dst4[0] = 127;
	o->pcap_dst4[3] = 1;
	o->pcap_dport = 2055;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":f:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			return fail_usage("%s needs a value", argv[optind - 1]);
		case '?':
			return fail_usage("unknown option '%s'", argv[optind - 1]);
		default:
			if ((rc = apply_opt(o, c, optarg)) != 0)
				return rc;
			o->given[c] = 1;
		}
	}
	if (optind < argc)
		return fail_usage("unexpected argument '%s'", argv[optind]);
	if (o->scenario && (rc = apply_file(o)) != 0)
		return rc;

	/* Cross-checks. */
	if (!!o->send + !!o->pcap != 1)
		return fail_usage("%s", "give exactly one output: --send HOST:PORT or --pcap FILE");
	if (o->pcap && (o->rate_given || o->batch_given || o->pool_given))
		return fail_usage("%s", "--rate, --batch and --pool go with --send");
	if (o->send && !o->allow_remote && !is_loopback(o->dst, o->dst_af))
		return fail_usage("--send '%s': not a loopback address (add --allow-remote if you mean it)", o->send);
	if (o->pool_given && (o->nattacks || o->nbenign))
		return fail_usage("%s", "--pool (benchmark mode) sends background only: no --attack");
	if (o->pool_given && o->dump)
		return fail_usage("%s", "--dump does not go with --pool");
	if (o->payload && !o->fmt->per_packet)
		return fail_usage("%s", "--sflow-payload goes with -f sflow");
	if (o->pool_given && o->pace == GEN_PACE_REALTIME && o->step_rate <= 0)
		return fail_usage("%s", "--pool needs --rate (or a --step-rate above 0 to pace at)");
	if (o->nprefixes == 0) {
		gen_prefix_parse("10.0.0.0/16", &o->prefixes[0], err, sizeof(err));
		o->nprefixes = 1;
	}
	if (o->fmt->version == 5)
		for (unsigned j = 0; j < o->nprefixes; j++)
			if (o->prefixes[j].af == 6) {
				char p[64];
				fprintf(stderr, "mamori-gen: NetFlow v5 cannot carry IPv6 (--prefix %s): use -f v9 or ipfix\n",
					gen_prefix_str(&o->prefixes[j], p, sizeof(p)));
				return 2;
			}
	if (o->fmt->per_packet && !o->pcap_dst_given)
		o->pcap_dport = 6343; /* the sFlow collector port */
	if (o->duration < 0 && !o->count_given)
		o->duration = DEF_DURATION;
	if (o->start < 0)
		o->start = o->pcap ? (int64_t)DEF_START_PCAP : (int64_t)time(NULL);
	return 0;
}

static void summary_send(const struct opts *o, const struct gen_send_stats *st, const struct gen_scenario *scn)
{
	double rate = st->elapsed_s > 0 ? (double)st->flows / st->elapsed_s : 0;
	/* The sender counts the records of the datagrams: sFlow's are samples. */
	const char *what = o->fmt->per_packet ? "samples" : "records";
	fprintf(stderr,
		"mamori-gen: %s send %s: %s=%" PRIu64 " datagrams=%" PRIu64 " template_datagrams=%" PRIu64
		" bytes=%" PRIu64 " send_errors=%" PRIu64 " elapsed=%.3fs achieved=%.0f %s/s",
		o->fmt->name, o->send, what, st->flows, st->datagrams, st->tmpl_datagrams, st->bytes, st->send_errors,
		st->elapsed_s, rate, what);
	if (scn && o->fmt->per_packet)
		fprintf(stderr, " records=%" PRIu64, scn->records);
	if (scn)
		fprintf(stderr, " background=%" PRIu64 " attack=%" PRIu64 " scenario=%.3fs", scn->bg_records,
			scn->attack_records, (double)scn->end_us / 1e6);
	if (scn && scn->nbenign)
		fprintf(stderr, " benign=%" PRIu64, scn->benign_records);
	fprintf(stderr, "\n");
}

/* An attack's or look-alike's error, at its --scenario line if it has one. */
static void print_at(const struct opts *o, unsigned line, const char *err)
{
	if (line)
		fprintf(stderr, "mamori-gen: %s:%u: %s\n", o->scenario, line, err);
	else
		fprintf(stderr, "mamori-gen: %s\n", err);
}

int main(int argc, char **argv)
{
	static struct opts o;
	static struct gen_exporter x;
	char err[GEN_ERRLEN];
	struct gen_traffic *traffic = NULL;
	struct gen_pcap *pcap = NULL;
	struct gen_sender *sender = NULL;
	FILE *dump = NULL;
	int rc = parse_args(argc, argv, &o);
	int ipv6 = 0;

	if (rc)
		return rc;

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	struct gen_traffic_cfg tc = {
		.seed = o.seed,
		.hosts = o.hosts,
		.prefixes = o.prefixes,
		.nprefixes = o.nprefixes,
		.sampling = o.sampling,
		.rate = o.step_rate,
		.onoff_share = o.onoff_share,
		.onoff_period_s = o.onoff_period,
	};
	traffic = gen_traffic_new(&tc, err, sizeof(err));
	if (!traffic) {
		fprintf(stderr, "mamori-gen: %s\n", err);
		return 2;
	}
	for (unsigned i = 0; i < o.nattacks; i++) {
		if (gen_attack_resolve(&o.attacks[i], i, traffic, o.seed, o.sampling, o.duration, err, sizeof(err)) < 0) {
			print_at(&o, o.aline[i], err);
			rc = 2;
			goto out;
		}
		if (o.attacks[i].af == 6)
			ipv6 = 1;
	}
	for (unsigned i = 0; i < o.nbenign; i++) {
		if (gen_benign_resolve(&o.benign[i], i, traffic, o.seed, o.sampling, o.duration, err, sizeof(err)) < 0) {
			print_at(&o, o.bline[i], err);
			rc = 2;
			goto out;
		}
	}
	for (unsigned j = 0; j < o.nprefixes; j++)
		if (o.prefixes[j].af == 6)
			ipv6 = 1;
	if (ipv6 && o.fmt->version == 5) {
		fprintf(stderr, "mamori-gen: NetFlow v5 cannot carry IPv6 attacks: use -f v9 or ipfix\n");
		rc = 2;
		goto out;
	}

	uint64_t t0_ms = (uint64_t)o.start * 1000;
	struct gen_scenario scn = {
		.traffic = traffic,
		.attacks = o.attacks,
		.nattacks = o.nattacks,
		.benign = o.benign,
		.nbenign = o.nbenign,
		.cycle_day = o.cycle_day,
		.cycle_weekend = o.cycle_weekend,
		.t0_ms = t0_ms,
		.duration_us = o.duration < 0 ? UINT64_MAX : (uint64_t)llround(o.duration * 1e6),
		.bg_rate = o.step_rate,
		.count = o.count,
		.tick_flush = 1,
	};
	struct gen_exporter_cfg xc = {
		.fmt = o.fmt,
		.domain = o.domain,
		.sampling = o.sampling,
		.rpd = o.rpd,
		.template_every = o.template_every,
		.legacy_sampling = o.legacy_sampling,
		.ipv6 = ipv6,
		.boot_ms = t0_ms - 3600000ull,
		.payload = o.payload,
	};
	memcpy(xc.exporter4, o.exporter4, 4);
	struct gen_sink sink;

	if (o.dump) {
		dump = fopen(o.dump, "w");
		if (!dump) {
			fprintf(stderr, "mamori-gen: %s: %s\n", o.dump, strerror(errno));
			rc = 1;
			goto out;
		}
		gen_dump_header(dump);
		scn.dump = dump;
	}

	if (o.pcap) {
		pcap = gen_pcap_open(o.pcap, o.exporter4, 50000, o.pcap_dst4, o.pcap_dport, err, sizeof(err));
		if (!pcap) {
			fprintf(stderr, "mamori-gen: %s\n", err);
			rc = 1;
			goto out;
		}
		sink.put = gen_pcap_sink;
		sink.arg = pcap;
	} else {
		struct gen_sender_cfg sc = {
			.dst_af = o.dst_af,
			.dport = o.dport,
			.has_bind = o.has_exporter,
			.pace = o.pace,
			.rate = o.rate,
			.batch = o.batch,
			.t0_ms = t0_ms,
			.stop = &stop_flag,
		};
		memcpy(sc.dst, o.dst, 16);
		memcpy(sc.bind4, o.exporter4, 4);
		sender = gen_sender_open(&sc, err, sizeof(err));
		if (!sender) {
			fprintf(stderr, "mamori-gen: %s\n", err);
			rc = 1;
			goto out;
		}
		sink.put = gen_sender_sink;
		sink.arg = sender;
	}
	if (gen_exporter_init(&x, &xc, &sink, err, sizeof(err)) < 0) {
		fprintf(stderr, "mamori-gen: %s\n", err);
		rc = 2;
		goto out;
	}

	if (o.pool_given) {
		struct gen_pool_cfg pc = {
			.datagrams = o.pool,
			.count = o.count,
			.duration_s = o.duration,
		};
		if (gen_pool_run(sender, &x, &scn, &pc, &stop_flag, err, sizeof(err)) < 0) {
			fprintf(stderr, "mamori-gen: %s\n", err);
			rc = 1;
			goto out;
		}
		summary_send(&o, gen_sender_stats(sender), NULL);
		scn.end_us = (uint64_t)(gen_sender_stats(sender)->elapsed_s * 1e6);
	} else {
		gen_scenario_run(&scn, &x, &stop_flag);
		if (sender) {
			gen_sender_finish(sender);
			summary_send(&o, gen_sender_stats(sender), &scn);
		} else {
			int prc = gen_pcap_close(pcap);
			pcap = NULL;
			if (prc < 0 || x.failed) {
				fprintf(stderr, "mamori-gen: writing %s failed\n", o.pcap);
				rc = 1;
				goto out;
			}
			fprintf(stderr,
				"mamori-gen: %s pcap %s: records=%" PRIu64 " datagrams=%" PRIu64
				" template_datagrams=%" PRIu64 " bytes=%" PRIu64 " background=%" PRIu64
				" attack=%" PRIu64 " scenario=%.3fs",
				o.fmt->name, o.pcap, x.flows, x.datagrams, x.tmpl_datagrams, x.bytes, scn.bg_records,
				scn.attack_records, (double)scn.end_us / 1e6);
			if (o.fmt->per_packet)
				fprintf(stderr, " samples=%" PRIu64, x.wire_records);
			if (o.nbenign)
				fprintf(stderr, " benign=%" PRIu64, scn.benign_records);
			fprintf(stderr, "\n");
		}
	}
	if (o.truth && gen_truth_write(o.truth, o.attacks, o.nattacks, o.benign, o.nbenign, t0_ms, scn.end_us) < 0) {
		fprintf(stderr, "mamori-gen: %s: %s\n", o.truth, strerror(errno));
		rc = 1;
	}
	if (stop_flag)
		fprintf(stderr, "mamori-gen: interrupted\n");
out:
	if (dump && fclose(dump) != 0) {
		fprintf(stderr, "mamori-gen: %s: write failed\n", o.dump);
		rc = rc ? rc : 1;
	}
	if (pcap)
		gen_pcap_close(pcap);
	gen_sender_close(sender);
	gen_traffic_free(traffic);
	return rc;
}
