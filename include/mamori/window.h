/*
 * window.h - what one host did in one step: the aggregate the collector
 * builds from flow records, writes to Redis, and the detector, `mamori host`
 * and replays read back.  The Redis layout is docs/redis-schema.md.
 *
 * "in" means the host is the flow's destination, "out" its source.  All
 * counters are sampling-scaled (mm_flow.*_scaled); flows are counted once,
 * in the step where the flow started (clamped into the open steps); bytes and
 * packets are spread over the steps the flow covers.
 */
#ifndef MAMORI_WINDOW_H
#define MAMORI_WINDOW_H

#include <stdint.h>
#include <stddef.h>

/* Counters.  The names (mm_ctr_name) are the Redis hash field names. */
enum mm_ctr {
	/* per direction: [x] = in, [x + 1] = out */
	MM_C_BYTES_IN, MM_C_BYTES_OUT,
	MM_C_PKTS_IN, MM_C_PKTS_OUT,
	MM_C_FLOWS_IN, MM_C_FLOWS_OUT,
	MM_C_TCP_BYTES_IN, MM_C_TCP_BYTES_OUT,
	MM_C_TCP_PKTS_IN, MM_C_TCP_PKTS_OUT,
	MM_C_TCP_FLOWS_IN, MM_C_TCP_FLOWS_OUT,
	MM_C_UDP_BYTES_IN, MM_C_UDP_BYTES_OUT,
	MM_C_UDP_PKTS_IN, MM_C_UDP_PKTS_OUT,
	MM_C_UDP_FLOWS_IN, MM_C_UDP_FLOWS_OUT,
	MM_C_ICMP_BYTES_IN, MM_C_ICMP_BYTES_OUT,
	MM_C_ICMP_PKTS_IN, MM_C_ICMP_PKTS_OUT,
	MM_C_ICMP_FLOWS_IN, MM_C_ICMP_FLOWS_OUT,
	MM_C_OTHER_BYTES_IN, MM_C_OTHER_BYTES_OUT,
	MM_C_OTHER_PKTS_IN, MM_C_OTHER_PKTS_OUT,
	MM_C_OTHER_FLOWS_IN, MM_C_OTHER_FLOWS_OUT,
	MM_C_SYN_FLOWS_IN, MM_C_SYN_FLOWS_OUT,   /* TCP flows with SYN and no ACK */
	MM_C_SYN_PKTS_IN, MM_C_SYN_PKTS_OUT,
	MM_C_SMALL_FLOWS_IN, MM_C_SMALL_FLOWS_OUT, /* flows of <= 3 (unscaled) packets: probes, failures */
	MM_C_AUTH_FLOWS_IN, MM_C_AUTH_FLOWS_OUT, /* TCP flows to an auth port (mm_auth_ports) */
	/* inbound UDP from an amplification source port, per vector slot */
	MM_C_AMP_BYTES_IN, /* MM_AMP_SLOTS consecutive counters, slot order as mm_amp_slot_name */
	MM_C_AMP_PKTS_IN = MM_C_AMP_BYTES_IN + 8,
	MM_C_AMP_FLOWS_IN = MM_C_AMP_PKTS_IN + 8,
	MM_C_COUNT = MM_C_AMP_FLOWS_IN + 8
};
#define MM_AMP_SLOTS 8 /* dns ntp ssdp memcached cldap chargen snmp other */

/* Distinct-count sketch: HyperLogLog with 2^MM_HLL_BITS one-byte registers.
 * Standard error 1.04 / sqrt(64) = 13 %, nearly unbiased at every size
 * (Ertl's improved estimator, window.c); within +-1 up to ~8 items. */
#define MM_HLL_BITS 6
#define MM_HLL_REGS (1u << MM_HLL_BITS)
struct mm_hll {
	uint8_t reg[MM_HLL_REGS];
};

enum mm_sketch {
	MM_S_PEERS_IN,   /* distinct sources talking to the host (reflectors, spoofers) */
	MM_S_PEERS_OUT,  /* distinct destinations of the host (horizontal scan fan-out) */
	MM_S_DPORTS_OUT, /* distinct destination ports the host sent to (vertical scan) */
	MM_S_COUNT
};

/* Top-K evidence (space-saving, K entries, counted in scaled packets). */
#define MM_TOPK 4
struct mm_topk_addr {
	uint8_t addr[16];
	uint64_t count;
};
struct mm_topk_port {
	uint16_t port;
	uint64_t count;
};
enum mm_topk_ports {
	MM_T_DPORTS_IN,  /* services the host is hit on */
	MM_T_SPORTS_IN,  /* source ports of its inbound traffic (amplification vector) */
	MM_T_DPORTS_OUT, /* services the host reaches out to */
	MM_T_PORTS_COUNT
};

struct mm_hoststep {
	uint64_t ctr[MM_C_COUNT];
	struct mm_hll hll[MM_S_COUNT];
	struct mm_topk_addr peers_in[MM_TOPK], peers_out[MM_TOPK];
	struct mm_topk_port ports[MM_T_PORTS_COUNT][MM_TOPK];
};

const char *mm_ctr_name(enum mm_ctr c);
const char *mm_sketch_name(enum mm_sketch s);
const char *mm_amp_slot_name(unsigned slot);
/* Amplification slot of a UDP source port, or -1. */
int mm_amp_slot(uint16_t sport);

/* The sketch hash: XXH64 with seed 0 of the key bytes (addresses: the 16
 * bytes, IPv4-mapped; ports: 2 bytes, big-endian), the same on every host,
 * so every collector builds the same registers (part of the format). */
uint64_t mm_hll_hash(const void *key, size_t len);
void mm_hll_add_hash(struct mm_hll *h, uint64_t hash);
void mm_hll_add(struct mm_hll *h, const void *key, size_t len);
void mm_hll_merge(struct mm_hll *dst, const struct mm_hll *src);
double mm_hll_estimate(const struct mm_hll *h);

void mm_topk_addr_add(struct mm_topk_addr t[MM_TOPK], const uint8_t addr[16], uint64_t n);
void mm_topk_port_add(struct mm_topk_port t[MM_TOPK], uint16_t port, uint64_t n);
/* Entries are kept sorted, largest count first; count 0 = empty (only at
 * the end).  Merge adds the counts of equal keys and keeps the K largest. */
void mm_topk_addr_merge(struct mm_topk_addr dst[MM_TOPK], const struct mm_topk_addr src[MM_TOPK]);
void mm_topk_port_merge(struct mm_topk_port dst[MM_TOPK], const struct mm_topk_port src[MM_TOPK]);

/* SipHash-1-3 of data under key, and XXH64 (little-endian reads, any host). */
uint64_t mm_siphash13(const uint64_t key[2], const void *data, size_t len);
uint64_t mm_xxh64(const void *data, size_t len, uint64_t seed);

/* Fold one step's aggregate into another (sums, sketch union, top-K merge):
 * how collectors' contributions and a window's steps add up. */
void mm_hoststep_merge(struct mm_hoststep *dst, const struct mm_hoststep *src);

#endif
