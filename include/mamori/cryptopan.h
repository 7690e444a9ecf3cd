/*
 * cryptopan.h - Crypto-PAn, prefix-preserving address pseudonyms
 * (J. Xu, J. Fan, M. Ammar, S. Moon: "Prefix-Preserving IP Address
 * Anonymization", ICNP 2002), with AES-128 from libcrypto.
 *
 * Key: 32 bytes.  The first 16 are the AES key K; the pad is
 * AES_K(the last 16).  Bit i of a pseudonym is bit i of the address XOR
 * the first bit of AES_K(the address's first i bits followed by the pad's
 * bits from i on).  So:
 *  - two addresses that share their first n bits have pseudonyms that
 *    share their first n bits (prefix-preserving), and only those: the
 *    mapping is a bijection on each length;
 *  - the first n bits of a pseudonym depend only on the first n bits of
 *    the address, so a prefix maps to a prefix of the same length;
 *  - it is invertible bit by bit by whoever holds the key.
 * Cost: one AES block per address bit, 32 for IPv4, 128 for IPv6 (the
 * blocks are independent, so they go through AES in one call).
 *
 * mamori's 16-byte addresses (flow.h): an IPv4-mapped address is an IPv4
 * address (32-bit Crypto-PAn on its last 4 bytes, the ::ffff: part kept),
 * any other is IPv6 (128-bit Crypto-PAn).  The IPv4 mapping is the
 * original's and matches its published sample; the IPv6 one is the same
 * construction over 128 bits, as the Go (Yawning Angel), C# and libanon
 * implementations do (tests/unit/test_cryptopan.c checks all three).
 *
 * Pure: no I/O, no clock, no global state; an instance owns its cipher
 * context and is not shared between threads.
 */
#ifndef MAMORI_CRYPTOPAN_H
#define MAMORI_CRYPTOPAN_H

#include <stdint.h>
#include "mamori/prefix.h"

#define MM_CRYPTOPAN_KEY_LEN 32

struct mm_cryptopan;

/* New instance for a 32-byte key (copied: the caller may wipe its own).
 * NULL when libcrypto cannot set up AES-128 (no memory). */
struct mm_cryptopan *mm_cryptopan_new(const uint8_t key[MM_CRYPTOPAN_KEY_LEN]);
/* Wipes the key material; NULL is fine. */
void mm_cryptopan_free(struct mm_cryptopan *cp);

/* The pseudonym of an nbits-long bit string (32: 4 bytes, 128: 16
 * bytes; network order), into out (may be in).  0, or -1 when nbits is
 * neither or AES failed (out is then zeroed, never the input). */
int mm_cryptopan_anon(struct mm_cryptopan *cp, const uint8_t *in, uint8_t *out, unsigned nbits);
/* The inverse: the bit string whose pseudonym is `in`. */
int mm_cryptopan_deanon(struct mm_cryptopan *cp, const uint8_t *in, uint8_t *out, unsigned nbits);

/* A 16-byte address (IPv4-mapped or IPv6) and its inverse. */
int mm_cryptopan_addr(struct mm_cryptopan *cp, const uint8_t in[16], uint8_t out[16]);
int mm_cryptopan_addr_inverse(struct mm_cryptopan *cp, const uint8_t in[16], uint8_t out[16]);

/* A prefix and its inverse: the address mapped, then masked to the same
 * length.  A prefix that is neither inside ::ffff:0:0/96 nor clear of it
 * (an IPv6 prefix of length 1..95 that covers the IPv4-mapped space)
 * holds IPv4 and IPv6 addresses, which map apart: -1.  ::/0 maps to
 * itself. */
int mm_cryptopan_prefix(struct mm_cryptopan *cp, const struct mm_prefix *in, struct mm_prefix *out);
int mm_cryptopan_prefix_inverse(struct mm_cryptopan *cp, const struct mm_prefix *in, struct mm_prefix *out);

/* Does p hold addresses of both kinds (see above)? */
int mm_prefix_mixes_v4mapped(const struct mm_prefix *p);

#endif
