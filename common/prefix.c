/*
 * prefix.c - IPv4/IPv6 prefixes and a longest-prefix-match trie (prefix.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/flow.h"
#include "mamori/prefix.h"

/* Longer than any textual address (INET6_ADDRSTRLEN is 46). */
#define ADDR_TEXT_MAX 64

static int bit_at(const uint8_t a[16], unsigned i)
{
	return (a[i >> 3] >> (7 - (i & 7))) & 1;
}

/* Clear every bit from `len` on; returns 1 if any was set. */
static int mask_host_bits(uint8_t a[16], unsigned len)
{
	int had = 0;

	for (unsigned i = 0; i < 16; i++) {
		uint8_t keep;

		if (len >= (i + 1) * 8)
			continue;
		keep = len <= i * 8 ? 0 : (uint8_t)(0xff << (8 - (len - i * 8)));
		if (a[i] & (uint8_t)~keep)
			had = 1;
		a[i] &= keep;
	}
	return had;
}

int mm_addr_parse(const char *s, uint8_t out[16])
{
	uint8_t v4[4];

	if (s == NULL)
		return -1;
	/* inet_pton, not inet_aton: "10.1" or "010.0.0.1" are rejected
	 * instead of being read as something the operator did not mean. */
	if (inet_pton(AF_INET, s, v4) == 1) {
		mm_addr_set4(out, v4);
		return 4;
	}
	if (inet_pton(AF_INET6, s, out) == 1)
		return 6;
	return -1;
}

int mm_prefix_parse(const char *s, struct mm_prefix *p, const char **why)
{
	char addr[ADDR_TEXT_MAX];
	const char *slash, *dummy;
	size_t alen;
	unsigned n, maxlen;
	int af;

	if (why == NULL)
		why = &dummy;
	*why = NULL;
	memset(p, 0, sizeof(*p));
	if (s == NULL || *s == '\0') {
		*why = "empty prefix";
		return -1;
	}
	slash = strchr(s, '/');
	alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
	if (alen >= sizeof(addr)) {
		*why = "address too long";
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	af = mm_addr_parse(addr, p->addr);
	if (af < 0) {
		*why = "not an IPv4 or IPv6 address";
		return -1;
	}
	maxlen = af == 4 ? 32 : 128;
	n = maxlen;
	if (slash != NULL) {
		const char *d = slash + 1;
		size_t nd = strspn(d, "0123456789");

		/* At most three digits keeps the arithmetic trivially safe. */
		if (nd == 0 || d[nd] != '\0' || nd > 3) {
			*why = "prefix length is not a number";
			return -1;
		}
		n = (unsigned)strtoul(d, NULL, 10);
		if (n > maxlen) {
			*why = af == 4 ? "prefix length out of range (IPv4: 0..32)"
				       : "prefix length out of range (IPv6: 0..128)";
			return -1;
		}
	}
	p->af = (uint8_t)af;
	p->len = (uint8_t)(af == 4 ? 96 + n : n);
	/* Leave the masked prefix in *p even on error, so that the caller
	 * can suggest what was probably meant. */
	if (mask_host_bits(p->addr, p->len)) {
		*why = "host bits set";
		return -1;
	}
	return 0;
}

int mm_prefix_contains(const struct mm_prefix *p, const uint8_t addr[16])
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr, addr, full) != 0)
		return 0;
	if (rest != 0) {
		uint8_t m = (uint8_t)(0xff << (8 - rest));
		if ((p->addr[full] & m) != (addr[full] & m))
			return 0;
	}
	return 1;
}

int mm_prefix_overlap(const struct mm_prefix *a, const struct mm_prefix *b)
{
	/* Two prefixes overlap exactly when the shorter contains the
	 * longer's network address. */
	return a->len <= b->len ? mm_prefix_contains(a, b->addr) : mm_prefix_contains(b, a->addr);
}

const char *mm_prefix_str(const struct mm_prefix *p, char *buf, size_t len)
{
	char a[ADDR_TEXT_MAX];
	unsigned n = p->len;

	if (buf == NULL || len == 0)
		return "";
	if (p->af == 4 && n >= 96 && mm_addr_is4(p->addr)) {
		inet_ntop(AF_INET, p->addr + 12, a, sizeof(a));
		n -= 96;
	} else {
		inet_ntop(AF_INET6, p->addr, a, sizeof(a));
	}
	snprintf(buf, len, "%s/%u", a, n);
	return buf;
}

/*
 * The trie: an array of nodes linked by index (0 = no child, since the
 * root is node 0 and nobody points at it).  One allocation, freed at once,
 * and realloc cannot leave dangling pointers behind.
 */
struct lpm_node {
	uint32_t child[2];
	int value; /* -1 = no prefix ends here */
};

struct mm_lpm {
	struct lpm_node *nodes;
	uint32_t n, cap;
};

struct mm_lpm *mm_lpm_new(void)
{
	struct mm_lpm *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cap = 64;
	t->nodes = calloc(t->cap, sizeof(*t->nodes));
	if (t->nodes == NULL) {
		free(t);
		return NULL;
	}
	t->n = 1;
	t->nodes[0].value = -1;
	return t;
}

void mm_lpm_free(struct mm_lpm *t)
{
	if (t == NULL)
		return;
	free(t->nodes);
	free(t);
}

static int lpm_grow(struct mm_lpm *t)
{
	struct lpm_node *nn;
	uint32_t ncap;

	if (t->cap > UINT32_MAX / 2 || (size_t)t->cap * 2 > SIZE_MAX / sizeof(*nn)) {
		errno = ENOMEM;
		return -1;
	}
	ncap = t->cap * 2;
	nn = realloc(t->nodes, (size_t)ncap * sizeof(*nn));
	if (nn == NULL)
		return -1;
	t->nodes = nn;
	t->cap = ncap;
	return 0;
}

int mm_lpm_insert(struct mm_lpm *t, const struct mm_prefix *p, int value)
{
	uint32_t cur = 0;

	if (t == NULL || p->len > 128 || value < 0) {
		errno = EINVAL;
		return -1;
	}
	for (unsigned i = 0; i < p->len; i++) {
		int b = bit_at(p->addr, i);
		uint32_t next = t->nodes[cur].child[b];

		if (next == 0) {
			if (t->n == t->cap && lpm_grow(t) < 0)
				return -1;
			next = t->n++;
			t->nodes[next].child[0] = 0;
			t->nodes[next].child[1] = 0;
			t->nodes[next].value = -1;
			t->nodes[cur].child[b] = next;
		}
		cur = next;
	}
	t->nodes[cur].value = value;
	return 0;
}

int mm_lpm_lookup(const struct mm_lpm *t, const uint8_t addr[16])
{
	uint32_t cur = 0;
	int best = -1;

	if (t == NULL)
		return -1;
	/* One step per bit: at most 128 steps, no recursion. */
	for (unsigned i = 0;; i++) {
		uint32_t next;

		if (t->nodes[cur].value >= 0)
			best = t->nodes[cur].value;
		if (i == 128)
			break;
		next = t->nodes[cur].child[bit_at(addr, i)];
		if (next == 0)
			break;
		cur = next;
	}
	return best;
}
