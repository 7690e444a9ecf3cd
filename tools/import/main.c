/*
 * mamori-import - labelled flow datasets (Stratosphere/CTU Argus
 * .binetflow, Zeek conn logs as CSV) into what mamori-gen writes: an IPFIX
 * pcap of the flows at their original times (so the collector's replay
 * clock works) and a ground-truth file (docs/labelled.md).
 *
 * The flows are the datasets' own, unsampled: the export says sampling
 * 1:1 (PSAMP options data, as mamori-gen --sampling 1), and the config
 * fragment (--conf) says sampling_rate = 1.  Each connection (both
 * directions in one line) becomes one record per direction that carried
 * packets, cut at the active timeout (60 s) as a probe would, packets and
 * bytes shared out evenly; a record is exported at its end.  The
 * exporter, the encoder and the pcap writer are mamori-gen's
 * (tools/gen/export.c, encode_ipfix.c, pcap.c).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "import.h"

#define MAX_PREFIXES 16

static void usage(FILE *f)
{
	fprintf(f,
		"usage: mamori-import --pcap OUT.pcap --truth OUT.tsv [--conf OUT.conf] [--label TEXT]\n"
		"                     [--prefix P]... [--t0 UNIX_S] [--gap S] [--min-probes N] [--min-flows N]\n"
		"                     [--active-timeout S] [--pcap-dst ADDR:PORT] INPUT\n"
		"  INPUT             Argus .binetflow or Zeek conn log as CSV (told apart by the header)\n"
		"  --pcap F          IPFIX export of the flows at their original times (sampling 1:1)\n"
		"  --truth F         ground truth: mamori-gen's columns + label, flows, pps, why\n"
		"  --conf F          a [group] section: the monitored prefixes, sampling_rate = 1\n"
		"  --label TEXT      label of lines without one (a file-level label: 'portscan', 'normal')\n"
		"  --prefix P        monitored prefix (repeatable); default: inferred (docs/labelled.md)\n"
		"  --t0 S            added to relative timestamps (below 1e9 s); default 1700000000\n"
		"  --gap S           a group's episode ends after S s of silence (default 300)\n"
		"  --min-probes N    distinct hosts/ports of a scan, attempts of a brute force (default 10)\n"
		"  --min-flows N     episodes with fewer connections are unmatched (default 5)\n"
		"  --active-timeout S  records cut every S s (default 60; 0: never)\n"
		"  --pcap-dst A:P    destination in the pcap (default 127.0.0.1:4739)\n");
}

struct rec {
	struct mm_flow f;
	uint64_t t_ms; /* export time */
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

static int add_rec(struct recs *r, const struct mm_flow *f)
{
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 4096;
		struct rec *nv = realloc(r->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		r->v = nv;
		r->cap = nc;
	}
	r->v[r->n].f = *f;
	r->v[r->n].t_ms = f->end_ms;
	r->n++;
	return 0;
}

static int cmp_rec(const void *x, const void *y)
{
	const struct rec *a = x, *b = y;
	if (a->t_ms != b->t_ms)
		return a->t_ms < b->t_ms ? -1 : 1;
	return a->f.start_ms < b->f.start_ms ? -1 : a->f.start_ms > b->f.start_ms;
}

static int cmp_conn_start(const void *x, const void *y)
{
	const struct imp_conn *a = x, *b = y;
	if (a->start_ms != b->start_ms)
		return a->start_ms < b->start_ms ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* One direction of a connection, cut at the active timeout. */
static int direction(struct recs *r, const struct imp_conn *c, int rev, uint64_t active_ms,
		     const struct gen_prefix *pfx, unsigned npfx)
{
	uint64_t pk = rev ? c->rev_pkts : c->fwd_pkts, by = rev ? c->rev_bytes : c->fwd_bytes;
	struct mm_flow f;

	if (pk == 0)
		return 0;
	memset(&f, 0, sizeof(f));
	memcpy(f.src_addr, rev ? c->dst : c->src, 16);
	memcpy(f.dst_addr, rev ? c->src : c->dst, 16);
	f.af = c->af;
	f.proto = c->proto;
	if (c->proto == 1 || c->proto == 58) {
		/* the reply of an echo request (8 -> 0, ICMPv6 128 -> 129); others as they are */
		uint16_t t = c->dport;
		if (rev && (t >> 8) == 8)
			t = 0;
		else if (rev && (t >> 8) == 128)
			t = 129 << 8;
		f.dst_port = t;
	} else {
		f.src_port = rev ? c->dport : c->sport;
		f.dst_port = rev ? c->sport : c->dport;
	}
	f.tcp_flags = c->proto == 6 ? (rev ? c->rev_flags : c->fwd_flags) : 0;
	f.sampling_rate = 1;
	f.direction = MM_DIR_INGRESS;
	int src_in = imp_local(pfx, npfx, f.src_addr);
	f.in_if = src_in ? 2 : 1;
	f.out_if = src_in ? 1 : 2;
	uint64_t dur = c->end_ms - c->start_ms;
	uint64_t n = (active_ms && dur > active_ms) ? (dur + active_ms - 1) / active_ms : 1;
	if (n > pk)
		n = pk;
	for (uint64_t i = 0; i < n; i++) {
		f.start_ms = c->start_ms + i * (n > 1 ? active_ms : 0);
		f.end_ms = (i + 1 == n) ? c->end_ms : f.start_ms + active_ms;
		f.packets = pk / n + (i < pk % n ? 1 : 0);
		f.bytes = by / n + (i < by % n ? 1 : 0);
		if (f.bytes < f.packets)
			f.bytes = f.packets; /* never fewer bytes than packets */
		if (add_rec(r, &f) < 0)
			return -1;
	}
	return 0;
}

static int is_private4(const uint8_t *a)
{
	const uint8_t *b = a + 12;
	return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168);
}

static int usable_local(const uint8_t *a, int af)
{
	if (af == 4)
		return a[12] != 0 && a[12] < 224 && a[12] != 127 && !(a[12] == 169 && a[13] == 254) &&
		       !(a[12] == 255);
	/* not link-local, multicast or unspecified */
	return !(a[0] == 0xfe && (a[1] & 0xc0) == 0x80) && a[0] != 0xff && !(a[0] == 0 && a[1] == 0);
}

struct cand {
	uint8_t a[16];
	unsigned long n;
};

static int cmp_cand(const void *x, const void *y)
{
	return memcmp(((const struct cand *)x)->a, ((const struct cand *)y)->a, 16);
}

/* The monitored prefixes, per family: the candidates are the addresses
 * Zeek marks local, else the private ones (RFC 1918, ULA), else every
 * address; the prefix is the /24 (/64) of the most frequent candidate,
 * widened a byte at a time down to /16 (/48) while other candidates lie
 * outside it. */
static unsigned infer_prefixes(const struct imp_conns *c, struct gen_prefix *out)
{
	unsigned np = 0;
	int have_local = 0;
	for (size_t i = 0; i < c->n; i++)
		if (c->v[i].src_local >= 0 || c->v[i].dst_local >= 0)
			have_local = 1;
	for (int af = 4; af <= 6; af += 2) {
		struct cand *v = malloc((2 * c->n + 1) * sizeof(*v));
		size_t nv = 0;
		if (!v)
			return np;
		for (int pass = 0; pass < 2 && nv == 0; pass++)
			for (size_t i = 0; i < c->n; i++) {
				const struct imp_conn *x = &c->v[i];
				if (x->af != af)
					continue;
				for (int s = 0; s < 2; s++) {
					const uint8_t *a = s ? x->dst : x->src;
					int loc = s ? x->dst_local : x->src_local;
					if (!usable_local(a, af))
						continue;
					int ok = have_local ? loc == 1
							    : (pass == 0 ? (af == 4 ? is_private4(a) : (a[0] & 0xfe) == 0xfc)
									 : 1);
					if (have_local && pass == 1)
						ok = 0;
					if (ok) {
						memcpy(v[nv].a, a, 16);
						v[nv++].n = 1;
					}
				}
			}
		if (nv) {
			qsort(v, nv, sizeof(*v), cmp_cand);
			size_t w = 0;
			for (size_t i = 1; i < nv; i++) {
				if (memcmp(v[i].a, v[w].a, 16) == 0)
					v[w].n++;
				else
					v[++w] = v[i];
			}
			nv = w + 1;
			size_t best = 0;
			for (size_t i = 1; i < nv; i++)
				if (v[i].n > v[best].n)
					best = i;
			unsigned bytes = af == 4 ? 15 : 8, floor = af == 4 ? 14 : 6;
			for (;;) {
				int all = 1;
				for (size_t i = 0; i < nv && all; i++)
					all = memcmp(v[i].a, v[best].a, bytes) == 0;
				if (all || bytes <= floor)
					break;
				bytes--;
			}
			struct gen_prefix *p = &out[np++];
			memset(p, 0, sizeof(*p));
			memcpy(p->addr, v[best].a, bytes);
			p->len = (uint8_t)(bytes * 8);
			p->af = (uint8_t)af;
		}
		free(v);
	}
	return np;
}

static int parse_num(const char *s, double lo, double hi, double *v)
{
	char *end;
	errno = 0;
	*v = strtod(s, &end);
	return (end == s || *end || errno || !(*v >= lo && *v <= hi)) ? -1 : 0;
}

enum { O_PCAP = 256, O_TRUTH, O_CONF, O_LABEL, O_PREFIX, O_T0, O_GAP, O_MINP, O_MINF, O_ACTIVE, O_DST };

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "pcap", required_argument, NULL, O_PCAP },	   { "truth", required_argument, NULL, O_TRUTH },
		{ "conf", required_argument, NULL, O_CONF },	   { "label", required_argument, NULL, O_LABEL },
		{ "prefix", required_argument, NULL, O_PREFIX },   { "t0", required_argument, NULL, O_T0 },
		{ "gap", required_argument, NULL, O_GAP },	   { "min-probes", required_argument, NULL, O_MINP },
		{ "min-flows", required_argument, NULL, O_MINF },  { "active-timeout", required_argument, NULL, O_ACTIVE },
		{ "pcap-dst", required_argument, NULL, O_DST },    { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *pcap_path = NULL, *truth_path = NULL, *conf_path = NULL;
	struct imp_read_opts ro = { NULL, 1700000000ull * 1000 };
	struct gen_prefix pfx[MAX_PREFIXES];
	unsigned npfx = 0;
	double gap = 300, active = 60, v;
	unsigned min_probes = 10, min_flows = 5;
	uint8_t dst4[4] = { 127, 0, 0, 1 }, src4[4] = { 127, 0, 0, 1 };
	uint16_t dport = 4739;
	char err[GEN_ERRLEN];
	int opt, rc = 1;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case O_PCAP: pcap_path = optarg; break;
		case O_TRUTH: truth_path = optarg; break;
		case O_CONF: conf_path = optarg; break;
		case O_LABEL: ro.file_label = optarg; break;
		case O_PREFIX:
			if (npfx == MAX_PREFIXES || gen_prefix_parse(optarg, &pfx[npfx], err, sizeof(err)) < 0) {
				fprintf(stderr, "mamori-import: --prefix %s: %s\n", optarg,
					npfx == MAX_PREFIXES ? "too many" : err);
				return 2;
			}
			npfx++;
			break;
		case O_T0:
			if (parse_num(optarg, 0, 4e9, &v) < 0) {
				fprintf(stderr, "mamori-import: --t0 %s: expected Unix seconds\n", optarg);
				return 2;
			}
			ro.t0_ms = (uint64_t)llround(v * 1000);
			break;
		case O_GAP:
			if (parse_num(optarg, 0, 1e7, &gap) < 0) {
				fprintf(stderr, "mamori-import: --gap %s: expected seconds\n", optarg);
				return 2;
			}
			break;
		case O_ACTIVE:
			if (parse_num(optarg, 0, 1e6, &active) < 0) {
				fprintf(stderr, "mamori-import: --active-timeout %s: expected seconds\n", optarg);
				return 2;
			}
			break;
		case O_MINP:
		case O_MINF:
			if (parse_num(optarg, 1, 1e6, &v) < 0 || v != floor(v)) {
				fprintf(stderr, "mamori-import: --%s %s: expected a count >= 1\n",
					opt == O_MINP ? "min-probes" : "min-flows", optarg);
				return 2;
			}
			*(opt == O_MINP ? &min_probes : &min_flows) = (unsigned)v;
			break;
		case O_DST: {
			char a[64];
			const char *colon = strrchr(optarg, ':');
			uint8_t d[16];
			if (!colon || (size_t)(colon - optarg) >= sizeof(a) || parse_num(colon + 1, 1, 65535, &v) < 0) {
				fprintf(stderr, "mamori-import: --pcap-dst %s: expected ADDR:PORT\n", optarg);
				return 2;
			}
			memcpy(a, optarg, (size_t)(colon - optarg));
			a[colon - optarg] = '\0';
			if (gen_addr_parse(a, d) != 4) {
				fprintf(stderr, "mamori-import: --pcap-dst %s: an IPv4 address is needed\n", optarg);
				return 2;
			}
			memcpy(dst4, d + 12, 4);
			dport = (uint16_t)v;
			break;
		}
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || !pcap_path || !truth_path) {
		fprintf(stderr, "mamori-import: one INPUT, --pcap and --truth are needed\n");
		usage(stderr);
		return 2;
	}
	const char *in = argv[optind];
	struct imp_conns cs = { 0 };
	struct imp_read_stats st = { 0 };
	struct recs rs = { 0 };
	struct gen_pcap *pc = NULL;
	static struct gen_exporter x; /* ~200 KiB of buffers */

	if (imp_read(in, &ro, &cs, &st) < 0)
		goto out;
	if (cs.n == 0) {
		fprintf(stderr, "mamori-import: %s: no IP flows\n", in);
		goto out;
	}
	qsort(cs.v, cs.n, sizeof(*cs.v), cmp_conn_start);
	if (npfx == 0) {
		npfx = infer_prefixes(&cs, pfx);
		for (unsigned i = 0; i < npfx; i++) {
			char b[64];
			fprintf(stderr, "mamori-import: %s: monitored prefix inferred: %s\n", in,
				gen_prefix_str(&pfx[i], b, sizeof(b)));
		}
	}
	if (st.relative)
		fprintf(stderr, "mamori-import: %s: %lu relative timestamps shifted by --t0 %.3f\n", in, st.relative,
			(double)ro.t0_ms / 1000);

	/* the records, in export order */
	int ipv6 = 0;
	for (size_t i = 0; i < cs.n; i++) {
		if (cs.v[i].af == 6)
			ipv6 = 1;
		if (direction(&rs, &cs.v[i], 0, (uint64_t)(active * 1000), pfx, npfx) < 0 ||
		    direction(&rs, &cs.v[i], 1, (uint64_t)(active * 1000), pfx, npfx) < 0) {
			fprintf(stderr, "mamori-import: out of memory\n");
			goto out;
		}
	}
	qsort(rs.v, rs.n, sizeof(*rs.v), cmp_rec);

	pc = gen_pcap_open(pcap_path, src4, 50000, dst4, dport, err, sizeof(err));
	if (!pc) {
		fprintf(stderr, "mamori-import: %s\n", err);
		goto out;
	}
	struct gen_exporter_cfg xc = {
		.fmt = &gen_fmt_ipfix,
		.sampling = 1, /* the datasets' flows are unsampled */
		.template_every = 20,
		.ipv6 = ipv6,
		.boot_ms = (rs.v[0].t_ms / 1000) * 1000 - 3600000ull,
	};
	memcpy(xc.exporter4, src4, 4);
	struct gen_sink sink = { gen_pcap_sink, pc };
	if (gen_exporter_init(&x, &xc, &sink, err, sizeof(err)) < 0) {
		fprintf(stderr, "mamori-import: %s\n", err);
		goto out;
	}
	/* an export timer: the open datagram leaves at every whole second */
	for (size_t i = 0; i < rs.n; i++) {
		if (i > 0 && rs.v[i].t_ms / 1000 != rs.v[i - 1].t_ms / 1000)
			gen_exporter_flush(&x, rs.v[i - 1].t_ms);
		memcpy(rs.v[i].f.exporter + 10, "\xff\xff", 2);
		gen_exporter_add(&x, &rs.v[i].f, rs.v[i].t_ms);
	}
	gen_exporter_flush(&x, rs.v[rs.n - 1].t_ms);
	int prc = gen_pcap_close(pc);
	pc = NULL;
	if (prc < 0 || x.failed) {
		fprintf(stderr, "mamori-import: writing %s failed\n", pcap_path);
		goto out;
	}

	struct imp_truth_opts to = { pfx, npfx, gap, min_probes, min_flows };
	struct imp_truth_stats ts;
	if (imp_truth_write(truth_path, &cs, &to, &ts) < 0) {
		fprintf(stderr, "mamori-import: %s: %s\n", truth_path, strerror(errno));
		goto out;
	}
	if (conf_path) {
		FILE *f = fopen(conf_path, "w");
		if (!f) {
			fprintf(stderr, "mamori-import: %s: %s\n", conf_path, strerror(errno));
			goto out;
		}
		fprintf(f, "# mamori-import %s: the dataset's internal network; its flows are unsampled\n[group labelled]\n",
			in);
		for (unsigned i = 0; i < npfx; i++) {
			char b[64];
			fprintf(f, "prefix = %s\n", gen_prefix_str(&pfx[i], b, sizeof(b)));
		}
		fprintf(f, "sampling_rate = 1\n");
		if (fclose(f) != 0) {
			fprintf(stderr, "mamori-import: %s: write failed\n", conf_path);
			goto out;
		}
	}
	fprintf(stderr,
		"mamori-import: %s (%s): lines=%lu connections=%lu bad=%lu non_ip=%lu no_packets=%lu "
		"unknown_labels=%lu malicious=%lu\n",
		in, st.format, st.lines, st.conns, st.bad, st.non_ip, st.empty, st.unknown_label, ts.mal_conns);
	fprintf(stderr,
		"mamori-import: ipfix pcap %s: records=%" PRIu64 " datagrams=%" PRIu64 " template_datagrams=%" PRIu64
		" sampling=1 span=%.3fs\n",
		pcap_path, x.flows, x.datagrams, x.tmpl_datagrams, (double)(rs.v[rs.n - 1].t_ms - rs.v[0].t_ms) / 1000);
	fprintf(stderr, "mamori-import: truth %s: rows=%u classed=%u unmatched=%u", truth_path, ts.rows, ts.classed,
		ts.unmatched);
	for (int k = 0; k < MM_CLASS_COUNT; k++)
		if (ts.per_class[k])
			fprintf(stderr, " %s=%u", mm_class_info(k)->name, ts.per_class[k]);
	fprintf(stderr, "\n");
	rc = 0;
out:
	if (pc)
		gen_pcap_close(pc);
	free(cs.v);
	free(rs.v);
	return rc;
}
