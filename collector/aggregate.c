/*
 * aggregate.c - per-host, per-step aggregation (aggregate.h).
 *
 * Layout.  Two host tables with the same shape: monitored hosts (max_hosts)
 * and tracked external sources (max_external).  A table is
 *  - a pool of host headers (address, group, how many open slots hold data)
 *    with a free stack: a host keeps its pool index while it lives;
 *  - per pool index, (late_steps + 1) step slots, a ring indexed by
 *    step % (late_steps + 1), each a struct mm_hoststep plus the number of
 *    the step it holds (0 = clean: every byte zero);
 *  - an open-addressing index (linear probing, load <= 1/2, backward-shift
 *    deletion, so no tombstones ever accumulate) from the 16-byte address to
 *    the pool index.  The address is in the index entry itself, so a hit
 *    costs one cache miss before the step data;
 *  - per slot, the list of pool indices that wrote to it in its step: a step
 *    closes by walking that list, so closing costs the hosts that had data,
 *    not the table size.
 * Everything is allocated once in mm_agg_new (calloc: pages are committed
 * by the kernel as hosts touch them); mm_agg_add never allocates.
 *
 * The index hash is SipHash-1-3 under a random key: source addresses are
 * chosen by whoever sends the traffic, and a fixed hash would let them
 * build one long probe chain.  The key changes nothing observable: hosts
 * are emitted in the order they first wrote to the step.
 *
 * Externals are ranked by a space-saving count (scaled flows).  The entry
 * to replace is found with a min-heap that is updated lazily: counts only
 * grow between rebuilds, so a heap key may lag its count; when the root's
 * key is stale it is refreshed and sifted down, and the first root whose
 * key is current is the true minimum.  An update is then one add, and the
 * heap is only worked on when an entry has to be replaced.  The counts are
 * halved at every closed step (and the heap rebuilt) so the ranking follows
 * the last few steps, not the collector's whole life.
 *
 * Memory latency.  Each record lands on two random hosts of a table much
 * larger than the caches, two dependent misses each (index, then step data).
 * mm_agg_add therefore runs a short software pipeline: a record is copied
 * in and its index buckets prefetched; PF_DIST records later its hosts are
 * looked up (read only) and the step lines it will write prefetched;
 * another PF_DIST records later it is counted, by the same code that would
 * count it without the pipeline.  The first two stages are hints only, so
 * the result is exactly that of counting the records one by one, in order.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "mamori/aggregate.h"
#include "mamori/classes.h"
#include "mamori/muldiv.h"

#define MAX_SLOTS 32               /* late_steps <= 31 */
#define MAX_TABLE (1u << 30)       /* keeps index capacity and pool indices in 32 bits */
#define NONE UINT32_MAX
#define LPM_SLOW INT32_MIN         /* fast table: ask the trie */
#define PF_DIST (MM_AGG_PIPELINE / 2)  /* records between pipeline stages */
#define QLEN 32                    /* ring >= 2 * PF_DIST + 1, power of 2 */
_Static_assert(QLEN > 2 * PF_DIST && (QLEN & (QLEN - 1)) == 0, "pipeline ring");

/* Counter families are laid out bytes, pkts, flows at +0, +2, +4 (in) and
 * +1 (out); the code below relies on it. */
_Static_assert(MM_C_PKTS_IN == MM_C_BYTES_IN + 2 && MM_C_FLOWS_IN == MM_C_BYTES_IN + 4, "layout");
_Static_assert(MM_C_TCP_PKTS_IN == MM_C_TCP_BYTES_IN + 2 && MM_C_TCP_FLOWS_IN == MM_C_TCP_BYTES_IN + 4, "layout");
_Static_assert(MM_C_UDP_PKTS_IN == MM_C_UDP_BYTES_IN + 2 && MM_C_UDP_FLOWS_IN == MM_C_UDP_BYTES_IN + 4, "layout");
_Static_assert(MM_C_ICMP_PKTS_IN == MM_C_ICMP_BYTES_IN + 2 && MM_C_ICMP_FLOWS_IN == MM_C_ICMP_BYTES_IN + 4,
	       "layout");
_Static_assert(MM_C_OTHER_PKTS_IN == MM_C_OTHER_BYTES_IN + 2 && MM_C_OTHER_FLOWS_IN == MM_C_OTHER_BYTES_IN + 4,
	       "layout");
_Static_assert(MM_C_UDP_BYTES_IN == MM_C_TCP_BYTES_IN + 6 && MM_C_ICMP_BYTES_IN == MM_C_TCP_BYTES_IN + 12 &&
		       MM_C_OTHER_BYTES_IN == MM_C_TCP_BYTES_IN + 18,
	       "protocol families every 6 counters, tcp udp icmp other");
_Static_assert(MM_C_BYTES_OUT == MM_C_BYTES_IN + 1 && MM_C_SYN_PKTS_OUT == MM_C_SYN_PKTS_IN + 1 &&
		       MM_C_SMALL_FLOWS_OUT == MM_C_SMALL_FLOWS_IN + 1 && MM_C_AUTH_FLOWS_OUT == MM_C_AUTH_FLOWS_IN + 1,
	       "layout");

/* Cache-line aligned (big_alloc), so which lines a record touches, and so
 * what to prefetch, is the same for every slot.  The 8 bytes of padding
 * put the sketches and top-K lists on line boundaries (hll at 512,
 * peers_in at 704, ports at 896): a record then touches 8-10 of the 17
 * lines instead of 11-12, and the slot is no bigger. */
struct slot {
	_Alignas(64) uint64_t step1; /* step number + 1 of the data; 0 = clean (all zero) */
	uint64_t pad_;
	struct mm_hoststep hs;
};
_Static_assert(sizeof(struct slot) == 17 * 64, "slot size");
_Static_assert(offsetof(struct slot, hs.hll) % 64 == 0 && offsetof(struct slot, hs.ports) % 64 == 0,
	       "sketches and port lists on line boundaries");

struct ixent {
	uint8_t addr[16];
	uint32_t hash; /* low 32 bits of the address hash: home bucket, quick reject */
	uint32_t idx1; /* pool index + 1; 0 = empty bucket */
};

struct host {
	uint8_t addr[16];
	uint32_t hash;
	uint16_t group;
	uint8_t ndirty;    /* open slots holding this host's data */
	uint8_t live;      /* 1 in the index; HOST_DETACHED: out of it, open steps still to emit */
	uint64_t rank;     /* externals: space-saving count, scaled flows */
};

struct hent {
	uint64_t key;      /* the rank when last sifted: <= the host's rank */
	uint32_t idx;
};

struct tab {
	uint32_t cap;       /* pool size */
	uint32_t gen;       /* bumped by every change of the index */
	uint32_t nlive;     /* hosts present */
	uint32_t hw;        /* pool indices ever used: [hw, cap) are fresh */
	uint32_t nfree;     /* freed indices on the stack */
	uint32_t *freestk;
	struct host *hosts;
	struct slot *slots; /* cap * nslots, 64-byte aligned */
	void *slots_raw;
	struct ixent *ix;
	void *ix_raw;
	uint32_t ixmask;
	uint32_t *dirty;    /* nslots lists of up to cap pool indices */
	uint32_t ndirty[MAX_SLOTS];
	struct hent *heap;  /* externals: lazy min-heap by rank */
};

/* A record in the pipeline: what counting needs, copied (the caller's
 * record is only valid during mm_agg_add), plus the index hashes. */
struct qrec {
	uint8_t src[16], dst[16];
	uint64_t bytes, pkts;      /* scaled */
	uint64_t packets;          /* as exported: "small" */
	uint64_t start, end;
	uint32_t hs, hd;           /* index hashes of src, dst */
	uint32_t rate;
	uint16_t sport, dport;
	uint8_t proto, flags;
	uint8_t pclass;            /* 0 tcp, 1 udp, 2 icmp, 3 other */
	int8_t amp;                /* amplification slot or -1 */
	/* The middle stage's lookups, still right at counting time if the
	 * index has not changed since (gen), which is nearly always. */
	uint8_t hinted, ext_hinted;
	uint32_t mgen, egen;
	uint32_t di, dpos, si, spos, ei, epos;
};

struct mm_agg {
	uint64_t step_ms;
	uint32_t nslots;           /* late_steps + 1 */
	uint32_t late_steps;
	uint32_t ext_min_flows;
	uint64_t cur, lo;          /* open steps [lo, cur] */
	uint32_t cur_slot;         /* cur % nslots */
	uint64_t lo_ms, hi_ms;     /* [lo_ms, hi_ms): time the open steps cover */
	uint64_t key[2];           /* index hash key */
	struct mm_lpm *lpm;
	int32_t *fast4, *fast6;    /* 2^16 buckets each: group, -1, or LPM_SLOW */
	uint64_t auth_bits[1024];  /* 65536-bit sets of ports */
	uint64_t amp_bits[1024];
	struct tab mon, ext;
	struct mm_agg_stats st;
	struct mm_fast *fast;      /* NULL: no fast path */
	uint8_t fast_out[4];       /* per protocol class: the fast path counts the source side */
	size_t mem;
	uint32_t pf_mask[2][4];    /* slot lines to prefetch: [out][protocol family] */
	uint32_t pf_amp[MM_AMP_SLOTS];
	struct qrec q[QLEN];       /* the pipeline: q[qtail] is the oldest */
	uint32_t qtail, qn;
};

/* ---- small helpers -------------------------------------------------- */

static inline void add(uint64_t *c, uint64_t v)
{
	/* Saturating: scaled counters may already be UINT64_MAX (flow.h). */
	uint64_t s = *c + v;

	*c = s < v ? UINT64_MAX : s;
}

static inline int bit_test(const uint64_t *set, uint16_t i)
{
	return (int)((set[i >> 6] >> (i & 63)) & 1);
}

static inline void bit_set(uint64_t *set, uint16_t i)
{
	set[i >> 6] |= 1ull << (i & 63);
}

/* ---- monitored prefixes --------------------------------------------- */

/*
 * mm_lpm walks one trie node per bit, and an IPv4-mapped address starts
 * with 96 bits that are the same for every IPv4 host: ~100 dependent loads
 * per lookup, more than the whole budget of a record.  So two 2^16-entry
 * tables answer first: IPv4-mapped addresses by their top 16 IPv4 bits,
 * other addresses by their top 16 bits.  A bucket holds the group when
 * every address in it has the same longest match (no prefix longer than
 * the bucket lies inside it), -1 when none matches, or LPM_SLOW, and then
 * the trie decides.  Monitored hosts already in the table never get here.
 */
struct pfx_order {
	unsigned len, i;
};

static int pfx_cmp(const void *x, const void *y)
{
	const struct pfx_order *a = x, *b = y;

	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return a->i < b->i ? -1 : a->i > b->i; /* config order: later wins, as in the trie */
}

static int is_v4mapped_prefix(const struct mm_prefix *p)
{
	static const uint8_t m[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned full = p->len < 96 ? p->len / 8 : 12, rest = p->len < 96 ? p->len % 8 : 0;

	/* the prefix's first min(len, 96) bits equal ::ffff:0:0/96's */
	if (memcmp(p->addr, m, full) != 0)
		return 0;
	if (rest != 0) {
		uint8_t k = (uint8_t)(0xff << (8 - rest));
		if ((p->addr[full] & k) != (m[full] & k))
			return 0;
	}
	return 1;
}

static int build_prefixes(struct mm_agg *a, const struct mm_agg_config *cfg)
{
	struct pfx_order *ord = NULL;
	unsigned n = cfg->nprefixes;

	a->lpm = mm_lpm_new();
	a->fast4 = malloc(65536 * sizeof(int32_t));
	a->fast6 = malloc(65536 * sizeof(int32_t));
	if (n > 0)
		ord = malloc(n * sizeof(*ord));
	if (a->lpm == NULL || a->fast4 == NULL || a->fast6 == NULL || (n > 0 && ord == NULL))
		goto err;
	a->mem += 2 * 65536 * sizeof(int32_t);
	for (unsigned b = 0; b < 65536; b++)
		a->fast4[b] = a->fast6[b] = -1;
	for (unsigned i = 0; i < n; i++) {
		int g = cfg->prefix_group != NULL ? cfg->prefix_group[i] : 0;

		if (mm_lpm_insert(a->lpm, &cfg->prefixes[i], g) < 0)
			goto err;
		ord[i].len = cfg->prefixes[i].len;
		ord[i].i = i;
	}
	/* Paint the buckets with the prefixes no longer than a bucket,
	 * shortest first, so the longest match is what stays. */
	if (n > 0)
		qsort(ord, n, sizeof(*ord), pfx_cmp);
	for (unsigned j = 0; j < n; j++) {
		const struct mm_prefix *p = &cfg->prefixes[ord[j].i];
		int g = cfg->prefix_group != NULL ? cfg->prefix_group[ord[j].i] : 0;
		unsigned b0, cnt;

		if (p->len <= 112 && is_v4mapped_prefix(p)) {
			cnt = p->len <= 96 ? 65536u : 1u << (112 - p->len);
			b0 = p->len <= 96 ? 0 : ((unsigned)p->addr[12] << 8 | p->addr[13]) & ~(cnt - 1);
			for (unsigned b = b0; b < b0 + cnt; b++)
				a->fast4[b] = g;
		}
		if (p->len <= 16) {
			cnt = 1u << (16 - p->len);
			b0 = ((unsigned)p->addr[0] << 8 | p->addr[1]) & ~(cnt - 1);
			for (unsigned b = b0; b < b0 + cnt; b++)
				a->fast6[b] = g;
		}
	}
	/* Buckets with a longer prefix inside need the trie. */
	for (unsigned i = 0; i < n; i++) {
		const struct mm_prefix *p = &cfg->prefixes[i];

		if (p->len > 112 && is_v4mapped_prefix(p))
			a->fast4[(unsigned)p->addr[12] << 8 | p->addr[13]] = LPM_SLOW;
		if (p->len > 16)
			a->fast6[(unsigned)p->addr[0] << 8 | p->addr[1]] = LPM_SLOW;
	}
	free(ord);
	return 0;
err:
	free(ord);
	return -1;
}

/* mm_addr_is4 compares byte by byte; this is two loads */
static inline int is_v4mapped(const uint8_t a[16])
{
	static const uint8_t m[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	return memcmp(a, m, 12) == 0;
}

static inline const int32_t *fast_entry(const struct mm_agg *a, const uint8_t addr[16])
{
	if (is_v4mapped(addr))
		return &a->fast4[(unsigned)addr[12] << 8 | addr[13]];
	return &a->fast6[(unsigned)addr[0] << 8 | addr[1]];
}

/* Group of a monitored address, or -1. */
static inline int lookup_group(const struct mm_agg *a, const uint8_t addr[16])
{
	int32_t v = *fast_entry(a, addr);

	return v != LPM_SLOW ? v : mm_lpm_lookup(a->lpm, addr);
}

/* ---- host tables ---------------------------------------------------- */

/*
 * The big arrays: calloc, which for sizes like these maps fresh zero pages
 * that the kernel only commits when touched (so RSS follows the hosts
 * actually seen, since pool indices are handed out from the bottom), and
 * which the sanitizers and valgrind still bound-check.  64 bytes of slack
 * align the slots to cache lines.  Transparent huge pages are asked for,
 * because every record lands on a random host and with 4 KiB pages each of
 * those accesses would also miss the TLB.
 */
static void *big_alloc(void **raw, size_t n, size_t size)
{
	uintptr_t p, lo, hi;

	*raw = NULL;
	if (n == 0 || size == 0 || n > (SIZE_MAX - 64) / size)
		return NULL;
	*raw = calloc(1, n * size + 64);
	if (*raw == NULL)
		return NULL;
	p = ((uintptr_t)*raw + 63) & ~(uintptr_t)63;
#ifdef MADV_HUGEPAGE
	lo = (p + 4095) & ~(uintptr_t)4095;
	hi = (p + n * size) & ~(uintptr_t)4095;
	if (n * size >= (2u << 20) && hi > lo)
		(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE); /* a hint: fine if refused */
#else
	(void)lo;
	(void)hi;
#endif
	return (void *)p;
}

static int tab_init(struct mm_agg *a, struct tab *t, uint32_t cap, int heap)
{
	size_t ixcap = 2;

	t->cap = cap;
	if (cap == 0)
		return 0;
	while (ixcap < (size_t)cap * 2)
		ixcap *= 2;
	t->ixmask = (uint32_t)(ixcap - 1);
	t->freestk = calloc(cap, sizeof(*t->freestk));
	t->hosts = calloc(cap, sizeof(*t->hosts));
	t->slots = big_alloc(&t->slots_raw, (size_t)cap * a->nslots, sizeof(*t->slots));
	t->ix = big_alloc(&t->ix_raw, ixcap, sizeof(*t->ix));
	t->dirty = calloc((size_t)cap * a->nslots, sizeof(*t->dirty));
	if (heap)
		t->heap = calloc(cap, sizeof(*t->heap));
	if (t->freestk == NULL || t->hosts == NULL || t->slots == NULL || t->ix == NULL || t->dirty == NULL ||
	    (heap && t->heap == NULL))
		return -1;
	a->mem += (size_t)cap * (sizeof(*t->freestk) + sizeof(*t->hosts) + (heap ? sizeof(*t->heap) : 0)) +
		  (size_t)cap * a->nslots * (sizeof(*t->slots) + sizeof(*t->dirty)) + ixcap * sizeof(*t->ix) +
		  2 * 64; /* alignment slack */
	return 0;
}

static void tab_free(struct tab *t)
{
	free(t->freestk);
	free(t->hosts);
	free(t->slots_raw);
	free(t->ix_raw);
	free(t->dirty);
	free(t->heap);
}

/* Pool index of addr, or NONE with *pos = the empty bucket ending the
 * probe (where addr would be inserted). */
static inline uint32_t ix_find(const struct tab *t, const uint8_t addr[16], uint32_t h, uint32_t *pos)
{
	uint32_t i = h & t->ixmask;

	for (;;) {
		const struct ixent *e = &t->ix[i];

		if (e->idx1 == 0) {
			*pos = i;
			return NONE;
		}
		if (e->hash == h && memcmp(e->addr, addr, 16) == 0)
			return e->idx1 - 1;
		i = (i + 1) & t->ixmask;
	}
}

/* Remove pool index idx (whose hash is h) from the index: backward shift,
 * so the probe sequences of the entries after it stay unbroken. */
static void ix_delete(struct tab *t, uint32_t idx, uint32_t h)
{
	uint32_t i = h & t->ixmask, j;

	while (t->ix[i].idx1 != idx + 1)
		i = (i + 1) & t->ixmask;
	j = i;
	for (;;) {
		uint32_t home;

		j = (j + 1) & t->ixmask;
		if (t->ix[j].idx1 == 0)
			break;
		home = t->ix[j].hash & t->ixmask;
		/* The entry at j may fill the hole at i unless its home lies
		 * cyclically in (i, j]. */
		if (i <= j ? (i < home && home <= j) : (i < home || home <= j))
			continue;
		t->ix[i] = t->ix[j];
		i = j;
	}
	memset(&t->ix[i], 0, sizeof(t->ix[i]));
}

static inline uint32_t pool_alloc(struct tab *t)
{
	if (t->nfree > 0)
		return t->freestk[--t->nfree];
	if (t->hw < t->cap)
		return t->hw++;
	return NONE;
}

static uint32_t tab_insert(struct tab *t, const uint8_t addr[16], uint32_t h, uint32_t pos, unsigned group)
{
	uint32_t idx = pool_alloc(t);
	struct host *ho;

	if (idx == NONE)
		return NONE;
	ho = &t->hosts[idx];
	memcpy(ho->addr, addr, 16);
	ho->hash = h;
	ho->group = (uint16_t)group;
	ho->ndirty = 0;
	ho->live = 1;
	ho->rank = 0;
	memcpy(t->ix[pos].addr, addr, 16);
	t->ix[pos].hash = h;
	t->ix[pos].idx1 = idx + 1;
	t->nlive++;
	t->gen++;
	return idx;
}

#define HOST_DETACHED 2 /* a reload left it unmonitored: no new data, open steps still emitted */

static void tab_remove(struct tab *t, uint32_t idx)
{
	if (t->hosts[idx].live != HOST_DETACHED)
		ix_delete(t, idx, t->hosts[idx].hash);
	t->hosts[idx].live = 0;
	t->freestk[t->nfree++] = idx;
	t->nlive--;
	t->gen++;
}

/* The step data of host idx for step k in slot s, marking it dirty on the
 * first write of the step. */
static inline struct mm_hoststep *touch(struct mm_agg *a, struct tab *t, uint32_t idx, uint64_t k, unsigned s)
{
	struct slot *sl = &t->slots[(size_t)idx * a->nslots + s];

	if (sl->step1 != k + 1) {
		/* clean (step1 == 0): the slot of step k holds nothing else */
		sl->step1 = k + 1;
		t->dirty[(size_t)s * t->cap + t->ndirty[s]++] = idx;
		t->hosts[idx].ndirty++;
	}
	return &sl->hs;
}

/* ---- the externals' rank heap ---------------------------------------- */

static void heap_down(struct tab *t, uint32_t i)
{
	uint32_t n = t->nlive;
	struct hent e = t->heap[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= n)
			break;
		if (c + 1 < n && t->heap[c + 1].key < t->heap[c].key)
			c++;
		if (t->heap[c].key >= e.key)
			break;
		t->heap[i] = t->heap[c];
		i = c;
	}
	t->heap[i] = e;
}

static void heap_up(struct tab *t, uint32_t i)
{
	struct hent e = t->heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / 2;

		if (t->heap[p].key <= e.key)
			break;
		t->heap[i] = t->heap[p];
		i = p;
	}
	t->heap[i] = e;
}

/* Pool index of the external with the smallest count. */
static uint32_t heap_min(struct tab *t)
{
	for (;;) {
		uint64_t r = t->hosts[t->heap[0].idx].rank;

		/* every key <= its count, so a current root key is <= every count */
		if (t->heap[0].key == r)
			return t->heap[0].idx;
		t->heap[0].key = r;
		heap_down(t, 0);
	}
}

/* ---- one record ------------------------------------------------------ */

/* How one record splits over the open steps. */
struct split {
	unsigned n;                /* parts */
	uint64_t k[MAX_SLOTS];     /* step */
	unsigned s[MAX_SLOTS];     /* its slot */
	uint64_t bytes[MAX_SLOTS], pkts[MAX_SLOTS];
	uint64_t ka;               /* anchor step: flow count, sketches, top-K */
	unsigned sa;
};

struct rec {
	const struct qrec *f;
	struct split sp;
	uint64_t flows;            /* scaled flow count: the sampling rate */
	unsigned pbase;            /* MM_C_<proto>_BYTES_IN */
	int syn, small, auth, amp; /* amp: slot or -1 */
};

static inline unsigned slot_of(const struct mm_agg *a, uint64_t k)
{
	/* k is open: cur - k < nslots, so no division is needed */
	uint32_t d = (uint32_t)(a->cur - k);

	return a->cur_slot >= d ? a->cur_slot - d : a->cur_slot + a->nslots - d;
}

static void split_record(struct mm_agg *a, const struct qrec *f, struct split *sp)
{
	uint64_t start = f->start, end = f->end, d, t[MAX_SLOTS], cum, pb, pp, sum;
	uint64_t ks, kt;
	int late, future;
	unsigned n = 0, icur = MAX_SLOTS;

	late = start < a->lo_ms;
	future = end > start ? end > a->hi_ms : start >= a->hi_ms;
	a->st.late_records += (uint64_t)late;
	a->st.future_records += (uint64_t)future;

	/* The anchor: the step of the start, or the current step when the
	 * start is outside the open range.  Found by stepping through at
	 * most nslots boundaries, not by a 64-bit division. */
	if (late || start >= a->hi_ms) {
		ks = a->cur;
		kt = a->cur * a->step_ms;
	} else {
		ks = a->lo;
		kt = a->lo_ms;
		while (start >= kt + a->step_ms) {
			ks++;
			kt += a->step_ms;
		}
	}
	sp->ka = ks;
	sp->sa = slot_of(a, ks);

	/* Most records: no duration, or inside one open step. */
	if (end == start || (!late && !future && end <= kt + a->step_ms)) {
		sp->n = 1;
		sp->k[0] = ks;
		sp->s[0] = sp->sa;
		sp->bytes[0] = f->bytes;
		sp->pkts[0] = f->pkts;
		return;
	}

	/* Time of [start, end) in each open step it covers; the loop runs
	 * over open steps, at most nslots, whatever the duration. */
	d = end - start;
	sum = 0;
	if (!(start >= a->hi_ms || end <= a->lo_ms)) {
		uint64_t k = late ? a->lo : ks, kb = late ? a->lo_ms : kt;

		for (; k <= a->cur && kb < end; k++, kb += a->step_ms) {
			uint64_t b = start > kb ? start : kb;
			uint64_t e = end < kb + a->step_ms ? end : kb + a->step_ms;

			t[n] = e - b;
			sp->k[n] = k;
			if (k == a->cur)
				icur = n;
			sum += t[n];
			n++;
		}
	}
	/* Time before the oldest open step (late) or after the current one
	 * (future) is counted in the current step. */
	if (sum < d) {
		if (icur == MAX_SLOTS) {
			icur = n;
			t[n] = 0;
			sp->k[n] = a->cur;
			n++;
		}
		t[icur] += d - sum;
	}
	/* Cumulative rounding: part i gets floor(V * T_i / d) - floor(V *
	 * T_{i-1} / d) where T_i is the time up to the end of part i, so the
	 * parts are within 1 of proportional and the last one completes
	 * the total exactly. */
	cum = pb = pp = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t nb, np;

		cum += t[i];
		nb = i + 1 == n ? f->bytes : mm_muldiv(f->bytes, cum, d);
		np = i + 1 == n ? f->pkts : mm_muldiv(f->pkts, cum, d);
		sp->bytes[i] = nb - pb;
		sp->pkts[i] = np - pp;
		sp->s[i] = slot_of(a, sp->k[i]);
		pb = nb;
		pp = np;
	}
	sp->n = n;
}

static void apply_in(struct mm_agg *a, struct tab *t, uint32_t idx, const struct rec *r)
{
	const struct qrec *f = r->f;
	struct mm_hoststep *hs;

	for (unsigned i = 0; i < r->sp.n; i++) {
		uint64_t b = r->sp.bytes[i], p = r->sp.pkts[i];

		if ((b | p) == 0)
			continue; /* keeps "dirty" meaning "has data" */
		hs = touch(a, t, idx, r->sp.k[i], r->sp.s[i]);
		add(&hs->ctr[MM_C_BYTES_IN], b);
		add(&hs->ctr[MM_C_PKTS_IN], p);
		add(&hs->ctr[r->pbase], b);
		add(&hs->ctr[r->pbase + 2], p);
		if (r->syn)
			add(&hs->ctr[MM_C_SYN_PKTS_IN], p);
		if (r->amp >= 0) {
			add(&hs->ctr[MM_C_AMP_BYTES_IN + r->amp], b);
			add(&hs->ctr[MM_C_AMP_PKTS_IN + r->amp], p);
		}
	}
	hs = touch(a, t, idx, r->sp.ka, r->sp.sa);
	add(&hs->ctr[MM_C_FLOWS_IN], r->flows);
	add(&hs->ctr[r->pbase + 4], r->flows);
	if (r->syn)
		add(&hs->ctr[MM_C_SYN_FLOWS_IN], r->flows);
	if (r->small)
		add(&hs->ctr[MM_C_SMALL_FLOWS_IN], r->flows);
	if (r->auth)
		add(&hs->ctr[MM_C_AUTH_FLOWS_IN], r->flows);
	if (r->amp >= 0)
		add(&hs->ctr[MM_C_AMP_FLOWS_IN + r->amp], r->flows);
	mm_hll_add_hash(&hs->hll[MM_S_PEERS_IN], mm_hll_hash(f->src, 16));
	mm_topk_addr_add(hs->peers_in, f->src, f->pkts);
	mm_topk_port_add(hs->ports[MM_T_DPORTS_IN], f->dport, f->pkts);
	mm_topk_port_add(hs->ports[MM_T_SPORTS_IN], f->sport, f->pkts);
}

static void apply_out(struct mm_agg *a, struct tab *t, uint32_t idx, const struct rec *r)
{
	const struct qrec *f = r->f;
	struct mm_hoststep *hs;
	/* the port is hashed as two bytes, big-endian, on every host */
	uint8_t port[2] = { (uint8_t)(f->dport >> 8), (uint8_t)f->dport };

	for (unsigned i = 0; i < r->sp.n; i++) {
		uint64_t b = r->sp.bytes[i], p = r->sp.pkts[i];

		if ((b | p) == 0)
			continue;
		hs = touch(a, t, idx, r->sp.k[i], r->sp.s[i]);
		add(&hs->ctr[MM_C_BYTES_OUT], b);
		add(&hs->ctr[MM_C_PKTS_OUT], p);
		add(&hs->ctr[r->pbase + 1], b);
		add(&hs->ctr[r->pbase + 3], p);
		if (r->syn)
			add(&hs->ctr[MM_C_SYN_PKTS_OUT], p);
	}
	hs = touch(a, t, idx, r->sp.ka, r->sp.sa);
	add(&hs->ctr[MM_C_FLOWS_OUT], r->flows);
	add(&hs->ctr[r->pbase + 5], r->flows);
	if (r->syn)
		add(&hs->ctr[MM_C_SYN_FLOWS_OUT], r->flows);
	if (r->small)
		add(&hs->ctr[MM_C_SMALL_FLOWS_OUT], r->flows);
	if (r->auth)
		add(&hs->ctr[MM_C_AUTH_FLOWS_OUT], r->flows);
	mm_hll_add_hash(&hs->hll[MM_S_PEERS_OUT], mm_hll_hash(f->dst, 16));
	mm_hll_add_hash(&hs->hll[MM_S_DPORTS_OUT], mm_hll_hash(port, 2));
	mm_topk_addr_add(hs->peers_out, f->dst, f->pkts);
	mm_topk_port_add(hs->ports[MM_T_DPORTS_OUT], f->dport, f->pkts);
}

/* A monitored host's pool index (inserting it if needed), or NONE, from
 * the index lookup (idx, pos) just made.  *mon tells whether addr is
 * monitored at all. */
static inline uint32_t mon_get(struct mm_agg *a, const uint8_t addr[16], uint32_t h, uint32_t idx, uint32_t pos,
			       int *mon)
{
	int g;

	if (idx != NONE) {
		*mon = 1;
		return idx;
	}
	g = lookup_group(a, addr);
	*mon = g >= 0;
	if (g < 0)
		return NONE;
	idx = tab_insert(&a->mon, addr, h, pos, (unsigned)g);
	if (idx == NONE) {
		a->st.hosts_dropped++;
		return NONE;
	}
	if (a->fast != NULL)
		mm_fast_host_new(a->fast, idx, addr, (unsigned)g);
	a->st.hosts_tracked = a->mon.nlive;
	return idx;
}

/* Space-saving admission of an external source; returns its pool index. */
static uint32_t ext_admit(struct mm_agg *a, const uint8_t addr[16], uint32_t h, uint32_t pos, uint64_t flows)
{
	struct tab *t = &a->ext;
	struct host *ho;
	uint32_t idx;
	uint64_t rank;

	if (t->nlive < t->cap) {
		idx = tab_insert(t, addr, h, pos, 0);
		t->hosts[idx].rank = flows;
		t->heap[t->nlive - 1].key = flows;
		t->heap[t->nlive - 1].idx = idx;
		heap_up(t, t->nlive - 1);
		a->st.external_tracked = t->nlive;
		return idx;
	}
	/* Full: the smallest count gives way and the newcomer inherits it.
	 * The loser's data in the open steps is dropped, not handed to the
	 * newcomer; its slots stay on their dirty lists (zeroed), so a list
	 * never holds an index twice. */
	idx = heap_min(t);
	ho = &t->hosts[idx];
	rank = ho->rank;
	ix_delete(t, idx, ho->hash);
	for (uint32_t s = 0; s < a->nslots; s++) {
		struct slot *sl = &t->slots[(size_t)idx * a->nslots + s];
		if (sl->step1 != 0)
			memset(&sl->hs, 0, sizeof(sl->hs));
	}
	(void)ix_find(t, addr, h, &pos); /* the deletion may have moved the hole */
	memcpy(ho->addr, addr, 16);
	ho->hash = h;
	memcpy(t->ix[pos].addr, addr, 16);
	t->ix[pos].hash = h;
	t->ix[pos].idx1 = idx + 1;
	t->gen++;
	add(&rank, flows);
	ho->rank = rank;
	t->heap[0].key = rank;
	heap_down(t, 0);
	a->st.external_evicted++;
	return idx;
}

/* Count one record (the pipeline's last stage). */
static void count_record(struct mm_agg *a, const struct qrec *f)
{
	struct rec r;
	uint32_t di, si, ei = NONE, pos;
	int dmon, smon;

	a->st.records++;
	r.f = f;
	r.flows = f->rate;
	r.pbase = MM_C_TCP_BYTES_IN + 6 * f->pclass;
	r.syn = f->proto == 6 && (f->flags & 0x12) == 0x02; /* SYN without ACK */
	r.small = f->packets <= 3;
	r.auth = f->proto == 6 && bit_test(a->auth_bits, f->dport);
	r.amp = f->amp;

	if (f->hinted && f->mgen == a->mon.gen) {
		di = f->di;
		pos = f->dpos;
	} else {
		di = ix_find(&a->mon, f->dst, f->hd, &pos);
	}
	di = mon_get(a, f->dst, f->hd, di, pos, &dmon);
	if (f->hinted && f->mgen == a->mon.gen) { /* dst was not inserted */
		si = f->si;
		pos = f->spos;
	} else {
		si = ix_find(&a->mon, f->src, f->hs, &pos);
	}
	si = mon_get(a, f->src, f->hs, si, pos, &smon);
	if (!smon && a->ext.cap > 0) {
		/* An external source: tracked if already known; admitted
		 * (space-saving) when it sends to a monitored host. */
		if (f->ext_hinted && f->egen == a->ext.gen) {
			ei = f->ei;
			pos = f->epos;
		} else {
			ei = ix_find(&a->ext, f->src, f->hs, &pos);
		}
		if (ei != NONE)
			add(&a->ext.hosts[ei].rank, r.flows);
		else if (dmon)
			ei = ext_admit(a, f->src, f->hs, pos, r.flows);
	}
	if (!dmon && !smon && ei == NONE) {
		a->st.records_unmonitored++;
		return;
	}
	if (a->fast != NULL && (di != NONE || (si != NONE && a->fast_out[f->pclass]))) {
		struct mm_fast_rec fr = { f->start, f->end, f->bytes, f->pkts, r.flows, f->pclass,
					  (uint8_t)r.syn, f->amp };

		if (di != NONE)
			mm_fast_count(a->fast, di, 0, &fr);
		if (si != NONE && a->fast_out[f->pclass])
			mm_fast_count(a->fast, si, 1, &fr);
	}
	split_record(a, f, &r.sp);
	if (di != NONE)
		apply_in(a, &a->mon, di, &r);
	if (si != NONE)
		apply_out(a, &a->mon, si, &r);
	else if (ei != NONE)
		apply_out(a, &a->ext, ei, &r);
}

/* ---- the pipeline ------------------------------------------------------ */

static inline void pf(const void *p)
{
	__builtin_prefetch(p, 1, 3);
}

/* Slot the record's flow count will go to (its anchor step). */
static inline unsigned anchor_slot(const struct mm_agg *a, uint64_t start)
{
	uint64_t kt = a->lo_ms + a->step_ms;
	unsigned s = slot_of(a, a->lo);

	if (start < a->lo_ms || start >= a->hi_ms)
		return a->cur_slot;
	while (start >= kt) {
		kt += a->step_ms;
		s = s + 1 == a->nslots ? 0 : s + 1;
	}
	return s;
}

/* Bit i: line i of a slot (17 lines, 64-byte aligned) holds some of
 * [off, off + len). */
static uint32_t line_mask(size_t off, size_t len)
{
	uint32_t m = 0;

	for (size_t l = off / 64; l * 64 < off + len; l++)
		m |= 1u << l;
	return m;
}

#define SLOT_OFF(field) offsetof(struct slot, hs.field)

/* The lines counting writes, per side and protocol family (and for the
 * amplification counters per slot), worked out once: 7-9 of a slot's 17. */
static void build_pf_masks(struct mm_agg *a)
{
	static const unsigned pbase[4] = { MM_C_TCP_BYTES_IN, MM_C_UDP_BYTES_IN, MM_C_ICMP_BYTES_IN,
					   MM_C_OTHER_BYTES_IN };

	_Static_assert(sizeof(struct slot) / 64 <= 32, "slot lines fit a mask");
	for (unsigned out = 0; out < 2; out++)
		for (unsigned p = 0; p < 4; p++) {
			uint32_t m = line_mask(0, SLOT_OFF(ctr[MM_C_FLOWS_OUT + 1]));

			m |= line_mask(SLOT_OFF(ctr[pbase[p]]), 6 * sizeof(uint64_t));
			m |= line_mask(SLOT_OFF(ctr[MM_C_SYN_FLOWS_IN]),
				       (MM_C_AUTH_FLOWS_OUT + 1 - MM_C_SYN_FLOWS_IN) * sizeof(uint64_t));
			if (!out) {
				m |= line_mask(SLOT_OFF(hll[MM_S_PEERS_IN]), sizeof(struct mm_hll));
				m |= line_mask(SLOT_OFF(peers_in), MM_TOPK * sizeof(struct mm_topk_addr));
				m |= line_mask(SLOT_OFF(ports[MM_T_DPORTS_IN]), 2 * MM_TOPK * sizeof(struct mm_topk_port));
			} else {
				m |= line_mask(SLOT_OFF(hll[MM_S_PEERS_OUT]), 2 * sizeof(struct mm_hll));
				m |= line_mask(SLOT_OFF(peers_out), MM_TOPK * sizeof(struct mm_topk_addr));
				m |= line_mask(SLOT_OFF(ports[MM_T_DPORTS_OUT]), MM_TOPK * sizeof(struct mm_topk_port));
			}
			a->pf_mask[out][p] = m;
		}
	for (unsigned i = 0; i < MM_AMP_SLOTS; i++)
		a->pf_amp[i] = line_mask(SLOT_OFF(ctr[MM_C_AMP_BYTES_IN + i]), 8) |
			       line_mask(SLOT_OFF(ctr[MM_C_AMP_PKTS_IN + i]), 8) |
			       line_mask(SLOT_OFF(ctr[MM_C_AMP_FLOWS_IN + i]), 8);
}

/* Prefetch the lines of host idx's slot s that counting will write.
 * Always inlined into hint_record: as a function of its own GCC 12 finds
 * it "pure" (a prefetch is no side effect to it) and deletes every call. */
static inline __attribute__((always_inline)) void pf_side(const struct mm_agg *a, const struct tab *t,
							  uint32_t idx, unsigned s, int out, const struct qrec *f)
{
	const char *sl = (const char *)&t->slots[(size_t)idx * a->nslots + s];
	uint32_t m = a->pf_mask[out][f->pclass];

	if (!out && f->amp >= 0)
		m |= a->pf_amp[f->amp];
	while (m != 0) {
		pf(sl + 64 * __builtin_ctz(m));
		m &= m - 1;
	}
}

/* Middle stage: find the hosts (read only) and prefetch their step data. */
static void hint_record(const struct mm_agg *a, struct qrec *f)
{
	unsigned s = anchor_slot(a, f->start);

	f->hinted = 1;
	f->mgen = a->mon.gen;
	f->di = ix_find(&a->mon, f->dst, f->hd, &f->dpos);
	if (f->di != NONE)
		pf_side(a, &a->mon, f->di, s, 0, f);
	f->si = ix_find(&a->mon, f->src, f->hs, &f->spos);
	if (a->fast != NULL) {
		if (f->di != NONE)
			mm_fast_prefetch(a->fast, f->di, f->end);
		if (f->si != NONE && a->fast_out[f->pclass])
			mm_fast_prefetch(a->fast, f->si, f->end);
	}
	if (f->si != NONE) {
		pf_side(a, &a->mon, f->si, s, 1, f);
	} else if (a->ext.cap > 0) {
		f->ext_hinted = 1;
		f->egen = a->ext.gen;
		f->ei = ix_find(&a->ext, f->src, f->hs, &f->epos);
		if (f->ei != NONE) {
			pf(&a->ext.hosts[f->ei]);
			pf_side(a, &a->ext, f->ei, s, 1, f);
		}
	}
}

void mm_agg_sync(struct mm_agg *a)
{
	while (a->qn > 0) {
		count_record(a, &a->q[a->qtail]);
		a->qtail = (a->qtail + 1) & (QLEN - 1);
		a->qn--;
	}
}

void mm_agg_add(struct mm_agg *a, const struct mm_flow *f)
{
	struct qrec *q;

	if (a->qn == 2 * PF_DIST) {
		count_record(a, &a->q[a->qtail]);
		a->qtail = (a->qtail + 1) & (QLEN - 1);
		a->qn--;
	}
	q = &a->q[(a->qtail + a->qn) & (QLEN - 1)];
	memcpy(q->src, f->src_addr, 16);
	memcpy(q->dst, f->dst_addr, 16);
	q->bytes = f->bytes_scaled;
	q->pkts = f->packets_scaled;
	q->packets = f->packets;
	/* flow.h promises start <= end; a swap costs nothing if one lies */
	q->start = f->start_ms <= f->end_ms ? f->start_ms : f->end_ms;
	q->end = f->start_ms <= f->end_ms ? f->end_ms : f->start_ms;
	q->rate = f->sampling_rate > 1 ? f->sampling_rate : 1;
	q->sport = f->src_port;
	q->dport = f->dst_port;
	q->proto = f->proto;
	q->flags = f->tcp_flags;
	q->pclass = f->proto == 6 ? 0 : f->proto == 17 ? 1 : (f->proto == 1 || f->proto == 58) ? 2 : 3;
	q->amp = (int8_t)(f->proto == 17 && bit_test(a->amp_bits, f->src_port) ? mm_amp_slot(f->src_port) : -1);
	q->hd = (uint32_t)mm_siphash13(a->key, q->dst, 16);
	q->hs = (uint32_t)mm_siphash13(a->key, q->src, 16);
	q->hinted = q->ext_hinted = 0;
	pf(&a->mon.ix[q->hd & a->mon.ixmask]);
	pf(&a->mon.ix[q->hs & a->mon.ixmask]);
	if (a->ext.cap > 0)
		pf(&a->ext.ix[q->hs & a->ext.ixmask]);
	pf(fast_entry(a, q->dst));
	pf(fast_entry(a, q->src));
	a->qn++;
	if (a->qn > PF_DIST)
		hint_record(a, &a->q[(a->qtail + a->qn - 1 - PF_DIST) & (QLEN - 1)]);
}

/* ---- closing steps ---------------------------------------------------- */

static int ext_emitted(const struct mm_agg *a, const struct mm_hoststep *hs)
{
	if ((hs->ctr[MM_C_FLOWS_OUT] | hs->ctr[MM_C_BYTES_OUT] | hs->ctr[MM_C_PKTS_OUT]) == 0)
		return 0; /* zeroed by an eviction */
	return hs->ctr[MM_C_FLOWS_OUT] >= a->ext_min_flows;
}

/* Emit step k's data from table t, clean the slot, drop hosts left empty. */
static void close_tab(struct mm_agg *a, struct tab *t, uint64_t k, unsigned s, int external,
		      const struct mm_step_sink *sink)
{
	uint32_t *list = &t->dirty[(size_t)s * t->cap];

	for (uint32_t j = 0; j < t->ndirty[s]; j++) {
		uint32_t idx = list[j];
		struct host *ho = &t->hosts[idx];
		struct slot *sl = &t->slots[(size_t)idx * a->nslots + s];

		if (sink != NULL && sink->host != NULL && (!external || ext_emitted(a, &sl->hs)))
			sink->host(sink->arg, k, ho->addr, external ? 0 : ho->group, external, &sl->hs);
		memset(&sl->hs, 0, sizeof(sl->hs));
		sl->step1 = 0;
		if (--ho->ndirty == 0)
			tab_remove(t, idx);
	}
	t->ndirty[s] = 0;
}

/* Externals: rebuild the heap from the live ones with halved counts. */
static void ext_rebuild(struct tab *t)
{
	uint32_t n = 0;

	for (uint32_t idx = 0; idx < t->hw; idx++) {
		if (!t->hosts[idx].live)
			continue;
		t->hosts[idx].rank >>= 1;
		t->heap[n].key = t->hosts[idx].rank;
		t->heap[n].idx = idx;
		n++;
	}
	/* n == t->nlive; Floyd's heapify */
	for (uint32_t i = n / 2; i-- > 0;)
		heap_down(t, i);
}

static void close_step(struct mm_agg *a, uint64_t k, const struct mm_step_sink *sink)
{
	unsigned s = slot_of(a, k);
	uint32_t n = a->mon.ndirty[s];

	if (a->ext.cap > 0) {
		const uint32_t *list = &a->ext.dirty[(size_t)s * a->ext.cap];
		for (uint32_t j = 0; j < a->ext.ndirty[s]; j++)
			n += (uint32_t)ext_emitted(a, &a->ext.slots[(size_t)list[j] * a->nslots + s].hs);
	}
	if (sink != NULL && sink->begin != NULL)
		sink->begin(sink->arg, k, n);
	close_tab(a, &a->mon, k, s, 0, sink);
	if (a->ext.cap > 0) {
		close_tab(a, &a->ext, k, s, 1, sink);
		ext_rebuild(&a->ext);
	}
	a->st.steps_closed++;
	a->st.hosts_tracked = a->mon.nlive;
	a->st.external_tracked = a->ext.nlive;
	if (sink != NULL && sink->end != NULL)
		sink->end(sink->arg, k, &a->st);
}

static void set_clock(struct mm_agg *a, uint64_t k)
{
	a->cur = k;
	a->lo = k >= a->late_steps ? k - a->late_steps : 0;
	a->cur_slot = (uint32_t)(k % a->nslots);
	a->lo_ms = a->lo * a->step_ms;
	/* saturate: a clock near UINT64_MAX must not wrap the bound */
	a->hi_ms = k + 1 <= UINT64_MAX / a->step_ms ? (k + 1) * a->step_ms : UINT64_MAX;
}

void mm_agg_advance(struct mm_agg *a, uint64_t now_ms, const struct mm_step_sink *sink)
{
	uint64_t k = now_ms / a->step_ms, nlo;

	mm_agg_sync(a); /* records still in the pipeline belong to the open steps */

	if (k <= a->cur)
		return; /* same step, or the clock went back: keep what is open */
	nlo = k >= a->late_steps ? k - a->late_steps : 0;
	/* Only steps that were open close and are emitted: at most nslots,
	 * however far the clock jumped.  Steps in between never opened and
	 * are skipped. */
	for (uint64_t s = a->lo; s < nlo && s <= a->cur; s++)
		close_step(a, s, sink);
	set_clock(a, k);
}

void mm_agg_flush(struct mm_agg *a, const struct mm_step_sink *sink)
{
	mm_agg_sync(a);
	for (uint64_t s = a->lo; s <= a->cur; s++)
		close_step(a, s, sink);
}

/* ---- life cycle -------------------------------------------------------- */

void mm_agg_config_default(struct mm_agg_config *c)
{
	memset(c, 0, sizeof(*c));
	c->step_ms = 10000;
	c->late_steps = 1;
	c->max_hosts = 1000000;
	c->max_external = 65536;
	c->external_min_flows = 100;
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

struct mm_agg *mm_agg_new(const struct mm_agg_config *cfg, uint64_t now_ms)
{
	struct mm_agg *a;

	if (cfg == NULL || cfg->step_ms == 0 || cfg->late_steps >= MAX_SLOTS || cfg->max_hosts == 0 ||
	    cfg->max_hosts > MAX_TABLE ||
	    cfg->max_external > MAX_TABLE || (cfg->nprefixes > 0 && cfg->prefixes == NULL)) {
		errno = EINVAL;
		return NULL;
	}
	for (unsigned i = 0; i < cfg->nprefixes; i++)
		if (cfg->prefixes[i].len > 128) {
			errno = EINVAL;
			return NULL;
		}
	a = calloc(1, sizeof(*a));
	if (a == NULL)
		return NULL;
	a->mem = sizeof(*a);
	a->step_ms = cfg->step_ms;
	a->late_steps = cfg->late_steps;
	a->nslots = cfg->late_steps + 1;
	a->ext_min_flows = cfg->external_min_flows;
	a->fast = cfg->fast;
	mm_agg_fast_sides(a);
	hash_key(a->key);
	build_pf_masks(a);
	for (const uint16_t *p = mm_auth_ports; *p != 0; p++)
		bit_set(a->auth_bits, *p);
	for (const struct mm_amp_vector *v = mm_amp_vectors; v->name != NULL; v++)
		bit_set(a->amp_bits, v->port);
	if (build_prefixes(a, cfg) < 0 || tab_init(a, &a->mon, cfg->max_hosts, 0) < 0 ||
	    tab_init(a, &a->ext, cfg->max_external, 1) < 0)
		goto err;
	set_clock(a, now_ms / a->step_ms);
	return a;
err:
	mm_agg_free(a);
	errno = ENOMEM;
	return NULL;
}

void mm_agg_free(struct mm_agg *a)
{
	if (a == NULL)
		return;
	tab_free(&a->mon);
	tab_free(&a->ext);
	mm_lpm_free(a->lpm);
	free(a->fast4);
	free(a->fast6);
	free(a);
}

int mm_agg_set_prefixes(struct mm_agg *a, const struct mm_prefix *prefixes, const uint16_t *prefix_group,
			unsigned nprefixes)
{
	struct mm_agg_config c;
	struct mm_lpm *lpm = a->lpm;
	int32_t *f4 = a->fast4, *f6 = a->fast6;
	size_t mem = a->mem;

	for (unsigned i = 0; i < nprefixes; i++)
		if (prefixes[i].len > 128)
			return -1;
	/* Records already taken are counted with the prefixes they came under. */
	mm_agg_sync(a);
	mm_agg_config_default(&c);
	c.prefixes = prefixes;
	c.prefix_group = prefix_group;
	c.nprefixes = nprefixes;
	a->lpm = NULL;
	a->fast4 = a->fast6 = NULL;
	if (build_prefixes(a, &c) < 0) {
		mm_lpm_free(a->lpm);
		free(a->fast4);
		free(a->fast6);
		a->lpm = lpm;
		a->fast4 = f4;
		a->fast6 = f6;
		a->mem = mem;
		return -1;
	}
	a->mem = mem;
	mm_lpm_free(lpm);
	free(f4);
	free(f6);
	/* Tracked hosts follow: a new group, or out of the index when no
	 * longer monitored (their open steps are still emitted, then they
	 * go; a later record finds them unmonitored). */
	for (uint32_t i = 0; i < a->mon.hw; i++) {
		struct host *ho = &a->mon.hosts[i];
		int g;

		if (ho->live != 1)
			continue;
		g = lookup_group(a, ho->addr);
		if (g >= 0) {
			ho->group = (uint16_t)g;
			if (a->fast != NULL)
				mm_fast_host_group(a->fast, i, (unsigned)g);
		} else {
			if (a->fast != NULL)
				mm_fast_host_forget(a->fast, i);
			ix_delete(&a->mon, i, ho->hash);
			ho->live = HOST_DETACHED;
		}
	}
	a->mon.gen++;
	return 0;
}

void mm_agg_fast_sides(struct mm_agg *a)
{
	for (int pc = 0; pc < 4 && a->fast != NULL; pc++)
		a->fast_out[pc] = (uint8_t)mm_fast_wants_out(a->fast, pc);
}

const struct mm_agg_stats *mm_agg_stats(const struct mm_agg *a)
{
	return &a->st;
}

size_t mm_agg_memory(const struct mm_agg *a)
{
	return a->mem;
}
