/*
 * nflog.c - one packet logged by Linux NFLOG into one normalized record.
 * Pure: the packet's first bytes and NFLOG's metadata in, a struct mm_flow
 * out; no I/O, clock or globals (the live source is nflog_intake.c).  The
 * headers are parsed by mm_pkthdr_parse (pkthdr.c), the parser sFlow and
 * IPFIX frame sections use: headers up to L4 only, never payload.
 */
#include <string.h>
#include "mamori/decode.h"
#include "mamori/nflog.h"
#include "nfx.h"

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86dd

/* nfgen_family values (linux/netfilter.h NFPROTO_*) and hook numbers. */
enum { FAM_INET = 1, FAM_IPV4 = 2, FAM_NETDEV = 5, FAM_BRIDGE = 7, FAM_IPV6 = 10 };
enum { HOOK_PRE_ROUTING = 0, HOOK_LOCAL_IN = 1, HOOK_FORWARD = 2, HOOK_LOCAL_OUT = 3, HOOK_POST_ROUTING = 4 };
enum { HOOK_NETDEV_INGRESS = 0, HOOK_NETDEV_EGRESS = 1 };

/* Ingress for packets coming in to this host or its bridge, egress for
 * packets going out; forwarded packets have no direction of their own. */
static uint8_t direction(uint8_t family, uint8_t hook)
{
	switch (family) {
	case FAM_INET:
	case FAM_IPV4:
	case FAM_IPV6:
	case FAM_BRIDGE:
		if (hook == HOOK_PRE_ROUTING || hook == HOOK_LOCAL_IN)
			return MM_DIR_INGRESS;
		if (hook == HOOK_LOCAL_OUT || hook == HOOK_POST_ROUTING)
			return MM_DIR_EGRESS;
		return MM_DIR_UNKNOWN;
	case FAM_NETDEV:
		if (hook == HOOK_NETDEV_INGRESS)
			return MM_DIR_INGRESS;
		if (hook == HOOK_NETDEV_EGRESS)
			return MM_DIR_EGRESS;
		return MM_DIR_UNKNOWN;
	}
	return MM_DIR_UNKNOWN;
}

/* The IP header must be whole in the copy, and agree with the protocol the
 * kernel gave the packet. */
static int check_ip(const struct mm_nflog_meta *m, const uint8_t *pkt, size_t caplen)
{
	unsigned ver;

	if (m->hw_protocol != 0 && m->hw_protocol != ETHERTYPE_IPV4 && m->hw_protocol != ETHERTYPE_IPV6)
		return MM_NFLOG_NOT_IP;
	if (caplen == 0)
		return MM_NFLOG_TRUNCATED;
	ver = pkt[0] >> 4;
	if (ver != 4 && ver != 6)
		return m->hw_protocol != 0 ? MM_NFLOG_MALFORMED : MM_NFLOG_NOT_IP;
	if ((m->hw_protocol == ETHERTYPE_IPV4 && ver != 4) || (m->hw_protocol == ETHERTYPE_IPV6 && ver != 6))
		return MM_NFLOG_MALFORMED;
	if (ver == 4) {
		size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
		unsigned tot;

		if (caplen < 20)
			return MM_NFLOG_TRUNCATED;
		if (ihl < 20)
			return MM_NFLOG_MALFORMED;
		tot = rd16(pkt + 2);
		/* 0: a GSO packet over 64 KiB (BIG TCP) has no length here */
		if (tot != 0 && tot < ihl)
			return MM_NFLOG_MALFORMED;
		return MM_NFLOG_OK;
	}
	return caplen < 40 ? MM_NFLOG_TRUNCATED : MM_NFLOG_OK;
}

int mm_nflog_record(const struct mm_nflog_meta *m, const uint8_t *pkt, size_t caplen, struct mm_flow *f)
{
	uint32_t ip_len = 0;
	uint32_t rate = m->sampling_rate > 1 ? m->sampling_rate : 1;
	int r;

	memset(f, 0, sizeof(*f));
	r = check_ip(m, pkt, caplen);
	if (r != MM_NFLOG_OK)
		return r;
	if (mm_pkthdr_parse(pkt, caplen, MM_LINK_IP, f, &ip_len) < 0) {
		memset(f, 0, sizeof(*f));
		return MM_NFLOG_MALFORMED; /* not reached after check_ip; kept as the contract */
	}
	/* The original length is the header's; the copy is at most the
	 * copy range.  A header that says less than was copied (0 for BIG
	 * TCP) cannot be the packet's length: the copy is the floor. */
	f->bytes = ip_len >= caplen ? ip_len : caplen;
	f->packets = 1;
	f->sampling_rate = rate;
	f->sampling_src = MM_SAMPLING_CONFIGURED;
	f->bytes_scaled = mm_scale(f->bytes, rate);
	f->packets_scaled = mm_scale(1, rate);
	f->start_ms = f->end_ms = m->now_ms;
	f->domain = m->group;
	f->in_if = m->indev;
	f->out_if = m->outdev;
	f->format = MM_FMT_NFLOG;
	f->direction = direction(m->family, m->hook);
	/* No remote exporter: the collector's own kernel, shown as 0.0.0.0. */
	{
		static const uint8_t any4[4] = { 0, 0, 0, 0 };
		mm_addr_set4(f->exporter, any4);
	}
	f->exporter_af = 4;
	return MM_NFLOG_OK;
}
