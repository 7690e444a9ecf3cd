/*
 * test_incident.c - the incident lifecycle (detector/incident.c): start,
 * update, end; hysteresis without flapping; the update interval; the
 * stable id; adoption of an outside start without a duplicate; the
 * bounded table (refusals counted); the hash table under churn; evidence.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/incident.h"

#define S0 170000000u

/* Every event, in order. */
struct log {
	unsigned n;
	struct {
		enum mm_incident_event ev;
		struct mm_incident inc;
	} e[256];
};

static void on_event(void *arg, enum mm_incident_event ev, const struct mm_incident *inc)
{
	struct log *l = arg;

	ck_assert_uint_lt(l->n, 256);
	l->e[l->n].ev = ev;
	l->e[l->n].inc = *inc;
	l->n++;
}

static struct mm_incidents *table(uint32_t update, uint32_t calm, uint32_t max, struct log *l)
{
	struct mm_incident_params p = { update, calm, max };
	struct mm_incidents *t;

	memset(l, 0, sizeof(*l));
	t = mm_incidents_new(&p, on_event, l);
	ck_assert_ptr_nonnull(t);
	return t;
}

static void host_key(struct mm_incident_key *k, uint8_t last, enum mm_class c)
{
	uint8_t a[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 0 };

	a[15] = last;
	mm_incident_key_host(k, a, c);
}

static struct mm_incident_obs obs(int confirmed, int sustain, enum mm_tier tier, double rate)
{
	struct mm_incident_obs o;

	memset(&o, 0, sizeof(o));
	o.confirmed = (uint8_t)confirmed;
	o.sustain = (uint8_t)sustain;
	o.tier = (uint8_t)tier;
	o.severity = confirmed || sustain ? MM_SEV_MEDIUM : MM_SEV_NONE;
	o.feature = MM_F_UDP_PKTS_IN;
	o.score = (float)(rate / 100);
	o.rate = rate;
	o.baseline_rate = 50;
	return o;
}

/* One step: observe (hit = confirmed and sustained), then end the step. */
static void step(struct mm_incidents *t, const struct mm_incident_key *k, uint64_t s, int hit, double rate)
{
	struct mm_incident_obs o = obs(hit, hit, MM_TIER_INVESTIGATE, rate);

	mm_incidents_observe(t, k, s, &o);
	mm_incidents_end_step(t, s);
}

START_TEST(test_lifecycle)
{
	struct log l;
	struct mm_incidents *t = table(3, 2, 10, &l);
	struct mm_incident_key k;
	struct mm_incident_obs o = obs(0, 1, MM_TIER_INVESTIGATE, 100);
	struct mm_incident_stats st;
	char id[MM_INCIDENT_ID_LEN + 1];

	host_key(&k, 7, MM_CLASS_FLOOD);
	/* Sustained but not confirmed: nothing starts. */
	ck_assert_int_eq(mm_incidents_observe(t, &k, S0, &o), 0);
	ck_assert_uint_eq(mm_incidents_end_step(t, S0), 0);
	ck_assert_uint_eq(l.n, 0);
	/* Confirmed: start, at once. */
	o = obs(1, 1, MM_TIER_INVESTIGATE, 200);
	ck_assert_int_eq(mm_incidents_observe(t, &k, S0 + 1, &o), 1);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.e[0].ev, MM_INC_START);
	ck_assert_uint_eq(l.e[0].inc.start_step, S0 + 1);
	ck_assert_double_eq(l.e[0].inc.current_rate, 200);
	ck_assert_double_eq(l.e[0].inc.peak_rate, 200);
	ck_assert_int_eq(l.e[0].inc.tier, MM_TIER_INVESTIGATE);
	mm_incident_id(&k, S0 + 1, id);
	ck_assert_str_eq(l.e[0].inc.id, id);
	mm_incidents_end_step(t, S0 + 1);
	/* It goes on: rates change, an update at the interval (3). */
	step(t, &k, S0 + 2, 1, 500);
	step(t, &k, S0 + 3, 1, 300);
	ck_assert_uint_eq(l.n, 1);
	step(t, &k, S0 + 4, 1, 250);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.e[1].ev, MM_INC_UPDATE);
	ck_assert_double_eq(l.e[1].inc.current_rate, 250);
	ck_assert_double_eq(l.e[1].inc.peak_rate, 500);
	ck_assert_double_eq(l.e[1].inc.baseline_rate, 50);
	ck_assert_uint_eq(l.e[1].inc.updates, 1);
	ck_assert_str_eq(l.e[1].inc.id, id);
	/* Calm for 2 steps: it ends at the second. */
	step(t, &k, S0 + 5, 0, 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_ptr_nonnull(mm_incidents_find(t, &k));
	step(t, &k, S0 + 6, 0, 0);
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.e[2].ev, MM_INC_END);
	ck_assert_uint_eq(l.e[2].inc.end_step, S0 + 6);
	ck_assert_uint_eq(l.e[2].inc.last_seen_step, S0 + 4);
	ck_assert_str_eq(l.e[2].inc.id, id);
	ck_assert_ptr_null(mm_incidents_find(t, &k));
	st = mm_incidents_stats(t);
	ck_assert_uint_eq(st.started, 1);
	ck_assert_uint_eq(st.updates, 1);
	ck_assert_uint_eq(st.ended, 1);
	ck_assert_uint_eq(st.open, 0);
	/* A new hit later: a new incident, a new id. */
	step(t, &k, S0 + 20, 1, 100);
	ck_assert_uint_eq(l.n, 4);
	ck_assert_int_eq(l.e[3].ev, MM_INC_START);
	ck_assert_str_ne(l.e[3].inc.id, id);
	ck_assert_str_eq(mm_incident_event_name(MM_INC_END), "end");
	mm_incidents_free(t);
}
END_TEST

/* An attack hovering at the threshold (sustained every other step, or
 * two on, two off) stays one incident with calm_steps 3: no flapping; it
 * ends only after three calm steps in a row. */
START_TEST(test_hysteresis)
{
	static const char *const patterns[] = { "1010101010101", "1100110011001100", "1001001001001" };
	struct log l;
	struct mm_incident_key k;

	host_key(&k, 9, MM_CLASS_SYN_FLOOD);
	for (size_t p = 0; p < 3; p++) {
		struct mm_incidents *t = table(100, 3, 10, &l);
		size_t n = strlen(patterns[p]);

		for (size_t i = 0; i < n; i++)
			step(t, &k, S0 + i, patterns[p][i] == '1', 100);
		ck_assert_msg(l.n == 1 && l.e[0].ev == MM_INC_START, "pattern %s: %u events", patterns[p], l.n);
		for (size_t i = n; i < n + 3; i++)
			step(t, &k, S0 + i, 0, 0);
		ck_assert_uint_eq(l.n, 2);
		ck_assert_int_eq(l.e[1].ev, MM_INC_END);
		mm_incidents_free(t);
	}
	/* Sustain alone (half way to a hit) keeps it, without restarting. */
	{
		struct mm_incidents *t = table(100, 2, 10, &l);
		struct mm_incident_obs o = obs(0, 1, MM_TIER_NONE, 80);

		step(t, &k, S0, 1, 100);
		for (unsigned i = 1; i < 10; i++) {
			mm_incidents_observe(t, &k, S0 + i, &o);
			mm_incidents_end_step(t, S0 + i);
		}
		ck_assert_uint_eq(l.n, 1);
		ck_assert_ptr_nonnull(mm_incidents_find(t, &k));
		ck_assert_uint_eq(mm_incidents_find(t, &k)->last_seen_step, S0 + 9);
		mm_incidents_free(t);
	}
}
END_TEST

/* Updates at most every update_steps while seen, none while calm; a rise
 * of tier is said at once. */
START_TEST(test_update_interval)
{
	struct log l;
	struct mm_incidents *t = table(5, 4, 10, &l);
	struct mm_incident_key k;
	struct mm_incident_obs o;

	host_key(&k, 1, MM_CLASS_AMPLIFICATION);
	for (unsigned i = 0; i < 21; i++)
		step(t, &k, S0 + i, 1, 100 + i);
	/* start at 0, updates at 5, 10, 15, 20 */
	ck_assert_uint_eq(l.n, 5);
	for (unsigned j = 1; j < 5; j++) {
		ck_assert_int_eq(l.e[j].ev, MM_INC_UPDATE);
		ck_assert_uint_eq(l.e[j].inc.last_emit_step, S0 + 5 * j);
		ck_assert_double_eq(l.e[j].inc.current_rate, 100 + 5 * j);
	}
	/* Seen once more then calm: the update due at 25 still carries the
	 * step it was seen; nothing after it until the end. */
	step(t, &k, S0 + 21, 1, 50);
	step(t, &k, S0 + 22, 0, 0);
	step(t, &k, S0 + 23, 0, 0);
	step(t, &k, S0 + 24, 0, 0);
	ck_assert_uint_eq(l.n, 5);
	step(t, &k, S0 + 25, 0, 0); /* calm 4: ends */
	ck_assert_uint_eq(l.n, 6);
	ck_assert_int_eq(l.e[5].ev, MM_INC_END);
	ck_assert_double_eq(l.e[5].inc.current_rate, 50);
	ck_assert_double_eq(l.e[5].inc.peak_rate, 120);
	mm_incidents_free(t);

	/* Tier escalation: an update in the same step. */
	t = table(100, 4, 10, &l);
	step(t, &k, S0, 1, 100);
	o = obs(1, 1, MM_TIER_ACT, 900);
	mm_incidents_observe(t, &k, S0 + 1, &o);
	mm_incidents_end_step(t, S0 + 1);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.e[1].ev, MM_INC_UPDATE);
	ck_assert_int_eq(l.e[1].inc.tier, MM_TIER_ACT);
	/* The tier never falls back. */
	step(t, &k, S0 + 2, 1, 100);
	ck_assert_int_eq(mm_incidents_find(t, &k)->tier, MM_TIER_ACT);
	mm_incidents_free(t);
}
END_TEST

/* The id: 16 lowercase hex digits of the key and start step; the same
 * inputs give the same id, any change another. */
START_TEST(test_stable_id)
{
	struct mm_incident_key k, k2;
	char a[MM_INCIDENT_ID_LEN + 1], b[MM_INCIDENT_ID_LEN + 1];

	host_key(&k, 5, MM_CLASS_FLOOD);
	mm_incident_id(&k, S0, a);
	ck_assert_uint_eq(strlen(a), MM_INCIDENT_ID_LEN);
	ck_assert_uint_eq(strspn(a, "0123456789abcdef"), MM_INCIDENT_ID_LEN);
	mm_incident_id(&k, S0, b);
	ck_assert_str_eq(a, b);
	mm_incident_id(&k, S0 + 1, b);
	ck_assert_str_ne(a, b);
	host_key(&k2, 5, MM_CLASS_SYN_FLOOD);
	mm_incident_id(&k2, S0, b);
	ck_assert_str_ne(a, b);
	host_key(&k2, 6, MM_CLASS_FLOOD);
	mm_incident_id(&k2, S0, b);
	ck_assert_str_ne(a, b);
	k2 = k;
	k2.plen = 120; /* the /24 as a prefix, not the host */
	mm_incident_id(&k2, S0, b);
	ck_assert_str_ne(a, b);
	/* Pinned: the id is part of the alert format, and whoever raises a
	 * start elsewhere computes it the same way (XXH64, seed "mmin", over
	 * the 16 address bytes, plen, class and the start step, LE). */
	{
		struct mm_incident_key z;

		memset(&z, 0, sizeof(z));
		mm_incident_id(&z, 0, b);
		ck_assert_str_eq(b, "77dfcc901db870cb");
		mm_incident_id(&k, S0, b);
		ck_assert_str_eq(b, "f0cadaf908101852");
	}
}
END_TEST

/* A start raised elsewhere is adopted: no second start, the same incident
 * carries on; adopting what is already open merges. */
START_TEST(test_adoption)
{
	struct log l;
	struct mm_incidents *t = table(3, 2, 10, &l);
	struct mm_incident_key k;
	const struct mm_incident *inc;
	struct mm_incident_stats st;
	char raised[MM_INCIDENT_ID_LEN + 1], other[MM_INCIDENT_ID_LEN + 1];

	host_key(&k, 3, MM_CLASS_SYN_FLOOD);
	/* The collector's fast path raised it at S0 with the shared formula. */
	mm_incident_id(&k, S0, raised);
	ck_assert_int_eq(mm_incidents_adopt(t, &k, S0 + 1, S0, MM_TIER_ACT, MM_SEV_HIGH, NULL), 1);
	ck_assert_uint_eq(l.n, 0); /* the raiser announced it */
	inc = mm_incidents_find(t, &k);
	ck_assert_ptr_nonnull(inc);
	ck_assert_str_eq(inc->id, raised);
	ck_assert(inc->adopted);
	ck_assert_int_eq(inc->tier, MM_TIER_ACT);
	/* The detector confirms it too: no start, the same incident. */
	step(t, &k, S0 + 2, 1, 100);
	step(t, &k, S0 + 3, 1, 100);
	step(t, &k, S0 + 4, 1, 100);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.e[0].ev, MM_INC_UPDATE);
	ck_assert_str_eq(l.e[0].inc.id, raised);
	ck_assert_uint_eq(l.e[0].inc.start_step, S0);
	/* Raised again (the fast path does not know it is open): merged. */
	ck_assert_int_eq(mm_incidents_adopt(t, &k, S0 + 5, S0 + 5, MM_TIER_ACT, MM_SEV_HIGH, NULL), 0);
	mm_incident_id(&k, S0 + 5, other);
	ck_assert_int_eq(mm_incidents_adopt(t, &k, S0 + 5, S0 + 5, MM_TIER_ACT, MM_SEV_HIGH, other), 0);
	inc = mm_incidents_find(t, &k);
	ck_assert_str_eq(inc->id, raised);
	ck_assert_str_eq(inc->merged_id, other);
	st = mm_incidents_stats(t);
	ck_assert_uint_eq(st.adopted, 1);
	ck_assert_uint_eq(st.merged, 2);
	ck_assert_uint_eq(st.started, 0);
	ck_assert_uint_eq(st.open, 1);
	/* Calm since S0 + 4: the end at S0 + 6 carries the merged id. */
	mm_incidents_end_step(t, S0 + 5);
	ck_assert_uint_eq(l.n, 1);
	mm_incidents_end_step(t, S0 + 6);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.e[1].ev, MM_INC_END);
	ck_assert_str_eq(l.e[1].inc.merged_id, other);
	mm_incidents_free(t);

	/* The detector first, the fast path second: still one incident. */
	t = table(3, 2, 10, &l);
	step(t, &k, S0, 1, 100);
	ck_assert_int_eq(mm_incidents_adopt(t, &k, S0 + 1, S0 + 1, MM_TIER_INVESTIGATE, MM_SEV_LOW, "00000000deadbeef"),
			 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(mm_incidents_find(t, &k)->merged_id, "00000000deadbeef");
	/* An adopted incident nobody confirms ends after the calm steps. */
	host_key(&k, 4, MM_CLASS_FLOOD);
	ck_assert_int_eq(mm_incidents_adopt(t, &k, S0 + 1, S0 + 1, MM_TIER_ACT, MM_SEV_HIGH, "0123456789abcdef"), 1);
	mm_incidents_end_step(t, S0 + 2);
	ck_assert_ptr_nonnull(mm_incidents_find(t, &k));
	mm_incidents_end_step(t, S0 + 3);
	ck_assert_ptr_null(mm_incidents_find(t, &k));
	ck_assert_int_eq(l.e[l.n - 1].ev, MM_INC_END);
	ck_assert_str_eq(l.e[l.n - 1].inc.id, "0123456789abcdef");
	mm_incidents_free(t);
}
END_TEST

/* A start the fast path raised, announced by the table: one start event
 * at once (adopted, with the fast path's origin), the step scoring's
 * confirmation later is no second start, repeats keep it open, and it
 * ends by the calm steps like any other. */
START_TEST(test_raise)
{
	struct log l;
	struct mm_incidents *t = table(3, 2, 10, &l);
	struct mm_incident_key k;
	struct mm_incident_obs o = obs(1, 1, MM_TIER_ACT, 250000);
	struct mm_incident_fast fast;
	struct mm_incident_stats st;
	char want[MM_INCIDENT_ID_LEN + 1];

	memset(&fast, 0, sizeof(fast));
	fast.on = 1;
	fast.ceiling = 0;
	fast.rate = 250000;
	fast.limit = 100000;
	fast.time_ms = (uint64_t)S0 * 10000 + 250;
	strcpy(fast.collector, "edge-1");
	host_key(&k, 7, MM_CLASS_FLOOD);
	o.severity = MM_SEV_CRITICAL;
	ck_assert_int_eq(mm_incidents_raise(t, &k, S0, S0, &o, &fast), 1);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_int_eq(l.e[0].ev, MM_INC_START);
	ck_assert(l.e[0].inc.adopted);
	ck_assert(l.e[0].inc.fast.on);
	ck_assert_str_eq(l.e[0].inc.fast.collector, "edge-1");
	ck_assert_int_eq(l.e[0].inc.tier, MM_TIER_ACT);
	ck_assert_int_eq(l.e[0].inc.peak_severity, MM_SEV_CRITICAL);
	ck_assert_double_eq(l.e[0].inc.peak_rate, 250000);
	mm_incident_id(&k, S0, want);
	ck_assert_str_eq(l.e[0].inc.id, want);
	/* another collector (or a repeat) says it again: merged, no event */
	strcpy(fast.collector, "edge-2");
	ck_assert_int_eq(mm_incidents_raise(t, &k, S0 + 1, S0 + 1, &o, &fast), 0);
	mm_incidents_end_step(t, S0 + 1);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(mm_incidents_find(t, &k)->fast.collector, "edge-1");
	/* the step scoring confirms it: an update of the same incident */
	step(t, &k, S0 + 2, 1, 100);
	step(t, &k, S0 + 3, 1, 100);
	step(t, &k, S0 + 4, 0, 0);
	ck_assert_uint_eq(l.n, 2);
	ck_assert_int_eq(l.e[1].ev, MM_INC_UPDATE);
	ck_assert_str_eq(l.e[1].inc.id, want);
	ck_assert_double_eq(l.e[1].inc.peak_rate, 250000);
	/* a repeat keeps it open past the calm steps of the scoring */
	ck_assert_int_eq(mm_incidents_raise(t, &k, S0 + 5, S0, &o, &fast), 0);
	mm_incidents_end_step(t, S0 + 5);
	mm_incidents_end_step(t, S0 + 6);
	ck_assert_ptr_nonnull(mm_incidents_find(t, &k));
	mm_incidents_end_step(t, S0 + 7);
	ck_assert_ptr_null(mm_incidents_find(t, &k));
	ck_assert_uint_eq(l.n, 3);
	ck_assert_int_eq(l.e[2].ev, MM_INC_END);
	ck_assert_uint_eq(l.e[2].inc.start_step, S0);
	st = mm_incidents_stats(t);
	ck_assert_uint_eq(st.adopted, 1);
	ck_assert_uint_eq(st.merged, 2);
	ck_assert_uint_eq(st.started, 0);
	/* the scoring first, then the fast path: merged, fast kept for the
	 * next event, no start */
	host_key(&k, 8, MM_CLASS_SYN_FLOOD);
	step(t, &k, S0 + 10, 1, 100);
	ck_assert_uint_eq(l.n, 4);
	ck_assert(!l.e[3].inc.fast.on);
	ck_assert_int_eq(mm_incidents_raise(t, &k, S0 + 10, S0 + 10, &o, &fast), 0);
	ck_assert_uint_eq(l.n, 4);
	ck_assert(mm_incidents_find(t, &k)->fast.on);
	mm_incidents_free(t);
	/* a full table refuses, counted */
	t = table(3, 2, 1, &l);
	host_key(&k, 1, MM_CLASS_FLOOD);
	ck_assert_int_eq(mm_incidents_raise(t, &k, S0, S0, &o, NULL), 1);
	host_key(&k, 2, MM_CLASS_FLOOD);
	ck_assert_int_eq(mm_incidents_raise(t, &k, S0, S0, &o, NULL), -1);
	ck_assert_uint_eq(mm_incidents_stats(t).refused, 1);
	mm_incidents_free(t);
}
END_TEST

/* A full table refuses starts and adoptions and counts them; room comes
 * back when one ends. */
START_TEST(test_table_full)
{
	struct log l;
	struct mm_incidents *t = table(100, 2, 2, &l);
	struct mm_incident_key a, b, c;
	struct mm_incident_obs o = obs(1, 1, MM_TIER_ACT, 100);

	host_key(&a, 1, MM_CLASS_FLOOD);
	host_key(&b, 2, MM_CLASS_FLOOD);
	host_key(&c, 3, MM_CLASS_FLOOD);
	ck_assert_int_eq(mm_incidents_observe(t, &a, S0, &o), 1);
	ck_assert_int_eq(mm_incidents_observe(t, &b, S0, &o), 1);
	ck_assert_int_eq(mm_incidents_observe(t, &c, S0, &o), -1);
	ck_assert_int_eq(mm_incidents_adopt(t, &c, S0, S0, MM_TIER_ACT, MM_SEV_HIGH, NULL), -1);
	ck_assert_uint_eq(mm_incidents_stats(t).refused, 2);
	ck_assert_uint_eq(mm_incidents_stats(t).open, 2);
	ck_assert_uint_eq(l.n, 2);
	/* Open ones are still fed while full. */
	ck_assert_int_eq(mm_incidents_observe(t, &a, S0 + 1, &o), 0);
	mm_incidents_end_step(t, S0 + 1);
	/* b goes calm and ends; c gets in. */
	mm_incidents_observe(t, &a, S0 + 2, &o);
	mm_incidents_end_step(t, S0 + 2);
	ck_assert_uint_eq(mm_incidents_stats(t).open, 1);
	ck_assert_int_eq(mm_incidents_observe(t, &c, S0 + 3, &o), 1);
	ck_assert_uint_eq(mm_incidents_stats(t).refused, 2);
	/* End of a replay. */
	ck_assert_uint_eq(mm_incidents_end_all(t, S0 + 4), 2);
	ck_assert_uint_eq(mm_incidents_stats(t).open, 0);
	ck_assert_int_eq(l.e[l.n - 1].ev, MM_INC_END);
	mm_incidents_free(t);

	/* Bad parameters. */
	{
		struct mm_incident_params p = { 0, 1, 1 };

		ck_assert_ptr_null(mm_incidents_new(&p, on_event, NULL));
		p.update_steps = 1;
		p.max_open = 0;
		ck_assert_ptr_null(mm_incidents_new(&p, on_event, NULL));
		p.max_open = 1;
		ck_assert_ptr_null(mm_incidents_new(&p, NULL, NULL));
		ck_assert_ptr_null(mm_incidents_new(NULL, on_event, NULL));
	}
	mm_incidents_free(NULL);
}
END_TEST

static void count_event(void *arg, enum mm_incident_event ev, const struct mm_incident *inc)
{
	unsigned *n = arg;

	(void)inc;
	n[ev]++;
}

/* Thousands of incidents opening and closing in a small table: every open
 * one is found, every closed one is not (backward-shift deletion keeps
 * every probe run whole). */
START_TEST(test_table_churn)
{
	enum { KEYS = 3000, MAX = 512 };
	struct mm_incident_params p = { 1000, 3, MAX };
	unsigned counts[3] = { 0 };
	struct mm_incidents *t = mm_incidents_new(&p, count_event, counts);
	static uint64_t last[KEYS];
	uint64_t x = 12345;

	ck_assert_ptr_nonnull(t);
	memset(last, 0, sizeof(last));
	for (uint64_t s = 1; s <= 400; s++) {
		for (int i = 0; i < 40; i++) {
			struct mm_incident_key k;
			struct mm_incident_obs o = obs(1, 1, MM_TIER_INVESTIGATE, 1);
			unsigned id;

			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			id = (unsigned)(x % KEYS);
			host_key(&k, (uint8_t)id, (enum mm_class)(id / 256 % MM_CLASS_COUNT));
			k.addr[14] = (uint8_t)(id >> 8);
			if (mm_incidents_observe(t, &k, s, &o) >= 0)
				last[id] = s;
		}
		mm_incidents_end_step(t, s);
		for (unsigned id = 0; id < KEYS; id++) {
			struct mm_incident_key k;
			int open;

			host_key(&k, (uint8_t)id, (enum mm_class)(id / 256 % MM_CLASS_COUNT));
			k.addr[14] = (uint8_t)(id >> 8);
			open = mm_incidents_find(t, &k) != NULL;
			ck_assert_msg(open == (last[id] != 0 && s - last[id] < 3), "step %llu key %u open %d last %llu",
				      (unsigned long long)s, id, open, (unsigned long long)last[id]);
		}
	}
	ck_assert_uint_eq(counts[MM_INC_START] - counts[MM_INC_END], mm_incidents_stats(t).open);
	ck_assert_uint_gt(counts[MM_INC_END], 1000);
	mm_incidents_free(t);
}
END_TEST

/* Evidence from a score result: the class's features, its ports and
 * peers from the window's top-K, collectors, completeness. */
START_TEST(test_evidence)
{
	struct mm_score_result r;
	struct mm_hoststep h;
	struct mm_evidence ev;
	uint8_t peer[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 203, 0, 113, 9 };
	static const char ids[6][MM_NAME_MAX] = { "c1", "c2", "c3", "c4", "c5", "c6" };

	memset(&r, 0, sizeof(r));
	r.source = MM_EXP_OWN;
	r.cls[MM_CLASS_AMPLIFICATION].vector = 1;
	r.feat[MM_F_AMP_PKTS_IN].observed_rate = 5000;
	r.feat[MM_F_AMP_PKTS_IN].expected_rate = 10;
	r.feat[MM_F_AMP_PKTS_IN].score = 42;
	memset(&h, 0, sizeof(h));
	mm_topk_port_add(h.ports[MM_T_SPORTS_IN], 123, 9000);
	mm_topk_port_add(h.ports[MM_T_DPORTS_IN], 4444, 9000);
	mm_topk_addr_add(h.peers_in, peer, 700);
	for (uint32_t i = 0; i < 30; i++)
		mm_hll_add(&h.hll[MM_S_PEERS_IN], &i, sizeof(i));
	mm_evidence_fill(&ev, MM_CLASS_AMPLIFICATION, &r, &h);
	ck_assert_uint_eq(ev.nfeat, 3);
	ck_assert_int_eq(ev.feat[0].feature, MM_F_AMP_PKTS_IN);
	ck_assert_float_eq(ev.feat[0].current, 5000);
	ck_assert_float_eq(ev.feat[0].baseline, 10);
	ck_assert_float_eq(ev.feat[0].score, 42);
	ck_assert_int_eq(ev.vector, 1);
	ck_assert_int_eq(ev.ports_kind, MM_T_SPORTS_IN);
	ck_assert_uint_eq(ev.ports[0].port, 123);
	ck_assert(!ev.peers_out);
	ck_assert_mem_eq(ev.peers[0].addr, peer, 16);
	ck_assert_double_eq_tol(ev.distinct_peers, 30, 6);
	ck_assert_double_eq(ev.completeness, -1);
	ck_assert_int_eq(ev.source, MM_EXP_OWN);
	mm_evidence_set_collectors(&ev, ids, 6, 2);
	ck_assert_uint_eq(ev.ncollectors, MM_EVIDENCE_COLLECTORS);
	ck_assert_uint_eq(ev.more_collectors, 4);
	ck_assert_str_eq(ev.collectors[3], "c4");

	/* The target side of brute force quotes auth flows in, ports in. */
	r.cls[MM_CLASS_BRUTEFORCE].vector = 1;
	mm_evidence_fill(&ev, MM_CLASS_BRUTEFORCE, &r, &h);
	ck_assert_int_eq(ev.feat[0].feature, MM_F_AUTH_FLOWS_IN);
	ck_assert_int_eq(ev.ports_kind, MM_T_DPORTS_IN);
	ck_assert_uint_eq(ev.ports[0].port, 4444);
	/* No window: no ports, no peers. */
	mm_evidence_fill(&ev, MM_CLASS_EXFILTRATION, &r, NULL);
	ck_assert_int_eq(ev.feat[0].feature, MM_F_BYTES_OUT);
	ck_assert_uint_eq(ev.ports[0].count, 0);
	ck_assert(ev.peers_out);

	/* Carried by the incident. */
	{
		struct log l;
		struct mm_incidents *t = table(3, 2, 10, &l);
		struct mm_incident_key k;
		struct mm_incident_obs o;

		mm_evidence_fill(&ev, MM_CLASS_AMPLIFICATION, &r, &h);
		ev.completeness = 0.97;
		mm_incident_obs_from(&o, &r.cls[MM_CLASS_AMPLIFICATION], &ev);
		o.confirmed = o.sustain = 1;
		host_key(&k, 8, MM_CLASS_AMPLIFICATION);
		mm_incidents_observe(t, &k, S0, &o);
		ck_assert_uint_eq(l.n, 1);
		ck_assert_double_eq(l.e[0].inc.ev.completeness, 0.97);
		ck_assert_uint_eq(l.e[0].inc.ev.ports[0].port, 123);
		mm_incidents_free(t);
	}
}
END_TEST

static Suite *incident_suite(void)
{
	Suite *s = suite_create("incident");
	TCase *tc = tcase_create("lifecycle");

	tcase_add_test(tc, test_lifecycle);
	tcase_add_test(tc, test_hysteresis);
	tcase_add_test(tc, test_update_interval);
	tcase_add_test(tc, test_stable_id);
	tcase_add_test(tc, test_adoption);
	tcase_add_test(tc, test_raise);
	suite_add_tcase(s, tc);

	tc = tcase_create("table");
	tcase_add_test(tc, test_table_full);
	tcase_add_test(tc, test_table_churn);
	tcase_add_test(tc, test_evidence);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(incident_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
