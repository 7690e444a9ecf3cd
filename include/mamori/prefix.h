/*
 * prefix.h - IPv4/IPv6 prefixes and longest-prefix match.
 *
 * Addresses are 16 bytes, IPv4 IPv4-mapped (flow.h), so an IPv4 /24 is
 * stored as a /120 and one table serves both families.
 */
#ifndef MAMORI_PREFIX_H
#define MAMORI_PREFIX_H

#include <stdint.h>
#include <stddef.h>

struct mm_prefix {
	uint8_t addr[16]; /* masked: host bits are zero */
	uint8_t len;      /* 0..128 in IPv6 terms (IPv4 /n is 96+n) */
	uint8_t af;       /* 4 or 6, as written */
};

/* Parse "a.b.c.d[/n]" or "x::y[/n]" (no length = host).  Host bits set in
 * the address are an error (returns -1 and sets *why).  0 on success.
 * *why is a static string ("host bits set", "prefix length out of range
 * (IPv4: 0..32)", ...).  After "host bits set", *p holds the masked prefix
 * so that a caller can suggest it; after other errors *p is zeroed. */
int mm_prefix_parse(const char *s, struct mm_prefix *p, const char **why);
/* Parse a bare address into 16 bytes (IPv4-mapped); returns 4, 6 or -1. */
int mm_addr_parse(const char *s, uint8_t out[16]);
int mm_prefix_contains(const struct mm_prefix *p, const uint8_t addr[16]);
/* Do the two prefixes overlap (one contains the other)? */
int mm_prefix_overlap(const struct mm_prefix *a, const struct mm_prefix *b);
/* "10.0.0.0/8" or "2001:db8::/32" as written (IPv4 without the +96).
 * The length is always printed: a host is "192.0.2.1/32". */
const char *mm_prefix_str(const struct mm_prefix *p, char *buf, size_t len);

/* A longest-prefix-match table: a binary trie over 128 bits, values are
 * caller indices.  Lookup cost is at most 128 node steps. */
struct mm_lpm;
struct mm_lpm *mm_lpm_new(void);
void mm_lpm_free(struct mm_lpm *t);
/* 0 ok, -1 on ENOMEM (or EINVAL: value < 0); re-inserting a prefix
 * replaces its value.  Memory: at most p->len 12-byte nodes per insert. */
int mm_lpm_insert(struct mm_lpm *t, const struct mm_prefix *p, int value);
/* Value of the longest matching prefix, or -1. */
int mm_lpm_lookup(const struct mm_lpm *t, const uint8_t addr[16]);

#endif
