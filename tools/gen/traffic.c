/*
 * traffic.c - the background model.
 *
 * Hosts: --hosts addresses inside the monitored prefixes, spread over the
 * prefixes as evenly as their sizes allow and numbered from the first
 * usable address of each (10.0.0.1, 10.0.0.2, ...).  Each host gets a role
 * (client 70 %, web server 15 %, DNS resolver 5 %, mail server 5 %, bulk /
 * backup host 5 %) and a popularity rank; a record picks its host with
 * Zipf weights 1/rank (heavy-tailed: with 10 000 hosts the busiest carries
 * ~10 % of the records, the median one a few records a minute at 2000/s).
 *
 * A record: the host's role picks a service (direction, protocol, ports,
 * packet size, flow-size class) from its mix; the peer is one of 16 384
 * external addresses per family with Zipf(0.9) popularity (CDNs and big
 * resolvers dominate).  The unsampled flow size is drawn from a Pareto
 * distribution of the service's class; 1:N packet sampling turns it into
 * the sampled count the exporter reports (P/N rounded stochastically, at
 * least 1, since a record exists only when a packet was sampled).  Flows
 * end up to 1 s before their export and last up to the 60 s active
 * timeout, so their start/end spread over time; a flow longer than that
 * (1..20 ms a packet) is exported as its last 60 s slice.
 *
 * TCP is two-way: the receiver of a TCP record's data acknowledges it
 * (about one ACK per 2 data packets).  Each TCP record is followed by its
 * ACK companion, the reverse-direction record of the same connection
 * (5-tuple reversed, same start and end, pure 40-byte ACKs, 60 on IPv6),
 * when at least one of those ACKs is sampled: P/2 unsampled ACKs become
 * P/(2N) sampled ones rounded stochastically, with no minimum of 1, so
 * small flows mostly have none.  The companion is the next record
 * gen_traffic_next returns: it takes a background slot, so --step-rate
 * stays the record rate.  Without it the detector could not tell a
 * download (answered by ACKs) from a one-way flood.
 *
 * Everything comes from xoshiro256** streams derived from the seed: the
 * same seed gives the same hosts, roles, peers and records, and the
 * background stream is independent of the attacks'.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

#define NPEERS 16384u
#define ACTIVE_TIMEOUT_MS 60000u
#define BASELINE_DRAWS 50000u
#define ONOFF_REDRAWS 32u /* idle draws before a record goes to whoever came */

enum { STREAM_SETUP = 1, STREAM_BG = 2, STREAM_BASELINE = 3 };
enum { IN = 0, OUT = 1 };
enum { FS_TINY, FS_WEB, FS_BULK, FS_ICMP, FS_N };
enum { T_NONE, T_CLIENT, T_SERVER }; /* TCP side of the record's sender */

/* Flow-size classes: unsampled packets ~ Pareto(alpha) from pmin. */
static const struct {
	double alpha, pmin, cap;
} flowsize[FS_N] = {
	[FS_TINY] = { 2.5, 1, 1e4 },
	[FS_WEB] = { 1.2, 4, 1e7 },
	[FS_BULK] = { 1.05, 20, 1e8 },
	[FS_ICMP] = { 3.0, 1, 1e3 },
};

struct service {
	uint16_t weight;
	uint8_t dir;       /* IN: peer -> host, OUT: host -> peer */
	uint8_t proto;     /* 6, 17, 1 (ICMPv6 on IPv6 hosts) */
	uint16_t host_port;/* 0 = ephemeral; ICMP: unused */
	uint16_t peer_port;/* 0 = ephemeral, 1 = any high port; ICMP: type<<8|code */
	uint16_t size;     /* mean bytes per packet */
	uint8_t fs;
	uint8_t tcp;       /* T_CLIENT: sent by the connection's client */
};

#define EPH 0
#define HIGH 1
#define ICMP_ECHO 0x0800
#define ICMP_REPLY 0x0000

static const struct service svc_client[] = {
	{ 22, OUT, 6, EPH, 443, 90, FS_WEB, T_CLIENT },
	{ 26, IN, 6, EPH, 443, 1300, FS_WEB, T_SERVER },
	{ 3, OUT, 6, EPH, 80, 90, FS_WEB, T_CLIENT },
	{ 3, IN, 6, EPH, 80, 1200, FS_WEB, T_SERVER },
	{ 5, OUT, 17, EPH, 443, 250, FS_WEB, T_NONE },
	{ 7, IN, 17, EPH, 443, 1200, FS_WEB, T_NONE },
	{ 8, OUT, 17, EPH, 53, 75, FS_TINY, T_NONE },
	{ 8, IN, 17, EPH, 53, 160, FS_TINY, T_NONE },
	{ 1, OUT, 17, EPH, 123, 76, FS_TINY, T_NONE },
	{ 1, IN, 17, EPH, 123, 76, FS_TINY, T_NONE },
	{ 1, OUT, 1, 0, ICMP_ECHO, 84, FS_ICMP, T_NONE },
	{ 1, IN, 1, 0, ICMP_REPLY, 84, FS_ICMP, T_NONE },
	{ 2, OUT, 6, EPH, 993, 120, FS_WEB, T_CLIENT },
	{ 2, IN, 6, EPH, 993, 600, FS_WEB, T_SERVER },
	{ 3, OUT, 17, EPH, HIGH, 400, FS_WEB, T_NONE },
	{ 3, IN, 17, EPH, HIGH, 400, FS_WEB, T_NONE },
};

static const struct service svc_web[] = {
	{ 30, IN, 6, 443, EPH, 100, FS_WEB, T_CLIENT },
	{ 36, OUT, 6, 443, EPH, 1300, FS_WEB, T_SERVER },
	{ 6, IN, 6, 80, EPH, 100, FS_WEB, T_CLIENT },
	{ 8, OUT, 6, 80, EPH, 1200, FS_WEB, T_SERVER },
	{ 4, OUT, 17, EPH, 53, 75, FS_TINY, T_NONE },
	{ 4, IN, 17, EPH, 53, 160, FS_TINY, T_NONE },
	{ 1, IN, 1, 0, ICMP_ECHO, 84, FS_ICMP, T_NONE },
	{ 1, OUT, 1, 0, ICMP_REPLY, 84, FS_ICMP, T_NONE },
	{ 1, IN, 6, 22, EPH, 120, FS_WEB, T_CLIENT },
	{ 1, OUT, 6, 22, EPH, 200, FS_WEB, T_SERVER },
};

/* A busy resolver that is also authoritative: inbound UDP from port 53 is
 * normal here (the benign look-alike of DNS reflection). */
static const struct service svc_dns[] = {
	{ 30, OUT, 17, EPH, 53, 80, FS_TINY, T_NONE },
	{ 30, IN, 17, EPH, 53, 300, FS_TINY, T_NONE },
	{ 15, IN, 17, 53, EPH, 70, FS_TINY, T_NONE },
	{ 15, OUT, 17, 53, EPH, 250, FS_TINY, T_NONE },
	{ 1, OUT, 6, EPH, 53, 100, FS_TINY, T_CLIENT },
	{ 1, IN, 6, EPH, 53, 600, FS_TINY, T_SERVER },
	{ 2, OUT, 6, EPH, 443, 90, FS_WEB, T_CLIENT },
	{ 2, IN, 6, EPH, 443, 1200, FS_WEB, T_SERVER },
};

static const struct service svc_mail[] = {
	{ 20, IN, 6, 25, EPH, 400, FS_WEB, T_CLIENT },
	{ 15, OUT, 6, 25, EPH, 80, FS_WEB, T_SERVER },
	{ 15, OUT, 6, EPH, 25, 400, FS_WEB, T_CLIENT },
	{ 12, IN, 6, EPH, 25, 80, FS_WEB, T_SERVER },
	{ 8, IN, 6, 993, EPH, 150, FS_WEB, T_CLIENT },
	{ 8, OUT, 6, 993, EPH, 800, FS_WEB, T_SERVER },
	{ 8, OUT, 17, EPH, 53, 75, FS_TINY, T_NONE },
	{ 8, IN, 17, EPH, 53, 200, FS_TINY, T_NONE },
};

/* Backups and sync (the look-alike of exfiltration: steady, large, out). */
static const struct service svc_bulk[] = {
	{ 25, OUT, 6, EPH, 22, 1400, FS_BULK, T_CLIENT },
	{ 20, IN, 6, EPH, 22, 80, FS_BULK, T_SERVER },
	{ 15, OUT, 6, EPH, 443, 1400, FS_BULK, T_CLIENT },
	{ 12, IN, 6, EPH, 443, 100, FS_BULK, T_SERVER },
	{ 4, OUT, 17, EPH, 53, 75, FS_TINY, T_NONE },
	{ 4, IN, 17, EPH, 53, 160, FS_TINY, T_NONE },
};

enum { R_CLIENT, R_WEB, R_DNS, R_MAIL, R_BULK, NROLES };
#define NSVC(a) (sizeof(a) / sizeof((a)[0]))
static const struct {
	double share;
	const struct service *svc;
	unsigned nsvc;
} roles[NROLES] = {
	[R_CLIENT] = { 0.70, svc_client, NSVC(svc_client) },
	[R_WEB] = { 0.15, svc_web, NSVC(svc_web) },
	[R_DNS] = { 0.05, svc_dns, NSVC(svc_dns) },
	[R_MAIL] = { 0.05, svc_mail, NSVC(svc_mail) },
	[R_BULK] = { 0.05, svc_bulk, NSVC(svc_bulk) },
};

struct peers {
	uint8_t (*addr)[16];
	struct gen_alias alias;
};

struct gen_traffic {
	struct gen_traffic_cfg c;
	struct gen_prefix pfx[GEN_MAX_PREFIXES];
	uint32_t pfx_first[GEN_MAX_PREFIXES]; /* first host index in the prefix */
	uint32_t pfx_n[GEN_MAX_PREFIXES];     /* hosts in the prefix */
	uint32_t nhosts;
	uint8_t (*addr)[16];
	uint8_t *role;
	uint32_t *rank;
	double zipf_sum;
	struct gen_alias host_alias;
	struct gen_alias svc_alias[NROLES];
	struct peers peers4, peers6;
	struct gen_rng rng;
	int have_ack;              /* ack is the next record to return */
	struct mm_flow ack;
	int have_baseline;
	double base[NROLES][2][2]; /* [role][IN/OUT][pkts/bytes] per data record */
	double data_share;         /* data records / all records (the rest: ACKs) */
};

/* ------------------------------------------------------------------ */

int gen_alias_build(struct gen_alias *a, const double *w, uint32_t n)
{
	double sum = 0;
	a->n = n;
	a->cut = calloc(n, sizeof(*a->cut));
	a->alias = calloc(n, sizeof(*a->alias));
	double *p = malloc(n * sizeof(*p));
	uint32_t *small = malloc(n * sizeof(*small));
	uint32_t *large = malloc(n * sizeof(*large));
	if (!a->cut || !a->alias || !p || !small || !large) {
		free(p);
		free(small);
		free(large);
		gen_alias_free(a);
		return -1;
	}
	for (uint32_t i = 0; i < n; i++)
		sum += w[i];
	uint32_t ns = 0, nl = 0;
	for (uint32_t i = 0; i < n; i++) {
		p[i] = sum > 0 ? w[i] * n / sum : 1.0;
		a->alias[i] = i;
		if (p[i] < 1.0)
			small[ns++] = i;
		else
			large[nl++] = i;
	}
	while (ns > 0 && nl > 0) {
		uint32_t s = small[--ns], l = large[nl - 1];
		a->cut[s] = (uint32_t)(p[s] * 4294967296.0);
		a->alias[s] = l;
		p[l] -= 1.0 - p[s];
		if (p[l] < 1.0) {
			nl--;
			small[ns++] = l;
		}
	}
	/* Leftovers are 1 up to rounding: always keep. */
	while (nl > 0)
		a->cut[large[--nl]] = UINT32_MAX;
	while (ns > 0)
		a->cut[small[--ns]] = UINT32_MAX;
	free(p);
	free(small);
	free(large);
	return 0;
}

void gen_alias_free(struct gen_alias *a)
{
	free(a->cut);
	free(a->alias);
	a->cut = NULL;
	a->alias = NULL;
	a->n = 0;
}

/* ------------------------------------------------------------------ */

int gen_traffic_monitored(const struct gen_traffic *t, const uint8_t a[16])
{
	for (unsigned j = 0; j < t->c.nprefixes; j++)
		if (gen_prefix_contains(&t->pfx[j], a))
			return 1;
	return 0;
}

int gen_traffic_covers(const struct gen_traffic *t, const struct gen_prefix *p)
{
	for (unsigned j = 0; j < t->c.nprefixes; j++)
		if (gen_prefix_within(p, &t->pfx[j]))
			return 1;
	return 0;
}

static int special4(const uint8_t *b)
{
	return b[0] == 0 || b[0] == 10 || b[0] == 127 || b[0] >= 224 ||
	       (b[0] == 100 && (b[1] & 0xc0) == 64) || (b[0] == 169 && b[1] == 254) ||
	       (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168) ||
	       (b[0] == 192 && b[1] == 0 && b[2] == 2) || (b[0] == 198 && (b[1] & 0xfe) == 18) ||
	       (b[0] == 198 && b[1] == 51 && b[2] == 100) || (b[0] == 203 && b[1] == 0 && b[2] == 113);
}

void gen_traffic_external(const struct gen_traffic *t, uint64_t key, int af, uint8_t out[16])
{
	for (unsigned attempt = 0; attempt < 64; attempt++) {
		uint64_t x = gen_hash2(t->c.seed ^ 0x65787465726e616cull, key * 64 + attempt);
		if (af == 4) {
			uint8_t b[4] = { (uint8_t)(x >> 56), (uint8_t)(x >> 48), (uint8_t)(x >> 40),
					 (uint8_t)(x >> 32) };
			b[0] = (uint8_t)(1 + b[0] % 223);
			mm_addr_set4(out, b);
			if (special4(b))
				continue;
		} else {
			uint64_t y = gen_hash2(x, 0x76366c6f77ull);
			for (int i = 0; i < 8; i++) {
				out[i] = (uint8_t)(x >> (56 - 8 * i));
				out[8 + i] = (uint8_t)(y >> (56 - 8 * i));
			}
			out[0] = (uint8_t)(0x20 | (out[0] & 0x1f)); /* 2000::/3 */
			if (out[0] == 0x20 && out[1] == 0x01 && out[2] == 0x0d && out[3] == 0xb8)
				continue; /* documentation prefix: keep it for monitored nets */
		}
		if (!gen_traffic_monitored(t, out))
			return;
	}
	/* Only reached when the monitored prefixes cover (nearly) everything:
	 * the last candidate stands. */
}

static int build_peers(struct gen_traffic *t, struct peers *p, int af)
{
	double *w = malloc(NPEERS * sizeof(*w));
	p->addr = malloc(NPEERS * sizeof(*p->addr));
	if (!w || !p->addr) {
		free(w);
		return -1;
	}
	for (uint32_t i = 0; i < NPEERS; i++) {
		gen_traffic_external(t, (uint64_t)af << 40 | i, af, p->addr[i]);
		w[i] = pow((double)(i + 1), -0.9);
	}
	int rc = gen_alias_build(&p->alias, w, NPEERS);
	free(w);
	return rc;
}

static int spread_hosts(struct gen_traffic *t, char *err, size_t errlen)
{
	unsigned np = t->c.nprefixes;
	uint64_t cap[GEN_MAX_PREFIXES], total = 0;

	for (unsigned j = 0; j < np; j++) {
		cap[j] = gen_prefix_hosts(&t->pfx[j]);
		total += cap[j];
		t->pfx_n[j] = 0;
	}
	if (total < t->c.hosts) {
		snprintf(err, errlen, "--hosts %u does not fit the monitored prefixes (%llu addresses)",
			 t->c.hosts, (unsigned long long)total);
		return -1;
	}
	/* Water-filling: equal shares, capped by each prefix's size.  Each
	 * round fills at least one prefix or places every host: <= np rounds. */
	uint64_t left = t->c.hosts;
	for (unsigned round = 0; round <= np && left > 0; round++) {
		unsigned open = 0;
		for (unsigned j = 0; j < np; j++)
			open += t->pfx_n[j] < cap[j];
		if (open == 0)
			break;
		uint64_t share = left / open, extra = left % open;
		for (unsigned j = 0; j < np && left > 0; j++) {
			if (t->pfx_n[j] >= cap[j])
				continue;
			uint64_t want = share + (extra > 0 ? 1 : 0);
			if (extra > 0)
				extra--;
			uint64_t room = cap[j] - t->pfx_n[j];
			uint64_t got = want < room ? want : room;
			t->pfx_n[j] += (uint32_t)got;
			left -= got;
		}
	}
	uint32_t first = 0;
	for (unsigned j = 0; j < np; j++) {
		t->pfx_first[j] = first;
		for (uint32_t i = 0; i < t->pfx_n[j]; i++)
			gen_prefix_host(&t->pfx[j], i, t->addr[first + i]);
		first += t->pfx_n[j];
	}
	return 0;
}

struct gen_traffic *gen_traffic_new(const struct gen_traffic_cfg *c, char *err, size_t errlen)
{
	struct gen_traffic *t = calloc(1, sizeof(*t));
	double *w = NULL;
	int need4 = 0, need6 = 0;

	if (!t)
		goto nomem;
	t->c = *c;
	if (c->nprefixes == 0 || c->nprefixes > GEN_MAX_PREFIXES) {
		snprintf(err, errlen, "need 1 to %u monitored prefixes", GEN_MAX_PREFIXES);
		goto fail;
	}
	if (c->hosts == 0 || c->hosts > GEN_MAX_HOSTS) {
		snprintf(err, errlen, "--hosts must be 1..%u", GEN_MAX_HOSTS);
		goto fail;
	}
	memcpy(t->pfx, c->prefixes, c->nprefixes * sizeof(*t->pfx));
	t->c.prefixes = t->pfx;
	t->nhosts = c->hosts;
	t->addr = malloc((size_t)t->nhosts * sizeof(*t->addr));
	t->role = malloc(t->nhosts);
	t->rank = malloc((size_t)t->nhosts * sizeof(*t->rank));
	w = malloc((size_t)t->nhosts * sizeof(*w));
	if (!t->addr || !t->role || !t->rank || !w)
		goto nomem;
	if (spread_hosts(t, err, errlen) < 0)
		goto fail;

	struct gen_rng setup;
	gen_rng_seed(&setup, c->seed, STREAM_SETUP);
	/* Popularity ranks: a seeded Fisher-Yates permutation. */
	for (uint32_t i = 0; i < t->nhosts; i++)
		t->rank[i] = i;
	for (uint32_t i = t->nhosts - 1; i > 0; i--) {
		uint32_t j = gen_rng_below(&setup, i + 1);
		uint32_t tmp = t->rank[i];
		t->rank[i] = t->rank[j];
		t->rank[j] = tmp;
	}
	t->zipf_sum = 0;
	for (uint32_t i = 0; i < t->nhosts; i++) {
		w[i] = 1.0 / (double)(t->rank[i] + 1);
		t->zipf_sum += w[i];
		double u = gen_rng_unit(&setup), acc = 0;
		t->role[i] = R_CLIENT;
		for (unsigned r = 0; r < NROLES; r++) {
			acc += roles[r].share;
			if (u < acc) {
				t->role[i] = (uint8_t)r;
				break;
			}
		}
		if (mm_addr_is4(t->addr[i]))
			need4 = 1;
		else
			need6 = 1;
	}
	if (gen_alias_build(&t->host_alias, w, t->nhosts) < 0)
		goto nomem;
	for (unsigned r = 0; r < NROLES; r++) {
		double sw[32];
		for (unsigned k = 0; k < roles[r].nsvc; k++)
			sw[k] = roles[r].svc[k].weight;
		if (gen_alias_build(&t->svc_alias[r], sw, roles[r].nsvc) < 0)
			goto nomem;
	}
	if (need4 && build_peers(t, &t->peers4, 4) < 0)
		goto nomem;
	if (need6 && build_peers(t, &t->peers6, 6) < 0)
		goto nomem;
	gen_rng_seed(&t->rng, c->seed, STREAM_BG);
	free(w);
	return t;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	free(w);
	gen_traffic_free(t);
	return NULL;
}

void gen_traffic_free(struct gen_traffic *t)
{
	if (!t)
		return;
	free(t->addr);
	free(t->role);
	free(t->rank);
	gen_alias_free(&t->host_alias);
	for (unsigned r = 0; r < NROLES; r++)
		gen_alias_free(&t->svc_alias[r]);
	free(t->peers4.addr);
	gen_alias_free(&t->peers4.alias);
	free(t->peers6.addr);
	gen_alias_free(&t->peers6.alias);
	free(t);
}

/* ------------------------------------------------------------------ */

/* The unsampled packet count p of a flow; *k = its sampled count, P/N
 * rounded stochastically, at least 1 (the record exists). */
static double draw_packets(struct gen_rng *r, unsigned fs, uint32_t sampling, uint32_t *k)
{
	double u = gen_rng_unit(r);
	double p = flowsize[fs].pmin * pow(1.0 - u, -1.0 / flowsize[fs].alpha);
	if (p > flowsize[fs].cap)
		p = flowsize[fs].cap;
	p = ceil(p);
	if (sampling <= 1) {
		*k = (uint32_t)p;
		return p;
	}
	double x = p / sampling;
	double whole = floor(x);
	if (gen_rng_unit(r) < x - whole)
		whole += 1;
	*k = whole < 1 ? 1 : (uint32_t)whole;
	return p;
}

static uint8_t draw_flags(struct gen_rng *r, const struct service *sv, uint32_t k, uint32_t sampling)
{
	if (sv->proto != 6)
		return 0;
	if (sampling <= 1) /* whole flows: handshake, data, close */
		return 0x1b;
	uint32_t u = gen_rng_below(r, 100);
	if (k == 1 && u < 3) /* a sampled handshake packet */
		return sv->tcp == T_CLIENT ? 0x02 : 0x12;
	if (u < 6)
		return 0x11; /* FIN|ACK */
	return (k > 1 || (u & 1)) ? 0x18 : 0x10;
}

/* The ACK companion of TCP record f (p: the unsampled data packets it
 * stands for): 1 when at least one ACK was sampled, with *a filled.  Always
 * makes the same two draws, sampled or not. */
static int make_ack(const struct gen_traffic *t, struct gen_rng *r, const struct mm_flow *f, double p,
		    struct mm_flow *a)
{
	uint32_t n = t->c.sampling > 1 ? t->c.sampling : 1;
	double x = p / 2 / n;
	double whole = floor(x);
	if (gen_rng_unit(r) < x - whole)
		whole += 1;
	uint32_t u = gen_rng_below(r, 100);
	if (whole < 1)
		return 0;
	uint32_t k = whole > UINT32_MAX ? UINT32_MAX : (uint32_t)whole;
	*a = *f;
	memcpy(a->src_addr, f->dst_addr, 16);
	memcpy(a->dst_addr, f->src_addr, 16);
	a->src_port = f->dst_port;
	a->dst_port = f->src_port;
	a->in_if = f->out_if;
	a->out_if = f->in_if;
	a->packets = k;
	a->bytes = (uint64_t)k * (f->af == 4 ? 40 : 60);
	/* whole flows: SYN (or SYN-ACK), ACKs, FIN - no data, no PSH;
	 * sampled: the ACKs, a few of them the FIN */
	a->tcp_flags = n <= 1 ? 0x13 : u < 3 ? 0x11 : 0x10;
	a->packets_scaled = mm_scale(a->packets, t->c.sampling);
	a->bytes_scaled = mm_scale(a->bytes, t->c.sampling);
	return 1;
}

/* Fill the per-record fields common to the model and the baseline; for
 * TCP also its ACK companion *ack (return 1) when one was sampled. */
static int make_record(const struct gen_traffic *t, struct gen_rng *r, uint32_t h,
		       const struct service *sv, uint64_t t_ms, struct mm_flow *f, struct mm_flow *ack)
{
	int v4 = mm_addr_is4(t->addr[h]);
	const struct peers *pe = v4 ? &t->peers4 : &t->peers6;
	const uint8_t *peer = pe->addr[gen_alias_draw(&pe->alias, r)];
	uint16_t hport, pport;
	uint8_t proto = sv->proto;

	if (proto == 1) {
		hport = 0;
		pport = sv->peer_port;
		if (!v4) {
			proto = 58;
			pport = pport == ICMP_ECHO ? (uint16_t)(128 << 8) : (uint16_t)(129 << 8);
		}
	} else {
		hport = sv->host_port ? sv->host_port : (uint16_t)(32768 + gen_rng_below(r, 28232));
		if (sv->peer_port == EPH)
			pport = (uint16_t)(32768 + gen_rng_below(r, 28232));
		else if (sv->peer_port == HIGH)
			pport = (uint16_t)(1024 + gen_rng_below(r, 64512));
		else
			pport = sv->peer_port;
	}

	memset(f, 0, sizeof(*f));
	f->af = v4 ? 4 : 6;
	f->proto = proto;
	if (sv->dir == IN) {
		memcpy(f->src_addr, peer, 16);
		memcpy(f->dst_addr, t->addr[h], 16);
		f->src_port = proto == 1 || proto == 58 ? 0 : pport;
		f->dst_port = proto == 1 || proto == 58 ? pport : hport;
		f->in_if = 1;
		f->out_if = 2;
	} else {
		memcpy(f->src_addr, t->addr[h], 16);
		memcpy(f->dst_addr, peer, 16);
		f->src_port = proto == 1 || proto == 58 ? 0 : hport;
		f->dst_port = pport;
		f->in_if = 2;
		f->out_if = 1;
	}
	uint32_t k;
	double p = draw_packets(r, sv->fs, t->c.sampling, &k);
	uint32_t size = sv->size * 3 / 4 + gen_rng_below(r, sv->size / 2 + 1);
	uint32_t minsz = proto == 6 ? 40 : 28;
	if (!v4)
		minsz += 20;
	if (size < minsz)
		size = minsz;
	f->packets = k;
	f->bytes = (uint64_t)k * size;
	f->tcp_flags = draw_flags(r, sv, k, t->c.sampling);
	f->direction = MM_DIR_INGRESS;
	f->sampling_rate = t->c.sampling;
	f->packets_scaled = mm_scale(f->packets, t->c.sampling);
	f->bytes_scaled = mm_scale(f->bytes, t->c.sampling);

	uint64_t lag = gen_rng_below(r, 1000);
	uint64_t dur = 0;
	if (k > 1) {
		/* (k-1) sampled gaps of N packets each, 1..20 ms per packet */
		double gap = (double)t->c.sampling * (1 + gen_rng_below(r, 20));
		double d = (double)(k - 1) * gap;
		if (d > ACTIVE_TIMEOUT_MS) {
			/* A flow longer than the active timeout is exported
			 * in slices of it: this record is its last slice, with
			 * the packets that fit in it at the flow's own pace.
			 * Not the whole flow squeezed into 60 s (a multi-hour
			 * transfer as one minute at tens of thousands of pps
			 * from one host: a burst no real host makes). */
			uint32_t fit = 1 + (uint32_t)(ACTIVE_TIMEOUT_MS / gap);
			if (fit < k) {
				p = p * fit / k; /* the slice's share of the flow */
				k = fit;
				f->packets = k;
				f->bytes = (uint64_t)k * size;
				f->packets_scaled = mm_scale(f->packets, t->c.sampling);
				f->bytes_scaled = mm_scale(f->bytes, t->c.sampling);
			}
			d = (double)(k - 1) * gap;
		}
		dur = d > ACTIVE_TIMEOUT_MS ? ACTIVE_TIMEOUT_MS : (uint64_t)d;
	}
	f->end_ms = t_ms > lag ? t_ms - lag : 0;
	f->start_ms = f->end_ms > dur ? f->end_ms - dur : 0;
	return proto == 6 ? make_ack(t, r, f, p, ack) : 0;
}

/* Is host h active at t_ms?  Clients, under --onoff, only in a share of
 * their periods, chosen by a hash of (seed, host, period); each host's
 * periods start at its own phase, so they do not all switch at once. */
static int host_active(const struct gen_traffic *t, uint32_t h, uint64_t t_ms)
{
	if (!(t->c.onoff_share > 0) || t->c.onoff_share >= 1 || t->role[h] != R_CLIENT)
		return 1;
	uint64_t period_ms = (uint64_t)llround(t->c.onoff_period_s * 1000);
	if (period_ms == 0)
		return 1;
	uint64_t phase = gen_hash2(t->c.seed ^ 0x6f6e6f6666ull, h) % period_ms;
	uint64_t k = (t_ms + phase) / period_ms;
	uint64_t v = gen_hash2(gen_hash2(t->c.seed, h), k);
	return (double)(v >> 11) * 0x1p-53 < t->c.onoff_share;
}

void gen_traffic_next(struct gen_traffic *t, uint64_t t_ms, struct mm_flow *f)
{
	struct gen_rng *r = &t->rng;
	if (t->have_ack) {
		/* The previous record's ACKs, exported in this slot: its
		 * times are the data's, which ended before this export. */
		*f = t->ack;
		t->have_ack = 0;
		return;
	}
	uint32_t h = gen_alias_draw(&t->host_alias, r);
	/* An idle client sends nothing: draw again (bounded), so the record
	 * rate stays and the active hosts carry it. */
	for (unsigned i = 0; i < ONOFF_REDRAWS && !host_active(t, h, t_ms); i++)
		h = gen_alias_draw(&t->host_alias, r);
	unsigned role = t->role[h];
	const struct service *sv = &roles[role].svc[gen_alias_draw(&t->svc_alias[role], r)];
	t->have_ack = make_record(t, r, h, sv, t_ms, f, &t->ack);
}

/* ------------------------------------------------------------------ */

uint32_t gen_traffic_nhosts(const struct gen_traffic *t)
{
	return t->nhosts;
}

const uint8_t *gen_traffic_host_addr(const struct gen_traffic *t, uint32_t h)
{
	return t->addr[h];
}

int64_t gen_traffic_host_index(const struct gen_traffic *t, const uint8_t a[16])
{
	for (unsigned j = 0; j < t->c.nprefixes; j++) {
		int64_t i = gen_prefix_host_index(&t->pfx[j], a);
		if (i >= 0)
			return (uint64_t)i < t->pfx_n[j] ? t->pfx_first[j] + i : -1;
	}
	return -1;
}

const struct gen_prefix *gen_traffic_prefix(const struct gen_traffic *t, int af)
{
	for (unsigned j = 0; j < t->c.nprefixes; j++)
		if (t->pfx[j].af == af)
			return &t->pfx[j];
	return NULL;
}

/* Mean sampled packets and bytes per data record, by role and direction,
 * its ACK companion included (in the other direction), and the share of
 * data records among all records (companions take background slots),
 * measured on a separate stream (so asking changes no record). */
static void compute_baseline(struct gen_traffic *t)
{
	struct gen_rng r;
	struct mm_flow f, a;
	double acks[NROLES], role_w[NROLES] = { 0 };
	gen_rng_seed(&r, t->c.seed, STREAM_BASELINE);
	for (unsigned role = 0; role < NROLES; role++) {
		double sum[2][2] = { { 0, 0 }, { 0, 0 } };
		/* any host of the right family will do for sizes */
		uint32_t h = 0;
		acks[role] = 0;
		for (unsigned i = 0; i < BASELINE_DRAWS; i++) {
			const struct service *sv = &roles[role].svc[gen_alias_draw(&t->svc_alias[role], &r)];
			int d = sv->dir;
			if (make_record(t, &r, h, sv, 0, &f, &a)) {
				sum[!d][0] += (double)a.packets;
				sum[!d][1] += (double)a.bytes;
				acks[role] += 1;
			}
			sum[d][0] += (double)f.packets;
			sum[d][1] += (double)f.bytes;
		}
		for (int d = 0; d < 2; d++)
			for (int m = 0; m < 2; m++)
				t->base[role][d][m] = sum[d][m] / BASELINE_DRAWS;
		acks[role] /= BASELINE_DRAWS;
	}
	/* A data record of host h is drawn with weight 1/(rank+1); the mean
	 * companions per data record over the host mix gives the data share. */
	for (uint32_t h = 0; h < t->nhosts; h++)
		role_w[t->role[h]] += 1.0 / (double)(t->rank[h] + 1);
	double c = 0;
	for (unsigned role = 0; role < NROLES; role++)
		c += role_w[role] / t->zipf_sum * acks[role];
	t->data_share = 1.0 / (1.0 + c);
	t->have_baseline = 1;
}

void gen_traffic_baseline(struct gen_traffic *t, uint32_t h, int dir_in, double *pps, double *bps)
{
	if (!t->have_baseline)
		compute_baseline(t);
	/* data records of h per second (each with its ACKs in base) */
	double recs = t->c.rate * t->data_share / (double)(t->rank[h] + 1) / t->zipf_sum;
	int d = dir_in ? IN : OUT;
	*pps = recs * t->base[t->role[h]][d][0];
	*bps = recs * t->base[t->role[h]][d][1];
}

void gen_traffic_prefix_baseline(struct gen_traffic *t, const struct gen_prefix *p, double *pps,
				 double *bps)
{
	*pps = *bps = 0;
	for (uint32_t h = 0; h < t->nhosts; h++) {
		if (!gen_prefix_contains(p, t->addr[h]))
			continue;
		double a, b;
		gen_traffic_baseline(t, h, 1, &a, &b);
		*pps += a;
		*bps += b;
	}
}
