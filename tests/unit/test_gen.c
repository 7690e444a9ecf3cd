/*
 * test_gen.c - mamori-gen, the flow generator (tools/gen/), tested from
 * the outside: the built binary writes pcaps, dumps and ground truth into a
 * temporary directory, and they are cross-checked
 *   - with tshark (skipped, with a message, when tshark is not installed):
 *     header sequence numbers and counts, templates and sampling options,
 *     no malformed packet or expert warning, and every decoded record equal
 *     to the generator's own --dump, timestamps included;
 *   - with the project's decoders (tests/unit/lib), the same equality
 *     (sFlow, one sample per sampled packet: packets and bytes summed per
 *     flow, plus datagram and sample sequence numbers, rate and pool);
 *   - byte-identical output for a seed, the ground-truth lines, the shape of
 *     each attack class, and UDP sending on loopback (scenario, benchmark
 *     pool, rate limiter).
 *
 * The binary is $MAMORI_GEN, else ../bin/mamori-gen next to this test
 * (build/tests/test_gen -> build/bin/mamori-gen; build-san likewise).
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mamori/flow.h"
#include "lib/testutil.h"

static char gen_bin[PATH_MAX];
static char tmpdir[PATH_MAX];
static int have_tshark;

#define T0 1700000000ull

/* ------------------------------------------------------------------ */
/* Helpers                                                              */

static const char *tmp(const char *name)
{
	static char buf[8][PATH_MAX]; /* tests only; each test runs alone */
	static unsigned next;
	char *b = buf[next++ % 8];
	int n = snprintf(b, PATH_MAX, "%s/%s", tmpdir, name);
	ck_assert_msg(n > 0 && n < PATH_MAX, "path too long");
	return b;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0, cap = 0;

	if (!fp)
		return NULL;
	for (;;) {
		if (n + 65536 + 1 > cap) {
			cap = cap ? cap * 2 : 1 << 20;
			char *nb = realloc(buf, cap);
			ck_assert_ptr_nonnull(nb);
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n - 1, fp);
		n += r;
		if (r == 0)
			break;
	}
	fclose(fp);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* Run mamori-gen with args; stderr is kept in *err (caller frees).
 * Returns the exit status. */
static int gen(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int gen(char **err, const char *fmt, ...)
{
	char args[4096], cmd[8192];
	const char *errfile = tmp("stderr.txt");
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	int n = snprintf(cmd, sizeof(cmd), "'%s' %s 2>'%s' </dev/null", gen_bin, args, errfile);
	ck_assert_msg(n > 0 && (size_t)n < sizeof(cmd), "command too long");
	int rc = system(cmd);
	char *e = slurp(errfile, NULL);
	if (err)
		*err = e ? e : strdup("");
	else
		free(e);
	ck_assert_msg(rc != -1 && WIFEXITED(rc), "could not run: %s", cmd);
	return WEXITSTATUS(rc);
}

/* "records=N" and the like from the summary line. */
static uint64_t summary(const char *err, const char *key)
{
	char pat[64];
	snprintf(pat, sizeof(pat), " %s=", key);
	const char *p = strstr(err, pat);
	ck_assert_msg(p != NULL, "no %s in the summary: %s", key, err);
	return strtoull(p + strlen(pat), NULL, 10);
}

#define SKIP_WITHOUT_TSHARK()                                                    \
	do {                                                                     \
		if (!have_tshark) {                                              \
			fprintf(stderr, "SKIP %s: tshark is not installed\n", __func__); \
			return;                                                  \
		}                                                                \
	} while (0)

/* tshark -T fields output: one line per frame, tab-separated columns, the
 * occurrences of a field joined by '|' (time fields contain commas).
 * Returns the whole output. */
static char *tshark(const char *pcap, const char *fields)
{
	char cmd[8192];
	const char *out = tmp("tshark.txt");
	snprintf(cmd, sizeof(cmd),
		 "tshark -n -r '%s' -d udp.port==2055,cflow -T fields -E occurrence=a -E aggregator='|' "
		 "-E separator=/t %s >'%s' 2>/dev/null",
		 pcap, fields, out);
	int rc = system(cmd);
	ck_assert_msg(rc != -1 && WIFEXITED(rc) && WEXITSTATUS(rc) == 0, "tshark failed: %s", cmd);
	char *s = slurp(out, NULL);
	ck_assert_ptr_nonnull(s);
	return s;
}

/* Split s at sep in place into at most max pieces (empty pieces kept). */
static unsigned split(char *s, char sep, char **out, unsigned max)
{
	unsigned n = 0;
	if (max == 0)
		return 0;
	out[n++] = s;
	for (char *p = s; *p && n < max; p++)
		if (*p == sep) {
			*p = '\0';
			out[n++] = p + 1;
		}
	return n;
}

/* Values of one column ('|'-separated occurrences); 0 for an empty column. */
static unsigned values(char *col, char **out, unsigned max)
{
	if (col == NULL || *col == '\0')
		return 0;
	return split(col, '|', out, max);
}

static void expect_clean(const char *pcap)
{
	char *s = tshark(pcap, "-Y '_ws.malformed || _ws.expert' -e frame.number -e _ws.expert.message");
	ck_assert_msg(s[0] == '\0', "tshark flags frames in %s:\n%.500s", pcap, s);
	free(s);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A sorted list of record lines. */
struct lines {
	char **v;
	size_t n, cap;
};

static void lines_add(struct lines *l, const char *s)
{
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->v = realloc(l->v, l->cap * sizeof(*l->v));
		ck_assert_ptr_nonnull(l->v);
	}
	l->v[l->n] = strdup(s);
	ck_assert_ptr_nonnull(l->v[l->n]);
	l->n++;
}

static void lines_free(struct lines *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static void lines_equal(struct lines *a, struct lines *b, const char *what)
{
	qsort(a->v, a->n, sizeof(*a->v), cmp_str);
	qsort(b->v, b->n, sizeof(*b->v), cmp_str);
	ck_assert_msg(a->n == b->n, "%s: %zu records vs %zu in the dump", what, a->n, b->n);
	for (size_t i = 0; i < a->n; i++)
		ck_assert_msg(strcmp(a->v[i], b->v[i]) == 0, "%s: record differs:\n  decoded %s\n  dumped  %s", what,
			      a->v[i], b->v[i]);
}

/* The --dump file as record lines "start end src sport dst dport proto flags packets bytes". */
static void dump_lines(const char *path, struct lines *l, int with_sampling)
{
	char *s = slurp(path, NULL);
	ck_assert_ptr_nonnull(s);
	char *save = NULL;
	int first = 1;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (first) {
			ck_assert_str_eq(line, "start_ms\tend_ms\tsrc\tsport\tdst\tdport\tproto\ttcp_flags\tpackets\t"
					       "bytes\tsampling\torigin");
			first = 0;
			continue;
		}
		char *c[12], buf[512];
		ck_assert_uint_eq(split(line, '\t', c, 12), 12);
		snprintf(buf, sizeof(buf), "%s %s %s %s %s %s %s %lu %s %s", c[0], c[1], c[2], c[3], c[4], c[5], c[6],
			 strtoul(c[7], NULL, 16), c[8], c[9]);
		if (with_sampling) {
			size_t n = strlen(buf);
			snprintf(buf + n, sizeof(buf) - n, " %s", c[10]);
		}
		lines_add(l, buf);
	}
	free(s);
}

/* "3600.145000000" seconds -> ms. */
static int64_t secs_ms(const char *s)
{
	char *end;
	long long whole = strtoll(s, &end, 10);
	int64_t ms = whole * 1000;
	if (*end == '.') {
		int digits = 0;
		long frac = 0;
		for (const char *p = end + 1; *p >= '0' && *p <= '9' && digits < 3; p++, digits++)
			frac = frac * 10 + (*p - '0');
		while (digits++ < 3)
			frac *= 10;
		ms += frac;
	}
	return ms;
}

/* "Nov 14, 2023 22:13:19.844000000 UTC" -> Unix ms. */
static int64_t abs_ms(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *rest = strptime(s, "%b %d, %Y %H:%M:%S", &tm);
	ck_assert_msg(rest != NULL, "bad tshark time '%s'", s);
	int64_t ms = (int64_t)timegm(&tm) * 1000;
	if (*rest == '.')
		ms += secs_ms(rest) ; /* "0.844..." style: secs_ms(".844") = 844 */
	return ms;
}

/* ------------------------------------------------------------------ */
/* Command line                                                         */

static const struct {
	const char *args;
	const char *msg;
} bad_args[] = {
	{ "--pcap /dev/null --attack syn_flood:foo=1", "unknown key 'foo'" },
	{ "--pcap /dev/null --onoff on=1.5,period=60", "--onoff 'on=1.5,period=60'" },
	{ "--pcap /dev/null --onoff on=0.5", "--onoff 'on=0.5'" },
	{ "--pcap /dev/null --attack syn_flood:vector=dns", "unexpected key 'vector'" },
	{ "--pcap /dev/null --attack nosuch", "unknown class 'nosuch'" },
	{ "--pcap /dev/null --attack syn_flood:victim=192.0.2.1", "not inside any --prefix" },
	{ "--pcap /dev/null --attack syn_flood:victim=10.0.0.300", "not an IPv4 or IPv6 address" },
	{ "--pcap /dev/null --attack flood:pps=1,rate=2", "give one strength" },
	{ "--pcap /dev/null --attack flood:pps=-3", "not a positive number" },
	{ "--pcap /dev/null --attack syn_flood:end=100", "after the scenario's end" },
	{ "--pcap /dev/null --attack syn_flood:start=30,end=20", "end must be after start" },
	{ "--pcap /dev/null --attack amplification:vector=quake", "vector='quake' unknown" },
	{ "--pcap /dev/null --attack bruteforce:service=gopher", "service='gopher' unknown" },
	{ "--pcap /dev/null --attack vertical_scan:ports=100-10", "ports='100-10'" },
	{ "--pcap /dev/null --attack horizontal_scan:x=3", "comes from outside" },
	{ "--pcap /dev/null --attack carpet_bombing:prefix=192.0.2.0/24", "not inside a --prefix" },
	{ "--pcap /dev/null --attack exfiltration:source=192.0.2.1", "must be a monitored host" },
	{ "--pcap /dev/null --attack syn_flood:victim", "is not key=value" },
	{ "--pcap /dev/null --attack syn_flood:pps=1,pps=2", "given twice" },
	{ "--pcap /dev/null --count 100 --attack flood:pps=1", "end= needed" },
	{ "-f v5 --pcap /dev/null --prefix 2001:db8::/48", "cannot carry IPv6" },
	{ "-f v7 --pcap /dev/null", "use v5, v9, ipfix or sflow" },
	{ "--pcap /dev/null --prefix 10.0.0.1/16", "host bits set" },
	{ "--pcap /dev/null --prefix 10.0.0.0/16 --prefix 10.0.5.0/24", "overlaps" },
	{ "--pcap /dev/null --prefix 10.0.0.0/24 --hosts 1000", "does not fit" },
	{ "--send 192.0.2.1:2055", "not a loopback address" },
	{ "--send 127.0.0.1", "HOST:PORT" },
	{ "--duration 10", "exactly one output" },
	{ "--pcap a --send 127.0.0.1:9", "exactly one output" },
	{ "--pcap /dev/null --rate 10", "go with --send" },
	{ "--send 127.0.0.1:9 --pool 8 --attack flood:pps=1", "background only" },
	{ "-f v5 --pcap /dev/null --records-per-datagram 31", "at most 30" },
	{ "-f v5 --pcap /dev/null --sampling 20000", "v5: 1..16383" },
	{ "--pcap /dev/null --sampling 0", "--sampling" },
	{ "--pcap /dev/null --rate", "needs a value" },
	{ "--pcap /dev/null --bogus", "unknown option" },
	{ "--pcap /dev/null extra", "unexpected argument" },
};

START_TEST(test_cli_errors)
{
	char *err;
	int rc = gen(&err, "%s", bad_args[_i].args);
	ck_assert_msg(rc == 2, "'%s': exit %d, want 2 (%s)", bad_args[_i].args, rc, err);
	ck_assert_msg(strstr(err, bad_args[_i].msg) != NULL, "'%s': want '%s' in: %s", bad_args[_i].args,
		      bad_args[_i].msg, err);
	ck_assert_msg(strstr(err, "\n") != NULL && strlen(err) < 600, "one short message: %s", err);
	free(err);
}
END_TEST

START_TEST(test_cli_help)
{
	char cmd[PATH_MAX + 64];
	snprintf(cmd, sizeof(cmd), "'%s' -h >'%s'", gen_bin, tmp("help.txt"));
	ck_assert_int_eq(system(cmd), 0);
	char *h = slurp(tmp("help.txt"), NULL);
	static const char *const want[] = {
		"--send HOST:PORT", "--rate", "--pcap FILE", "--pool N", "--template-every", "--records-per-datagram", "sflow",
		"flood", "syn_flood", "amplification", "carpet_bombing", "horizontal_scan", "vertical_scan",
		"bruteforce", "outbound_flood", "outbound_scan", "exfiltration", "memcached", "pps=S", "x=M",
	};
	for (unsigned i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		ck_assert_msg(strstr(h, want[i]) != NULL, "-h lacks '%s'", want[i]);
	free(h);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Wire format, checked with tshark                                     */

START_TEST(test_v5_headers)
{
	SKIP_WITHOUT_TSHARK();
	char *err;
	const char *pcap = tmp("v5.pcap");
	ck_assert_int_eq(gen(&err, "-f v5 -s 7 --duration 10 --step-rate 300 --sampling 100 --domain 515 "
				   "--pcap '%s'", pcap), 0);
	ck_assert_uint_eq(summary(err, "records"), 3000);
	uint64_t dgrams = summary(err, "datagrams");
	free(err);

	char *s = tshark(pcap, "-e cflow.version -e cflow.count -e cflow.sequence -e cflow.samplingmode "
			       "-e cflow.samplerate -e cflow.engine_type -e cflow.engine_id -e frame.time_epoch");
	uint64_t frames = 0, seq = 0, total = 0;
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c[8];
		ck_assert_uint_eq(split(line, '\t', c, 8), 8);
		ck_assert_str_eq(c[0], "5");
		unsigned count = (unsigned)atoi(c[1]);
		ck_assert_msg(count >= 1 && count <= 30, "count %u", count);
		ck_assert_msg(strtoull(c[2], NULL, 10) == seq, "frame %" PRIu64 ": flow_sequence %s, want %" PRIu64,
			      frames + 1, c[2], seq);
		ck_assert_str_eq(c[3], "1");   /* packet interval */
		ck_assert_str_eq(c[4], "100");
		ck_assert_str_eq(c[5], "2");
		ck_assert_str_eq(c[6], "3");
		double t = strtod(c[7], NULL);
		ck_assert_msg(t >= T0 && t <= T0 + 10.0001, "pcap time %s outside the scenario", c[7]);
		seq += count;
		total += count;
		frames++;
	}
	free(s);
	ck_assert_uint_eq(total, 3000);
	ck_assert_uint_eq(frames, dgrams);
	expect_clean(pcap);
}
END_TEST

START_TEST(test_v9_headers_templates_options)
{
	SKIP_WITHOUT_TSHARK();
	char *err;
	const char *pcap = tmp("v9.pcap");
	ck_assert_int_eq(gen(&err, "-f v9 -s 3 --duration 20 --step-rate 500 --hosts 3000 --sampling 512 "
				   "--prefix 10.2.0.0/16 --prefix 2001:db8:2::/48 --template-every 5 --domain 42 "
				   "--exporter 192.0.2.9 "
				   "--attack syn_flood:victim=10.2.0.5,start=2,end=12,pps=40 "
				   "--attack amplification:victim=2001:db8:2::10,vector=dns,start=5,end=15,pps=20 "
				   "--pcap '%s'", pcap), 0);
	uint64_t records = summary(err, "records"), dgrams = summary(err, "datagrams");
	uint64_t tmpl = summary(err, "template_datagrams");
	ck_assert_uint_eq(records, 10000 + 400 + 200);
	free(err);

	char *s = tshark(pcap, "-e cflow.version -e cflow.count -e cflow.sequence -e cflow.source_id "
			       "-e cflow.flowset_id -e cflow.srcaddr -e cflow.srcaddrv6 -e cflow.sampling_interval "
			       "-e cflow.sampling_algorithm -e cflow.template_id -e ip.src");
	uint64_t frames = 0, seen_tmpl = 0, v4 = 0, v6 = 0, data_since = 0;
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c[11], *sets[16], *a4[256], *a6[256], *x[8];
		ck_assert_uint_eq(split(line, '\t', c, 11), 11);
		ck_assert_str_eq(c[0], "9");
		ck_assert_msg(strtoull(c[2], NULL, 10) == frames, "frame %" PRIu64 ": package sequence %s", frames + 1,
			      c[2]);
		ck_assert_str_eq(c[3], "42");
		ck_assert_str_eq(c[10], "192.0.2.9");
		unsigned count = (unsigned)atoi(c[1]);
		unsigned ns = values(c[4], sets, 16);
		unsigned n4 = values(c[5], a4, 256), n6 = values(c[6], a6, 256);
		if (ns > 0 && strcmp(sets[0], "0") == 0) {
			/* template datagram: templates 256 + 257, options template, options data */
			ck_assert_uint_eq(ns, 3);
			ck_assert_str_eq(sets[1], "1");
			ck_assert_str_eq(sets[2], "258");
			ck_assert_uint_eq(count, 4);
			ck_assert_str_eq(c[7], "512");
			ck_assert_str_eq(c[8], "1");
			ck_assert_uint_eq(values(c[9], x, 8), 3); /* 256, 257, 258 */
			ck_assert_msg(frames == 0 || data_since == 5, "templates after %" PRIu64 " data datagrams",
				      data_since);
			ck_assert_uint_eq(n4 + n6, 0);
			seen_tmpl++;
			data_since = 0;
		} else {
			ck_assert_msg(frames > 0, "the first datagram must carry the templates");
			ck_assert_msg(count == n4 + n6, "frame %" PRIu64 ": count %u, %u records", frames + 1, count,
				      n4 + n6);
			for (unsigned i = 0; i < ns; i++)
				ck_assert_msg(strcmp(sets[i], "256") == 0 || strcmp(sets[i], "257") == 0, "set %s", sets[i]);
			ck_assert_msg(ns <= 2, "one set per template");
			v4 += n4;
			v6 += n6;
			data_since++;
		}
		frames++;
	}
	free(s);
	ck_assert_uint_eq(frames, dgrams);
	ck_assert_uint_eq(seen_tmpl, tmpl);
	ck_assert_uint_eq(tmpl, (dgrams - tmpl + 4) / 5);
	ck_assert_uint_eq(v4 + v6, records);
	ck_assert_msg(v4 > 1000 && v6 > 1000, "both families: %" PRIu64 " IPv4, %" PRIu64 " IPv6", v4, v6);
	expect_clean(pcap);
}
END_TEST

static void check_ipfix(int legacy)
{
	char *err;
	const char *pcap = tmp(legacy ? "ipfix-legacy.pcap" : "ipfix.pcap");
	ck_assert_int_eq(gen(&err, "-f ipfix -s 5 --duration 10 --step-rate 400 --hosts 500 --sampling 1000 "
				   "--prefix 198.51.100.0/24 --prefix 2001:db8:3::/64 --template-every 0 --domain 9 %s "
				   "--attack vertical_scan:target=2001:db8:3::20,pps=30 --pcap '%s'",
			     legacy ? "--sampling-ies legacy" : "", pcap), 0);
	uint64_t records = summary(err, "records");
	ck_assert_uint_eq(summary(err, "template_datagrams"), 1);
	free(err);

	char *s = tshark(pcap, "-e cflow.version -e cflow.sequence -e cflow.od_id -e cflow.flowset_id "
			       "-e cflow.srcaddr -e cflow.srcaddrv6 -e cflow.sampling_packet_interval "
			       "-e cflow.sampling_packet_space -e cflow.selector_algorithm -e cflow.sampling_interval "
			       "-e cflow.sampling_algorithm -e cflow.len -e udp.length");
	uint64_t frames = 0, seq = 0, total = 0, v6 = 0;
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c[13], *sets[16], *a4[256], *a6[256], *x[4];
		ck_assert_uint_eq(split(line, '\t', c, 13), 13);
		ck_assert_str_eq(c[0], "10");
		ck_assert_msg(strtoull(c[1], NULL, 10) == seq, "frame %" PRIu64 ": sequence %s, want %" PRIu64,
			      frames + 1, c[1], seq);
		ck_assert_uint_ge(values(c[2], x, 4), 1);
		ck_assert_str_eq(x[0], "9");
		ck_assert_uint_eq((unsigned)atoi(c[11]) + 8, (unsigned)atoi(c[12])); /* message length = payload */
		unsigned ns = values(c[3], sets, 16);
		unsigned n = values(c[4], a4, 256);
		unsigned n6 = values(c[5], a6, 256);
		if (frames == 0) {
			ck_assert_uint_eq(ns, 3);
			ck_assert_str_eq(sets[0], "2");
			ck_assert_str_eq(sets[1], "3");
			ck_assert_str_eq(sets[2], "258");
			if (legacy) {
				ck_assert_str_eq(c[9], "1000");
				ck_assert_str_eq(c[10], "1");
				ck_assert_str_eq(c[6], "");
			} else {
				ck_assert_str_eq(c[6], "1");
				ck_assert_str_eq(c[7], "999");
				ck_assert_str_eq(c[8], "1");
				ck_assert_str_eq(c[9], "");
			}
			seq += 1; /* the options data record is a data record */
		} else {
			ck_assert_msg(ns >= 1 && ns <= 2, "frame %" PRIu64 ": %u sets", frames + 1, ns);
			seq += n + n6;
			total += n + n6;
			v6 += n6;
		}
		frames++;
	}
	free(s);
	ck_assert_uint_eq(total, records);
	ck_assert_uint_ge(v6, 300);
	expect_clean(pcap);
}

START_TEST(test_ipfix_psamp)
{
	SKIP_WITHOUT_TSHARK();
	check_ipfix(0);
}
END_TEST

START_TEST(test_ipfix_legacy_sampling)
{
	SKIP_WITHOUT_TSHARK();
	check_ipfix(1);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Every record decoded = every record dumped                           */

static const char *const formats[] = { "v5", "v9", "ipfix", "sflow" };

static const char *scenario_args(int v6)
{
	static char buf[2048];
	snprintf(buf, sizeof(buf),
		 "--duration 30 --step-rate 200 --hosts 1500 --sampling 1000 --prefix 10.9.0.0/16 %s "
		 "--attack syn_flood:start=5,end=20,pps=50 "
		 "--attack amplification:vector=memcached,start=10,end=25,mbps=50,reflectors=40 "
		 "--attack exfiltration:x=20,start=3,end=28 --attack carpet_bombing:x=5 "
		 "--attack vertical_scan:pps=2 --attack bruteforce:service=rdp,attempts=100 "
		 "--attack outbound_scan:port=445,rate=2000 --attack flood:proto=icmp,x=10,ramp=10 "
		 "--attack horizontal_scan:pps=3 --attack outbound_flood:pps=20,start=1,end=9",
		 v6 ? "--prefix 2001:db8:9::/48" : "");
	return buf;
}

START_TEST(test_tshark_matches_dump)
{
	SKIP_WITHOUT_TSHARK();
	const char *f = formats[_i];
	char pcap[PATH_MAX], dump[PATH_MAX], *err;
	snprintf(pcap, sizeof(pcap), "%s", tmp("m.pcap"));
	snprintf(dump, sizeof(dump), "%s", tmp("m.dump"));
	ck_assert_int_eq(gen(&err, "-f %s -s 11 %s --pcap '%s' --dump '%s'", f, scenario_args(_i > 0), pcap, dump),
			 0);
	free(err);

	struct lines want = { 0 }, got = { 0 };
	dump_lines(dump, &want, 0);
	char *s = tshark(pcap, "-e cflow.sysuptime -e cflow.unix_secs -e cflow.unix_nsecs -e cflow.srcaddr "
			       "-e cflow.srcaddrv6 -e cflow.dstaddr -e cflow.dstaddrv6 -e cflow.srcport -e cflow.dstport "
			       "-e cflow.protocol -e cflow.tcpflags -e cflow.packets -e cflow.octets -e cflow.timestart "
			       "-e cflow.timeend -e cflow.abstimestart -e cflow.abstimeend");
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		enum { NV = 128 };
		char *c[17];
		static char *v[17][NV];
		unsigned n[17];
		ck_assert_uint_eq(split(line, '\t', c, 17), 17);
		for (int k = 0; k < 17; k++)
			n[k] = values(c[k], v[k], NV);
		unsigned nrec = n[11];
		if (nrec == 0)
			continue;
		/* v5/v9 list a datagram's IPv4 records before its IPv6 ones */
		ck_assert_uint_eq(n[3] + n[4], nrec);
		ck_assert_uint_eq(n[5] + n[6], nrec);
		for (unsigned i = 0; i < nrec; i++) {
			int64_t st, en;
			if (strcmp(f, "ipfix") == 0) {
				st = abs_ms(v[15][i]);
				en = abs_ms(v[16][i]);
			} else {
				int64_t base = strtoll(v[1][0], NULL, 10) * 1000 + (n[2] ? strtoll(v[2][0], NULL, 10) / 1000000 : 0);
				int64_t up = secs_ms(v[0][0]);
				st = base - (up - secs_ms(v[13][i]));
				en = base - (up - secs_ms(v[14][i]));
			}
			const char *src = i < n[3] ? v[3][i] : v[4][i - n[3]];
			const char *dst = i < n[5] ? v[5][i] : v[6][i - n[5]];
			char buf[512];
			snprintf(buf, sizeof(buf), "%" PRId64 " %" PRId64 " %s %s %s %s %s %lu %s %s", st, en, src, v[7][i],
				 dst, v[8][i], v[9][i], strtoul(v[10][i], NULL, 16), v[11][i], v[12][i]);
			lines_add(&got, buf);
		}
	}
	free(s);
	lines_equal(&got, &want, f);
	lines_free(&got);
	lines_free(&want);
	expect_clean(pcap);
}
END_TEST

START_TEST(test_decoders_match_dump)
{
	const char *f = formats[_i];
	char pcap[PATH_MAX], dump[PATH_MAX], *err;
	snprintf(pcap, sizeof(pcap), "%s", tmp("d.pcap"));
	snprintf(dump, sizeof(dump), "%s", tmp("d.dump"));
	ck_assert_int_eq(gen(&err, "-f %s -s 13 %s --pcap '%s' --dump '%s'", f, scenario_args(_i > 0), pcap, dump),
			 0);
	uint64_t records = summary(err, "records"), dgrams = summary(err, "datagrams");
	free(err);

	struct tu_decoded d;
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(tu_decode_capture(&d, pcap), 0);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(d.datagrams, dgrams);
	ck_assert_uint_eq(d.nrecs, records);
	ck_assert_uint_eq(st.malformed, 0);
	ck_assert_uint_eq(st.lost_packets, 0);
	ck_assert_uint_eq(st.lost_records, 0);
	ck_assert_uint_eq(st.unknown_sampling, 0);
	ck_assert_uint_eq(st.unknown_template, 0);

	struct lines want = { 0 }, got = { 0 };
	dump_lines(dump, &want, 1);
	for (size_t i = 0; i < d.nrecs; i++) {
		const struct mm_flow *r = &d.recs[i];
		char s[64], t[64], buf[512];
		ck_assert_uint_eq(r->sampling_src, _i == 0 ? MM_SAMPLING_HEADER : MM_SAMPLING_LEARNT);
		ck_assert_uint_eq(r->packets_scaled, r->packets * 1000);
		snprintf(buf, sizeof(buf), "%" PRIu64 " %" PRIu64 " %s %u %s %u %u %u %" PRIu64 " %" PRIu64 " %u",
			 r->start_ms, r->end_ms, mm_addr_str(r->src_addr, s, sizeof(s)), r->src_port,
			 mm_addr_str(r->dst_addr, t, sizeof(t)), r->dst_port, r->proto, r->tcp_flags, r->packets, r->bytes,
			 r->sampling_rate);
		lines_add(&got, buf);
	}
	lines_equal(&got, &want, f);
	lines_free(&got);
	lines_free(&want);
	tu_free(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* sFlow: one flow sample per sampled packet                            */

/* Per-flow sums "src sport dst dport proto flags packets bytes [rate]":
 * sFlow sends a flow's N packets as N samples, so samples and dumped
 * records are compared after adding up the packets and bytes of each
 * (src, sport, dst, dport, proto, flags). */
struct fsum {
	char key[200];
	uint64_t packets, bytes;
};

struct fsums {
	struct fsum *v;
	size_t n, cap;
};

static void fsum_add(struct fsums *a, const char *key, uint64_t packets, uint64_t bytes)
{
	if (a->n == a->cap) {
		a->cap = a->cap ? a->cap * 2 : 1024;
		a->v = realloc(a->v, a->cap * sizeof(*a->v));
		ck_assert_ptr_nonnull(a->v);
	}
	snprintf(a->v[a->n].key, sizeof(a->v[a->n].key), "%s", key);
	a->v[a->n].packets = packets;
	a->v[a->n].bytes = bytes;
	a->n++;
}

static int cmp_fsum(const void *x, const void *y)
{
	return strcmp(((const struct fsum *)x)->key, ((const struct fsum *)y)->key);
}

/* Sort, merge equal keys, and turn into record lines. */
static void fsum_lines(struct fsums *a, struct lines *out)
{
	qsort(a->v, a->n, sizeof(*a->v), cmp_fsum);
	for (size_t i = 0; i < a->n;) {
		uint64_t p = 0, b = 0;
		size_t j = i;
		for (; j < a->n && strcmp(a->v[j].key, a->v[i].key) == 0; j++) {
			p += a->v[j].packets;
			b += a->v[j].bytes;
		}
		char buf[256];
		snprintf(buf, sizeof(buf), "%s %" PRIu64 " %" PRIu64, a->v[i].key, p, b);
		lines_add(out, buf);
		i = j;
	}
	free(a->v);
	memset(a, 0, sizeof(*a));
}

/* The --dump file summed per flow key ("... rate" appended with with_rate). */
static void dump_sums(const char *path, struct lines *l, int with_rate)
{
	char *s = slurp(path, NULL);
	ck_assert_ptr_nonnull(s);
	struct fsums a = { 0 };
	char *save = NULL;
	int first = 1;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (first) {
			first = 0;
			continue;
		}
		char *c[12], key[200];
		ck_assert_uint_eq(split(line, '\t', c, 12), 12);
		snprintf(key, sizeof(key), "%s %s %s %s %s %lu%s%s", c[2], c[3], c[4], c[5], c[6], strtoul(c[7], NULL, 16),
			 with_rate ? " " : "", with_rate ? c[10] : "");
		fsum_add(&a, key, strtoull(c[8], NULL, 10), strtoull(c[9], NULL, 10));
	}
	free(s);
	fsum_lines(&a, l);
}

static const char *sflow_args(void)
{
	return "--duration 10 --step-rate 300 --hosts 800 --sampling 256 --prefix 10.4.0.0/16 "
	       "--prefix 2001:db8:4::/48 --domain 9 --exporter 192.0.2.7 "
	       "--attack syn_flood:victim=10.4.0.5,start=1,end=8,pps=30 "
	       "--attack amplification:victim=2001:db8:4::10,vector=ntp,start=2,end=9,pps=10 "
	       "--attack flood:victim=2001:db8:4::11,proto=icmp,start=3,end=6,pps=5 "
	       "--attack exfiltration:source=10.4.0.9,target=192.0.2.80,pps=40,start=0,end=10,active=2";
}

static void expect_clean_sflow(const char *pcap)
{
	/* tshark's TCP analysis would see the samples of one connection as a
	 * stream with holes; only malformed packets and warnings or errors
	 * of the dissectors themselves count here. */
	char *s = tshark(pcap, "-o tcp.analyze_sequence_numbers:FALSE "
			       "-Y '_ws.malformed || _ws.expert.severity >= 6291456' -e frame.number "
			       "-e _ws.expert.message");
	ck_assert_msg(s[0] == '\0', "tshark flags frames in %s:\n%.500s", pcap, s);
	free(s);
}

START_TEST(test_sflow_headers_and_samples)
{
	SKIP_WITHOUT_TSHARK();
	char *err;
	const char *pcap = tmp("sflow.pcap");
	ck_assert_int_eq(gen(&err, "-f sflow -s 21 %s --pcap '%s'", sflow_args(), pcap), 0);
	uint64_t records = summary(err, "records"), samples = summary(err, "samples");
	uint64_t dgrams = summary(err, "datagrams");
	ck_assert_uint_eq(summary(err, "template_datagrams"), 0);
	/* background, SYN, NTP, ICMP flood records; exfiltration: 4 records
	 * (every 2 s) of 80 sampled packets, so at least 4 * 79 more samples */
	ck_assert_uint_eq(records, 3000 + 7 * 30 + 7 * 10 + 3 * 5 + 4);
	ck_assert_uint_ge(samples, records + 4 * 79);
	free(err);

	char *s = tshark(pcap, "-e sflow_245.version -e sflow_245.agent -e sflow_245.sub_agent_id "
			       "-e sflow_245.sequence_number -e sflow_245.numsamples -e sflow.flow_sample.sequence_number "
			       "-e sflow.flow_sample.sampling_rate -e sflow.flow_sample.sample_pool "
			       "-e sflow_245.header_protocol -e udp.dstport -e ip.src -e sflow.flow_sample.source_id_class "
			       "-e sflow.flow_sample.dropped_packets");
	uint64_t frames = 0, seen = 0;
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		enum { NV = 64 };
		char *c[13], *sq[NV], *rt[NV], *pl[NV], *hp[NV], *port[NV], *src[NV], *cls[NV], *dr[NV];
		ck_assert_uint_eq(split(line, '\t', c, 13), 13);
		ck_assert_str_eq(c[0], "5");
		ck_assert_str_eq(c[1], "192.0.2.7");
		ck_assert_str_eq(c[2], "9");
		ck_assert_uint_eq(strtoull(c[3], NULL, 10), frames + 1);
		unsigned n = (unsigned)atoi(c[4]);
		ck_assert_uint_eq(values(c[5], sq, NV), n);
		ck_assert_uint_eq(values(c[6], rt, NV), n);
		ck_assert_uint_eq(values(c[7], pl, NV), n);
		ck_assert_uint_eq(values(c[8], hp, NV), n);
		ck_assert_uint_eq(values(c[11], cls, NV), n);
		ck_assert_uint_eq(values(c[12], dr, NV), n);
		ck_assert_uint_ge(values(c[9], port, NV), 1);
		ck_assert_str_eq(port[0], "6343");
		ck_assert_uint_ge(values(c[10], src, NV), 1);
		ck_assert_str_eq(src[0], "192.0.2.7");
		for (unsigned i = 0; i < n; i++) {
			ck_assert_msg(strtoull(sq[i], NULL, 10) == seen + 1, "frame %" PRIu64 ": sample sequence %s, want %" PRIu64,
				      frames + 1, sq[i], seen + 1);
			ck_assert_str_eq(rt[i], "256");
			ck_assert_uint_eq(strtoull(pl[i], NULL, 10), (seen + 1) * 256);
			ck_assert_str_eq(hp[i], "1");
			ck_assert_str_eq(cls[i], "2");
			ck_assert_str_eq(dr[i], "0");
			seen++;
		}
		frames++;
	}
	free(s);
	ck_assert_uint_eq(frames, dgrams);
	ck_assert_uint_eq(seen, samples);
	expect_clean_sflow(pcap);
}
END_TEST

/* Every sample as tshark dissects its header, summed per flow, equals the
 * dump summed likewise. */
START_TEST(test_sflow_tshark_matches_dump)
{
	SKIP_WITHOUT_TSHARK();
	char pcap[PATH_MAX], dump[PATH_MAX], *err;
	snprintf(pcap, sizeof(pcap), "%s", tmp("sm.pcap"));
	snprintf(dump, sizeof(dump), "%s", tmp("sm.dump"));
	ck_assert_int_eq(gen(&err, "-f sflow -s 11 %s --pcap '%s' --dump '%s'", scenario_args(1), pcap, dump), 0);
	uint64_t samples = summary(err, "samples");
	free(err);

	struct lines want = { 0 }, got = { 0 };
	struct fsums a = { 0 };
	dump_sums(dump, &want, 0);
	/* per frame: IPv4 samples first (outer header = occurrence 0), then
	 * IPv6 ones; L4 fields in sample order per protocol */
	char *s = tshark(pcap, "-o tcp.analyze_sequence_numbers:FALSE -e ip.src -e ip.dst -e ip.len -e ip.proto "
			       "-e ipv6.src -e ipv6.dst -e ipv6.plen -e ipv6.nxt -e tcp.srcport -e tcp.dstport -e tcp.flags "
			       "-e udp.srcport -e udp.dstport -e icmp.type -e icmp.code -e icmpv6.type -e icmpv6.code "
			       "-e sflow_245.numsamples");
	uint64_t total = 0;
	char *save = NULL;
	for (char *line = strtok_r(s, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		enum { NV = 64 };
		char *c[18];
		static char *v[18][NV];
		unsigned n[18];
		ck_assert_uint_eq(split(line, '\t', c, 18), 18);
		for (int k = 0; k < 18; k++)
			n[k] = values(c[k], v[k], NV);
		unsigned ns = (unsigned)atoi(c[17]);
		ck_assert_uint_ge(n[0], 1);
		unsigned n4 = n[0] - 1, n6 = n[4];
		ck_assert_uint_eq(n4 + n6, ns);
		unsigned it = 0, iu = 1 /* outer UDP */, ii = 0, ii6 = 0;
		for (unsigned i = 0; i < ns; i++) {
			int v6 = i >= n4;
			unsigned j = v6 ? i - n4 : i + 1;
			const char *src = v6 ? v[4][j] : v[0][j], *dst = v6 ? v[5][j] : v[1][j];
			unsigned proto = (unsigned)atoi(v6 ? v[7][j] : v[3][j]);
			uint64_t len = v6 ? strtoull(v[6][j], NULL, 10) + 40 : strtoull(v[2][j], NULL, 10);
			unsigned sport = 0, dport = 0;
			unsigned long flags = 0;
			if (proto == 6) {
				ck_assert_uint_lt(it, n[8]);
				sport = (unsigned)atoi(v[8][it]);
				dport = (unsigned)atoi(v[9][it]);
				flags = strtoul(v[10][it], NULL, 16);
				it++;
			} else if (proto == 17) {
				ck_assert_uint_lt(iu, n[11]);
				sport = (unsigned)atoi(v[11][iu]);
				dport = (unsigned)atoi(v[12][iu]);
				iu++;
			} else if (proto == 1) {
				ck_assert_uint_lt(ii, n[13]);
				dport = (unsigned)(atoi(v[13][ii]) << 8 | atoi(v[14][ii]));
				ii++;
			} else if (proto == 58) {
				ck_assert_uint_lt(ii6, n[15]);
				dport = (unsigned)(atoi(v[15][ii6]) << 8 | atoi(v[16][ii6]));
				ii6++;
			}
			char key[200];
			snprintf(key, sizeof(key), "%s %u %s %u %u %lu", src, sport, dst, dport, proto, flags);
			fsum_add(&a, key, 1, len);
			total++;
		}
	}
	free(s);
	ck_assert_uint_eq(total, samples);
	fsum_lines(&a, &got);
	lines_equal(&got, &want, "sflow");
	lines_free(&got);
	lines_free(&want);
	expect_clean_sflow(pcap);
}
END_TEST

/* mamori's decoder returns the generated packets: one record per sample,
 * summed per flow equal to the dump, at the sampling rate, stamped with the
 * datagram's time.  Loop 1: the same with --sflow-payload, whose marker is
 * in the capture (raw headers of up to 128 bytes) and changes nothing the
 * decoder returns. */
START_TEST(test_sflow_decoder_matches_dump)
{
	char pcap[PATH_MAX], dump[PATH_MAX], *err;
	snprintf(pcap, sizeof(pcap), "%s", tmp("sd.pcap"));
	snprintf(dump, sizeof(dump), "%s", tmp("sd.dump"));
	ck_assert_int_eq(gen(&err, "-f sflow -s 13 %s --pcap '%s' --dump '%s'%s", scenario_args(1), pcap, dump,
			     _i ? " --sflow-payload SECRET-PAYLOAD-MARK" : ""), 0);
	uint64_t samples = summary(err, "samples"), dgrams = summary(err, "datagrams");
	free(err);
	{
		size_t len;
		char *bytes = slurp(pcap, &len);
		ck_assert_ptr_nonnull(bytes);
		ck_assert_int_eq(memmem(bytes, len, "SECRET-PAYLOAD-MARK", 19) != NULL, _i);
		free(bytes);
	}

	struct tu_decoded d;
	memset(&d, 0, sizeof(d));
	ck_assert_int_eq(tu_decode_capture(&d, pcap), 0);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(d.datagrams, dgrams);
	ck_assert_uint_eq(d.nrecs, samples);
	ck_assert_uint_eq(st.flow_samples, samples);
	ck_assert_uint_eq(st.malformed, 0);
	ck_assert_uint_eq(st.lost_packets, 0);
	ck_assert_uint_eq(st.unknown_sampling, 0);
	ck_assert_uint_eq(st.sample_drops, 0);

	struct lines want = { 0 }, got = { 0 };
	struct fsums a = { 0 };
	dump_sums(dump, &want, 1);
	for (size_t i = 0; i < d.nrecs; i++) {
		const struct mm_flow *r = &d.recs[i];
		char s[64], t[64], key[200];
		ck_assert_uint_eq(r->format, MM_FMT_SFLOW5);
		ck_assert_uint_eq(r->sampling_src, MM_SAMPLING_HEADER);
		ck_assert_uint_eq(r->packets, 1);
		ck_assert_uint_eq(r->packets_scaled, 1000);
		ck_assert_uint_eq(r->start_ms, r->end_ms);
		ck_assert_uint_ge(r->start_ms, T0 * 1000);
		ck_assert_uint_le(r->start_ms, T0 * 1000 + 30000);
		snprintf(key, sizeof(key), "%s %u %s %u %u %u %u", mm_addr_str(r->src_addr, s, sizeof(s)), r->src_port,
			 mm_addr_str(r->dst_addr, t, sizeof(t)), r->dst_port, r->proto, r->tcp_flags, r->sampling_rate);
		fsum_add(&a, key, r->packets, r->bytes);
	}
	fsum_lines(&a, &got);
	lines_equal(&got, &want, "sflow decoder");
	lines_free(&got);
	lines_free(&want);
	tu_free(&d);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Determinism                                                          */

static void expect_same_file(const char *a, const char *b, int same)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	int eq = la == lb && memcmp(x, y, la) == 0;
	ck_assert_msg(eq == same, "%s and %s should %sbe identical", a, b, same ? "" : "not ");
	free(x);
	free(y);
}

START_TEST(test_deterministic)
{
	const char *f = formats[_i];
	char *err;
	for (int run = 0; run < 3; run++) {
		char name[32], truth[32];
		snprintf(name, sizeof(name), "det%d.pcap", run);
		snprintf(truth, sizeof(truth), "det%d.truth", run);
		ck_assert_int_eq(gen(&err, "-f %s -s %d %s --pcap '%s' --truth '%s'", f, run == 2 ? 12 : 11,
				     scenario_args(_i > 0), tmp(name), tmp(truth)), 0);
		free(err);
	}
	expect_same_file(tmp("det0.pcap"), tmp("det1.pcap"), 1);
	expect_same_file(tmp("det0.truth"), tmp("det1.truth"), 1);
	expect_same_file(tmp("det0.pcap"), tmp("det2.pcap"), 0);
}
END_TEST

/* The background does not change when attacks are added. */
START_TEST(test_background_independent_of_attacks)
{
	char *err;
	ck_assert_int_eq(gen(&err, "-s 4 --duration 20 --step-rate 100 --pcap '%s' --dump '%s'", tmp("bg.pcap"),
			     tmp("bg.dump")), 0);
	free(err);
	ck_assert_int_eq(gen(&err, "-s 4 --duration 20 --step-rate 100 --attack syn_flood:pps=30 "
				   "--attack horizontal_scan:pps=5 --pcap '%s' --dump '%s'",
			     tmp("bga.pcap"), tmp("bga.dump")), 0);
	free(err);
	char *a = slurp(tmp("bg.dump"), NULL), *b = slurp(tmp("bga.dump"), NULL);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(b);
	/* keep the background lines of b, in order */
	size_t out = 0, n = strlen(b);
	char *save = NULL, *kept = calloc(1, n + 1);
	ck_assert_ptr_nonnull(kept);
	int first = 1;
	for (char *line = strtok_r(b, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t l = strlen(line);
		if (first || (l > 11 && strcmp(line + l - 11, "\tbackground") == 0)) {
			memcpy(kept + out, line, l);
			kept[out + l] = '\n';
			out += l + 1;
		}
		first = 0;
	}
	ck_assert_str_eq(kept, a);
	free(a);
	free(b);
	free(kept);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Ground truth                                                         */

START_TEST(test_truth_file)
{
	char *err;
	const char *truth = tmp("truth.tsv");
	ck_assert_int_eq(gen(&err, "--start 1700000000 --duration 100 --step-rate 50 --pcap '%s' --truth '%s' "
				   "--attack syn_flood:victim=10.0.0.5,start=10,end=40,pps=200 "
				   "--attack amplification:victim=10.0.0.6,vector=ntp,start=20,end=30,pps=50 "
				   "--attack carpet_bombing:prefix=10.0.1.0/24,start=0,end=100,pps=30 "
				   "--attack horizontal_scan:source=203.0.113.7,start=60,end=70,rate=1000 "
				   "--attack bruteforce:source=203.0.113.9,target=10.0.0.7,service=telnet,pps=2,start=50,end=90 "
				   "--attack exfiltration:source=10.0.0.8,target=192.0.2.80,pps=5 "
				   "--attack flood:victim=10.0.0.9,rate=100000,start=1,end=2 "
				   "--attack amplification:victim=10.0.0.10,vector=dns,mbps=50,start=3,end=4 "
				   "--attack outbound_flood:source=10.0.0.11,target=192.0.2.1,proto=icmp,pps=7,start=5,end=6 "
				   "--attack outbound_scan:source=10.0.0.12,start=7,end=8 "
				   "--attack vertical_scan:source=203.0.113.5,target=10.0.0.13,start=9,end=10,attempts=3",
			     tmp("t.pcap"), truth), 2);
	ck_assert_msg(strstr(err, "unexpected key 'attempts'") != NULL, "%s", err);
	free(err);
	ck_assert_int_eq(gen(&err, "--start 1700000000 --duration 100 --step-rate 50 --pcap '%s' --truth '%s' "
				   "--attack syn_flood:victim=10.0.0.5,start=10,end=40,pps=200 "
				   "--attack amplification:victim=10.0.0.6,vector=ntp,start=20,end=30,pps=50 "
				   "--attack carpet_bombing:prefix=10.0.1.0/24,start=0,end=100,pps=30 "
				   "--attack horizontal_scan:source=203.0.113.7,start=60,end=70,rate=1000 "
				   "--attack bruteforce:source=203.0.113.9,target=10.0.0.7,service=telnet,pps=2,start=50,end=90 "
				   "--attack exfiltration:source=10.0.0.8,target=192.0.2.80,pps=5 "
				   "--attack flood:victim=10.0.0.9,rate=100000,start=1,end=2 "
				   "--attack amplification:victim=10.0.0.10,vector=dns,mbps=50,start=3,end=4 "
				   "--attack outbound_flood:source=10.0.0.11,target=192.0.2.1,proto=icmp,pps=7,start=5,end=6 "
				   "--attack outbound_scan:source=10.0.0.12,start=7,end=8.5 "
				   "--attack vertical_scan:source=203.0.113.5,target=10.0.0.13,start=9,end=10",
			     tmp("t.pcap"), truth), 0);
	free(err);
	char *t = slurp(truth, NULL);
	ck_assert_ptr_nonnull(t);
	ck_assert_str_eq(t, "class\tvector\trole\ttarget\tstart\tend\tstrength\tpeer\n"
			    "syn_flood\t-\tvictim\t10.0.0.5\t1700000010\t1700000040\t200\t-\n"
			    "amplification\tntp\tvictim\t10.0.0.6\t1700000020\t1700000030\t50\t-\n"
			    "carpet_bombing\tudp\tvictim\t10.0.1.0/24\t1700000000\t1700000100\t30\t-\n"
			    "horizontal_scan\t-\tsource\t203.0.113.7\t1700000060\t1700000070\t1\t10.0.0.0/16\n"
			    "bruteforce\ttelnet\tsource\t203.0.113.9\t1700000050\t1700000090\t2\t10.0.0.7\n"
			    "exfiltration\t-\tsource\t10.0.0.8\t1700000000\t1700000100\t5\t192.0.2.80\n"
			    "flood\tudp\tvictim\t10.0.0.9\t1700000001\t1700000002\t100\t-\n"
			    "amplification\tdns\tvictim\t10.0.0.10\t1700000003\t1700000004\t4.46429\t-\n"
			    "outbound_flood\ticmp\tsource\t10.0.0.11\t1700000005\t1700000006\t7\t192.0.2.1\n"
			    "outbound_scan\t-\tsource\t10.0.0.12\t1700000007\t1700000008.500\t1\t-\n"
			    "vertical_scan\t-\tsource\t203.0.113.5\t1700000009\t1700000010\t1\t10.0.0.13\n");
	free(t);
}
END_TEST

/* A run cut short by --count: attacks that never started are left out,
 * the others end where the scenario stopped. */
START_TEST(test_truth_clipped_by_count)
{
	char *err;
	const char *truth = tmp("clip.tsv");
	ck_assert_int_eq(gen(&err, "--start 1700000000 --step-rate 100 --count 1000 --pcap '%s' --truth '%s' "
				   "--attack syn_flood:victim=10.0.0.5,start=0,end=100,pps=0.5 "
				   "--attack flood:victim=10.0.0.6,start=50,end=60",
			     tmp("clip.pcap"), truth), 0);
	ck_assert_uint_eq(summary(err, "records"), 1000);
	free(err);
	char *t = slurp(truth, NULL);
	ck_assert_ptr_nonnull(t);
	/* 1000 records: 995 background (10 per 0.1 s) + 5 attack ones by 9.94 s */
	ck_assert_str_eq(t, "class\tvector\trole\ttarget\tstart\tend\tstrength\tpeer\n"
			    "syn_flood\t-\tvictim\t10.0.0.5\t1700000000\t1700000009.940\t0.5\t-\n");
	free(t);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Attack shapes (from the dump)                                        */

struct rec {
	uint64_t start, end;
	char src[64], dst[64];
	unsigned sport, dport, proto, flags;
	uint64_t packets, bytes;
	char origin[32];
};

static struct rec *read_dump(const char *path, size_t *n)
{
	char *s = slurp(path, NULL);
	ck_assert_ptr_nonnull(s);
	size_t cap = 1024, k = 0;
	struct rec *r = malloc(cap * sizeof(*r));
	ck_assert_ptr_nonnull(r);
	char *save = NULL;
	strtok_r(s, "\n", &save); /* header */
	for (char *line = strtok_r(NULL, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c[12];
		ck_assert_uint_eq(split(line, '\t', c, 12), 12);
		if (k == cap) {
			cap *= 2;
			r = realloc(r, cap * sizeof(*r));
			ck_assert_ptr_nonnull(r);
		}
		r[k].start = strtoull(c[0], NULL, 10);
		r[k].end = strtoull(c[1], NULL, 10);
		snprintf(r[k].src, sizeof(r[k].src), "%s", c[2]);
		r[k].sport = (unsigned)atoi(c[3]);
		snprintf(r[k].dst, sizeof(r[k].dst), "%s", c[4]);
		r[k].dport = (unsigned)atoi(c[5]);
		r[k].proto = (unsigned)atoi(c[6]);
		r[k].flags = (unsigned)strtoul(c[7], NULL, 16);
		r[k].packets = strtoull(c[8], NULL, 10);
		r[k].bytes = strtoull(c[9], NULL, 10);
		snprintf(r[k].origin, sizeof(r[k].origin), "%s", c[11]);
		k++;
	}
	free(s);
	*n = k;
	return r;
}

static unsigned distinct(struct rec *r, size_t n, const char *origin, int dst)
{
	char **v = malloc((n + 1) * sizeof(*v));
	size_t k = 0;
	ck_assert_ptr_nonnull(v);
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].origin, origin) == 0)
			v[k++] = dst ? r[i].dst : r[i].src;
	qsort(v, k, sizeof(*v), cmp_str);
	unsigned d = 0;
	for (size_t i = 0; i < k; i++)
		d += i == 0 || strcmp(v[i], v[i - 1]) != 0;
	free(v);
	return d;
}

/* TCP is two-way: a TCP record with enough sampled packets is followed by
 * its ACK companion (5-tuple reversed, same times, ~half its packets of
 * pure 40-byte ACKs, 60 on IPv6), and the stream stays a function of the
 * seed. */
static int monitored5(const char *a)
{
	return strncmp(a, "10.5.", 5) == 0 || strncmp(a, "2001:db8:5:", 11) == 0;
}

START_TEST(test_tcp_ack_companions)
{
	char *err;
	const char *args = "-f ipfix -s 21 --duration 30 --step-rate 400 --sampling 10 "
			   "--prefix 10.5.0.0/16 --prefix 2001:db8:5::/64 --hosts 300";
	ck_assert_int_eq(gen(&err, "%s --pcap '%s' --dump '%s'", args, tmp("ack0.pcap"), tmp("ack0.dump")), 0);
	ck_assert_uint_eq(summary(err, "background"), 12000);
	free(err);
	ck_assert_int_eq(gen(&err, "%s --pcap '%s' --dump '%s'", args, tmp("ack1.pcap"), tmp("ack1.dump")), 0);
	free(err);
	expect_same_file(tmp("ack0.dump"), tmp("ack1.dump"), 1);
	expect_same_file(tmp("ack0.pcap"), tmp("ack1.pcap"), 1);

	size_t n;
	struct rec *r = read_dump(tmp("ack0.dump"), &n);
	ck_assert_uint_eq(n, 12000);
	unsigned big_in = 0, big_out = 0, v6 = 0, acks = 0;
	for (size_t i = 0; i < n; i++) {
		struct rec *d = &r[i];
		/* 3+ sampled packets at 1:10: more than 20 unsampled, so more
		 * than 10 ACKs, at least one sampled */
		if (d->proto != 6 || d->packets < 3 || (d->bytes == 40 * d->packets) ||
		    (d->bytes == 60 * d->packets))
			continue;
		int in = monitored5(d->dst);
		ck_assert_msg(in != monitored5(d->src), "record %zu: one monitored side", i);
		ck_assert_msg(i + 1 < n, "record %zu: no companion at the end", i);
		struct rec *a = &r[i + 1];
		ck_assert_msg(a->proto == 6 && strcmp(a->src, d->dst) == 0 && strcmp(a->dst, d->src) == 0 &&
				      a->sport == d->dport && a->dport == d->sport,
			      "record %zu (%s:%u -> %s:%u, %" PRIu64 " pkts): next is not its reverse", i, d->src,
			      d->sport, d->dst, d->dport, d->packets);
		ck_assert_uint_eq(a->start, d->start);
		ck_assert_uint_eq(a->end, d->end);
		ck_assert_str_eq(a->origin, "background");
		ck_assert_msg(a->flags == 0x10 || a->flags == 0x11, "companion flags 0x%x", a->flags);
		ck_assert_uint_eq(a->bytes, (strchr(a->src, ':') ? 60 : 40) * a->packets);
		/* P/N within (k-1, k+1): P/2N within ((k-1)/2, (k+1)/2) */
		ck_assert_msg(a->packets >= (d->packets - 1) / 2 && a->packets <= (d->packets + 2) / 2,
			      "companion %" PRIu64 " pkts for %" PRIu64, a->packets, d->packets);
		if (in)
			big_in++;
		else
			big_out++;
		v6 += strchr(a->src, ':') != NULL;
		acks++;
		i++;
	}
	ck_assert_msg(big_in >= 20 && big_out >= 20 && v6 >= 5, "large TCP flows: %u in, %u out, %u IPv6", big_in,
		      big_out, v6);
	/* companions of smaller flows exist too, and every companion-looking
	 * record follows its data record */
	unsigned all = 0;
	for (size_t i = 1; i < n; i++) {
		struct rec *a = &r[i], *d = &r[i - 1];
		if (a->proto != 6 || !(a->flags == 0x10 || a->flags == 0x11) || strcmp(a->src, d->dst) != 0 ||
		    strcmp(a->dst, d->src) != 0 || a->sport != d->dport || a->dport != d->sport)
			continue;
		ck_assert_uint_eq(a->bytes, (strchr(a->src, ':') ? 60 : 40) * a->packets);
		all++;
	}
	ck_assert_msg(all > acks, "%u companions, %u of large flows", all, acks);
	free(r);

	/* another seed, another stream */
	ck_assert_int_eq(gen(&err, "-f ipfix -s 22 --duration 30 --step-rate 400 --sampling 10 --prefix 10.5.0.0/16 "
				   "--prefix 2001:db8:5::/64 --hosts 300 --pcap '%s' --dump '%s'",
			     tmp("ack2.pcap"), tmp("ack2.dump")), 0);
	free(err);
	expect_same_file(tmp("ack0.dump"), tmp("ack2.dump"), 0);
}
END_TEST

START_TEST(test_attack_shapes)
{
	char *err;
	const char *dump = tmp("shapes.dump");
	ck_assert_int_eq(gen(&err, "-f v9 -s 9 --start 1700000000 --duration 40 --step-rate 100 --sampling 1 "
				   "--prefix 10.5.0.0/16 --prefix 2001:db8:5::/64 --hosts 400 --pcap '%s' --dump '%s' "
				   "--attack syn_flood:victim=10.5.0.5,start=5,end=15,pps=50 "
				   "--attack amplification:victim=10.5.0.6,vector=ntp,start=10,end=20,pps=40,reflectors=25 "
				   "--attack carpet_bombing:prefix=10.5.3.0/24,pps=30,start=0,end=10 "
				   "--attack horizontal_scan:source=203.0.113.7,prefix=10.5.0.0/22,port=23,pps=20,start=0,end=10 "
				   "--attack vertical_scan:source=2001:db8:ffff::8,target=2001:db8:5::9,ports=100-199,pps=20,start=0,end=10 "
				   "--attack bruteforce:source=203.0.113.9,target=10.5.0.7,service=ssh,attempts=2,start=0,end=10 "
				   "--attack outbound_flood:source=10.5.0.11,target=192.0.2.1,pps=10,start=0,end=10 "
				   "--attack outbound_scan:source=10.5.0.12,port=445,pps=10,start=0,end=10 "
				   "--attack exfiltration:source=10.5.0.13,target=192.0.2.80,pps=100,flows=2,active=5,start=0,end=40 "
				   "--attack flood:victim=10.5.0.14,proto=icmp,pps=20,ramp=10,start=20,end=40",
			     tmp("shapes.pcap"), dump), 0);
	free(err);
	size_t n;
	struct rec *r = read_dump(dump, &n);
	unsigned cnt[16] = { 0 };
	static const char *const names[] = { "syn_flood", "amplification", "carpet_bombing", "horizontal_scan",
					     "vertical_scan", "bruteforce", "outbound_flood", "outbound_scan",
					     "exfiltration", "flood", "background" };
	uint64_t t0 = T0 * 1000;
	unsigned ramp_first = 0, ramp_last = 0;
	for (size_t i = 0; i < n; i++) {
		struct rec *x = &r[i];
		int k = -1;
		for (int j = 0; j < 11; j++)
			if (strcmp(x->origin, names[j]) == 0)
				k = j;
		ck_assert_msg(k >= 0, "origin '%s'", x->origin);
		cnt[k]++;
		ck_assert_uint_le(x->start, x->end);
		switch (k) {
		case 0:
			ck_assert_str_eq(x->dst, "10.5.0.5");
			ck_assert_uint_eq(x->dport, 80);
			ck_assert_uint_eq(x->proto, 6);
			ck_assert_uint_eq(x->flags, 0x02);
			ck_assert_uint_eq(x->packets, 1);
			ck_assert_uint_ge(x->start, t0 + 5000);
			ck_assert_uint_lt(x->end, t0 + 15000);
			break;
		case 1:
			ck_assert_str_eq(x->dst, "10.5.0.6");
			ck_assert_uint_eq(x->sport, 123);
			ck_assert_uint_eq(x->proto, 17);
			break;
		case 2:
			ck_assert_msg(strncmp(x->dst, "10.5.3.", 7) == 0, "carpet dst %s", x->dst);
			break;
		case 3:
			ck_assert_str_eq(x->src, "203.0.113.7");
			ck_assert_uint_eq(x->dport, 23);
			ck_assert_uint_eq(x->flags, 0x02);
			ck_assert_msg(strncmp(x->dst, "10.5.", 5) == 0, "scan dst %s", x->dst);
			break;
		case 4:
			ck_assert_str_eq(x->src, "2001:db8:ffff::8");
			ck_assert_str_eq(x->dst, "2001:db8:5::9");
			ck_assert_uint_ge(x->dport, 100);
			ck_assert_uint_le(x->dport, 199);
			break;
		case 5: /* unsampled: one whole login attempt per record */
			ck_assert_str_eq(x->dst, "10.5.0.7");
			ck_assert_uint_eq(x->dport, 22);
			ck_assert_uint_ge(x->packets, 10);
			ck_assert_uint_le(x->packets, 15);
			ck_assert_uint_eq(x->flags, 0x1b);
			break;
		case 6:
			ck_assert_str_eq(x->src, "10.5.0.11");
			ck_assert_str_eq(x->dst, "192.0.2.1");
			break;
		case 7:
			ck_assert_str_eq(x->src, "10.5.0.12");
			ck_assert_uint_eq(x->dport, 445);
			ck_assert_msg(strncmp(x->dst, "10.5.", 5) != 0, "outbound scan hits inside: %s", x->dst);
			break;
		case 8:
			ck_assert_str_eq(x->src, "10.5.0.13");
			ck_assert_uint_eq(x->dport, 443);
			ck_assert_uint_eq(x->packets, 250); /* 100 pps * 5 s / 2 flows */
			ck_assert_uint_le(x->end - x->start, 5000);
			if (x->end >= t0 + 5000)
				ck_assert_uint_eq(x->end - x->start, 5000);
			break;
		case 9:
			ck_assert_uint_eq(x->proto, 1);
			ck_assert_uint_eq(x->dport, 0x0800);
			if (x->end < t0 + 25000)
				ramp_first++;
			else if (x->end >= t0 + 25000 && x->end < t0 + 30000)
				ramp_last++;
			break;
		}
	}
	ck_assert_uint_eq(cnt[0], 500);
	ck_assert_uint_eq(cnt[1], 400);
	ck_assert_uint_le(distinct(r, n, "amplification", 0), 25);
	ck_assert_uint_ge(distinct(r, n, "amplification", 0), 20);
	ck_assert_uint_eq(cnt[2], 300);
	ck_assert_uint_ge(distinct(r, n, "carpet_bombing", 1), 150);
	ck_assert_uint_eq(cnt[3], 200);
	ck_assert_uint_ge(distinct(r, n, "horizontal_scan", 1), 180);
	ck_assert_uint_eq(cnt[4], 200);
	ck_assert_uint_eq(cnt[5], 20); /* 2 attempts/s for 10 s, unsampled */
	ck_assert_uint_eq(cnt[6], 100);
	ck_assert_uint_eq(cnt[7], 100);
	ck_assert_uint_ge(distinct(r, n, "outbound_scan", 1), 95);
	ck_assert_uint_eq(cnt[8], 15); /* one chunk every 2.5 s, the first at 2.5 s */
	/* ramp over 10 s: a quarter of the ramp's records in its first half */
	ck_assert_msg(ramp_first * 2 < ramp_last, "ramp: %u then %u", ramp_first, ramp_last);
	ck_assert_uint_eq(cnt[10], 4000);
	free(r);
}
END_TEST

/* The strength column (7th) of a truth file's first attack. */
static double truth_strength(const char *s)
{
	const char *p = strchr(s, '\n');
	for (int i = 0; p != NULL && i < 6; i++)
		p = strchr(p + 1, '\t');
	ck_assert_ptr_nonnull(p);
	return strtod(p + 1, NULL);
}

/* x= resolves to a multiple of the victim's own baseline. */
START_TEST(test_strength_multiple_of_baseline)
{
	char *err;
	const char *a = tmp("x1.tsv"), *b = tmp("x4.tsv");
	ck_assert_int_eq(gen(&err, "--duration 10 --pcap '%s' --truth '%s' --attack flood:victim=10.0.0.1,x=1",
			     tmp("x.pcap"), a), 0);
	free(err);
	ck_assert_int_eq(gen(&err, "--duration 10 --pcap '%s' --truth '%s' --attack flood:victim=10.0.0.1,x=4",
			     tmp("x.pcap"), b), 0);
	free(err);
	char *s1 = slurp(a, NULL), *s4 = slurp(b, NULL);
	double p1 = truth_strength(s1), p4 = truth_strength(s4);
	ck_assert_msg(p1 > 0 && p4 > 3.99 * p1 && p4 < 4.01 * p1, "x=1 -> %g, x=4 -> %g", p1, p4);
	free(s1);
	free(s4);
}
END_TEST

/* ------------------------------------------------------------------ */
/* Sending on loopback                                                  */

static int udp_sink(uint16_t *port)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	int sz = 8 << 20;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	socklen_t l = sizeof(a);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &l), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Read every queued datagram (the sender has exited: no waiting). */
static unsigned drain(int fd, uint8_t (*buf)[2048], unsigned max, size_t *lens)
{
	unsigned n = 0;
	while (n < max) {
		ssize_t r = recv(fd, buf[n], sizeof(buf[n]), MSG_DONTWAIT);
		if (r < 0)
			break;
		lens[n++] = (size_t)r;
	}
	return n;
}

static uint16_t g16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t g32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

START_TEST(test_send_v5)
{
	uint16_t port;
	int fd = udp_sink(&port);
	char *err;
	ck_assert_int_eq(gen(&err, "-f v5 --sampling 64 --send 127.0.0.1:%u --rate max --count 1500 --batch 16", port),
			 0);
	ck_assert_uint_eq(summary(err, "records"), 1500);
	ck_assert_uint_eq(summary(err, "send_errors"), 0);
	uint64_t dgrams = summary(err, "datagrams");
	free(err);

	static uint8_t buf[256][2048];
	size_t lens[256];
	unsigned n = drain(fd, buf, 256, lens);
	ck_assert_uint_eq(n, dgrams);
	uint32_t seq = 0;
	for (unsigned i = 0; i < n; i++) {
		ck_assert_uint_eq(g16(buf[i]), 5);
		unsigned count = g16(buf[i] + 2);
		ck_assert_uint_eq(lens[i], 24 + 48 * (size_t)count);
		ck_assert_uint_eq(g32(buf[i] + 16), seq);
		ck_assert_uint_eq(g16(buf[i] + 22), 0x4000 | 64);
		seq += count;
	}
	ck_assert_uint_eq(seq, 1500);
	close(fd);
}
END_TEST

START_TEST(test_send_pool_v9)
{
	uint16_t port;
	int fd = udp_sink(&port);
	char *err;
	ck_assert_int_eq(gen(&err, "-f v9 --send 127.0.0.1:%u --rate max --count 4000 --pool 16 --batch 8 "
				   "--template-every 10 --domain 5 --start 1800000000",
			     port), 0);
	uint64_t records = summary(err, "records"), dgrams = summary(err, "datagrams");
	ck_assert_uint_ge(records, 4000);
	ck_assert_uint_lt(records, 4000 + 40); /* whole datagrams */
	free(err);

	static uint8_t buf[256][2048];
	size_t lens[256];
	unsigned n = drain(fd, buf, 256, lens);
	ck_assert_uint_eq(n, dgrams);
	uint64_t flows = 0;
	unsigned tmpl = 0;
	uint32_t prev_secs = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = buf[i];
		ck_assert_uint_eq(g16(p), 9);
		ck_assert_uint_eq(g32(p + 12), i);       /* package sequence */
		ck_assert_uint_eq(g32(p + 16), 5);       /* source id */
		uint32_t secs = g32(p + 8);
		ck_assert_uint_ge(secs, 1800000000);     /* stamps follow the clock from --start */
		ck_assert_uint_le(secs, 1800000000 + 60);
		ck_assert_uint_ge(secs, prev_secs);
		prev_secs = secs;
		uint32_t up = g32(p + 4);
		if (g16(p + 20) == 0) {
			ck_assert_msg(i % 11 == 0, "templates at datagram %u", i);
			tmpl++;
			continue;
		}
		/* walk the data sets; every record ends before the header time */
		size_t off = 20;
		unsigned nrec = 0;
		while (off + 4 <= lens[i]) {
			unsigned id = g16(p + off), sl = g16(p + off + 2);
			ck_assert_uint_ge(sl, 4);
			ck_assert_uint_le(off + sl, lens[i]);
			ck_assert_msg(id == 256 || id == 257, "set %u", id);
			size_t rl = id == 256 ? 36 : 60, ts = id == 256 ? 16 : 40;
			for (size_t r = off + 4; r + rl <= off + sl; r += rl) {
				uint32_t first = g32(p + r + ts), last = g32(p + r + ts + 4);
				ck_assert_uint_le(first, last);
				ck_assert_uint_le(last, up);
				ck_assert_uint_ge(last + 3000, up);
				nrec++;
			}
			off += sl;
		}
		ck_assert_uint_eq(nrec, g16(p + 2));
		flows += nrec;
	}
	ck_assert_uint_eq(flows, records);
	ck_assert_uint_eq(tmpl, (n + 10) / 11);
	close(fd);
}
END_TEST

/* sFlow over UDP: samples numbered across datagrams, and the datagrams
 * decode to one record per sample; the pool's re-sent datagrams too. */
static void check_sflow_stream(uint8_t (*buf)[2048], const size_t *lens, unsigned n, uint64_t samples)
{
	struct tu_decoded d;
	memset(&d, 0, sizeof(d));
	uint64_t seen = 0;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = buf[i];
		ck_assert_uint_eq(g32(p), 5);
		ck_assert_uint_eq(g32(p + 4), 1);
		ck_assert_uint_eq(g32(p + 8), 0x7f000001);
		ck_assert_uint_eq(g32(p + 16), i + 1); /* datagram sequence */
		unsigned count = g32(p + 24);
		size_t off = 28;
		for (unsigned k = 0; k < count; k++) {
			ck_assert_uint_le(off + 28, lens[i]);
			ck_assert_uint_eq(g32(p + off), 1);
			ck_assert_uint_eq(g32(p + off + 8), seen + 1); /* sample sequence */
			ck_assert_uint_eq(g32(p + off + 16), 1000);
			ck_assert_uint_eq(g32(p + off + 20), (uint32_t)((seen + 1) * 1000));
			off += 8 + g32(p + off + 4);
			seen++;
		}
		ck_assert_uint_eq(off, lens[i]);
		ck_assert_int_eq(tu_decode_bytes(&d, p, lens[i], 0), (int)count);
	}
	ck_assert_uint_eq(seen, samples);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(d.nrecs, samples);
	ck_assert_uint_eq(st.malformed, 0);
	ck_assert_uint_eq(st.lost_packets, 0);
	tu_free(&d);
}

START_TEST(test_send_sflow)
{
	uint16_t port;
	int fd = udp_sink(&port);
	char *err;
	ck_assert_int_eq(gen(&err, "-f sflow --send 127.0.0.1:%u --rate max --count 800 --batch 16", port), 0);
	ck_assert_uint_eq(summary(err, "records"), 800);
	uint64_t samples = summary(err, "samples"), dgrams = summary(err, "datagrams");
	ck_assert_uint_ge(samples, 800);
	ck_assert_uint_eq(summary(err, "send_errors"), 0);
	free(err);
	static uint8_t buf[256][2048];
	size_t lens[256];
	unsigned n = drain(fd, buf, 256, lens);
	ck_assert_uint_eq(n, dgrams);
	check_sflow_stream(buf, lens, n, samples);
	close(fd);
}
END_TEST

START_TEST(test_send_pool_sflow)
{
	uint16_t port;
	int fd = udp_sink(&port);
	char *err;
	ck_assert_int_eq(gen(&err, "-f sflow --send 127.0.0.1:%u --rate max --count 1500 --pool 8 --batch 8", port),
			 0);
	uint64_t samples = summary(err, "samples"), dgrams = summary(err, "datagrams");
	ck_assert_uint_ge(samples, 1500); /* --count counts the pool's records: samples */
	ck_assert_uint_lt(samples, 1500 + 20);
	free(err);
	static uint8_t buf[256][2048];
	size_t lens[256];
	unsigned n = drain(fd, buf, 256, lens);
	ck_assert_uint_eq(n, dgrams);
	check_sflow_stream(buf, lens, n, samples);
	close(fd);
}
END_TEST

START_TEST(test_send_rate_limited)
{
	uint16_t port;
	int fd = udp_sink(&port);
	char *err;
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	ck_assert_int_eq(gen(&err, "-f v5 --send 127.0.0.1:%u --rate 20000 --count 9000", port), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	double el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
	ck_assert_uint_eq(summary(err, "records"), 9000);
	/* the last datagram is due at (9000 - 30) / 20000 s */
	ck_assert_msg(el >= 0.44, "9000 records at 20000/s took %.3f s", el);
	free(err);
	close(fd);
}
END_TEST

/* ------------------------------------------------------------------ */

/* ------------------------------------------------------------------ */
/* Scenario files, look-alikes, the cycle (docs/scenarios.md)           */

static void write_text(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	ck_assert_int_eq(fclose(fp), 0);
}

static int same_file(const char *a, const char *b)
{
	size_t la, lb;
	char *x = slurp(a, &la), *y = slurp(b, &lb);
	int same = x && y && la == lb && memcmp(x, y, la) == 0;
	free(x);
	free(y);
	return same;
}

/* A file says what the options say, byte for byte; the command line wins
 * over the file; attack lines add to --attack. */
START_TEST(test_scenario_file_equals_cli)
{
	char scn[PATH_MAX]; /* tmp()'s buffers are reused */
	char *err;
	snprintf(scn, sizeof(scn), "%s", tmp("a.scn"));
	write_text(scn, "# a comment line\n"
			"seed 9   # trailing comment\n"
			"format ipfix\n"
			"\n"
			"hosts 300\n"
			"prefix 10.1.0.0/24\n"
			"prefix 10.2.0.0/24\n"
			"sampling 100\n"
			"duration 30\n"
			"\tstep-rate 300\n"
			"attack flood:victim=10.1.0.7,start=5,end=20,pps=50\n");
	ck_assert_int_eq(gen(&err, "--scenario '%s' --pcap '%s' --truth '%s'", scn, tmp("f.pcap"), tmp("f.tsv")), 0);
	free(err);
	ck_assert_int_eq(gen(&err, "-s 9 -f ipfix --hosts 300 --prefix 10.1.0.0/24 --prefix 10.2.0.0/24 --sampling 100 "
				   "--duration 30 --step-rate 300 --attack flood:victim=10.1.0.7,start=5,end=20,pps=50 "
				   "--pcap '%s' --truth '%s'",
			 tmp("c.pcap"), tmp("c.tsv")),
			 0);
	free(err);
	ck_assert_msg(same_file(tmp("f.pcap"), tmp("c.pcap")), "scenario file and options differ");
	ck_assert_msg(same_file(tmp("f.tsv"), tmp("c.tsv")), "ground truths differ");

	/* overrides: duration and seed from the command line, one more attack */
	ck_assert_int_eq(gen(&err, "--scenario '%s' --duration 25 -s 4 --attack syn_flood:victim=10.2.0.3,start=1,end=2 "
				   "--pcap '%s' --truth '%s'",
			 scn, tmp("o.pcap"), tmp("o.tsv")),
			 0);
	ck_assert_uint_eq(summary(err, "background"), 25 * 300);
	free(err);
	ck_assert_int_eq(gen(&err, "-s 4 -f ipfix --hosts 300 --prefix 10.1.0.0/24 --prefix 10.2.0.0/24 --sampling 100 "
				   "--duration 25 --step-rate 300 --attack syn_flood:victim=10.2.0.3,start=1,end=2 "
				   "--attack flood:victim=10.1.0.7,start=5,end=20,pps=50 --pcap '%s' --truth '%s'",
			 tmp("p.pcap"), tmp("p.tsv")),
			 0);
	free(err);
	ck_assert_msg(same_file(tmp("o.pcap"), tmp("p.pcap")), "overridden scenario differs from its options");
	/* a --prefix replaces all the file's prefixes */
	ck_assert_int_eq(gen(&err, "--scenario '%s' --prefix 10.9.0.0/16 --pcap '%s'", scn, tmp("q.pcap")), 2);
	ck_assert_msg(strstr(err, "a.scn:11: ") && strstr(err, "victim"), "%s", err);
	free(err);
}
END_TEST

static const struct {
	const char *text;
	const char *want; /* in stderr, after "mamori-gen: " */
} bad_files[] = {
	{ "seed 1\nhots 5\n", "e.scn:2: unknown key 'hots'" },
	{ "seed 1\n\nseed 2\n", "e.scn:3: seed repeated (first on line 1)" },
	{ "duration\n", "e.scn:1: duration takes one value" },
	{ "duration 10 20\n", "e.scn:1: duration takes one value" },
	{ "# x\nhosts 0\n", "e.scn:2: --hosts '0'" },
	{ "format v7\n", "e.scn:1: -f 'v7'" },
	{ "prefix 10.0.0.1/16\n", "e.scn:1: --prefix" },
	{ "duration 10\nattack flood:victim=10.0.0.5,end=20\n", "e.scn:2: --attack" },
	{ "attack flood:colour=red\n", "e.scn:1: " },
	{ "benign flash_crowd:host=10.0.0.5,colour=red\n", "e.scn:1: benign flash_crowd: unknown key 'colour'" },
	{ "benign tsunami:x=2\n", "e.scn:1: benign 'tsunami': unknown kind" },
	{ "benign backup:host=192.0.2.1\n", "e.scn:1: benign backup: host is not inside a monitored prefix" },
	{ "benign update_check:x=2\n", "e.scn:1: benign update_check: x= needs a host" },
	{ "cycle day=1.5\n", "e.scn:1: --cycle 'day=1.5'" },
};

START_TEST(test_scenario_file_errors)
{
	char scn[PATH_MAX];
	char *err;
	snprintf(scn, sizeof(scn), "%s", tmp("e.scn"));
	write_text(scn, bad_files[_i].text);
	int rc = gen(&err, "--scenario '%s' --pcap '%s'", scn, tmp("e.pcap"));
	ck_assert_msg(rc == 2 && strstr(err, bad_files[_i].want), "file %d (%s): exit %d, stderr '%s', want '%s'", _i,
		      bad_files[_i].text, rc, err, bad_files[_i].want);
	free(err);
	/* a long line, a missing file */
	char big[700];
	memset(big, 'a', sizeof(big) - 2);
	big[sizeof(big) - 2] = '\n';
	big[sizeof(big) - 1] = '\0';
	write_text(scn, big);
	ck_assert_int_eq(gen(&err, "--scenario '%s' --pcap '%s'", scn, tmp("e.pcap")), 2);
	ck_assert_msg(strstr(err, "e.scn:1: line longer than 512"), "%s", err);
	free(err);
	ck_assert_int_eq(gen(&err, "--scenario '%s' --pcap '%s'", tmp("none.scn"), tmp("e.pcap")), 2);
	ck_assert_msg(strstr(err, "none.scn: No such file"), "%s", err);
	free(err);
}
END_TEST

/* Look-alikes: their records (origin benign in the dump, as many as the
 * summary says, in time order, with the right host and ports) and their
 * ground-truth lines after the attacks. */
START_TEST(test_benign_lookalikes)
{
	char *err;
	ck_assert_int_eq(gen(&err, "-f ipfix --hosts 500 --duration 60 --step-rate 100 --pcap '%s' --dump '%s' --truth '%s' "
				   "--attack flood:victim=10.0.0.9,start=10,end=20 "
				   "--benign flash_crowd:host=10.0.0.3,pps=20,start=5,end=35 "
				   "--benign backup:host=10.0.0.4,target=203.0.113.9,pps=10 "
				   "--benign cdn:host=10.0.0.5,x=4,start=30 "
				   "--benign update_check:prefix=10.0.1.0/28,period=20,burst=5,pps=8",
			 tmp("b.pcap"), tmp("b.dump"), tmp("b.tsv")),
			 0);
	uint64_t nb = summary(err, "benign");
	free(err);
	char *d = slurp(tmp("b.dump"), NULL);
	uint64_t n = 0, crowd_in = 0, crowd_out = 0, backup_out = 0, backup_pkts = 0, upd = 0, last = 0;
	unsigned backup_sport = 0;
	int ordered = 1;
	for (char *save, *l = strtok_r(d, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char src[64], dst[64], origin[32];
		unsigned long long st, en, pk;
		unsigned sp, dp;
		if (sscanf(l, "%llu\t%llu\t%63s\t%u\t%63s\t%u\t%*u\t%*s\t%llu\t%*u\t%*u\t%31s", &st, &en, src, &sp, dst,
			   &dp, &pk, origin) != 8 ||
		    strcmp(origin, "benign") != 0)
			continue;
		n++;
		ordered &= en >= last || last - en < 6000;
		last = en;
		crowd_in += strcmp(dst, "10.0.0.3") == 0 && dp == 443;
		crowd_out += strcmp(src, "10.0.0.3") == 0 && sp == 443;
		if (strcmp(src, "10.0.0.4") == 0 && strcmp(dst, "203.0.113.9") == 0 && dp == 22) {
			/* one session, exported once a minute (here: once, at its end) */
			ck_assert(backup_sport == 0 || backup_sport == sp);
			backup_sport = sp;
			backup_out++;
			backup_pkts += pk;
			ck_assert_uint_ge(en - st, 59000);
		}
		if (strncmp(src, "10.0.1.", 7) == 0 && dp == 443) {
			upd++;
			/* only in the first 5 s of each 20-s period */
			ck_assert_msg((en / 1000 - T0) % 20 < 6, "update check outside its burst: %s", l);
		}
	}
	free(d);
	ck_assert_uint_eq(n, nb);
	ck_assert(ordered);
	ck_assert_uint_gt(crowd_in, 100);
	ck_assert_uint_eq(crowd_in, crowd_out);
	ck_assert_uint_eq(backup_out, 1);
	ck_assert_uint_ge(backup_pkts, 10 * 60 * 9 / 10); /* pps=10 for 60 s, +-10 % */
	ck_assert_uint_le(backup_pkts, 10 * 60 * 11 / 10);
	ck_assert_uint_gt(upd, 10);

	char *t = slurp(tmp("b.tsv"), NULL);
	ck_assert_msg(strstr(t, "flood\tudp\tvictim\t10.0.0.9\t1700000010\t1700000020\t") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "\nbenign\tflash_crowd\tlookalike\t10.0.0.3\t1700000005\t1700000035\t20\t-\n") != NULL, "%s",
		      t);
	ck_assert_msg(strstr(t, "\nbenign\tbackup\tlookalike\t10.0.0.4\t1700000000\t1700000060\t10\t-\n") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "\nbenign\tcdn\tlookalike\t10.0.0.5\t1700000030\t1700000060\t") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "\nbenign\tupdate_check\tlookalike\t10.0.1.0/28\t1700000000\t1700000060\t8\t-\n") != NULL,
		      "%s", t);
	ck_assert_msg(strstr(t, "flood") < strstr(t, "benign"), "attacks first: %s", t);
	free(t);
}
END_TEST

/* The cycle: an hour at the 03:00 trough has ~(1-A)/(1+A) the records of
 * one at the 15:00 peak; a Saturday W times a Tuesday's; "off" changes
 * nothing. */
START_TEST(test_cycle)
{
	char *err;
	/* 2023-11-14 (Tuesday) 03:00 and 15:00 UTC; 2023-11-18 (Saturday) 15:00 */
	const uint64_t night = 1699930800, peak = 1699974000, sat = 1700319600;
	uint64_t bg[3];
	const uint64_t at[3] = { night, peak, sat };
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(gen(&err, "--hosts 100 --duration 600 --step-rate 100 --cycle day=0.5,weekend=0.5 "
					   "--start %llu --pcap '%s'",
				 (unsigned long long)at[i], tmp("y.pcap")),
				 0);
		bg[i] = summary(err, "background");
		free(err);
	}
	ck_assert_msg(bg[0] > 600 * 100 * 0.5 * 0.97 && bg[0] < 600 * 100 * 0.5 * 1.03, "night %llu",
		      (unsigned long long)bg[0]);
	ck_assert_msg(bg[1] > 600 * 100 * 1.5 * 0.97 && bg[1] < 600 * 100 * 1.5 * 1.03, "peak %llu",
		      (unsigned long long)bg[1]);
	ck_assert_msg(bg[2] > bg[1] * 0.5 * 0.97 && bg[2] < bg[1] * 0.5 * 1.03, "saturday %llu vs %llu",
		      (unsigned long long)bg[2], (unsigned long long)bg[1]);
	ck_assert_int_eq(gen(&err, "--hosts 100 --duration 30 --cycle off --pcap '%s'", tmp("off.pcap")), 0);
	free(err);
	ck_assert_int_eq(gen(&err, "--hosts 100 --duration 30 --pcap '%s'", tmp("none.pcap")), 0);
	free(err);
	ck_assert(same_file(tmp("off.pcap"), tmp("none.pcap")));
}
END_TEST

/* Busy hosts' (>= 20 background records a minute on average) minutes
 * without a record, over 20 minutes: none when steady; clients under
 * --onoff are idle in most of theirs. */
static unsigned hosts_with_idle_minutes(const char *extra)
{
	char *err;
	ck_assert_int_eq(gen(&err, "--hosts 40 --duration 1200 --step-rate 200 --dump '%s' %s --pcap /dev/null",
			     tmp("o.dump"), extra),
			 0);
	free(err);
	enum { H = 64, M = 20 };
	static unsigned n[H][M];
	memset(n, 0, sizeof(n));
	char *d = slurp(tmp("o.dump"), NULL);
	for (char *save, *l = strtok_r(d, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char src[64], dst[64], origin[32];
		unsigned long long st, en;
		if (sscanf(l, "%llu\t%llu\t%63s\t%*u\t%63s\t%*u\t%*u\t%*s\t%*u\t%*u\t%*u\t%31s", &st, &en, src, dst,
			   origin) != 5 ||
		    strcmp(origin, "background") != 0)
			continue;
		const char *host = strncmp(src, "10.0.0.", 7) == 0 ? src : dst;
		unsigned h = (unsigned)atoi(host + 7), m = (unsigned)((en / 1000 - T0) / 60);
		if (strncmp(host, "10.0.0.", 7) == 0 && h < H && m < M)
			n[h][m]++;
	}
	free(d);
	unsigned idle_hosts = 0;
	for (unsigned h = 0; h < H; h++) {
		unsigned total = 0, idle = 0;
		for (unsigned m = 0; m < M; m++) {
			total += n[h][m];
			idle += n[h][m] == 0;
		}
		if (total >= 20 * M && idle >= 5)
			idle_hosts++;
	}
	return idle_hosts;
}

START_TEST(test_onoff)
{
	ck_assert_uint_eq(hosts_with_idle_minutes(""), 0);
	ck_assert_uint_ge(hosts_with_idle_minutes("--onoff on=0.3,period=60"), 1);
}
END_TEST

static Suite *gen_suite(void)
{
	Suite *s = suite_create("gen");
	TCase *tc = tcase_create("cli");
	tcase_add_loop_test(tc, test_cli_errors, 0, (int)(sizeof(bad_args) / sizeof(bad_args[0])));
	tcase_add_test(tc, test_cli_help);
	suite_add_tcase(s, tc);

	tc = tcase_create("wire");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_v5_headers);
	tcase_add_test(tc, test_v9_headers_templates_options);
	tcase_add_test(tc, test_ipfix_psamp);
	tcase_add_test(tc, test_ipfix_legacy_sampling);
	tcase_add_loop_test(tc, test_tshark_matches_dump, 0, 3);
	tcase_add_loop_test(tc, test_decoders_match_dump, 0, 3);
	tcase_add_test(tc, test_sflow_headers_and_samples);
	tcase_add_test(tc, test_sflow_tshark_matches_dump);
	tcase_add_loop_test(tc, test_sflow_decoder_matches_dump, 0, 2);
	suite_add_tcase(s, tc);

	tc = tcase_create("scenario");
	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, test_deterministic, 0, 4);
	tcase_add_test(tc, test_background_independent_of_attacks);
	tcase_add_test(tc, test_tcp_ack_companions);
	tcase_add_test(tc, test_truth_file);
	tcase_add_test(tc, test_truth_clipped_by_count);
	tcase_add_test(tc, test_attack_shapes);
	tcase_add_test(tc, test_strength_multiple_of_baseline);
	tcase_add_test(tc, test_scenario_file_equals_cli);
	tcase_add_loop_test(tc, test_scenario_file_errors, 0, (int)(sizeof(bad_files) / sizeof(bad_files[0])));
	tcase_add_test(tc, test_benign_lookalikes);
	tcase_add_test(tc, test_cycle);
	tcase_add_test(tc, test_onoff);
	suite_add_tcase(s, tc);

	tc = tcase_create("send");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_send_v5);
	tcase_add_test(tc, test_send_pool_v9);
	tcase_add_test(tc, test_send_rate_limited);
	tcase_add_test(tc, test_send_sflow);
	tcase_add_test(tc, test_send_pool_sflow);
	suite_add_tcase(s, tc);
	return s;
}

static void find_gen(const char *argv0)
{
	const char *env = getenv("MAMORI_GEN");
	if (env && *env) {
		snprintf(gen_bin, sizeof(gen_bin), "%s", env);
		return;
	}
	char dir[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s", argv0);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	if (snprintf(gen_bin, sizeof(gen_bin), "%s/../bin/mamori-gen", dir) >= (int)sizeof(gen_bin))
		gen_bin[0] = '\0';
}

int main(int argc, char **argv)
{
	(void)argc;
	find_gen(argv[0]);
	if (access(gen_bin, X_OK) != 0) {
		fprintf(stderr, "test_gen: %s not found: build it first (make all), or set MAMORI_GEN\n", gen_bin);
		return EXIT_FAILURE;
	}
	have_tshark = system("command -v tshark >/dev/null 2>&1") == 0;
	if (!have_tshark)
		fprintf(stderr, "test_gen: tshark is not installed: the tshark cross-checks are skipped\n");
	const char *td = getenv("TMPDIR");
	/* mkdtemp's template: the prefix, then six 'X' it replaces */
	int tl = snprintf(tmpdir, sizeof(tmpdir) - 7, "%s/mamori-test-gen.", td && *td ? td : "/tmp");
	if (tl < 0 || (size_t)tl >= sizeof(tmpdir) - 7) {
		fprintf(stderr, "test_gen: TMPDIR too long\n");
		return EXIT_FAILURE;
	}
	memset(tmpdir + tl, 'X', 6);
	tmpdir[tl + 6] = '\0';
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}

	SRunner *sr = srunner_create(gen_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);

	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_gen: could not remove %s\n", tmpdir);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
