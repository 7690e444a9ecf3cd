/*
 * exporters.c - the table of exporter states (exporters.h).
 *
 * Entries live in one array of max_exporters slots, allocated once.  Each
 * slot is on a hash chain (by bucket) and on a doubly linked LRU list, both
 * by slot index, so lookup, touch and eviction are O(1) (plus the chain).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mamori/exporters.h"

#define NIL UINT32_MAX

struct slot {
	struct mm_exporter *ex; /* NULL: slot free */
	uint32_t hnext;         /* next slot on the hash chain */
	uint32_t prev, next;    /* LRU list: prev is more recent */
};

struct mm_exporters {
	const struct mm_config *cfg;
	struct mm_decode_limits lim; /* every ex->lim points here */
	uint64_t key[2];             /* SipHash key */
	uint32_t cap;                /* slots */
	uint32_t nused;              /* slots ever used (free slots are [nused, cap)) */
	uint32_t count;              /* states present */
	uint32_t mask;               /* buckets - 1 */
	uint32_t head, tail;         /* LRU: head = most recent */
	uint32_t freelist;           /* slots freed by reconfigure, chained by hnext */
	uint32_t *buckets;
	struct slot *slots;
	struct mm_exporters_stats st;
	struct mm_exporter_stats retired; /* counters of states no longer here */
};

/* ---- the counters by name ---- */

#define F(x) { #x, offsetof(struct mm_exporter_stats, x) }
const struct mm_stat_field mm_exporter_stat_fields[] = {
	F(datagrams),        F(bytes),
	F(records),          F(options_records),
	F(templates),        F(template_withdrawals),
	F(templates_evicted), F(malformed),
	F(unsupported),      F(lost_packets),
	F(lost_records),     F(seq_reordered),
	F(seq_resets),       F(unknown_template),
	F(pending_queued),   F(pending_decoded),
	F(pending_dropped),  F(pending_expired),
	F(unknown_sampling), F(flow_samples),
	F(counter_samples),  F(sample_drops),
	F(domains_evicted),
};
#undef F
#define NSTAT (sizeof(mm_exporter_stat_fields) / sizeof(mm_exporter_stat_fields[0]))
const size_t mm_exporter_nstat_fields = NSTAT;

/* A field added to struct mm_exporter_stats must be added above. */
_Static_assert(sizeof(struct mm_exporter_stats) == NSTAT * sizeof(uint64_t),
	       "mm_exporter_stat_fields does not list every field of struct mm_exporter_stats");

uint64_t mm_stat_get(const struct mm_exporter_stats *st, size_t i)
{
	uint64_t v;

	if (i >= NSTAT)
		return 0;
	memcpy(&v, (const char *)st + mm_exporter_stat_fields[i].off, sizeof(v));
	return v;
}

static void stats_add(struct mm_exporter_stats *sum, const struct mm_exporter_stats *st)
{
	for (size_t i = 0; i < NSTAT; i++) {
		uint64_t v = mm_stat_get(sum, i) + mm_stat_get(st, i);
		memcpy((char *)sum + mm_exporter_stat_fields[i].off, &v, sizeof(v));
	}
}

/* ---- hashing: SipHash-1-3 of the 16-byte address ---- */

static inline uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static inline uint64_t rdle64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

#define SIPROUND                                                           \
	do {                                                               \
		v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32); \
		v2 += v3; v3 = rotl(v3, 16); v3 ^= v2;                     \
		v0 += v3; v3 = rotl(v3, 21); v3 ^= v0;                     \
		v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32); \
	} while (0)

static uint64_t addr_hash(const uint64_t key[2], const uint8_t a[16])
{
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
	uint64_t m, b = (uint64_t)16 << 56;

	m = rdle64(a);
	v3 ^= m; SIPROUND; v0 ^= m;
	m = rdle64(a + 8);
	v3 ^= m; SIPROUND; v0 ^= m;
	v3 ^= b; SIPROUND; v0 ^= b;
	v2 ^= 0xff;
	SIPROUND; SIPROUND; SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static void hash_key(uint64_t key[2])
{
	struct timespec ts;

	if (getrandom(key, 2 * sizeof(uint64_t), GRND_NONBLOCK) == (ssize_t)(2 * sizeof(uint64_t)))
		return;
	/* No entropy yet (early boot): weaker, still not guessable from outside. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	key[0] = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)getpid();
	key[1] = (uint64_t)ts.tv_sec ^ (uint64_t)(uintptr_t)key;
}

/* ---- lists ---- */

static void lru_unlink(struct mm_exporters *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	if (s->prev != NIL)
		t->slots[s->prev].next = s->next;
	else
		t->head = s->next;
	if (s->next != NIL)
		t->slots[s->next].prev = s->prev;
	else
		t->tail = s->prev;
	s->prev = s->next = NIL;
}

static void lru_push_head(struct mm_exporters *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	s->prev = NIL;
	s->next = t->head;
	if (t->head != NIL)
		t->slots[t->head].prev = i;
	t->head = i;
	if (t->tail == NIL)
		t->tail = i;
}

static uint32_t *bucket_of(const struct mm_exporters *t, const uint8_t a[16])
{
	return &t->buckets[addr_hash(t->key, a) & t->mask];
}

static void hash_unlink(struct mm_exporters *t, uint32_t i)
{
	uint32_t *pp = bucket_of(t, t->slots[i].ex->addr);

	while (*pp != NIL && *pp != i)
		pp = &t->slots[*pp].hnext;
	if (*pp == i)
		*pp = t->slots[i].hnext;
	t->slots[i].hnext = NIL;
}

/* Take slot i out of the table and free its state (counters kept). */
static void slot_drop(struct mm_exporters *t, uint32_t i)
{
	struct slot *s = &t->slots[i];

	hash_unlink(t, i);
	lru_unlink(t, i);
	stats_add(&t->retired, &s->ex->st);
	mm_exporter_free(s->ex);
	s->ex = NULL;
	t->count--;
}

/* ---- configuration ---- */

static void apply_cfg(const struct mm_config *cfg, const struct mm_exporter_cfg *ec, struct mm_exporter *ex)
{
	uint32_t def = cfg->default_sampling_rate;

	ex->cfg_rate = ec != NULL ? ec->sampling_rate : 0;
	if (ec != NULL && ec->default_rate != 0)
		def = ec->default_rate;
	ex->default_rate = def >= 1 ? def : 1;
}

/* ---- API ---- */

struct mm_exporters *mm_exporters_new(const struct mm_config *cfg)
{
	struct mm_exporters *t = calloc(1, sizeof(*t));
	uint32_t nb = 16;

	if (t == NULL)
		return NULL;
	t->cfg = cfg;
	t->lim = cfg->limits;
	t->cap = t->lim.max_exporters >= 1 ? t->lim.max_exporters : 1;
	while (nb < t->cap * 2u && nb < (1u << 30))
		nb <<= 1;
	t->mask = nb - 1;
	t->head = t->tail = t->freelist = NIL;
	hash_key(t->key);
	t->buckets = malloc(nb * sizeof(*t->buckets));
	t->slots = calloc(t->cap, sizeof(*t->slots));
	if (t->buckets == NULL || t->slots == NULL)
		goto err;
	for (uint32_t i = 0; i < nb; i++)
		t->buckets[i] = NIL;
	return t;
err:
	mm_exporters_free(t);
	return NULL;
}

void mm_exporters_free(struct mm_exporters *t)
{
	if (t == NULL)
		return;
	if (t->slots != NULL)
		for (uint32_t i = 0; i < t->nused; i++)
			mm_exporter_free(t->slots[i].ex);
	free(t->slots);
	free(t->buckets);
	free(t);
}

struct mm_exporter *mm_exporters_find(const struct mm_exporters *t, const uint8_t addr[16])
{
	for (uint32_t i = *bucket_of(t, addr); i != NIL; i = t->slots[i].hnext)
		if (memcmp(t->slots[i].ex->addr, addr, 16) == 0)
			return t->slots[i].ex;
	return NULL;
}

struct mm_exporter *mm_exporters_get(struct mm_exporters *t, const uint8_t addr[16], uint64_t now_ms)
{
	const struct mm_exporter_cfg *ec;
	struct mm_exporter *ex;
	uint32_t *b, i;

	/* Most datagrams come from the exporter seen last. */
	if (t->head != NIL && memcmp(t->slots[t->head].ex->addr, addr, 16) == 0) {
		ex = t->slots[t->head].ex;
		ex->last_seen_ms = now_ms;
		return ex;
	}
	b = bucket_of(t, addr);
	for (i = *b; i != NIL; i = t->slots[i].hnext) {
		if (memcmp(t->slots[i].ex->addr, addr, 16) == 0) {
			lru_unlink(t, i);
			lru_push_head(t, i);
			ex = t->slots[i].ex;
			ex->last_seen_ms = now_ms;
			return ex;
		}
	}

	/* New exporter. */
	ec = mm_config_exporter(t->cfg, addr);
	if (ec == NULL && !t->cfg->allow_unlisted_exporters) {
		t->st.denied++;
		return NULL;
	}
	ex = mm_exporter_new(addr, &t->lim);
	if (ex == NULL) {
		t->st.alloc_failed++;
		return NULL;
	}
	if (t->freelist != NIL) {
		i = t->freelist;
		t->freelist = t->slots[i].hnext;
	} else if (t->nused < t->cap) {
		i = t->nused++;
	} else {
		i = t->tail;
		slot_drop(t, i);
		t->st.evicted++;
	}
	apply_cfg(t->cfg, ec, ex);
	ex->last_seen_ms = now_ms;
	t->slots[i].ex = ex;
	t->slots[i].hnext = *b;
	*b = i;
	lru_push_head(t, i);
	t->count++;
	t->st.created++;
	return ex;
}

void mm_exporters_reconfigure(struct mm_exporters *t, const struct mm_config *cfg)
{
	uint32_t i, next;

	t->cfg = cfg;
	for (i = t->head; i != NIL; i = next) {
		struct mm_exporter *ex = t->slots[i].ex;
		const struct mm_exporter_cfg *ec = mm_config_exporter(cfg, ex->addr);

		next = t->slots[i].next;
		if (ec == NULL && !cfg->allow_unlisted_exporters) {
			slot_drop(t, i);
			t->slots[i].hnext = t->freelist;
			t->freelist = i;
			t->st.removed++;
			continue;
		}
		apply_cfg(cfg, ec, ex);
	}
}

size_t mm_exporters_count(const struct mm_exporters *t)
{
	return t->count;
}

void mm_exporters_foreach(const struct mm_exporters *t, void (*fn)(void *arg, struct mm_exporter *ex), void *arg)
{
	for (uint32_t i = t->head; i != NIL; i = t->slots[i].next)
		fn(arg, t->slots[i].ex);
}

void mm_exporters_expire(struct mm_exporters *t, uint64_t now_ms)
{
	for (uint32_t i = t->head; i != NIL; i = t->slots[i].next)
		mm_exporter_expire(t->slots[i].ex, now_ms);
}

const struct mm_exporters_stats *mm_exporters_stats(const struct mm_exporters *t)
{
	return &t->st;
}

void mm_exporters_totals(const struct mm_exporters *t, struct mm_exporter_stats *sum)
{
	*sum = t->retired;
	for (uint32_t i = t->head; i != NIL; i = t->slots[i].next)
		stats_add(sum, &t->slots[i].ex->st);
}
