/*
 * addr.c - prefixes and address arithmetic for the generator.
 *
 * Self-contained on purpose (the generator does not link the collector's
 * helpers).  Addresses are 16 bytes, IPv4 stored IPv4-mapped as in flow.h,
 * so an IPv4 /24 is a /120 here.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

int gen_addr_parse(const char *s, uint8_t out[16])
{
	uint8_t v4[4];

	if (inet_pton(AF_INET, s, v4) == 1) {
		mm_addr_set4(out, v4);
		return 4;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		/* An IPv4-mapped IPv6 literal is taken as IPv4. */
		return mm_addr_is4(out) ? 4 : 6;
	}
	return -1;
}

static void mask_bits(uint8_t a[16], unsigned len)
{
	for (unsigned i = 0; i < 16; i++) {
		unsigned lo = i * 8;
		if (len >= lo + 8)
			continue;
		if (len <= lo)
			a[i] = 0;
		else
			a[i] &= (uint8_t)(0xff << (8 - (len - lo)));
	}
}

int gen_prefix_parse(const char *s, struct gen_prefix *p, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	long plen = -1;

	if (alen == 0 || alen >= sizeof(buf)) {
		snprintf(err, errlen, "bad prefix '%s'", s);
		return -1;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	int af = gen_addr_parse(buf, p->addr);
	if (af < 0) {
		snprintf(err, errlen, "bad address in prefix '%s'", s);
		return -1;
	}
	if (slash) {
		char *end;
		errno = 0;
		plen = strtol(slash + 1, &end, 10);
		if (errno || end == slash + 1 || *end != '\0' || plen < 0 ||
		    plen > (af == 4 ? 32 : 128)) {
			snprintf(err, errlen, "bad prefix length in '%s'", s);
			return -1;
		}
	} else {
		plen = af == 4 ? 32 : 128;
	}
	p->af = (uint8_t)af;
	p->len = (uint8_t)(af == 4 ? 96 + plen : plen);
	uint8_t m[16];
	memcpy(m, p->addr, 16);
	mask_bits(m, p->len);
	if (memcmp(m, p->addr, 16) != 0) {
		snprintf(err, errlen, "prefix '%s' has host bits set", s);
		return -1;
	}
	return 0;
}

int gen_prefix_contains(const struct gen_prefix *p, const uint8_t a[16])
{
	uint8_t m[16];
	memcpy(m, a, 16);
	mask_bits(m, p->len);
	return memcmp(m, p->addr, 16) == 0;
}

int gen_prefix_within(const struct gen_prefix *inner, const struct gen_prefix *outer)
{
	return inner->len >= outer->len && gen_prefix_contains(outer, inner->addr);
}

int gen_prefix_overlap(const struct gen_prefix *a, const struct gen_prefix *b)
{
	return gen_prefix_within(a, b) || gen_prefix_within(b, a);
}

/* Host bits, and where usable hosts start. */
static unsigned host_bits(const struct gen_prefix *p)
{
	return 128u - p->len;
}

static uint64_t first_host(const struct gen_prefix *p)
{
	unsigned hb = host_bits(p);
	if (p->af == 4)
		return hb >= 2 ? 1 : 0;  /* skip the network address up to /30 */
	return hb >= 1 ? 1 : 0;          /* skip the subnet-router anycast */
}

uint64_t gen_prefix_hosts(const struct gen_prefix *p)
{
	unsigned hb = host_bits(p);
	uint64_t n;

	if (hb > 32)
		return UINT64_C(1) << 32; /* capped: offsets 1..2^32 fit the host bits */
	n = UINT64_C(1) << hb;
	if (p->af == 4 && hb >= 2)
		n -= 2; /* network, broadcast */
	else if (p->af == 6 && hb >= 1)
		n -= 1; /* subnet-router anycast */
	return n;
}

/* out = p->addr + v (v below 2^host_bits). */
static void add_offset(const struct gen_prefix *p, uint64_t v, uint8_t out[16])
{
	memcpy(out, p->addr, 16);
	unsigned carry = 0;
	for (int i = 15; i >= 8; i--) {
		unsigned s = out[i] + (unsigned)(v & 0xff) + carry;
		out[i] = (uint8_t)s;
		carry = s >> 8;
		v >>= 8;
	}
}

void gen_prefix_host(const struct gen_prefix *p, uint64_t i, uint8_t out[16])
{
	add_offset(p, i + first_host(p), out);
}

int64_t gen_prefix_host_index(const struct gen_prefix *p, const uint8_t a[16])
{
	if (!gen_prefix_contains(p, a))
		return -1;
	/* The host part: a XOR network (the network bits are equal).  Hosts
	 * are capped at 2^32, so any host bit in the upper half rules a out. */
	uint8_t m[16];
	for (int i = 0; i < 16; i++)
		m[i] = (uint8_t)(a[i] ^ p->addr[i]);
	for (int i = 0; i < 8; i++)
		if (m[i] != 0)
			return -1;
	uint64_t v = 0;
	for (int i = 8; i < 16; i++)
		v = v << 8 | m[i];
	uint64_t first = first_host(p);
	if (v < first)
		return -1;
	v -= first;
	if (v >= gen_prefix_hosts(p))
		return -1;
	return (int64_t)v;
}

const char *gen_addr_str(const uint8_t a[16], char *buf, size_t len)
{
	if (mm_addr_is4(a)) {
		if (!inet_ntop(AF_INET, a + 12, buf, (socklen_t)len))
			snprintf(buf, len, "?");
	} else if (!inet_ntop(AF_INET6, a, buf, (socklen_t)len)) {
		snprintf(buf, len, "?");
	}
	return buf;
}

const char *gen_prefix_str(const struct gen_prefix *p, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	gen_addr_str(p->addr, a, sizeof(a));
	snprintf(buf, len, "%s/%u", a, p->af == 4 ? p->len - 96u : p->len);
	return buf;
}
