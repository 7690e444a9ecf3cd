/*
 * truth.c - the ground truth of a labelled dataset, in mamori-gen's format
 * (docs/generator.md) plus three columns of its own (docs/labelled.md):
 *
 *   class vector role target start end peer label flows pps why
 *
 * The malicious connections are grouped by attacker (the source; for a DoS
 * label, the victim) and label, and each group is cut into episodes where
 * it falls silent for --gap seconds.  The class comes from the label when
 * the label names one (scan, DoS, brute force), else from the group's
 * shape; labels of things we have no class for (C&C, botnet, malware
 * traffic) and groups of no recognisable shape become `unmatched` rows
 * carrying the original label, never a forced class.
 *
 *   shape (all the group's connections)            class
 *   >= min_probes destinations, >= as many as ports  horizontal_scan
 *   >= min_probes ports, more than destinations      vertical_scan
 *   (the scans: with a generic label, at least half the connections must
 *   be probes: <= 3 packets out, <= 2 back, no data back)
 *   (either, from a monitored source)                outbound_scan (vector: the shape)
 *   >= min_probes attempts, >= 80 % to 1-2 auth ports bruteforce
 *   label says DoS / DDoS / flood                    flood (victim)
 * An episode with fewer than min_flows connections is unmatched ("too
 * few"), whatever its group's class.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import.h"

enum kind { K_GENERIC = 0, K_SCAN, K_DOS, K_BRUTE, K_NOCLASS };

static enum kind label_kind(const char *label)
{
	char low[IMP_LABEL_MAX];
	size_t n = 0;
	for (; label[n] && n + 1 < sizeof(low); n++)
		low[n] = (char)(label[n] >= 'A' && label[n] <= 'Z' ? label[n] + 32 : label[n]);
	low[n] = '\0';
	if (strstr(low, "scan"))
		return K_SCAN;
	if (strstr(low, "brute"))
		return K_BRUTE;
	if (strstr(low, "ddos") || strstr(low, "dos") || strstr(low, "flood"))
		return K_DOS;
	/* botnet C&C, malware traffic, spam, trojans: no class of ours */
	if (strstr(low, "malware") || strstr(low, "botnet") || strstr(low, "c&c") || strstr(low, "trojan") ||
	    strstr(low, "spam") || strstr(low, "/cc") || strstr(low, "-cc") || strcmp(low, "cc") == 0)
		return K_NOCLASS;
	return K_GENERIC;
}

int imp_local(const struct gen_prefix *p, unsigned n, const uint8_t a[16])
{
	for (unsigned i = 0; i < n; i++)
		if (gen_prefix_contains(&p[i], a))
			return 1;
	return 0;
}

struct ctx {
	const struct imp_conns *c;
	const uint8_t *kind; /* per connection */
};

static const uint8_t *attacker(const struct imp_conn *c, int k)
{
	return k == K_DOS ? c->dst : c->src;
}

static int cmp_conn(const void *x, const void *y, void *arg)
{
	const struct ctx *cx = arg;
	size_t i = *(const size_t *)x, j = *(const size_t *)y;
	const struct imp_conn *a = &cx->c->v[i], *b = &cx->c->v[j];
	int ka = cx->kind[i], kb = cx->kind[j];
	int r = memcmp(attacker(a, ka), attacker(b, kb), 16);
	if (r)
		return r;
	if ((r = strcmp(a->label, b->label)))
		return r;
	if (ka != kb)
		return ka - kb;
	return a->start_ms < b->start_ms ? -1 : a->start_ms > b->start_ms ? 1 : (i < j ? -1 : i > j);
}

static int cmp16(const void *x, const void *y)
{
	return memcmp(x, y, 16);
}

static int cmp_u16(const void *x, const void *y)
{
	return (int)*(const uint16_t *)x - (int)*(const uint16_t *)y;
}

struct row {
	int cls; /* -1 unmatched */
	const char *vector;
	const char *role;
	char target[64], peer[64], label[IMP_LABEL_MAX], why[160];
	uint64_t start_ms, end_ms;
	unsigned long flows;
	double pps;
};

static int cmp_row(const void *x, const void *y)
{
	const struct row *a = x, *b = y;
	if (a->start_ms != b->start_ms)
		return a->start_ms < b->start_ms ? -1 : 1;
	return strcmp(a->target, b->target);
}

/* A probe: a few packets out, at most a refusal back (SYN, RST; an
 * unanswered UDP datagram). */
static int is_probe(const struct imp_conn *x)
{
	return x->fwd_pkts <= 3 && x->rev_pkts <= 2 && (x->rev_pkts == 0 || x->proto != 6 || (x->rev_flags & 0x04) ||
							  !(x->rev_flags & 0x08));
}

static int is_auth(uint16_t p)
{
	for (unsigned i = 0; mm_auth_ports[i]; i++)
		if (mm_auth_ports[i] == p)
			return 1;
	return 0;
}

/* The longest prefix (a multiple of 8 bits) holding every address. */
static void common_prefix(uint8_t (*a)[16], size_t n, int af, char *out, size_t len)
{
	unsigned bytes = 16;
	for (size_t i = 1; i < n; i++) {
		unsigned k = 0;
		while (k < bytes && a[i][k] == a[0][k])
			k++;
		bytes = k;
	}
	unsigned min = af == 4 ? 12 : 0;
	if (bytes <= min) {
		snprintf(out, len, "-");
		return;
	}
	struct gen_prefix p;
	memset(&p, 0, sizeof(p));
	memcpy(p.addr, a[0], bytes);
	p.len = (uint8_t)(bytes * 8);
	p.af = (uint8_t)af;
	gen_prefix_str(&p, out, len);
}

static void put_time(FILE *fp, uint64_t ms)
{
	if (ms % 1000 == 0)
		fprintf(fp, "%" PRIu64, ms / 1000);
	else
		fprintf(fp, "%" PRIu64 ".%03u", ms / 1000, (unsigned)(ms % 1000));
}

int imp_truth_write(const char *path, const struct imp_conns *c, const struct imp_truth_opts *o,
		    struct imp_truth_stats *st)
{
	size_t *idx = NULL, nm = 0, nrows = 0;
	uint8_t *kind = NULL, (*dsts)[16] = NULL;
	uint16_t *ports = NULL, *aports = NULL;
	struct row *rows = NULL;
	int rc = -1;
	FILE *fp = NULL;

	memset(st, 0, sizeof(*st));
	idx = malloc((c->n + 1) * sizeof(*idx));
	kind = malloc(c->n + 1);
	dsts = malloc((c->n + 1) * sizeof(*dsts));
	ports = malloc((c->n + 1) * sizeof(*ports));
	aports = malloc((c->n + 1) * sizeof(*aports));
	rows = malloc((c->n + 1) * sizeof(*rows));
	if (!idx || !kind || !dsts || !ports || !aports || !rows) {
		errno = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < c->n; i++) {
		kind[i] = (uint8_t)label_kind(c->v[i].label);
		if (c->v[i].malicious)
			idx[nm++] = i;
	}
	st->mal_conns = nm;
	struct ctx cx = { c, kind };
	qsort_r(idx, nm, sizeof(*idx), cmp_conn, &cx);

	for (size_t g = 0; g < nm;) {
		/* one group: same attacker, label */
		size_t e = g + 1;
		const struct imp_conn *a0 = &c->v[idx[g]];
		int k = kind[idx[g]];
		while (e < nm && kind[idx[e]] == k && memcmp(attacker(&c->v[idx[e]], k), attacker(a0, k), 16) == 0 &&
		       strcmp(c->v[idx[e]].label, a0->label) == 0)
			e++;
		/* the group's shape */
		size_t n = e - g, nd = 0, np = 0, na = 0, nauth = 0, nprobe = 0;
		for (size_t i = g; i < e; i++) {
			const struct imp_conn *x = &c->v[idx[i]];
			nprobe += is_probe(x);
			memcpy(dsts[i - g], k == K_DOS ? x->src : x->dst, 16);
			ports[i - g] = x->dport;
			if (is_auth(x->dport) && x->proto == 6)
				aports[nauth++] = x->dport;
		}
		qsort(dsts, n, 16, cmp16);
		qsort(ports, n, sizeof(*ports), cmp_u16);
		qsort(aports, nauth, sizeof(*aports), cmp_u16);
		for (size_t i = 0; i < n; i++) {
			nd += i == 0 || memcmp(dsts[i], dsts[i - 1], 16) != 0;
			np += i == 0 || ports[i] != ports[i - 1];
		}
		for (size_t i = 0; i < nauth; i++)
			na += i == 0 || aports[i] != aports[i - 1];
		/* the most frequent destination */
		size_t best = 0, bestn = 0;
		for (size_t i = 0, run = 0; i < n; i++) {
			run = (i > 0 && memcmp(dsts[i], dsts[i - 1], 16) == 0) ? run + 1 : 1;
			if (run > bestn)
				bestn = run, best = i;
		}
		char peer[64], shape[120];
		int cls = -1;
		const char *vector = "-", *role = "source";
		int inside = imp_local(o->prefixes, o->nprefixes, attacker(a0, k));
		snprintf(shape, sizeof(shape), "%zu connections (%zu probes) to %zu hosts on %zu ports", n, nprobe, nd,
			 np);
		/* a generic label must look like probing to be called a scan */
		int probing = k == K_SCAN || nprobe * 2 >= n;
		if (k == K_NOCLASS) {
			snprintf(peer, sizeof(peer), "-");
		} else if (k == K_DOS) {
			cls = MM_CLASS_FLOOD;
			role = "victim";
			snprintf(peer, sizeof(peer), "-");
		} else if (k != K_BRUTE && probing && nd >= o->min_probes && nd >= np) {
			cls = inside ? MM_CLASS_OUTBOUND_SCAN : MM_CLASS_HORIZONTAL_SCAN;
			vector = inside ? "horizontal" : "-";
			common_prefix(dsts, n, a0->af, peer, sizeof(peer));
		} else if (k != K_BRUTE && probing && np >= o->min_probes && np > nd) {
			cls = inside ? MM_CLASS_OUTBOUND_SCAN : MM_CLASS_VERTICAL_SCAN;
			vector = inside ? "vertical" : "-";
			gen_addr_str(dsts[best], peer, sizeof(peer));
		} else if ((k == K_BRUTE && n >= o->min_probes) ||
			   (nauth >= o->min_probes && nauth * 10 >= n * 8 && na <= 2)) {
			cls = MM_CLASS_BRUTEFORCE;
			gen_addr_str(dsts[best], peer, sizeof(peer));
		} else {
			snprintf(peer, sizeof(peer), "-");
		}
		/* episodes */
		for (size_t s = g; s < e;) {
			uint64_t t1 = c->v[idx[s]].end_ms, pk = 0;
			size_t q = s;
			for (; q < e; q++) {
				const struct imp_conn *x = &c->v[idx[q]];
				if (q > s && x->start_ms > t1 + (uint64_t)(o->gap_s * 1000))
					break;
				if (x->end_ms > t1)
					t1 = x->end_ms;
				pk += k == K_DOS ? x->fwd_pkts : x->fwd_pkts;
			}
			struct row *r = &rows[nrows++];
			memset(r, 0, sizeof(*r));
			r->start_ms = c->v[idx[s]].start_ms;
			r->end_ms = t1;
			r->flows = q - s;
			double d = (double)(t1 - r->start_ms) / 1000.0;
			r->pps = (double)pk / (d < 1 ? 1 : d);
			r->cls = cls;
			r->vector = vector;
			r->role = role;
			gen_addr_str(attacker(a0, k), r->target, sizeof(r->target));
			snprintf(r->peer, sizeof(r->peer), "%s", peer);
			snprintf(r->label, sizeof(r->label), "%s", a0->label[0] ? a0->label : "-");
			if (cls < 0)
				snprintf(r->why, sizeof(r->why), "%s", k == K_NOCLASS ? "label has no class" : shape);
			else if (r->flows < o->min_flows) {
				snprintf(r->why, sizeof(r->why), "%s shape, but %lu connections in this episode",
					 mm_class_info(cls)->name, r->flows);
				r->cls = -1;
				r->vector = "-";
			} else
				snprintf(r->why, sizeof(r->why), "%s", shape);
			if (r->cls < 0) {
				r->role = k == K_DOS ? "victim" : "source";
				st->unmatched++;
			} else {
				st->classed++;
				st->per_class[r->cls]++;
				st->classed_conns += r->flows;
			}
			s = q;
		}
		g = e;
	}
	qsort(rows, nrows, sizeof(*rows), cmp_row);
	st->rows = (unsigned)nrows;

	fp = fopen(path, "w");
	if (!fp)
		goto out;
	fprintf(fp, "class\tvector\trole\ttarget\tstart\tend\tpeer\tlabel\tflows\tpps\twhy\n");
	for (size_t i = 0; i < nrows; i++) {
		struct row *r = &rows[i];
		fprintf(fp, "%s\t%s\t%s\t%s\t", r->cls < 0 ? "unmatched" : mm_class_info(r->cls)->name, r->vector,
			r->role, r->target);
		put_time(fp, r->start_ms);
		fputc('\t', fp);
		put_time(fp, r->end_ms);
		fprintf(fp, "\t%s\t%s\t%lu\t%.6g\t%s\n", r->peer, r->label, r->flows, r->pps, r->why);
	}
	int err = ferror(fp);
	if (fclose(fp) != 0 || err) {
		fp = NULL;
		if (!errno)
			errno = EIO;
		goto out;
	}
	fp = NULL;
	rc = 0;
out:
	if (fp)
		fclose(fp);
	free(idx);
	free(kind);
	free(dsts);
	free(ports);
	free(aports);
	free(rows);
	return rc;
}
