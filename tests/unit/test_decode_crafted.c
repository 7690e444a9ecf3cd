/*
 * Hand-built datagrams for every decoder rule: sampling and its provenance,
 * timestamps, templates (refresh, replacement, withdrawal, limits), data
 * before template, sequence accounting, variable-length and enterprise
 * fields, frame sections, and malformed input of every kind.  Each datagram
 * is decoded from an exact-size heap copy so ASan catches any over-read.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "lib/testutil.h"

/* --- a tiny big-endian packet builder ------------------------------------ */
struct pk {
	uint8_t b[4096];
	size_t n;
};
static void u8(struct pk *p, unsigned v) { p->b[p->n++] = (uint8_t)v; }
static void u16(struct pk *p, unsigned v) { u8(p, v >> 8); u8(p, v); }
static void u32(struct pk *p, uint32_t v) { u16(p, v >> 16); u16(p, v & 0xffff); }
static void u64(struct pk *p, uint64_t v) { u32(p, (uint32_t)(v >> 32)); u32(p, (uint32_t)v); }
static void bytes(struct pk *p, const void *d, size_t n) { memcpy(p->b + p->n, d, n); p->n += n; }
static void ip4(struct pk *p, unsigned a, unsigned b, unsigned c, unsigned d) { u8(p, a); u8(p, b); u8(p, c); u8(p, d); }
static void put16(struct pk *p, size_t at, unsigned v) { p->b[at] = (uint8_t)(v >> 8); p->b[at + 1] = (uint8_t)v; }

/* Decode from an exact-size heap buffer. */
static int dec(struct tu_decoded *d, const struct pk *p, uint64_t now)
{
	uint8_t *copy = malloc(p->n ? p->n : 1);
	memcpy(copy, p->b, p->n);
	int r = tu_decode_bytes(d, copy, p->n, now);
	free(copy);
	return r;
}

static const uint8_t A4[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1 };

/* --- NetFlow v5 ---------------------------------------------------------- */
static void v5(struct pk *p, unsigned count, uint32_t seq, unsigned sampling, unsigned nrec)
{
	p->n = 0;
	u16(p, 5); u16(p, count); u32(p, 100000); /* uptime */
	u32(p, 1700000000); u32(p, 500000000); u32(p, seq);
	u8(p, 1); u8(p, 2); u16(p, sampling);
	for (unsigned i = 0; i < nrec; i++) {
		ip4(p, 10, 0, 0, 1); ip4(p, 10, 0, 0, 2); ip4(p, 0, 0, 0, 0);
		u16(p, 3); u16(p, 4); u32(p, 7); u32(p, 700);
		u32(p, 90000); u32(p, 99000); /* first, last: 10 s and 1 s ago */
		u16(p, 1234); u16(p, 80); u8(p, 0); u8(p, 0x12); u8(p, 6); u8(p, 0);
		u16(p, 64500); u16(p, 64501); u8(p, 24); u8(p, 24); u16(p, 0);
	}
}

START_TEST(v5_fields_and_header_sampling)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v5(&p, 2, 0, 0x4000 | 1000, 2); /* mode 01 (packet interval), 1:1000 */
	ck_assert_int_eq(dec(&d, &p, 0), 2);
	const struct mm_flow *f = &d.recs[0];
	ck_assert_mem_eq(f->src_addr, A4, 16);
	ck_assert_uint_eq(f->af, 4);
	ck_assert_uint_eq(f->packets, 7);
	ck_assert_uint_eq(f->bytes, 700);
	ck_assert_uint_eq(f->sampling_rate, 1000);
	ck_assert_uint_eq(f->sampling_src, MM_SAMPLING_HEADER);
	ck_assert_uint_eq(f->bytes_scaled, 700000);
	ck_assert_uint_eq(f->packets_scaled, 7000);
	ck_assert_uint_eq(f->src_port, 1234);
	ck_assert_uint_eq(f->dst_port, 80);
	ck_assert_uint_eq(f->proto, 6);
	ck_assert_uint_eq(f->tcp_flags, 0x12);
	ck_assert_uint_eq(f->src_as, 64500);
	ck_assert_uint_eq(f->in_if, 3);
	ck_assert_uint_eq(f->domain, 0x0102);
	/* export 1700000000.5 s, uptime 100 s: first 10 s ago, last 1 s ago */
	ck_assert_uint_eq(f->start_ms, 1700000000500ull - 10000);
	ck_assert_uint_eq(f->end_ms, 1700000000500ull - 1000);
	tu_free(&d);
}
END_TEST

START_TEST(v5_interval_zero_is_unsampled_unless_configured)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v5(&p, 1, 0, 0, 1);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[0].sampling_rate, 1);
	ck_assert_uint_eq(d.recs[0].sampling_src, MM_SAMPLING_HEADER);
	d.ex[0]->cfg_rate = 512;
	v5(&p, 1, 1, 0, 1);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[1].sampling_rate, 512);
	ck_assert_uint_eq(d.recs[1].sampling_src, MM_SAMPLING_CONFIGURED);
	ck_assert_uint_eq(d.recs[1].bytes_scaled, 700u * 512);
	ck_assert_uint_eq(tu_stats(&d).unknown_sampling, 0);
	tu_free(&d);
}
END_TEST

START_TEST(v5_lying_count_and_truncation_rejected)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v5(&p, 3, 0, 0, 2); /* says 3, carries 2 */
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	v5(&p, 0, 0, 0, 0); /* zero records */
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	v5(&p, 1, 0, 0, 1);
	p.n = 23; /* shorter than the header */
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	v5(&p, 1, 0, 0, 1);
	p.n -= 1; /* record cut short */
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	ck_assert_uint_eq(d.nrecs, 0);
	ck_assert_uint_eq(tu_stats(&d).malformed, 4);
	ck_assert_str_ne(d.ex[0]->err, "");
	tu_free(&d);
}
END_TEST

START_TEST(v5_sequence_loss_reorder_reset_wrap)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v5(&p, 2, 100, 0, 2);
	dec(&d, &p, 0); /* next expected 102 */
	v5(&p, 2, 110, 0, 2);
	dec(&d, &p, 0); /* 8 lost, next 112 */
	ck_assert_uint_eq(tu_stats(&d).lost_records, 8);
	v5(&p, 2, 102, 0, 2);
	dec(&d, &p, 0); /* the late one: 2 of the 8 come back */
	ck_assert_uint_eq(tu_stats(&d).lost_records, 6);
	ck_assert_uint_eq(tu_stats(&d).seq_reordered, 1);
	v5(&p, 2, 3000000000u, 0, 2);
	dec(&d, &p, 0); /* a jump this large is a restart, not loss */
	ck_assert_uint_eq(tu_stats(&d).seq_resets, 1);
	ck_assert_uint_eq(tu_stats(&d).lost_records, 6);
	v5(&p, 2, 0xffffffffu, 0, 2);
	dec(&d, &p, 0); /* reset again, then wrap through zero */
	v5(&p, 2, 1, 0, 2);
	dec(&d, &p, 0);
	ck_assert_uint_eq(tu_stats(&d).lost_records, 6);
	ck_assert_uint_eq(tu_stats(&d).seq_resets, 2);
	tu_free(&d);
}
END_TEST

/* --- NetFlow v9 ---------------------------------------------------------- */
static void v9_hdr(struct pk *p, uint32_t seq, uint32_t source)
{
	p->n = 0;
	u16(p, 9); u16(p, 1); u32(p, 3600000); /* uptime 1 h */
	u32(p, 1700000000); u32(p, seq); u32(p, source);
}

/* template 300: src4 dst4 sport dport proto bytes pkts first last samplerid */
static void v9_tmpl(struct pk *p)
{
	u16(p, 0); u16(p, 4 + 4 + 10 * 4);
	u16(p, 300); u16(p, 10);
	u16(p, 8); u16(p, 4); u16(p, 12); u16(p, 4); u16(p, 7); u16(p, 2); u16(p, 11); u16(p, 2);
	u16(p, 4); u16(p, 1); u16(p, 1); u16(p, 4); u16(p, 2); u16(p, 4);
	u16(p, 22); u16(p, 4); u16(p, 21); u16(p, 4); u16(p, 48); u16(p, 1);
}
#define V9_REC 30
static void v9_rec(struct pk *p, unsigned sampler)
{
	ip4(p, 10, 0, 0, 1); ip4(p, 10, 0, 0, 2); u16(p, 53); u16(p, 4444); u8(p, 17);
	u32(p, 1000); u32(p, 10); u32(p, 3590000); u32(p, 3599000); u8(p, sampler);
}
static void v9_data(struct pk *p, unsigned n, unsigned sampler, unsigned pad)
{
	u16(p, 300); u16(p, 4 + n * V9_REC + pad);
	for (unsigned i = 0; i < n; i++)
		v9_rec(p, sampler);
	for (unsigned i = 0; i < pad; i++)
		u8(p, 0);
}
/* options template 400: scope system(4), options samplerId(1) interval(4) */
static void v9_opt_tmpl(struct pk *p)
{
	u16(p, 1); u16(p, 4 + 6 + 12 + 2);
	u16(p, 400); u16(p, 4); u16(p, 8);
	u16(p, 1); u16(p, 4);
	u16(p, 48); u16(p, 1); u16(p, 34); u16(p, 4);
	u16(p, 0); /* padding */
}
static void v9_opt_data(struct pk *p, unsigned sampler, uint32_t rate)
{
	u16(p, 400); u16(p, 4 + 9 + 3);
	u32(p, 0); u8(p, sampler); u32(p, rate);
	u8(p, 0); u8(p, 0); u8(p, 0);
}

START_TEST(v9_template_data_times_and_padding)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v9_hdr(&p, 0, 7);
	v9_tmpl(&p);
	v9_data(&p, 2, 0, 3);
	ck_assert_int_eq(dec(&d, &p, 0), 2);
	const struct mm_flow *f = &d.recs[0];
	ck_assert_uint_eq(f->proto, 17);
	ck_assert_uint_eq(f->src_port, 53);
	ck_assert_uint_eq(f->bytes, 1000);
	ck_assert_uint_eq(f->domain, 7);
	ck_assert_uint_eq(f->template_id, 300);
	ck_assert_uint_eq(f->format, MM_FMT_NETFLOW9);
	ck_assert_uint_eq(f->start_ms, 1700000000000ull - 10000);
	ck_assert_uint_eq(f->end_ms, 1700000000000ull - 1000);
	/* nothing learnt, nothing configured: the default, and counted */
	ck_assert_uint_eq(f->sampling_src, MM_SAMPLING_DEFAULTED);
	ck_assert_uint_eq(tu_stats(&d).unknown_sampling, 2);
	ck_assert_uint_eq(tu_stats(&d).malformed, 0);
	tu_free(&d);
}
END_TEST

START_TEST(v9_default_rate_scales_unknown)
{
	struct tu_decoded d = { .default_rate = 100 };
	struct pk p;
	v9_hdr(&p, 0, 7);
	v9_tmpl(&p);
	v9_data(&p, 1, 0, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[0].sampling_rate, 100);
	ck_assert_uint_eq(d.recs[0].bytes_scaled, 100000);
	ck_assert_uint_eq(d.recs[0].sampling_src, MM_SAMPLING_DEFAULTED);
	ck_assert_uint_eq(tu_stats(&d).unknown_sampling, 1);
	tu_free(&d);
}
END_TEST

START_TEST(v9_sampler_table_keyed_by_sampler_id)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v9_hdr(&p, 0, 7);
	v9_opt_tmpl(&p);
	v9_opt_data(&p, 1, 100);
	v9_opt_data(&p, 2, 1000);
	v9_tmpl(&p);
	v9_data(&p, 1, 1, 0);
	v9_data(&p, 1, 2, 0);
	v9_data(&p, 1, 9, 0); /* a sampler nobody announced */
	ck_assert_int_eq(dec(&d, &p, 0), 3);
	ck_assert_uint_eq(d.recs[0].sampling_rate, 100);
	ck_assert_uint_eq(d.recs[0].sampling_src, MM_SAMPLING_LEARNT);
	ck_assert_uint_eq(d.recs[1].sampling_rate, 1000);
	ck_assert_uint_eq(d.recs[1].bytes_scaled, 1000000);
	ck_assert_uint_eq(d.recs[2].sampling_src, MM_SAMPLING_DEFAULTED);
	ck_assert_uint_eq(tu_stats(&d).options_records, 2);
	/* the same sampler id in another domain (source id) is another sampler */
	v9_hdr(&p, 0, 8);
	v9_tmpl(&p);
	v9_data(&p, 1, 1, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[3].sampling_src, MM_SAMPLING_DEFAULTED);
	/* an operator override wins over what was learnt */
	d.ex[0]->cfg_rate = 4096;
	v9_hdr(&p, 1, 7);
	v9_data(&p, 1, 1, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[4].sampling_rate, 4096);
	ck_assert_uint_eq(d.recs[4].sampling_src, MM_SAMPLING_CONFIGURED);
	tu_free(&d);
}
END_TEST

START_TEST(v9_data_before_template_held_then_decoded)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v9_hdr(&p, 0, 7);
	v9_data(&p, 3, 0, 0);
	ck_assert_int_eq(dec(&d, &p, 1000), 0);
	ck_assert_uint_eq(tu_stats(&d).pending_queued, 1);
	v9_hdr(&p, 1, 7);
	v9_tmpl(&p);
	ck_assert_int_eq(dec(&d, &p, 2000), 0);
	ck_assert_uint_eq(d.nrecs, 3); /* emitted when the template came */
	ck_assert_uint_eq(tu_stats(&d).pending_decoded, 1);
	ck_assert_uint_eq(d.recs[0].bytes, 1000);
	tu_free(&d);
}
END_TEST

START_TEST(v9_pending_overflow_and_expiry_counted)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	mm_decode_limits_default(&d.lim);
	d.lim.pending_max_sets = 2;
	d.lim.pending_timeout_ms = 5000;
	for (int i = 0; i < 3; i++) {
		v9_hdr(&p, (uint32_t)i, 7);
		v9_data(&p, 1, 0, 0);
		dec(&d, &p, 1000);
	}
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.pending_queued, 2);
	ck_assert_uint_eq(st.pending_dropped, 1);
	ck_assert_uint_eq(st.unknown_template, 1);
	mm_exporter_expire(d.ex[0], 3000); /* not yet */
	ck_assert_uint_eq(tu_stats(&d).pending_expired, 0);
	mm_exporter_expire(d.ex[0], 6000);
	st = tu_stats(&d);
	ck_assert_uint_eq(st.pending_expired, 2);
	ck_assert_uint_eq(st.unknown_template, 3);
	/* a template now finds nothing to replay */
	v9_hdr(&p, 3, 7);
	v9_tmpl(&p);
	dec(&d, &p, 7000);
	ck_assert_uint_eq(d.nrecs, 0);
	tu_free(&d);
}
END_TEST

START_TEST(v9_pending_bytes_bounded)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	mm_decode_limits_default(&d.lim);
	d.lim.pending_max_bytes = 100;
	v9_hdr(&p, 0, 7);
	v9_data(&p, 3, 0, 0); /* 90 bytes held */
	v9_data(&p, 1, 0, 0); /* 30 more do not fit */
	dec(&d, &p, 0);
	ck_assert_uint_eq(tu_stats(&d).pending_queued, 1);
	ck_assert_uint_eq(tu_stats(&d).pending_dropped, 1);
	tu_free(&d);
}
END_TEST

START_TEST(v9_template_replacement_and_refresh)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v9_hdr(&p, 0, 7);
	v9_tmpl(&p);
	v9_tmpl(&p); /* refresh: same definition */
	v9_data(&p, 1, 0, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	/* redefine 300 as just dst4 + bytes(8) */
	v9_hdr(&p, 1, 7);
	u16(&p, 0); u16(&p, 4 + 4 + 8);
	u16(&p, 300); u16(&p, 2); u16(&p, 12); u16(&p, 4); u16(&p, 1); u16(&p, 8);
	u16(&p, 300); u16(&p, 4 + 12);
	ip4(&p, 10, 9, 9, 9); u64(&p, 123456789012ull);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[1].bytes, 123456789012ull);
	ck_assert_uint_eq(d.recs[1].dst_addr[15], 9);
	ck_assert_uint_eq(tu_stats(&d).templates, 3);
	tu_free(&d);
}
END_TEST

START_TEST(v9_template_flood_capped_and_counted)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	mm_decode_limits_default(&d.lim);
	d.lim.max_templates = 8;
	for (unsigned k = 0; k < 5; k++) {
		v9_hdr(&p, k, 7);
		u16(&p, 0); u16(&p, 4 + 20 * 8);
		for (unsigned i = 0; i < 20; i++) {
			u16(&p, 256 + k * 20 + i); u16(&p, 1); u16(&p, 8); u16(&p, 4);
		}
		dec(&d, &p, 0);
	}
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.templates, 100);
	ck_assert_uint_eq(st.templates_evicted, 92);
	unsigned used = 0;
	for (unsigned i = 0; i < d.lim.max_templates; i++)
		used += d.ex[0]->templates[i].used;
	ck_assert_uint_eq(used, 8);
	tu_free(&d);
}
END_TEST

START_TEST(v9_malformed_templates_and_flowsets)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	mm_decode_limits_default(&d.lim);
	d.lim.max_template_fields = 16;
	/* zero fields */
	v9_hdr(&p, 0, 7); u16(&p, 0); u16(&p, 8); u16(&p, 300); u16(&p, 0);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* absurd field count (over the limit) */
	v9_hdr(&p, 0, 7); u16(&p, 0); u16(&p, 8); u16(&p, 300); u16(&p, 60000);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* field count that lies about the set length */
	v9_hdr(&p, 0, 7); u16(&p, 0); u16(&p, 16); u16(&p, 300); u16(&p, 3); u16(&p, 8); u16(&p, 4);
	u16(&p, 12); u16(&p, 4);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* reserved template id */
	v9_hdr(&p, 0, 7); u16(&p, 0); u16(&p, 12); u16(&p, 5); u16(&p, 1); u16(&p, 8); u16(&p, 4);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* all fields zero length: a record of no bytes */
	v9_hdr(&p, 0, 7); u16(&p, 0); u16(&p, 12); u16(&p, 300); u16(&p, 1); u16(&p, 8); u16(&p, 0);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* flowset length beyond the datagram */
	v9_hdr(&p, 0, 7); u16(&p, 300); u16(&p, 400); u32(&p, 0);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* flowset length below its own header (zero-length set) */
	v9_hdr(&p, 0, 7); u16(&p, 300); u16(&p, 0); u32(&p, 0);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* options template with a scope length that is not whole fields */
	v9_hdr(&p, 0, 7); u16(&p, 1); u16(&p, 16); u16(&p, 400); u16(&p, 3); u16(&p, 4); u32(&p, 0);
	u16(&p, 0);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* short header */
	v9_hdr(&p, 0, 7); p.n = 19;
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	ck_assert_uint_eq(tu_stats(&d).malformed, 9);
	ck_assert_uint_eq(d.nrecs, 0);
	/* and the exporter still decodes good data afterwards */
	v9_hdr(&p, 1, 7);
	v9_tmpl(&p);
	v9_data(&p, 1, 0, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	tu_free(&d);
}
END_TEST

START_TEST(v9_bad_set_keeps_earlier_records)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	v9_hdr(&p, 0, 7);
	v9_tmpl(&p);
	v9_data(&p, 2, 0, 0);
	u16(&p, 300); u16(&p, 999); /* lies */
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	ck_assert_uint_eq(d.nrecs, 2);
	ck_assert_uint_eq(tu_stats(&d).records, 2);
	ck_assert_uint_eq(tu_stats(&d).malformed, 1);
	tu_free(&d);
}
END_TEST

START_TEST(v9_packet_sequence_loss)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	for (uint32_t s = 0; s < 10; s++) {
		if (s == 4 || s == 5 || s == 6)
			continue;
		v9_hdr(&p, s, 7);
		v9_tmpl(&p);
		dec(&d, &p, 0);
	}
	v9_hdr(&p, 0, 8); /* another source id keeps its own sequence */
	v9_tmpl(&p);
	dec(&d, &p, 0);
	ck_assert_uint_eq(tu_stats(&d).lost_packets, 3);
	tu_free(&d);
}
END_TEST

/* --- IPFIX --------------------------------------------------------------- */
static size_t ipfix_hdr(struct pk *p, uint32_t seq, uint32_t domain)
{
	p->n = 0;
	u16(p, 10); u16(p, 0); u32(p, 1700000000); u32(p, seq); u32(p, domain);
	return 0;
}
static void ipfix_end(struct pk *p) { put16(p, 2, (unsigned)p->n); }

START_TEST(ipfix_varlen_enterprise_and_times)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	ipfix_hdr(&p, 0, 1);
	/* template 256: src6(16) dst6(16) enterprise(PEN 29305 id 1, varlen)
	 * octetDeltaCount(8) flowStartMilliseconds(8) flowEndMicroseconds(8 NTP)
	 * applicationName(96, varlen) protocol(1) */
	size_t s = p.n;
	u16(&p, 2); u16(&p, 0);
	u16(&p, 256); u16(&p, 8);
	u16(&p, 27); u16(&p, 16); u16(&p, 28); u16(&p, 16);
	u16(&p, 0x8001); u16(&p, 65535); u32(&p, 29305);
	u16(&p, 1); u16(&p, 8); u16(&p, 152); u16(&p, 8); u16(&p, 155); u16(&p, 8);
	u16(&p, 96); u16(&p, 65535); u16(&p, 4); u16(&p, 1);
	put16(&p, s + 2, (unsigned)(p.n - s));
	u16(&p, 4); u16(&p, 4); /* an empty reserved set id is skipped */
	s = p.n;
	u16(&p, 256); u16(&p, 0);
	for (int r = 0; r < 2; r++) {
		uint8_t a6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
		a6[15] = (uint8_t)(r + 1);
		bytes(&p, a6, 16);
		a6[15] = 0x99;
		bytes(&p, a6, 16);
		if (r == 0) {
			u8(&p, 3); u8(&p, 'x'); u8(&p, 'y'); u8(&p, 'z'); /* short varlen */
		} else {
			u8(&p, 255); u16(&p, 300); /* long varlen form */
			for (int i = 0; i < 300; i++)
				u8(&p, 'a');
		}
		u64(&p, 5000);
		u64(&p, 1700000000123ull);
		/* NTP: 1700000001 s since 1970 + half a second */
		u64(&p, ((uint64_t)(1700000001u + 2208988800u) << 32) | 0x80000000u);
		u8(&p, 0);
		u8(&p, 17);
	}
	u8(&p, 0); u8(&p, 0); /* padding */
	put16(&p, s + 2, (unsigned)(p.n - s));
	ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), 2);
	const struct mm_flow *f = &d.recs[1];
	ck_assert_uint_eq(f->af, 6);
	ck_assert_uint_eq(f->src_addr[15], 2);
	ck_assert_uint_eq(f->dst_addr[15], 0x99);
	ck_assert_uint_eq(f->bytes, 5000);
	ck_assert_uint_eq(f->proto, 17);
	ck_assert_uint_eq(f->start_ms, 1700000000123ull);
	ck_assert_uint_eq(f->end_ms, 1700000001500ull);
	ck_assert_uint_eq(f->format, MM_FMT_IPFIX);
	ck_assert_uint_eq(tu_stats(&d).malformed, 0);
	tu_free(&d);
}
END_TEST

START_TEST(ipfix_varlen_overrun_rejects_whole_set)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	ipfix_hdr(&p, 0, 1);
	u16(&p, 2); u16(&p, 4 + 4 + 8);
	u16(&p, 256); u16(&p, 2); u16(&p, 8); u16(&p, 4); u16(&p, 96); u16(&p, 65535);
	u16(&p, 256); u16(&p, 4 + 5 + 5 + 5);
	ip4(&p, 10, 0, 0, 1); u8(&p, 0);   /* good record */
	ip4(&p, 10, 0, 0, 2); u8(&p, 0);   /* good record */
	ip4(&p, 10, 0, 0, 3); u8(&p, 200); /* claims 200 bytes: overruns */
	ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	ck_assert_uint_eq(d.nrecs, 0); /* nothing of the bad set was emitted */
	ck_assert_uint_eq(tu_stats(&d).malformed, 1);
	tu_free(&d);
}
END_TEST

START_TEST(ipfix_withdrawal)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	ipfix_hdr(&p, 0, 1);
	u16(&p, 2); u16(&p, 4 + 8 + 8);
	u16(&p, 256); u16(&p, 1); u16(&p, 8); u16(&p, 4);
	u16(&p, 257); u16(&p, 1); u16(&p, 12); u16(&p, 4);
	ipfix_end(&p);
	dec(&d, &p, 0);
	/* withdraw 256, then data for it is held as unknown */
	ipfix_hdr(&p, 0, 1);
	u16(&p, 2); u16(&p, 8); u16(&p, 256); u16(&p, 0);
	u16(&p, 256); u16(&p, 8); ip4(&p, 1, 2, 3, 4);
	u16(&p, 257); u16(&p, 8); ip4(&p, 1, 2, 3, 4);
	ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(tu_stats(&d).template_withdrawals, 1);
	ck_assert_uint_eq(tu_stats(&d).pending_queued, 1);
	/* withdraw all data templates (id = set id 2) */
	ipfix_hdr(&p, 0, 1);
	u16(&p, 2); u16(&p, 8); u16(&p, 2); u16(&p, 0);
	u16(&p, 257); u16(&p, 8); ip4(&p, 1, 2, 3, 4);
	ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), 0);
	ck_assert_uint_eq(tu_stats(&d).pending_queued, 2);
	tu_free(&d);
}
END_TEST

/* An options template scoped to a selector, announcing 1 in (1 + 999). */
static void ipfix_sampling_options(struct pk *p)
{
	u16(p, 3); u16(p, 4 + 6 + 12);
	u16(p, 500); u16(p, 3); u16(p, 1);
	u16(p, 302); u16(p, 4); u16(p, 305); u16(p, 4); u16(p, 306); u16(p, 4);
	u16(p, 500); u16(p, 4 + 12);
	u32(p, 42); u32(p, 1); u32(p, 999);
}

START_TEST(ipfix_frame_section_and_selector_sampling)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	ipfix_hdr(&p, 0, 1);
	ipfix_sampling_options(&p);
	/* template 256: selectorId(4), dataLinkFrameSection(varlen): no addresses */
	u16(&p, 2); u16(&p, 4 + 4 + 8);
	u16(&p, 256); u16(&p, 2); u16(&p, 302); u16(&p, 4); u16(&p, 315); u16(&p, 65535);
	size_t s = p.n;
	u16(&p, 256); u16(&p, 0);
	u32(&p, 42);
	/* Ethernet + 802.1Q + IPv4 + TCP SYN, truncated after the TCP header */
	u8(&p, 14 + 4 + 20 + 20);
	for (int i = 0; i < 12; i++)
		u8(&p, i);
	u16(&p, 0x8100); u16(&p, 100); u16(&p, 0x0800);
	u8(&p, 0x45); u8(&p, 0); u16(&p, 1500); u32(&p, 0); u8(&p, 64); u8(&p, 6); u16(&p, 0);
	ip4(&p, 198, 51, 100, 7); ip4(&p, 203, 0, 113, 9);
	u16(&p, 40000); u16(&p, 22); u32(&p, 0); u32(&p, 0); u8(&p, 0x50); u8(&p, 0x02); u16(&p, 0);
	u32(&p, 0);
	put16(&p, s + 2, (unsigned)(p.n - s));
	ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	const struct mm_flow *f = &d.recs[0];
	ck_assert_uint_eq(f->af, 4);
	ck_assert_uint_eq(f->src_addr[12], 198);
	ck_assert_uint_eq(f->dst_addr[15], 9);
	ck_assert_uint_eq(f->proto, 6);
	ck_assert_uint_eq(f->src_port, 40000);
	ck_assert_uint_eq(f->dst_port, 22);
	ck_assert_uint_eq(f->tcp_flags, 0x02);
	ck_assert_uint_eq(f->packets, 1);
	ck_assert_uint_eq(f->bytes, 1500); /* the IP total length */
	ck_assert_uint_eq(f->sampling_rate, 1000);
	ck_assert_uint_eq(f->sampling_src, MM_SAMPLING_LEARNT);
	ck_assert_uint_eq(f->bytes_scaled, 1500000);
	tu_free(&d);
}
END_TEST

START_TEST(ipfix_record_sampling_and_uptime_with_sys_init)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	ipfix_hdr(&p, 0, 1);
	/* options: systemInitTimeMilliseconds scoped to the domain */
	u16(&p, 3); u16(&p, 4 + 6 + 8);
	u16(&p, 501); u16(&p, 2); u16(&p, 1); u16(&p, 149); u16(&p, 4); u16(&p, 160); u16(&p, 8);
	u16(&p, 501); u16(&p, 4 + 12); u32(&p, 1); u64(&p, 1690000000000ull);
	/* data: src4 dst4 samplingInterval(34) first/last uptime */
	u16(&p, 2); u16(&p, 4 + 4 + 20);
	u16(&p, 256); u16(&p, 5); u16(&p, 8); u16(&p, 4); u16(&p, 12); u16(&p, 4); u16(&p, 34); u16(&p, 4);
	u16(&p, 22); u16(&p, 4); u16(&p, 21); u16(&p, 4);
	u16(&p, 256); u16(&p, 4 + 20);
	ip4(&p, 10, 0, 0, 1); ip4(&p, 10, 0, 0, 2); u32(&p, 64); u32(&p, 5000); u32(&p, 7000);
	ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	const struct mm_flow *f = &d.recs[0];
	ck_assert_uint_eq(f->sampling_rate, 64);
	ck_assert_uint_eq(f->sampling_src, MM_SAMPLING_RECORD);
	ck_assert_uint_eq(f->start_ms, 1690000005000ull);
	ck_assert_uint_eq(f->end_ms, 1690000007000ull);
	ck_assert_uint_eq(f->packets, 0);
	tu_free(&d);
}
END_TEST

START_TEST(ipfix_delta_times_and_icmp)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	ipfix_hdr(&p, 0, 1);
	u16(&p, 2); u16(&p, 4 + 4 + 24);
	u16(&p, 256); u16(&p, 6); u16(&p, 8); u16(&p, 4); u16(&p, 12); u16(&p, 4); u16(&p, 4); u16(&p, 1);
	u16(&p, 158); u16(&p, 4); u16(&p, 159); u16(&p, 4); u16(&p, 32); u16(&p, 2);
	u16(&p, 256); u16(&p, 4 + 19);
	ip4(&p, 10, 0, 0, 1); ip4(&p, 10, 0, 0, 2); u8(&p, 1); u32(&p, 3000000); u32(&p, 1000000);
	u16(&p, 0x0800);
	ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	const struct mm_flow *f = &d.recs[0];
	ck_assert_uint_eq(f->start_ms, 1700000000000ull - 3000);
	ck_assert_uint_eq(f->end_ms, 1700000000000ull - 1000);
	ck_assert_uint_eq(f->dst_port, 0x0800); /* echo request */
	ck_assert_uint_eq(f->src_port, 0);
	tu_free(&d);
}
END_TEST

START_TEST(ipfix_malformed_messages)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	/* message length beyond the datagram */
	ipfix_hdr(&p, 0, 1); u16(&p, 2); u16(&p, 4); put16(&p, 2, 400);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* message length below the header */
	ipfix_hdr(&p, 0, 1); put16(&p, 2, 8);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* empty template set */
	ipfix_hdr(&p, 0, 1); u16(&p, 2); u16(&p, 4); ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* set length below 4 */
	ipfix_hdr(&p, 0, 1); u16(&p, 256); u16(&p, 2); ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* options template whose scope count exceeds its fields */
	ipfix_hdr(&p, 0, 1); u16(&p, 3); u16(&p, 14); u16(&p, 500); u16(&p, 1); u16(&p, 2); u16(&p, 8);
	u16(&p, 4); ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* enterprise field cut off before its PEN */
	ipfix_hdr(&p, 0, 1); u16(&p, 2); u16(&p, 12); u16(&p, 256); u16(&p, 1); u16(&p, 0x8001); u16(&p, 4);
	ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* stray bytes after the last set */
	ipfix_hdr(&p, 0, 1); u8(&p, 1); u8(&p, 2); ipfix_end(&p);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	/* an unknown version on any port */
	p.n = 0; u16(&p, 7); u16(&p, 0); u32(&p, 0);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.malformed, 7);
	ck_assert_uint_eq(st.unsupported, 1);
	ck_assert_uint_eq(d.nrecs, 0);
	tu_free(&d);
}
END_TEST

START_TEST(ipfix_record_sequence_loss)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	uint32_t seq = 0;
	for (int m = 0; m < 6; m++) {
		ipfix_hdr(&p, seq, 1);
		u16(&p, 2); u16(&p, 12); u16(&p, 256); u16(&p, 1); u16(&p, 8); u16(&p, 4);
		u16(&p, 256); u16(&p, 4 + 3 * 4);
		ip4(&p, 1, 1, 1, 1); ip4(&p, 1, 1, 1, 2); ip4(&p, 1, 1, 1, 3);
		ipfix_end(&p);
		if (m != 2)
			dec(&d, &p, 0); /* message 2 (3 records) is lost */
		seq += 3;
	}
	ck_assert_uint_eq(tu_stats(&d).lost_records, 3);
	tu_free(&d);
}
END_TEST

START_TEST(pkthdr_ipv6_extension_headers_and_garbage)
{
	struct mm_flow f;
	struct pk p;
	uint32_t ip_len;
	/* IPv6, hop-by-hop (8 bytes), then UDP */
	p.n = 0;
	u32(&p, 0x60000000); u16(&p, 16); u8(&p, 0); u8(&p, 64);
	uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	bytes(&p, a, 16);
	a[15] = 2;
	bytes(&p, a, 16);
	u8(&p, 17); u8(&p, 0); u16(&p, 0); u32(&p, 0);
	u16(&p, 5353); u16(&p, 53); u16(&p, 8); u16(&p, 0);
	memset(&f, 0, sizeof(f));
	ck_assert_int_eq(mm_pkthdr_parse(p.b, p.n, MM_LINK_IP, &f, &ip_len), 0);
	ck_assert_uint_eq(f.af, 6);
	ck_assert_uint_eq(f.proto, 17);
	ck_assert_uint_eq(f.src_port, 5353);
	ck_assert_uint_eq(f.dst_port, 53);
	ck_assert_uint_eq(ip_len, 56);
	/* every truncation of it parses or fails cleanly (ASan checks reads) */
	for (size_t n = 0; n <= p.n; n++) {
		uint8_t *c = malloc(n ? n : 1);
		memcpy(c, p.b, n);
		memset(&f, 0, sizeof(f));
		int r = mm_pkthdr_parse(c, n, MM_LINK_IP, &f, NULL);
		ck_assert_int_eq(r, n >= 40 ? 0 : -1);
		free(c);
	}
	/* not IP at all */
	uint8_t junk[20] = { 0x12 };
	ck_assert_int_eq(mm_pkthdr_parse(junk, sizeof(junk), MM_LINK_IP, &f, NULL), -1);
	ck_assert_int_eq(mm_pkthdr_parse(junk, sizeof(junk), MM_LINK_ETHERNET, &f, NULL), -1);
}
END_TEST

START_TEST(truncations_of_real_shapes_never_overread)
{
	/* Every prefix of a valid v9 and IPFIX datagram is either decoded or
	 * rejected, never read past (ASan), and never crashes. */
	struct tu_decoded d = { 0 };
	struct pk p;
	v9_hdr(&p, 0, 7);
	v9_opt_tmpl(&p);
	v9_opt_data(&p, 1, 100);
	v9_tmpl(&p);
	v9_data(&p, 2, 1, 0);
	struct pk q = p;
	for (size_t n = 0; n <= q.n; n++) {
		tu_free(&d);
		p = q;
		p.n = n;
		dec(&d, &p, 0);
	}
	ck_assert_uint_eq(d.nrecs, 2);
	tu_free(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("decode_crafted");
	TCase *tc = tcase_create("netflow5");
	tcase_add_test(tc, v5_fields_and_header_sampling);
	tcase_add_test(tc, v5_interval_zero_is_unsampled_unless_configured);
	tcase_add_test(tc, v5_lying_count_and_truncation_rejected);
	tcase_add_test(tc, v5_sequence_loss_reorder_reset_wrap);
	suite_add_tcase(s, tc);
	tc = tcase_create("netflow9");
	tcase_add_test(tc, v9_template_data_times_and_padding);
	tcase_add_test(tc, v9_default_rate_scales_unknown);
	tcase_add_test(tc, v9_sampler_table_keyed_by_sampler_id);
	tcase_add_test(tc, v9_data_before_template_held_then_decoded);
	tcase_add_test(tc, v9_pending_overflow_and_expiry_counted);
	tcase_add_test(tc, v9_pending_bytes_bounded);
	tcase_add_test(tc, v9_template_replacement_and_refresh);
	tcase_add_test(tc, v9_template_flood_capped_and_counted);
	tcase_add_test(tc, v9_malformed_templates_and_flowsets);
	tcase_add_test(tc, v9_bad_set_keeps_earlier_records);
	tcase_add_test(tc, v9_packet_sequence_loss);
	suite_add_tcase(s, tc);
	tc = tcase_create("ipfix");
	tcase_add_test(tc, ipfix_varlen_enterprise_and_times);
	tcase_add_test(tc, ipfix_varlen_overrun_rejects_whole_set);
	tcase_add_test(tc, ipfix_withdrawal);
	tcase_add_test(tc, ipfix_frame_section_and_selector_sampling);
	tcase_add_test(tc, ipfix_record_sampling_and_uptime_with_sys_init);
	tcase_add_test(tc, ipfix_delta_times_and_icmp);
	tcase_add_test(tc, ipfix_malformed_messages);
	tcase_add_test(tc, ipfix_record_sequence_loss);
	suite_add_tcase(s, tc);
	tc = tcase_create("pkthdr");
	tcase_add_test(tc, pkthdr_ipv6_extension_headers_and_garbage);
	tcase_add_test(tc, truncations_of_real_shapes_never_overread);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
