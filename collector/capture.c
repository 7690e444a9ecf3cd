/*
 * capture.c - export datagrams out of pcap/pcapng files (capture.h).
 *
 * A capture is untrusted input like any datagram: every header length is
 * checked against what the capture actually holds (caplen) and against the
 * enclosing header's own length before it is read.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include <pcap/pcap.h>

#include "mamori/capture.h"
#include "mamori/flow.h"

enum { FR_SKIP = 0, FR_GO = 1, FR_STOP = 2 };

/* Ethertypes and IP numbers we look at. */
#define ETH_IPV4 0x0800
#define ETH_IPV6 0x86dd
#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define IPP_UDP 17

struct frame {
	mm_datagram_fn fn;
	void *arg;
	struct mm_capture_stats *st;
	uint64_t ts_ms;
};

static inline uint16_t be16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t be32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint32_t le32(const uint8_t *p)
{
	return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static int skip(uint64_t *counter)
{
	(*counter)++;
	return FR_SKIP;
}

/* `u` holds `avail` bytes of the IP payload (already the smaller of what
 * the IP header claims and what was captured). */
static int udp(struct frame *fr, const uint8_t *u, size_t avail, const uint8_t src[16], int af)
{
	size_t ulen, plen;

	if (avail < 8)
		return skip(&fr->st->truncated);
	ulen = be16(u + 4);
	if (ulen < 8) /* 0 is an IPv6 jumbogram, which needs a jumbo payload option we do not read */
		return skip(&fr->st->truncated);
	if (ulen > avail) {
		fr->st->truncated++;
		ulen = avail;
	}
	plen = ulen - 8;
	fr->st->datagrams++;
	if (fr->fn(fr->arg, src, af, be16(u), u + 8, plen, fr->ts_ms) != 0)
		return FR_STOP;
	return FR_GO;
}

static int ipv4(struct frame *fr, const uint8_t *p, size_t len)
{
	uint8_t src[16];
	size_t ihl, tot;

	if (len < 20)
		return skip(&fr->st->truncated);
	if ((p[0] >> 4) != 4)
		return skip(&fr->st->skipped_non_udp);
	ihl = (size_t)(p[0] & 0x0f) * 4;
	tot = be16(p + 2);
	if (ihl < 20 || ihl > len || tot < ihl)
		return skip(&fr->st->truncated);
	if (be16(p + 6) & 0x3fff) /* more fragments, or a fragment offset */
		return skip(&fr->st->skipped_fragments);
	if (p[9] != IPP_UDP)
		return skip(&fr->st->skipped_non_udp);
	/* Ethernet pads short frames: the IP total length bounds the packet;
	 * a capture cut short (snaplen) bounds it the other way. */
	if (tot > len)
		tot = len;
	mm_addr_set4(src, p + 12);
	return udp(fr, p + ihl, tot - ihl, src, 4);
}

static int ipv6(struct frame *fr, const uint8_t *p, size_t len)
{
	size_t off = 40, end, hl;
	uint8_t nh;

	if (len < 40)
		return skip(&fr->st->truncated);
	if ((p[0] >> 4) != 6)
		return skip(&fr->st->skipped_non_udp);
	end = be16(p + 4);
	if (end == 0) /* jumbogram (or a TSO capture): the length is elsewhere */
		return skip(&fr->st->truncated);
	end += 40;
	if (end > len)
		end = len;
	nh = p[6];
	/* Every extension header consumes at least 8 bytes, so this ends. */
	for (;;) {
		switch (nh) {
		case IPP_UDP:
			return udp(fr, p + off, end - off, p + 8, 6);
		case 0:   /* hop-by-hop options */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
		case 139: /* HIP */
		case 140: /* shim6 */
			if (end - off < 8)
				return skip(&fr->st->truncated);
			hl = ((size_t)p[off + 1] + 1) * 8;
			break;
		case 51: /* AH: length in 4-octet units, minus 2 */
			if (end - off < 8)
				return skip(&fr->st->truncated);
			hl = ((size_t)p[off + 1] + 2) * 4;
			break;
		case 44: /* fragment */
			if (end - off < 8)
				return skip(&fr->st->truncated);
			/* An atomic fragment (offset 0, M clear) is the whole packet. */
			if (be16(p + off + 2) & 0xfff9)
				return skip(&fr->st->skipped_fragments);
			hl = 8;
			break;
		default: /* TCP, ICMPv6, ESP, no next header, ... */
			return skip(&fr->st->skipped_non_udp);
		}
		if (hl > end - off)
			return skip(&fr->st->truncated);
		nh = p[off];
		off += hl;
	}
}

/* An ethertype and what follows it, through any VLAN tags. */
static int ethertype(struct frame *fr, uint16_t type, const uint8_t *p, size_t len)
{
	while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
		if (len < 4)
			return skip(&fr->st->truncated);
		type = be16(p + 2);
		p += 4;
		len -= 4;
	}
	if (type == ETH_IPV4)
		return ipv4(fr, p, len);
	if (type == ETH_IPV6)
		return ipv6(fr, p, len);
	return skip(&fr->st->skipped_non_udp);
}

static int raw_ip(struct frame *fr, const uint8_t *p, size_t len)
{
	if (len < 1)
		return skip(&fr->st->truncated);
	if ((p[0] >> 4) == 4)
		return ipv4(fr, p, len);
	if ((p[0] >> 4) == 6)
		return ipv6(fr, p, len);
	return skip(&fr->st->skipped_non_udp);
}

/* BSD loopback: a 4-byte address family, in the writer's byte order for
 * DLT_NULL and network order for DLT_LOOP (not always honoured, so both
 * take the order whose value fits in 16 bits, as tcpdump does). */
static int bsd_loop(struct frame *fr, const uint8_t *p, size_t len)
{
	uint32_t fam;

	if (len < 4)
		return skip(&fr->st->truncated);
	fam = le32(p);
	if (fam & 0xffff0000u)
		fam = be32(p);
	switch (fam) {
	case 2: /* AF_INET everywhere */
		return ipv4(fr, p + 4, len - 4);
	case 10: /* Linux */
	case 24: /* NetBSD, OpenBSD, BSD/OS */
	case 28: /* FreeBSD, DragonFly */
	case 30: /* Darwin */
		return ipv6(fr, p + 4, len - 4);
	default:
		return skip(&fr->st->skipped_non_udp);
	}
}

static int dlt_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return 1;
	default:
		return 0;
	}
}

int mm_capture_frame(int dlt, const uint8_t *p, size_t len, uint64_t ts_ms, mm_datagram_fn fn, void *arg,
		     struct mm_capture_stats *st)
{
	struct frame fr = { .fn = fn, .arg = arg, .st = st, .ts_ms = ts_ms };

	st->frames++;
	switch (dlt) {
	case DLT_EN10MB:
		if (len < 14)
			return skip(&st->truncated);
		return ethertype(&fr, be16(p + 12), p + 14, len - 14);
	case DLT_LINUX_SLL: /* packet type, ARPHRD, address length, address[8], protocol */
		if (len < 16)
			return skip(&st->truncated);
		return ethertype(&fr, be16(p + 14), p + 16, len - 16);
	case DLT_LINUX_SLL2: /* protocol, reserved, ifindex, ARPHRD, type, address length, address[8] */
		if (len < 20)
			return skip(&st->truncated);
		return ethertype(&fr, be16(p), p + 20, len - 20);
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
		return raw_ip(&fr, p, len);
	case DLT_NULL:
	case DLT_LOOP:
		return bsd_loop(&fr, p, len);
	default:
		return skip(&st->skipped_non_udp);
	}
}

static void seterr(char *err, size_t errlen, const char *path, const char *msg)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s: %s", path, msg);
}

int mm_capture_read(const char *path, mm_datagram_fn fn, void *arg, struct mm_capture_stats *stats,
		    char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct mm_capture_stats local;
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc;
	int dlt, r, ret = -1;

	if (stats == NULL)
		stats = &local;
	memset(stats, 0, sizeof(*stats));
	if (err != NULL && errlen > 0)
		err[0] = '\0';

	pc = pcap_open_offline(path, ebuf);
	if (pc == NULL) {
		/* libpcap names the file in some messages, not in others. */
		if (ebuf[0] != '\0' && strstr(ebuf, path) != NULL) {
			if (err != NULL && errlen > 0)
				snprintf(err, errlen, "%s", ebuf);
		} else {
			seterr(err, errlen, path, ebuf[0] ? ebuf : "cannot open");
		}
		return -1;
	}
	dlt = pcap_datalink(pc);
	if (!dlt_supported(dlt)) {
		char msg[128];
		const char *name = pcap_datalink_val_to_name(dlt);
		snprintf(msg, sizeof(msg), "link type %d (%s) not supported", dlt, name ? name : "unknown");
		seterr(err, errlen, path, msg);
		goto out;
	}

	while ((r = pcap_next_ex(pc, &h, &data)) == 1) {
		uint64_t ts_ms = 0;
		if (h->ts.tv_sec > 0)
			ts_ms = (uint64_t)h->ts.tv_sec * 1000u;
		if (h->ts.tv_usec > 0)
			ts_ms += (uint64_t)h->ts.tv_usec / 1000u;
		if (mm_capture_frame(dlt, data, h->caplen, ts_ms, fn, arg, stats) == FR_STOP)
			break;
	}
	if (r == PCAP_ERROR) {
		seterr(err, errlen, path, pcap_geterr(pc));
		goto out;
	}
	ret = stats->datagrams > (uint64_t)INT_MAX ? INT_MAX : (int)stats->datagrams;
out:
	pcap_close(pc);
	return ret;
}
