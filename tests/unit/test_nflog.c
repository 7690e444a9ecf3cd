/*
 * test_nflog.c - one NFLOG packet into one record (collector/nflog.c).
 *
 * Hand-built IPv4/IPv6 packets with the metadata NFLOG sends: the fields of
 * the record, the original length from the IP header rather than the copied
 * length, sampling and its provenance, direction from (family, hook), and
 * every rejection (not IP, truncated, inconsistent headers).  Every packet
 * is converted from an exact-size heap copy so ASan catches any over-read;
 * a packet cut right after its L4 header gives the same record as the whole
 * packet (nothing past the headers is read).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "mamori/nflog.h"

struct pk {
	uint8_t b[256];
	size_t n;
};
static void u8(struct pk *p, unsigned v) { p->b[p->n++] = (uint8_t)v; }
static void u16(struct pk *p, unsigned v) { u8(p, v >> 8); u8(p, v); }
static void u32(struct pk *p, uint32_t v) { u16(p, v >> 16); u16(p, v & 0xffff); }
static void bytes(struct pk *p, const void *d, size_t n) { memcpy(p->b + p->n, d, n); p->n += n; }

enum { V4 = 0x0800, V6 = 0x86dd };

/* IPv4 header (20 bytes) claiming tot_len, then an L4 header. */
static void ip4(struct pk *p, unsigned proto, unsigned tot_len, const uint8_t src[4], const uint8_t dst[4])
{
	p->n = 0;
	u8(p, 0x45);
	u8(p, 0x28); /* tos */
	u16(p, tot_len);
	u16(p, 0x1234);
	u16(p, 0x4000); /* DF, offset 0 */
	u8(p, 64);
	u8(p, proto);
	u16(p, 0);
	bytes(p, src, 4);
	bytes(p, dst, 4);
}

static void tcp(struct pk *p, unsigned sport, unsigned dport, unsigned flags)
{
	u16(p, sport);
	u16(p, dport);
	u32(p, 1);
	u32(p, 0);
	u8(p, 0x50);
	u8(p, flags);
	u16(p, 65535);
	u16(p, 0);
	u16(p, 0);
}

static void udp(struct pk *p, unsigned sport, unsigned dport, unsigned len)
{
	u16(p, sport);
	u16(p, dport);
	u16(p, len);
	u16(p, 0);
}

static const uint8_t A[4] = { 192, 0, 2, 1 }, B[4] = { 198, 51, 100, 7 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb };

static struct mm_nflog_meta meta(uint16_t hw, uint8_t family, uint8_t hook)
{
	struct mm_nflog_meta m;

	memset(&m, 0, sizeof(m));
	m.now_ms = 1700000000123ull;
	m.sampling_rate = 1;
	m.group = 5;
	m.hw_protocol = hw;
	m.family = family;
	m.hook = hook;
	m.indev = 3;
	return m;
}

/* Convert the first n bytes of p from an exact-size heap copy. */
static int conv(const struct mm_nflog_meta *m, const struct pk *p, size_t n, struct mm_flow *f)
{
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, p->b, n);
	int r = mm_nflog_record(m, copy, n, f);
	free(copy);
	return r;
}

static int all_zero(const struct mm_flow *f)
{
	static const struct mm_flow z;
	return memcmp(f, &z, sizeof(z)) == 0;
}

START_TEST(udp4_record)
{
	struct pk p;
	struct mm_flow f;
	struct mm_nflog_meta m = meta(V4, 2, 1); /* ip, input */
	uint8_t a[16], b[16];

	ip4(&p, 17, 1500, A, B);
	udp(&p, 53, 40000, 1480);
	while (p.n < 128)
		u8(&p, 'X'); /* payload, as the copy range leaves it */
	m.sampling_rate = 10;
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_OK);
	mm_addr_set4(a, A);
	mm_addr_set4(b, B);
	ck_assert_mem_eq(f.src_addr, a, 16);
	ck_assert_mem_eq(f.dst_addr, b, 16);
	ck_assert_uint_eq(f.af, 4);
	ck_assert_uint_eq(f.proto, 17);
	ck_assert_uint_eq(f.src_port, 53);
	ck_assert_uint_eq(f.dst_port, 40000);
	ck_assert_uint_eq(f.tcp_flags, 0);
	ck_assert_uint_eq(f.tos, 0x28);
	/* the original length from the header, not the 128 bytes copied */
	ck_assert_uint_eq(f.bytes, 1500);
	ck_assert_uint_eq(f.packets, 1);
	ck_assert_uint_eq(f.sampling_rate, 10);
	ck_assert_uint_eq(f.sampling_src, MM_SAMPLING_CONFIGURED);
	ck_assert_uint_eq(f.bytes_scaled, 15000);
	ck_assert_uint_eq(f.packets_scaled, 10);
	ck_assert_uint_eq(f.start_ms, 1700000000123ull);
	ck_assert_uint_eq(f.end_ms, 1700000000123ull);
	ck_assert_uint_eq(f.domain, 5);
	ck_assert_uint_eq(f.format, MM_FMT_NFLOG);
	ck_assert_uint_eq(f.direction, MM_DIR_INGRESS);
	ck_assert_uint_eq(f.in_if, 3);
	ck_assert_uint_eq(f.out_if, 0);
	ck_assert_uint_eq(f.template_id, 0);
	ck_assert_uint_eq(f.exporter_af, 4);
	ck_assert(mm_addr_is4(f.exporter));
}
END_TEST

START_TEST(syn4_is_a_syn_only_record)
{
	struct pk p;
	struct mm_flow f;
	struct mm_nflog_meta m = meta(V4, 2, 3); /* ip, output */

	ip4(&p, 6, 60, A, B);
	tcp(&p, 40001, 22, 0x02);
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_OK);
	ck_assert_uint_eq(f.proto, 6);
	ck_assert_uint_eq(f.src_port, 40001);
	ck_assert_uint_eq(f.dst_port, 22);
	ck_assert_uint_eq(f.tcp_flags, 0x02);
	ck_assert_uint_eq(f.bytes, 60);
	ck_assert_uint_eq(f.direction, MM_DIR_EGRESS);
	/* sampling 0 is taken as 1 */
	m.sampling_rate = 0;
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_OK);
	ck_assert_uint_eq(f.sampling_rate, 1);
	ck_assert_uint_eq(f.bytes_scaled, 60);
}
END_TEST

START_TEST(tcp6_with_extension_header)
{
	struct pk p;
	struct mm_flow f;
	struct mm_nflog_meta m = meta(V6, 10, 2); /* ip6, forward */

	p.n = 0;
	u32(&p, 0x60000000u | (0xb8u << 20)); /* version 6, traffic class 0xb8 */
	u16(&p, 8 + 20 + 1000);             /* payload length */
	u8(&p, 0);                          /* next: hop-by-hop */
	u8(&p, 64);
	bytes(&p, A6, 16);
	bytes(&p, B6, 16);
	u8(&p, 6); /* hop-by-hop: next TCP, 8 bytes */
	u8(&p, 0);
	u16(&p, 0);
	u32(&p, 0);
	tcp(&p, 443, 51000, 0x12);
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_OK);
	ck_assert_uint_eq(f.af, 6);
	ck_assert_mem_eq(f.src_addr, A6, 16);
	ck_assert_mem_eq(f.dst_addr, B6, 16);
	ck_assert_uint_eq(f.proto, 6);
	ck_assert_uint_eq(f.src_port, 443);
	ck_assert_uint_eq(f.dst_port, 51000);
	ck_assert_uint_eq(f.tcp_flags, 0x12);
	ck_assert_uint_eq(f.bytes, 40 + 8 + 20 + 1000);
	ck_assert_uint_eq(f.direction, MM_DIR_UNKNOWN);
}
END_TEST

START_TEST(direction_by_family_and_hook)
{
	static const struct {
		uint8_t family, hook, dir;
	} t[] = {
		{ 2, 0, MM_DIR_INGRESS },  { 2, 1, MM_DIR_INGRESS }, { 2, 2, MM_DIR_UNKNOWN },
		{ 2, 3, MM_DIR_EGRESS },   { 2, 4, MM_DIR_EGRESS },  { 10, 1, MM_DIR_INGRESS },
		{ 10, 4, MM_DIR_EGRESS },  { 7, 0, MM_DIR_INGRESS }, { 7, 4, MM_DIR_EGRESS },
		{ 5, 0, MM_DIR_INGRESS },  { 5, 1, MM_DIR_EGRESS },  { 5, 2, MM_DIR_UNKNOWN },
		{ 0, 1, MM_DIR_UNKNOWN },  { 3, 1, MM_DIR_UNKNOWN },
	};
	struct pk p;
	struct mm_flow f;

	ip4(&p, 17, 28, A, B);
	udp(&p, 1, 2, 8);
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mm_nflog_meta m = meta(0, t[i].family, t[i].hook);
		ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_OK);
		ck_assert_msg(f.direction == t[i].dir, "family %u hook %u: direction %u, want %u", t[i].family,
			      t[i].hook, f.direction, t[i].dir);
	}
}
END_TEST

START_TEST(rejections)
{
	struct pk p;
	struct mm_flow f;
	struct mm_nflog_meta m;

	ip4(&p, 17, 28, A, B);
	udp(&p, 1, 2, 8);
	m = meta(0x0806, 7, 0); /* ARP on a bridge */
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_NOT_IP);
	ck_assert(all_zero(&f));
	m = meta(V4, 2, 1);
	ck_assert_int_eq(conv(&m, &p, 0, &f), MM_NFLOG_TRUNCATED);
	ck_assert_int_eq(conv(&m, &p, 19, &f), MM_NFLOG_TRUNCATED);
	ck_assert(all_zero(&f));
	m = meta(V6, 10, 1); /* says IPv6, is IPv4 */
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_MALFORMED);
	m = meta(0, 2, 1);
	p.b[0] = 0x44; /* IHL 16 bytes */
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_MALFORMED);
	p.b[0] = 0x55; /* version 5 */
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_NOT_IP);
	m = meta(V4, 2, 1);
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_MALFORMED);
	p.b[0] = 0x45;
	p.b[2] = 0;
	p.b[3] = 19; /* total length shorter than the header */
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_MALFORMED);
	ck_assert(all_zero(&f));
	/* total length 0 (BIG TCP): the copied length is the floor */
	p.b[3] = 0;
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_OK);
	ck_assert_uint_eq(f.bytes, 28);

	p.n = 0;
	u32(&p, 0x60000000);
	u16(&p, 8);
	u8(&p, 17);
	u8(&p, 64);
	bytes(&p, A6, 16);
	bytes(&p, B6, 16);
	udp(&p, 1, 2, 8);
	m = meta(V6, 10, 1);
	ck_assert_int_eq(conv(&m, &p, 39, &f), MM_NFLOG_TRUNCATED);
	ck_assert_int_eq(conv(&m, &p, p.n, &f), MM_NFLOG_OK);
	ck_assert_uint_eq(f.bytes, 48);
}
END_TEST

/* Every cut of a valid packet: never an over-read (exact-size copies under
 * ASan), a record once the IP header is whole, and the L4 fields once
 * their bytes are there. */
START_TEST(every_truncation)
{
	struct pk p;
	struct mm_flow f;
	struct mm_nflog_meta m = meta(V4, 2, 1);

	ip4(&p, 6, 1000, A, B);
	tcp(&p, 1000, 2000, 0x18);
	for (size_t n = 0; n <= p.n; n++) {
		int r = conv(&m, &p, n, &f);
		if (n < 20) {
			ck_assert_int_eq(r, MM_NFLOG_TRUNCATED);
			continue;
		}
		ck_assert_int_eq(r, MM_NFLOG_OK);
		ck_assert_uint_eq(f.bytes, 1000);
		ck_assert_uint_eq(f.dst_port, n >= 34 ? 2000 : 0);
		ck_assert_uint_eq(f.tcp_flags, n >= 34 ? 0x18 : 0);
	}
}
END_TEST

/* The payload has no say: a copy cut after the TCP header and copies
 * with different payload bytes give the same record. */
START_TEST(payload_never_read)
{
	struct pk p;
	struct mm_flow f1, f2, f3;
	struct mm_nflog_meta m = meta(V4, 2, 1);
	size_t hdr;

	ip4(&p, 6, 128, A, B);
	tcp(&p, 1000, 80, 0x18);
	hdr = p.n;
	while (p.n < 128)
		u8(&p, 'a');
	ck_assert_int_eq(conv(&m, &p, hdr, &f1), MM_NFLOG_OK);
	ck_assert_int_eq(conv(&m, &p, p.n, &f2), MM_NFLOG_OK);
	memset(p.b + hdr, 0xff, p.n - hdr);
	ck_assert_int_eq(conv(&m, &p, p.n, &f3), MM_NFLOG_OK);
	ck_assert_mem_eq(&f1, &f2, sizeof(f1));
	ck_assert_mem_eq(&f1, &f3, sizeof(f1));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("nflog");
	TCase *tc = tcase_create("record");

	tcase_add_test(tc, udp4_record);
	tcase_add_test(tc, syn4_is_a_syn_only_record);
	tcase_add_test(tc, tcp6_with_extension_header);
	tcase_add_test(tc, direction_by_family_and_hook);
	tcase_add_test(tc, rejections);
	tcase_add_test(tc, every_truncation);
	tcase_add_test(tc, payload_never_read);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
