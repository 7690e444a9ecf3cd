/*
 * test_eval.c - matching alerts to ground truth (common/eval.c): a clean
 * match with its delay and time to end, a start too late, a double
 * incident, the wrong host, the carpet-bombed prefix, brute force's
 * target-side view, an unmatched start split by tier, a missing end, an
 * incident without a start (adopted), strength groups, the figures of
 * the overall row.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "mamori/classes.h"
#include "mamori/eval.h"

#define T0 1700000000ull /* Unix s; step 170000000 at 10 s */
#define S0 170000000ull

static const struct mm_eval_params P = { 10, 6, 30, 1000000, 0 };

static struct mm_eval_attack atk(int cls, const char *key, const char *peer, unsigned start_s, unsigned end_s,
				 double strength)
{
	struct mm_eval_attack a;

	memset(&a, 0, sizeof(a));
	a.cls = cls;
	snprintf(a.key, sizeof(a.key), "%s", key);
	snprintf(a.peer, sizeof(a.peer), "%s", peer);
	snprintf(a.vector, sizeof(a.vector), "-");
	a.start_ms = (T0 + start_s) * 1000;
	a.end_ms = (T0 + end_s) * 1000;
	a.strength = strength;
	return a;
}

/* An event; steps relative to S0; end_step only for MM_EVAL_END. */
static struct mm_eval_event ev(enum mm_eval_ev e, const char *id, int cls, const char *key, const char *vector,
			       int act, unsigned first, unsigned last, unsigned end)
{
	struct mm_eval_event x;

	memset(&x, 0, sizeof(x));
	x.ev = e;
	snprintf(x.id, sizeof(x.id), "%s", id);
	x.cls = cls;
	snprintf(x.key, sizeof(x.key), "%s", key);
	snprintf(x.vector, sizeof(x.vector), "%s", vector);
	x.act = act;
	x.first_step = S0 + first;
	x.last_step = S0 + last;
	x.end_step = e == MM_EVAL_END ? S0 + end : 0;
	return x;
}

static struct mm_eval *run(const struct mm_eval_attack *a, size_t na, const struct mm_eval_event *e, size_t ne)
{
	char err[128] = "";
	struct mm_eval *r = mm_eval_run(&P, a, na, e, ne, err, sizeof(err));

	ck_assert_msg(r != NULL, "mm_eval_run: %s", err);
	return r;
}

static const struct mm_eval_row *class_row(const struct mm_eval *r, int cls)
{
	for (size_t i = 0; i < r->nrows; i++)
		if (r->rows[i].cls == cls && !r->rows[i].by_strength)
			return &r->rows[i];
	ck_abort_msg("no row for class %d", cls);
	return NULL;
}

/* A flood from 150 s to 300 s (steps 15..29), one incident from step 16
 * ending at step 33: detected, delay 1, ended 4 steps after. */
START_TEST(test_match_clean)
{
	struct mm_eval_attack a[] = { atk(MM_CLASS_FLOOD, "10.0.1.10", "", 150, 300, 20) };
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "a1", MM_CLASS_FLOOD, "10.0.1.10", "", 1, 16, 16, 0),
		ev(MM_EVAL_UPDATE, "a1", MM_CLASS_FLOOD, "10.0.1.10", "", 1, 16, 22, 0),
		ev(MM_EVAL_END, "a1", MM_CLASS_FLOOD, "10.0.1.10", "", 1, 16, 29, 33),
	};
	struct mm_eval *r = run(a, 1, e, 3);

	ck_assert_uint_eq(r->ninc, 1);
	ck_assert_int_eq(r->inc[0].attack, 0);
	ck_assert_uint_eq(r->inc[0].events, 3);
	ck_assert_int_eq(r->inc[0].has_end, 1);
	ck_assert_uint_eq(r->verdict[0].first_step, S0 + 15);
	ck_assert_uint_eq(r->verdict[0].last_step, S0 + 29);
	ck_assert_uint_eq(r->verdict[0].incidents, 1);
	ck_assert_int_eq(r->verdict[0].delay, 1);
	ck_assert_int_eq(r->verdict[0].ended, 1);
	ck_assert_int_eq(r->verdict[0].time_to_end, 4);
	const struct mm_eval_row *o = mm_eval_overall(r);
	ck_assert_int_eq(o->cls, -1);
	ck_assert_uint_eq(o->attacks, 1);
	ck_assert_uint_eq(o->detected, 1);
	ck_assert_double_eq(o->recall, 1.0);
	ck_assert_double_eq(o->precision, 1.0);
	ck_assert_uint_eq(o->false_act + o->false_inv, 0);
	ck_assert_double_eq(o->events_per_incident, 3.0);
	ck_assert_double_eq(o->alerts_per_incident, 1.0);
	ck_assert_double_eq(o->delay_median, 1.0);
	ck_assert_double_eq(o->delay_p95, 1.0);
	ck_assert_double_eq(o->time_to_end_median, 4.0);
	ck_assert_double_eq(o->false_act_per_m, 0.0);
	ck_assert_uint_eq(r->nrows, 2); /* flood, all */
	mm_eval_free(r);
}
END_TEST

/* Starts after the attack's last step + the grace (6 steps fast, 30
 * slow) are false alerts and the attack is missed; at the bound it
 * matches. */
START_TEST(test_late_start)
{
	struct mm_eval_attack a[] = {
		atk(MM_CLASS_FLOOD, "10.0.0.1", "", 150, 300, 20),          /* steps 15..29 */
		atk(MM_CLASS_FLOOD, "10.0.0.2", "", 150, 300, 20),
		atk(MM_CLASS_HORIZONTAL_SCAN, "198.51.100.1", "", 150, 300, 1),
	};
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "late", MM_CLASS_FLOOD, "10.0.0.1", "", 0, 36, 36, 0),
		ev(MM_EVAL_START, "edge", MM_CLASS_FLOOD, "10.0.0.2", "", 0, 35, 35, 0),
		ev(MM_EVAL_START, "slow", MM_CLASS_HORIZONTAL_SCAN, "198.51.100.1", "horizontal", 0, 59, 59, 0),
		ev(MM_EVAL_START, "early", MM_CLASS_FLOOD, "10.0.0.2", "", 0, 14, 14, 0),
	};
	struct mm_eval *r = run(a, 3, e, 4);

	ck_assert_uint_eq(r->verdict[0].incidents, 0);
	ck_assert_uint_eq(r->verdict[1].incidents, 1);
	ck_assert_int_eq(r->verdict[1].delay, 20);
	ck_assert_uint_eq(r->verdict[2].incidents, 1); /* 59 <= 29 + 30 */
	const struct mm_eval_row *f = class_row(r, MM_CLASS_FLOOD);
	ck_assert_uint_eq(f->attacks, 2);
	ck_assert_uint_eq(f->detected, 1);
	ck_assert_uint_eq(f->missed, 1);
	ck_assert_uint_eq(f->incidents, 3);
	ck_assert_uint_eq(f->false_inv, 2); /* the late one and the one before the attack */
	ck_assert_double_eq_tol(f->precision, 1.0 / 3, 1e-12);
	ck_assert_double_eq(f->recall, 0.5);
	/* the open starts have no end */
	ck_assert_int_eq(r->verdict[1].ended, 0);
	ck_assert_uint_eq(f->open, 1);
	ck_assert(isnan(f->time_to_end_median));
	mm_eval_free(r);
}
END_TEST

/* Two incidents on one attack: both matched (precision 1), one extra,
 * the delay from the first, time to end from the last end; alerts per
 * incident counts both incidents' events against one attack. */
START_TEST(test_double_incident)
{
	struct mm_eval_attack a[] = { atk(MM_CLASS_SYN_FLOOD, "10.0.3.7", "", 180, 330, 20) }; /* 18..32 */
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "i2", MM_CLASS_SYN_FLOOD, "10.0.3.7", "", 0, 27, 27, 0),
		ev(MM_EVAL_START, "i1", MM_CLASS_SYN_FLOOD, "10.0.3.7", "", 1, 19, 19, 0),
		ev(MM_EVAL_END, "i1", MM_CLASS_SYN_FLOOD, "10.0.3.7", "", 1, 19, 20, 26),
		ev(MM_EVAL_END, "i2", MM_CLASS_SYN_FLOOD, "10.0.3.7", "", 0, 27, 32, 38),
	};
	struct mm_eval *r = run(a, 1, e, 4);

	ck_assert_uint_eq(r->ninc, 2);
	ck_assert_str_eq(r->inc[0].id, "i1"); /* ordered by first step */
	ck_assert_uint_eq(r->verdict[0].incidents, 2);
	ck_assert_int_eq(r->verdict[0].delay, 1);
	ck_assert_int_eq(r->verdict[0].time_to_end, 6);
	const struct mm_eval_row *o = mm_eval_overall(r);
	ck_assert_uint_eq(o->detected, 1);
	ck_assert_uint_eq(o->matched, 2);
	ck_assert_uint_eq(o->extra, 1);
	ck_assert_double_eq(o->precision, 1.0);
	ck_assert_uint_eq(o->false_act + o->false_inv, 0);
	ck_assert_double_eq(o->events_per_incident, 4.0);
	ck_assert_double_eq(o->alerts_per_incident, 2.0); /* two incidents on one attack */
	mm_eval_free(r);
}
END_TEST

/* The right class on the wrong host, and the right host with the wrong
 * class: both false alerts, the attack missed. */
START_TEST(test_wrong_host)
{
	struct mm_eval_attack a[] = { atk(MM_CLASS_AMPLIFICATION, "10.0.5.9", "", 210, 360, 20) };
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "x1", MM_CLASS_AMPLIFICATION, "10.0.5.8", "ntp", 1, 22, 22, 0),
		ev(MM_EVAL_START, "x2", MM_CLASS_FLOOD, "10.0.5.9", "", 0, 22, 22, 0),
	};
	struct mm_eval *r = run(a, 1, e, 2);

	ck_assert_uint_eq(r->verdict[0].incidents, 0);
	ck_assert_int_eq(r->inc[0].attack, -1);
	ck_assert_int_eq(r->inc[1].attack, -1);
	const struct mm_eval_row *o = mm_eval_overall(r);
	ck_assert_double_eq(o->recall, 0.0);
	ck_assert_double_eq(o->precision, 0.0);
	ck_assert_uint_eq(o->false_act, 1);
	ck_assert_uint_eq(o->false_inv, 1);
	ck_assert_double_eq(o->false_act_per_m, 1.0); /* 1 in 1e6 host-windows */
	ck_assert_double_eq(o->alerts_per_incident, 1.0);
	ck_assert(isnan(o->delay_median));
	ck_assert_uint_eq(class_row(r, MM_CLASS_AMPLIFICATION)->false_act, 1);
	ck_assert_uint_eq(class_row(r, MM_CLASS_FLOOD)->attacks, 0);
	ck_assert(isnan(class_row(r, MM_CLASS_FLOOD)->recall));
	mm_eval_free(r);
}
END_TEST

/* Carpet bombing matches on the prefix; an incident on a host inside it
 * or on another prefix does not. */
START_TEST(test_prefix_match)
{
	struct mm_eval_attack a[] = { atk(MM_CLASS_CARPET_BOMBING, "10.0.20.0/24", "", 240, 390, 15) };
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "p1", MM_CLASS_CARPET_BOMBING, "10.0.20.0/24", "", 1, 28, 28, 0),
		ev(MM_EVAL_END, "p1", MM_CLASS_CARPET_BOMBING, "10.0.20.0/24", "", 1, 28, 38, 45),
		ev(MM_EVAL_START, "p2", MM_CLASS_CARPET_BOMBING, "10.0.20.7", "", 0, 28, 28, 0),
		ev(MM_EVAL_START, "p3", MM_CLASS_CARPET_BOMBING, "10.0.21.0/24", "", 0, 28, 28, 0),
	};
	struct mm_eval *r = run(a, 1, e, 4);

	ck_assert_uint_eq(r->verdict[0].incidents, 1);
	ck_assert_int_eq(r->verdict[0].delay, 4);
	ck_assert_int_eq(r->verdict[0].time_to_end, 7);
	ck_assert_uint_eq(class_row(r, MM_CLASS_CARPET_BOMBING)->false_inv, 2);
	mm_eval_free(r);
}
END_TEST

/* Brute force: the source-side incident is the match; the target side
 * (vector target, on the peer) a secondary match, counted apart; the
 * target side on another host is false; with no peer in the truth any
 * host's target-side view in the window is taken. */
START_TEST(test_bruteforce_target_side)
{
	struct mm_eval_attack a[] = {
		atk(MM_CLASS_BRUTEFORCE, "198.51.100.30", "10.0.9.33", 210, 510, 1), /* 21..50 */
		atk(MM_CLASS_BRUTEFORCE, "198.51.100.31", "", 210, 510, 1),
	};
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "s", MM_CLASS_BRUTEFORCE, "198.51.100.30", "source", 0, 27, 27, 0),
		ev(MM_EVAL_START, "t", MM_CLASS_BRUTEFORCE, "10.0.9.33", "target", 0, 42, 42, 0),
		ev(MM_EVAL_UPDATE, "t", MM_CLASS_BRUTEFORCE, "10.0.9.33", "target", 0, 42, 48, 0),
		ev(MM_EVAL_START, "w", MM_CLASS_BRUTEFORCE, "10.0.9.34", "target", 0, 42, 42, 0),
	};
	struct mm_eval *r = run(a, 1, e, 4);

	ck_assert_int_eq(r->inc[0].attack, 0);
	ck_assert_int_eq(r->inc[0].secondary, 0);
	ck_assert_str_eq(r->inc[1].id, "t");
	ck_assert_int_eq(r->inc[1].attack, 0);
	ck_assert_int_eq(r->inc[1].secondary, 1);
	ck_assert_int_eq(r->inc[2].attack, -1);
	ck_assert_uint_eq(r->verdict[0].secondary, 1);
	const struct mm_eval_row *b = class_row(r, MM_CLASS_BRUTEFORCE);
	ck_assert_uint_eq(b->incidents, 3);
	ck_assert_uint_eq(b->matched, 1);
	ck_assert_uint_eq(b->secondary, 1);
	ck_assert_uint_eq(b->false_inv, 1);
	ck_assert_double_eq_tol(b->precision, 2.0 / 3, 1e-12);
	/* the secondary's events are not the attack's: 1 + 1 false over 2 */
	ck_assert_double_eq(b->alerts_per_incident, 1.0);
	mm_eval_free(r);

	/* no peer known: the host's own target-side view is taken, the
	 * source side missing, so the attack is still missed */
	r = run(a + 1, 1, e + 3, 1);
	ck_assert_int_eq(r->inc[0].secondary, 1);
	ck_assert_uint_eq(r->verdict[0].incidents, 0);
	ck_assert_double_eq(mm_eval_overall(r)->recall, 0.0);
	ck_assert_uint_eq(mm_eval_overall(r)->false_inv, 0);
	mm_eval_free(r);
}
END_TEST

/* A start matching nothing, tier from its highest event: an update that
 * raised it to act makes it an act false alert. */
START_TEST(test_unmatched_start)
{
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "u1", MM_CLASS_EXFILTRATION, "10.0.0.9", "", 0, 40, 40, 0),
		ev(MM_EVAL_UPDATE, "u1", MM_CLASS_EXFILTRATION, "10.0.0.9", "", 1, 40, 46, 0),
		ev(MM_EVAL_START, "u2", MM_CLASS_EXFILTRATION, "10.0.0.8", "", 0, 41, 41, 0),
	};
	struct mm_eval *r = run(NULL, 0, e, 3);

	const struct mm_eval_row *x = class_row(r, MM_CLASS_EXFILTRATION);
	ck_assert_uint_eq(x->attacks, 0);
	ck_assert_uint_eq(x->incidents, 2);
	ck_assert_uint_eq(x->false_act, 1);
	ck_assert_uint_eq(x->false_inv, 1);
	ck_assert_double_eq(x->events_per_incident, 1.5);
	ck_assert_double_eq(x->alerts_per_incident, 1.0);
	ck_assert(isnan(x->recall));
	ck_assert_double_eq(x->precision, 0.0);
	mm_eval_free(r);
}
END_TEST

/* Missing end: the attack counts as detected and open, with no time to
 * end; an incident with updates only (adopted, or its start cut off)
 * still matches, its first step taken from the updates. */
START_TEST(test_missing_end)
{
	struct mm_eval_attack a[] = {
		atk(MM_CLASS_OUTBOUND_FLOOD, "10.0.11.40", "203.0.113.50", 270, 420, 20),
		atk(MM_CLASS_FLOOD, "10.0.1.10", "", 150, 300, 20),
	};
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "o", MM_CLASS_OUTBOUND_FLOOD, "10.0.11.40", "", 1, 28, 28, 0),
		ev(MM_EVAL_UPDATE, "o", MM_CLASS_OUTBOUND_FLOOD, "10.0.11.40", "", 1, 28, 34, 0),
		ev(MM_EVAL_UPDATE, "f", MM_CLASS_FLOOD, "10.0.1.10", "", 1, 17, 23, 0),
		ev(MM_EVAL_END, "f", MM_CLASS_FLOOD, "10.0.1.10", "", 1, 17, 29, 35),
	};
	struct mm_eval *r = run(a, 2, e, 4);

	ck_assert_uint_eq(r->verdict[0].incidents, 1);
	ck_assert_int_eq(r->verdict[0].ended, 0);
	const struct mm_eval_row *o = class_row(r, MM_CLASS_OUTBOUND_FLOOD);
	ck_assert_uint_eq(o->open, 1);
	ck_assert(isnan(o->time_to_end_median));
	ck_assert_int_eq(r->inc[0].has_start, 0); /* "f", first step 17 */
	ck_assert_uint_eq(r->inc[0].first_step, S0 + 17);
	ck_assert_uint_eq(r->verdict[1].incidents, 1);
	ck_assert_int_eq(r->verdict[1].delay, 2);
	ck_assert_int_eq(r->verdict[1].time_to_end, 6);
	ck_assert_uint_eq(mm_eval_overall(r)->open, 1);
	mm_eval_free(r);
}
END_TEST

/* Strength rows appear when a class's strengths differ, before the
 * class row; median, p95 (nearest rank) over the detected attacks. */
START_TEST(test_strength_groups)
{
	struct mm_eval_attack a[] = {
		atk(MM_CLASS_FLOOD, "10.0.0.1", "", 150, 300, 5), atk(MM_CLASS_FLOOD, "10.0.0.2", "", 150, 300, 5),
		atk(MM_CLASS_FLOOD, "10.0.0.3", "", 150, 300, 50), atk(MM_CLASS_FLOOD, "10.0.0.4", "", 150, 300, 50),
		atk(MM_CLASS_SYN_FLOOD, "10.0.0.5", "", 150, 300, 7),
	};
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "1", MM_CLASS_FLOOD, "10.0.0.1", "", 0, 24, 24, 0),
		ev(MM_EVAL_START, "3", MM_CLASS_FLOOD, "10.0.0.3", "", 1, 16, 16, 0),
		ev(MM_EVAL_START, "4", MM_CLASS_FLOOD, "10.0.0.4", "", 1, 17, 17, 0),
	};
	struct mm_eval *r = run(a, 5, e, 3);

	ck_assert_uint_eq(r->nrows, 5); /* flood 5, flood 50, flood, syn_flood, all */
	ck_assert_int_eq(r->rows[0].by_strength, 1);
	ck_assert_double_eq(r->rows[0].strength, 5);
	ck_assert_double_eq(r->rows[0].recall, 0.5);
	ck_assert_double_eq(r->rows[0].delay_median, 9);
	ck_assert_double_eq(r->rows[1].strength, 50);
	ck_assert_double_eq(r->rows[1].recall, 1.0);
	ck_assert_double_eq(r->rows[1].delay_median, 1.5);
	ck_assert_double_eq(r->rows[1].delay_p95, 2);
	ck_assert(isnan(r->rows[1].false_act_per_m));
	ck_assert_int_eq(r->rows[2].by_strength, 0);
	ck_assert(isnan(r->rows[2].strength));
	ck_assert_double_eq(r->rows[3].strength, 7);
	ck_assert_double_eq(r->rows[2].recall, 0.75);
	ck_assert_double_eq(r->rows[2].delay_median, 2);
	ck_assert_double_eq(r->rows[2].delay_p95, 9);
	ck_assert_int_eq(r->rows[3].cls, MM_CLASS_SYN_FLOOD);
	ck_assert_double_eq(r->rows[3].recall, 0.0);
	ck_assert_int_eq(r->rows[4].cls, -1);
	ck_assert_double_eq(r->rows[4].recall, 0.6);
	mm_eval_free(r);
}
END_TEST

/* Amplification: the vector named right or not; unknown host-windows
 * leave the rates undefined; bad input is refused. */
START_TEST(test_vector_and_params)
{
	struct mm_eval_attack a[] = { atk(MM_CLASS_AMPLIFICATION, "10.0.5.9", "", 210, 360, 20),
				      atk(MM_CLASS_AMPLIFICATION, "10.0.5.10", "", 210, 360, 20) };
	snprintf(a[0].vector, sizeof(a[0].vector), "ntp");
	snprintf(a[1].vector, sizeof(a[1].vector), "dns");
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "v1", MM_CLASS_AMPLIFICATION, "10.0.5.9", "ntp", 1, 22, 22, 0),
		ev(MM_EVAL_START, "v2", MM_CLASS_AMPLIFICATION, "10.0.5.10", "ssdp", 1, 22, 22, 0),
	};
	struct mm_eval_params p = P;
	char err[128];

	p.host_windows = 0;
	struct mm_eval *r = mm_eval_run(&p, a, 2, e, 2, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	const struct mm_eval_row *o = mm_eval_overall(r);
	ck_assert_uint_eq(o->vector_n, 2);
	ck_assert_uint_eq(o->vector_ok, 1);
	ck_assert(isnan(o->false_act_per_m));
	mm_eval_free(r);

	p.step_s = 0;
	ck_assert_ptr_null(mm_eval_run(&p, a, 2, e, 2, err, sizeof(err)));
	p.step_s = 10;
	a[0].cls = MM_CLASS_COUNT;
	ck_assert_ptr_null(mm_eval_run(&p, a, 2, e, 2, err, sizeof(err)));
	ck_assert_msg(strstr(err, "attack 0") != NULL, "%s", err);
	/* nothing at all: one overall row, everything undefined */
	r = mm_eval_run(&p, NULL, 0, NULL, 0, err, sizeof(err));
	ck_assert_ptr_nonnull(r);
	ck_assert_uint_eq(r->nrows, 1);
	ck_assert(isnan(mm_eval_overall(r)->recall));
	mm_eval_free(r);
}
END_TEST

/* The truth's class column: canonical names, "unmatched" (mamori-import's
 * labelled traffic of no class: skipped and counted by mamori eval), the
 * rest unknown. */
START_TEST(test_truth_class)
{
	ck_assert_int_eq(mm_eval_truth_class("flood"), MM_CLASS_FLOOD);
	ck_assert_int_eq(mm_eval_truth_class("outbound_scan"), MM_CLASS_OUTBOUND_SCAN);
	ck_assert_int_eq(mm_eval_truth_class("unmatched"), MM_EVAL_UNMATCHED);
	ck_assert_int_eq(mm_eval_truth_class("Unmatched"), -1);
	ck_assert_int_eq(mm_eval_truth_class("botnet"), -1);
	ck_assert_int_eq(mm_eval_truth_class(""), -1);
	ck_assert_int_ne(MM_EVAL_UNMATCHED, -1);
}
END_TEST

/* False alerts on benign look-alikes: on the look-alike's host (or inside
 * its prefix) within its steps + the slow window count; elsewhere, later,
 * or matched to an attack they do not. */
START_TEST(test_lookalike_false)
{
	struct mm_eval_attack a[] = { atk(MM_CLASS_FLOOD, "10.0.1.10", "", 150, 300, 20) };
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "m", MM_CLASS_FLOOD, "10.0.1.10", "", 1, 16, 16, 0),	  /* matched */
		ev(MM_EVAL_START, "f1", MM_CLASS_FLOOD, "10.0.2.3", "", 1, 22, 22, 0),	  /* on the crowd */
		ev(MM_EVAL_START, "f2", MM_CLASS_OUTBOUND_SCAN, "10.0.0.7", "", 0, 40, 40, 0), /* in the /24 */
		ev(MM_EVAL_START, "f3", MM_CLASS_FLOOD, "10.0.2.3", "", 0, 90, 90, 0),	  /* too late */
		ev(MM_EVAL_START, "f4", MM_CLASS_FLOOD, "10.0.3.3", "", 0, 22, 22, 0),	  /* elsewhere */
	};
	struct mm_eval_lookalike l[2];
	memset(l, 0, sizeof(l));
	snprintf(l[0].key, sizeof(l[0].key), "10.0.2.3");
	l[0].start_ms = (T0 + 200) * 1000;
	l[0].end_ms = (T0 + 400) * 1000; /* steps 20..39, grace to 69 */
	snprintf(l[1].key, sizeof(l[1].key), "10.0.0.0/24");
	l[1].start_ms = (T0 + 300) * 1000;
	l[1].end_ms = (T0 + 500) * 1000;
	struct mm_eval *r = run(a, 1, e, 5);
	unsigned act = 99;
	struct mm_eval_params p = P;

	ck_assert_uint_eq(mm_eval_lookalike_false(r, &p, l, 2, &act), 2);
	ck_assert_uint_eq(act, 1);
	ck_assert_uint_eq(mm_eval_lookalike_false(r, &p, l, 0, NULL), 0);
	ck_assert_uint_eq(mm_eval_overall(r)->false_act + mm_eval_overall(r)->false_inv, 4);
	mm_eval_free(r);
}
END_TEST

/* --any-class (a detector that does not classify: FastNetMon's bans as
 * "flood"): a flood incident on a SYN flood's victim in its time matches
 * it and is counted under syn_flood, with the slow grace for a scan's
 * source; the same host after the grace, another host, and a prefix's
 * host under carpet bombing stay false.  Without it, all are false. */
START_TEST(test_any_class)
{
	struct mm_eval_attack a[] = {
		atk(MM_CLASS_SYN_FLOOD, "10.0.3.7", "", 150, 300, 30),
		atk(MM_CLASS_HORIZONTAL_SCAN, "198.51.100.10", "10.0.0.0/16", 150, 300, 1),
		atk(MM_CLASS_CARPET_BOMBING, "10.0.6.0/24", "", 150, 300, 15),
	};
	struct mm_eval_event e[] = {
		ev(MM_EVAL_START, "f1", MM_CLASS_FLOOD, "10.0.3.7", "", 1, 15, 15, 0),
		ev(MM_EVAL_END, "f1", MM_CLASS_FLOOD, "10.0.3.7", "", 1, 15, 36, 36),
		ev(MM_EVAL_START, "f2", MM_CLASS_FLOOD, "198.51.100.10", "", 1, 40, 40, 0),  /* 11 steps late: slow grace */
		ev(MM_EVAL_START, "f3", MM_CLASS_FLOOD, "10.0.3.7", "", 1, 36, 36, 0),       /* after 29 + 6 */
		ev(MM_EVAL_START, "f4", MM_CLASS_OUTBOUND_FLOOD, "10.0.4.1", "", 1, 20, 20, 0),
		ev(MM_EVAL_START, "f5", MM_CLASS_FLOOD, "10.0.6.9", "", 1, 20, 20, 0),      /* inside the /24 */
	};
	struct mm_eval_params p = P;
	char err[128] = "";
	struct mm_eval *r = mm_eval_run(&p, a, 3, e, 6, err, sizeof(err));

	ck_assert_msg(r != NULL, "%s", err);
	const struct mm_eval_row *o = mm_eval_overall(r);
	ck_assert_uint_eq(o->detected, 0);
	ck_assert_uint_eq(o->false_act, 5);
	mm_eval_free(r);

	p.any_class = 1;
	r = mm_eval_run(&p, a, 3, e, 6, err, sizeof(err));
	ck_assert_msg(r != NULL, "%s", err);
	ck_assert_uint_eq(r->verdict[0].incidents, 1);
	ck_assert_int_eq(r->verdict[0].delay, 0);
	ck_assert_int_eq(r->verdict[0].ended, 1);
	ck_assert_int_eq(r->verdict[0].time_to_end, 7);
	ck_assert_uint_eq(r->verdict[1].incidents, 1);
	ck_assert_int_eq(r->verdict[1].delay, 25);
	ck_assert_uint_eq(r->verdict[2].incidents, 0);
	const struct mm_eval_row *syn = class_row(r, MM_CLASS_SYN_FLOOD);
	ck_assert_uint_eq(syn->attacks, 1);
	ck_assert_uint_eq(syn->detected, 1);
	ck_assert_uint_eq(syn->incidents, 1); /* f1, relabelled */
	ck_assert_double_eq(syn->precision, 1.0);
	const struct mm_eval_row *fl = class_row(r, MM_CLASS_FLOOD);
	ck_assert_uint_eq(fl->attacks, 0);
	ck_assert_uint_eq(fl->incidents, 2); /* f3, f5 */
	ck_assert_uint_eq(fl->false_act, 2);
	ck_assert_uint_eq(class_row(r, MM_CLASS_OUTBOUND_FLOOD)->false_act, 1);
	o = mm_eval_overall(r);
	ck_assert_uint_eq(o->attacks, 3);
	ck_assert_uint_eq(o->detected, 2);
	ck_assert_uint_eq(o->false_act, 3);
	mm_eval_free(r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("eval");
	TCase *tc = tcase_create("match");

	tcase_add_test(tc, test_match_clean);
	tcase_add_test(tc, test_late_start);
	tcase_add_test(tc, test_double_incident);
	tcase_add_test(tc, test_wrong_host);
	tcase_add_test(tc, test_prefix_match);
	tcase_add_test(tc, test_bruteforce_target_side);
	tcase_add_test(tc, test_unmatched_start);
	tcase_add_test(tc, test_missing_end);
	tcase_add_test(tc, test_strength_groups);
	tcase_add_test(tc, test_vector_and_params);
	tcase_add_test(tc, test_truth_class);
	tcase_add_test(tc, test_lookalike_false);
	tcase_add_test(tc, test_any_class);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
