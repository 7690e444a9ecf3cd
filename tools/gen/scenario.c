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
 */
#include <stdint.h>

#include "gen.h"

static uint64_t bg_time_us(const struct gen_scenario *s, uint64_t n)
{
	if (s->bg_rate <= 0)
		return UINT64_MAX;
	double t = (double)n * 1e6 / s->bg_rate;
	return t >= 1.8e19 ? UINT64_MAX : (uint64_t)t;
}

void gen_scenario_run(struct gen_scenario *s, struct gen_exporter *x, volatile sig_atomic_t *stop)
{
	struct mm_flow f;
	uint64_t bg_n = 0;
	uint64_t next_bg = bg_time_us(s, 0);
	uint64_t next_tick = 1000000;
	uint64_t now = 0;

	s->records = s->bg_records = s->attack_records = 0;
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
			next_bg = bg_time_us(s, bg_n);
			s->bg_records++;
		} else {
			gen_attack_next(&s->attacks[src], s->traffic, s->t0_ms, &f);
			s->attack_records++;
		}
		f.format = x->c.fmt->version;
		f.domain = x->c.domain;
		f.template_id = x->c.fmt->template_id(f.af);
		if (s->dump)
			gen_dump_record(s->dump, &f, src < 0 ? "background" : gen_attack_class_name(s->attacks[src].cls));
		gen_exporter_add(x, &f, t_ms);
		s->records++;
	}
	/* The scenario ends at its duration, or where the records stopped. */
	if (s->duration_us != UINT64_MAX && !(stop && *stop) && !(s->count && s->records >= s->count))
		now = s->duration_us;
	gen_exporter_flush(x, s->t0_ms + now / 1000);
	s->end_us = now;
}
