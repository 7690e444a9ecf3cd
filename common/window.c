/*
 * window.c - one host's aggregate for one step (window.h): the names that
 * become Redis hash fields, the amplification slots, the HyperLogLog and
 * space-saving sketches, and the merge that adds steps and collectors up.
 *
 * Everything here is part of the stored format: the names, the slot order,
 * the sketch hash.  Two collectors must build identical HLL registers from
 * the same addresses or their sketches cannot be merged, so the hash reads
 * its input little-endian on every host and is not keyed.  Changing any of
 * them is a format change (docs/aggregation.md).
 */
#include <math.h>
#include <string.h>

#include "mamori/classes.h"
#include "mamori/window.h"

/* ---- names ---------------------------------------------------------- */

/* Readable rather than short: a few hundred hosts per step are written, and
 * an operator reading `HGETALL` should not need a legend. */
static const char *const ctr_names[MM_C_COUNT] = {
	[MM_C_BYTES_IN] = "bytes_in",
	[MM_C_BYTES_OUT] = "bytes_out",
	[MM_C_PKTS_IN] = "pkts_in",
	[MM_C_PKTS_OUT] = "pkts_out",
	[MM_C_FLOWS_IN] = "flows_in",
	[MM_C_FLOWS_OUT] = "flows_out",
	[MM_C_TCP_BYTES_IN] = "tcp_bytes_in",
	[MM_C_TCP_BYTES_OUT] = "tcp_bytes_out",
	[MM_C_TCP_PKTS_IN] = "tcp_pkts_in",
	[MM_C_TCP_PKTS_OUT] = "tcp_pkts_out",
	[MM_C_TCP_FLOWS_IN] = "tcp_flows_in",
	[MM_C_TCP_FLOWS_OUT] = "tcp_flows_out",
	[MM_C_UDP_BYTES_IN] = "udp_bytes_in",
	[MM_C_UDP_BYTES_OUT] = "udp_bytes_out",
	[MM_C_UDP_PKTS_IN] = "udp_pkts_in",
	[MM_C_UDP_PKTS_OUT] = "udp_pkts_out",
	[MM_C_UDP_FLOWS_IN] = "udp_flows_in",
	[MM_C_UDP_FLOWS_OUT] = "udp_flows_out",
	[MM_C_ICMP_BYTES_IN] = "icmp_bytes_in",
	[MM_C_ICMP_BYTES_OUT] = "icmp_bytes_out",
	[MM_C_ICMP_PKTS_IN] = "icmp_pkts_in",
	[MM_C_ICMP_PKTS_OUT] = "icmp_pkts_out",
	[MM_C_ICMP_FLOWS_IN] = "icmp_flows_in",
	[MM_C_ICMP_FLOWS_OUT] = "icmp_flows_out",
	[MM_C_OTHER_BYTES_IN] = "other_bytes_in",
	[MM_C_OTHER_BYTES_OUT] = "other_bytes_out",
	[MM_C_OTHER_PKTS_IN] = "other_pkts_in",
	[MM_C_OTHER_PKTS_OUT] = "other_pkts_out",
	[MM_C_OTHER_FLOWS_IN] = "other_flows_in",
	[MM_C_OTHER_FLOWS_OUT] = "other_flows_out",
	[MM_C_SYN_FLOWS_IN] = "syn_flows_in",
	[MM_C_SYN_FLOWS_OUT] = "syn_flows_out",
	[MM_C_SYN_PKTS_IN] = "syn_pkts_in",
	[MM_C_SYN_PKTS_OUT] = "syn_pkts_out",
	[MM_C_SMALL_FLOWS_IN] = "small_flows_in",
	[MM_C_SMALL_FLOWS_OUT] = "small_flows_out",
	[MM_C_AUTH_FLOWS_IN] = "auth_flows_in",
	[MM_C_AUTH_FLOWS_OUT] = "auth_flows_out",
	[MM_C_AMP_BYTES_IN + 0] = "amp_dns_bytes_in",
	[MM_C_AMP_BYTES_IN + 1] = "amp_ntp_bytes_in",
	[MM_C_AMP_BYTES_IN + 2] = "amp_ssdp_bytes_in",
	[MM_C_AMP_BYTES_IN + 3] = "amp_memcached_bytes_in",
	[MM_C_AMP_BYTES_IN + 4] = "amp_cldap_bytes_in",
	[MM_C_AMP_BYTES_IN + 5] = "amp_chargen_bytes_in",
	[MM_C_AMP_BYTES_IN + 6] = "amp_snmp_bytes_in",
	[MM_C_AMP_BYTES_IN + 7] = "amp_other_bytes_in",
	[MM_C_AMP_PKTS_IN + 0] = "amp_dns_pkts_in",
	[MM_C_AMP_PKTS_IN + 1] = "amp_ntp_pkts_in",
	[MM_C_AMP_PKTS_IN + 2] = "amp_ssdp_pkts_in",
	[MM_C_AMP_PKTS_IN + 3] = "amp_memcached_pkts_in",
	[MM_C_AMP_PKTS_IN + 4] = "amp_cldap_pkts_in",
	[MM_C_AMP_PKTS_IN + 5] = "amp_chargen_pkts_in",
	[MM_C_AMP_PKTS_IN + 6] = "amp_snmp_pkts_in",
	[MM_C_AMP_PKTS_IN + 7] = "amp_other_pkts_in",
	[MM_C_AMP_FLOWS_IN + 0] = "amp_dns_flows_in",
	[MM_C_AMP_FLOWS_IN + 1] = "amp_ntp_flows_in",
	[MM_C_AMP_FLOWS_IN + 2] = "amp_ssdp_flows_in",
	[MM_C_AMP_FLOWS_IN + 3] = "amp_memcached_flows_in",
	[MM_C_AMP_FLOWS_IN + 4] = "amp_cldap_flows_in",
	[MM_C_AMP_FLOWS_IN + 5] = "amp_chargen_flows_in",
	[MM_C_AMP_FLOWS_IN + 6] = "amp_snmp_flows_in",
	[MM_C_AMP_FLOWS_IN + 7] = "amp_other_flows_in",
};

static const char *const sketch_names[MM_S_COUNT] = {
	[MM_S_PEERS_IN] = "peers_in",
	[MM_S_PEERS_OUT] = "peers_out",
	[MM_S_DPORTS_OUT] = "dports_out",
};

/* Slot order is part of the format (counter names above and the Redis
 * fields).  The first seven are named vectors of mm_amp_vectors; every
 * other port of that table shares "other". */
static const char *const amp_slot_names[MM_AMP_SLOTS] = {
	"dns", "ntp", "ssdp", "memcached", "cldap", "chargen", "snmp", "other",
};

const char *mm_ctr_name(enum mm_ctr c)
{
	return (unsigned)c < MM_C_COUNT ? ctr_names[c] : NULL;
}

const char *mm_sketch_name(enum mm_sketch s)
{
	return (unsigned)s < MM_S_COUNT ? sketch_names[s] : NULL;
}

const char *mm_amp_slot_name(unsigned slot)
{
	return slot < MM_AMP_SLOTS ? amp_slot_names[slot] : NULL;
}

int mm_amp_slot(uint16_t sport)
{
	/* The seven named slots by port: a switch, because this runs for
	 * every inbound UDP record.  test_window checks it against
	 * mm_amp_vectors so the two cannot drift apart. */
	switch (sport) {
	case 53:
		return 0;
	case 123:
		return 1;
	case 1900:
		return 2;
	case 11211:
		return 3;
	case 389:
		return 4;
	case 19:
		return 5;
	case 161:
		return 6;
	default:
		return mm_amp_vector_by_port(sport) != NULL ? 7 : -1;
	}
}

/* ---- hash ----------------------------------------------------------- */

static inline uint64_t rotl64(uint64_t x, unsigned r)
{
	/* r is a constant in 1..63 at every call site: no shift by 64. */
	return (x << r) | (x >> (64 - r));
}

/* Little-endian load regardless of the host, so the hash (and so every
 * HLL register) is the same on every collector. */
static inline uint64_t rdle64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;

	memcpy(&v, p, 8); /* one load; the byte assembly below is not always merged */
	return v;
#else
	return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24 |
	       (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
#endif
}

#define SIPROUND                                                           \
	do {                                                               \
		v0 += v1; v1 = rotl64(v1, 13); v1 ^= v0; v0 = rotl64(v0, 32); \
		v2 += v3; v3 = rotl64(v3, 16); v3 ^= v2;                   \
		v0 += v3; v3 = rotl64(v3, 21); v3 ^= v0;                   \
		v2 += v1; v1 = rotl64(v1, 17); v1 ^= v2; v2 = rotl64(v2, 32); \
	} while (0)

uint64_t mm_siphash13(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t v0 = key[0] ^ 0x736f6d6570736575ull, v1 = key[1] ^ 0x646f72616e646f6dull;
	uint64_t v2 = key[0] ^ 0x6c7967656e657261ull, v3 = key[1] ^ 0x7465646279746573ull;
	uint64_t m, b = (uint64_t)len << 56;
	size_t i, tail = len & 7;

	if (len == 16) {
		/* addresses, twice per record for the index and up to twice
		 * for the sketches: the same rounds, unrolled */
		m = rdle64(p);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
		m = rdle64(p + 8);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
		goto last;
	}
	for (i = 0; i + 8 <= len; i += 8) {
		m = rdle64(p + i);
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t k = 0; k < tail; k++)
		b |= (uint64_t)p[i + k] << (8 * k);
last:
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * The sketch hash: XXH64 with seed 0 (Yann Collet's xxHash, the reference
 * algorithm, checked against libxxhash in test_window).  Fixed forever: it
 * is part of the stored format.  Not keyed: an attacker who can choose
 * source addresses can bias any public sketch hash, keyed or not, since
 * every collector must share it; the sketches are evidence, not a defence.
 * It costs a third of SipHash, and a record hashes up to three keys.
 */
#define XXP1 0x9e3779b185ebca87ull
#define XXP2 0xc2b2ae3d27d4eb4full
#define XXP3 0x165667b19e3779f9ull
#define XXP4 0x85ebca77c2b2ae63ull
#define XXP5 0x27d4eb2f165667c5ull

static inline uint32_t rdle32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t xx_round(uint64_t acc, uint64_t in)
{
	acc += in * XXP2;
	acc = rotl64(acc, 31);
	return acc * XXP1;
}

static inline uint64_t xx_merge(uint64_t acc, uint64_t v)
{
	acc ^= xx_round(0, v);
	return acc * XXP1 + XXP4;
}

uint64_t mm_xxh64(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data, *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t v1 = seed + XXP1 + XXP2, v2 = seed + XXP2, v3 = seed, v4 = seed - XXP1;

		do {
			v1 = xx_round(v1, rdle64(p));
			v2 = xx_round(v2, rdle64(p + 8));
			v3 = xx_round(v3, rdle64(p + 16));
			v4 = xx_round(v4, rdle64(p + 24));
			p += 32;
		} while (end - p >= 32);
		h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
		h = xx_merge(h, v1);
		h = xx_merge(h, v2);
		h = xx_merge(h, v3);
		h = xx_merge(h, v4);
	} else {
		h = seed + XXP5;
	}
	h += (uint64_t)len;
	for (; end - p >= 8; p += 8) {
		h ^= xx_round(0, rdle64(p));
		h = rotl64(h, 27) * XXP1 + XXP4;
	}
	if (end - p >= 4) {
		h ^= (uint64_t)rdle32(p) * XXP1;
		h = rotl64(h, 23) * XXP2 + XXP3;
		p += 4;
	}
	for (; p < end; p++) {
		h ^= (uint64_t)*p * XXP5;
		h = rotl64(h, 11) * XXP1;
	}
	h ^= h >> 33;
	h *= XXP2;
	h ^= h >> 29;
	h *= XXP3;
	h ^= h >> 32;
	return h;
}

uint64_t mm_hll_hash(const void *key, size_t len)
{
	return mm_xxh64(key, len, 0);
}

/* ---- HyperLogLog ---------------------------------------------------- */

void mm_hll_add_hash(struct mm_hll *h, uint64_t x)
{
	/* Low MM_HLL_BITS pick the register; the rank is the position of
	 * the first 1 in the remaining 58 bits (1..58), or 59 if they are
	 * all zero.  The guard bit makes __builtin_clzll's argument nonzero. */
	unsigned idx = (unsigned)(x & (MM_HLL_REGS - 1));
	uint64_t w = (x >> MM_HLL_BITS) | (1ull << (64 - MM_HLL_BITS));
	uint8_t rank = (uint8_t)(__builtin_ctzll(w) + 1);

	if (rank > h->reg[idx])
		h->reg[idx] = rank;
}

void mm_hll_add(struct mm_hll *h, const void *key, size_t len)
{
	mm_hll_add_hash(h, mm_hll_hash(key, len));
}

void mm_hll_merge(struct mm_hll *dst, const struct mm_hll *src)
{
	for (unsigned i = 0; i < MM_HLL_REGS; i++)
		if (src->reg[i] > dst->reg[i])
			dst->reg[i] = src->reg[i];
}

/*
 * Estimation: Ertl's improved raw estimator ("New cardinality estimation
 * algorithms for HyperLogLog sketches", 2017, algorithm 6).  With only 64
 * registers the classic estimator (Flajolet et al. 2007: raw estimate,
 * linear counting below 5m/2) is badly biased in between: up to ~+100 %
 * for single sketches of ~100 items, where detection thresholds for
 * scans live.  Ertl's estimator uses the register histogram, needs no
 * empirical bias tables and is close to unbiased over the whole range,
 * with the usual 1.04 / sqrt(m) standard error (13 % here).
 */
#define HLL_Q (64 - MM_HLL_BITS) /* rank bits: registers hold 0..HLL_Q + 1 */

static double hll_sigma(double x)
{
	double y = 1.0, z = x, prev;

	if (x == 1.0)
		return INFINITY;
	do {
		x *= x;
		prev = z;
		z += x * y;
		y += y;
	} while (z != prev);
	return z;
}

static double hll_tau(double x)
{
	double y = 1.0, z = 1.0 - x, prev;

	if (x == 0.0 || x == 1.0)
		return 0.0;
	do {
		x = sqrt(x);
		prev = z;
		y *= 0.5;
		z -= (1.0 - x) * (1.0 - x) * y;
	} while (z != prev);
	return z / 3.0;
}

double mm_hll_estimate(const struct mm_hll *h)
{
	const double m = MM_HLL_REGS;
	unsigned c[HLL_Q + 2] = { 0 };
	double z;

	for (unsigned i = 0; i < MM_HLL_REGS; i++)
		c[h->reg[i] <= HLL_Q + 1 ? h->reg[i] : HLL_Q + 1]++; /* a decoded value can be anything */
	if (c[0] == MM_HLL_REGS)
		return 0.0;
	z = m * hll_tau(1.0 - c[HLL_Q + 1] / m);
	for (unsigned k = HLL_Q; k >= 1; k--)
		z = 0.5 * (z + c[k]);
	z += m * hll_sigma(c[0] / m);
	return 0.5 / log(2.0) * m * m / z; /* alpha_inf = 1 / (2 ln 2) */
}

/* ---- top-K (space-saving) ------------------------------------------- */

static inline uint64_t sat_add(uint64_t a, uint64_t b)
{
	uint64_t s = a + b;

	return s < a ? UINT64_MAX : s;
}

/*
 * The K entries are kept sorted by count, largest first, with empty entries
 * (count 0) at the end.  With K = 4 a lookup is four compares, the smallest
 * entry is always the last one, and a reader gets the evidence in order.
 * Space-saving (Metwally et al. 2005): an unknown key takes an empty entry
 * or replaces the smallest one and inherits its count, so a count
 * over-estimates by at most the smallest count, and a key with more than
 * 1/K of the total is never lost.
 */
#define TOPK_BUBBLE(t, i, T)                                  \
	do {                                                  \
		while ((i) > 0 && (t)[(i)-1].count < (t)[(i)].count) { \
			T tmp_ = (t)[(i)-1];                  \
			(t)[(i)-1] = (t)[(i)];                \
			(t)[(i)] = tmp_;                      \
			(i)--;                                \
		}                                             \
	} while (0)

void mm_topk_addr_add(struct mm_topk_addr t[MM_TOPK], const uint8_t addr[16], uint64_t n)
{
	unsigned i;

	uint64_t k0, k1;

	if (n == 0)
		return;
	/* two 8-byte compares per entry: this runs twice per record */
	memcpy(&k0, addr, 8);
	memcpy(&k1, addr + 8, 8);
	for (i = 0; i < MM_TOPK && t[i].count != 0; i++) {
		uint64_t e0, e1;

		memcpy(&e0, t[i].addr, 8);
		memcpy(&e1, t[i].addr + 8, 8);
		if (((e0 ^ k0) | (e1 ^ k1)) == 0)
			break;
	}
	if (i == MM_TOPK) {
		i = MM_TOPK - 1; /* replace the smallest, inherit its count */
		memcpy(t[i].addr, addr, 16);
	} else if (t[i].count == 0) {
		memcpy(t[i].addr, addr, 16);
	}
	t[i].count = sat_add(t[i].count, n);
	TOPK_BUBBLE(t, i, struct mm_topk_addr);
}

void mm_topk_port_add(struct mm_topk_port t[MM_TOPK], uint16_t port, uint64_t n)
{
	unsigned i;

	if (n == 0)
		return;
	for (i = 0; i < MM_TOPK && t[i].count != 0; i++)
		if (t[i].port == port)
			break;
	if (i == MM_TOPK)
		i = MM_TOPK - 1;
	t[i].port = port;
	t[i].count = sat_add(t[i].count, n);
	TOPK_BUBBLE(t, i, struct mm_topk_port);
}

/*
 * Merge: counts of the same key add up, then the K largest of the union are
 * kept.  That is the usual merge of space-saving summaries without the
 * min-count subtraction: an entry's count stays an upper bound of its true
 * count, which is what evidence ("at most this much came from there")
 * needs, and merging is commutative and associative up to ties.
 */
void mm_topk_addr_merge(struct mm_topk_addr dst[MM_TOPK], const struct mm_topk_addr src[MM_TOPK])
{
	struct mm_topk_addr u[2 * MM_TOPK];
	unsigned n = 0;

	for (unsigned i = 0; i < MM_TOPK && dst[i].count != 0; i++)
		u[n++] = dst[i];
	for (unsigned i = 0; i < MM_TOPK && src[i].count != 0; i++) {
		unsigned j;

		for (j = 0; j < n; j++)
			if (memcmp(u[j].addr, src[i].addr, 16) == 0)
				break;
		if (j == n)
			u[n++] = src[i];
		else
			u[j].count = sat_add(u[j].count, src[i].count);
	}
	/* insertion sort, largest first, stable: at most 8 entries */
	for (unsigned i = 1; i < n; i++) {
		unsigned j = i;
		TOPK_BUBBLE(u, j, struct mm_topk_addr);
	}
	memset(dst, 0, MM_TOPK * sizeof(*dst));
	memcpy(dst, u, (n < MM_TOPK ? n : MM_TOPK) * sizeof(*dst));
}

void mm_topk_port_merge(struct mm_topk_port dst[MM_TOPK], const struct mm_topk_port src[MM_TOPK])
{
	struct mm_topk_port u[2 * MM_TOPK];
	unsigned n = 0;

	for (unsigned i = 0; i < MM_TOPK && dst[i].count != 0; i++)
		u[n++] = dst[i];
	for (unsigned i = 0; i < MM_TOPK && src[i].count != 0; i++) {
		unsigned j;

		for (j = 0; j < n; j++)
			if (u[j].port == src[i].port)
				break;
		if (j == n)
			u[n++] = src[i];
		else
			u[j].count = sat_add(u[j].count, src[i].count);
	}
	for (unsigned i = 1; i < n; i++) {
		unsigned j = i;
		TOPK_BUBBLE(u, j, struct mm_topk_port);
	}
	memset(dst, 0, MM_TOPK * sizeof(*dst));
	memcpy(dst, u, (n < MM_TOPK ? n : MM_TOPK) * sizeof(*dst));
}

/* ---- whole steps ---------------------------------------------------- */

void mm_hoststep_merge(struct mm_hoststep *dst, const struct mm_hoststep *src)
{
	/* Saturating: a sampled counter that hit UINT64_MAX must not wrap to
	 * a small number when a window adds it up. */
	for (unsigned i = 0; i < MM_C_COUNT; i++)
		dst->ctr[i] = sat_add(dst->ctr[i], src->ctr[i]);
	for (unsigned s = 0; s < MM_S_COUNT; s++)
		mm_hll_merge(&dst->hll[s], &src->hll[s]);
	mm_topk_addr_merge(dst->peers_in, src->peers_in);
	mm_topk_addr_merge(dst->peers_out, src->peers_out);
	for (unsigned p = 0; p < MM_T_PORTS_COUNT; p++)
		mm_topk_port_merge(dst->ports[p], src->ports[p]);
}
