/*
 * encode_v5.c - NetFlow v5 export datagrams (Cisco's fixed format).
 *
 * Header (24 bytes): version 5, count (<= 30), sysUptime (ms since the
 * exporter booted), unix_secs, unix_nsecs, flow_sequence (flow records
 * sent before this datagram), engine_type, engine_id (from --domain:
 * type = bits 8..15, id = bits 0..7), sampling_interval (top two bits =
 * mode 01 "packet interval", low 14 bits = N).
 * Record (48 bytes): srcaddr, dstaddr, nexthop, input, output, dPkts,
 * dOctets, First, Last (sysUptime at the first/last packet), srcport,
 * dstport, pad, tcp_flags, prot, tos, src_as, dst_as, src_mask,
 * dst_mask, pad.  Counters above 2^32-1 saturate.
 */
#include "gen.h"

#define V5_HDR 24
#define V5_REC 48

static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static uint16_t v5_rec_len(int af, const struct gen_exporter_cfg *c)
{
	(void)c;
	(void)af;
	return V5_REC;
}

static uint16_t v5_template_id(int af)
{
	(void)af;
	return 0;
}

static void v5_put_record(uint8_t *p, const struct mm_flow *f, const struct gen_exporter_cfg *c)
{
	uint64_t boot_ms = c->boot_ms;
	memcpy(p, f->src_addr + 12, 4);
	memcpy(p + 4, f->dst_addr + 12, 4);
	gen_put32(p + 8, 0); /* nexthop */
	gen_put16(p + 12, (uint16_t)f->in_if);
	gen_put16(p + 14, (uint16_t)f->out_if);
	gen_put32(p + 16, sat32(f->packets));
	gen_put32(p + 20, sat32(f->bytes));
	gen_put32(p + 24, (uint32_t)(f->start_ms - boot_ms));
	gen_put32(p + 28, (uint32_t)(f->end_ms - boot_ms));
	gen_put16(p + 32, f->src_port);
	gen_put16(p + 34, f->dst_port);
	p[36] = 0;
	p[37] = f->tcp_flags;
	p[38] = f->proto;
	p[39] = f->tos;
	gen_put16(p + 40, (uint16_t)f->src_as);
	gen_put16(p + 42, (uint16_t)f->dst_as);
	p[44] = 0; /* src_mask */
	p[45] = 0; /* dst_mask */
	gen_put16(p + 46, 0);
}

static void v5_put_header(uint8_t *p, const struct gen_hdr *h)
{
	gen_put16(p, 5);
	gen_put16(p + 2, (uint16_t)h->count);
	gen_put32(p + 4, (uint32_t)(h->export_ms - h->boot_ms));
	gen_put32(p + 8, (uint32_t)(h->export_ms / 1000));
	gen_put32(p + 12, (uint32_t)(h->export_ms % 1000) * 1000000u);
	gen_put32(p + 16, h->seq);
	p[20] = (uint8_t)(h->domain >> 8);
	p[21] = (uint8_t)h->domain;
	gen_put16(p + 22, (uint16_t)(1u << 14 | (h->sampling & 0x3fff)));
}

static void v5_shift_times(uint8_t *p, size_t len, int64_t delta_ms)
{
	unsigned count = gen_get16(p + 2);
	for (unsigned i = 0; i < count; i++) {
		uint8_t *r = p + V5_HDR + (size_t)i * V5_REC;
		if ((size_t)(r - p) + V5_REC > len)
			break;
		gen_put32(r + 24, (uint32_t)(gen_get32(r + 24) + (uint32_t)delta_ms));
		gen_put32(r + 28, (uint32_t)(gen_get32(r + 28) + (uint32_t)delta_ms));
	}
}

const struct gen_fmt gen_fmt_v5 = {
	.name = "v5",
	.version = 5,
	.hdr_len = V5_HDR,
	.set_hdr = 0,
	.set_align = 1,
	.max_records = 30,
	.seq_packets = 0,
	.has_ipv6 = 0,
	.rec_len = v5_rec_len,
	.template_id = v5_template_id,
	.put_record = v5_put_record,
	.put_header = v5_put_header,
	.put_templates = NULL,
	.shift_times = v5_shift_times,
};
