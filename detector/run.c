/*
 * run.c - the detector's per-step logic: host, prefix and group state,
 * scoring, incidents, learning (detector.h).  No I/O.
 *
 * A step: mm_det_score per host (own classes; inbound classes of hosts in
 * a carpet-bombing prefix are held back), then mm_det_end_step: each
 * prefix touched this step is scored on the sum of its hosts' windows,
 * the held-back host observations go to the incidents unless their
 * prefix is under carpet bombing (one incident for the prefix, not one
 * per host), then the groups learn and quiet incidents end.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "mamori/detector.h"
#include "mamori/flow.h"

/* A carpet-bombing prefix aggregate: its baseline and hit history, and
 * the current step's sum of its hosts' fast windows. */
struct det_prefix {
	uint8_t addr[16];              /* masked */
	uint8_t plen;                  /* in 128-bit terms (IPv4 /24 = 120) */
	uint8_t carpet;                /* carpet bombing open or seen this step */
	int group;
	uint64_t acc_step;             /* the step `sum` is for */
	uint32_t fast_steps;
	double top_excess;             /* the largest mm_inbound_excess of a host that hit */
	double excess;                 /* the prefix's own mm_inbound_excess this step */
	double completeness;           /* the lowest of its hosts', -1 unknown */
	unsigned ncoll, morecoll;      /* collectors of the first host with any */
	char coll[MM_EVIDENCE_COLLECTORS][MM_NAME_MAX];
	struct mm_hoststep sum;
	struct mm_baseline base;
	struct mm_confirm confirm;
	struct det_prefix *next;       /* hash chain */
};

/* The counters the slow features read (features.c, sampled.h, the
 * exfiltration gates in score.c); test_detector checks that features of
 * a window rebuilt from them equal the full window's. */
static const enum mm_ctr slow_ctrs[] = {
	MM_C_BYTES_OUT,      MM_C_PKTS_OUT,        MM_C_UDP_BYTES_OUT, MM_C_ICMP_BYTES_OUT, MM_C_OTHER_BYTES_OUT,
	MM_C_SYN_FLOWS_OUT,  MM_C_SMALL_FLOWS_OUT, MM_C_AUTH_FLOWS_IN, MM_C_AUTH_FLOWS_OUT, MM_C_FLOWS_OUT,
};
#define NSLOW_CTRS (sizeof(slow_ctrs) / sizeof(slow_ctrs[0]))
static const enum mm_sketch slow_sketches[] = { MM_S_PEERS_OUT, MM_S_DPORTS_OUT };
#define NSLOW_SKETCHES (sizeof(slow_sketches) / sizeof(slow_sketches[0]))

struct mm_det_block {
	uint64_t id;                   /* block number + 1, 0 = empty */
	uint64_t ctr[NSLOW_CTRS];
	struct mm_hll hll[NSLOW_SKETCHES];
};

/* A host's inbound observation held back until its prefix is scored. */
struct held {
	struct mm_incident_key key;
	struct mm_incident_obs obs;
	struct mm_evidence ev;
	struct det_prefix *pf;
	double excess;                 /* the host's mm_inbound_excess */
};

/* A host carrying at least this share of its prefix's inbound excess is
 * a target in its own right: its incident stands beside the prefix's
 * carpet bombing instead of being folded into it. */
#define FOLD_MAX_SHARE 0.25
/* Host attacks inside a prefix stop its learning only when they are a
 * noticeable part of its inbound packets: with hundreds of hosts, one of
 * them is nearly always a little hot, and a prefix frozen by every blip
 * keeps the level of its first steps. */
#define PREFIX_FREEZE_SHARE 0.05

struct mm_det {
	const struct mm_config *cfg;
	uint32_t max_hosts, max_external;
	uint32_t max_external_cfg;    /* [window] max_external, in force while there are groups */
	struct mm_det_host **buckets;
	uint32_t nbuckets;            /* power of two */
	unsigned ngroups;
	struct mm_detect_params *params;
	struct mm_baseline *gbase;
	struct mm_tow *tow;
	struct mm_group_acc *acc;
	struct mm_incidents *inc;
	struct mm_fast_limits *flim;  /* per group: the ceilings a fast-path crossing is checked against */
	/* carpet bombing */
	struct det_prefix **pbuckets;
	uint32_t npbuckets;           /* power of two */
	struct det_prefix **touched;  /* prefixes with hosts this step */
	uint32_t ntouched;
	struct held *held;
	size_t nheld, held_cap;
	uint64_t last_sweep;
	uint32_t slow_steps, block_steps, nblocks;
	struct mm_det_stats st;
};

#define EXTERNAL_SWEEP_STEPS 64 /* externals idle this long (x slow window) are forgotten */

static uint32_t host_hash(const uint8_t addr[16])
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ addr[i]) * 16777619u;
	return h ^ (h >> 15);
}

struct mm_det *mm_det_new(const struct mm_config *cfg, uint32_t max_hosts, mm_incident_fn fn, void *arg)
{
	struct mm_det *d = calloc(1, sizeof(*d));
	struct mm_incident_params ip;
	unsigned ng;

	if (d == NULL)
		return NULL;
	d->cfg = cfg;
	d->max_hosts = max_hosts ? max_hosts : cfg->max_hosts;
	if (d->max_hosts == 0)
		d->max_hosts = 1;
	d->max_external_cfg = cfg->max_external;
	d->max_external = cfg->ngroups > 0 ? cfg->max_external : 0;
	d->slow_steps = mm_slow_window_steps(cfg);
	d->block_steps = (d->slow_steps + 5) / 6;
	d->nblocks = (d->slow_steps + d->block_steps - 1) / d->block_steps + 1;
	d->nbuckets = 1024;
	while (d->nbuckets < (d->max_hosts + d->max_external) / 2 && d->nbuckets < (1u << 22))
		d->nbuckets <<= 1;
	d->npbuckets = 256;
	while (d->npbuckets < cfg->max_prefixes / 2 && d->npbuckets < (1u << 20))
		d->npbuckets <<= 1;
	ng = cfg->ngroups ? cfg->ngroups : 1;
	d->ngroups = cfg->ngroups;
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	d->params = calloc(ng, sizeof(*d->params));
	d->gbase = calloc(ng, sizeof(*d->gbase));
	d->tow = calloc(ng, sizeof(*d->tow));
	d->acc = calloc(ng, sizeof(*d->acc));
	d->pbuckets = calloc(d->npbuckets, sizeof(*d->pbuckets));
	d->touched = calloc(cfg->max_prefixes ? cfg->max_prefixes : 1, sizeof(*d->touched));
	d->flim = calloc(ng, sizeof(*d->flim));
	if (d->flim == NULL || d->buckets == NULL || d->params == NULL || d->gbase == NULL || d->tow == NULL || d->acc == NULL ||
	    d->pbuckets == NULL || d->touched == NULL)
		goto err;
	for (unsigned g = 0; g < cfg->ngroups; g++) {
		mm_detect_params_from_group(&d->params[g], cfg, &cfg->groups[g]);
		mm_baseline_init(&d->gbase[g]);
		mm_tow_init(&d->tow[g]);
		mm_group_acc_init(&d->acc[g]);
		mm_fast_limits_from_group(&d->flim[g], &cfg->groups[g], cfg->fast_interval_ms);
	}
	mm_incident_params_from_config(&ip, cfg);
	d->inc = mm_incidents_new(&ip, fn, arg);
	if (d->inc == NULL)
		goto err;
	return d;
err:
	mm_det_free(d);
	return NULL;
}

int mm_det_reconfigure(struct mm_det *d, const struct mm_config *next)
{
	const struct mm_config *cur = d->cfg;
	unsigned ng = next->ngroups ? next->ngroups : 1;
	struct mm_detect_params *params = calloc(ng, sizeof(*params));
	struct mm_baseline *gbase = calloc(ng, sizeof(*gbase));
	struct mm_tow *tow = calloc(ng, sizeof(*tow));
	struct mm_group_acc *acc = calloc(ng, sizeof(*acc));
	struct mm_fast_limits *flim = calloc(ng, sizeof(*flim));
	int *map = calloc(d->ngroups ? d->ngroups : 1, sizeof(*map)); /* old group -> new, -1 gone */

	if (params == NULL || gbase == NULL || tow == NULL || acc == NULL || flim == NULL || map == NULL) {
		free(flim);
		free(params);
		free(gbase);
		free(tow);
		free(acc);
		free(map);
		return -1;
	}
	/* Groups are matched by name: a group that stays keeps what it
	 * learnt (its baseline and time-of-week profile), wherever it now is
	 * in the file; a new one starts cold. */
	for (unsigned o = 0; o < d->ngroups; o++)
		map[o] = -1;
	for (unsigned g = 0; g < next->ngroups; g++) {
		mm_detect_params_from_group(&params[g], next, &next->groups[g]);
		/* the ceilings a crossing is checked against follow the file */
		mm_fast_limits_from_group(&flim[g], &next->groups[g], next->fast_interval_ms);
		mm_baseline_init(&gbase[g]);
		mm_tow_init(&tow[g]);
		mm_group_acc_init(&acc[g]);
		for (unsigned o = 0; o < d->ngroups && o < cur->ngroups; o++)
			if (strcmp(cur->groups[o].name, next->groups[g].name) == 0) {
				gbase[g] = d->gbase[o];
				tow[g] = d->tow[o];
				acc[g] = d->acc[o];
				map[o] = (int)g;
			}
	}
	/* Hosts follow the new prefixes.  Their own baselines stay; a host
	 * no longer monitored keeps no state here (its open incidents end as
	 * usual, after calm_steps without it); an external source now inside
	 * a group becomes a monitored host with its baseline still to load. */
	for (uint32_t i = 0; i < d->nbuckets; i++) {
		struct mm_det_host **pp = &d->buckets[i], *h;

		while ((h = *pp) != NULL) {
			int g = mm_config_group_of(next, h->addr);

			if (g >= 0) {
				if (h->external) {
					h->external = 0;
					h->loaded = 0;
					d->st.externals--;
					d->st.hosts++;
				}
				h->group = g;
			} else if (!h->external) {
				*pp = h->next;
				free(h->blk);
				free(h);
				d->st.hosts--;
				d->st.hosts_dropped_by_reload++;
				continue;
			} else {
				h->group = 0;
			}
			pp = &h->next;
		}
	}
	for (uint32_t i = 0; i < d->npbuckets; i++)
		for (struct det_prefix *pf = d->pbuckets[i]; pf != NULL; pf = pf->next)
			pf->group = pf->group >= 0 && (unsigned)pf->group < d->ngroups && map[pf->group] >= 0 ? map[pf->group] : 0;
	free(d->params);
	free(d->gbase);
	free(d->tow);
	free(d->acc);
	free(d->flim);
	free(map);
	d->flim = flim;
	d->params = params;
	d->gbase = gbase;
	d->tow = tow;
	d->acc = acc;
	d->ngroups = next->ngroups;
	d->max_external = next->ngroups > 0 ? d->max_external_cfg : 0;
	mm_incidents_set_timing(d->inc, next->incident_update_steps, next->incident_calm_steps);
	return 0;
}

void mm_det_free(struct mm_det *d)
{
	if (d == NULL)
		return;
	if (d->buckets != NULL) {
		for (uint32_t i = 0; i < d->nbuckets; i++) {
			struct mm_det_host *h = d->buckets[i], *n;
			for (; h != NULL; h = n) {
				n = h->next;
				free(h->blk);
				free(h);
			}
		}
	}
	if (d->pbuckets != NULL) {
		for (uint32_t i = 0; i < d->npbuckets; i++) {
			struct det_prefix *pf = d->pbuckets[i], *n;
			for (; pf != NULL; pf = n) {
				n = pf->next;
				free(pf);
			}
		}
	}
	free(d->pbuckets);
	free(d->touched);
	free(d->held);
	free(d->buckets);
	free(d->params);
	free(d->gbase);
	free(d->tow);
	free(d->acc);
	free(d->flim);
	mm_incidents_free(d->inc);
	free(d);
}

struct mm_det_host *mm_det_host(struct mm_det *d, const uint8_t addr[16], int create)
{
	uint32_t b = host_hash(addr) & (d->nbuckets - 1);
	struct mm_det_host *h;
	int g;

	for (h = d->buckets[b]; h != NULL; h = h->next)
		if (memcmp(h->addr, addr, 16) == 0)
			return h;
	if (!create)
		return NULL;
	g = mm_config_group_of(d->cfg, addr);
	if (g < 0 && d->max_external == 0)
		return NULL;
	if (g >= 0 ? d->st.hosts >= d->max_hosts : d->st.externals >= d->max_external) {
		d->st.refused++;
		return NULL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL || (h->blk = calloc(d->nblocks, sizeof(*h->blk))) == NULL) {
		free(h);
		d->st.refused++;
		return NULL;
	}
	memcpy(h->addr, addr, 16);
	/* An external source is scored with the first group's keys, against
	 * no baseline (score.h): it has no normal of ours to learn. */
	h->external = g < 0;
	h->group = g < 0 ? 0 : g;
	h->loaded = h->external;
	mm_baseline_init(&h->base);
	mm_confirm_init(&h->confirm);
	h->next = d->buckets[b];
	d->buckets[b] = h;
	if (h->external)
		d->st.externals++;
	else
		d->st.hosts++;
	return h;
}

/* ---- carpet-bombing prefixes ------------------------------------------ */

static uint32_t prefix_hash(const uint8_t addr[16], uint8_t plen)
{
	return host_hash(addr) ^ (uint32_t)plen * 0x9e3779b1u;
}

/* The prefix aggregate host h counts into at `step`, reset for the step
 * on first use; NULL when the group sums no prefixes of h's family or the
 * table is full (counted). */
static struct det_prefix *prefix_of(struct mm_det *d, const struct mm_det_host *h, uint64_t step,
				    uint32_t fast_steps)
{
	const struct mm_group_cfg *g = &d->cfg->groups[h->group];
	int is4 = mm_addr_is4(h->addr);
	unsigned len = is4 ? g->carpet_prefix4 : g->carpet_prefix6;
	uint8_t key[16] = { 0 };
	uint8_t plen;
	uint32_t b;
	struct det_prefix *pf;

	if (len == 0)
		return NULL;
	plen = (uint8_t)(is4 ? 96 + len : len);
	memcpy(key, h->addr, plen / 8);
	if (plen % 8)
		key[plen / 8] = (uint8_t)(h->addr[plen / 8] & (0xff00u >> (plen % 8)));
	b = prefix_hash(key, plen) & (d->npbuckets - 1);
	for (pf = d->pbuckets[b]; pf != NULL; pf = pf->next)
		if (pf->plen == plen && memcmp(pf->addr, key, 16) == 0)
			break;
	if (pf == NULL) {
		if (d->st.prefixes >= d->cfg->max_prefixes || (pf = calloc(1, sizeof(*pf))) == NULL) {
			d->st.prefixes_refused++;
			return NULL;
		}
		memcpy(pf->addr, key, 16);
		pf->plen = plen;
		pf->group = h->group;
		pf->acc_step = UINT64_MAX;
		mm_baseline_init(&pf->base);
		mm_confirm_init(&pf->confirm);
		pf->next = d->pbuckets[b];
		d->pbuckets[b] = pf;
		d->st.prefixes++;
	}
	pf->group = h->group; /* after a reload, the prefix is its hosts' group's */
	if (pf->acc_step != step) {
		if (d->ntouched >= d->cfg->max_prefixes) {
			d->st.prefixes_refused++;
			return NULL;
		}
		memset(&pf->sum, 0, sizeof(pf->sum));
		pf->acc_step = step;
		pf->fast_steps = fast_steps;
		pf->top_excess = 0;
		pf->completeness = 1;
		pf->ncoll = pf->morecoll = 0;
		pf->carpet = 0;
		d->touched[d->ntouched++] = pf;
	}
	return pf;
}

static int is_inbound(enum mm_class k)
{
	return k == MM_CLASS_FLOOD || k == MM_CLASS_SYN_FLOOD || k == MM_CLASS_AMPLIFICATION;
}

/* Keep a host's inbound observation until its prefix is scored.  0, or
 * -1 when there is no room (the caller observes it at once). */
static int hold(struct mm_det *d, const struct mm_incident_key *key, const struct mm_incident_obs *obs,
		const struct mm_evidence *ev, struct det_prefix *pf, double excess)
{
	struct held *e;

	if (d->nheld == d->held_cap) {
		size_t cap = d->held_cap ? d->held_cap * 2 : 64;
		void *n;

		if (cap > d->cfg->max_incidents)
			cap = d->cfg->max_incidents;
		if (cap <= d->held_cap || (n = realloc(d->held, cap * sizeof(*d->held))) == NULL)
			return -1;
		d->held = n;
		d->held_cap = cap;
	}
	e = &d->held[d->nheld++];
	e->key = *key;
	e->obs = *obs;
	e->ev = *ev;
	e->obs.ev = NULL;
	e->pf = pf;
	e->excess = excess;
	return 0;
}

/* ---- the slow window's blocks -------------------------------------------- */

uint32_t mm_det_block_steps(const struct mm_det *d)
{
	return d->block_steps;
}

void mm_det_slow_add(struct mm_det *d, struct mm_det_host *h, uint64_t first, const struct mm_hoststep *hs)
{
	uint64_t id = first / d->block_steps + 1;
	struct mm_det_block *b = &h->blk[id % d->nblocks];

	if (b->id != id) {
		memset(b, 0, sizeof(*b));
		b->id = id;
	}
	for (size_t i = 0; i < NSLOW_CTRS; i++) {
		uint64_t v = hs->ctr[slow_ctrs[i]];
		b->ctr[i] = b->ctr[i] > UINT64_MAX - v ? UINT64_MAX : b->ctr[i] + v;
	}
	for (size_t i = 0; i < NSLOW_SKETCHES; i++)
		mm_hll_merge(&b->hll[i], &hs->hll[slow_sketches[i]]);
}

uint32_t mm_det_slow_window(const struct mm_det *d, const struct mm_det_host *h, uint64_t step,
			    struct mm_hoststep *out)
{
	uint64_t wfirst = step + 1 >= d->slow_steps ? step + 1 - d->slow_steps : 0;
	uint64_t fb = wfirst / d->block_steps, lb = step / d->block_steps, from;

	memset(out, 0, sizeof(*out));
	for (uint64_t id = fb + 1; id <= lb + 1; id++) {
		const struct mm_det_block *b = &h->blk[id % d->nblocks];

		if (b->id != id)
			continue;
		for (size_t i = 0; i < NSLOW_CTRS; i++)
			out->ctr[slow_ctrs[i]] += b->ctr[i];
		for (size_t i = 0; i < NSLOW_SKETCHES; i++)
			mm_hll_merge(&out->hll[slow_sketches[i]], &b->hll[i]);
	}
	from = fb * d->block_steps;
	if (h->since > from)
		from = h->since;
	return from <= step ? (uint32_t)(step - from + 1) : 1;
}

/* ---- hosts ------------------------------------------------------------- */

static int observe(struct mm_det *d, const struct mm_incident_key *key, uint64_t step,
		   const struct mm_incident_obs *obs)
{
	if (mm_incidents_observe(d->inc, key, step, obs) == 1) {
		d->st.starts++;
		return 1;
	}
	return 0;
}

int mm_det_score(struct mm_det *d, struct mm_det_host *h, uint64_t step, const struct mm_hoststep *fast,
		 uint32_t fast_steps, const struct mm_hoststep *newest, const struct mm_redis_contrib *who,
		 double completeness)
{
	struct mm_hoststep slow;
	uint32_t slow_steps;
	const struct mm_detect_params *p = &d->params[h->group];
	struct mm_features ff, fs;
	struct mm_view v;
	struct mm_score_result res;
	struct mm_evidence ev;
	struct mm_incident_obs obs;
	struct mm_incident_key key;
	struct det_prefix *pf = NULL;
	double step_s = d->cfg->step_s ? d->cfg->step_s : 1;
	int hot, started = 0;

	if (h->since == 0)
		h->since = step;
	if (newest != NULL)
		mm_det_slow_add(d, h, step, newest);
	slow_steps = mm_det_slow_window(d, h, step, &slow);
	mm_features_compute(fast, step_s * (fast_steps ? fast_steps : 1), p->sampling_rate, &ff);
	mm_features_compute(&slow, step_s * slow_steps, p->sampling_rate, &fs);
	v.fast = &ff;
	v.slow = &fs;
	v.step = step;
	v.external = h->external;
	if (h->external)
		mm_score_host(p, &v, NULL, NULL, NULL, &h->confirm, &res);
	else
		mm_score_host(p, &v, &h->base, &d->gbase[h->group], &d->tow[h->group], &h->confirm, &res);
	hot = res.hot;
	if (!h->external && (pf = prefix_of(d, h, step, fast_steps)) != NULL) {
		mm_hoststep_merge(&pf->sum, fast);
		if (completeness < 0 || pf->completeness < 0)
			pf->completeness = -1;
		else if (completeness < pf->completeness)
			pf->completeness = completeness;
		if (pf->ncoll == 0 && who != NULL && who->n > 0) {
			pf->ncoll = who->n < MM_EVIDENCE_COLLECTORS ? who->n : MM_EVIDENCE_COLLECTORS;
			pf->morecoll = who->more + (who->n - pf->ncoll);
			memcpy(pf->coll, who->id, pf->ncoll * sizeof(pf->coll[0]));
		}
	}
	for (unsigned k = 0; k < MM_CLASS_COUNT; k++) {
		const struct mm_class_score *cs = &res.cls[k];

		if (k == MM_CLASS_CARPET_BOMBING)
			continue;
		mm_incident_key_host(&key, h->addr, (enum mm_class)k);
		/* A host attacked on its own (hitting, or its incident still
		 * open while the window drains) explains its prefix's rise. */
		if (pf != NULL && is_inbound((enum mm_class)k) &&
		    (cs->hit || cs->sustain || mm_incidents_find(d->inc, &key) != NULL) &&
		    mm_inbound_excess(&res) > pf->top_excess)
			pf->top_excess = mm_inbound_excess(&res);
		if (cs->confirmed || cs->sustain) {
			mm_evidence_fill(&ev, (enum mm_class)k, &res, fast);
			if (who != NULL)
				mm_evidence_set_collectors(&ev, who->id, who->n, who->more);
			ev.completeness = completeness;
			mm_incident_obs_from(&obs, cs, &ev);
			if (pf == NULL || !is_inbound((enum mm_class)k) || hold(d, &key, &obs, &ev, pf, mm_inbound_excess(&res)) < 0)
				started += observe(d, &key, step, &obs);
		}
		if (!hot && mm_incidents_find(d->inc, &key) != NULL)
			hot = 1;
	}
	if (!h->external) {
		mm_baseline_learn(&h->base, p, &v, &d->tow[h->group], hot, res.bytes_out_hot);
		if (!hot)
			mm_group_acc_add(&d->acc[h->group], p, &v, &d->tow[h->group]);
	}
	h->last_step = step;
	d->st.scored++;
	return started;
}

/* Score the prefixes touched this step, then release the held host
 * observations: those of a prefix under carpet bombing are folded into
 * its incident (counted) unless the host carries a good part of it, the
 * rest observed. */
static void score_prefixes(struct mm_det *d, uint64_t step)
{
	double step_s = d->cfg->step_s ? d->cfg->step_s : 1;

	for (uint32_t i = 0; i < d->ntouched; i++) {
		struct det_prefix *pf = d->touched[i];
		const struct mm_detect_params *p = &d->params[pf->group];
		struct mm_detect_params pp;
		struct mm_features ff;
		struct mm_view v = { &ff, NULL, step, 0 };
		struct mm_score_result res;
		const struct mm_class_score *cs;
		struct mm_incident_key key;
		int hot;

		mm_features_compute(&pf->sum, step_s * (pf->fast_steps ? pf->fast_steps : 1), p->sampling_rate, &ff);
		mm_score_prefix(p, &v, &pf->base, &d->tow[pf->group], pf->top_excess, &pf->confirm, &res);
		cs = &res.cls[MM_CLASS_CARPET_BOMBING];
		memset(&key, 0, sizeof(key));
		memcpy(key.addr, pf->addr, 16);
		key.plen = pf->plen;
		key.cls = MM_CLASS_CARPET_BOMBING;
		if (cs->confirmed || cs->sustain) {
			struct mm_evidence ev;
			struct mm_incident_obs obs;

			mm_evidence_fill(&ev, MM_CLASS_CARPET_BOMBING, &res, &pf->sum);
			mm_evidence_set_collectors(&ev, (const char(*)[MM_NAME_MAX])pf->coll, pf->ncoll, pf->morecoll);
			ev.completeness = pf->completeness;
			mm_incident_obs_from(&obs, cs, &ev);
			observe(d, &key, step, &obs);
		}
		pf->carpet = mm_incidents_find(d->inc, &key) != NULL;
		pf->excess = mm_inbound_excess(&res);
		/* A host attack inside the prefix is not its normal either. */
		hot = res.hot || pf->carpet ||
		      pf->top_excess > PREFIX_FREEZE_SHARE * (ff.value_sampled[MM_F_FLOOD_PKTS_IN] +
							     ff.value_sampled[MM_F_SYN_PKTS_IN] +
							     ff.value_sampled[MM_F_AMP_PKTS_IN]);
		/* Nor are the partial windows of the data's first steps (a
		 * replay's or a collector's start): a prefix sums hundreds of
		 * hosts, and the ramp would stay in its mean for a long while. */
		if (pf->fast_steps < d->cfg->window_steps)
			hot = 1;
		/* Scored from group_warmup_steps on (mm_score_prefix), so
		 * clipped from then on too: an attack ramping during a
		 * host's longer warm-up would otherwise teach itself. */
		pp = *p;
		pp.warmup_steps = p->group_warmup_steps;
		mm_baseline_learn(&pf->base, &pp, &v, &d->tow[pf->group], hot, 0);
		d->st.prefixes_scored++;
	}
	for (size_t i = 0; i < d->nheld; i++) {
		struct held *e = &d->held[i];

		if (e->pf->carpet && e->excess < FOLD_MAX_SHARE * e->pf->excess) {
			d->st.folded++;
			continue;
		}
		e->obs.ev = &e->ev;
		observe(d, &e->key, step, &e->obs);
	}
	d->nheld = 0;
	d->ntouched = 0;
}

/* Forget external sources idle for a long while: scanners come and go,
 * and the table must not fill with the ones gone. */
static void sweep_externals(struct mm_det *d, uint64_t step)
{
	uint64_t idle = (uint64_t)EXTERNAL_SWEEP_STEPS * mm_slow_window_steps(d->cfg);

	if (d->st.externals == 0 || step < d->last_sweep + EXTERNAL_SWEEP_STEPS)
		return;
	d->last_sweep = step;
	for (uint32_t i = 0; i < d->nbuckets; i++) {
		struct mm_det_host **pp = &d->buckets[i], *h;

		while ((h = *pp) != NULL) {
			if (h->external && h->last_step + idle < step) {
				*pp = h->next;
				free(h->blk);
				free(h);
				d->st.externals--;
				d->st.externals_forgotten++;
			} else {
				pp = &h->next;
			}
		}
	}
}

/* ---- the fast path's crossings ---------------------------------------- */

int mm_det_fast(struct mm_det *d, const struct mm_fast_event *e)
{
	static const struct {
		enum mm_feat feat;
		enum mm_topk_ports ports;
		uint8_t out;
	} cls[MM_CLASS_COUNT] = {
		[MM_CLASS_FLOOD] = { MM_F_FLOOD_PKTS_IN, MM_T_DPORTS_IN, 0 },
		[MM_CLASS_SYN_FLOOD] = { MM_F_SYN_PKTS_IN, MM_T_DPORTS_IN, 0 },
		[MM_CLASS_AMPLIFICATION] = { MM_F_AMP_PKTS_IN, MM_T_SPORTS_IN, 0 },
		[MM_CLASS_OUTBOUND_FLOOD] = { MM_F_PKTS_OUT, MM_T_DPORTS_OUT, 1 },
	};
	uint64_t step_ms = (uint64_t)(d->cfg->step_s ? d->cfg->step_s : 1) * 1000;
	int g = mm_config_group_of(d->cfg, e->addr);
	struct mm_incident_key key;
	struct mm_incident_obs obs;
	struct mm_incident_fast fast;
	struct mm_evidence ev;
	int r;

	if (g < 0 || e->cls >= MM_CLASS_COUNT || mm_fast_ceiling_class((enum mm_fast_ceiling)e->ceiling) != e->cls ||
	    !mm_fast_confirms(&d->flim[g], e)) {
		d->st.fast_refused++;
		return -1;
	}
	/* What the analyst reads until the step scoring updates it: the
	 * class's feature over the interval, no baseline consulted. */
	memset(&ev, 0, sizeof(ev));
	ev.nfeat = 1;
	ev.feat[0].feature = (uint8_t)cls[e->cls].feat;
	ev.feat[0].current = (float)e->class_pps;
	ev.feat[0].baseline = NAN;
	ev.feat[0].score = NAN;
	ev.ports_kind = (uint8_t)cls[e->cls].ports;
	ev.peers_out = cls[e->cls].out;
	ev.vector = e->vector;
	ev.source = MM_EXP_NONE;
	ev.distinct_peers = NAN;
	ev.completeness = -1;
	if (e->collector[0])
		mm_evidence_set_collectors(&ev, (const char(*)[MM_NAME_MAX])e->collector, 1, 0);
	memset(&obs, 0, sizeof(obs));
	obs.confirmed = obs.sustain = 1;
	obs.tier = MM_TIER_ACT;
	/* a ceiling hit: high below twice the ceiling, critical beyond (score.c) */
	obs.severity = e->rate < 2 * e->limit ? MM_SEV_HIGH : MM_SEV_CRITICAL;
	obs.feature = (uint8_t)cls[e->cls].feat;
	obs.score = NAN;
	obs.rate = e->class_pps;
	obs.baseline_rate = NAN;
	obs.ev = &ev;
	memset(&fast, 0, sizeof(fast));
	fast.on = 1;
	fast.ceiling = e->ceiling;
	fast.interval_ms = e->interval_ms;
	fast.time_ms = e->time_ms;
	fast.rate = e->rate;
	fast.limit = e->limit;
	memcpy(fast.collector, e->collector, sizeof(fast.collector));
	mm_incident_key_host(&key, e->addr, (enum mm_class)e->cls);
	r = mm_incidents_raise(d->inc, &key, e->time_ms / step_ms, e->first_ms / step_ms, &obs, &fast);
	if (r == 1)
		d->st.fast_started++;
	else if (r == 0)
		d->st.fast_merged++;
	else
		d->st.fast_refused++;
	return r;
}

unsigned mm_det_end_step(struct mm_det *d, uint64_t step)
{
	score_prefixes(d, step);
	for (unsigned g = 0; g < d->ngroups; g++) {
		if (d->acc[g].n > 0)
			mm_group_learn(&d->gbase[g], &d->tow[g], &d->params[g], &d->acc[g], step);
		mm_group_acc_init(&d->acc[g]);
	}
	sweep_externals(d, step);
	return mm_incidents_end_step(d->inc, step);
}

const struct mm_det_stats *mm_det_stats(const struct mm_det *d)
{
	return &d->st;
}

struct mm_incidents *mm_det_incidents(struct mm_det *d)
{
	return d->inc;
}
