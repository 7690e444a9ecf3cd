/*
 * cryptopan.c - Crypto-PAn prefix-preserving pseudonyms (cryptopan.h).
 *
 * AES-128 in ECB mode through libcrypto's EVP interface: the low-level
 * AES_encrypt is deprecated in OpenSSL 3, and ECB over a buffer of
 * independent blocks lets AES-NI pipeline the 32 (or 128) blocks of one
 * address instead of paying one call per bit.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>

#include "mamori/cryptopan.h"

#define MAX_BITS 128

struct mm_cryptopan {
	EVP_CIPHER_CTX *ctx;    /* AES-128-ECB under K, no padding */
	uint8_t pad[16];        /* AES_K(key[16..31]) */
};

/* n independent blocks through AES_K. */
static int aes_blocks(struct mm_cryptopan *cp, const uint8_t *in, uint8_t *out, size_t n)
{
	int len = 0;

	if (EVP_EncryptUpdate(cp->ctx, out, &len, in, (int)(n * 16)) != 1 || len != (int)(n * 16))
		return -1;
	return 0;
}

struct mm_cryptopan *mm_cryptopan_new(const uint8_t key[MM_CRYPTOPAN_KEY_LEN])
{
	struct mm_cryptopan *cp = calloc(1, sizeof(*cp));

	if (cp == NULL)
		return NULL;
	cp->ctx = EVP_CIPHER_CTX_new();
	if (cp->ctx == NULL || EVP_EncryptInit_ex(cp->ctx, EVP_aes_128_ecb(), NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(cp->ctx, 0) != 1 || aes_blocks(cp, key + 16, cp->pad, 1) < 0) {
		mm_cryptopan_free(cp);
		return NULL;
	}
	return cp;
}

void mm_cryptopan_free(struct mm_cryptopan *cp)
{
	if (cp == NULL)
		return;
	EVP_CIPHER_CTX_free(cp->ctx); /* clears the expanded key */
	OPENSSL_cleanse(cp->pad, sizeof(cp->pad));
	free(cp);
}

/* The block for bit `pos`: the first pos bits of `prefix`, then the pad. */
static void make_block(const struct mm_cryptopan *cp, const uint8_t *prefix, unsigned pos, uint8_t blk[16])
{
	unsigned full = pos / 8, rest = pos % 8;

	memcpy(blk, cp->pad, 16);
	memcpy(blk, prefix, full);
	if (rest != 0) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));
		blk[full] = (uint8_t)((prefix[full] & m) | (cp->pad[full] & ~m));
	}
}

int mm_cryptopan_anon(struct mm_cryptopan *cp, const uint8_t *in, uint8_t *out, unsigned nbits)
{
	uint8_t blk[MAX_BITS][16], enc[MAX_BITS][16], otp[16] = { 0 };
	unsigned nbytes = nbits / 8;

	if (nbits != 32 && nbits != 128)
		return -1;
	/* do-while: the compiler sees blk written before it is read */
	unsigned pos = 0;
	do
		make_block(cp, in, pos, blk[pos]);
	while (++pos < nbits);
	if (aes_blocks(cp, blk[0], enc[0], nbits) < 0) {
		memset(out, 0, nbytes);
		return -1;
	}
	for (pos = 0; pos < nbits; pos++)
		otp[pos / 8] |= (uint8_t)((enc[pos][0] >> 7) << (7 - pos % 8));
	for (unsigned i = 0; i < nbytes; i++)
		out[i] = in[i] ^ otp[i];
	return 0;
}

int mm_cryptopan_deanon(struct mm_cryptopan *cp, const uint8_t *in, uint8_t *out, unsigned nbits)
{
	uint8_t orig[16] = { 0 }, blk[16], enc[16];
	unsigned nbytes = nbits / 8;

	if (nbits != 32 && nbits != 128)
		return -1;
	/* Bit pos of the address needs its bits before pos: one at a time. */
	for (unsigned pos = 0; pos < nbits; pos++) {
		make_block(cp, orig, pos, blk);
		if (aes_blocks(cp, blk, enc, 1) < 0) {
			memset(out, 0, nbytes);
			return -1;
		}
		unsigned bit = ((in[pos / 8] >> (7 - pos % 8)) & 1) ^ (enc[0] >> 7);
		orig[pos / 8] |= (uint8_t)(bit << (7 - pos % 8));
	}
	memcpy(out, orig, nbytes);
	return 0;
}

static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static int is_v4mapped(const uint8_t a[16])
{
	return memcmp(a, v4mapped, 12) == 0;
}

typedef int (*map_fn)(struct mm_cryptopan *, const uint8_t *, uint8_t *, unsigned);

static int map_addr(struct mm_cryptopan *cp, const uint8_t in[16], uint8_t out[16], map_fn fn)
{
	if (is_v4mapped(in)) {
		uint8_t v4[4];
		if (fn(cp, in + 12, v4, 32) < 0) {
			memset(out, 0, 16);
			return -1;
		}
		memcpy(out, v4mapped, 12);
		memcpy(out + 12, v4, 4);
		return 0;
	}
	return fn(cp, in, out, 128);
}

int mm_cryptopan_addr(struct mm_cryptopan *cp, const uint8_t in[16], uint8_t out[16])
{
	return map_addr(cp, in, out, mm_cryptopan_anon);
}

int mm_cryptopan_addr_inverse(struct mm_cryptopan *cp, const uint8_t in[16], uint8_t out[16])
{
	return map_addr(cp, in, out, mm_cryptopan_deanon);
}

int mm_prefix_mixes_v4mapped(const struct mm_prefix *p)
{
	unsigned full, rest;

	if (p->len == 0 || p->len >= 96)
		return 0;
	/* Does it cover ::ffff:0:0/96, i.e. do its len bits match that? */
	full = p->len / 8;
	rest = p->len % 8;
	if (memcmp(p->addr, v4mapped, full) != 0)
		return 0;
	if (rest != 0) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));
		if ((p->addr[full] & m) != (v4mapped[full] & m))
			return 0;
	}
	return 1;
}

static void mask(uint8_t a[16], unsigned len)
{
	for (unsigned i = 0; i < 16; i++) {
		if (len >= 8) {
			len -= 8;
			continue;
		}
		a[i] &= (uint8_t)(0xff << (8 - len));
		len = 0;
	}
}

static int map_prefix(struct mm_cryptopan *cp, const struct mm_prefix *in, struct mm_prefix *out, map_fn fn)
{
	struct mm_prefix p = *in;

	if (mm_prefix_mixes_v4mapped(in) || in->len > 128)
		return -1;
	if (in->len > 0 && map_addr(cp, in->addr, p.addr, fn) < 0)
		return -1;
	/* The first len bits of the result depend on the first len bits of
	 * the address only: masking gives the prefix's image. */
	mask(p.addr, p.len);
	*out = p;
	return 0;
}

int mm_cryptopan_prefix(struct mm_cryptopan *cp, const struct mm_prefix *in, struct mm_prefix *out)
{
	return map_prefix(cp, in, out, mm_cryptopan_anon);
}

int mm_cryptopan_prefix_inverse(struct mm_cryptopan *cp, const struct mm_prefix *in, struct mm_prefix *out)
{
	return map_prefix(cp, in, out, mm_cryptopan_deanon);
}
