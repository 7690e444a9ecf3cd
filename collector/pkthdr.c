/*
 * pkthdr.c - parse the headers of a sampled frame: Ethernet (802.1Q, QinQ,
 * MPLS), IPv4, IPv6 (extension headers walked), TCP/UDP/SCTP ports, TCP
 * flags, ICMP type/code.  Shared by IPFIX frame sections, sFlow raw headers
 * and NFLOG.  Reads headers only, never payload; every read is bounds-checked
 * against the (often truncated) sample.
 */
#include <string.h>
#include "nfx.h"

#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define ETH_MPLS 0x8847
#define ETH_MPLS_MC 0x8848

static void parse_l4(const uint8_t *p, size_t len, uint8_t proto, struct mm_flow *f)
{
	switch (proto) {
	case 6: /* TCP */
		if (len >= 14) {
			f->src_port = rd16(p);
			f->dst_port = rd16(p + 2);
			f->tcp_flags = p[13];
		}
		break;
	case 17: /* UDP */
	case 132: /* SCTP */
	case 136: /* UDP-Lite */
		if (len >= 4) {
			f->src_port = rd16(p);
			f->dst_port = rd16(p + 2);
		}
		break;
	case 1:
	case 58: /* ICMP, ICMPv6 */
		if (len >= 2)
			f->dst_port = (uint16_t)(p[0] << 8 | p[1]);
		break;
	}
}

static int parse_ipv4(const uint8_t *p, size_t len, struct mm_flow *f, uint32_t *ip_len)
{
	if (len < 20 || (p[0] >> 4) != 4)
		return -1;
	size_t ihl = (size_t)(p[0] & 0x0f) * 4;
	if (ihl < 20)
		return -1;
	mm_addr_set4(f->src_addr, p + 12);
	mm_addr_set4(f->dst_addr, p + 16);
	f->af = 4;
	f->tos = p[1];
	f->proto = p[9];
	if (ip_len)
		*ip_len = rd16(p + 2);
	/* Only the first fragment carries the L4 header. */
	if ((rd16(p + 6) & 0x1fff) == 0 && len > ihl)
		parse_l4(p + ihl, len - ihl, f->proto, f);
	return 0;
}

static int parse_ipv6(const uint8_t *p, size_t len, struct mm_flow *f, uint32_t *ip_len)
{
	if (len < 40 || (p[0] >> 4) != 6)
		return -1;
	memcpy(f->src_addr, p + 8, 16);
	memcpy(f->dst_addr, p + 24, 16);
	f->af = 6;
	f->tos = (uint8_t)((rd16(p) >> 4) & 0xff);
	if (ip_len)
		*ip_len = rd16(p + 4) + 40u;
	uint8_t nh = p[6];
	size_t off = 40;
	/* Walk extension headers; the count is bounded by the sample length,
	 * and by 16 headers so a crafted chain cannot loop long. */
	for (int hops = 0; hops < 16; hops++) {
		switch (nh) {
		case 0:   /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
		case 139: /* HIP */
		case 140: /* shim6 */
			if (len - off < 8)
				goto done;
			nh = p[off];
			off += ((size_t)p[off + 1] + 1) * 8;
			break;
		case 51: /* AH: length in 4-octet units, minus 2 */
			if (len - off < 8)
				goto done;
			nh = p[off];
			off += ((size_t)p[off + 1] + 2) * 4;
			break;
		case 44: /* fragment */
			if (len - off < 8)
				goto done;
			{
				int first = (rd16(p + off + 2) & 0xfff8) == 0;
				nh = p[off];
				off += 8;
				if (!first) {
					f->proto = nh;
					return 0;
				}
			}
			break;
		default:
			goto done;
		}
		if (off > len)
			break;
	}
done:
	f->proto = nh;
	if (off < len)
		parse_l4(p + off, len - off, nh, f);
	return 0;
}

static int parse_ip(const uint8_t *p, size_t len, struct mm_flow *f, uint32_t *ip_len)
{
	if (len < 1)
		return -1;
	if ((p[0] >> 4) == 4)
		return parse_ipv4(p, len, f, ip_len);
	if ((p[0] >> 4) == 6)
		return parse_ipv6(p, len, f, ip_len);
	return -1;
}

int mm_pkthdr_parse(const uint8_t *p, size_t len, int link, struct mm_flow *f, uint32_t *ip_len)
{
	if (ip_len)
		*ip_len = 0;
	if (link == MM_LINK_IP)
		return parse_ip(p, len, f, ip_len);
	if (len < 14)
		return -1;
	uint16_t type = rd16(p + 12);
	size_t off = 14;
	for (int tags = 0; tags < 8 && (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD); tags++) {
		if (len - off < 4)
			return -1;
		type = rd16(p + off + 2);
		off += 4;
	}
	if (type == ETH_MPLS || type == ETH_MPLS_MC) {
		/* Label stack until bottom-of-stack, then guess the payload
		 * from the IP version nibble. */
		for (int labels = 0;; labels++) {
			if (labels >= 16 || len - off < 4)
				return -1;
			int bos = p[off + 2] & 1;
			off += 4;
			if (bos)
				break;
		}
		return parse_ip(p + off, len - off, f, ip_len);
	}
	if (type == ETH_IPV4)
		return parse_ipv4(p + off, len - off, f, ip_len);
	if (type == ETH_IPV6)
		return parse_ipv6(p + off, len - off, f, ip_len);
	return -1;
}
