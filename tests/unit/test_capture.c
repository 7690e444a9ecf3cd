/*
 * test_capture.c - mm_capture_read / mm_capture_frame (capture.h): the real
 * captures in ../shared/captures, crafted frames for every link type and
 * header rule, and broken capture files written to a mkdtemp directory.
 * Run from the repository root.
 */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pcap/pcap.h>

#include "mamori/capture.h"
#include "mamori/flow.h"

#define CAPS "../shared/captures/"

/* ---- what the callback saw ---- */

struct seen {
	uint64_t n, bytes;
	int stop_at;         /* return non-zero on this datagram (1-based), 0 = never */
	uint8_t src[16];     /* of the last one */
	int af;
	uint16_t sport;
	size_t len;
	uint8_t head[64];    /* its first bytes */
	uint64_t ts_ms;
	uint64_t first_ts_ms;
};

static int collect(void *arg, const uint8_t src[16], int af, uint16_t sport, const uint8_t *p, size_t len,
		   uint64_t ts_ms)
{
	struct seen *s = arg;

	s->n++;
	s->bytes += len;
	memcpy(s->src, src, 16);
	s->af = af;
	s->sport = sport;
	s->len = len;
	memset(s->head, 0, sizeof(s->head));
	memcpy(s->head, p, len < sizeof(s->head) ? len : sizeof(s->head));
	if (s->n == 1)
		s->first_ts_ms = ts_ms;
	s->ts_ms = ts_ms;
	return s->stop_at != 0 && s->n == (uint64_t)s->stop_at;
}

static const char *addr(const uint8_t a[16], char *buf)
{
	return mm_addr_str(a, buf, 64);
}

/* ---- the real captures: datagram counts and payload bytes (TShark 4.0) ---- */

static const struct {
	const char *file;
	uint64_t datagrams, bytes;
} real[] = {
	{ "export/akvorado_ipfix_ipfixprobe-biflow.pcap", 2, 540 },
	{ "export/akvorado_ipfix_mpls.pcap", 1, 716 },
	{ "export/akvorado_nfv5.pcap", 1, 1416 },
	{ "export/akvorado_nfv9_icmp-port2100.pcap", 2, 600 },
	{ "export/akvorado_nfv9_juniper-sampling-data-before-template.pcap", 1, 1416 },
	{ "export/akvorado_nfv9_options+template+data.pcap", 4, 672 },
	{ "export/akvorado_sflow5_set-a.pcap", 5, 2084 },
	{ "export/logstash_ipfix_juniper-mx240-options.pcap", 2, 152 },
	{ "export/logstash_ipfix_mikrotik-routeros.pcap", 3, 3040 },
	{ "export/logstash_ipfix_multi-message.pcap", 3, 788 },
	{ "export/logstash_ipfix_netscaler-varlen.pcap", 2, 2765 },
	{ "export/logstash_ipfix_openbsd-pflow.pcap", 2, 1548 },
	{ "export/logstash_ipfix_yaf-applabel.pcap", 5, 1594 },
	{ "export/logstash_nfv5_juniper-mx80.pcap", 1, 1416 },
	{ "export/logstash_nfv5_multi-datagram.pcap", 12, 1728 },
	{ "export/logstash_nfv9_cisco-asa.pcap", 2, 2464 },
	{ "export/logstash_nfv9_cisco-asr9k.pcap", 4, 2948 },
	{ "export/logstash_nfv9_fortigate-fortios542-appid.pcap", 2, 2352 },
	{ "export/logstash_nfv9_h3c-netstream-varstring.pcap", 2, 248 },
	{ "export/logstash_nfv9_nprobe+softflowd-two-exporters.pcap", 3, 752 },
	{ "export/logstash_nfv9_paloalto-panos.pcap", 2, 2032 },
	{ "export/logstash_nfv9_ubnt-edgerouter-mpls.pcap", 3, 1364 },
	{ "export/ndpi_nfv9_port2057-no-templates.pcap", 10, 13468 },
	{ "export/ndpi_sflow5.pcap", 9, 1324 },
	{ "export/pmacct-ta_ipfix_cisco-ipv6-sampling-option.pcap", 5, 1228 },
	{ "export/pmacct-ta_ipfix_cisco.pcap", 6, 1832 },
	{ "export/pmacct-ta_nfv9+ipfix_two-exporters-ipv4-ipv6.pcap", 22, 4524 },
	{ "export/pmacct-ta_nfv9_cisco.pcap", 40, 7780 },
	{ "generated/nfreplay_v5_slips-test1-scan-part-a.pcap", 88, 127824 },
	{ "generated/nfreplay_v9_slips-test1-scan-part-a.pcap", 125, 180616 },
	{ "generated/pmacct-nfprobe_ipfix_synscan.pcap", 260, 123412 },
	{ "generated/pmacct-nfprobe_v5_synscan.pcap", 69, 97752 },
	{ "generated/pmacct-sfprobe_sflow5_normal-https-periodic.pcap", 163, 214000 },
	{ "generated/pmacct-sfprobe_sflow5_synscan.pcap", 230, 311468 },
	{ "generated/softflowd_ipfix-biflow_normal-https-periodic.pcap", 11, 14268 },
	{ "generated/softflowd_ipfix_http-ipv6.pcap", 2, 2368 },
	{ "generated/softflowd_ipfix_normal-https-periodic.pcap", 17, 22920 },
	{ "generated/softflowd_ipfix_synflood.pcap", 1198, 1632160 },
	{ "generated/softflowd_ipfix_synscan.pcap", 64, 86756 },
	{ "generated/softflowd_v5_normal-https-periodic.pcap", 18, 25440 },
	{ "generated/softflowd_v5_synflood.pcap", 1301, 1839336 },
	{ "generated/softflowd_v5_synscan.pcap", 69, 97752 },
	{ "generated/softflowd_v9_http-ipv6.pcap", 2, 2356 },
	{ "generated/softflowd_v9_icmp-scan.pcap", 2, 1512 },
	{ "generated/softflowd_v9_normal-https-periodic.pcap", 17, 22948 },
	{ "generated/softflowd_v9_normal-iphone.pcap", 3, 4136 },
	{ "generated/softflowd_v9_synflood.pcap", 1198, 1635452 },
	{ "generated/softflowd_v9_synscan.pcap", 64, 86932 },
};
#define NREAL ((int)(sizeof(real) / sizeof(real[0])))

START_TEST(real_capture_counts)
{
	char path[512], err[256];
	struct seen s = { 0 };
	struct mm_capture_stats st;
	int r;

	snprintf(path, sizeof(path), CAPS "%s", real[_i].file);
	r = mm_capture_read(path, collect, &s, &st, err, sizeof(err));
	ck_assert_msg(r >= 0, "%s: %s", path, err);
	ck_assert_int_eq(r, (int)real[_i].datagrams);
	ck_assert_uint_eq(s.n, real[_i].datagrams);
	ck_assert_uint_eq(s.bytes, real[_i].bytes);
	ck_assert_uint_eq(st.frames, real[_i].datagrams);
	ck_assert_uint_eq(st.datagrams, real[_i].datagrams);
	ck_assert_uint_eq(st.skipped_non_udp + st.skipped_fragments + st.truncated, 0);
}
END_TEST

START_TEST(real_nfv5_one_datagram)
{
	char err[256], a[64];
	struct seen s = { 0 };
	struct mm_capture_stats st;

	ck_assert_int_eq(mm_capture_read(CAPS "export/akvorado_nfv5.pcap", collect, &s, &st, err, sizeof(err)), 1);
	ck_assert_str_eq(addr(s.src, a), "10.19.144.41");
	ck_assert_int_eq(s.af, 4);
	ck_assert_uint_eq(s.sport, 40000);
	ck_assert_uint_eq(s.len, 1416);          /* 24 + 29 * 48 */
	ck_assert_uint_eq(s.head[0], 0);         /* NetFlow version 5 */
	ck_assert_uint_eq(s.head[1], 5);
	ck_assert_uint_eq(s.head[3], 29);        /* count */
	ck_assert_uint_eq(s.ts_ms, 1680655485099ull);
}
END_TEST

START_TEST(real_synflood_1198)
{
	char err[256], a[64];
	struct seen s = { 0 };

	ck_assert_int_eq(mm_capture_read(CAPS "generated/softflowd_v9_synflood.pcap", collect, &s, NULL, err,
					 sizeof(err)),
			 1198);
	ck_assert_str_eq(addr(s.src, a), "127.0.0.1");
	ck_assert_uint_eq(s.sport, 55914);
	ck_assert_uint_eq(s.head[1], 9);
	ck_assert_uint_eq(s.first_ts_ms, 1795639733032ull);
}
END_TEST

/* pcapng, two exporters; and IPv4 + IPv6 exporters in one file. */
START_TEST(real_pcapng_and_ipv6)
{
	char err[256], a[64];
	struct seen s = { 0 };

	ck_assert_int_eq(mm_capture_read(CAPS "export/logstash_nfv9_nprobe+softflowd-two-exporters.pcap", collect,
					 &s, NULL, err, sizeof(err)),
			 3);
	ck_assert_str_eq(addr(s.src, a), "192.0.2.9");
	ck_assert_uint_eq(s.sport, 50000);
	ck_assert_uint_eq(s.len, 76);

	memset(&s, 0, sizeof(s));
	s.stop_at = 12; /* frames 1-11 come from the IPv4 exporter, 12 from the IPv6 one */
	ck_assert_int_eq(mm_capture_read(CAPS "export/pmacct-ta_nfv9+ipfix_two-exporters-ipv4-ipv6.pcap", collect,
					 &s, NULL, err, sizeof(err)),
			 12);
	ck_assert_int_eq(s.af, 6);
	ck_assert_str_eq(addr(s.src, a), "2001:4d98:a100:303:0:931:f:1");
	ck_assert_uint_eq(s.sport, 52925);
	ck_assert_uint_eq(s.len, 136);
}
END_TEST

START_TEST(stop_early)
{
	char err[256];
	struct seen s = { .stop_at = 3 };
	struct mm_capture_stats st;

	ck_assert_int_eq(mm_capture_read(CAPS "generated/softflowd_v5_synscan.pcap", collect, &s, &st, err,
					 sizeof(err)),
			 3);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(st.frames, 3);
	ck_assert_uint_eq(st.datagrams, 3);
}
END_TEST

/* ---- crafted frames ---- */

struct fb {
	uint8_t b[2048];
	size_t n;
};

static void put(struct fb *f, const void *p, size_t n)
{
	ck_assert_uint_le(f->n + n, sizeof(f->b));
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put16(struct fb *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	put(f, b, 2);
}

static void eth(struct fb *f, uint16_t type)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };
	put(f, macs, 12);
	put16(f, type);
}

/* IPv4 header: src 192.0.2.1, dst 198.51.100.1; total = 20 + ihl options + l4len. */
static void ip4(struct fb *f, uint8_t proto, size_t l4len, uint16_t frag, int opts)
{
	uint8_t h[24] = { 0 };
	size_t hl = opts ? 24 : 20, tot = hl + l4len;

	h[0] = (uint8_t)(0x40 | (hl / 4));
	h[2] = (uint8_t)(tot >> 8);
	h[3] = (uint8_t)tot;
	h[6] = (uint8_t)(frag >> 8);
	h[7] = (uint8_t)frag;
	h[8] = 64;
	h[9] = proto;
	h[12] = 192, h[13] = 0, h[14] = 2, h[15] = 1;
	h[16] = 198, h[17] = 51, h[18] = 100, h[19] = 1;
	put(f, h, hl);
}

/* IPv6 header: src 2001:db8::1; payload length plen. */
static void ip6(struct fb *f, uint8_t nh, size_t plen)
{
	uint8_t h[40] = { 0x60 };

	h[4] = (uint8_t)(plen >> 8);
	h[5] = (uint8_t)plen;
	h[6] = nh;
	h[7] = 64;
	h[8] = 0x20, h[9] = 0x01, h[10] = 0x0d, h[11] = 0xb8, h[23] = 1;
	h[24] = 0x20, h[25] = 0x01, h[26] = 0x0d, h[27] = 0xb8, h[39] = 2;
	put(f, h, 40);
}

/* UDP from port 50000 to 2055 with payload "ABCDEF..." of plen bytes;
 * ulen = UDP length to claim (0 = the right one). */
static void udp(struct fb *f, size_t plen, size_t ulen)
{
	uint8_t pl[256];

	put16(f, 50000);
	put16(f, 2055);
	put16(f, (uint16_t)(ulen ? ulen : plen + 8));
	put16(f, 0);
	for (size_t i = 0; i < plen; i++)
		pl[i] = (uint8_t)('A' + i % 26);
	put(f, pl, plen);
}

static int frame(int dlt, const struct fb *f, struct seen *s, struct mm_capture_stats *st)
{
	return mm_capture_frame(dlt, f->b, f->n, 1234, collect, s, st);
}

START_TEST(frame_ethernet_vlan)
{
	struct fb f = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st = { 0 };
	char a[64];

	eth(&f, 0x88a8); /* QinQ outer, 802.1Q inner */
	put16(&f, 0x0064);
	put16(&f, 0x8100);
	put16(&f, 0x0065);
	put16(&f, 0x0800);
	ip4(&f, 17, 8 + 10, 0, 1); /* with 4 bytes of IP options */
	udp(&f, 10, 0);
	ck_assert_int_eq(frame(DLT_EN10MB, &f, &s, &st), 1);
	ck_assert_uint_eq(st.datagrams, 1);
	ck_assert_uint_eq(s.len, 10);
	ck_assert_mem_eq(s.head, "ABCDEFGHIJ", 10);
	ck_assert_str_eq(addr(s.src, a), "192.0.2.1");
	ck_assert_int_eq(s.af, 4);
	ck_assert_uint_eq(s.sport, 50000);
	ck_assert_uint_eq(s.ts_ms, 1234);

	/* Ethernet padding after a short IP packet is not payload. */
	f.n = 0;
	eth(&f, 0x0800);
	ip4(&f, 17, 8 + 2, 0, 0);
	udp(&f, 2, 0);
	put(&f, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	ck_assert_int_eq(frame(DLT_EN10MB, &f, &s, &st), 1);
	ck_assert_uint_eq(s.len, 2);
	ck_assert_uint_eq(st.truncated, 0);
}
END_TEST

START_TEST(frame_sll_sll2_raw_loop)
{
	struct fb f = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st = { 0 };
	static const uint8_t sll[14] = { 0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0 };
	static const uint8_t sll2_rest[18] = { 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0 };
	char a[64];

	put(&f, sll, 14);
	put16(&f, 0x86dd);
	ip6(&f, 17, 8 + 5);
	udp(&f, 5, 0);
	ck_assert_int_eq(frame(DLT_LINUX_SLL, &f, &s, &st), 1);
	ck_assert_int_eq(s.af, 6);
	ck_assert_str_eq(addr(s.src, a), "2001:db8::1");
	ck_assert_uint_eq(s.len, 5);

	f.n = 0;
	put16(&f, 0x0800);
	put(&f, sll2_rest, 18);
	ip4(&f, 17, 8 + 7, 0, 0);
	udp(&f, 7, 0);
	ck_assert_int_eq(frame(DLT_LINUX_SLL2, &f, &s, &st), 1);
	ck_assert_int_eq(s.af, 4);
	ck_assert_uint_eq(s.len, 7);

	f.n = 0;
	ip4(&f, 17, 8 + 3, 0, 0);
	udp(&f, 3, 0);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 1);
	ck_assert_int_eq(frame(DLT_IPV4, &f, &s, &st), 1);
	f.n = 0;
	ip6(&f, 17, 8 + 3);
	udp(&f, 3, 0);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 1);
	ck_assert_int_eq(frame(DLT_IPV6, &f, &s, &st), 1);
	ck_assert_int_eq(s.af, 6);

	/* BSD loopback: AF in either byte order; the IPv6 values of each OS. */
	static const uint32_t fams6[] = { 10, 24, 28, 30 };
	for (int le = 0; le < 2; le++) {
		for (int k = -1; k < 4; k++) {
			uint32_t fam = k < 0 ? 2 : fams6[k];
			uint8_t h[4];
			for (int i = 0; i < 4; i++)
				h[i] = (uint8_t)(le ? fam >> (8 * i) : fam >> (8 * (3 - i)));
			f.n = 0;
			put(&f, h, 4);
			if (k < 0)
				ip4(&f, 17, 8 + 4, 0, 0);
			else
				ip6(&f, 17, 8 + 4);
			udp(&f, 4, 0);
			ck_assert_int_eq(frame(le ? DLT_NULL : DLT_LOOP, &f, &s, &st), 1);
			ck_assert_int_eq(s.af, k < 0 ? 4 : 6);
		}
	}
	/* An unknown family. */
	f.n = 0;
	put(&f, "\0\0\0\x07", 4);
	ip4(&f, 17, 8 + 4, 0, 0);
	udp(&f, 4, 0);
	ck_assert_int_eq(frame(DLT_NULL, &f, &s, &st), 0);
	ck_assert_uint_eq(st.skipped_non_udp, 1);
	ck_assert_uint_eq(st.datagrams, 16);
	ck_assert_uint_eq(st.frames, 17);
}
END_TEST

START_TEST(frame_ipv6_extension_headers)
{
	struct fb f = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st = { 0 };
	uint8_t hbh[8] = { 60, 0, 1, 4, 0, 0, 0, 0 };            /* hop-by-hop -> dest opts, 8 bytes */
	uint8_t dst[16] = { 51, 1, 1, 12, 0 };                    /* dest opts -> AH, 16 bytes */
	uint8_t ah[12] = { 44, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1 }; /* AH -> fragment, (1 + 2) * 4 = 12 bytes */
	uint8_t atomic[8] = { 17, 0, 0, 0, 0, 0, 0, 9 };          /* offset 0, M = 0 */
	uint8_t frag[8] = { 17, 0, 0, 1, 0, 0, 0, 9 };            /* M = 1 */
	uint8_t frag2[8] = { 17, 0, 0x05, 0x78, 0, 0, 0, 9 };    /* offset 175, M = 0 */

	ip6(&f, 0, 8 + 16 + 12 + 8 + 8 + 6);
	put(&f, hbh, 8);
	put(&f, dst, 16);
	put(&f, ah, 12);
	put(&f, atomic, 8);
	udp(&f, 6, 0);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 1);
	ck_assert_uint_eq(s.len, 6);
	ck_assert_mem_eq(s.head, "ABCDEF", 6);

	f.n = 0;
	ip6(&f, 44, 8 + 8 + 6);
	put(&f, frag, 8);
	udp(&f, 6, 0);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	f.n = 0;
	ip6(&f, 44, 8 + 6);
	put(&f, frag2, 8);
	put(&f, "ABCDEF", 6);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	ck_assert_uint_eq(st.skipped_fragments, 2);

	/* An extension header running past the packet. */
	f.n = 0;
	hbh[1] = 5; /* 48 bytes claimed */
	ip6(&f, 0, 8 + 14);
	put(&f, hbh, 8);
	udp(&f, 6, 0);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	ck_assert_uint_eq(st.truncated, 1);

	/* ESP, ICMPv6, no next header. */
	static const uint8_t others[] = { 50, 58, 59, 6 };
	for (size_t i = 0; i < sizeof(others); i++) {
		f.n = 0;
		ip6(&f, others[i], 16);
		put(&f, "0123456789abcdef", 16);
		ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	}
	ck_assert_uint_eq(st.skipped_non_udp, 4);
	ck_assert_uint_eq(st.datagrams, 1);
	ck_assert_uint_eq(st.frames, 8);
}
END_TEST

START_TEST(frame_skips)
{
	struct fb f = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st = { 0 };

	/* ARP */
	eth(&f, 0x0806);
	put(&f, "0123456789abcdefghijklmnopqr", 28);
	ck_assert_int_eq(frame(DLT_EN10MB, &f, &s, &st), 0);
	/* TCP */
	f.n = 0;
	eth(&f, 0x0800);
	ip4(&f, 6, 20, 0, 0);
	put(&f, "0123456789abcdefghij", 20);
	ck_assert_int_eq(frame(DLT_EN10MB, &f, &s, &st), 0);
	ck_assert_uint_eq(st.skipped_non_udp, 2);
	/* IPv4 fragments: first (MF), middle, last (offset only); DF alone is fine. */
	static const uint16_t frags[] = { 0x2000, 0x2010, 0x0010 };
	for (size_t i = 0; i < 3; i++) {
		f.n = 0;
		eth(&f, 0x0800);
		ip4(&f, 17, 8 + 4, frags[i], 0);
		udp(&f, 4, 0);
		ck_assert_int_eq(frame(DLT_EN10MB, &f, &s, &st), 0);
	}
	ck_assert_uint_eq(st.skipped_fragments, 3);
	f.n = 0;
	eth(&f, 0x0800);
	ip4(&f, 17, 8 + 4, 0x4000, 0);
	udp(&f, 4, 0);
	ck_assert_int_eq(frame(DLT_EN10MB, &f, &s, &st), 1);
	/* IP version that does not match. */
	f.n = 0;
	eth(&f, 0x0800);
	ip6(&f, 17, 12);
	udp(&f, 4, 0);
	ck_assert_int_eq(frame(DLT_EN10MB, &f, &s, &st), 0);
	f.n = 0;
	put(&f, "\x50\0\0\0", 4);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	/* A link type not read frame by frame. */
	ck_assert_int_eq(frame(DLT_IEEE802_11, &f, &s, &st), 0);
	ck_assert_uint_eq(st.skipped_non_udp, 5);
	ck_assert_uint_eq(st.truncated, 0);
	ck_assert_uint_eq(st.datagrams, 1);
	ck_assert_uint_eq(st.frames, 9);
	ck_assert_uint_eq(s.n, 1);
}
END_TEST

/* Every header cut at every length: never delivered, never over-read
 * (the sanitizer build checks the latter: each cut is a fresh copy). */
START_TEST(frame_truncated_everywhere)
{
	struct fb f = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st = { 0 };
	uint8_t *copy;

	eth(&f, 0x8100);
	put16(&f, 7);
	put16(&f, 0x0800);
	ip4(&f, 17, 8 + 4, 0, 1);
	udp(&f, 4, 0);
	/* 18 + 24 + 8: every cut before the UDP header ends is skipped. */
	for (size_t cut = 0; cut < 18 + 24 + 8; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, f.b, cut);
		ck_assert_int_eq(mm_capture_frame(DLT_EN10MB, copy, cut, 0, collect, &s, &st), 0);
		free(copy);
	}
	ck_assert_uint_eq(st.truncated, 18 + 24 + 8);
	ck_assert_uint_eq(s.n, 0);
	/* Cuts inside the payload: delivered, shortened, counted. */
	for (size_t cut = 18 + 24 + 8; cut < f.n; cut++) {
		copy = malloc(cut);
		memcpy(copy, f.b, cut);
		ck_assert_int_eq(mm_capture_frame(DLT_EN10MB, copy, cut, 0, collect, &s, &st), 1);
		ck_assert_uint_eq(s.len, cut - 50);
		free(copy);
	}
	ck_assert_uint_eq(st.truncated, 18 + 24 + 8 + 4);

	memset(&st, 0, sizeof(st));
	f.n = 0;
	ip6(&f, 17, 8 + 4);
	udp(&f, 4, 0);
	for (size_t cut = 0; cut < 48; cut++) {
		copy = malloc(cut ? cut : 1);
		memcpy(copy, f.b, cut);
		ck_assert_int_eq(mm_capture_frame(DLT_RAW, copy, cut, 0, collect, &s, &st), 0);
		free(copy);
	}
	ck_assert_uint_eq(st.truncated, 48);
	for (int dlt = 0; dlt < 3; dlt++) {
		static const int dlts[] = { DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL };
		ck_assert_int_eq(mm_capture_frame(dlts[dlt], f.b, 3, 0, collect, &s, &st), 0);
	}
	ck_assert_uint_eq(st.truncated, 51);
}
END_TEST

START_TEST(frame_inconsistent_lengths)
{
	struct fb f = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st = { 0 };

	/* UDP claims more than the IP packet: the smaller, counted. */
	ip4(&f, 17, 8 + 6, 0, 0);
	udp(&f, 6, 8 + 40);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 1);
	ck_assert_uint_eq(s.len, 6);
	ck_assert_uint_eq(st.truncated, 1);
	/* UDP claims less: the UDP length wins (trailing bytes are not payload). */
	f.n = 0;
	ip4(&f, 17, 8 + 6, 0, 0);
	udp(&f, 6, 8 + 2);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 1);
	ck_assert_uint_eq(s.len, 2);
	ck_assert_uint_eq(st.truncated, 1);
	/* UDP length below its own header. */
	f.n = 0;
	ip4(&f, 17, 8 + 6, 0, 0);
	udp(&f, 6, 7);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	/* IP total length below its header; IHL below 5. */
	f.n = 0;
	ip4(&f, 17, 8 + 6, 0, 0);
	udp(&f, 6, 0);
	f.b[2] = 0, f.b[3] = 19;
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	f.b[2] = 0, f.b[3] = 34;
	f.b[0] = 0x44;
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	/* IP total length larger than the capture: the capture bounds it. */
	f.b[0] = 0x45;
	f.b[2] = 0x05, f.b[3] = 0xdc;
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 1);
	ck_assert_uint_eq(s.len, 6);
	/* IPv6 payload length 0 (jumbogram) and larger than the capture. */
	f.n = 0;
	ip6(&f, 17, 0);
	udp(&f, 6, 0);
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 0);
	f.b[4] = 0x10;
	ck_assert_int_eq(frame(DLT_RAW, &f, &s, &st), 1);
	ck_assert_uint_eq(s.len, 6);
	ck_assert_uint_eq(st.truncated, 5);
	ck_assert_uint_eq(st.datagrams, 4);
	ck_assert_uint_eq(st.frames, 8);
}
END_TEST

/* ---- files ---- */

struct tmpdir {
	char dir[64];
	char files[8][128];
	int n;
};

static const char *tmpfile_path(struct tmpdir *t, const char *name)
{
	if (t->dir[0] == '\0') {
		strcpy(t->dir, "/tmp/mamori-test-capture-XXXXXX");
		ck_assert_ptr_nonnull(mkdtemp(t->dir));
	}
	ck_assert_int_lt(t->n, 8);
	ck_assert_uint_lt(strlen(t->dir) + 1 + strlen(name), sizeof(t->files[0]));
	strcpy(t->files[t->n], t->dir);
	strcat(t->files[t->n], "/");
	strcat(t->files[t->n], name);
	return t->files[t->n++];
}

static void tmpdir_clean(struct tmpdir *t)
{
	for (int i = 0; i < t->n; i++)
		unlink(t->files[i]);
	if (t->dir[0])
		rmdir(t->dir);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(p, 1, n, f), n);
	ck_assert_int_eq(fclose(f), 0);
}

static uint8_t *read_file(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long sz;

	ck_assert_ptr_nonnull(f);
	fseek(f, 0, SEEK_END);
	sz = ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc((size_t)sz);
	ck_assert_uint_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
	fclose(f);
	*n = (size_t)sz;
	return b;
}

static void le32(struct fb *f, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	put(f, b, 4);
}

static void le16(struct fb *f, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	put(f, b, 2);
}

START_TEST(file_truncated_mid_record)
{
	struct tmpdir t = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st;
	char err[256];
	size_t n, off = 24;
	uint8_t *b = read_file(CAPS "generated/softflowd_v9_synscan.pcap", &n);
	const char *p;

	/* Walk 10 records (16-byte header + caplen each, little-endian file). */
	for (int i = 0; i < 10; i++) {
		uint32_t caplen = (uint32_t)b[off + 8] | (uint32_t)b[off + 9] << 8 | (uint32_t)b[off + 10] << 16 |
				  (uint32_t)b[off + 11] << 24;
		off += 16 + caplen;
	}
	/* Cut inside the 11th record's data, then inside its header. */
	p = tmpfile_path(&t, "cut-data.pcap");
	write_file(p, b, off + 16 + 100);
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "truncated") != NULL, "err: %s", err);
	ck_assert_uint_eq(st.datagrams, 10);
	ck_assert_uint_eq(s.n, 10);

	p = tmpfile_path(&t, "cut-header.pcap");
	write_file(p, b, off + 7);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), -1);
	ck_assert_uint_eq(st.datagrams, 10);

	/* Cut at a record boundary: a shorter, valid file. */
	p = tmpfile_path(&t, "cut-clean.pcap");
	write_file(p, b, off);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), 10);

	/* Cut inside the file header. */
	p = tmpfile_path(&t, "cut-filehdr.pcap");
	write_file(p, b, 12);
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), -1);
	ck_assert_str_ne(err, "");
	free(b);
	tmpdir_clean(&t);
}
END_TEST

START_TEST(file_garbage)
{
	struct tmpdir t = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st;
	char err[256];
	uint8_t junk[4096];
	uint32_t x = 12345;
	const char *p;

	for (size_t i = 0; i < sizeof(junk); i++) {
		x = x * 1103515245u + 12345u;
		junk[i] = (uint8_t)(x >> 16);
	}
	p = tmpfile_path(&t, "junk.pcap");
	write_file(p, junk, sizeof(junk));
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), -1);
	ck_assert_str_ne(err, "");
	ck_assert_uint_eq(st.frames, 0);

	p = tmpfile_path(&t, "empty.pcap");
	write_file(p, junk, 0);
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), -1);

	ck_assert_int_eq(mm_capture_read("/nonexistent/x.pcap", collect, &s, &st, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "/nonexistent/x.pcap") != NULL, "err: %s", err);
	/* err may be NULL */
	ck_assert_int_eq(mm_capture_read("/nonexistent/x.pcap", collect, &s, NULL, NULL, 0), -1);

	/* A valid pcap of a link type we do not read. */
	struct fb f = { .n = 0 };
	le32(&f, 0xa1b2c3d4);
	le16(&f, 2);
	le16(&f, 4);
	le32(&f, 0);
	le32(&f, 0);
	le32(&f, 65535);
	le32(&f, 105); /* IEEE 802.11 */
	p = tmpfile_path(&t, "wifi.pcap");
	write_file(p, f.b, f.n);
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "not supported") != NULL, "err: %s", err);
	ck_assert_uint_eq(s.n, 0);
	tmpdir_clean(&t);
}
END_TEST

/* A hand-made pcap (SLL2, with a snaplen-cut frame and non-UDP) and a
 * hand-made pcapng (raw IP) read through libpcap. */
START_TEST(file_crafted_pcap_pcapng)
{
	struct tmpdir t = { .n = 0 };
	struct seen s = { 0 };
	struct mm_capture_stats st;
	struct fb f = { .n = 0 }, fr = { .n = 0 };
	static const uint8_t sll2_rest[18] = { 0 };
	char err[256], a[64];
	const char *p;

	le32(&f, 0xa1b2c3d4);
	le16(&f, 2);
	le16(&f, 4);
	le32(&f, 0);
	le32(&f, 0);
	le32(&f, 65535);
	le32(&f, 276); /* LINKTYPE_LINUX_SLL2 */
	/* 1: UDP over IPv4, 2: the same cut by snaplen, 3: TCP */
	put16(&fr, 0x0800);
	put(&fr, sll2_rest, 18);
	ip4(&fr, 17, 8 + 20, 0, 0);
	udp(&fr, 20, 0);
	for (int i = 0; i < 3; i++) {
		size_t cap = i == 1 ? fr.n - 5 : fr.n;
		if (i == 2)
			fr.b[20 + 9] = 6;
		le32(&f, 1700000000u + (uint32_t)i);
		le32(&f, 250000);
		le32(&f, (uint32_t)cap);
		le32(&f, (uint32_t)fr.n);
		put(&f, fr.b, cap);
	}
	p = tmpfile_path(&t, "sll2.pcap");
	write_file(p, f.b, f.n);
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), 2);
	ck_assert_uint_eq(st.frames, 3);
	ck_assert_uint_eq(st.truncated, 1);
	ck_assert_uint_eq(st.skipped_non_udp, 1);
	ck_assert_uint_eq(s.len, 15);
	ck_assert_uint_eq(s.first_ts_ms, 1700000000250ull);
	ck_assert_uint_eq(s.ts_ms, 1700000001250ull);

	/* pcapng: SHB, IDB (LINKTYPE_RAW), two EPBs (IPv6, IPv4). */
	f.n = 0;
	le32(&f, 0x0a0d0d0a);
	le32(&f, 28);
	le32(&f, 0x1a2b3c4d);
	le16(&f, 1);
	le16(&f, 0);
	le32(&f, 0xffffffff);
	le32(&f, 0xffffffff);
	le32(&f, 28);
	le32(&f, 1);
	le32(&f, 20);
	le16(&f, 101); /* LINKTYPE_RAW */
	le16(&f, 0);
	le32(&f, 65535);
	le32(&f, 20);
	for (int i = 0; i < 2; i++) {
		uint64_t us = 1700000000123456ull + (uint64_t)i * 1000;
		size_t pad;
		fr.n = 0;
		if (i == 0)
			ip6(&fr, 17, 8 + 9);
		else
			ip4(&fr, 17, 8 + 9, 0, 0);
		udp(&fr, 9, 0);
		pad = (4 - fr.n % 4) % 4;
		le32(&f, 6);
		le32(&f, (uint32_t)(32 + fr.n + pad));
		le32(&f, 0);
		le32(&f, (uint32_t)(us >> 32));
		le32(&f, (uint32_t)us);
		le32(&f, (uint32_t)fr.n);
		le32(&f, (uint32_t)fr.n);
		put(&f, fr.b, fr.n);
		put(&f, "\0\0\0", pad);
		le32(&f, (uint32_t)(32 + fr.n + pad));
	}
	p = tmpfile_path(&t, "raw.pcapng");
	write_file(p, f.b, f.n);
	memset(&s, 0, sizeof(s));
	ck_assert_int_eq(mm_capture_read(p, collect, &s, &st, err, sizeof(err)), 2);
	ck_assert_uint_eq(s.first_ts_ms, 1700000000123ull);
	ck_assert_uint_eq(s.ts_ms, 1700000000124ull);
	ck_assert_str_eq(addr(s.src, a), "192.0.2.1");
	ck_assert_uint_eq(s.len, 9);
	tmpdir_clean(&t);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("capture");
	TCase *tc = tcase_create("real");

	tcase_set_timeout(tc, 120);
	tcase_add_loop_test(tc, real_capture_counts, 0, NREAL);
	tcase_add_test(tc, real_nfv5_one_datagram);
	tcase_add_test(tc, real_synflood_1198);
	tcase_add_test(tc, real_pcapng_and_ipv6);
	tcase_add_test(tc, stop_early);
	suite_add_tcase(s, tc);

	tc = tcase_create("frames");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, frame_ethernet_vlan);
	tcase_add_test(tc, frame_sll_sll2_raw_loop);
	tcase_add_test(tc, frame_ipv6_extension_headers);
	tcase_add_test(tc, frame_skips);
	tcase_add_test(tc, frame_truncated_everywhere);
	tcase_add_test(tc, frame_inconsistent_lengths);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, file_truncated_mid_record);
	tcase_add_test(tc, file_garbage);
	tcase_add_test(tc, file_crafted_pcap_pcapng);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
