/*
 * encode_sflow.c - sFlow version 5 datagrams (sflow.org, sflow_version_5.txt).
 *
 * sFlow exports sampled packets, not flows: each sampled packet of a
 * generated flow (mm_flow.packets of them) is one flow sample, and the
 * exporter (export.c, `per_packet`) hands this encoder one single-packet
 * record per sample, the flow's bytes shared out over its packets (the
 * first bytes % packets get one byte more).
 *
 * Datagram header (28 bytes): version 5, agent address type 1 (IPv4) and
 * the --exporter address, sub-agent id (--domain), sequence number
 * (datagrams sent before this one, + 1), uptime (ms since the exporter's
 * boot, at the export time), number of samples.
 *
 * Flow sample (format 1), one per packet, 64 bytes + the header bytes:
 *   sequence number   samples of this data source before it, + 1
 *   source id         class 2 (entPhysicalEntry), index 1: one data source,
 *                     the whole box, so one sample sequence
 *   sampling rate     --sampling (the record's rate)
 *   sample pool       sequence number * sampling rate
 *   drops             0
 *   input, output     the record's interfaces (ifIndex format)
 *   1 flow record: raw packet header (format 1), header protocol 1
 *   (Ethernet), frame length = 14 + IP length + 4 (FCS), stripped 4, then
 *   the packet's headers: Ethernet (02:00:00:00:00:01 -> :02), IPv4 (with
 *   its checksum) or IPv6, and TCP (20 bytes, the record's flags), UDP (8)
 *   or ICMP/ICMPv6 (8: type = dst_port >> 8, code = dst_port & 255); other
 *   protocols end at the IP header.  No payload is sent, unless the
 *   exporter has a `payload` (--sflow-payload): then the packet's bytes
 *   after its headers are that text repeated, and the raw header copies
 *   the frame up to GEN_SFLOW_HEADER_MAX (128) bytes, as agents do.
 *
 * IP length = the packet's share of the flow's bytes, at least its headers'
 * size (a packet smaller than its IP + L4 headers is sent at that size) and
 * at most what the IP length field holds.  sFlow carries no timestamps: all
 * the samples of a flow go out with the flow's record, at its export time.
 */
#include "gen.h"

#define SF_HDR 28
#define SF_SAMPLE_FIXED (8 + 32 + 8 + 16) /* sample header, fields, record header, raw-header fields */
#define SF_SOURCE_ID (2u << 24 | 1u)

static unsigned l3_len(const struct mm_flow *f)
{
	return f->af == 6 ? 40 : 20;
}

static unsigned l4_len(const struct mm_flow *f)
{
	switch (f->proto) {
	case 6:
		return 20;
	case 17:
	case 1:
	case 58:
		return 8;
	}
	return 0;
}

/* The packet's IP length (see the top of the file). */
static uint32_t ip_len(const struct mm_flow *f)
{
	uint64_t min = l3_len(f) + l4_len(f), max = f->af == 6 ? 65535 + 40 : 65535;
	uint64_t b = f->bytes;
	return (uint32_t)(b < min ? min : b > max ? max : b);
}

/* Header bytes sent: Ethernet + IP + L4 headers (no payload). */
static unsigned hdr_len(const struct mm_flow *f)
{
	return 14 + l3_len(f) + l4_len(f);
}

/* Payload bytes in the raw header: what the packet holds after its
 * headers, up to the header size. */
static unsigned payload_len(const struct mm_flow *f, const struct gen_exporter_cfg *c)
{
	if (c->payload == NULL || c->payload[0] == '\0')
		return 0;
	uint32_t after = ip_len(f) - l3_len(f) - l4_len(f), room = GEN_SFLOW_HEADER_MAX - hdr_len(f);
	return after < room ? after : room;
}

static uint16_t sf_packet_len(const struct mm_flow *f, const struct gen_exporter_cfg *c)
{
	return (uint16_t)(SF_SAMPLE_FIXED + ((hdr_len(f) + payload_len(f, c) + 3) & ~3u));
}

/* Longest sample of a family: IPv6 + TCP, or a full header with payload. */
static uint16_t sf_rec_len(int af, const struct gen_exporter_cfg *c)
{
	if (c->payload != NULL && c->payload[0] != '\0')
		return (uint16_t)(SF_SAMPLE_FIXED + GEN_SFLOW_HEADER_MAX);
	return (uint16_t)(SF_SAMPLE_FIXED + ((14 + (af == 6 ? 40 : 20) + 20 + 3) & ~3u));
}

static uint16_t sf_template_id(int af)
{
	(void)af;
	return 0;
}

static uint16_t ip4_checksum(const uint8_t *h)
{
	uint32_t sum = 0;
	for (int i = 0; i < 20; i += 2)
		sum += gen_get16(h + i);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void sf_put_record(uint8_t *p, const struct mm_flow *f, const struct gen_exporter_cfg *c)
{
	static const uint8_t mac_dst[6] = { 2, 0, 0, 0, 0, 2 }, mac_src[6] = { 2, 0, 0, 0, 0, 1 };
	unsigned pl = payload_len(f, c), hl = hdr_len(f) + pl, padded = (hl + 3) & ~3u;
	uint32_t len = ip_len(f);

	/* sample: format 1, length; sequence and pool are numbered by the
	 * header writer once the datagram's order is final */
	gen_put32(p, 1);
	gen_put32(p + 4, (uint32_t)(SF_SAMPLE_FIXED - 8 + padded));
	gen_put32(p + 8, 0);
	gen_put32(p + 12, SF_SOURCE_ID);
	gen_put32(p + 16, f->sampling_rate ? f->sampling_rate : 1);
	gen_put32(p + 20, 0);
	gen_put32(p + 24, 0);
	gen_put32(p + 28, f->in_if & 0x3fffffffu);
	gen_put32(p + 32, f->out_if & 0x3fffffffu);
	gen_put32(p + 36, 1);
	/* raw packet header record */
	gen_put32(p + 40, 1);
	gen_put32(p + 44, 16 + padded);
	gen_put32(p + 48, 1);            /* Ethernet */
	gen_put32(p + 52, 14 + len + 4); /* frame length, FCS included */
	gen_put32(p + 56, 4);            /* stripped: the FCS */
	gen_put32(p + 60, hl);
	uint8_t *h = p + 64;
	memset(h, 0, padded);
	memcpy(h, mac_dst, 6);
	memcpy(h + 6, mac_src, 6);
	uint8_t *l4;
	if (f->af == 6) {
		gen_put16(h + 12, 0x86dd);
		uint8_t *ip = h + 14;
		gen_put32(ip, 6u << 28 | (uint32_t)f->tos << 20);
		gen_put16(ip + 4, (uint16_t)(len - 40));
		ip[6] = f->proto;
		ip[7] = 64;
		memcpy(ip + 8, f->src_addr, 16);
		memcpy(ip + 24, f->dst_addr, 16);
		l4 = ip + 40;
	} else {
		gen_put16(h + 12, 0x0800);
		uint8_t *ip = h + 14;
		ip[0] = 0x45;
		ip[1] = f->tos;
		gen_put16(ip + 2, (uint16_t)len);
		ip[8] = 64;
		ip[9] = f->proto;
		memcpy(ip + 12, f->src_addr + 12, 4);
		memcpy(ip + 16, f->dst_addr + 12, 4);
		gen_put16(ip + 10, ip4_checksum(ip));
		l4 = ip + 20;
	}
	switch (f->proto) {
	case 6:
		gen_put16(l4, f->src_port);
		gen_put16(l4 + 2, f->dst_port);
		gen_put32(l4 + 4, 1);                    /* sequence number */
		gen_put32(l4 + 8, f->tcp_flags & 0x10 ? 1 : 0); /* ack number only with ACK */
		l4[12] = 0x50;                            /* 20-byte header */
		l4[13] = f->tcp_flags;
		gen_put16(l4 + 14, 65535);                /* window */
		gen_put16(l4 + 16, 0xffff);               /* checksum: not computed (no payload) */
		break;
	case 17:
		gen_put16(l4, f->src_port);
		gen_put16(l4 + 2, f->dst_port);
		gen_put16(l4 + 4, (uint16_t)(len - l3_len(f)));
		gen_put16(l4 + 6, 0xffff);
		break;
	case 1:
	case 58:
		l4[0] = (uint8_t)(f->dst_port >> 8);
		l4[1] = (uint8_t)f->dst_port;
		gen_put16(l4 + 2, 0xffff);
		break;
	}
	if (pl > 0) {
		uint8_t *d = l4 + l4_len(f);
		size_t tl = strlen(c->payload);
		for (unsigned i = 0; i < pl; i++)
			d[i] = (uint8_t)c->payload[i % tl];
	}
}

/* Write the header and number the samples (sequence, pool) in datagram order. */
static void sf_put_header(uint8_t *p, const struct gen_hdr *h)
{
	gen_put32(p, 5);
	gen_put32(p + 4, 1);
	memcpy(p + 8, h->agent4, 4);
	gen_put32(p + 12, h->domain);
	gen_put32(p + 16, h->seq + 1);
	gen_put32(p + 20, (uint32_t)(h->export_ms - h->boot_ms));
	gen_put32(p + 24, h->count);
	size_t off = SF_HDR;
	for (unsigned i = 0; i < h->count && off + 24 <= h->len; i++) {
		uint32_t seq = h->rec_seq + i + 1;
		gen_put32(p + off + 8, seq);
		gen_put32(p + off + 20, seq * gen_get32(p + off + 16));
		off += 8 + (size_t)gen_get32(p + off + 4);
	}
}

static void sf_shift_times(uint8_t *p, size_t len, int64_t delta_ms)
{
	/* no timestamps in samples; the header's uptime is rewritten */
	(void)p;
	(void)len;
	(void)delta_ms;
}

const struct gen_fmt gen_fmt_sflow = {
	.name = "sflow",
	.version = MM_FMT_SFLOW5,
	.hdr_len = SF_HDR,
	.set_hdr = 0,
	.set_align = 1,
	.max_records = 0,
	.seq_packets = 1,
	.has_ipv6 = 1,
	.per_packet = 1,
	.rec_len = sf_rec_len,
	.packet_len = sf_packet_len,
	.template_id = sf_template_id,
	.put_record = sf_put_record,
	.put_header = sf_put_header,
	.put_templates = NULL,
	.shift_times = sf_shift_times,
};
