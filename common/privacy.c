/*
 * privacy.c - protected prefixes and pseudonyms for the collector's
 * records (privacy.h, docs/privacy.md).  Pure: no I/O, no clock.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "mamori/privacy.h"

/*
 * The cache: two set-associative tables, filled first in, first out within
 * a set so that a hit writes nothing.  A set's meta byte says how many ways
 * are filled and which goes next.  A hit costs what the memory access
 * costs, so the layout is about cache lines:
 *  - IPv4 (most traffic): 7 ways of (address, pseudonym) and the meta byte
 *    in one 64-byte line: one line per lookup;
 *  - IPv6: 4 ways of 16-byte addresses in one line, their pseudonyms in the
 *    next, the meta bytes in an array apart.
 * mm_privacy_flow prefetches both ends' sets before looking either up, so
 * the two misses overlap.
 */
#define WAYS4 7
#define WAYS6 4

struct set4 {
	_Alignas(64) uint32_t addr[WAYS4]; /* network order, as stored */
	uint32_t pseudo[WAYS4];
	uint8_t meta;
};
_Static_assert(sizeof(struct set4) == 64, "an IPv4 set is one cache line");

struct set6 {
	uint8_t addr[WAYS6][16];
	uint8_t pseudo[WAYS6][16];
};

#define META_FILLED(m) ((unsigned)(m) >> 4) /* ways in use */
#define META_NEXT(m) ((unsigned)(m) & 15)   /* the way a full set replaces next */

/* The protected prefixes. */
struct mm_protect {
	struct mm_lpm *lpm;            /* NULL: nothing protected */
	/* "Maybe protected" by the top 16 bits: an IPv4-mapped address by its
	 * IPv4 address's, any other by its own.  A clear bit answers without
	 * the trie (~100 node steps for an IPv4-mapped address). */
	uint8_t maybe4[65536 / 8], maybe6[65536 / 8];
	size_t bytes;
};

struct mm_privacy {
	struct mm_cryptopan *cp;       /* borrowed; NULL: addresses stay real */
	struct mm_protect *prot;       /* never NULL */
	struct set4 *c4;               /* n4 sets, 64-byte aligned; NULL: no cache */
	struct set6 *c6;               /* n6 sets */
	uint8_t *meta6;
	uint32_t n4, n6;
	uint64_t seed[2];              /* keyed set index: a sender cannot aim at one set */
	struct mm_privacy_stats st;
};

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static inline int is_v4mapped(const uint8_t a[16])
{
	return memcmp(a, v4mapped, 12) == 0;
}

/* The prefix's first min(len, 96) bits are ::ffff:0:0/96's: it holds
 * IPv4-mapped addresses. */
static int holds_v4(const struct mm_prefix *p)
{
	unsigned bits = p->len < 96 ? p->len : 96, full = bits / 8, rest = bits % 8;

	if (memcmp(p->addr, v4mapped, full) != 0)
		return 0;
	if (rest != 0) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));
		if ((p->addr[full] & m) != (v4mapped[full] & m))
			return 0;
	}
	return 1;
}

static void mark(uint8_t *bits, unsigned top16, unsigned len)
{
	unsigned cnt = len <= 16 ? 1u << (16 - len) : 1u, b0 = top16 & ~(cnt - 1);

	for (unsigned b = b0; b < b0 + cnt; b++)
		bits[b / 8] |= (uint8_t)(1u << (b % 8));
}

static inline int marked(const uint8_t *bits, unsigned b)
{
	return (bits[b / 8] >> (b % 8)) & 1;
}

/* n sets of `size` bytes, 64-byte aligned, not zeroed (the meta bytes say
 * what is filled).  Every lookup lands on a random set: with 4 KiB pages
 * each would also miss the TLB, so huge pages are asked for, as
 * aggregate.c's big_alloc does (a hint, fine if refused). */
static void *table_alloc(uint32_t n, size_t size)
{
	size_t bytes = (size_t)n * size;
	void *t = aligned_alloc(64, bytes);

#ifdef MADV_HUGEPAGE
	if (t != NULL && bytes >= (2u << 20)) {
		uintptr_t lo = ((uintptr_t)t + 4095) & ~(uintptr_t)4095, hi = ((uintptr_t)t + bytes) & ~(uintptr_t)4095;
		if (hi > lo)
			(void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
	}
#endif
	return t;
}

struct mm_protect *mm_protect_new(const struct mm_prefix *protect, unsigned n)
{
	struct mm_protect *pr = calloc(1, sizeof(*pr));

	if (pr == NULL)
		return NULL;
	if (n > 0 && (pr->lpm = mm_lpm_new()) == NULL)
		goto err;
	for (unsigned i = 0; i < n; i++) {
		const struct mm_prefix *q = &protect[i];

		if (mm_lpm_insert(pr->lpm, q, 1) < 0)
			goto err;
		pr->bytes += 12u * q->len; /* at most, prefix.h */
		if (holds_v4(q))
			mark(pr->maybe4, (unsigned)q->addr[12] << 8 | q->addr[13], q->len > 96 ? q->len - 96u : 0);
		mark(pr->maybe6, (unsigned)q->addr[0] << 8 | q->addr[1], q->len);
	}
	return pr;
err:
	mm_protect_free(pr);
	return NULL;
}

void mm_protect_free(struct mm_protect *pr)
{
	if (pr == NULL)
		return;
	mm_lpm_free(pr->lpm);
	free(pr);
}

void mm_privacy_swap_protect(struct mm_privacy *p, struct mm_protect **pr)
{
	struct mm_protect *old = p->prot;

	p->prot = *pr;
	*pr = old;
}

struct mm_privacy *mm_privacy_new(const struct mm_prefix *protect, unsigned nprotect, struct mm_cryptopan *cp,
				  uint32_t cache_entries)
{
	struct mm_privacy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->cp = cp;
	if ((p->prot = mm_protect_new(protect, nprotect)) == NULL)
		goto err;
	if (cp != NULL && cache_entries > 0) {
		/* A secret the key alone gives: the pseudonym of a fixed string. */
		static const uint8_t probe[16] = { 'm', 'a', 'm', 'o', 'r', 'i', ' ', 'c',
						   'a', 'c', 'h', 'e', ' ', 's', 'e', 't' };
		uint8_t s[16];

		if (mm_cryptopan_anon(cp, probe, s, 128) < 0)
			goto err;
		memcpy(p->seed, s, 16);
		p->n4 = (cache_entries + WAYS4 - 1) / WAYS4;
		p->n6 = (cache_entries + WAYS6 - 1) / WAYS6;
		p->c4 = table_alloc(p->n4, sizeof(struct set4));
		p->c6 = table_alloc(p->n6, sizeof(struct set6));
		p->meta6 = calloc(p->n6, 1);
		if (p->c4 == NULL || p->c6 == NULL || p->meta6 == NULL)
			goto err;
		for (uint32_t i = 0; i < p->n4; i++)
			p->c4[i].meta = 0;
	}
	return p;
err:
	mm_privacy_free(p);
	return NULL;
}

/* Real addresses and their pseudonyms are not left in freed memory (only
 * the sets with a filled way were ever written). */
void mm_privacy_free(struct mm_privacy *p)
{
	if (p == NULL)
		return;
	mm_protect_free(p->prot);
	if (p->c4 != NULL)
		for (uint32_t i = 0; i < p->n4; i++)
			if (META_FILLED(p->c4[i].meta) != 0)
				memset(&p->c4[i], 0, sizeof(p->c4[i]));
	if (p->c6 != NULL && p->meta6 != NULL)
		for (uint32_t i = 0; i < p->n6; i++)
			if (META_FILLED(p->meta6[i]) != 0)
				memset(&p->c6[i], 0, sizeof(p->c6[i]));
	free(p->c4);
	free(p->c6);
	free(p->meta6);
	free(p);
}

int mm_privacy_protected(const struct mm_privacy *p, const uint8_t addr[16])
{
	const struct mm_protect *pr = p->prot;
	int maybe;

	if (pr->lpm == NULL)
		return 0;
	if (is_v4mapped(addr))
		maybe = marked(pr->maybe4, (unsigned)addr[12] << 8 | addr[13]);
	else
		maybe = marked(pr->maybe6, (unsigned)addr[0] << 8 | addr[1]);
	return maybe && mm_lpm_lookup(pr->lpm, addr) >= 0;
}

static inline uint64_t load64(const uint8_t *b)
{
	uint64_t v;
	memcpy(&v, b, 8);
	return v;
}

/* Set index: a keyed mix (multiply-xorshift) of the address, reduced
 * without a division. */
static inline uint32_t reduce(uint64_t h, uint32_t n)
{
	h ^= h >> 31;
	h *= 0x165667b19e3779f9ull;
	h ^= h >> 29;
	return (uint32_t)(((h >> 32) * n) >> 32);
}

/* The next way to fill, and the meta byte after filling it. */
static inline unsigned fill_way(uint8_t *meta, unsigned ways, uint64_t *evictions)
{
	unsigned m = *meta, n = META_FILLED(m), w;

	if (n < ways) {
		*meta = (uint8_t)((n + 1) << 4);
		return n;
	}
	w = META_NEXT(m);
	*meta = (uint8_t)(ways << 4 | ((w + 1) % ways));
	(*evictions)++;
	return w;
}

static inline uint32_t index4(const struct mm_privacy *p, const uint8_t in[16])
{
	uint32_t a;

	memcpy(&a, in + 12, 4);
	return reduce(((uint64_t)a ^ p->seed[0]) * 0x9e3779b97f4a7c15ull, p->n4);
}

static inline uint32_t index6(const struct mm_privacy *p, const uint8_t in[16])
{
	uint64_t lo, hi;

	memcpy(&lo, in, 8);
	memcpy(&hi, in + 8, 8);
	return reduce(((lo ^ p->seed[0]) * 0x9e3779b97f4a7c15ull ^ hi ^ p->seed[1]) * 0xc2b2ae3d27d4eb4full, p->n6);
}

/* The set `in` looks in: its index, its lines fetched ahead. */
static inline uint32_t prefetch(const struct mm_privacy *p, const uint8_t in[16])
{
	uint32_t i;

	if (is_v4mapped(in)) {
		i = index4(p, in);
		__builtin_prefetch(&p->c4[i]);
	} else {
		i = index6(p, in);
		__builtin_prefetch(&p->c6[i]);
		__builtin_prefetch((const char *)&p->c6[i] + 64);
		__builtin_prefetch(&p->meta6[i]);
	}
	return i;
}

static int lookup4(struct mm_privacy *p, const uint8_t in[16], uint8_t out[16], uint32_t i)
{
	uint32_t a, ps;
	struct set4 *set = &p->c4[i];
	unsigned n = META_FILLED(set->meta);

	memcpy(&a, in + 12, 4);
	for (unsigned w = 0; w < n; w++) {
		if (set->addr[w] == a) {
			memcpy(out, in, 12);
			memcpy(out + 12, &set->pseudo[w], 4);
			p->st.cache_hits++;
			return 0;
		}
	}
	p->st.cache_misses++;
	if (mm_cryptopan_addr(p->cp, in, out) < 0)
		return -1;
	memcpy(&ps, out + 12, 4);
	n = fill_way(&set->meta, WAYS4, &p->st.cache_evictions);
	set->addr[n] = a;
	set->pseudo[n] = ps;
	return 0;
}

static int lookup6(struct mm_privacy *p, const uint8_t in[16], uint8_t out[16], uint32_t i)
{
	struct set6 *set = &p->c6[i];
	unsigned n = META_FILLED(p->meta6[i]);

	for (unsigned w = 0; w < n; w++) {
		if (memcmp(set->addr[w], in, 16) == 0) {
			memcpy(out, set->pseudo[w], 16);
			p->st.cache_hits++;
			return 0;
		}
	}
	p->st.cache_misses++;
	if (mm_cryptopan_addr(p->cp, in, out) < 0)
		return -1;
	n = fill_way(&p->meta6[i], WAYS6, &p->st.cache_evictions);
	memcpy(set->addr[n], in, 16);
	memcpy(set->pseudo[n], out, 16);
	return 0;
}

/* One address, its set index (from prefetch) known. */
static inline int lookup(struct mm_privacy *p, const uint8_t in[16], uint8_t out[16], uint32_t i)
{
	if (p->c4 == NULL) {
		p->st.cache_misses++;
		return mm_cryptopan_addr(p->cp, in, out);
	}
	return is_v4mapped(in) ? lookup4(p, in, out, i) : lookup6(p, in, out, i);
}

int mm_privacy_addr(struct mm_privacy *p, const uint8_t in[16], uint8_t out[16])
{
	if (p->cp == NULL) {
		memset(out, 0, 16);
		return -1;
	}
	return lookup(p, in, out, p->c4 != NULL ? prefetch(p, in) : 0);
}

const struct mm_flow *mm_privacy_flow(struct mm_privacy *p, const struct mm_flow *f, struct mm_flow *tmp)
{
	p->st.records++;
	if (p->prot->lpm != NULL && (mm_privacy_protected(p, f->src_addr) || mm_privacy_protected(p, f->dst_addr))) {
		p->st.dropped++;
		return NULL;
	}
	/* af 0: the record has no addresses (zeros) to hide */
	if (p->cp == NULL || f->af == 0)
		return f;
	/* both ends' sets asked for before either is needed */
	uint32_t si = p->c4 != NULL ? prefetch(p, f->src_addr) : 0, di = p->c4 != NULL ? prefetch(p, f->dst_addr) : 0;
	*tmp = *f;
	if (lookup(p, f->src_addr, tmp->src_addr, si) < 0 || lookup(p, f->dst_addr, tmp->dst_addr, di) < 0) {
		p->st.errors++;
		return NULL;
	}
	p->st.pseudonymised += 2;
	return tmp;
}

const struct mm_privacy_stats *mm_privacy_stats(const struct mm_privacy *p)
{
	return &p->st;
}

uint32_t mm_privacy_cache_size(const struct mm_privacy *p, int af)
{
	return af == 6 ? p->n6 * WAYS6 : p->n4 * WAYS4;
}

size_t mm_privacy_memory(const struct mm_privacy *p)
{
	return sizeof(*p) + (size_t)p->n4 * sizeof(struct set4) + (size_t)p->n6 * (sizeof(struct set6) + 1) +
	       sizeof(*p->prot) + p->prot->bytes;
}

/* ---- the groups ------------------------------------------------------ */

int mm_privacy_map_groups(struct mm_config *c, struct mm_cryptopan *cp, char *err, size_t errlen)
{
	struct mm_prefix *mapped = NULL;
	struct mm_lpm *lpm = NULL;
	char pa[64], pb[64];

	if (c->ngroup_prefixes == 0)
		return 0;
	mapped = malloc(c->ngroup_prefixes * sizeof(*mapped));
	lpm = mm_lpm_new();
	if (mapped == NULL || lpm == NULL) {
		snprintf(err, errlen, "%s: out of memory", c->path);
		goto fail;
	}
	for (unsigned i = 0; i < c->ngroup_prefixes; i++) {
		const struct mm_prefix *p = &c->group_prefixes[i];
		const struct mm_group_cfg *g = &c->groups[c->group_prefix_group[i]];

		if (mm_cryptopan_prefix(cp, p, &mapped[i]) < 0) {
			snprintf(err, errlen, "%s:%d: [group %s] prefix %s cannot be pseudonymised", c->path, g->line,
				 g->name, mm_prefix_str(p, pa, sizeof(pa)));
			goto fail;
		}
		if (mm_prefix_mixes_v4mapped(&mapped[i])) {
			snprintf(err, errlen,
				 "%s:%d: [group %s] prefix %s maps to %s under this key, which covers the IPv4 "
				 "space: split it into longer prefixes",
				 c->path, g->line, g->name, mm_prefix_str(p, pa, sizeof(pa)),
				 mm_prefix_str(&mapped[i], pb, sizeof(pb)));
			goto fail;
		}
		if (mm_lpm_insert(lpm, &mapped[i], c->group_prefix_group[i]) < 0) {
			snprintf(err, errlen, "%s: out of memory", c->path);
			goto fail;
		}
	}
	memcpy(c->group_prefixes, mapped, c->ngroup_prefixes * sizeof(*mapped));
	mm_lpm_free(c->group_lpm);
	c->group_lpm = lpm;
	free(mapped);
	return 0;
fail:
	free(mapped);
	mm_lpm_free(lpm);
	return -1;
}
