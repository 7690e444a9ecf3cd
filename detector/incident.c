/*
 * incident.c - the incident lifecycle (incident.h).
 *
 * Open incidents live in a dense array (so a step's pass over them touches
 * only what is open) indexed by an open-addressing hash of their key
 * (linear probing, deletion by backward shift: no tombstones to pile up in
 * a table that opens and closes incidents for months).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/incident.h"

#define ID_SEED 0x6d6d696eu /* "mmin" */
#define EMPTY UINT32_MAX

struct mm_incidents {
	struct mm_incident_params p;
	mm_incident_fn fn;
	void *arg;
	struct mm_incident *inc; /* [0, n) open */
	uint32_t n;
	uint32_t *slot;          /* hash -> index into inc, EMPTY */
	uint32_t mask;           /* slots - 1 */
	struct mm_incident_stats st;
};

static const char *const event_names[] = { "start", "update", "end" };

const char *mm_incident_event_name(enum mm_incident_event e)
{
	return (unsigned)e < 3 ? event_names[e] : NULL;
}

void mm_incident_params_from_config(struct mm_incident_params *p, const struct mm_config *c)
{
	p->update_steps = c->incident_update_steps;
	p->calm_steps = c->incident_calm_steps;
	p->max_open = c->max_incidents;
}

/* ---- keys and ids ----------------------------------------------------- */

static void key_bytes(const struct mm_incident_key *k, uint8_t out[18])
{
	memcpy(out, k->addr, 16);
	out[16] = k->plen;
	out[17] = k->cls;
}

static uint64_t key_hash(const struct mm_incident_key *k)
{
	uint8_t b[18];

	key_bytes(k, b);
	return mm_xxh64(b, sizeof(b), 0);
}

static int key_eq(const struct mm_incident_key *a, const struct mm_incident_key *b)
{
	return a->plen == b->plen && a->cls == b->cls && memcmp(a->addr, b->addr, 16) == 0;
}

void mm_incident_id(const struct mm_incident_key *key, uint64_t start_step, char out[MM_INCIDENT_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	uint8_t b[26];
	uint64_t h;

	key_bytes(key, b);
	for (int i = 0; i < 8; i++)
		b[18 + i] = (uint8_t)(start_step >> (8 * i));
	h = mm_xxh64(b, sizeof(b), ID_SEED);
	for (int i = 0; i < MM_INCIDENT_ID_LEN; i++)
		out[i] = hex[(h >> (60 - 4 * i)) & 15];
	out[MM_INCIDENT_ID_LEN] = '\0';
}

void mm_incident_key_host(struct mm_incident_key *key, const uint8_t addr[16], enum mm_class k)
{
	memset(key, 0, sizeof(*key));
	memcpy(key->addr, addr, 16);
	key->plen = 128;
	key->cls = (uint8_t)k;
}

/* ---- the table -------------------------------------------------------- */

int mm_incidents_set_timing(struct mm_incidents *t, uint32_t update_steps, uint32_t calm_steps)
{
	if (update_steps < 1 || calm_steps < 1)
		return -1;
	t->p.update_steps = update_steps;
	t->p.calm_steps = calm_steps;
	return 0;
}

struct mm_incidents *mm_incidents_new(const struct mm_incident_params *p, mm_incident_fn fn, void *arg)
{
	struct mm_incidents *t;
	uint64_t slots = 2;

	if (p == NULL || fn == NULL || p->update_steps < 1 || p->calm_steps < 1 || p->max_open < 1 ||
	    p->max_open > (UINT32_MAX >> 2))
		return NULL;
	/* At most half full: short probe runs. */
	while (slots < 2 * (uint64_t)p->max_open)
		slots <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->p = *p;
	t->fn = fn;
	t->arg = arg;
	t->mask = (uint32_t)(slots - 1);
	t->inc = calloc(p->max_open, sizeof(*t->inc));
	t->slot = malloc(slots * sizeof(*t->slot));
	if (t->inc == NULL || t->slot == NULL) {
		mm_incidents_free(t);
		return NULL;
	}
	memset(t->slot, 0xff, slots * sizeof(*t->slot));
	return t;
}

void mm_incidents_free(struct mm_incidents *t)
{
	if (t == NULL)
		return;
	free(t->inc);
	free(t->slot);
	free(t);
}

/* The slot holding key, or the empty slot where it would go. */
static uint32_t find_slot(const struct mm_incidents *t, const struct mm_incident_key *key)
{
	uint32_t s = (uint32_t)key_hash(key) & t->mask;

	while (t->slot[s] != EMPTY && !key_eq(&t->inc[t->slot[s]].key, key))
		s = (s + 1) & t->mask;
	return s;
}

/* Remove the entry in slot s, shifting later members of its run back so
 * that every entry stays reachable from its home slot. */
static void slot_delete(struct mm_incidents *t, uint32_t s)
{
	uint32_t hole = s, j = s;

	t->slot[hole] = EMPTY;
	for (;;) {
		uint32_t home;

		j = (j + 1) & t->mask;
		if (t->slot[j] == EMPTY)
			return;
		home = (uint32_t)key_hash(&t->inc[t->slot[j]].key) & t->mask;
		/* Move j into the hole unless its home lies cyclically in
		 * (hole, j]. */
		if ((j > hole && (home <= hole || home > j)) || (j < hole && home <= hole && home > j)) {
			t->slot[hole] = t->slot[j];
			t->slot[j] = EMPTY;
			hole = j;
		}
	}
}

/* Remove open incident i (swap the last into its place). */
static void remove_at(struct mm_incidents *t, uint32_t i)
{
	uint32_t last = t->n - 1;

	slot_delete(t, find_slot(t, &t->inc[i].key));
	if (i != last) {
		t->inc[i] = t->inc[last];
		t->slot[find_slot(t, &t->inc[i].key)] = i;
	}
	t->n--;
}

static struct mm_incident *lookup(const struct mm_incidents *t, const struct mm_incident_key *key)
{
	uint32_t s = find_slot(t, key);

	return t->slot[s] == EMPTY ? NULL : &t->inc[t->slot[s]];
}

const struct mm_incident *mm_incidents_find(const struct mm_incidents *t, const struct mm_incident_key *key)
{
	return lookup(t, key);
}

/* A new incident for key, or NULL (full: counted). */
static struct mm_incident *insert(struct mm_incidents *t, const struct mm_incident_key *key)
{
	uint32_t s = find_slot(t, key);
	struct mm_incident *inc;

	if (t->n >= t->p.max_open) {
		t->st.refused++;
		return NULL;
	}
	inc = &t->inc[t->n];
	memset(inc, 0, sizeof(*inc));
	inc->key = *key;
	inc->ev.completeness = -1;
	inc->ev.vector = -1;
	t->slot[s] = t->n++;
	return inc;
}

static void emit(struct mm_incidents *t, enum mm_incident_event ev, struct mm_incident *inc, uint64_t step)
{
	inc->last_emit_step = step;
	inc->dirty = 0;
	inc->escalated = 0;
	t->fn(t->arg, ev, inc);
}

/* ---- the lifecycle ---------------------------------------------------- */

static void feed(struct mm_incident *inc, uint64_t step, const struct mm_incident_obs *o)
{
	if (step > inc->last_seen_step)
		inc->last_seen_step = step;
	if (o->tier > inc->tier) {
		inc->tier = o->tier;
		inc->escalated = 1;
	}
	if (o->severity != MM_SEV_NONE)
		inc->severity = o->severity;
	if (inc->severity > inc->peak_severity)
		inc->peak_severity = inc->severity;
	inc->feature = o->feature;
	inc->score = o->score;
	if (o->score > inc->peak_score)
		inc->peak_score = o->score;
	inc->current_rate = o->rate;
	inc->baseline_rate = o->baseline_rate;
	if (o->rate > inc->peak_rate)
		inc->peak_rate = o->rate;
	if (o->ev != NULL)
		inc->ev = *o->ev;
	inc->dirty = 1;
}

int mm_incidents_observe(struct mm_incidents *t, const struct mm_incident_key *key, uint64_t step,
			 const struct mm_incident_obs *obs)
{
	struct mm_incident *inc = lookup(t, key);

	if (inc != NULL) {
		if (obs->sustain || obs->confirmed)
			feed(inc, step, obs);
		return 0;
	}
	if (!obs->confirmed)
		return 0;
	inc = insert(t, key);
	if (inc == NULL)
		return -1;
	mm_incident_id(key, step, inc->id);
	inc->start_step = step;
	feed(inc, step, obs);
	inc->peak_severity = inc->severity;
	t->st.started++;
	emit(t, MM_INC_START, inc, step);
	return 1;
}

int mm_incidents_adopt(struct mm_incidents *t, const struct mm_incident_key *key, uint64_t step,
		       uint64_t start_step, enum mm_tier tier, enum mm_severity severity, const char *id)
{
	struct mm_incident *inc = lookup(t, key);

	if (inc != NULL) {
		if (id != NULL && strcmp(id, inc->id) != 0 && inc->merged_id[0] == '\0') {
			snprintf(inc->merged_id, sizeof(inc->merged_id), "%.*s", MM_INCIDENT_ID_LEN, id);
			inc->dirty = 1;
		}
		if ((uint8_t)tier > inc->tier) {
			inc->tier = (uint8_t)tier;
			inc->escalated = inc->dirty = 1;
		}
		t->st.merged++;
		return 0;
	}
	inc = insert(t, key);
	if (inc == NULL)
		return -1;
	if (id != NULL)
		snprintf(inc->id, sizeof(inc->id), "%.*s", MM_INCIDENT_ID_LEN, id);
	else
		mm_incident_id(key, start_step, inc->id);
	inc->start_step = start_step;
	inc->last_seen_step = step > start_step ? step : start_step;
	inc->last_emit_step = inc->last_seen_step;
	inc->tier = (uint8_t)tier;
	inc->severity = inc->peak_severity = (uint8_t)severity;
	inc->adopted = 1;
	t->st.adopted++;
	return 1;
}

int mm_incidents_raise(struct mm_incidents *t, const struct mm_incident_key *key, uint64_t step,
		       uint64_t start_step, const struct mm_incident_obs *obs, const struct mm_incident_fast *fast)
{
	struct mm_incident *inc = lookup(t, key);

	if (start_step > step)
		start_step = step;
	if (inc != NULL) {
		if (step > inc->last_seen_step)
			inc->last_seen_step = step;
		if (obs->tier > inc->tier) {
			inc->tier = obs->tier;
			inc->escalated = inc->dirty = 1;
		}
		if (fast != NULL && !inc->fast.on)
			inc->fast = *fast;
		t->st.merged++;
		return 0;
	}
	inc = insert(t, key);
	if (inc == NULL)
		return -1;
	mm_incident_id(key, start_step, inc->id);
	inc->start_step = start_step;
	feed(inc, step, obs);
	inc->peak_severity = inc->severity;
	inc->adopted = 1;
	if (fast != NULL)
		inc->fast = *fast;
	t->st.adopted++;
	emit(t, MM_INC_START, inc, step);
	return 1;
}

static void end_at(struct mm_incidents *t, uint32_t i, uint64_t step)
{
	struct mm_incident *inc = &t->inc[i];

	inc->end_step = step;
	t->st.ended++;
	emit(t, MM_INC_END, inc, step);
	remove_at(t, i);
}

unsigned mm_incidents_end_step(struct mm_incidents *t, uint64_t step)
{
	unsigned events = 0;
	uint32_t i = 0;

	while (i < t->n) {
		struct mm_incident *inc = &t->inc[i];

		if (step < inc->last_seen_step) {
			i++; /* the clock went back: nothing is due */
			continue;
		}
		if (step - inc->last_seen_step >= t->p.calm_steps) {
			end_at(t, i, step);
			events++;
			continue; /* the last incident moved into i */
		}
		if (inc->escalated || (inc->dirty && step - inc->last_emit_step >= t->p.update_steps)) {
			inc->updates++;
			t->st.updates++;
			emit(t, MM_INC_UPDATE, inc, step);
			events++;
		}
		i++;
	}
	return events;
}

unsigned mm_incidents_end_all(struct mm_incidents *t, uint64_t step)
{
	unsigned n = 0;

	while (t->n > 0) {
		end_at(t, t->n - 1, step);
		n++;
	}
	return n;
}

struct mm_incident_stats mm_incidents_stats(const struct mm_incidents *t)
{
	struct mm_incident_stats s = t->st;

	s.open = t->n;
	return s;
}

/* ---- observations and evidence ---------------------------------------- */

void mm_incident_obs_from(struct mm_incident_obs *o, const struct mm_class_score *cs, const struct mm_evidence *ev)
{
	memset(o, 0, sizeof(*o));
	o->confirmed = cs->confirmed;
	o->sustain = cs->sustain;
	o->tier = cs->tier;
	o->severity = cs->severity;
	o->feature = cs->feature;
	o->score = cs->score;
	o->rate = cs->observed_rate;
	o->baseline_rate = cs->expected_rate;
	o->ev = ev;
}

/* Per class: the features quoted, the ports and peers that matter. */
static const struct {
	enum mm_feat feat[MM_EVIDENCE_FEATS];
	unsigned nfeat;
	enum mm_topk_ports ports;
	int peers_out;
} class_evidence[MM_CLASS_COUNT] = {
	[MM_CLASS_FLOOD] = { { MM_F_FLOOD_PKTS_IN, MM_F_UDP_PKTS_IN, MM_F_ICMP_PKTS_IN, MM_F_PKTS_OUT }, 4,
			     MM_T_DPORTS_IN, 0 },
	[MM_CLASS_SYN_FLOOD] = { { MM_F_SYN_PKTS_IN, MM_F_TCP_PKTS_IN, MM_F_PKTS_OUT }, 3, MM_T_DPORTS_IN, 0 },
	[MM_CLASS_AMPLIFICATION] = { { MM_F_AMP_PKTS_IN, MM_F_UDP_PKTS_IN, MM_F_PKTS_OUT }, 3, MM_T_SPORTS_IN, 0 },
	[MM_CLASS_CARPET_BOMBING] = { { MM_F_FLOOD_PKTS_IN, MM_F_SYN_PKTS_IN, MM_F_AMP_PKTS_IN, MM_F_PKTS_OUT }, 4,
				      MM_T_DPORTS_IN, 0 },
	[MM_CLASS_HORIZONTAL_SCAN] = { { MM_F_PEERS_OUT, MM_F_SYN_FLOWS_OUT, MM_F_SMALL_FLOWS_OUT, MM_F_DPORTS_OUT },
				       4, MM_T_DPORTS_OUT, 1 },
	[MM_CLASS_VERTICAL_SCAN] = { { MM_F_DPORTS_OUT, MM_F_SYN_FLOWS_OUT, MM_F_SMALL_FLOWS_OUT, MM_F_PEERS_OUT },
				     4, MM_T_DPORTS_OUT, 1 },
	[MM_CLASS_BRUTEFORCE] = { { MM_F_AUTH_FLOWS_OUT, MM_F_PEERS_OUT, MM_F_SMALL_FLOWS_OUT }, 3, MM_T_DPORTS_OUT, 1 },
	[MM_CLASS_OUTBOUND_FLOOD] = { { MM_F_FLOOD_PKTS_OUT, MM_F_PKTS_OUT, MM_F_FLOOD_PKTS_IN }, 3, MM_T_DPORTS_OUT,
				      1 },
	[MM_CLASS_OUTBOUND_SCAN] = { { MM_F_PEERS_OUT, MM_F_DPORTS_OUT, MM_F_SYN_FLOWS_OUT, MM_F_SMALL_FLOWS_OUT }, 4,
				     MM_T_DPORTS_OUT, 1 },
	[MM_CLASS_EXFILTRATION] = { { MM_F_BYTES_OUT, MM_F_PKTS_OUT, MM_F_PEERS_OUT }, 3, MM_T_DPORTS_OUT, 1 },
};

void mm_evidence_fill(struct mm_evidence *ev, enum mm_class k, const struct mm_score_result *r,
		      const struct mm_hoststep *topk)
{
	const struct mm_class_score *cs;
	enum mm_topk_ports ports;
	int out;

	memset(ev, 0, sizeof(*ev));
	ev->completeness = -1;
	ev->vector = -1;
	if ((unsigned)k >= MM_CLASS_COUNT)
		return;
	cs = &r->cls[k];
	ev->vector = cs->vector;
	ev->source = (uint8_t)r->source;
	ports = class_evidence[k].ports;
	out = class_evidence[k].peers_out;
	for (unsigned i = 0; i < class_evidence[k].nfeat; i++) {
		enum mm_feat f = class_evidence[k].feat[i];

		/* The target side of brute force is about auth flows in. */
		if (k == MM_CLASS_BRUTEFORCE && cs->vector == 1 && f == MM_F_AUTH_FLOWS_OUT)
			f = MM_F_AUTH_FLOWS_IN;
		ev->feat[i].feature = (uint8_t)f;
		ev->feat[i].current = (float)r->feat[f].observed_rate;
		ev->feat[i].baseline = (float)r->feat[f].expected_rate;
		ev->feat[i].score = (float)r->feat[f].score;
	}
	ev->nfeat = class_evidence[k].nfeat;
	if (k == MM_CLASS_BRUTEFORCE && cs->vector == 1) {
		ports = MM_T_DPORTS_IN;
		out = 0;
	}
	ev->ports_kind = (uint8_t)ports;
	ev->peers_out = (uint8_t)out;
	if (topk != NULL) {
		memcpy(ev->ports, topk->ports[ports], sizeof(ev->ports));
		memcpy(ev->peers, out ? topk->peers_out : topk->peers_in, sizeof(ev->peers));
		ev->distinct_peers = mm_hll_estimate(&topk->hll[out ? MM_S_PEERS_OUT : MM_S_PEERS_IN]);
	}
}

void mm_evidence_set_collectors(struct mm_evidence *ev, const char (*ids)[MM_NAME_MAX], unsigned n,
				unsigned more)
{
	unsigned listed = n < MM_EVIDENCE_COLLECTORS ? n : MM_EVIDENCE_COLLECTORS;

	for (unsigned i = 0; i < listed; i++)
		snprintf(ev->collectors[i], sizeof(ev->collectors[i]), "%s", ids[i]);
	ev->ncollectors = listed;
	ev->more_collectors = more + (n - listed);
}
