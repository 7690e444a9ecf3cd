/*
 * scenario.c - the scenario clock: merges the background and the attacks
 * in time order and feeds the exporter, one record at a time (nothing is
 * pre-generated and nothing is allocated per record).
 *
 * Background record n is exported at n / --step-rate seconds; attack
 * record k at k / (its record rate) seconds after its start (with a ramp,
 * the inverse of the ramp's cumulative count).  Ties go to the background,
 * then to attacks in command-line order, so a run is a pure function of
 * its arguments.  The exporter's open datagram is also flushed at every
 * whole scenario second (an exporter's export timer), so a quiet exporter
 * still sends at least once a second.
 *
 * Benign look-alikes (benign.c) are further sources, after the attacks.
 * With a cycle (cycle_day, cycle_weekend) the background's record spacing
 * follows the rate at the time of the previous record:
 *   rate x (1 + day x cos(2 pi (hour - 15) / 24)) x (weekend ? w : 1)
 * (hour of day UTC: a 15:00 peak, a 03:00 trough; the daily mean is the
 * --step-rate), so a 24-hour scenario has a day and a night.
 */
#include <math.h>
#include <stdint.h>

#include "gen.h"

static uint64_t bg_time_us(const struct gen_scenario *s, uint64_t n)
{
	if (s->bg_rate <= 0)
		return UINT64_MAX;
	double t = (double)n * 1e6 / s->bg_rate;
	return t >= 1.8e19 ? UINT64_MAX : (uint64_t)t;
}

double gen_cycle_factor(const struct gen_scenario *s, uint64_t t_ms)
{
	double f = 1;
	if (s->cycle_day > 0) {
		double hour = (double)(t_ms % 86400000ull) / 3600000.0;
		f *= 1 + s->cycle_day * cos(2 * M_PI * (hour - 15) / 24);
	}
	if (s->cycle_weekend > 0) {
		/* 1970-01-01 was a Thursday: day 2 and 3 of a week from it are Sat, Sun */
		uint64_t wd = (t_ms / 86400000ull) % 7;
		if (wd == 2 || wd == 3)
			f *= s->cycle_weekend;
	}
	return f < 0.01 ? 0.01 : f;
}

static int cycling(const struct gen_scenario *s)
{
	return s->cycle_day > 0 || (s->cycle_weekend > 0 && s->cycle_weekend != 1);
}

void gen_scenario_run(struct gen_scenario *s, struct gen_exporter *x, volatile sig_atomic_t *stop)
{
	struct mm_flow f;
	uint64_t bg_n = 0;
	uint64_t next_bg = bg_time_us(s, 0);
	uint64_t next_tick = 1000000;
	uint64_t now = 0;

	s->records = s->bg_records = s->attack_records = s->benign_records = 0;
	for (;;) {
		if ((stop && *stop) || x->failed)
			break;
		if (s->count && s->records >= s->count)
			break;
		/* The earliest source. */
		uint64_t t = next_bg;
		int src = -1;
		for (unsigned i = 0; i < s->nattacks; i++)
			if (s->attacks[i].next_us < t) {
				t = s->attacks[i].next_us;
				src = (int)i;
			}
		for (unsigned i = 0; i < s->nbenign; i++)
			if (s->benign[i].next_us < t) {
				t = s->benign[i].next_us;
				src = (int)(s->nattacks + i);
			}
		if (t == UINT64_MAX && s->duration_us == UINT64_MAX)
			break; /* nothing left to send and no end: done */
		if (next_tick <= t && next_tick < s->duration_us) {
			now = next_tick;
			if (s->tick_flush)
				gen_exporter_flush(x, s->t0_ms + now / 1000);
			next_tick += 1000000;
			continue;
		}
		if (t >= s->duration_us)
			break;
		now = t;
		uint64_t t_ms = s->t0_ms + t / 1000;
		if (src < 0) {
			gen_traffic_next(s->traffic, t_ms, &f);
			bg_n++;
			if (!cycling(s)) {
				next_bg = bg_time_us(s, bg_n);
			} else {
				double dt = 1e6 / (s->bg_rate * gen_cycle_factor(s, t_ms));
				next_bg = t + (uint64_t)ceil(dt);
			}
			s->bg_records++;
		} else if ((unsigned)src >= s->nattacks) {
			gen_benign_next(&s->benign[src - (int)s->nattacks], s->traffic, s->t0_ms, &f);
			s->benign_records++;
		} else {
			gen_attack_next(&s->attacks[src], s->traffic, s->t0_ms, &f);
			s->attack_records++;
		}
		f.format = x->c.fmt->version;
		f.domain = x->c.domain;
		f.template_id = x->c.fmt->template_id(f.af);
		if (s->dump)
			gen_dump_record(s->dump, &f,
					src < 0 ? "background"
					: (unsigned)src >= s->nattacks ? "benign"
								       : gen_attack_class_name(s->attacks[src].cls));
		gen_exporter_add(x, &f, t_ms);
		s->records++;
	}
	/* The scenario ends at its duration, or where the records stopped. */
	if (s->duration_us != UINT64_MAX && !(stop && *stop) && !(s->count && s->records >= s->count))
		now = s->duration_us;
	gen_exporter_flush(x, s->t0_ms + now / 1000);
	s->end_us = now;
}
