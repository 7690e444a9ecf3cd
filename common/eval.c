/*
 * eval.c - alerts matched to ground truth, and the evaluation table
 * (contract: include/mamori/eval.h; rules: docs/evaluation.md).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/classes.h"
#include "mamori/eval.h"
#include "mamori/prefix.h"

int mm_eval_truth_class(const char *name)
{
	if (strcmp(name, "unmatched") == 0)
		return MM_EVAL_UNMATCHED;
	return mm_class_parse(name);
}

int mm_eval_slow_class(int cls)
{
	switch (cls) {
	case MM_CLASS_HORIZONTAL_SCAN:
	case MM_CLASS_VERTICAL_SCAN:
	case MM_CLASS_BRUTEFORCE:
	case MM_CLASS_OUTBOUND_SCAN:
	case MM_CLASS_EXFILTRATION:
		return 1;
	default:
		return 0;
	}
}

struct ev_ref {
	const struct mm_eval_event *e;
	size_t idx;
};

static int cmp_ev_ref(const void *pa, const void *pb)
{
	const struct ev_ref *a = pa, *b = pb;
	int c = strcmp(a->e->id, b->e->id);

	if (c)
		return c;
	return a->idx < b->idx ? -1 : a->idx > b->idx;
}

static int cmp_incident(const void *pa, const void *pb)
{
	const struct mm_eval_incident *a = pa, *b = pb;

	if (a->first_step != b->first_step)
		return a->first_step < b->first_step ? -1 : 1;
	return strcmp(a->id, b->id);
}

static int cmp_i64(const void *pa, const void *pb)
{
	int64_t a = *(const int64_t *)pa, b = *(const int64_t *)pb;

	return a < b ? -1 : a > b;
}

static int cmp_double(const void *pa, const void *pb)
{
	double a = *(const double *)pa, b = *(const double *)pb;

	return a < b ? -1 : a > b;
}

/* Median (the mean of the two middle values when n is even) and 95th
 * percentile (nearest rank) of v[0..n), sorted in place; NaN when n = 0. */
static double median(int64_t *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_i64);
	return n % 2 ? (double)v[n / 2] : ((double)v[n / 2 - 1] + (double)v[n / 2]) / 2;
}

static double p95(int64_t *v, size_t n)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(*v), cmp_i64);
	size_t rank = (n * 95 + 99) / 100; /* ceil(0.95 n), 1-based */
	return (double)v[rank - 1];
}

static double ratio(double num, double den)
{
	return den > 0 ? num / den : NAN;
}

/* Fold the events into incidents, one per id. */
static int fold(struct mm_eval *r, const struct mm_eval_event *e, size_t ne)
{
	struct ev_ref *refs = NULL;

	if (ne == 0)
		return 0;
	refs = calloc(ne, sizeof(*refs));
	r->inc = calloc(ne, sizeof(*r->inc));
	if (refs == NULL || r->inc == NULL) {
		free(refs);
		return -1;
	}
	for (size_t i = 0; i < ne; i++)
		refs[i] = (struct ev_ref){ &e[i], i };
	qsort(refs, ne, sizeof(*refs), cmp_ev_ref);
	for (size_t i = 0; i < ne;) {
		struct mm_eval_incident *in = &r->inc[r->ninc++];
		const struct mm_eval_event *f = refs[i].e;
		uint64_t min_first = f->first_step;

		memcpy(in->id, f->id, sizeof(in->id));
		in->cls = f->cls;
		memcpy(in->key, f->key, sizeof(in->key));
		memcpy(in->vector, f->vector, sizeof(in->vector));
		in->first_step = f->first_step;
		in->last_step = f->last_step;
		in->attack = -1;
		for (; i < ne && strcmp(refs[i].e->id, in->id) == 0; i++) {
			const struct mm_eval_event *x = refs[i].e;
			if (x->cls != in->cls || strcmp(x->key, in->key) != 0)
				r->conflicts++;
			in->events++;
			if (x->act)
				in->act = 1;
			if (x->first_step < min_first)
				min_first = x->first_step;
			if (x->last_step > in->last_step)
				in->last_step = x->last_step;
			if (x->ev == MM_EVAL_START && !in->has_start) {
				in->has_start = 1;
				in->first_step = x->first_step; /* the start's word counts */
			} else if (x->ev == MM_EVAL_END && (!in->has_end || x->end_step > in->end_step)) {
				in->has_end = 1;
				in->end_step = x->end_step;
			}
		}
		if (!in->has_start)
			in->first_step = min_first;
	}
	free(refs);
	qsort(r->inc, r->ninc, sizeof(*r->inc), cmp_incident);
	return 0;
}

static int in_window(const struct mm_eval_params *p, const struct mm_eval_verdict *v, int cls, uint64_t step)
{
	uint64_t grace = mm_eval_slow_class(cls) ? p->slow_window_steps : p->window_steps;

	return step >= v->first_step && step <= v->last_step + grace;
}

/* The attack an incident is best matched to among the candidates: one not
 * yet detected first, then the latest to start (the attack under way). */
static int better(const struct mm_eval_verdict *v, long best, long j)
{
	if (best < 0)
		return 1;
	if ((v[j].incidents == 0) != (v[best].incidents == 0))
		return v[j].incidents == 0;
	return v[j].first_step > v[best].first_step;
}

static void match(struct mm_eval *r, const struct mm_eval_params *p, const struct mm_eval_attack *a, size_t na)
{
	for (size_t i = 0; i < r->ninc; i++) {
		struct mm_eval_incident *in = &r->inc[i];
		long best = -1;

		for (size_t j = 0; j < na; j++)
			if ((p->any_class || a[j].cls == in->cls) && strcmp(a[j].key, in->key) == 0 &&
			    in_window(p, &r->verdict[j], a[j].cls, in->first_step) && better(r->verdict, best, (long)j))
				best = (long)j;
		if (best >= 0) {
			struct mm_eval_verdict *v = &r->verdict[best];
			in->attack = best;
			in->cls = a[best].cls; /* the same unless any_class */
			if (v->incidents++ == 0) {
				v->first_incident = (long)i;
				v->delay = (int64_t)(in->first_step - v->first_step);
				v->ended = 1;
				v->vector_ok = strcmp(in->vector, a[best].vector) == 0;
			}
			v->events += in->events;
			if (!in->has_end)
				v->ended = 0;
			else if ((int64_t)(in->end_step - v->last_step) > v->time_to_end || v->incidents == 1)
				v->time_to_end = (int64_t)(in->end_step - v->last_step);
			continue;
		}
		if (in->cls != MM_CLASS_BRUTEFORCE || strcmp(in->vector, "target") != 0)
			continue;
		for (size_t j = 0; j < na; j++)
			if (a[j].cls == MM_CLASS_BRUTEFORCE && (a[j].peer[0] == '\0' || strcmp(a[j].peer, in->key) == 0) &&
			    in_window(p, &r->verdict[j], in->cls, in->first_step) &&
			    (best < 0 || r->verdict[j].first_step > r->verdict[best].first_step))
				best = (long)j;
		if (best >= 0) {
			in->attack = best;
			in->secondary = 1;
			r->verdict[best].secondary++;
		}
	}
}

/* Which attacks a row covers: a class (or all), and one strength or all. */
struct row_sel {
	int cls;
	int by_strength;
	double strength;
};

static int sel_attack(const struct row_sel *s, const struct mm_eval_attack *a)
{
	return (s->cls < 0 || a->cls == s->cls) && (!s->by_strength || a->strength == s->strength);
}

static void fill_row(struct mm_eval_row *row, const struct row_sel *s, const struct mm_eval *r,
		     const struct mm_eval_params *p, const struct mm_eval_attack *a, int64_t *d1, int64_t *d2,
		     int64_t *d3)
{
	size_t n1 = 0, n2 = 0, n3 = 0;
	unsigned false_events = 0;

	memset(row, 0, sizeof(*row));
	row->cls = s->cls;
	row->by_strength = s->by_strength;
	row->strength = s->by_strength ? s->strength : NAN;
	for (size_t j = 0; j < r->natt; j++) {
		const struct mm_eval_verdict *v = &r->verdict[j];
		if (!sel_attack(s, &a[j]))
			continue;
		row->attacks++;
		row->matched += v->incidents;
		row->secondary += v->secondary;
		row->events += v->events;
		if (v->incidents == 0) {
			row->missed++;
			continue;
		}
		row->detected++;
		row->extra += v->incidents - 1;
		d1[n1] = v->delay;
		d2[n2++] = v->delay;
		n1++;
		if (v->ended)
			d3[n3++] = v->time_to_end;
		else
			row->open++;
		if (a[j].cls == MM_CLASS_AMPLIFICATION) {
			row->vector_n++;
			row->vector_ok += (unsigned)v->vector_ok;
		}
	}
	if (s->by_strength) {
		row->incidents = row->matched + row->secondary;
	} else {
		for (size_t i = 0; i < r->ninc; i++) {
			const struct mm_eval_incident *in = &r->inc[i];
			if (s->cls >= 0 && in->cls != s->cls)
				continue;
			row->incidents++;
			if (in->attack >= 0)
				continue;
			if (in->act)
				row->false_act++;
			else
				row->false_inv++;
			false_events += in->events;
		}
	}
	row->events += false_events;
	row->recall = ratio(row->detected, row->attacks);
	row->precision = ratio(row->matched + row->secondary, row->incidents);
	if (!s->by_strength && p->host_windows) {
		row->false_act_per_m = (double)row->false_act * 1e6 / (double)p->host_windows;
		row->false_inv_per_m = (double)row->false_inv * 1e6 / (double)p->host_windows;
	} else {
		row->false_act_per_m = row->false_inv_per_m = NAN;
	}
	row->alerts_per_incident = ratio(row->detected + row->extra + row->false_act + row->false_inv,
					 row->detected + row->false_act + row->false_inv);
	row->events_per_incident = ratio(row->events, row->detected + row->false_act + row->false_inv);
	row->delay_median = median(d1, n1);
	row->delay_p95 = p95(d2, n2);
	row->time_to_end_median = median(d3, n3);
}

static int aggregate(struct mm_eval *r, const struct mm_eval_params *p, const struct mm_eval_attack *a)
{
	size_t n = r->natt ? r->natt : 1, cap = r->natt + MM_CLASS_COUNT + 1;
	int64_t *d1 = calloc(n, sizeof(*d1)), *d2 = calloc(n, sizeof(*d2)), *d3 = calloc(n, sizeof(*d3));
	double *st = calloc(n, sizeof(*st));
	int rc = -1;

	r->rows = calloc(cap, sizeof(*r->rows));
	if (d1 == NULL || d2 == NULL || d3 == NULL || st == NULL || r->rows == NULL)
		goto err;
	for (int c = 0; c < MM_CLASS_COUNT; c++) {
		size_t ns = 0, nd = 0, ninc = 0;
		for (size_t j = 0; j < r->natt; j++)
			if (a[j].cls == c)
				st[ns++] = a[j].strength;
		for (size_t i = 0; i < r->ninc; i++)
			ninc += r->inc[i].cls == c;
		if (ns == 0 && ninc == 0)
			continue;
		qsort(st, ns, sizeof(*st), cmp_double);
		for (size_t k = 0; k < ns; k++)
			if (k == 0 || st[k] != st[k - 1])
				st[nd++] = st[k];
		if (nd > 1)
			for (size_t k = 0; k < nd; k++) {
				struct row_sel s = { c, 1, st[k] };
				fill_row(&r->rows[r->nrows++], &s, r, p, a, d1, d2, d3);
			}
		struct row_sel s = { c, 0, 0 };
		fill_row(&r->rows[r->nrows], &s, r, p, a, d1, d2, d3);
		if (nd == 1)
			r->rows[r->nrows].strength = st[0];
		r->nrows++;
	}
	struct row_sel all = { -1, 0, 0 };
	fill_row(&r->rows[r->nrows++], &all, r, p, a, d1, d2, d3);
	rc = 0;
err:
	free(d1);
	free(d2);
	free(d3);
	free(st);
	return rc;
}

struct mm_eval *mm_eval_run(const struct mm_eval_params *p, const struct mm_eval_attack *a, size_t na,
			    const struct mm_eval_event *e, size_t ne, char *err, size_t errlen)
{
	struct mm_eval *r;

	if (p == NULL || p->step_s == 0 || (na && a == NULL) || (ne && e == NULL)) {
		snprintf(err, errlen, "bad parameters (step_s must be > 0)");
		return NULL;
	}
	for (size_t j = 0; j < na; j++)
		if (a[j].cls < 0 || a[j].cls >= MM_CLASS_COUNT || a[j].end_ms < a[j].start_ms) {
			snprintf(err, errlen, "attack %zu: class out of range or end before start", j);
			return NULL;
		}
	for (size_t i = 0; i < ne; i++)
		if (e[i].cls < 0 || e[i].cls >= MM_CLASS_COUNT) {
			snprintf(err, errlen, "event %zu: class out of range", i);
			return NULL;
		}
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto nomem;
	r->natt = na;
	r->verdict = calloc(na ? na : 1, sizeof(*r->verdict));
	if (r->verdict == NULL || fold(r, e, ne) < 0)
		goto nomem;
	uint64_t step_ms = (uint64_t)p->step_s * 1000;
	for (size_t j = 0; j < na; j++) {
		struct mm_eval_verdict *v = &r->verdict[j];
		v->first_step = a[j].start_ms / step_ms;
		v->last_step = a[j].end_ms > a[j].start_ms ? (a[j].end_ms - 1) / step_ms : v->first_step;
		v->first_incident = -1;
	}
	match(r, p, a, na);
	if (aggregate(r, p, a) < 0)
		goto nomem;
	return r;
nomem:
	mm_eval_free(r);
	snprintf(err, errlen, "out of memory");
	return NULL;
}

void mm_eval_free(struct mm_eval *r)
{
	if (r == NULL)
		return;
	free(r->inc);
	free(r->verdict);
	free(r->rows);
	free(r);
}

const struct mm_eval_row *mm_eval_overall(const struct mm_eval *r)
{
	return r->nrows ? &r->rows[r->nrows - 1] : NULL;
}

static int lookalike_key(const char *lk, const char *key)
{
	struct mm_prefix pf;
	const char *why;
	uint8_t a[16];

	if (strcmp(lk, key) == 0)
		return 1;
	return strchr(lk, '/') && !strchr(key, '/') && mm_prefix_parse(lk, &pf, &why) == 0 &&
	       mm_addr_parse(key, a) >= 0 && mm_prefix_contains(&pf, a);
}

unsigned mm_eval_lookalike_false(const struct mm_eval *r, const struct mm_eval_params *p,
				 const struct mm_eval_lookalike *l, size_t nl, unsigned *act)
{
	uint64_t step_ms = (uint64_t)(p->step_s ? p->step_s : 1) * 1000;
	unsigned n = 0, na = 0;

	for (size_t i = 0; i < r->ninc; i++) {
		const struct mm_eval_incident *in = &r->inc[i];
		if (in->attack >= 0 || in->secondary)
			continue;
		for (size_t j = 0; j < nl; j++) {
			uint64_t first = l[j].start_ms / step_ms;
			uint64_t last = l[j].end_ms > l[j].start_ms ? (l[j].end_ms - 1) / step_ms : first;
			if (in->first_step >= first && in->first_step <= last + p->slow_window_steps &&
			    lookalike_key(l[j].key, in->key)) {
				n++;
				na += in->act != 0;
				break;
			}
		}
	}
	if (act)
		*act = na;
	return n;
}
