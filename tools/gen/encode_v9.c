/*
 * encode_v9.c - NetFlow v9 export packets (RFC 3954).
 *
 * Header (20 bytes): version 9, count (all records in the packet:
 * template, options template, options data and flow data records),
 * sysUptime, unix_secs, sequence (export packets sent before this one),
 * source id (--domain).
 *
 * The header time is the export time rounded UP to the second and
 * sysUptime is taken at that instant, with the boot time on a whole
 * second: a collector computing unix_secs*1000 - (sysUptime - LAST) gets
 * the record's time to the millisecond (v9 has no sub-second header
 * field) and no record ends after its packet's export time.
 *
 * Templates (flowset 0): 256 IPv4, 257 IPv6.
 *   256: IPV4_SRC_ADDR 4, IPV4_DST_ADDR 4, IN_BYTES 4, IN_PKTS 4,
 *        FIRST_SWITCHED 4, LAST_SWITCHED 4, INPUT_SNMP 2, OUTPUT_SNMP 2,
 *        L4_SRC_PORT 2, L4_DST_PORT 2, PROTOCOL 1, TCP_FLAGS 1, SRC_TOS 1,
 *        DIRECTION 1                                          (36 bytes)
 *   257: the same with IPV6_SRC_ADDR 16, IPV6_DST_ADDR 16      (60 bytes)
 * Options template (flowset 1): 258, scope System (1) 4 bytes; options
 * SAMPLING_INTERVAL (34) 4, SAMPLING_ALGORITHM (35) 1 (1 = deterministic).
 * Options data (flowset 258): the exporter's IPv4 address as the System
 * scope value, N, 1.  Every flowset is padded to a multiple of 4 bytes.
 */
#include "gen.h"

#define V9_HDR 20
#define T4 256
#define T6 257
#define TOPT 258

struct field {
	uint16_t type, len;
};

static const struct field tmpl4[] = {
	{ 8, 4 }, { 12, 4 }, { 1, 4 }, { 2, 4 }, { 22, 4 }, { 21, 4 }, { 10, 2 },
	{ 14, 2 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 1 }, { 5, 1 }, { 61, 1 },
};
static const struct field tmpl6[] = {
	{ 27, 16 }, { 28, 16 }, { 1, 4 }, { 2, 4 }, { 22, 4 }, { 21, 4 }, { 10, 2 },
	{ 14, 2 }, { 7, 2 }, { 11, 2 }, { 4, 1 }, { 6, 1 }, { 5, 1 }, { 61, 1 },
};
#define NF(a) (sizeof(a) / sizeof((a)[0]))
#define REC4 36
#define REC6 60

static uint32_t sat32(uint64_t v)
{
	return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

static uint16_t v9_rec_len(int af, const struct gen_exporter_cfg *c)
{
	(void)c;
	return af == 6 ? REC6 : REC4;
}

static uint16_t v9_template_id(int af)
{
	return af == 6 ? T6 : T4;
}

static void v9_put_record(uint8_t *p, const struct mm_flow *f, const struct gen_exporter_cfg *c)
{
	uint64_t boot_ms = c->boot_ms;
	if (f->af == 6) {
		memcpy(p, f->src_addr, 16);
		memcpy(p + 16, f->dst_addr, 16);
		p += 32;
	} else {
		memcpy(p, f->src_addr + 12, 4);
		memcpy(p + 4, f->dst_addr + 12, 4);
		p += 8;
	}
	gen_put32(p, sat32(f->bytes));
	gen_put32(p + 4, sat32(f->packets));
	gen_put32(p + 8, (uint32_t)(f->start_ms - boot_ms));
	gen_put32(p + 12, (uint32_t)(f->end_ms - boot_ms));
	gen_put16(p + 16, (uint16_t)f->in_if);
	gen_put16(p + 18, (uint16_t)f->out_if);
	gen_put16(p + 20, f->src_port);
	gen_put16(p + 22, f->dst_port);
	p[24] = f->proto;
	p[25] = f->tcp_flags;
	p[26] = f->tos;
	p[27] = f->direction == MM_DIR_EGRESS ? 1 : 0;
}

static void v9_put_header(uint8_t *p, const struct gen_hdr *h)
{
	uint64_t hdr_ms = (h->export_ms + 999) / 1000 * 1000;
	gen_put16(p, 9);
	gen_put16(p + 2, (uint16_t)h->count);
	gen_put32(p + 4, (uint32_t)(hdr_ms - h->boot_ms));
	gen_put32(p + 8, (uint32_t)(hdr_ms / 1000));
	gen_put32(p + 12, h->seq);
	gen_put32(p + 16, h->domain);
}

static size_t put_fields(uint8_t *p, const struct field *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		gen_put16(p + 4 * i, f[i].type);
		gen_put16(p + 4 * i + 2, f[i].len);
	}
	return 4 * (size_t)n;
}

static size_t pad4(uint8_t *base, size_t len)
{
	while (len % 4)
		base[len++] = 0;
	return len;
}

static size_t v9_put_templates(uint8_t *p, size_t room, const struct gen_tmpl_ctx *c, unsigned *records,
			       unsigned *data_records)
{
	static const struct field scope[] = { { 1, 4 } };             /* System */
	static const struct field opts[] = { { 34, 4 }, { 35, 1 } };  /* interval, algorithm */
	size_t need = 4 + 4 + 4 * NF(tmpl4) + 4 + 4 * NF(tmpl6) + 10 + 4 * (NF(scope) + NF(opts)) + 3 + 4 + 9 + 3;
	size_t off = 0, set;

	if (room < need)
		return 0;
	/* Template flowset: both templates. */
	set = off;
	gen_put16(p + off, 0);
	off += 4;
	gen_put16(p + off, T4);
	gen_put16(p + off + 2, NF(tmpl4));
	off += 4;
	off += put_fields(p + off, tmpl4, NF(tmpl4));
	gen_put16(p + off, T6);
	gen_put16(p + off + 2, NF(tmpl6));
	off += 4;
	off += put_fields(p + off, tmpl6, NF(tmpl6));
	off = set + pad4(p + set, off - set);
	gen_put16(p + set + 2, (uint16_t)(off - set));

	/* Options template flowset. */
	set = off;
	gen_put16(p + off, 1);
	off += 4;
	gen_put16(p + off, TOPT);
	gen_put16(p + off + 2, 4 * NF(scope));
	gen_put16(p + off + 4, 4 * NF(opts));
	off += 6;
	off += put_fields(p + off, scope, NF(scope));
	off += put_fields(p + off, opts, NF(opts));
	off = set + pad4(p + set, off - set);
	gen_put16(p + set + 2, (uint16_t)(off - set));

	/* Options data flowset. */
	set = off;
	gen_put16(p + off, TOPT);
	off += 4;
	memcpy(p + off, c->exporter4, 4);
	gen_put32(p + off + 4, c->sampling);
	p[off + 8] = 1; /* deterministic */
	off += 9;
	off = set + pad4(p + set, off - set);
	gen_put16(p + set + 2, (uint16_t)(off - set));

	*records = 2 + 1 + 1;
	*data_records = 1;
	return off;
}

static void v9_shift_times(uint8_t *p, size_t len, int64_t delta_ms)
{
	size_t off = V9_HDR;
	uint32_t d = (uint32_t)delta_ms;

	while (off + 4 <= len) {
		uint16_t id = gen_get16(p + off), slen = gen_get16(p + off + 2);
		if (slen < 4 || off + slen > len)
			break;
		if (id == T4 || id == T6) {
			size_t rl = id == T6 ? REC6 : REC4, ts = id == T6 ? 40 : 16;
			for (size_t r = off + 4; r + rl <= off + slen; r += rl) {
				gen_put32(p + r + ts, gen_get32(p + r + ts) + d);
				gen_put32(p + r + ts + 4, gen_get32(p + r + ts + 4) + d);
			}
		}
		off += slen;
	}
}

_Static_assert(REC4 == 36 && REC6 == 60, "v9 record layout");

const struct gen_fmt gen_fmt_v9 = {
	.name = "v9",
	.version = 9,
	.hdr_len = V9_HDR,
	.set_hdr = 4,
	.set_align = 4,
	.max_records = 0,
	.seq_packets = 1,
	.has_ipv6 = 1,
	.rec_len = v9_rec_len,
	.template_id = v9_template_id,
	.put_record = v9_put_record,
	.put_header = v9_put_header,
	.put_templates = v9_put_templates,
	.shift_times = v9_shift_times,
};
