/*
 * privacy.c - protected prefixes and pseudonyms for the collector's
 * records (privacy.h, docs/privacy.md).  Pure: no I/O, no clock.
 */
#include <stdlib.h>
#include <string.h>

#include "mamori/privacy.h"

#define WAYS 4

/* One cached pseudonym.  stamp 0 = empty; otherwise when it was last used
 * (the filter's lookup clock), for least-recently-used replacement. */
struct pcache_entry {
	uint8_t addr[16];
	uint8_t pseudo[16];
	uint32_t stamp;
};

struct mm_privacy {
	struct mm_cryptopan *cp;       /* borrowed; NULL: addresses stay real */
	struct mm_lpm *protect;        /* NULL: nothing protected */
	/* "Maybe protected" by the top 16 bits: an IPv4-mapped address by its
	 * IPv4 address's, any other by its own.  A clear bit answers without
	 * the trie (~100 node steps for an IPv4-mapped address). */
	uint8_t maybe4[65536 / 8], maybe6[65536 / 8];
	struct pcache_entry *cache;    /* nsets * WAYS, NULL: no cache */
	uint32_t nsets;
	uint32_t clock;
	uint64_t seed[2];              /* keyed set index: a sender cannot aim at one set */
	size_t lpm_bytes;
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

struct mm_privacy *mm_privacy_new(const struct mm_prefix *protect, unsigned nprotect, struct mm_cryptopan *cp,
				  uint32_t cache_entries)
{
	struct mm_privacy *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->cp = cp;
	if (nprotect > 0) {
		p->protect = mm_lpm_new();
		if (p->protect == NULL)
			goto err;
	}
	for (unsigned i = 0; i < nprotect; i++) {
		const struct mm_prefix *q = &protect[i];

		if (mm_lpm_insert(p->protect, q, 1) < 0)
			goto err;
		p->lpm_bytes += 12u * q->len; /* at most, prefix.h */
		if (holds_v4(q))
			mark(p->maybe4, (unsigned)q->addr[12] << 8 | q->addr[13], q->len > 96 ? q->len - 96u : 0);
		mark(p->maybe6, (unsigned)q->addr[0] << 8 | q->addr[1], q->len);
	}
	if (cp != NULL && cache_entries > 0) {
		/* A secret the key alone gives: the pseudonym of a fixed string. */
		static const uint8_t probe[16] = { 'm', 'a', 'm', 'o', 'r', 'i', ' ', 'c',
						   'a', 'c', 'h', 'e', ' ', 's', 'e', 't' };
		uint8_t s[16];

		if (mm_cryptopan_anon(cp, probe, s, 128) < 0)
			goto err;
		memcpy(p->seed, s, 16);
		p->nsets = (cache_entries + WAYS - 1) / WAYS;
		p->cache = calloc((size_t)p->nsets * WAYS, sizeof(*p->cache));
		if (p->cache == NULL)
			goto err;
	}
	return p;
err:
	mm_privacy_free(p);
	return NULL;
}

void mm_privacy_free(struct mm_privacy *p)
{
	if (p == NULL)
		return;
	mm_lpm_free(p->protect);
	if (p->cache != NULL) {
		/* real addresses and their pseudonyms: do not leave them in freed memory */
		memset(p->cache, 0, (size_t)p->nsets * WAYS * sizeof(*p->cache));
		free(p->cache);
	}
	free(p);
}

int mm_privacy_protected(const struct mm_privacy *p, const uint8_t addr[16])
{
	int maybe;

	if (p->protect == NULL)
		return 0;
	if (is_v4mapped(addr))
		maybe = marked(p->maybe4, (unsigned)addr[12] << 8 | addr[13]);
	else
		maybe = marked(p->maybe6, (unsigned)addr[0] << 8 | addr[1]);
	return maybe && mm_lpm_lookup(p->protect, addr) >= 0;
}

static inline uint64_t load64(const uint8_t *b)
{
	uint64_t v;
	memcpy(&v, b, 8);
	return v;
}

/* Set index: a keyed mix of the address (multiply-xorshift), reduced
 * without a division. */
static inline uint32_t set_of(const struct mm_privacy *p, const uint8_t a[16])
{
	uint64_t h = (load64(a) ^ p->seed[0]) * 0x9e3779b97f4a7c15ull;

	h ^= load64(a + 8) ^ p->seed[1];
	h *= 0xc2b2ae3d27d4eb4full;
	h ^= h >> 31;
	h *= 0x165667b19e3779f9ull;
	h ^= h >> 29;
	return (uint32_t)(((h >> 32) * p->nsets) >> 32);
}

int mm_privacy_addr(struct mm_privacy *p, const uint8_t in[16], uint8_t out[16])
{
	struct pcache_entry *set, *victim;

	if (p->cp == NULL) {
		memset(out, 0, 16);
		return -1;
	}
	if (p->cache == NULL) {
		p->st.cache_misses++;
		return mm_cryptopan_addr(p->cp, in, out);
	}
	if (++p->clock == 0)
		p->clock = 1; /* after 2^32 lookups the order is off once: harmless */
	set = &p->cache[(size_t)set_of(p, in) * WAYS];
	victim = &set[0];
	for (unsigned w = 0; w < WAYS; w++) {
		if (set[w].stamp != 0 && memcmp(set[w].addr, in, 16) == 0) {
			set[w].stamp = p->clock;
			memcpy(out, set[w].pseudo, 16);
			p->st.cache_hits++;
			return 0;
		}
		if (set[w].stamp < victim->stamp)
			victim = &set[w];
	}
	p->st.cache_misses++;
	if (mm_cryptopan_addr(p->cp, in, out) < 0)
		return -1;
	if (victim->stamp != 0)
		p->st.cache_evictions++;
	memcpy(victim->addr, in, 16);
	memcpy(victim->pseudo, out, 16);
	victim->stamp = p->clock;
	return 0;
}

const struct mm_flow *mm_privacy_flow(struct mm_privacy *p, const struct mm_flow *f, struct mm_flow *tmp)
{
	p->st.records++;
	if (p->protect != NULL && (mm_privacy_protected(p, f->src_addr) || mm_privacy_protected(p, f->dst_addr))) {
		p->st.dropped++;
		return NULL;
	}
	/* af 0: the record has no addresses (zeros) to hide */
	if (p->cp == NULL || f->af == 0)
		return f;
	*tmp = *f;
	if (mm_privacy_addr(p, f->src_addr, tmp->src_addr) < 0 || mm_privacy_addr(p, f->dst_addr, tmp->dst_addr) < 0) {
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

uint32_t mm_privacy_cache_size(const struct mm_privacy *p)
{
	return p->nsets * WAYS;
}

size_t mm_privacy_memory(const struct mm_privacy *p)
{
	return sizeof(*p) + (size_t)p->nsets * WAYS * sizeof(struct pcache_entry) + p->lpm_bytes;
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
