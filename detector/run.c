/*
 * run.c - the detector's per-step logic: host and group state, scoring,
 * incidents, learning (detector.h).  No I/O.
 */
#include <stdlib.h>
#include <string.h>
#include "mamori/detector.h"

struct mm_det {
	const struct mm_config *cfg;
	uint32_t max_hosts;
	struct mm_det_host **buckets;
	uint32_t nbuckets;            /* power of two */
	unsigned ngroups;
	struct mm_detect_params *params;
	struct mm_baseline *gbase;
	struct mm_tow *tow;
	struct mm_group_acc *acc;
	struct mm_incidents *inc;
	struct mm_det_stats st;
};

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
	d->nbuckets = 1024;
	while (d->nbuckets < d->max_hosts / 2 && d->nbuckets < (1u << 22))
		d->nbuckets <<= 1;
	ng = cfg->ngroups ? cfg->ngroups : 1;
	d->ngroups = cfg->ngroups;
	d->buckets = calloc(d->nbuckets, sizeof(*d->buckets));
	d->params = calloc(ng, sizeof(*d->params));
	d->gbase = calloc(ng, sizeof(*d->gbase));
	d->tow = calloc(ng, sizeof(*d->tow));
	d->acc = calloc(ng, sizeof(*d->acc));
	if (d->buckets == NULL || d->params == NULL || d->gbase == NULL || d->tow == NULL || d->acc == NULL)
		goto err;
	for (unsigned g = 0; g < cfg->ngroups; g++) {
		mm_detect_params_from_group(&d->params[g], cfg, &cfg->groups[g]);
		mm_baseline_init(&d->gbase[g]);
		mm_tow_init(&d->tow[g]);
		mm_group_acc_init(&d->acc[g]);
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

void mm_det_free(struct mm_det *d)
{
	if (d == NULL)
		return;
	if (d->buckets != NULL) {
		for (uint32_t i = 0; i < d->nbuckets; i++) {
			struct mm_det_host *h = d->buckets[i], *n;
			for (; h != NULL; h = n) {
				n = h->next;
				free(h);
			}
		}
	}
	free(d->buckets);
	free(d->params);
	free(d->gbase);
	free(d->tow);
	free(d->acc);
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
	if (g < 0)
		return NULL;
	if (d->st.hosts >= d->max_hosts || (h = calloc(1, sizeof(*h))) == NULL) {
		d->st.refused++;
		return NULL;
	}
	memcpy(h->addr, addr, 16);
	h->group = g;
	mm_baseline_init(&h->base);
	mm_confirm_init(&h->confirm);
	h->next = d->buckets[b];
	d->buckets[b] = h;
	d->st.hosts++;
	return h;
}

int mm_det_score(struct mm_det *d, struct mm_det_host *h, uint64_t step, const struct mm_hoststep *fast,
		 uint32_t fast_steps, const struct mm_hoststep *slow, uint32_t slow_steps,
		 const struct mm_redis_contrib *who, double completeness)
{
	const struct mm_detect_params *p = &d->params[h->group];
	struct mm_features ff, fs;
	struct mm_view v;
	struct mm_score_result res;
	struct mm_evidence ev;
	struct mm_incident_obs obs;
	struct mm_incident_key key;
	double step_s = d->cfg->step_s ? d->cfg->step_s : 1;
	int hot, started = 0;

	mm_features_compute(fast, step_s * (fast_steps ? fast_steps : 1), p->sampling_rate, &ff);
	if (slow != NULL)
		mm_features_compute(slow, step_s * (slow_steps ? slow_steps : 1), p->sampling_rate, &fs);
	v.fast = &ff;
	v.slow = slow != NULL ? &fs : NULL;
	v.step = step;
	v.external = 0;
	mm_score_host(p, &v, &h->base, &d->gbase[h->group], &d->tow[h->group], &h->confirm, &res);
	hot = res.hot;
	for (unsigned k = 0; k < MM_CLASS_COUNT; k++) {
		const struct mm_class_score *cs = &res.cls[k];

		if (k == MM_CLASS_CARPET_BOMBING)
			continue;
		mm_incident_key_host(&key, h->addr, (enum mm_class)k);
		if (cs->confirmed || cs->sustain) {
			mm_evidence_fill(&ev, (enum mm_class)k, &res, fast);
			if (who != NULL)
				mm_evidence_set_collectors(&ev, who->id, who->n, who->more);
			ev.completeness = completeness;
			mm_incident_obs_from(&obs, cs, &ev);
			if (mm_incidents_observe(d->inc, &key, step, &obs) == 1) {
				started++;
				d->st.starts++;
			}
		}
		if (!hot && mm_incidents_find(d->inc, &key) != NULL)
			hot = 1;
	}
	mm_baseline_learn(&h->base, p, &v, &d->tow[h->group], hot, res.bytes_out_hot);
	if (!hot)
		mm_group_acc_add(&d->acc[h->group], p, &v, &d->tow[h->group]);
	h->last_step = step;
	d->st.scored++;
	return started;
}

unsigned mm_det_end_step(struct mm_det *d, uint64_t step)
{
	for (unsigned g = 0; g < d->ngroups; g++) {
		if (d->acc[g].n > 0)
			mm_group_learn(&d->gbase[g], &d->tow[g], &d->params[g], &d->acc[g], step);
		mm_group_acc_init(&d->acc[g]);
	}
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
