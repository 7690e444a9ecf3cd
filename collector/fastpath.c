/*
 * fastpath.c - per-host rates over a short sliding interval against the
 * group's ceilings (fastpath.h).  No I/O, no clock, no globals.
 *
 * Layout.  Per host index: a header (address, group, what was reported and
 * when) and a ring of `nb` buckets, each one cache line: the bucket number
 * it holds (+1; any other number means empty, so the ring never has to be
 * cleared as the clock moves) and the counters the ceilings read.  Bucket
 * k covers [k x check_ms, (k + 1) x check_ms); the ring holds the buckets
 * [head + 2 - nb, head + 1], head being the bucket of the last check's
 * clock: two intervals back (records a second late still count) and one
 * ahead (records of the bucket being filled after the clock's last tick).
 * The hosts counted since the last check are on a list, so a check costs
 * the hosts that changed, not the table.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/fastpath.h"
#include "mamori/muldiv.h"
#include "mamori/redis_schema.h"
#include "mamori/window.h"

/* 32-bit counters of a bucket (packets and flows of check_ms at most: a
 * saturated one is over any ceiling, CEIL_MAX x 10 s fits). */
enum { C_PKTS_IN, C_FLOWS_IN, C_TCP_IN, C_UDP_IN, C_ICMP_IN, C_SYN_IN, C_AMP_IN, C_UDP_OUT, C_PKTS_OUT, NC32 };
/* Every counter of the check: the 32-bit ones, then the bytes. */
enum { V_BYTES_IN = NC32, V_BYTES_OUT, NV };

struct bucket {
	uint64_t k1;              /* bucket number + 1 of the counts; other = empty */
	uint64_t bytes_in, bytes_out;
	uint32_t c[NC32];
	uint32_t pad_;
};
_Static_assert(sizeof(struct bucket) == 64, "one cache line per bucket");

/* The classes the fast path raises, as bits of host.over. */
enum { K_FLOOD, K_SYN, K_AMP, K_OUT, NK };
static const uint8_t k_class[NK] = { MM_CLASS_FLOOD, MM_CLASS_SYN_FLOOD, MM_CLASS_AMPLIFICATION,
				     MM_CLASS_OUTBOUND_FLOOD };

struct host {
	uint8_t addr[16];
	uint16_t group;
	uint8_t touched;          /* on the list of hosts to evaluate */
	uint8_t over;             /* bit per K_*: over at its last evaluation */
	uint32_t amp[MM_AMP_SLOTS]; /* amplification packets in per vector, halved per evaluation */
	uint64_t first_ms[NK];    /* when it went over */
	uint64_t said_ms[NK];     /* last reported */
};

struct mm_fast {
	uint32_t w;               /* check_ms: bucket width */
	uint32_t win;             /* buckets in the interval */
	uint32_t nb;              /* buckets in the ring: 2 x win + 1 */
	uint32_t interval_ms, repeat_ms, max_hosts, max_events;
	uint64_t head;            /* bucket of the clock at the last check */
	int64_t lo_k;             /* oldest bucket of the ring: head + 2 - nb (may be < 0 near 0) */
	uint32_t lo_slot;         /* its slot: lo_k mod nb */
	uint64_t lo_ms, hi_ms;    /* [lo_ms, hi_ms): time the ring covers (lo_ms clamped at 0) */
	int64_t base_ms;          /* lo_k x check_ms (negative near 0) */
	uint8_t *pos;             /* nb x check_ms: ring position of base_ms + i (no division per record) */
	uint64_t now_ms;
	struct mm_fast_limits *lim; /* per group (at least one) */
	uint8_t out_all, out_udp; /* some group needs every packet out / UDP out (amplification) */
	unsigned ngroups;
	struct host *hosts;
	struct bucket *ring;      /* max_hosts x nb */
	uint32_t *list;           /* hosts to evaluate */
	uint32_t nlist;
	struct mm_fast_stats st;
	size_t mem;
};

/* ---- ceilings ---------------------------------------------------------- */

static const char *const ceiling_names[MM_FCE_COUNT] = {
	"ceiling_pps",      "ceiling_mbps",     "ceiling_flows",   "ceiling_tcp_pps", "ceiling_udp_pps",
	"ceiling_icmp_pps", "ceiling_syn_pps",  "ceiling_amp_pps", "ceiling_out_pps", "ceiling_out_mbps",
};

const char *mm_fast_ceiling_name(enum mm_fast_ceiling c)
{
	return (unsigned)c < MM_FCE_COUNT ? ceiling_names[c] : NULL;
}

int mm_fast_ceiling_parse(const char *name)
{
	for (int i = 0; i < MM_FCE_COUNT; i++)
		if (strcmp(ceiling_names[i], name) == 0)
			return i;
	return -1;
}

enum mm_class mm_fast_ceiling_class(enum mm_fast_ceiling c)
{
	switch (c) {
	case MM_FCE_SYN_PPS: return MM_CLASS_SYN_FLOOD;
	case MM_FCE_AMP_PPS: return MM_CLASS_AMPLIFICATION;
	case MM_FCE_OUT_PPS:
	case MM_FCE_OUT_MBPS: return MM_CLASS_OUTBOUND_FLOOD;
	default: return MM_CLASS_FLOOD;
	}
}

static int is_mbps(enum mm_fast_ceiling c)
{
	return c == MM_FCE_MBPS || c == MM_FCE_OUT_MBPS;
}

const char *mm_fast_ceiling_unit(enum mm_fast_ceiling c)
{
	return is_mbps(c) ? "Mbit/s" : c == MM_FCE_FLOWS ? "flows/s" : "pps";
}

void mm_fast_limits_from_group(struct mm_fast_limits *l, const struct mm_group_cfg *g, uint32_t interval_ms)
{
	const uint32_t cfg[MM_FCE_COUNT] = {
		[MM_FCE_PPS] = g->ceiling_pps,           [MM_FCE_MBPS] = g->ceiling_mbps,
		[MM_FCE_FLOWS] = g->ceiling_flows,       [MM_FCE_TCP_PPS] = g->ceiling_tcp_pps,
		[MM_FCE_UDP_PPS] = g->ceiling_udp_pps,   [MM_FCE_ICMP_PPS] = g->ceiling_icmp_pps,
		[MM_FCE_SYN_PPS] = g->ceiling_syn_pps,   [MM_FCE_AMP_PPS] = g->ceiling_amp_pps,
		[MM_FCE_OUT_PPS] = g->ceiling_out_pps,   [MM_FCE_OUT_MBPS] = g->ceiling_out_mbps,
	};

	memset(l, 0, sizeof(*l));
	/* Under `both` a ceiling needs the baseline's agreement, under
	 * `baseline` it counts for nothing: neither is the fast path's to say. */
	l->on = g->combine == MM_COMBINE_EITHER || g->combine == MM_COMBINE_CEILING;
	l->sampling_rate = g->sampling_rate ? g->sampling_rate : 1;
	l->min_sampled = g->min_sampled_packets;
	l->min_scaled = (uint64_t)l->min_sampled * l->sampling_rate;
	for (int c = 0; c < MM_FCE_COUNT; c++) {
		l->ceiling[c] = cfg[c];
		/* the count in one interval at which the rate reaches the
		 * ceiling, rounded up: count >= limit <=> rate >= ceiling */
		if (is_mbps((enum mm_fast_ceiling)c))
			l->limit[c] = (uint64_t)cfg[c] * 125u * interval_ms; /* Mbit/s -> bytes */
		else
			l->limit[c] = ((uint64_t)cfg[c] * interval_ms + 999) / 1000;
	}
}

void mm_fast_params_from_config(struct mm_fast_params *p, const struct mm_config *c)
{
	memset(p, 0, sizeof(*p));
	p->interval_ms = c->fast_interval_ms;
	p->check_ms = c->fast_check_ms;
	p->repeat_ms = c->step_s * 1000u;
	p->max_hosts = c->max_hosts;
	p->max_events = 10000;
	p->groups = c->groups;
	p->ngroups = c->ngroups;
}

/* ---- the table --------------------------------------------------------- */

static void set_clock(struct mm_fast *f, uint64_t now_ms)
{
	int64_t lo;

	f->now_ms = now_ms;
	f->head = now_ms / f->w;
	lo = (int64_t)f->head + 2 - (int64_t)f->nb;
	f->lo_k = lo;
	f->lo_slot = (uint32_t)(((lo % (int64_t)f->nb) + (int64_t)f->nb) % (int64_t)f->nb);
	f->lo_ms = lo > 0 ? (uint64_t)lo * f->w : 0;
	f->base_ms = lo * (int64_t)f->w;
	f->hi_ms = (f->head + 2) * (uint64_t)f->w;
}

/* Which sides the ceilings read: the outbound side costs as much as the
 * inbound one, so it is counted only where a ceiling reads it. */
static void set_out_flags(struct mm_fast *f)
{
	f->out_all = f->out_udp = 0;
	for (unsigned g = 0; g < f->ngroups; g++) {
		const struct mm_fast_limits *l = &f->lim[g];

		if (!l->on)
			continue;
		if (l->limit[MM_FCE_OUT_PPS] || l->limit[MM_FCE_OUT_MBPS])
			f->out_all = 1;
		if (l->limit[MM_FCE_AMP_PPS])
			f->out_udp = 1;
	}
}

struct mm_fast *mm_fast_new(const struct mm_fast_params *p, uint64_t now_ms)
{
	struct mm_fast *f;
	unsigned ng;

	if (p == NULL || p->check_ms == 0 || p->interval_ms < p->check_ms || p->interval_ms % p->check_ms != 0 ||
	    p->interval_ms / p->check_ms > MM_FAST_MAX_CHECKS || p->max_hosts == 0 || p->max_hosts > (1u << 30) ||
	    (p->ngroups > 0 && p->groups == NULL) || now_ms > UINT64_MAX / 2) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->w = p->check_ms;
	f->win = p->interval_ms / p->check_ms;
	f->nb = 2 * f->win + 1;
	f->interval_ms = p->interval_ms;
	f->repeat_ms = p->repeat_ms;
	f->max_hosts = p->max_hosts;
	f->max_events = p->max_events ? p->max_events : UINT32_MAX;
	ng = p->ngroups > 0 ? p->ngroups : 1;
	f->ngroups = p->ngroups;
	f->lim = calloc(ng, sizeof(*f->lim));
	/* calloc: the kernel commits the pages as hosts touch them */
	f->hosts = calloc(p->max_hosts, sizeof(*f->hosts));
	f->ring = calloc((size_t)p->max_hosts * f->nb, sizeof(*f->ring));
	f->list = calloc(p->max_hosts, sizeof(*f->list));
	f->pos = malloc((size_t)f->nb * f->w);
	if (f->lim == NULL || f->hosts == NULL || f->ring == NULL || f->list == NULL || f->pos == NULL) {
		mm_fast_free(f);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned g = 0; g < p->ngroups; g++)
		mm_fast_limits_from_group(&f->lim[g], &p->groups[g], p->interval_ms);
	for (uint32_t i = 0; i < f->nb * f->w; i++)
		f->pos[i] = (uint8_t)(i / f->w);
	set_out_flags(f);
	f->mem = sizeof(*f) + ng * sizeof(*f->lim) + (size_t)f->nb * f->w +
		 (size_t)p->max_hosts * (sizeof(*f->hosts) + f->nb * sizeof(*f->ring) + sizeof(*f->list));
	set_clock(f, now_ms);
	return f;
}

void mm_fast_free(struct mm_fast *f)
{
	if (f == NULL)
		return;
	free(f->lim);
	free(f->hosts);
	free(f->ring);
	free(f->list);
	free(f->pos);
	free(f);
}

struct mm_fast_limits *mm_fast_groups_prepare(const struct mm_fast *f, const struct mm_group_cfg *groups, unsigned n)
{
	struct mm_fast_limits *lim;

	if (n > 0 && groups == NULL)
		return NULL;
	lim = calloc(n > 0 ? n : 1, sizeof(*lim));
	if (lim == NULL)
		return NULL;
	for (unsigned g = 0; g < n; g++)
		mm_fast_limits_from_group(&lim[g], &groups[g], f->interval_ms);
	return lim;
}

void mm_fast_groups_commit(struct mm_fast *f, struct mm_fast_limits *lim, unsigned n)
{
	f->mem = f->mem - (f->ngroups > 0 ? f->ngroups : 1) * sizeof(*f->lim) + (n > 0 ? n : 1) * sizeof(*lim);
	free(f->lim);
	f->lim = lim;
	f->ngroups = n;
	set_out_flags(f);
}

void mm_fast_groups_drop(struct mm_fast_limits *lim)
{
	free(lim);
}

void mm_fast_host_group(struct mm_fast *f, uint32_t host, unsigned group)
{
	if (host < f->max_hosts)
		f->hosts[host].group = (uint16_t)group;
}

void mm_fast_host_forget(struct mm_fast *f, uint32_t host)
{
	if (host < f->max_hosts)
		mm_fast_host_new(f, host, f->hosts[host].addr, 0);
}

void mm_fast_host_new(struct mm_fast *f, uint32_t host, const uint8_t addr[16], unsigned group)
{
	struct host *h;
	uint8_t touched;

	if (host >= f->max_hosts)
		return;
	h = &f->hosts[host];
	touched = h->touched; /* it may still be on the list: stays there once */
	memset(h, 0, sizeof(*h));
	memcpy(h->addr, addr, 16);
	h->group = (uint16_t)group; /* checked against the groups in force at use */
	h->touched = touched;
	/* An empty ring: every bucket number stale. */
	memset(&f->ring[(size_t)host * f->nb], 0, f->nb * sizeof(struct bucket));
}

/* ---- counting ----------------------------------------------------------- */

static inline void add32(uint32_t *c, uint64_t v)
{
	uint64_t s = (uint64_t)*c + v;

	*c = s > UINT32_MAX || s < v ? UINT32_MAX : (uint32_t)s;
}

static inline void add64(uint64_t *c, uint64_t v)
{
	uint64_t s = *c + v;

	*c = s < v ? UINT64_MAX : s;
}

/* Ring position (0 = oldest) of time t, lo_ms <= t < hi_ms. */
static inline uint32_t pos_of(const struct mm_fast *f, uint64_t t)
{
	return f->pos[(int64_t)t - f->base_ms];
}

/* The bucket at ring position p of a host's ring, emptied if it held
 * another bucket number. */
static inline struct bucket *touch(struct mm_fast *f, struct bucket *ring, uint32_t p)
{
	uint32_t s = f->lo_slot + p;
	uint64_t k1 = (uint64_t)(f->lo_k + (int64_t)p) + 1;
	struct bucket *b;

	if (s >= f->nb)
		s -= f->nb;
	b = &ring[s];
	if (b->k1 != k1) {
		memset(b, 0, sizeof(*b));
		b->k1 = k1;
	}
	return b;
}

static void add_part(struct mm_fast *f, struct bucket *ring, uint32_t p, int out, const struct mm_fast_rec *r,
		     uint64_t bytes, uint64_t pkts)
{
	struct bucket *b;

	if ((bytes | pkts) == 0)
		return;
	b = touch(f, ring, p);
	if (out) {
		add64(&b->bytes_out, bytes);
		add32(&b->c[C_PKTS_OUT], pkts);
		if (r->pclass == 1)
			add32(&b->c[C_UDP_OUT], pkts);
		return;
	}
	add64(&b->bytes_in, bytes);
	add32(&b->c[C_PKTS_IN], pkts);
	if (r->pclass < 3)
		add32(&b->c[C_TCP_IN + r->pclass], pkts);
	if (r->syn)
		add32(&b->c[C_SYN_IN], pkts);
	if (r->amp >= 0)
		add32(&b->c[C_AMP_IN], pkts);
}

void mm_fast_count(struct mm_fast *f, uint32_t host, int out, const struct mm_fast_rec *r)
{
	uint64_t s = r->start_ms <= r->end_ms ? r->start_ms : r->end_ms;
	uint64_t e = r->start_ms <= r->end_ms ? r->end_ms : r->start_ms;
	uint64_t d, t, pb, pp;
	struct bucket *ring;
	struct host *h;

	if (host >= f->max_hosts)
		return;
	f->st.records++;
	h = &f->hosts[host];
	ring = &f->ring[(size_t)host * f->nb];
	/* An exporter's clock ahead: the record is moved back to end where
	 * the ring ends, its duration (so its rate) kept. */
	if (e >= f->hi_ms) {
		uint64_t shift = e - (f->hi_ms - 1);

		e = f->hi_ms - 1;
		s = s > shift ? s - shift : 0;
		f->st.future++;
	}
	d = e - s;
	/* [s, e) before the ring: no longer "now" */
	if (d > 0 ? e <= f->lo_ms : e < f->lo_ms) {
		f->st.late++;
		return;
	}
	if (!h->touched) {
		h->touched = 1;
		f->list[f->nlist++] = host;
	}
	if (!out) {
		if (s >= f->lo_ms)
			add32(&touch(f, ring, pos_of(f, s))->c[C_FLOWS_IN], r->flows);
		if (r->amp >= 0 && r->amp < MM_AMP_SLOTS)
			add32(&h->amp[r->amp], r->pkts);
	}
	if (d == 0) {
		add_part(f, ring, pos_of(f, e), out, r, r->bytes, r->pkts);
		return;
	}
	/* Part i gets floor(V x T_i / d) - floor(V x T_(i-1) / d), T_i the
	 * flow's time up to the end of part i (as aggregate.c spreads over
	 * steps): within 1 of proportional, the parts summing to V.  The
	 * part before the ring is left out. */
	t = s < f->lo_ms ? f->lo_ms - s : 0;
	pb = mm_muldiv(r->bytes, t, d);
	pp = mm_muldiv(r->pkts, t, d);
	for (uint32_t p = pos_of(f, s + t); t < d; p++) {
		/* the end of position p: base + (p + 1) x w, as flow time */
		uint64_t tend = (uint64_t)(f->base_ms + (int64_t)(p + 1) * f->w) - s, nb, np;

		if (tend > d)
			tend = d;
		nb = mm_muldiv(r->bytes, tend, d);
		np = mm_muldiv(r->pkts, tend, d);
		add_part(f, ring, p, out, r, nb - pb, np - pp);
		pb = nb;
		pp = np;
		t = tend;
	}
}

int mm_fast_wants_out(const struct mm_fast *f, int pclass)
{
	return f->out_all || (f->out_udp && pclass == 1);
}

void mm_fast_prefetch(const struct mm_fast *f, uint32_t host, uint64_t end_ms)
{
	uint32_t p, s;

	if (host >= f->max_hosts)
		return;
	__builtin_prefetch(&f->hosts[host], 1, 3);
	if (end_ms < f->lo_ms || end_ms >= f->hi_ms)
		return;
	p = pos_of(f, end_ms);
	s = f->lo_slot + p;
	if (s >= f->nb)
		s -= f->nb;
	__builtin_prefetch(&f->ring[(size_t)host * f->nb + s], 1, 3);
}

/* ---- the check ----------------------------------------------------------- */

/* The best crossing of one class in one evaluation. */
struct cross {
	int ceiling;              /* -1: none */
	double ratio;
	uint64_t value, behind, class_value;
	uint32_t end;             /* ring position of the window's last bucket */
};

static double per_s(const struct mm_fast *f, uint64_t v, int mbps)
{
	return mbps ? (double)v * 8.0 / (1000.0 * f->interval_ms) : (double)v * 1000.0 / f->interval_ms;
}

static void report(struct mm_fast *f, struct host *h, unsigned k, const struct cross *x,
		   const struct mm_fast_limits *l, int repeat, mm_fast_fn fn, void *arg)
{
	struct mm_fast_event e;
	uint64_t end_ms;

	memset(&e, 0, sizeof(e));
	memcpy(e.addr, h->addr, 16);
	e.cls = k_class[k];
	e.ceiling = (uint8_t)x->ceiling;
	e.vector = -1;
	if (k == K_AMP) {
		uint32_t best = 0;

		for (int i = 0; i < MM_AMP_SLOTS; i++)
			if (h->amp[i] > best) {
				best = h->amp[i];
				e.vector = (int8_t)i;
			}
	}
	e.repeat = (uint8_t)repeat;
	e.interval_ms = f->interval_ms;
	e.time_ms = f->now_ms;
	e.first_ms = h->first_ms[k];
	end_ms = (uint64_t)(f->lo_k + (int64_t)x->end + 1) * f->w;
	e.data_end_ms = end_ms < f->now_ms ? end_ms : f->now_ms;
	e.rate = per_s(f, x->value, is_mbps((enum mm_fast_ceiling)x->ceiling));
	e.limit = l->ceiling[x->ceiling];
	e.class_pps = per_s(f, x->class_value, 0);
	e.sampled = (double)x->behind / l->sampling_rate;
	f->st.events++;
	f->st.repeats += (uint64_t)repeat;
	if (fn != NULL)
		fn(arg, &e);
}

/* Prefix sums of every counter over host idx's ring, oldest bucket first
 * (empty or stale buckets count 0).  Saturating. */
static void prefix_sums(const struct mm_fast *f, uint32_t idx, uint64_t ps[NV][2 * MM_FAST_MAX_CHECKS + 2])
{
	const struct bucket *ring = &f->ring[(size_t)idx * f->nb];

	for (int v = 0; v < NV; v++)
		ps[v][0] = 0;
	for (uint32_t p = 0; p < f->nb; p++) {
		uint32_t s = f->lo_slot + p;
		int64_t k = f->lo_k + (int64_t)p;
		const struct bucket *b;
		uint64_t add[NV];

		if (s >= f->nb)
			s -= f->nb;
		b = &ring[s];
		if (k < 0 || b->k1 != (uint64_t)k + 1) {
			for (int v = 0; v < NV; v++)
				ps[v][p + 1] = ps[v][p];
			continue;
		}
		for (int v = 0; v < NC32; v++)
			add[v] = b->c[v];
		add[V_BYTES_IN] = b->bytes_in;
		add[V_BYTES_OUT] = b->bytes_out;
		for (int v = 0; v < NV; v++)
			ps[v][p + 1] = ps[v][p] + add[v] < add[v] ? UINT64_MAX : ps[v][p] + add[v];
	}
}

/* What each ceiling counts in the window of `win` buckets ending at ring
 * position j, the packets behind it (for the minimum), and the class
 * features. */
struct window {
	uint64_t v[MM_FCE_COUNT], behind[MM_FCE_COUNT], cls[NK];
};

static void window_at(const struct mm_fast *f, uint64_t ps[NV][2 * MM_FAST_MAX_CHECKS + 2], uint32_t j,
		      struct window *o)
{
	uint64_t w[NV], amp, flood;

	for (int c = 0; c < NV; c++)
		/* a saturated prefix makes the window saturated too */
		w[c] = ps[c][j + 1] == UINT64_MAX ? UINT64_MAX : ps[c][j + 1] - ps[c][j + 1 - f->win];
	/* the detector's features (features.c): amplification beyond the
	 * host's own UDP out, flood = what SYN and amplification leave */
	amp = w[C_AMP_IN] > w[C_UDP_OUT] ? w[C_AMP_IN] - w[C_UDP_OUT] : 0;
	flood = w[C_PKTS_IN] > w[C_SYN_IN] + amp ? w[C_PKTS_IN] - w[C_SYN_IN] - amp : 0;
	o->v[MM_FCE_PPS] = w[C_PKTS_IN];
	o->v[MM_FCE_MBPS] = w[V_BYTES_IN];
	o->v[MM_FCE_FLOWS] = w[C_FLOWS_IN];
	o->v[MM_FCE_TCP_PPS] = w[C_TCP_IN];
	o->v[MM_FCE_UDP_PPS] = w[C_UDP_IN];
	o->v[MM_FCE_ICMP_PPS] = w[C_ICMP_IN];
	o->v[MM_FCE_SYN_PPS] = w[C_SYN_IN];
	o->v[MM_FCE_AMP_PPS] = amp;
	o->v[MM_FCE_OUT_PPS] = w[C_PKTS_OUT];
	o->v[MM_FCE_OUT_MBPS] = w[V_BYTES_OUT];
	/* the ceilings' minimum of sampled packets, as the detector counts it */
	for (int c = 0; c < MM_FCE_COUNT; c++)
		o->behind[c] = w[C_PKTS_IN];
	o->behind[MM_FCE_SYN_PPS] = w[C_SYN_IN];
	o->behind[MM_FCE_AMP_PPS] = amp;
	o->behind[MM_FCE_OUT_PPS] = o->behind[MM_FCE_OUT_MBPS] = w[C_PKTS_OUT];
	o->cls[K_FLOOD] = flood;
	o->cls[K_SYN] = w[C_SYN_IN];
	o->cls[K_AMP] = amp;
	o->cls[K_OUT] = w[C_PKTS_OUT];
}

static unsigned ceiling_k(int c)
{
	return c == MM_FCE_SYN_PPS ? K_SYN : c == MM_FCE_AMP_PPS ? K_AMP :
	       (c == MM_FCE_OUT_PPS || c == MM_FCE_OUT_MBPS) ? K_OUT : K_FLOOD;
}

uint64_t mm_fast_host_peak(const struct mm_fast *f, uint32_t host, enum mm_fast_ceiling c)
{
	uint64_t ps[NV][2 * MM_FAST_MAX_CHECKS + 2], best = 0;
	struct window o;

	if (host >= f->max_hosts || (unsigned)c >= MM_FCE_COUNT)
		return 0;
	prefix_sums(f, host, ps);
	for (uint32_t j = f->win - 1; j < f->nb; j++) {
		window_at(f, ps, j, &o);
		if (o.v[c] > best)
			best = o.v[c];
	}
	return best;
}

static unsigned evaluate(struct mm_fast *f, uint32_t idx, mm_fast_fn fn, void *arg)
{
	struct host *h = &f->hosts[idx];
	const struct mm_fast_limits *l = &f->lim[h->group < f->ngroups ? h->group : 0];
	uint64_t ps[NV][2 * MM_FAST_MAX_CHECKS + 2];
	struct cross best[NK];
	unsigned nev = 0;

	f->st.hosts_checked++;
	prefix_sums(f, idx, ps);
	for (unsigned k = 0; k < NK; k++)
		best[k].ceiling = -1;
	for (uint32_t j = f->win - 1; j < f->nb; j++) {
		struct window o;

		window_at(f, ps, j, &o);
		for (int c = 0; c < MM_FCE_COUNT; c++) {
			unsigned k = ceiling_k(c);
			double ratio;

			if (l->limit[c] == 0 || o.v[c] < l->limit[c] || o.behind[c] < l->min_scaled ||
			    o.behind[c] == 0)
				continue;
			ratio = (double)o.v[c] / (double)l->limit[c];
			if (best[k].ceiling < 0 || ratio > best[k].ratio) {
				best[k].ceiling = c;
				best[k].ratio = ratio;
				best[k].value = o.v[c];
				best[k].behind = o.behind[c];
				best[k].class_value = o.cls[k];
				best[k].end = j;
			}
		}
	}
	/* A SYN flood or a reflection crosses the packet ceilings too: the
	 * specific class tells the story alone (as the detector does). */
	if (best[K_SYN].ceiling >= 0 || best[K_AMP].ceiling >= 0)
		best[K_FLOOD].ceiling = -1;
	for (unsigned k = 0; k < NK; k++) {
		uint8_t bit = (uint8_t)(1u << k);

		if (!l->on || best[k].ceiling < 0) {
			h->over &= (uint8_t)~bit;
			continue;
		}
		if (!(h->over & bit)) {
			h->over |= bit;
			h->first_ms[k] = h->said_ms[k] = f->now_ms;
			report(f, h, k, &best[k], l, 0, fn, arg);
			nev++;
		} else if (f->now_ms - h->said_ms[k] >= f->repeat_ms) {
			h->said_ms[k] = f->now_ms;
			report(f, h, k, &best[k], l, 1, fn, arg);
			nev++;
		}
	}
	/* the vector follows the last few evaluations */
	for (int i = 0; i < MM_AMP_SLOTS; i++)
		h->amp[i] >>= 1;
	return nev;
}

unsigned mm_fast_check(struct mm_fast *f, uint64_t now_ms, mm_fast_fn fn, void *arg)
{
	unsigned nev = 0;
	uint32_t kept = 0;

	/* a clock going back moves nothing */
	if (now_ms / f->w >= f->head && now_ms <= UINT64_MAX / 2)
		set_clock(f, now_ms);
	f->st.checks++;
	for (uint32_t i = 0; i < f->nlist; i++) {
		uint32_t idx = f->list[i];

		if (nev >= f->max_events) {
			f->list[kept++] = idx; /* the next check evaluates it */
			f->st.deferred++;
			continue;
		}
		f->hosts[idx].touched = 0;
		nev += evaluate(f, idx, fn, arg);
	}
	f->nlist = kept;
	return nev;
}

const struct mm_fast_stats *mm_fast_stats(const struct mm_fast *f)
{
	return &f->st;
}

size_t mm_fast_memory(const struct mm_fast *f)
{
	return f->mem;
}

unsigned mm_fast_ring_buckets(const struct mm_fast *f)
{
	return f->nb;
}

/* ---- the stream format ---------------------------------------------------- */

enum {
	F_V, F_COLLECTOR, F_HOST, F_CLASS, F_VECTOR, F_CEILING, F_RATE, F_LIMIT, F_CLASS_PPS, F_SAMPLED,
	F_TIME, F_FIRST, F_DATA_END, F_INTERVAL, F_REPEAT, NF
};
_Static_assert(NF == MM_FAST_FIELDS, "MM_FAST_FIELDS");
static const char *const field_names[NF] = {
	"v",       "collector", "host",    "class",       "vector",      "ceiling",     "rate",   "limit",
	"class_pps", "sampled",  "time_ms", "first_ms", "data_end_ms", "interval_ms", "repeat",
};

size_t mm_fast_event_fields(const struct mm_fast_event *e, const char *collector,
			    const char *names[MM_FAST_FIELDS], char vals[MM_FAST_FIELDS][MM_FAST_VAL_MAX])
{
	const struct mm_class_info *ci = mm_class_info((enum mm_class)e->cls);
	const char *cn = mm_fast_ceiling_name((enum mm_fast_ceiling)e->ceiling);

	for (int i = 0; i < NF; i++)
		names[i] = field_names[i];
	snprintf(vals[F_V], MM_FAST_VAL_MAX, "%d", MM_FAST_VERSION);
	snprintf(vals[F_COLLECTOR], MM_FAST_VAL_MAX, "%s", collector != NULL ? collector : "");
	mm_redis_addr_text(e->addr, vals[F_HOST], MM_FAST_VAL_MAX);
	snprintf(vals[F_CLASS], MM_FAST_VAL_MAX, "%s", ci != NULL ? ci->name : "");
	snprintf(vals[F_VECTOR], MM_FAST_VAL_MAX, "%s",
		 e->vector >= 0 && e->vector < MM_AMP_SLOTS ? mm_amp_slot_name((unsigned)e->vector) : "-");
	snprintf(vals[F_CEILING], MM_FAST_VAL_MAX, "%s", cn != NULL ? cn : "");
	snprintf(vals[F_RATE], MM_FAST_VAL_MAX, "%.9g", e->rate);
	snprintf(vals[F_LIMIT], MM_FAST_VAL_MAX, "%.9g", e->limit);
	snprintf(vals[F_CLASS_PPS], MM_FAST_VAL_MAX, "%.9g", e->class_pps);
	snprintf(vals[F_SAMPLED], MM_FAST_VAL_MAX, "%.9g", e->sampled);
	snprintf(vals[F_TIME], MM_FAST_VAL_MAX, "%" PRIu64, e->time_ms);
	snprintf(vals[F_FIRST], MM_FAST_VAL_MAX, "%" PRIu64, e->first_ms);
	snprintf(vals[F_DATA_END], MM_FAST_VAL_MAX, "%" PRIu64, e->data_end_ms);
	snprintf(vals[F_INTERVAL], MM_FAST_VAL_MAX, "%" PRIu32, e->interval_ms);
	snprintf(vals[F_REPEAT], MM_FAST_VAL_MAX, "%u", (unsigned)e->repeat);
	return NF;
}

static int parse_u64(const char *s, size_t len, uint64_t *v)
{
	uint64_t x = 0;

	if (len == 0 || len > 20)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9' || x > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return -1;
		x = x * 10 + (uint64_t)(s[i] - '0');
	}
	*v = x;
	return 0;
}

static int parse_num(const char *s, size_t len, double *v)
{
	char *end;

	if (len == 0 || strlen(s) != len)
		return -1;
	*v = strtod(s, &end);
	return *end == '\0' && isfinite(*v) && *v >= 0 ? 0 : -1;
}

int mm_fast_event_parse(size_t n, const char *const *names, const char *const *vals, const size_t *lens,
			struct mm_fast_event *e)
{
	unsigned seen = 0;
	uint64_t u;

	memset(e, 0, sizeof(*e));
	e->vector = -1;
	for (size_t i = 0; i < n; i++) {
		const char *v = vals[i];
		size_t len = lens[i];
		int f = -1;

		if (names[i] == NULL || v == NULL)
			return -1;
		for (int j = 0; j < NF; j++)
			if (strcmp(names[i], field_names[j]) == 0)
				f = j;
		if (f < 0)
			continue; /* a later version's field */
		if (seen & (1u << f))
			return -1;
		seen |= 1u << f;
		switch (f) {
		case F_V:
			if (parse_u64(v, len, &u) < 0 || u != MM_FAST_VERSION)
				return -1;
			break;
		case F_COLLECTOR:
			if (len == 0 || len >= MM_NAME_MAX || strlen(v) != len)
				return -1;
			for (size_t k = 0; k < len; k++)
				if (!(v[k] == '.' || v[k] == '_' || v[k] == '-' || (v[k] >= '0' && v[k] <= '9') ||
				      (v[k] >= 'A' && v[k] <= 'Z') || (v[k] >= 'a' && v[k] <= 'z')))
					return -1;
			memcpy(e->collector, v, len);
			break;
		case F_HOST:
			if (mm_redis_addr_parse(v, len, e->addr) < 0)
				return -1;
			break;
		case F_CLASS: {
			int c = strlen(v) == len ? mm_class_parse(v) : -1;

			if (c != MM_CLASS_FLOOD && c != MM_CLASS_SYN_FLOOD && c != MM_CLASS_AMPLIFICATION &&
			    c != MM_CLASS_OUTBOUND_FLOOD)
				return -1;
			e->cls = (uint8_t)c;
			break;
		}
		case F_VECTOR:
			if (strcmp(v, "-") != 0) {
				for (int s = 0; s < MM_AMP_SLOTS; s++)
					if (strcmp(v, mm_amp_slot_name((unsigned)s)) == 0)
						e->vector = (int8_t)s;
				if (e->vector < 0)
					return -1;
			}
			break;
		case F_CEILING: {
			int c = strlen(v) == len ? mm_fast_ceiling_parse(v) : -1;

			if (c < 0)
				return -1;
			e->ceiling = (uint8_t)c;
			break;
		}
		case F_RATE:
			if (parse_num(v, len, &e->rate) < 0)
				return -1;
			break;
		case F_LIMIT:
			if (parse_num(v, len, &e->limit) < 0)
				return -1;
			break;
		case F_CLASS_PPS:
			if (parse_num(v, len, &e->class_pps) < 0)
				return -1;
			break;
		case F_SAMPLED:
			if (parse_num(v, len, &e->sampled) < 0)
				return -1;
			break;
		case F_TIME:
			if (parse_u64(v, len, &e->time_ms) < 0)
				return -1;
			break;
		case F_FIRST:
			if (parse_u64(v, len, &e->first_ms) < 0)
				return -1;
			break;
		case F_DATA_END:
			if (parse_u64(v, len, &e->data_end_ms) < 0)
				return -1;
			break;
		case F_INTERVAL:
			if (parse_u64(v, len, &u) < 0 || u == 0 || u > UINT32_MAX)
				return -1;
			e->interval_ms = (uint32_t)u;
			break;
		case F_REPEAT:
			if (parse_u64(v, len, &u) < 0 || u > 1)
				return -1;
			e->repeat = (uint8_t)u;
			break;
		}
	}
	if (seen != (1u << NF) - 1)
		return -1;
	/* what the detector relies on: the class is the ceiling's, the
	 * episode started no later than it was reported */
	if (mm_fast_ceiling_class((enum mm_fast_ceiling)e->ceiling) != e->cls || e->first_ms > e->time_ms ||
	    (e->vector >= 0 && e->cls != MM_CLASS_AMPLIFICATION))
		return -1;
	return 0;
}

int mm_fast_confirms(const struct mm_fast_limits *l, const struct mm_fast_event *e)
{
	double c;

	if (l == NULL || e == NULL || !l->on || e->ceiling >= MM_FCE_COUNT)
		return 0;
	c = l->ceiling[e->ceiling];
	return c > 0 && e->rate >= c && e->sampled >= l->min_sampled;
}
