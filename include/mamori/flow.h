/*
 * flow.h - the normalized flow record: the one shape every decoder
 * (NetFlow v5, v9, IPFIX, sFlow, NFLOG) produces and everything downstream
 * (dump, aggregation, fast path) consumes.
 *
 * Contract:
 *  - Addresses are always 16 bytes.  IPv4 is stored IPv4-mapped
 *    (::ffff:a.b.c.d) and `af` says which family the exporter reported, so
 *    one hash/compare path serves both families.
 *  - `bytes`/`packets` are the counters exactly as exported; `*_scaled` are
 *    those multiplied by `sampling_rate` (saturating).  Aggregation uses the
 *    scaled values, dumps show both.
 *  - `sampling_src` says where the rate came from; a record is never scaled
 *    by a silent x1 (see enum mm_sampling_src).
 *  - Times are milliseconds since the Unix epoch, UTC.  start_ms <= end_ms
 *    always holds (a decoder swaps or clamps inconsistent exports).
 *  - For ICMP/ICMPv6, src_port is 0 and dst_port is (type << 8 | code), the
 *    convention NetFlow v5/v9 exporters use.
 */
#ifndef MAMORI_FLOW_H
#define MAMORI_FLOW_H

#include <stdint.h>
#include <stddef.h>

/* Where a record's sampling rate came from.  Names as printed in dumps. */
enum mm_sampling_src {
	MM_SAMPLING_DEFAULTED = 0, /* unknown: scaled by the configured default, counted */
	MM_SAMPLING_HEADER,        /* NetFlow v5 header / sFlow sample header */
	MM_SAMPLING_LEARNT,        /* options data (sampler table of the exporter/domain) */
	MM_SAMPLING_RECORD,        /* sampling elements inside the data record itself */
	MM_SAMPLING_CONFIGURED,    /* operator override for this exporter */
};

enum mm_direction {
	MM_DIR_UNKNOWN = 0,
	MM_DIR_INGRESS = 1,
	MM_DIR_EGRESS = 2,
};

/* Input formats (also the `version` printed in dumps). */
enum mm_format {
	MM_FMT_NETFLOW5 = 5,
	MM_FMT_NETFLOW9 = 9,
	MM_FMT_IPFIX = 10,
	MM_FMT_SFLOW5 = 105, /* sFlow v5; distinct from NetFlow v5 */
	MM_FMT_NFLOG = 200,
};

struct mm_flow {
	uint8_t src_addr[16];    /* IPv4-mapped when af == 4 */
	uint8_t dst_addr[16];
	uint8_t exporter[16];    /* exporter (agent) address, IPv4-mapped when v4 */
	uint64_t bytes;          /* as exported: L3 bytes (sFlow/NFLOG: the sampled packet's IP length) */
	uint64_t packets;        /* as exported */
	uint64_t bytes_scaled;   /* bytes * sampling_rate, saturating */
	uint64_t packets_scaled; /* packets * sampling_rate, saturating */
	uint64_t start_ms;       /* first packet, Unix ms */
	uint64_t end_ms;         /* last packet, Unix ms */
	uint32_t domain;         /* v9 source id / IPFIX observation domain / v5 engine type<<8|id / NFLOG group */
	uint32_t sampling_rate;  /* >= 1 */
	uint32_t in_if, out_if;  /* SNMP ifIndex, 0 = unknown */
	uint32_t src_as, dst_as; /* 0 = unknown */
	uint16_t src_port, dst_port;
	uint16_t template_id;    /* v9/IPFIX template that carried it, 0 otherwise */
	uint16_t format;         /* enum mm_format */
	uint8_t af;              /* 4 or 6 (0: no addresses could be decoded) */
	uint8_t proto;           /* IP protocol number */
	uint8_t tcp_flags;       /* OR of the flow's TCP flags (FIN=1 SYN=2 RST=4 PSH=8 ACK=16 URG=32) */
	uint8_t direction;       /* enum mm_direction */
	uint8_t sampling_src;    /* enum mm_sampling_src */
	uint8_t exporter_af;     /* 4 or 6 */
	uint8_t tos;
	uint8_t pad_;
};

/* Where decoders put their records: called once per flow data record, in
 * order.  `f` is only valid during the call. */
typedef void (*mm_flow_sink_fn)(void *arg, const struct mm_flow *f);

struct mm_flow_sink {
	mm_flow_sink_fn emit;
	void *arg;
};

/* Canonical name of a sampling source ("defaulted", "header", ...). */
const char *mm_sampling_src_name(unsigned src);

/* Set an IPv4-mapped address from 4 network-order bytes. */
static inline void mm_addr_set4(uint8_t dst[16], const uint8_t v4[4])
{
	for (int i = 0; i < 10; i++)
		dst[i] = 0;
	dst[10] = 0xff;
	dst[11] = 0xff;
	dst[12] = v4[0];
	dst[13] = v4[1];
	dst[14] = v4[2];
	dst[15] = v4[3];
}

static inline int mm_addr_is4(const uint8_t a[16])
{
	static const uint8_t pfx[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	for (int i = 0; i < 12; i++)
		if (a[i] != pfx[i])
			return 0;
	return 1;
}

/* Saturating multiply used for scaling counters. */
static inline uint64_t mm_scale(uint64_t v, uint32_t rate)
{
	if (rate <= 1)
		return v;
	if (v > UINT64_MAX / rate)
		return UINT64_MAX;
	return v * rate;
}

/* Format an address (IPv4-mapped printed as dotted quad).  buf >= 46. */
const char *mm_addr_str(const uint8_t a[16], char *buf, size_t len);

#endif
