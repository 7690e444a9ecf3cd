/*
 * test_sflow.c - the sFlow v5 decoder (collector/sflow.c).
 *
 * Real captures from ../shared/captures (akvorado's set, nDPI's agent,
 * pmacct's sfprobe) decode to one record per flow sample, with the values
 * TShark 4.0 shows for them (derived with `tshark -d udp.port==N,sflow -T
 * fields -e ...` and written down here; the pmacct files are checked in
 * aggregate: byte, port and SYN sums over every sample).  Then hand-built
 * datagrams for every rule: each record type, expanded samples, counter and
 * unknown samples skipped, an IPv6 agent, sequence loss per (agent,
 * sub-agent), drops, sampling provenance, interface formats, lying lengths
 * and every truncation of a valid datagram.  Each datagram is decoded from
 * an exact-size heap copy so ASan catches any over-read.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "lib/testutil.h"

#define CAP "../shared/captures/"

/* --- a tiny big-endian packet builder ------------------------------------ */
struct pk {
	uint8_t b[4096];
	size_t n;
};
static void u8(struct pk *p, unsigned v) { p->b[p->n++] = (uint8_t)v; }
static void u16(struct pk *p, unsigned v) { u8(p, v >> 8); u8(p, v); }
static void u32(struct pk *p, uint32_t v) { u16(p, v >> 16); u16(p, v & 0xffff); }
static void bytes(struct pk *p, const void *d, size_t n) { memcpy(p->b + p->n, d, n); p->n += n; }
static void ip4(struct pk *p, unsigned a, unsigned b, unsigned c, unsigned d) { u8(p, a); u8(p, b); u8(p, c); u8(p, d); }
static void put32(struct pk *p, size_t at, uint32_t v)
{
	p->b[at] = (uint8_t)(v >> 24);
	p->b[at + 1] = (uint8_t)(v >> 16);
	p->b[at + 2] = (uint8_t)(v >> 8);
	p->b[at + 3] = (uint8_t)v;
}
static void pad(struct pk *p) { while (p->n % 4) u8(p, 0); }

/* Decode from an exact-size heap buffer. */
static int dec(struct tu_decoded *d, const struct pk *p, uint64_t now)
{
	uint8_t *copy = malloc(p->n ? p->n : 1);
	memcpy(copy, p->b, p->n);
	int r = tu_decode_bytes(d, copy, p->n, now);
	free(copy);
	return r;
}

static const uint8_t V6A[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa };
static const uint8_t V6B[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xb };

/* --- sFlow pieces ---------------------------------------------------------- */

/* Datagram header with an IPv4 agent; returns the offset of the sample count. */
static size_t hdr4(struct pk *p, unsigned a, uint32_t sub, uint32_t seq)
{
	p->n = 0;
	u32(p, 5);
	u32(p, 1);
	ip4(p, 192, 0, 2, a);
	u32(p, sub);
	u32(p, seq);
	u32(p, 123456); /* uptime */
	u32(p, 0);
	return p->n - 4;
}

static size_t hdr6(struct pk *p, uint32_t sub, uint32_t seq)
{
	p->n = 0;
	u32(p, 5);
	u32(p, 2);
	bytes(p, V6A, 16);
	u32(p, sub);
	u32(p, seq);
	u32(p, 123456);
	u32(p, 0);
	return p->n - 4;
}

static void count_sample(struct pk *p, size_t at)
{
	put32(p, at, (uint32_t)(((uint32_t)p->b[at] << 24 | (uint32_t)p->b[at + 1] << 16 |
				 (uint32_t)p->b[at + 2] << 8 | p->b[at + 3]) + 1));
}

/* Open a sample / record: format word, length placeholder; returns the
 * offset of the length.  close_() patches it to what follows. */
static size_t open_(struct pk *p, uint32_t fmt)
{
	u32(p, fmt);
	u32(p, 0);
	return p->n - 4;
}
static void close_(struct pk *p, size_t at) { put32(p, at, (uint32_t)(p->n - at - 4)); }

/* Flow sample header (format 1): the caller adds nrec records and closes. */
static size_t flow_sample(struct pk *p, size_t cnt, uint32_t seq, uint32_t source, uint32_t rate, uint32_t drops,
			  uint32_t in, uint32_t out, uint32_t nrec)
{
	count_sample(p, cnt);
	size_t at = open_(p, 1);
	u32(p, seq);
	u32(p, source);
	u32(p, rate);
	u32(p, seq * rate); /* pool */
	u32(p, drops);
	u32(p, in);
	u32(p, out);
	u32(p, nrec);
	return at;
}

static size_t flow_sample_x(struct pk *p, size_t cnt, uint32_t seq, uint32_t cls, uint32_t index, uint32_t rate,
			    uint32_t drops, uint32_t in_fmt, uint32_t in, uint32_t out_fmt, uint32_t out, uint32_t nrec)
{
	count_sample(p, cnt);
	size_t at = open_(p, 3);
	u32(p, seq);
	u32(p, cls);
	u32(p, index);
	u32(p, rate);
	u32(p, seq * rate);
	u32(p, drops);
	u32(p, in_fmt);
	u32(p, in);
	u32(p, out_fmt);
	u32(p, out);
	u32(p, nrec);
	return at;
}

/* An Ethernet (optionally 802.1Q) + IPv4 + TCP frame head into buf; length. */
static size_t frame4_tcp(uint8_t *buf, int vlan, uint16_t ip_len, uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct pk f;
	f.n = 0;
	for (int i = 0; i < 12; i++)
		u8(&f, i);
	if (vlan) {
		u16(&f, 0x8100);
		u16(&f, 42);
	}
	u16(&f, 0x0800);
	u8(&f, 0x45); u8(&f, 0x10); u16(&f, ip_len); u16(&f, 1); u16(&f, 0x4000); u8(&f, 64); u8(&f, 6); u16(&f, 0);
	ip4(&f, 198, 51, 100, 7); ip4(&f, 203, 0, 113, 9);
	u16(&f, sport); u16(&f, dport); u32(&f, 1); u32(&f, 0); u8(&f, 0x50); u8(&f, flags); u16(&f, 1024);
	u16(&f, 0); u16(&f, 0);
	/* a little payload, as agents send: never looked at */
	for (int i = 0; i < 6; i++)
		u8(&f, 0xee);
	memcpy(buf, f.b, f.n);
	return f.n;
}

/* A bare IPv6 + UDP packet head into buf; length. */
static size_t packet6_udp(uint8_t *buf, uint16_t payload_len, uint16_t sport, uint16_t dport)
{
	struct pk f;
	f.n = 0;
	u32(&f, 0x60000000); u16(&f, payload_len); u8(&f, 17); u8(&f, 64);
	bytes(&f, V6A, 16); bytes(&f, V6B, 16);
	u16(&f, sport); u16(&f, dport); u16(&f, payload_len); u16(&f, 0);
	memcpy(buf, f.b, f.n);
	return f.n;
}

static void raw_header(struct pk *p, uint32_t proto, uint32_t frame_len, uint32_t stripped, const uint8_t *h,
		       size_t hlen)
{
	size_t at = open_(p, 1);
	u32(p, proto);
	u32(p, frame_len);
	u32(p, stripped);
	u32(p, (uint32_t)hlen);
	bytes(p, h, hlen);
	pad(p);
	close_(p, at);
}

static void ext_switch(struct pk *p)
{
	size_t at = open_(p, 1001);
	u32(p, 42); u32(p, 0); u32(p, 43); u32(p, 0);
	close_(p, at);
}

static void ext_router6(struct pk *p)
{
	size_t at = open_(p, 1002);
	u32(p, 2); bytes(p, V6B, 16); u32(p, 48); u32(p, 64);
	close_(p, at);
}

/* Gateway: router AS 64500, src_as given, two path segments (last AS 64999),
 * three communities, localpref. */
static void ext_gateway(struct pk *p, uint32_t src_as, int with_path)
{
	size_t at = open_(p, 1003);
	u32(p, 1); ip4(p, 192, 0, 2, 254);
	u32(p, 64500); u32(p, src_as); u32(p, 64501);
	if (with_path) {
		u32(p, 2);
		u32(p, 2); u32(p, 2); u32(p, 64501); u32(p, 64777);
		u32(p, 1); u32(p, 1); u32(p, 64999);
	} else {
		u32(p, 0);
	}
	u32(p, 3); u32(p, 1); u32(p, 2); u32(p, 3);
	u32(p, 100);
	close_(p, at);
}

static void sampled_ipv4(struct pk *p, uint32_t len, uint32_t proto, uint32_t sport, uint32_t dport, uint32_t flags)
{
	size_t at = open_(p, 3);
	u32(p, len); u32(p, proto); ip4(p, 10, 1, 1, 1); ip4(p, 10, 2, 2, 2);
	u32(p, sport); u32(p, dport); u32(p, flags); u32(p, 0x28);
	close_(p, at);
}

static void sampled_ipv6(struct pk *p, uint32_t len)
{
	size_t at = open_(p, 4);
	u32(p, len); u32(p, 17); bytes(p, V6B, 16); bytes(p, V6A, 16);
	u32(p, 53); u32(p, 40000); u32(p, 0); u32(p, 0);
	close_(p, at);
}

static void counter_sample(struct pk *p, size_t cnt, int expanded)
{
	count_sample(p, cnt);
	size_t at = open_(p, expanded ? 4 : 2);
	u32(p, 9);      /* sequence */
	if (expanded) {
		u32(p, 0);
		u32(p, 7);
	} else {
		u32(p, 7);
	}
	u32(p, 1);      /* one record: generic interface counters, 88 bytes */
	size_t r = open_(p, 1);
	for (int i = 0; i < 22; i++)
		u32(p, (uint32_t)i);
	close_(p, r);
	close_(p, at);
}

/* One flow sample with an Ethernet/IPv4/TCP header, source 0:7, 1:rate. */
static void one_sample(struct pk *p, unsigned agent, uint32_t sub, uint32_t seq, uint32_t rate, uint32_t drops)
{
	uint8_t h[128];
	size_t cnt = hdr4(p, agent, sub, seq);
	size_t hl = frame4_tcp(h, 0, 40, 40000, 443, 0x02);
	size_t at = flow_sample(p, cnt, seq, 7, rate, drops, 3, 4, 1);
	raw_header(p, 1, 14 + 40 + 4, 4, h, hl);
	close_(p, at);
}

/* The rich datagram the rule tests share: 10 samples (6 flow samples), 5
 * records. */
static void rich(struct pk *p)
{
	uint8_t h[128];
	size_t hl;
	size_t cnt = hdr4(p, 1, 3, 1000), at;

	/* 1: switch + Ethernet/802.1Q/IPv4/TCP header + router + gateway */
	at = flow_sample(p, cnt, 1, 5, 512, 0, 3, 4, 4);
	ext_switch(p);
	hl = frame4_tcp(h, 1, 1400, 40000, 443, 0x18);
	raw_header(p, 1, 1418 + 4, 4, h, hl);
	ext_router6(p);
	ext_gateway(p, 64510, 1);
	close_(p, at);
	/* 2: expanded, bare IPv6 header (protocol 12), output discarded */
	at = flow_sample_x(p, cnt, 1, 0, 70000, 100, 0, 0, 70000, 1, 258, 1);
	hl = packet6_udp(h, 100, 53, 33000);
	raw_header(p, 12, 140, 0, h, hl);
	close_(p, at);
	/* 3: counter sample, 4: expanded counter sample */
	counter_sample(p, cnt, 0);
	counter_sample(p, cnt, 1);
	/* 5: unknown sample format, 6: enterprise sample */
	count_sample(p, cnt);
	at = open_(p, 9);
	u32(p, 0xdeadbeef);
	close_(p, at);
	count_sample(p, cnt);
	at = open_(p, 4413u << 12 | 1);
	u32(p, 1); u32(p, 2); u32(p, 3);
	close_(p, at);
	/* 7: sampled IPv4 only (ICMP echo: type 8 code 0 in the port fields),
	 * plus an unknown record and gateway without a path, source AS 0 */
	at = flow_sample(p, cnt, 2, 5, 512, 0, 0x3fffffff, 0x80000002, 3);
	sampled_ipv4(p, 84, 1, 8, 0, 0);
	{
		size_t r = open_(p, 2000);
		u32(p, 1); u32(p, 2);
		close_(p, r);
	}
	ext_gateway(p, 0, 0);
	close_(p, at);
	/* 8: sampled IPv6 only */
	at = flow_sample(p, cnt, 3, 5, 512, 0, 3, 4, 1);
	sampled_ipv6(p, 76);
	close_(p, at);
	/* 9: an ARP frame: a sample, not a record */
	at = flow_sample(p, cnt, 4, 5, 512, 0, 3, 4, 1);
	{
		struct pk f;
		f.n = 0;
		for (int i = 0; i < 12; i++)
			u8(&f, 0xff);
		u16(&f, 0x0806);
		for (int i = 0; i < 28; i++)
			u8(&f, 1);
		raw_header(p, 1, 64, 4, f.b, f.n);
	}
	close_(p, at);
	/* 10: raw IPv4 header (protocol 11) of an ICMP echo reply */
	at = flow_sample(p, cnt, 5, 5, 512, 0, 3, 4, 1);
	{
		struct pk f;
		f.n = 0;
		u8(&f, 0x45); u8(&f, 0); u16(&f, 60); u32(&f, 0); u8(&f, 64); u8(&f, 1); u16(&f, 0);
		ip4(&f, 10, 3, 3, 3); ip4(&f, 10, 4, 4, 4);
		u8(&f, 0); u8(&f, 0); u16(&f, 0); u32(&f, 0x00010002);
		raw_header(p, 11, 60 + 18, 18, f.b, f.n);
	}
	close_(p, at);
}

/* --- the real captures ----------------------------------------------------- */

static const struct {
	const char *path;
	uint64_t records, flow_samples, counter_samples, datagrams;
} caps[] = {
	{ CAP "export/akvorado_sflow5_set-a.pcap", 10, 10, 0, 5 },
	{ CAP "export/ndpi_sflow5.pcap", 1, 1, 8, 9 },
	{ CAP "generated/pmacct-sfprobe_sflow5_normal-https-periodic.pcap", 1122, 1122, 0, 163 },
	{ CAP "generated/pmacct-sfprobe_sflow5_synscan.pcap", 2061, 2061, 0, 230 },
};

START_TEST(capture_counts)
{
	struct tu_decoded d = { 0 };
	ck_assert_msg(tu_decode_capture(&d, caps[_i].path) == 0, "cannot read %s", caps[_i].path);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_msg(d.nrecs == caps[_i].records, "%s: %zu records, expected %llu", caps[_i].path, d.nrecs,
		      (unsigned long long)caps[_i].records);
	ck_assert_uint_eq(st.records, caps[_i].records);
	ck_assert_uint_eq(st.flow_samples, caps[_i].flow_samples);
	ck_assert_uint_eq(st.counter_samples, caps[_i].counter_samples);
	ck_assert_uint_eq(d.datagrams, caps[_i].datagrams);
	ck_assert_msg(st.malformed == 0 && st.unsupported == 0 && d.rejected == 0, "%s: %llu malformed: %s",
		      caps[_i].path, (unsigned long long)st.malformed, d.nex ? d.ex[0]->err : "");
	ck_assert_uint_eq(st.lost_packets, 0);
	ck_assert_uint_eq(st.lost_records, 0);
	ck_assert_uint_eq(st.seq_resets, 0);
	ck_assert_uint_eq(st.seq_reordered, 0);
	ck_assert_uint_eq(st.sample_drops, 0);
	ck_assert_uint_eq(st.unknown_sampling, 0);
	for (size_t i = 0; i < d.nrecs; i++) {
		const struct mm_flow *f = &d.recs[i];
		ck_assert_uint_eq(f->format, MM_FMT_SFLOW5);
		ck_assert_uint_eq(f->packets, 1);
		ck_assert_msg(f->af == 4 || f->af == 6, "record %zu: af %u", i, f->af);
		ck_assert_uint_eq(f->sampling_src, MM_SAMPLING_HEADER);
		ck_assert_uint_ge(f->sampling_rate, 1);
		ck_assert_uint_eq(f->packets_scaled, f->sampling_rate);
		ck_assert_uint_eq(f->bytes_scaled, f->bytes * f->sampling_rate);
		ck_assert_uint_eq(f->start_ms, f->end_ms);
		ck_assert_uint_gt(f->bytes, 0);
	}
	tu_free(&d);
}
END_TEST

static void expect_addr(const uint8_t a[16], const char *want)
{
	char buf[64];
	ck_assert_str_eq(mm_addr_str(a, buf, sizeof(buf)), want);
}

/* akvorado's five datagrams, field by field (tshark -V of each frame). */
START_TEST(capture_akvorado_values)
{
	struct tu_decoded d = { 0 };
	ck_assert_int_eq(tu_decode_capture(&d, CAP "export/akvorado_sflow5_set-a.pcap"), 0);
	ck_assert_uint_eq(d.nrecs, 10);
	const struct mm_flow *f = d.recs;

	/* frame 1, sample 1: IPv6 SSH, 1:1024, in 27 out 28, IPv6 payload 1460 */
	expect_addr(f[0].src_addr, "2a0c:8880:2:0:185:21:130:38");
	expect_addr(f[0].dst_addr, "2a0c:8880:2:0:185:21:130:39");
	expect_addr(f[0].exporter, "192.0.2.100");
	ck_assert_uint_eq(f[0].af, 6);
	ck_assert_uint_eq(f[0].proto, 6);
	ck_assert_uint_eq(f[0].src_port, 46026);
	ck_assert_uint_eq(f[0].dst_port, 22);
	ck_assert_uint_eq(f[0].tcp_flags, 0x10);
	ck_assert_uint_eq(f[0].bytes, 1500);
	ck_assert_uint_eq(f[0].sampling_rate, 1024);
	ck_assert_uint_eq(f[0].bytes_scaled, 1500 * 1024);
	ck_assert_uint_eq(f[0].in_if, 27);
	ck_assert_uint_eq(f[0].out_if, 28);
	ck_assert_uint_eq(f[0].domain, 0);
	ck_assert_uint_eq(f[0].start_ms, 1662715598886ull);
	/* sample 2: IPv4 HTTPS with extended gateway (src AS 13335, no
	 * destination path: the router's AS 39421) */
	expect_addr(f[1].src_addr, "104.26.8.24");
	expect_addr(f[1].dst_addr, "45.90.161.46");
	ck_assert_uint_eq(f[1].af, 4);
	ck_assert_uint_eq(f[1].src_port, 443);
	ck_assert_uint_eq(f[1].dst_port, 56876);
	ck_assert_uint_eq(f[1].tcp_flags, 0x18);
	ck_assert_uint_eq(f[1].bytes, 421);
	ck_assert_uint_eq(f[1].in_if, 49001);
	ck_assert_uint_eq(f[1].out_if, 25);
	ck_assert_uint_eq(f[1].src_as, 13335);
	ck_assert_uint_eq(f[1].dst_as, 39421);
	/* sample 4: SYN to 5555, gateway src AS 0 (-> 39421), path 203698 6762 26615 */
	expect_addr(f[3].src_addr, "45.90.161.148");
	expect_addr(f[3].dst_addr, "191.87.91.27");
	ck_assert_uint_eq(f[3].src_port, 55658);
	ck_assert_uint_eq(f[3].dst_port, 5555);
	ck_assert_uint_eq(f[3].tcp_flags, 0x02);
	ck_assert_uint_eq(f[3].bytes, 40);
	ck_assert_uint_eq(f[3].src_as, 39421);
	ck_assert_uint_eq(f[3].dst_as, 26615);
	ck_assert_uint_eq(f[3].in_if, 28);
	ck_assert_uint_eq(f[3].out_if, 49001);
	/* frame 2: VXLAN, the outer IPv4/UDP headers; internal interfaces -> 0 */
	expect_addr(f[5].src_addr, "192.168.108.40");
	expect_addr(f[5].dst_addr, "192.168.15.14");
	ck_assert_uint_eq(f[5].proto, 17);
	ck_assert_uint_eq(f[5].src_port, 45833);
	ck_assert_uint_eq(f[5].dst_port, 4789);
	ck_assert_uint_eq(f[5].bytes, 154);
	ck_assert_uint_eq(f[5].sampling_rate, 1);
	ck_assert_uint_eq(f[5].domain, 1402);
	ck_assert_uint_eq(f[5].in_if, 0);
	ck_assert_uint_eq(f[5].out_if, 0);
	/* frame 3: ICMPv6 neighbour solicitation (type 135) */
	expect_addr(f[6].src_addr, "fe80::d05b:45ff:feee:5ecf");
	expect_addr(f[6].dst_addr, "2001:db8::");
	ck_assert_uint_eq(f[6].proto, 58);
	ck_assert_uint_eq(f[6].src_port, 0);
	ck_assert_uint_eq(f[6].dst_port, 135 << 8);
	ck_assert_uint_eq(f[6].bytes, 72);
	/* frame 4: expanded sample, QinQ, 1:4096, in 369098852 out 369098851 */
	expect_addr(f[7].src_addr, "49.49.49.2");
	expect_addr(f[7].dst_addr, "49.49.49.109");
	expect_addr(f[7].exporter, "172.17.128.58");
	ck_assert_uint_eq(f[7].src_port, 32017);
	ck_assert_uint_eq(f[7].dst_port, 443);
	ck_assert_uint_eq(f[7].bytes, 80);
	ck_assert_uint_eq(f[7].sampling_rate, 4096);
	ck_assert_uint_eq(f[7].packets_scaled, 4096);
	ck_assert_uint_eq(f[7].bytes_scaled, 80 * 4096);
	ck_assert_uint_eq(f[7].in_if, 369098852);
	ck_assert_uint_eq(f[7].out_if, 369098851);
	ck_assert_uint_eq(f[7].domain, 100);
	/* frame 5: two raw IPv4 headers (protocol 11), ICMP echo replies */
	expect_addr(f[8].src_addr, "69.58.92.107");
	expect_addr(f[8].dst_addr, "92.222.186.1");
	expect_addr(f[9].dst_addr, "92.222.184.1");
	ck_assert_uint_eq(f[8].proto, 1);
	ck_assert_uint_eq(f[8].dst_port, 0); /* echo reply: type 0 code 0 */
	ck_assert_uint_eq(f[8].bytes, 32);
	ck_assert_uint_eq(f[8].tos, 0x08);
	ck_assert_uint_eq(f[8].in_if, 0);
	ck_assert_uint_eq(f[8].out_if, 2);
	ck_assert_uint_eq(f[9].domain, 100000);
	tu_free(&d);
}
END_TEST

START_TEST(capture_ndpi_values)
{
	struct tu_decoded d = { 0 };
	ck_assert_int_eq(tu_decode_capture(&d, CAP "export/ndpi_sflow5.pcap"), 0);
	ck_assert_uint_eq(d.nrecs, 1);
	const struct mm_flow *f = d.recs;
	/* 802.1Q-tagged ICMP echo request, 1:2048, in 1048, out 1043, sub-agent 1 */
	expect_addr(f->src_addr, "172.21.32.254");
	expect_addr(f->dst_addr, "172.21.32.241");
	expect_addr(f->exporter, "172.21.35.17");
	ck_assert_uint_eq(f->proto, 1);
	ck_assert_uint_eq(f->dst_port, 8 << 8);
	ck_assert_uint_eq(f->bytes, 60);
	ck_assert_uint_eq(f->sampling_rate, 2048);
	ck_assert_uint_eq(f->bytes_scaled, 60 * 2048);
	ck_assert_uint_eq(f->in_if, 1048);
	ck_assert_uint_eq(f->out_if, 1043);
	ck_assert_uint_eq(f->domain, 1);
	tu_free(&d);
}
END_TEST

/* pmacct sfprobe: every sample against TShark's totals (inner ip.len, TCP
 * and UDP ports, SYN-only flags), plus the first record. */
static const struct {
	const char *path;
	uint64_t bytes, port_sum, syn_only, tcp, udp;
	const char *src, *dst;
	uint16_t sport, dport;
	uint64_t first_bytes;
} pm[] = {
	{ CAP "generated/pmacct-sfprobe_sflow5_normal-https-periodic.pcap", 241017, 52854840, 23, 615, 507,
	  "147.32.80.37", "147.32.80.9", 33266, 53, 68 },
	{ CAP "generated/pmacct-sfprobe_sflow5_synscan.pcap", 90664, 91924318, 2043, 2061, 0, "172.16.0.8",
	  "64.13.134.52", 36050, 443, 44 },
};

START_TEST(capture_pmacct_totals)
{
	struct tu_decoded d = { 0 };
	ck_assert_int_eq(tu_decode_capture(&d, pm[_i].path), 0);
	uint64_t bytes = 0, ports = 0, syn = 0, tcp = 0, udp = 0;
	for (size_t i = 0; i < d.nrecs; i++) {
		const struct mm_flow *f = &d.recs[i];
		bytes += f->bytes;
		if (f->proto == 6 || f->proto == 17)
			ports += (uint64_t)f->src_port + f->dst_port;
		tcp += f->proto == 6;
		udp += f->proto == 17;
		syn += f->proto == 6 && f->tcp_flags == 0x02;
		ck_assert_uint_eq(f->sampling_rate, 1);
		ck_assert_uint_eq(f->domain, 1);
		ck_assert_uint_eq(f->in_if, 0); /* 0x3fffffff: internal */
	}
	ck_assert_uint_eq(bytes, pm[_i].bytes);
	ck_assert_uint_eq(ports, pm[_i].port_sum);
	ck_assert_uint_eq(syn, pm[_i].syn_only);
	ck_assert_uint_eq(tcp, pm[_i].tcp);
	ck_assert_uint_eq(udp, pm[_i].udp);
	expect_addr(d.recs[0].src_addr, pm[_i].src);
	expect_addr(d.recs[0].dst_addr, pm[_i].dst);
	ck_assert_uint_eq(d.recs[0].src_port, pm[_i].sport);
	ck_assert_uint_eq(d.recs[0].dst_port, pm[_i].dport);
	ck_assert_uint_eq(d.recs[0].bytes, pm[_i].first_bytes);
	tu_free(&d);
}
END_TEST

/* --- crafted datagrams ------------------------------------------------------ */

START_TEST(every_record_type)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	rich(&p);
	ck_assert_int_eq(dec(&d, &p, 5000), 5);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.flow_samples, 6);
	ck_assert_uint_eq(st.counter_samples, 2);
	ck_assert_uint_eq(st.records, 5);
	ck_assert_uint_eq(st.malformed, 0);
	const struct mm_flow *f = d.recs;

	/* 1: Ethernet + 802.1Q + IPv4 + TCP, gateway AS path */
	expect_addr(f[0].src_addr, "198.51.100.7");
	expect_addr(f[0].dst_addr, "203.0.113.9");
	expect_addr(f[0].exporter, "192.0.2.1");
	ck_assert_uint_eq(f[0].af, 4);
	ck_assert_uint_eq(f[0].proto, 6);
	ck_assert_uint_eq(f[0].src_port, 40000);
	ck_assert_uint_eq(f[0].dst_port, 443);
	ck_assert_uint_eq(f[0].tcp_flags, 0x18);
	ck_assert_uint_eq(f[0].tos, 0x10);
	ck_assert_uint_eq(f[0].bytes, 1400); /* the IP total length, not the frame */
	ck_assert_uint_eq(f[0].packets, 1);
	ck_assert_uint_eq(f[0].sampling_rate, 512);
	ck_assert_uint_eq(f[0].sampling_src, MM_SAMPLING_HEADER);
	ck_assert_uint_eq(f[0].bytes_scaled, 1400 * 512);
	ck_assert_uint_eq(f[0].packets_scaled, 512);
	ck_assert_uint_eq(f[0].start_ms, 5000);
	ck_assert_uint_eq(f[0].end_ms, 5000);
	ck_assert_uint_eq(f[0].in_if, 3);
	ck_assert_uint_eq(f[0].out_if, 4);
	ck_assert_uint_eq(f[0].src_as, 64510);
	ck_assert_uint_eq(f[0].dst_as, 64999);
	ck_assert_uint_eq(f[0].domain, 3);
	ck_assert_uint_eq(f[0].format, MM_FMT_SFLOW5);
	ck_assert_uint_eq(f[0].template_id, 0);
	/* 2: expanded, bare IPv6/UDP, output discarded -> 0 */
	ck_assert_uint_eq(f[1].af, 6);
	ck_assert_mem_eq(f[1].src_addr, V6A, 16);
	ck_assert_mem_eq(f[1].dst_addr, V6B, 16);
	ck_assert_uint_eq(f[1].proto, 17);
	ck_assert_uint_eq(f[1].src_port, 53);
	ck_assert_uint_eq(f[1].dst_port, 33000);
	ck_assert_uint_eq(f[1].bytes, 140);
	ck_assert_uint_eq(f[1].sampling_rate, 100);
	ck_assert_uint_eq(f[1].in_if, 70000);
	ck_assert_uint_eq(f[1].out_if, 0);
	/* 7: sampled IPv4 only: ICMP echo as type<<8|code; internal and
	 * "multiple" interfaces -> 0; gateway without path: both router AS */
	expect_addr(f[2].src_addr, "10.1.1.1");
	expect_addr(f[2].dst_addr, "10.2.2.2");
	ck_assert_uint_eq(f[2].proto, 1);
	ck_assert_uint_eq(f[2].src_port, 0);
	ck_assert_uint_eq(f[2].dst_port, 8 << 8);
	ck_assert_uint_eq(f[2].bytes, 84);
	ck_assert_uint_eq(f[2].tos, 0x28);
	ck_assert_uint_eq(f[2].in_if, 0);
	ck_assert_uint_eq(f[2].out_if, 0);
	ck_assert_uint_eq(f[2].src_as, 64500);
	ck_assert_uint_eq(f[2].dst_as, 64500);
	/* 8: sampled IPv6 only */
	ck_assert_uint_eq(f[3].af, 6);
	ck_assert_mem_eq(f[3].src_addr, V6B, 16);
	ck_assert_uint_eq(f[3].src_port, 53);
	ck_assert_uint_eq(f[3].dst_port, 40000);
	ck_assert_uint_eq(f[3].bytes, 76);
	/* 9 (ARP) gave no record; 10: raw IPv4, ICMP echo reply, bytes = IP length */
	expect_addr(f[4].src_addr, "10.3.3.3");
	ck_assert_uint_eq(f[4].proto, 1);
	ck_assert_uint_eq(f[4].dst_port, 0);
	ck_assert_uint_eq(f[4].bytes, 60);
	tu_free(&d);
}
END_TEST

START_TEST(dispatch_and_versions)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	/* empty datagram: fine, nothing emitted */
	hdr4(&p, 1, 0, 1);
	ck_assert_int_eq(dec(&d, &p, 0), 0);
	/* a 32-bit version 4 (sFlow v4) is unsupported, not malformed */
	hdr4(&p, 1, 0, 2);
	put32(&p, 0, 4);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.unsupported, 1);
	ck_assert_uint_eq(st.malformed, 0);
	/* sflow5_decode called directly with another version */
	struct mm_decode_limits lim;
	mm_decode_limits_default(&lim);
	struct mm_exporter *ex = mm_exporter_new(V6A, &lim);
	struct mm_flow_sink none = { NULL, NULL };
	p.n = 0;
	u32(&p, 9);
	u32(&p, 0);
	ck_assert_int_eq(sflow5_decode(ex, p.b, p.n, 0, &none), -1);
	ck_assert_uint_eq(ex->st.unsupported, 1);
	mm_exporter_free(ex);
	tu_free(&d);
}
END_TEST

START_TEST(ipv6_agent_and_sequence_loss)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	uint8_t h[128];
	size_t hl = frame4_tcp(h, 0, 40, 1, 2, 0x02);
	/* IPv6 agent: 40-byte header */
	for (uint32_t seq = 100; seq < 106; seq++) {
		if (seq == 102 || seq == 103)
			continue; /* two datagrams lost */
		size_t cnt = hdr6(&p, 0, seq);
		size_t at = flow_sample(&p, cnt, seq, 1, 10, 0, 1, 2, 1);
		raw_header(&p, 1, 58, 4, h, hl);
		close_(&p, at);
		ck_assert_int_eq(dec(&d, &p, 0), 1);
	}
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.lost_packets, 2);
	ck_assert_uint_eq(st.lost_records, 0);
	ck_assert_uint_eq(d.recs[0].domain, 0);
	/* the same sub-agent on another agent address (a relay): its own
	 * sequence, no false loss; another sub-agent likewise */
	one_sample(&p, 2, 0, 5000, 10, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	one_sample(&p, 2, 0, 5001, 10, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	one_sample(&p, 2, 1, 9, 10, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	one_sample(&p, 2, 1, 10, 10, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	/* a gap of 3 on agent 2 / sub-agent 0 */
	one_sample(&p, 2, 0, 5005, 10, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	st = tu_stats(&d);
	ck_assert_uint_eq(st.lost_packets, 2 + 3);
	ck_assert_uint_eq(st.seq_resets, 0);
	ck_assert_uint_eq(d.recs[d.nrecs - 2].domain, 1);
	tu_free(&d);
}
END_TEST

START_TEST(drops_counted_by_growth)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	one_sample(&p, 1, 0, 1, 10, 5); /* first sight: baseline only */
	dec(&d, &p, 0);
	one_sample(&p, 1, 0, 2, 10, 8); /* +3 */
	dec(&d, &p, 0);
	one_sample(&p, 1, 0, 3, 10, 8); /* +0 */
	dec(&d, &p, 0);
	one_sample(&p, 1, 0, 4, 10, 2); /* went down: restart, +2 */
	dec(&d, &p, 0);
	one_sample(&p, 1, 7, 5, 10, 100); /* another sub-agent: a new source */
	dec(&d, &p, 0);
	one_sample(&p, 1, 7, 6, 10, 101); /* +1 */
	dec(&d, &p, 0);
	/* many sources: the table replaces old ones, never crashes or miscounts */
	for (uint32_t i = 0; i < 3 * MM_SFLOW_SOURCES; i++) {
		one_sample(&p, 1, 100 + i, 1, 10, 1000);
		dec(&d, &p, 0);
	}
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.sample_drops, 3 + 2 + 1);
	ck_assert_uint_eq(st.flow_samples, 6 + 3 * MM_SFLOW_SOURCES);
	tu_free(&d);
}
END_TEST

START_TEST(sampling_provenance)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	d.default_rate = 64;
	one_sample(&p, 1, 0, 1, 0, 0); /* rate 0: unknown */
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[0].sampling_rate, 64);
	ck_assert_uint_eq(d.recs[0].sampling_src, MM_SAMPLING_DEFAULTED);
	ck_assert_uint_eq(d.recs[0].bytes_scaled, 40 * 64);
	ck_assert_uint_eq(tu_stats(&d).unknown_sampling, 1);
	d.ex[0]->cfg_rate = 4000; /* the operator's rate wins */
	one_sample(&p, 1, 0, 2, 100, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[1].sampling_rate, 4000);
	ck_assert_uint_eq(d.recs[1].sampling_src, MM_SAMPLING_CONFIGURED);
	ck_assert_uint_eq(d.recs[1].packets_scaled, 4000);
	/* saturating: 40 bytes at 1:2^32-1 fits; the packet count too */
	d.ex[0]->cfg_rate = 0;
	one_sample(&p, 1, 0, 3, UINT32_MAX, 0);
	ck_assert_int_eq(dec(&d, &p, 0), 1);
	ck_assert_uint_eq(d.recs[2].bytes_scaled, 40ull * UINT32_MAX);
	ck_assert_uint_eq(d.recs[2].sampling_src, MM_SAMPLING_HEADER);
	tu_free(&d);
}
END_TEST

/* Every prefix of a valid datagram is rejected (each one cuts into the
 * last sample) and never read past; the full one decodes. */
START_TEST(truncations_rejected_never_overread)
{
	struct pk p, v6;
	rich(&p);
	uint8_t h[128];
	size_t cnt = hdr6(&v6, 9, 1), at;
	at = flow_sample_x(&v6, cnt, 1, 2, 1, 16, 0, 0, 1, 2, 3, 2);
	ext_gateway(&v6, 1, 1);
	raw_header(&v6, 12, 140, 0, h, packet6_udp(h, 100, 1, 2));
	close_(&v6, at);
	const struct pk *all[] = { &p, &v6 };
	for (unsigned k = 0; k < 2; k++) {
		const struct pk *full = all[k];
		for (size_t n = 0; n < full->n; n++) {
			struct tu_decoded d = { 0 };
			struct pk cut = *full;
			cut.n = n;
			ck_assert_msg(dec(&d, &cut, 0) == -1, "datagram %u cut at %zu of %zu accepted", k, n, full->n);
			struct mm_exporter_stats st = tu_stats(&d);
			ck_assert_uint_eq(st.malformed + st.unsupported, 1);
			tu_free(&d);
		}
		struct tu_decoded d = { 0 };
		ck_assert_int_gt(dec(&d, full, 0), 0);
		tu_free(&d);
	}
}
END_TEST

/* Lying lengths and counts: rejected as malformed, records of the samples
 * before the bad one kept, nothing read past the datagram. */
START_TEST(lying_lengths_rejected)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	uint8_t h[128];
	size_t hl = frame4_tcp(h, 0, 40, 1, 2, 0x02);
	size_t cnt, at, rec;
	uint64_t bad = 0;

	/* sample count above what the datagram can hold */
	one_sample(&p, 1, 0, 1, 1, 0);
	put32(&p, 24, 50);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* unknown agent address type */
	one_sample(&p, 1, 0, 1, 1, 0);
	put32(&p, 4, 3);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* header cut before the sample count (IPv6 agent, 30 bytes) */
	hdr6(&p, 0, 1);
	p.n = 30;
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* a good sample, then one whose length runs past the datagram: the
	 * first record stays */
	one_sample(&p, 1, 0, 1, 1, 0);
	at = flow_sample(&p, 24, 2, 7, 1, 0, 1, 2, 1);
	raw_header(&p, 1, 58, 4, h, hl);
	close_(&p, at);
	put32(&p, at, (uint32_t)(p.n - at - 4 + 4));
	size_t before = d.nrecs;
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	ck_assert_uint_eq(d.nrecs, before + 1);
	bad++;
	/* a sample length of 0xffffffff (pad4 must not wrap) */
	one_sample(&p, 1, 0, 1, 1, 0);
	put32(&p, 32, UINT32_MAX);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* an unknown sample with an unpadded length at the very end */
	cnt = hdr4(&p, 1, 0, 1);
	count_sample(&p, cnt);
	at = open_(&p, 77);
	u8(&p, 1);
	close_(&p, at);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* flow sample shorter than its own header */
	cnt = hdr4(&p, 1, 0, 1);
	count_sample(&p, cnt);
	at = open_(&p, 1);
	u32(&p, 1); u32(&p, 1);
	close_(&p, at);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* more records than the sample can hold */
	cnt = hdr4(&p, 1, 0, 1);
	at = flow_sample(&p, cnt, 1, 7, 1, 0, 1, 2, 1000);
	raw_header(&p, 1, 58, 4, h, hl);
	close_(&p, at);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* a record whose length overruns its sample (but not the datagram):
	 * the sample says 2 records, the second claims the bytes of a
	 * following sample */
	cnt = hdr4(&p, 1, 0, 1);
	at = flow_sample(&p, cnt, 1, 7, 1, 0, 1, 2, 2);
	raw_header(&p, 1, 58, 4, h, hl);
	rec = open_(&p, 1001);
	u32(&p, 0); u32(&p, 0); u32(&p, 0); u32(&p, 0);
	close_(&p, rec);
	close_(&p, at);
	put32(&p, rec, 64);
	counter_sample(&p, cnt, 0);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* raw header length beyond its record */
	cnt = hdr4(&p, 1, 0, 1);
	at = flow_sample(&p, cnt, 1, 7, 1, 0, 1, 2, 1);
	rec = p.n;
	raw_header(&p, 1, 58, 4, h, hl);
	close_(&p, at);
	put32(&p, rec + 20, (uint32_t)hl + 4);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	/* records of known types shorter than their layout */
	static const uint32_t short_types[] = { 1, 3, 4, 1001, 1002, 1003 };
	for (unsigned i = 0; i < sizeof(short_types) / sizeof(short_types[0]); i++) {
		cnt = hdr4(&p, 1, 0, 1);
		at = flow_sample(&p, cnt, 1, 7, 1, 0, 1, 2, 1);
		rec = open_(&p, short_types[i]);
		u32(&p, 1); u32(&p, 1); u32(&p, 1);
		close_(&p, rec);
		close_(&p, at);
		ck_assert_msg(dec(&d, &p, 0) == -1, "short record of type %u accepted", short_types[i]);
		bad++;
	}
	/* gateway: a path segment claiming more ASes than the record holds;
	 * then more communities than it holds; then a bad next-hop type */
	for (int which = 0; which < 3; which++) {
		cnt = hdr4(&p, 1, 0, 1);
		at = flow_sample(&p, cnt, 1, 7, 1, 0, 1, 2, 1);
		rec = p.n;
		ext_gateway(&p, 1, 1);
		close_(&p, at);
		if (which == 0)
			put32(&p, rec + 8 + 8 + 12 + 4 + 4, 1000);      /* first segment's count */
		else if (which == 1)
			put32(&p, rec + 8 + 8 + 12 + 4 + 16 + 12, 999); /* community count */
		else
			put32(&p, rec + 8, 7);                          /* next hop type */
		ck_assert_msg(dec(&d, &p, 0) == -1, "gateway lie %d accepted", which);
		bad++;
	}
	/* a segment count so large it would loop long: bounded by the record */
	cnt = hdr4(&p, 1, 0, 1);
	at = flow_sample(&p, cnt, 1, 7, 1, 0, 1, 2, 1);
	rec = p.n;
	ext_gateway(&p, 1, 1);
	close_(&p, at);
	put32(&p, rec + 8 + 8 + 12, UINT32_MAX);
	ck_assert_int_eq(dec(&d, &p, 0), -1);
	bad++;
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.malformed, bad);
	ck_assert_uint_eq(d.rejected, bad);
	ck_assert_uint_eq(st.records, d.nrecs);
	tu_free(&d);
}
END_TEST

/* Unknown samples and records, enterprise formats and counter samples are
 * skipped by their lengths, whatever their content. */
START_TEST(unknown_types_skipped)
{
	struct tu_decoded d = { 0 };
	struct pk p;
	uint8_t h[128];
	size_t hl = frame4_tcp(h, 0, 40, 1, 2, 0x02);
	size_t cnt = hdr4(&p, 1, 0, 1), at, rec;
	/* counter sample whose inner records are garbage: still only counted */
	count_sample(&p, cnt);
	at = open_(&p, 2);
	u32(&p, 1); u32(&p, 7); u32(&p, 0xffffffff); u32(&p, 1); u32(&p, 0xfffffff0);
	close_(&p, at);
	/* a flow sample with an enterprise record shaped like a bad header,
	 * an unknown standard record, then the real header */
	at = flow_sample(&p, cnt, 1, 7, 1, 0, 1, 2, 3);
	rec = open_(&p, 9999u << 12 | 1);
	u32(&p, 1); u32(&p, 1); u32(&p, 1); u32(&p, 0xffffff);
	close_(&p, rec);
	rec = open_(&p, 2100);
	u32(&p, 5);
	close_(&p, rec);
	raw_header(&p, 1, 58, 4, h, hl);
	close_(&p, at);
	/* a zero-length unknown sample */
	count_sample(&p, cnt);
	at = open_(&p, 5);
	close_(&p, at);
	/* a header protocol we do not parse (FDDI = 7) and no IP record: no record */
	at = flow_sample(&p, cnt, 2, 7, 1, 0, 1, 2, 1);
	raw_header(&p, 7, 58, 4, h, hl);
	close_(&p, at);
	/* a flow sample with no records at all */
	at = flow_sample(&p, cnt, 3, 7, 1, 0, 1, 2, 0);
	close_(&p, at);
	/* the raw header of a non-IP frame with a sampled IPv4 record: the record gives it */
	at = flow_sample(&p, cnt, 4, 7, 1, 0, 1, 2, 2);
	raw_header(&p, 1, 58, 4, h, 12);
	sampled_ipv4(&p, 1000, 17, 5353, 5353, 0);
	close_(&p, at);
	ck_assert_int_eq(dec(&d, &p, 0), 2);
	struct mm_exporter_stats st = tu_stats(&d);
	ck_assert_uint_eq(st.malformed, 0);
	ck_assert_uint_eq(st.counter_samples, 1);
	ck_assert_uint_eq(st.flow_samples, 4);
	ck_assert_uint_eq(d.recs[0].dst_port, 2);
	ck_assert_uint_eq(d.recs[1].bytes, 1000);
	ck_assert_uint_eq(d.recs[1].src_port, 5353);
	tu_free(&d);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sflow");
	TCase *tc = tcase_create("captures");
	tcase_add_loop_test(tc, capture_counts, 0, (int)(sizeof(caps) / sizeof(caps[0])));
	tcase_add_test(tc, capture_akvorado_values);
	tcase_add_test(tc, capture_ndpi_values);
	tcase_add_loop_test(tc, capture_pmacct_totals, 0, (int)(sizeof(pm) / sizeof(pm[0])));
	suite_add_tcase(s, tc);
	tc = tcase_create("crafted");
	tcase_add_test(tc, every_record_type);
	tcase_add_test(tc, dispatch_and_versions);
	tcase_add_test(tc, ipv6_agent_and_sequence_loss);
	tcase_add_test(tc, drops_counted_by_growth);
	tcase_add_test(tc, sampling_provenance);
	tcase_add_test(tc, truncations_rejected_never_overread);
	tcase_add_test(tc, lying_lengths_rejected);
	tcase_add_test(tc, unknown_types_skipped);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
