/*
 * test_detector.c - the detector's per-step logic (detector/run.c) without
 * Redis: carpet bombing over prefix sums (one incident for the prefix, the
 * hosts' own inbound observations folded into it), a flood on one host of
 * a prefix staying the host's, external sources scored for the
 * source-side classes, and the bound on externals.
 *
 * Windows are made directly (what the daemon reads back from Redis):
 * Poisson counts of sampled packets per window, scaled by the sampling
 * rate.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mamori/config.h"
#include "mamori/detector.h"
#include "lib/sim.h"

#define R 1000      /* sampling */
#define FAST 6      /* [window] steps */
#define SLOW 30     /* slow_window_steps */
#define NHOST 64    /* hosts per /24 */
#define T0 2000000  /* first step */

static const char conf[] = "[window]\nstep = 10\nsteps = 6\nmax_external = 2\n"
			   "[detector]\nslow_window_steps = 30\ncalm_steps = 3\n"
			   "[group lan]\nprefix = 10.0.0.0/16\nsampling_rate = 1000\nwarmup_steps = 12\n";

struct event_rec {
	int ev;
	uint8_t cls, plen, adopted, fast;
	uint8_t addr[16];
};

struct rec {
	struct event_rec e[256];
	unsigned n;
};

static void on_event(void *arg, enum mm_incident_event ev, const struct mm_incident *inc)
{
	struct rec *r = arg;

	if (r->n < 256) {
		r->e[r->n].ev = (int)ev;
		r->e[r->n].cls = inc->key.cls;
		r->e[r->n].plen = inc->key.plen;
		r->e[r->n].adopted = inc->adopted;
		r->e[r->n].fast = inc->fast.on;
		memcpy(r->e[r->n].addr, inc->key.addr, 16);
		r->n++;
	}
}

static unsigned count(const struct rec *r, int ev, int cls, int plen)
{
	unsigned n = 0;
	for (unsigned i = 0; i < r->n; i++)
		if ((ev < 0 || r->e[i].ev == ev) && (cls < 0 || r->e[i].cls == cls) &&
		    (plen < 0 || r->e[i].plen == plen))
			n++;
	return n;
}

static void addr4(uint8_t a[16], unsigned b2, unsigned b3, unsigned b4, unsigned b1)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	a[12] = (uint8_t)b1;
	a[13] = (uint8_t)b2;
	a[14] = (uint8_t)b3;
	a[15] = (uint8_t)b4;
}

/* One host's windows: background (sampled packets per fast window: udp
 * and tcp in, tcp out) plus extra udp in from `reflectors` sources. */
struct load {
	double udp_in, tcp_in, tcp_out;
	double extra_udp_in;
	unsigned extra_sources;
	double syn_flows_out;   /* probes per fast window */
	unsigned probe_peers;   /* distinct destinations of the probes */
};

/* One step of a host: the load's per-window means / FAST. */
static void fill(struct rng *g, struct mm_hoststep *h, const struct load *l, unsigned seed)
{
	uint64_t u = poisson(g, (l->udp_in + l->extra_udp_in) / FAST), t = poisson(g, l->tcp_in / FAST);
	uint64_t o = poisson(g, l->tcp_out / FAST), s = poisson(g, l->syn_flows_out / FAST);

	memset(h, 0, sizeof(*h));
	h->ctr[MM_C_UDP_PKTS_IN] = u * R;
	h->ctr[MM_C_UDP_FLOWS_IN] = u * R;
	h->ctr[MM_C_UDP_BYTES_IN] = u * R * 500;
	h->ctr[MM_C_TCP_PKTS_IN] = t * R;
	h->ctr[MM_C_TCP_FLOWS_IN] = t * R;
	h->ctr[MM_C_TCP_BYTES_IN] = t * R * 800;
	h->ctr[MM_C_TCP_PKTS_OUT] = (o + s) * R;
	h->ctr[MM_C_TCP_FLOWS_OUT] = (o + s) * R;
	h->ctr[MM_C_TCP_BYTES_OUT] = (o * 400 + s * 60) * R;
	h->ctr[MM_C_SYN_FLOWS_OUT] = s * R;
	h->ctr[MM_C_SYN_PKTS_OUT] = s * R;
	h->ctr[MM_C_SMALL_FLOWS_OUT] = s * R;
	h->ctr[MM_C_PKTS_IN] = (u + t) * R;
	h->ctr[MM_C_FLOWS_IN] = (u + t) * R;
	h->ctr[MM_C_BYTES_IN] = h->ctr[MM_C_UDP_BYTES_IN] + h->ctr[MM_C_TCP_BYTES_IN];
	h->ctr[MM_C_PKTS_OUT] = h->ctr[MM_C_TCP_PKTS_OUT];
	h->ctr[MM_C_FLOWS_OUT] = h->ctr[MM_C_TCP_FLOWS_OUT];
	h->ctr[MM_C_BYTES_OUT] = h->ctr[MM_C_TCP_BYTES_OUT];
	for (unsigned i = 0; i < 5; i++) {
		uint32_t k = seed * 64 + i;
		mm_hll_add(&h->hll[MM_S_PEERS_IN], &k, sizeof(k));
		mm_hll_add(&h->hll[MM_S_PEERS_OUT], &k, sizeof(k));
	}
	for (unsigned i = 0; i < l->extra_sources && u > 0; i++) {
		uint32_t k = 0x80000000u + i;
		mm_hll_add(&h->hll[MM_S_PEERS_IN], &k, sizeof(k));
	}
	for (unsigned i = 0; i < l->probe_peers / FAST && s > 0; i++) {
		uint32_t k = 0x40000000u + (uint32_t)(rnd(g) % (l->probe_peers * 40u));
		mm_hll_add(&h->hll[MM_S_PEERS_OUT], &k, sizeof(k));
	}
	{
		uint16_t port = 443;
		mm_hll_add(&h->hll[MM_S_DPORTS_OUT], &port, sizeof(port));
	}
}

struct world {
	struct mm_config cfg;
	struct mm_det *d;
	struct rec rec;
	struct rng g;
	uint64_t step;
	struct load bg;
	struct load net[2][NHOST]; /* 10.0.1.x and 10.0.2.x */
	struct load ext[3];        /* 198.51.100.1..3 */
	unsigned next;             /* externals active */
	struct mm_hoststep (*ring)[FAST]; /* per host (nets, then externals): its last FAST steps */
};

static void world_init(struct world *w)
{
	memset(w, 0, sizeof(*w));
	ck_assert_int_eq(mm_config_load_string(&w->cfg, "t.conf", conf, stderr), 0);
	w->d = mm_det_new(&w->cfg, 0, on_event, &w->rec);
	ck_assert_ptr_nonnull(w->d);
	w->g.s = 0x5eed;
	w->ring = calloc(2 * NHOST + 3, sizeof(*w->ring));
	ck_assert_ptr_nonnull(w->ring);
	w->step = T0;
	w->bg = (struct load){ .udp_in = 20, .tcp_in = 40, .tcp_out = 40 };
	for (int p = 0; p < 2; p++)
		for (int i = 0; i < NHOST; i++)
			w->net[p][i] = w->bg;
}

static void world_free(struct world *w)
{
	mm_det_free(w->d);
	mm_config_free(&w->cfg);
	free(w->ring);
}

/* Host i's step from its load, then its fast window. */
static void host_step(struct world *w, unsigned i, const struct load *l, struct mm_hoststep *fast)
{
	struct mm_hoststep *cur = &w->ring[i][w->step % FAST];

	fill(&w->g, cur, l, i);
	memset(fast, 0, sizeof(*fast));
	for (unsigned k = 0; k < FAST; k++)
		mm_hoststep_merge(fast, &w->ring[i][k]);
}

static void world_step(struct world *w)
{
	struct mm_hoststep fast;
	uint8_t a[16];
	unsigned fn = w->step - T0 + 1 < FAST ? (unsigned)(w->step - T0 + 1) : FAST;

	for (unsigned p = 0; p < 2; p++)
		for (unsigned i = 0; i < NHOST; i++) {
			struct mm_det_host *h;

			addr4(a, 0, p + 1, i + 1, 10);
			h = mm_det_host(w->d, a, 1);
			ck_assert_ptr_nonnull(h);
			host_step(w, p * NHOST + i, &w->net[p][i], &fast);
			mm_det_score(w->d, h, w->step, &fast, fn, &w->ring[p * NHOST + i][w->step % FAST], NULL, 1.0);
		}
	for (unsigned e = 0; e < w->next; e++) {
		struct mm_det_host *h;

		addr4(a, 51, 100, e + 1, 198);
		h = mm_det_host(w->d, a, 1);
		if (h == NULL)
			continue;
		host_step(w, 2 * NHOST + e, &w->ext[e], &fast);
		mm_det_score(w->d, h, w->step, &fast, FAST, &w->ring[2 * NHOST + e][w->step % FAST], NULL, 1.0);
	}
	mm_det_end_step(w->d, w->step);
	w->step++;
}

static void run_steps(struct world *w, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		world_step(w);
}

/* Spread over a /24: one carpet_bombing incident on 10.0.1.0/24 and none
 * on its hosts, whether or not single hosts cross on their own; then it
 * ends. */
static void carpet(unsigned p, double per_host)
{
	struct world w;
	uint8_t pfx[16];

	world_init(&w);
	run_steps(&w, 60);
	ck_assert_uint_eq(w.rec.n, 0);
	for (int i = 0; i < NHOST; i++) {
		w.net[p][i].extra_udp_in = per_host;
		w.net[p][i].extra_sources = 40;
	}
	run_steps(&w, 12);
	for (int i = 0; i < NHOST; i++)
		w.net[p][i] = w.bg;
	run_steps(&w, 20);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, MM_CLASS_CARPET_BOMBING, 120), 1);
	ck_assert_uint_eq(count(&w.rec, MM_INC_END, MM_CLASS_CARPET_BOMBING, 120), 1);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, -1, -1), 1);
	addr4(pfx, 0, p + 1, 0, 10);
	for (unsigned i = 0; i < w.rec.n; i++)
		if (w.rec.e[i].ev == MM_INC_START)
			ck_assert_mem_eq(w.rec.e[i].addr, pfx, 16);
	ck_assert_uint_ge(mm_det_stats(w.d)->prefixes, 2);
	ck_assert_uint_gt(mm_det_stats(w.d)->prefixes_scored, 0);
	world_free(&w);
}

START_TEST(test_carpet_thin)
{
	/* +15 sampled per host window: ~3 sigmas a host, ~20 the prefix */
	carpet(0, 15);
}
END_TEST

START_TEST(test_carpet_hosts_cross)
{
	struct world w;

	/* +80 a host: each host crosses alone, and is folded into the prefix */
	carpet(1, 80);
	world_init(&w);
	run_steps(&w, 60);
	for (int i = 0; i < NHOST; i++)
		w.net[0][i].extra_udp_in = 80, w.net[0][i].extra_sources = 40;
	run_steps(&w, 6);
	ck_assert_uint_gt(mm_det_stats(w.d)->folded, 0);
	world_free(&w);
}
END_TEST

/* A flood on one host of a prefix is that host's incident, not the
 * prefix's. */
START_TEST(test_host_flood_in_prefix)
{
	struct world w;
	uint8_t a[16];

	world_init(&w);
	run_steps(&w, 60);
	w.net[1][76 % NHOST].extra_udp_in = 3000;
	w.net[1][76 % NHOST].extra_sources = 200;
	run_steps(&w, 8);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, MM_CLASS_FLOOD, 128), 1);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, -1, -1), 1);
	addr4(a, 0, 2, 76 % NHOST + 1, 10);
	ck_assert_mem_eq(w.rec.e[0].addr, a, 16);
	world_free(&w);
}
END_TEST

/* A collector's fast path reports a flood: the detector checks it
 * against its own keys and raises the start at once; its step scoring
 * confirming the flood later is the same incident (no second start),
 * which ends like any other.  Crossings it cannot confirm are refused. */
START_TEST(test_fast_adoption)
{
	struct world w;
	struct mm_fast_event e;
	const struct mm_det_stats *st;

	world_init(&w);
	run_steps(&w, 60);
	ck_assert_uint_eq(w.rec.n, 0);
	memset(&e, 0, sizeof(e));
	addr4(e.addr, 0, 2, 13, 10);
	e.cls = MM_CLASS_FLOOD;
	e.ceiling = MM_FCE_PPS;
	e.vector = -1;
	e.interval_ms = 1000;
	e.time_ms = e.first_ms = w.step * 10000 + 2500;
	e.rate = 3000000; /* 3 x the default 1 Mpps */
	e.limit = 1000000;
	e.class_pps = 3000000;
	e.sampled = 3000;
	strcpy(e.collector, "edge-1");
	ck_assert_int_eq(mm_det_fast(w.d, &e), 1);
	ck_assert_uint_eq(w.rec.n, 1);
	ck_assert_int_eq(w.rec.e[0].ev, MM_INC_START);
	ck_assert_int_eq(w.rec.e[0].cls, MM_CLASS_FLOOD);
	ck_assert_mem_eq(w.rec.e[0].addr, e.addr, 16);
	ck_assert(w.rec.e[0].adopted && w.rec.e[0].fast);
	/* the flood, as the windows show it */
	w.net[1][12].extra_udp_in = 3000;
	w.net[1][12].extra_sources = 200;
	run_steps(&w, 8);
	/* a repeat: merged */
	e.time_ms = w.step * 10000;
	e.repeat = 1;
	ck_assert_int_eq(mm_det_fast(w.d, &e), 0);
	/* what this detector does not confirm */
	e.rate = 999999;
	ck_assert_int_eq(mm_det_fast(w.d, &e), -1);
	e.rate = 3000000;
	e.cls = MM_CLASS_SYN_FLOOD; /* not ceiling_pps's class */
	ck_assert_int_eq(mm_det_fast(w.d, &e), -1);
	e.cls = MM_CLASS_FLOOD;
	addr4(e.addr, 51, 100, 1, 198); /* not a monitored host */
	ck_assert_int_eq(mm_det_fast(w.d, &e), -1);
	w.net[1][12] = w.bg;
	run_steps(&w, 20);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, -1, -1), 1);
	ck_assert_uint_eq(count(&w.rec, MM_INC_END, MM_CLASS_FLOOD, 128), 1);
	ck_assert_uint_ge(count(&w.rec, MM_INC_UPDATE, MM_CLASS_FLOOD, 128), 1);
	st = mm_det_stats(w.d);
	ck_assert_uint_eq(st->fast_started, 1);
	ck_assert_uint_eq(st->fast_merged, 1);
	ck_assert_uint_eq(st->fast_refused, 3);
	world_free(&w);
}
END_TEST

/* An external source scanning the constituency: a horizontal_scan on the
 * source.  The detector tracks at most max_external (2) externals. */
START_TEST(test_external_scan)
{
	struct world w;
	uint8_t a[16];

	world_init(&w);
	run_steps(&w, 40);
	w.next = 3;
	for (int e = 0; e < 3; e++)
		w.ext[e] = (struct load){ .tcp_in = 2, .tcp_out = 2 };
	w.ext[0].syn_flows_out = 60;
	w.ext[0].probe_peers = 300;
	run_steps(&w, 12);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, MM_CLASS_HORIZONTAL_SCAN, 128), 1);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, -1, -1), 1);
	addr4(a, 51, 100, 1, 198);
	ck_assert_mem_eq(w.rec.e[0].addr, a, 16);
	ck_assert_uint_eq(mm_det_stats(w.d)->externals, 2);
	ck_assert_uint_gt(mm_det_stats(w.d)->refused, 0);
	world_free(&w);
}
END_TEST

/* An external source idle for 64 slow windows is forgotten, and its slot
 * is free for another one. */
START_TEST(test_external_forgotten)
{
	struct world w;
	struct mm_hoststep zero;
	uint8_t a[16];
	struct mm_det_host *h;

	world_init(&w);
	memset(&zero, 0, sizeof(zero));
	addr4(a, 51, 100, 9, 198);
	h = mm_det_host(w.d, a, 1);
	ck_assert_ptr_nonnull(h);
	ck_assert(h->external);
	mm_det_score(w.d, h, T0, &zero, FAST, &zero, NULL, 1.0);
	mm_det_end_step(w.d, T0);
	ck_assert_uint_eq(mm_det_stats(w.d)->externals, 1);
	for (uint64_t st = T0 + 1; st <= T0 + 64 * SLOW + 2 * 64; st++)
		mm_det_end_step(w.d, st);
	ck_assert_uint_eq(mm_det_stats(w.d)->externals, 0);
	ck_assert_uint_eq(mm_det_stats(w.d)->externals_forgotten, 1);
	ck_assert_ptr_null(mm_det_host(w.d, a, 0));
	world_free(&w);
}
END_TEST

/* Swap w's config for `text` as the daemon's SIGHUP does: reconfigure,
 * then the new contents at the old address. */
static void reload(struct world *w, const char *text)
{
	struct mm_config next, old;

	ck_assert_int_eq(mm_config_load_string(&next, "t2.conf", text, stderr), 0);
	ck_assert_int_eq(mm_det_reconfigure(w->d, &next), 0);
	old = w->cfg;
	w->cfg = next;
	mm_config_free(&old);
}

/* A reload in the middle of a flood: the incident stays open (no second
 * start, one end when it stops), the group keeps its name's state though
 * it moved in the file, an external inside a new group becomes a host,
 * and hosts no longer monitored are forgotten. */
START_TEST(test_reload_keeps_state)
{
	struct world w;
	uint8_t a[16];
	struct mm_det_host *h;

	world_init(&w);
	w.next = 1;
	w.ext[0] = (struct load){ .tcp_in = 2, .tcp_out = 2 };
	run_steps(&w, 60);
	w.net[1][5].extra_udp_in = 3000;
	w.net[1][5].extra_sources = 200;
	run_steps(&w, 8);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, MM_CLASS_FLOOD, 128), 1);
	ck_assert_uint_eq(mm_incidents_stats(mm_det_incidents(w.d)).open, 1);
	ck_assert_uint_eq(mm_det_stats(w.d)->externals, 1);

	reload(&w, "[window]\nstep = 10\nsteps = 6\nmax_external = 2\n"
		   "[detector]\nslow_window_steps = 30\ncalm_steps = 4\n"
		   "[group dmz]\nprefix = 198.51.100.0/24\nsampling_rate = 1000\nwarmup_steps = 12\n"
		   "[group lan]\nprefix = 10.0.0.0/16\nsampling_rate = 1000\nwarmup_steps = 12\n");
	ck_assert_uint_eq(mm_incidents_stats(mm_det_incidents(w.d)).open, 1);
	addr4(a, 0, 2, 6, 10);
	h = mm_det_host(w.d, a, 0);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(h->group, 1); /* lan, now second */
	addr4(a, 51, 100, 1, 198);
	h = mm_det_host(w.d, a, 0);
	ck_assert_ptr_nonnull(h);
	ck_assert(!h->external);
	ck_assert_int_eq(h->group, 0);
	ck_assert_uint_eq(mm_det_stats(w.d)->externals, 0);

	run_steps(&w, 6); /* the flood goes on: the same incident */
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, -1, -1), 1);
	w.net[1][5] = w.bg;
	run_steps(&w, 20);
	ck_assert_uint_eq(count(&w.rec, MM_INC_END, MM_CLASS_FLOOD, 128), 1);
	ck_assert_uint_eq(count(&w.rec, MM_INC_START, -1, -1), 1); /* no false alert from the reload */

	/* 10.0.2.0/24 leaves every group: its hosts are forgotten. */
	reload(&w, "[window]\nstep = 10\nsteps = 6\nmax_external = 0\n"
		   "[detector]\nslow_window_steps = 30\n"
		   "[group lan]\nprefix = 10.0.1.0/24\nsampling_rate = 1000\nwarmup_steps = 12\n");
	ck_assert_uint_eq(mm_det_stats(w.d)->hosts_dropped_by_reload, NHOST + 1);
	addr4(a, 0, 2, 6, 10);
	ck_assert_ptr_null(mm_det_host(w.d, a, 0));
	world_free(&w);
}
END_TEST

/* The slow window rebuilt from blocks gives the slow features exactly as
 * the sum of its steps does, and spans between slow and slow + block - 1
 * steps. */
START_TEST(test_slow_blocks)
{
	struct mm_config cfg;
	struct mm_det *d;
	struct mm_det_host *h;
	struct mm_hoststep *steps = calloc(80, sizeof(*steps));
	struct rng g = { 77 };
	uint8_t a[16];
	uint64_t t0 = 5003; /* not on a block boundary */

	ck_assert_ptr_nonnull(steps);
	ck_assert_int_eq(mm_config_load_string(&cfg, "t.conf", conf, stderr), 0);
	static struct rec rec;
	d = mm_det_new(&cfg, 0, on_event, &rec);
	ck_assert_ptr_nonnull(d);
	ck_assert_uint_eq(mm_det_block_steps(d), 5);
	addr4(a, 0, 1, 1, 10);
	h = mm_det_host(d, a, 1);
	ck_assert_ptr_nonnull(h);
	h->since = t0;
	for (unsigned i = 0; i < 80; i++) {
		struct mm_hoststep win, full;
		struct mm_features fw, ff;
		uint32_t n;

		for (unsigned c = 0; c < MM_C_COUNT; c++)
			steps[i].ctr[c] = rnd(&g) % 5 == 0 ? 0 : (rnd(&g) % 1000) * R;
		for (unsigned k = 0; k < 30; k++) {
			uint64_t key = rnd(&g) % 500;
			mm_hll_add(&steps[i].hll[k % MM_S_COUNT], &key, sizeof(key));
		}
		mm_det_slow_add(d, h, t0 + i, &steps[i]);
		n = mm_det_slow_window(d, h, t0 + i, &win);
		ck_assert_uint_le(n, SLOW + 4);
		ck_assert_uint_eq(n, i + 1 < SLOW ? i + 1 : n);
		ck_assert_uint_ge(n, i + 1 < SLOW ? i + 1 : SLOW);
		memset(&full, 0, sizeof(full));
		for (unsigned k = i + 1 - n; k <= i; k++)
			mm_hoststep_merge(&full, &steps[k]);
		mm_features_compute(&win, n * 10.0, R, &fw);
		mm_features_compute(&full, n * 10.0, R, &ff);
		for (int f = 0; f < MM_F_COUNT; f++) {
			if (mm_feat_info((enum mm_feat)f)->window != MM_W_SLOW)
				continue;
			ck_assert_msg(fw.value[f] == ff.value[f] && fw.value_sampled[f] == ff.value_sampled[f],
				      "step %u %s: %f != %f", i, mm_feat_info((enum mm_feat)f)->name, fw.value[f],
				      ff.value[f]);
		}
		/* what sampled.h reads for bytes out, and the exfiltration gates */
		ck_assert(fw.rate[MM_C_PKTS_OUT] == ff.rate[MM_C_PKTS_OUT]);
		ck_assert(fw.rate[MM_C_UDP_BYTES_OUT] == ff.rate[MM_C_UDP_BYTES_OUT]);
		ck_assert(fw.rate[MM_C_ICMP_BYTES_OUT] == ff.rate[MM_C_ICMP_BYTES_OUT]);
		ck_assert(fw.rate[MM_C_OTHER_BYTES_OUT] == ff.rate[MM_C_OTHER_BYTES_OUT]);
		ck_assert(fw.rate[MM_C_FLOWS_OUT] == ff.rate[MM_C_FLOWS_OUT]); /* brute force's share */
	}
	mm_det_free(d);
	mm_config_free(&cfg);
	free(steps);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("detector");
	TCase *tc = tcase_create("run");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_carpet_thin);
	tcase_add_test(tc, test_carpet_hosts_cross);
	tcase_add_test(tc, test_host_flood_in_prefix);
	tcase_add_test(tc, test_external_scan);
	tcase_add_test(tc, test_slow_blocks);
	tcase_add_test(tc, test_external_forgotten);
	tcase_add_test(tc, test_reload_keeps_state);
	tcase_add_test(tc, test_fast_adoption);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
