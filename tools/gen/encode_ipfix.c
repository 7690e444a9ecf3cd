/*
 * encode_ipfix.c - IPFIX messages (RFC 7011, information elements from
 * RFC 7012 / IANA, sampling elements from RFC 5477 (PSAMP)).
 *
 * Message header (16 bytes): version 10, length, export time (s),
 * sequence number (data records sent before this message in the
 * observation domain, options data included), observation domain id
 * (--domain).
 *
 * Template set (2): 256 IPv4, 257 IPv6, absolute millisecond timestamps.
 *   256: sourceIPv4Address 4, destinationIPv4Address 4,
 *        octetDeltaCount 8, packetDeltaCount 8, flowStartMilliseconds 8,
 *        flowEndMilliseconds 8, ingressInterface 4, egressInterface 4,
 *        sourceTransportPort 2, destinationTransportPort 2,
 *        protocolIdentifier 1, tcpControlBits 2, ipClassOfService 1,
 *        flowDirection 1                                       (57 bytes)
 *   257: the same with sourceIPv6Address 16, destinationIPv6Address 16
 *                                                              (81 bytes)
 * Options template set (3): 258 scoped to observationDomainId (149) 4,
 * announcing the sampling rate, by default the PSAMP way:
 *   samplingPacketInterval (305) 4 = 1, samplingPacketSpace (306) 4 = N-1,
 *   selectorAlgorithm (304) 2 = 1 (systematic count-based)
 * or with --sampling-ies legacy the RFC 3954 way most routers still use:
 *   samplingInterval (34) 4 = N, samplingAlgorithm (35) 1 = 1.
 * Sets are not padded.
 */
#include "gen.h"

#define IPFIX_HDR 16
#define T4 256
#define T6 257
#define TOPT 258
#define REC4 57
#define REC6 81

struct field {
	uint16_t type, len;
};

static const struct field tmpl4[] = {
	{ 8, 4 }, { 12, 4 }, { 1, 8 }, { 2, 8 }, { 152, 8 }, { 153, 8 }, { 10, 4 },
	{ 14, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 2 }, { 5, 1 }, { 61, 1 },
};
static const struct field tmpl6[] = {
	{ 27, 16 }, { 28, 16 }, { 1, 8 }, { 2, 8 }, { 152, 8 }, { 153, 8 }, { 10, 4 },
	{ 14, 4 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 2 }, { 5, 1 }, { 61, 1 },
};
#define NF(a) (sizeof(a) / sizeof((a)[0]))

static uint16_t ipfix_rec_len(int af, const struct gen_exporter_cfg *c)
{
	(void)c;
	return af == 6 ? REC6 : REC4;
}

static uint16_t ipfix_template_id(int af)
{
	return af == 6 ? T6 : T4;
}

static void ipfix_put_record(uint8_t *p, const struct mm_flow *f, const struct gen_exporter_cfg *c)
{
	uint64_t boot_ms = c->boot_ms;
	(void)boot_ms;
	if (f->af == 6) {
		memcpy(p, f->src_addr, 16);
		memcpy(p + 16, f->dst_addr, 16);
		p += 32;
	} else {
		memcpy(p, f->src_addr + 12, 4);
		memcpy(p + 4, f->dst_addr + 12, 4);
		p += 8;
	}
	gen_put64(p, f->bytes);
	gen_put64(p + 8, f->packets);
	gen_put64(p + 16, f->start_ms);
	gen_put64(p + 24, f->end_ms);
	gen_put32(p + 32, f->in_if);
	gen_put32(p + 36, f->out_if);
	gen_put16(p + 40, f->src_port);
	gen_put16(p + 42, f->dst_port);
	p[44] = f->proto;
	gen_put16(p + 45, f->tcp_flags);
	p[47] = f->tos;
	p[48] = f->direction == MM_DIR_EGRESS ? 1 : 0;
}

static void ipfix_put_header(uint8_t *p, const struct gen_hdr *h)
{
	gen_put16(p, 10);
	gen_put16(p + 2, (uint16_t)h->len);
	gen_put32(p + 4, (uint32_t)(h->export_ms / 1000));
	gen_put32(p + 8, h->seq);
	gen_put32(p + 12, h->domain);
}

static size_t put_fields(uint8_t *p, const struct field *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		gen_put16(p + 4 * i, f[i].type);
		gen_put16(p + 4 * i + 2, f[i].len);
	}
	return 4 * (size_t)n;
}

static size_t ipfix_put_templates(uint8_t *p, size_t room, const struct gen_tmpl_ctx *c, unsigned *records,
				  unsigned *data_records)
{
	static const struct field psamp[] = { { 149, 4 }, { 305, 4 }, { 306, 4 }, { 304, 2 } };
	static const struct field legacy[] = { { 149, 4 }, { 34, 4 }, { 35, 1 } };
	const struct field *opt = c->legacy_sampling ? legacy : psamp;
	unsigned nopt = c->legacy_sampling ? NF(legacy) : NF(psamp);
	size_t need = 4 + 4 + 4 * NF(tmpl4) + 4 + 4 * NF(tmpl6) + 4 + 6 + 4 * 4 + 4 + 14;
	size_t off = 0, set;

	if (room < need)
		return 0;
	set = off;
	gen_put16(p + off, 2);
	off += 4;
	gen_put16(p + off, T4);
	gen_put16(p + off + 2, NF(tmpl4));
	off += 4;
	off += put_fields(p + off, tmpl4, NF(tmpl4));
	gen_put16(p + off, T6);
	gen_put16(p + off + 2, NF(tmpl6));
	off += 4;
	off += put_fields(p + off, tmpl6, NF(tmpl6));
	gen_put16(p + set + 2, (uint16_t)(off - set));

	set = off;
	gen_put16(p + off, 3);
	off += 4;
	gen_put16(p + off, TOPT);
	gen_put16(p + off + 2, (uint16_t)nopt);
	gen_put16(p + off + 4, 1); /* scope field count */
	off += 6;
	off += put_fields(p + off, opt, nopt);
	gen_put16(p + set + 2, (uint16_t)(off - set));

	set = off;
	gen_put16(p + off, TOPT);
	off += 4;
	gen_put32(p + off, c->domain);
	off += 4;
	if (c->legacy_sampling) {
		gen_put32(p + off, c->sampling);
		p[off + 4] = 1;
		off += 5;
	} else {
		gen_put32(p + off, 1);
		gen_put32(p + off + 4, c->sampling - 1);
		gen_put16(p + off + 8, 1);
		off += 10;
	}
	gen_put16(p + set + 2, (uint16_t)(off - set));

	*records = 2 + 1 + 1;
	*data_records = 1;
	return off;
}

static void ipfix_shift_times(uint8_t *p, size_t len, int64_t delta_ms)
{
	size_t off = IPFIX_HDR;
	uint64_t d = (uint64_t)delta_ms;

	while (off + 4 <= len) {
		uint16_t id = gen_get16(p + off), slen = gen_get16(p + off + 2);
		if (slen < 4 || off + slen > len)
			break;
		if (id == T4 || id == T6) {
			size_t rl = id == T6 ? REC6 : REC4, ts = id == T6 ? 48 : 24;
			for (size_t r = off + 4; r + rl <= off + slen; r += rl) {
				gen_put64(p + r + ts, gen_get64(p + r + ts) + d);
				gen_put64(p + r + ts + 8, gen_get64(p + r + ts + 8) + d);
			}
		}
		off += slen;
	}
}

const struct gen_fmt gen_fmt_ipfix = {
	.name = "ipfix",
	.version = 10,
	.hdr_len = IPFIX_HDR,
	.set_hdr = 4,
	.set_align = 1,
	.max_records = 0,
	.seq_packets = 0,
	.has_ipv6 = 1,
	.rec_len = ipfix_rec_len,
	.template_id = ipfix_template_id,
	.put_record = ipfix_put_record,
	.put_header = ipfix_put_header,
	.put_templates = ipfix_put_templates,
	.shift_times = ipfix_shift_times,
};
