/*
 * baseline.c - what the detector expects of a host (score.h): EWMA mean
 * and variance per feature, a group's time-of-week profile and typical
 * host, the recurring-burst memory, and the blob the daemon keeps in Redis.
 *
 * The update is West's incremental EWMA (mean and variance from one
 * innovation), with two guards against being taught an attack: nothing is
 * learnt while the host is hot, and once warm an innovation is clipped to
 * +-learn_clip sigma, so the mean creeps towards a ramp at alpha x clip x
 * sigma per step while the ramp itself runs away from it.
 */
#include <math.h>
#include <string.h>

#include "mamori/score.h"
#include "sampled.h"

_Static_assert(sizeof(float) == 4, "the blob stores IEEE 754 binary32");
_Static_assert(MM_F_COUNT == 16, "a new feature is a new blob version");

/* ---- time ----------------------------------------------------------- */

/* 1970-01-01 was a Thursday: 3 days after a Monday. */
#define EPOCH_WEEKDAY_HOURS (3 * 24)

unsigned mm_tow_slot(uint64_t step, uint32_t step_s)
{
	uint64_t hours = step * (uint64_t)(step_s > 0 ? step_s : 1) / 3600;

	return (unsigned)((hours + EPOCH_WEEKDAY_HOURS) % MM_TOW_SLOTS);
}

static uint64_t step_time(const struct mm_detect_params *p, uint64_t step)
{
	return step * (uint64_t)(p->step_s > 0 ? p->step_s : 1);
}

/* ---- host baselines ------------------------------------------------- */

void mm_baseline_init(struct mm_baseline *b)
{
	memset(b, 0, sizeof(*b));
}

int mm_baseline_warm(const struct mm_baseline *b, const struct mm_detect_params *p)
{
	return b != NULL && b->updates >= p->warmup_steps;
}

/* Each step teaches a group the mean and spread over all its hosts at
 * once, where a host's own baseline learns one observation: a handful of
 * full windows make it worth comparing with, and a fresh deployment is
 * not blind below the ceilings for its first warmup_steps. */
int mm_group_baseline_warm(const struct mm_baseline *b, const struct mm_detect_params *p)
{
	return b != NULL && b->updates >= p->group_warmup_steps;
}

/* The weight of the next observation: 1/(n+1) while that is larger than
 * alpha, so that the first steps give the plain mean of what was seen
 * rather than a mean dragged towards the initial zero. */
static double alpha_now(uint32_t updates, double alpha)
{
	double first = 1.0 / ((double)updates + 1.0);

	return first > alpha ? first : alpha;
}

/* At most this share of the mean is one sigma for clipping: with the
 * default alpha 0.01 and clip 3 the mean follows a rise by at most 0.6 %
 * a step (a real doubling is learnt in about 20 minutes of 10 s steps,
 * unless it is hot), so a ramp to 20x over 200 steps outruns it. */
#define CLIP_REL 0.2

/* One observation x[] (de-seasonalised, feature units) into b.  Clipping
 * once warm, with the sigma floored at the Poisson spread of the mean over
 * the view's spans (a host with a near-constant feature would otherwise
 * clip every change to nothing and never learn a real level shift). */
static void learn_one(struct mm_baseline *b, const struct mm_detect_params *p, const struct mm_view *v,
		      const double x[MM_F_COUNT])
{
	double a = alpha_now(b->updates, p->alpha);
	int warm = mm_baseline_warm(b, p);

	for (int f = 0; f < MM_F_COUNT; f++) {
		double m = b->mean[f], var = b->var[f];
		double d = x[f] - m, incr;

		if (warm) {
			const struct mm_features *xs = mm_view_of(v, (enum mm_feat)f);
			double per = mm_sampled_per_unit(xs, (enum mm_feat)f);
			double exp_pkts = (double)b->mean[MM_F_PKTS_OUT] * xs->span_s / (double)xs->sampling_rate;
			/* The floor of the expectation itself (obs = exp). */
			double floor_units = mm_sampled_floor((enum mm_feat)f, m * per, m * per, exp_pkts, exp_pkts,
							      mm_pkt_size_out(b, xs), mm_extra_var(xs, (enum mm_feat)f)) /
					     per;
			double sigma = sqrt(var > 0 ? var : 0);
			double lim;

			/* The clip scales with sigma, but not past CLIP_REL of
			 * the mean: clipped innovations inflate the variance
			 * (that is how a real change is learnt), and a clip
			 * that grew with it would let a ramp pull the mean
			 * along after all. */
			if (sigma > CLIP_REL * m)
				sigma = CLIP_REL * m;
			lim = p->learn_clip * (sigma > floor_units ? sigma : floor_units);

			if (d > lim)
				d = lim;
			else if (d < -lim)
				d = -lim;
		}
		incr = a * d;
		m += incr;
		var = (1.0 - a) * (var + d * incr);
		b->mean[f] = (float)(m > 0 ? m : 0);
		b->var[f] = (float)(var > 0 ? var : 0);
	}
	if (b->updates < UINT16_MAX)
		b->updates++;
}

static int hour_near(unsigned a, unsigned b, unsigned tol)
{
	unsigned d = a > b ? a - b : b - a;

	if (d > 12)
		d = 24 - d;
	return d <= tol;
}

/* Yesterday's candidate burst, folded into the memory. */
static void burst_finish_day(struct mm_burst *m, const struct mm_detect_params *p)
{
	uint32_t sph = mm_steps_per_hour(p);
	uint32_t hours = (m->cand_steps + sph - 1) / sph;

	if (hours > MM_BURST_MAX_HOURS) {
		/* Hot most of the day: not a schedule, and whatever was
		 * learnt no longer describes this host. */
		m->days = 0;
		return;
	}
	if (hours < 1)
		hours = 1;
	if (m->days > 0 && hour_near(m->cand_hour, m->hour, 1) && (uint16_t)(m->cand_day - m->day) <= 2) {
		if (m->days < UINT8_MAX)
			m->days++;
		/* A larger burst is taken at once, a smaller one halfway:
		 * backups grow with the data. */
		m->level = m->cand_level >= m->level ? m->cand_level : 0.5f * (m->level + m->cand_level);
		if (hours > m->hours)
			m->hours = (uint8_t)hours;
	} else {
		m->days = 1;
		m->hour = m->cand_hour;
		m->hours = (uint8_t)hours;
		m->level = m->cand_level;
	}
	m->day = m->cand_day;
}

static void burst_note(struct mm_baseline *b, const struct mm_detect_params *p, const struct mm_view *v,
		       int bytes_out_hot)
{
	struct mm_burst *m = &b->burst;
	uint64_t t = step_time(p, v->step);
	uint16_t day = (uint16_t)(t / 86400);
	uint8_t hour = (uint8_t)(t / 3600 % 24);

	if (m->cand_day != day) {
		if (m->cand_steps > 0)
			burst_finish_day(m, p);
		/* Unseen for more than two days: forgotten. */
		if (m->days > 0 && (uint16_t)(day - m->day) > 2)
			m->days = 0;
		m->cand_day = day;
		m->cand_steps = 0;
		m->cand_level = 0;
	}
	if (!bytes_out_hot)
		return;
	if (m->cand_steps == 0)
		m->cand_hour = hour;
	if (m->cand_steps < UINT16_MAX)
		m->cand_steps++;
	double level = mm_view_of(v, MM_F_BYTES_OUT)->value[MM_F_BYTES_OUT];
	if (level > m->cand_level)
		m->cand_level = (float)level;
}

void mm_baseline_learn(struct mm_baseline *b, const struct mm_detect_params *p, const struct mm_view *v,
		       const struct mm_tow *tow, int hot, int bytes_out_hot)
{
	uint32_t step = (uint32_t)v->step;
	double x[MM_F_COUNT];

	/* The same step twice (a re-read), or the clock going back: the
	 * baseline has seen it, or something newer. */
	if (b->last_step != 0 && step <= b->last_step)
		return;
	burst_note(b, p, v, bytes_out_hot);

	/* Silent steps since the last one: the host sent and received
	 * nothing, which is part of its normal too. */
	if (b->last_step != 0 && b->updates > 0 && step > b->last_step + 1) {
		uint32_t gap = step - b->last_step - 1;
		uint32_t most = (uint32_t)ceil(4.0 / (p->alpha > 0 ? p->alpha : 1.0));

		memset(x, 0, sizeof(x));
		for (uint32_t i = 0; i < gap && i < most; i++)
			learn_one(b, p, v, x);
	}
	b->last_step = step;
	if (hot)
		return;
	for (int f = 0; f < MM_F_COUNT; f++)
		x[f] = mm_view_of(v, (enum mm_feat)f)->value[f] / mm_tow_factor(tow, p, v->step, (enum mm_feat)f);
	learn_one(b, p, v, x);
}

/* ---- groups: time of week and the typical host ---------------------- */

#define TOW_MIN_FACTOR 0.125
#define TOW_MAX_FACTOR 8.0
#define TOW_MIN_SLOTS 24 /* a day of slots before any factor is used */

void mm_tow_init(struct mm_tow *t)
{
	memset(t, 0, sizeof(*t));
}

/* A slot is trusted once half an hour of it has been seen. */
static uint32_t tow_min_n(const struct mm_detect_params *p)
{
	uint32_t n = mm_steps_per_hour(p) / 2;

	return n > 0 ? n : 1;
}

double mm_tow_factor(const struct mm_tow *t, const struct mm_detect_params *p, uint64_t step, enum mm_feat f)
{
	unsigned slot;
	double r;

	if (t == NULL || !p->time_of_week || (unsigned)f >= MM_F_COUNT || t->learnt_slots < TOW_MIN_SLOTS)
		return 1.0;
	slot = mm_tow_slot(step, p->step_s);
	if (t->slot_n[slot] < tow_min_n(p) || !(t->level[f] > 0))
		return 1.0;
	r = (double)t->slot_mean[slot][f] / (double)t->level[f];
	if (r < TOW_MIN_FACTOR)
		return TOW_MIN_FACTOR;
	return r > TOW_MAX_FACTOR ? TOW_MAX_FACTOR : r;
}

void mm_group_acc_init(struct mm_group_acc *a)
{
	memset(a, 0, sizeof(*a));
}

void mm_group_acc_add(struct mm_group_acc *a, const struct mm_detect_params *p, const struct mm_view *v,
		      const struct mm_tow *tow)
{
	for (int f = 0; f < MM_F_COUNT; f++) {
		double x = mm_view_of(v, (enum mm_feat)f)->value[f];
		double d = x / mm_tow_factor(tow, p, v->step, (enum mm_feat)f);

		a->raw[f] += x;
		a->des[f] += d;
		a->des_sq[f] += d * d;
	}
	a->n++;
}

static void tow_learn(struct mm_tow *t, const struct mm_detect_params *p, const struct mm_group_acc *a,
		      uint64_t step)
{
	unsigned slot = mm_tow_slot(step, p->step_s);
	uint32_t min_n = tow_min_n(p);
	/* About three weeks of memory per slot: a slot is seen for one hour
	 * a week. */
	double a_slow = 1.0 / (3.0 * mm_steps_per_hour(p));
	double w = alpha_now(t->slot_n[slot], a_slow);
	unsigned learnt = 0;
	double sum[MM_F_COUNT] = { 0 };

	for (int f = 0; f < MM_F_COUNT; f++) {
		double m = t->slot_mean[slot][f];

		t->slot_mean[slot][f] = (float)(m + w * (a->raw[f] / a->n - m));
	}
	if (t->slot_n[slot] < UINT32_MAX)
		t->slot_n[slot]++;
	for (unsigned s = 0; s < MM_TOW_SLOTS; s++) {
		if (t->slot_n[s] < min_n)
			continue;
		learnt++;
		for (int f = 0; f < MM_F_COUNT; f++)
			sum[f] += t->slot_mean[s][f];
	}
	t->learnt_slots = learnt;
	for (int f = 0; f < MM_F_COUNT; f++)
		t->level[f] = learnt > 0 ? (float)(sum[f] / learnt) : 0.0f;
}

void mm_group_learn(struct mm_baseline *group, struct mm_tow *tow, const struct mm_detect_params *p,
		    const struct mm_group_acc *a, uint64_t step)
{
	if (a->n == 0)
		return;
	if (group != NULL) {
		double w = alpha_now(group->updates, p->alpha);

		for (int f = 0; f < MM_F_COUNT; f++) {
			double m = a->des[f] / a->n;
			double var = a->des_sq[f] / a->n - m * m;

			group->mean[f] = (float)(group->mean[f] + w * (m - group->mean[f]));
			group->var[f] = (float)((1.0 - w) * group->var[f] + w * (var > 0 ? var : 0));
		}
		if (group->updates < UINT16_MAX)
			group->updates++;
		group->last_step = (uint32_t)step;
	}
	if (tow != NULL && p->time_of_week)
		tow_learn(tow, p, a, step);
}

/* ---- the blob ------------------------------------------------------- */

#define BLOB_SEED 0x6d6d626cu /* "mmbl" */
#define BLOB_BODY (MM_BASELINE_BLOB_SIZE - 4)

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void putf(uint8_t *p, float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	put32(p, u);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static float getf(const uint8_t *p)
{
	uint32_t u = get32(p);
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

size_t mm_baseline_encode(const struct mm_baseline *b, uint8_t out[MM_BASELINE_BLOB_SIZE])
{
	uint8_t *p = out;

	*p++ = MM_BASELINE_BLOB_VERSION;
	*p++ = MM_F_COUNT;
	put16(p, b->updates), p += 2;
	put32(p, b->last_step), p += 4;
	put16(p, b->flags), p += 2;
	putf(p, b->burst.level), p += 4;
	putf(p, b->burst.cand_level), p += 4;
	put16(p, b->burst.day), p += 2;
	put16(p, b->burst.cand_day), p += 2;
	put16(p, b->burst.cand_steps), p += 2;
	*p++ = b->burst.hour;
	*p++ = b->burst.hours;
	*p++ = b->burst.days;
	*p++ = b->burst.cand_hour;
	for (int f = 0; f < MM_F_COUNT; f++) {
		putf(p, b->mean[f]), p += 4;
		putf(p, b->var[f]), p += 4;
	}
	put32(p, (uint32_t)mm_xxh64(out, BLOB_BODY, BLOB_SEED));
	return MM_BASELINE_BLOB_SIZE;
}

/* A stored level: finite and not negative (NaN fails both tests). */
static int level_ok(float f)
{
	return f >= 0 && f <= 3.4e38f;
}

int mm_baseline_decode(const uint8_t *blob, size_t len, struct mm_baseline *out)
{
	struct mm_baseline b;
	const uint8_t *p = blob;

	if (blob == NULL || len != MM_BASELINE_BLOB_SIZE || p[0] != MM_BASELINE_BLOB_VERSION || p[1] != MM_F_COUNT)
		return -1;
	if (get32(blob + BLOB_BODY) != (uint32_t)mm_xxh64(blob, BLOB_BODY, BLOB_SEED))
		return -1;
	memset(&b, 0, sizeof(b));
	p += 2;
	b.updates = get16(p), p += 2;
	b.last_step = get32(p), p += 4;
	b.flags = get16(p), p += 2;
	b.burst.level = getf(p), p += 4;
	b.burst.cand_level = getf(p), p += 4;
	b.burst.day = get16(p), p += 2;
	b.burst.cand_day = get16(p), p += 2;
	b.burst.cand_steps = get16(p), p += 2;
	b.burst.hour = *p++;
	b.burst.hours = *p++;
	b.burst.days = *p++;
	b.burst.cand_hour = *p++;
	if (b.flags != 0 || b.burst.hour >= 24 || b.burst.cand_hour >= 24 || b.burst.hours > MM_BURST_MAX_HOURS ||
	    !level_ok(b.burst.level) || !level_ok(b.burst.cand_level))
		return -1;
	for (int f = 0; f < MM_F_COUNT; f++) {
		b.mean[f] = getf(p), p += 4;
		b.var[f] = getf(p), p += 4;
		if (!level_ok(b.mean[f]) || !level_ok(b.var[f]))
			return -1;
	}
	*out = b;
	return 0;
}
