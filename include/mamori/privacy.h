/*
 * privacy.h - what may leave the collector, and in which form
 * (docs/privacy.md): records to or from a protected prefix are dropped,
 * and with pseudonymisation on every source and destination address is
 * replaced by its Crypto-PAn pseudonym (cryptopan.h), through a bounded
 * cache.  The collector runs every decoded record through
 * mm_privacy_flow() before aggregation and before --dump, so neither
 * Redis, nor dumps, nor anything downstream sees a real address or a
 * protected record.
 *
 * What stays real, and why: exporter addresses (routers, matched against
 * [exporter] sections, keyed in Redis decoder state), ports, protocols,
 * AS numbers, interface indexes, counters and times.
 *
 * The filter (privacy.c) is pure: no I/O, no clock, no globals.  Reading
 * the key file is I/O and lives apart (privacy_key.c), at the end of this
 * header.
 */
#ifndef MAMORI_PRIVACY_H
#define MAMORI_PRIVACY_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"
#include "mamori/cryptopan.h"
#include "mamori/flow.h"
#include "mamori/prefix.h"

struct mm_privacy_stats {
	uint64_t records;         /* records seen */
	uint64_t dropped;         /* dropped: source or destination in a protected prefix */
	uint64_t pseudonymised;   /* addresses replaced by their pseudonym */
	uint64_t cache_hits;      /* pseudonyms found in the cache */
	uint64_t cache_misses;    /* pseudonyms computed (one AES block per address bit) */
	uint64_t cache_evictions; /* cached pseudonyms replaced by newer ones */
	uint64_t errors;          /* AES failed: the record was dropped, never let out real */
};

struct mm_privacy;

/*
 * New filter.  protect: prefixes whose records are dropped (copied; n may
 * be 0).  cp: the Crypto-PAn instance (borrowed: it must outlive the
 * filter), NULL to keep addresses real.  cache_entries: pseudonyms cached
 * per family (IPv4: rounded up to whole 7-way sets, one 64-byte line
 * each; IPv6: 4-way sets of 32-byte entries; first in, first out within a
 * set), 0 for none.  NULL on no memory.  Memory: mm_privacy_memory(),
 * about 42 bytes per cache entry (both families) plus 16 KiB and the
 * protected prefixes' trie.
 */
struct mm_privacy *mm_privacy_new(const struct mm_prefix *protect, unsigned nprotect, struct mm_cryptopan *cp,
				  uint32_t cache_entries);
void mm_privacy_free(struct mm_privacy *p);

/*
 * New protected prefixes for a running filter (a reload): built apart with
 * mm_protect_new (NULL on no memory; n may be 0: nothing protected), then
 * put in place with mm_privacy_swap_protect, which cannot fail and hands
 * back the old set in *pr for mm_protect_free.  The cache and the
 * counters stay.
 */
struct mm_protect;
struct mm_protect *mm_protect_new(const struct mm_prefix *protect, unsigned n);
void mm_protect_free(struct mm_protect *pr);
void mm_privacy_swap_protect(struct mm_privacy *p, struct mm_protect **pr);

/* The record as it may leave the collector: NULL when it is dropped,
 * `f` itself when nothing changes, else `tmp` holding a copy with the
 * pseudonyms.  No allocation. */
const struct mm_flow *mm_privacy_flow(struct mm_privacy *p, const struct mm_flow *f, struct mm_flow *tmp);

/* One address's pseudonym, through the cache (the filter must have a cp):
 * 0, or -1 (out zeroed). */
int mm_privacy_addr(struct mm_privacy *p, const uint8_t in[16], uint8_t out[16]);
/* Is addr inside a protected prefix? */
int mm_privacy_protected(const struct mm_privacy *p, const uint8_t addr[16]);

const struct mm_privacy_stats *mm_privacy_stats(const struct mm_privacy *p);
/* Cache entries for family af (4 or 6), after rounding. */
uint32_t mm_privacy_cache_size(const struct mm_privacy *p, int af);
size_t mm_privacy_memory(const struct mm_privacy *p);

/*
 * The [group] prefixes of a loaded configuration (written in real
 * addresses) replaced by their images under cp, and group_lpm rebuilt:
 * both daemons then look pseudonyms up against the same groups.  Group
 * indexes, order and lengths do not change; nor do [exporter] and
 * [privacy] protect prefixes (matched on real addresses).  An IPv6 prefix
 * whose image happens to cover the IPv4-mapped space would take every
 * IPv4 pseudonym into its group: refused (0 < its length < 96, a chance
 * of 2^-length per prefix; split it into longer prefixes).  0, or -1 with
 * err ("FILE:LINE: ..." of the prefix, as far as the configuration says)
 * and the configuration unchanged.
 */
int mm_privacy_map_groups(struct mm_config *c, struct mm_cryptopan *cp, char *err, size_t errlen);

/* ---- the key file (privacy_key.c: I/O) ------------------------------- */

/*
 * Read a Crypto-PAn key: 32 raw bytes, or 64 hex digits and an optional
 * newline.  The file must be a regular file owned by the effective user or
 * root, with no permission bits for its group or others (0600, 0400).
 * 0, or -1 with err ("mode 0644 lets group or others in (chmod 600 FILE)",
 * ...; the path not repeated).  Buffers are wiped.
 */
int mm_privacy_key_read(const char *path, uint8_t key[MM_CRYPTOPAN_KEY_LEN], char *err, size_t errlen);

/*
 * For a daemon: with [privacy] pseudonymise = yes, read key_file, make the
 * Crypto-PAn instance (*cp, owned by the caller) and map the groups
 * (mm_privacy_map_groups).  Off: *cp = NULL.  0, or -1 with err naming
 * the configuration's file and the key_file line ("mamori.conf:40:
 * key_file /etc/mamori/k: mode 0644 lets group or others in ...").
 */
int mm_privacy_setup(struct mm_config *c, struct mm_cryptopan **cp, char *err, size_t errlen);

#endif
