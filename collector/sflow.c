/*
 * sflow.c - sFlow version 5 (sflow.org, sflow_version_5.txt).
 *
 * XDR throughout: every field a big-endian 32-bit word, opaque data padded
 * to a multiple of 4 bytes.  Every length is checked before the bytes it
 * covers are read; a length that runs past its container rejects the
 * datagram (records of the samples before it have been emitted).
 *
 * Datagram: version 5, agent address (type 1 IPv4 | 2 IPv6 | 0 unknown,
 * then 4, 16 or 0 bytes), sub-agent id, sequence number (datagrams of this
 * agent and sub-agent), uptime (ms), number of samples, samples.
 *
 * Sample: data format (enterprise << 12 | format), length, data.
 *   1 flow sample, 3 expanded flow sample: sequence number, source id,
 *     sampling rate, sample pool, drops, input, output, flow records.
 *   2 counter sample, 4 expanded counter sample: counted, content skipped.
 *   any other format, or any enterprise but 0: skipped by its length.
 *
 * Flow record: data format, length, data.
 *   1    raw packet header: header protocol (1 Ethernet, 11 IPv4, 12 IPv6),
 *        frame length, stripped, header bytes -> mm_pkthdr_parse, which
 *        reads headers up to L4 and never the payload the sample may hold
 *   3, 4 sampled IPv4 / IPv6: used when no raw header gives addresses
 *   1001 extended switch, 1002 extended router: checked, not kept (the
 *        normalized record has no VLAN, next hop or mask)
 *   1003 extended gateway: src_as (0: the router's own AS), dst_as = the
 *        last AS of the destination path (empty path: the router's AS)
 *   anything else: skipped by its length.
 *
 * What a flow sample becomes (docs/decoding.md, "sFlow"):
 *  - one record when it carries an IPv4 or IPv6 packet, none otherwise
 *    (ARP, LLDP, a header protocol we do not parse): st.flow_samples
 *    counts them all;
 *  - packets = 1; bytes = the L3 length, as NetFlow counts it: the IP
 *    total length from the parsed header, else the sampled IPv4/IPv6
 *    record's length, else the frame length;
 *  - sampling_rate = the sample's own rate, provenance "header"; an
 *    operator rate for the exporter wins ("configured"); a rate of 0 is
 *    unknown: the default rate, "defaulted", counted in unknown_sampling;
 *  - start_ms = end_ms = now_ms, the receive time: sFlow samples carry no
 *    time of their own (the uptime in the header is the agent's clock);
 *  - exporter = the datagram's source address (ex->addr), like every
 *    format; domain = the sub-agent id;
 *  - in_if/out_if = the ifIndex when the interface format is 0 (single
 *    interface), 0 for "internal" (0x3fffffff), discarded or multiple.
 *
 * Counted: datagram sequence gaps per (agent address, sub-agent) in
 * st.lost_packets; the agent address is part of that key (hashed into the
 * domain id) so that a relay forwarding several agents from one source
 * address does not mix their sequences.  The growth of each data source's
 * cumulative drops counter goes to st.sample_drops (decode.h,
 * struct mm_sflow_source).
 */
#include <string.h>
#include "nfx.h"

#define SF_VERSION 5u

#define SF_FLOW_SAMPLE 1u
#define SF_COUNTER_SAMPLE 2u
#define SF_FLOW_SAMPLE_EXPANDED 3u
#define SF_COUNTER_SAMPLE_EXPANDED 4u

#define SF_REC_HEADER 1u
#define SF_REC_IPV4 3u
#define SF_REC_IPV6 4u
#define SF_REC_SWITCH 1001u
#define SF_REC_ROUTER 1002u
#define SF_REC_GATEWAY 1003u

#define SF_HP_ETHERNET 1u
#define SF_HP_IPV4 11u
#define SF_HP_IPV6 12u

#define SF_IF_INTERNAL 0x3fffffffu

#define SF_FLOW_HDR 32u          /* flow sample up to its record count */
#define SF_FLOW_HDR_EXPANDED 44u /* expanded flow sample, likewise */
#define SF_RAW_HDR 16u           /* raw packet header before its bytes */
#define SF_IPV4_LEN 32u
#define SF_IPV6_LEN 56u
#define SF_SWITCH_LEN 16u

/* XDR opaque lengths are padded to 4 (64-bit: no overflow on 0xffffffff). */
static inline uint64_t pad4(uint32_t n)
{
	return ((uint64_t)n + 3) & ~(uint64_t)3;
}

/* Bytes of an XDR address (type word + 0, 4 or 16 bytes) at p, or 0 when
 * it does not fit in len or its type is unknown. */
static size_t sf_addr_len(const uint8_t *p, size_t len)
{
	if (len < 4)
		return 0;
	switch (rd32(p)) {
	case 0:
		return 4;
	case 1:
		return len >= 8 ? 8 : 0;
	case 2:
		return len >= 20 ? 20 : 0;
	}
	return 0;
}

/* What a datagram's samples share. */
struct sf_dgram {
	uint32_t sub_agent;
	uint32_t domain_key; /* (agent, sub-agent) */
	uint64_t now_ms;
	const struct mm_flow_sink *sink;
};

/* What the flow records of one sample said. */
struct sf_sample {
	const uint8_t *hdr;   /* raw packet header bytes (first such record) */
	size_t hdr_len;
	uint32_t hdr_proto;
	uint32_t frame_len;
	const uint8_t *ip;    /* sampled IPv4/IPv6 record (first one) */
	uint8_t ip_af;        /* 4 or 6 when ip is set */
	uint8_t has_as;
	uint32_t src_as, dst_as;
};

/* Extended gateway (1003): next hop, as, src_as, src_peer_as, dst_as_path
 * (segments of {type, ASes}), communities, localpref. */
static int sf_gateway(struct mm_exporter *ex, const uint8_t *p, size_t len, struct sf_sample *s)
{
	size_t off = sf_addr_len(p, len);
	if (off == 0 || len - off < 16) {
		nfx_err(ex, "sflow: extended gateway record of %zu bytes is too short or has a bad next hop", len);
		return -1;
	}
	uint32_t as = rd32(p + off);
	uint32_t src_as = rd32(p + off + 4);
	uint32_t nseg = rd32(p + off + 12); /* off + 8: the source peer AS */
	uint32_t dst_as = as;
	off += 16;
	/* Each segment takes at least 8 bytes, so the loop is bounded by len. */
	for (uint32_t i = 0; i < nseg; i++) {
		if (len - off < 8) {
			nfx_err(ex, "sflow: extended gateway: AS path segment %u of %u overruns the record", i, nseg);
			return -1;
		}
		uint32_t n = rd32(p + off + 4); /* p + off: segment type (set/sequence) */
		off += 8;
		if (n > (len - off) / 4) {
			nfx_err(ex, "sflow: extended gateway: AS path segment of %u ASes overruns the record", n);
			return -1;
		}
		if (n > 0)
			dst_as = rd32(p + off + 4 * ((size_t)n - 1));
		off += 4 * (size_t)n;
	}
	if (len - off < 4) {
		nfx_err(ex, "sflow: extended gateway: no room for its communities");
		return -1;
	}
	uint32_t ncomm = rd32(p + off);
	off += 4;
	if (ncomm > (len - off) / 4 || len - off - 4 * (size_t)ncomm < 4) {
		nfx_err(ex, "sflow: extended gateway: %u communities and local preference overrun the record", ncomm);
		return -1;
	}
	s->src_as = src_as ? src_as : as;
	s->dst_as = dst_as;
	s->has_as = 1;
	return 0;
}

/* One flow record of format `fmt` (enterprise 0), `len` bytes at p. */
static int sf_flow_record(struct mm_exporter *ex, uint32_t fmt, const uint8_t *p, size_t len, struct sf_sample *s)
{
	switch (fmt) {
	case SF_REC_HEADER: {
		if (len < SF_RAW_HDR) {
			nfx_err(ex, "sflow: raw packet header record of %zu bytes", len);
			return -1;
		}
		uint32_t hlen = rd32(p + 12);
		if (hlen > len - SF_RAW_HDR) {
			nfx_err(ex, "sflow: raw packet header of %u bytes in a record of %zu", hlen, len);
			return -1;
		}
		if (s->hdr == NULL) {
			s->hdr_proto = rd32(p);
			s->frame_len = rd32(p + 4); /* p + 8: bytes stripped (FCS, L2): unused */
			s->hdr = p + SF_RAW_HDR;
			s->hdr_len = hlen;
		}
		return 0;
	}
	case SF_REC_IPV4:
	case SF_REC_IPV6: {
		size_t need = fmt == SF_REC_IPV4 ? SF_IPV4_LEN : SF_IPV6_LEN;
		if (len < need) {
			nfx_err(ex, "sflow: sampled IPv%c record of %zu bytes", fmt == SF_REC_IPV4 ? '4' : '6', len);
			return -1;
		}
		if (s->ip == NULL) {
			s->ip = p;
			s->ip_af = fmt == SF_REC_IPV4 ? 4 : 6;
		}
		return 0;
	}
	case SF_REC_SWITCH:
		if (len < SF_SWITCH_LEN) {
			nfx_err(ex, "sflow: extended switch record of %zu bytes", len);
			return -1;
		}
		return 0;
	case SF_REC_ROUTER: {
		size_t a = sf_addr_len(p, len);
		if (a == 0 || len - a < 8) {
			nfx_err(ex, "sflow: extended router record of %zu bytes is too short or has a bad next hop", len);
			return -1;
		}
		return 0;
	}
	case SF_REC_GATEWAY:
		return sf_gateway(ex, p, len, s);
	}
	return 0; /* not used: skipped by its length */
}

/* The `nrec` flow records in len bytes at p. */
static int sf_flow_records(struct mm_exporter *ex, const uint8_t *p, size_t len, uint32_t nrec,
			   struct sf_sample *s)
{
	if (nrec > len / 8) {
		nfx_err(ex, "sflow: flow sample says %u records, has room for %zu", nrec, len / 8);
		return -1;
	}
	size_t off = 0;
	for (uint32_t i = 0; i < nrec; i++) {
		if (len - off < 8) {
			nfx_err(ex, "sflow: flow record %u of %u starts past its sample", i + 1, nrec);
			return -1;
		}
		uint32_t fmt = rd32(p + off), rlen = rd32(p + off + 4);
		off += 8;
		if (pad4(rlen) > len - off) {
			nfx_err(ex, "sflow: flow record %u (format %u:%u) of %u bytes overruns its sample (%zu left)", i + 1,
				fmt >> 12, fmt & 0xfff, rlen, len - off);
			return -1;
		}
		if (fmt >> 12 == 0 && sf_flow_record(ex, fmt, p + off, rlen, s) < 0)
			return -1;
		off += (size_t)pad4(rlen);
	}
	return 0;
}

/* Count the growth of a data source's cumulative drops counter.  The table
 * is 4-way set associative, most recently used first in its set. */
static void sf_drops(struct mm_exporter *ex, uint32_t dkey, uint32_t cls, uint32_t index, uint32_t drops)
{
	uint32_t h = dkey ^ (index * 0x9e3779b1u) ^ (cls << 27);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	struct mm_sflow_source *set = &ex->sflow_src[(h % (MM_SFLOW_SOURCES / 4)) * 4];
	struct mm_sflow_source e;
	unsigned w;
	for (w = 0; w < 4; w++)
		if (set[w].used && set[w].domain_key == dkey && set[w].index == index && set[w].cls == (uint8_t)cls)
			break;
	if (w < 4) {
		e = set[w];
		/* A counter that went down: the agent restarted; it counts from 0. */
		ex->st.sample_drops += drops >= e.drops ? drops - e.drops : drops;
	} else {
		/* New (or replaced) source: its count so far only sets the baseline. */
		w = 3;
		memset(&e, 0, sizeof(e));
		e.domain_key = dkey;
		e.index = index;
		e.cls = (uint8_t)cls;
		e.used = 1;
	}
	e.drops = drops;
	memmove(&set[1], &set[0], w * sizeof(*set));
	set[0] = e;
}

/* ifIndex of a single-interface value, 0 for anything else. */
static uint32_t sf_ifindex(uint32_t format, uint32_t value)
{
	return format == 0 && value != SF_IF_INTERNAL ? value : 0;
}

/* A flow sample (expanded or not) of len bytes at p: 1 when it gave a
 * record, 0 when it carried no IP packet, -1 when malformed. */
static int sf_flow_sample(struct mm_exporter *ex, const struct sf_dgram *dg, const uint8_t *p, size_t len,
			  int expanded)
{
	uint32_t cls, index, rate, drops, in_if, out_if, nrec;
	size_t hl = expanded ? SF_FLOW_HDR_EXPANDED : SF_FLOW_HDR;
	if (len < hl) {
		nfx_err(ex, "sflow: %sflow sample of %zu bytes is shorter than its header", expanded ? "expanded " : "",
			len);
		return -1;
	}
	/* p + 0: the source's sample sequence number; pool: p + 12 (p + 16) */
	if (expanded) {
		cls = rd32(p + 4);
		index = rd32(p + 8);
		rate = rd32(p + 12);
		drops = rd32(p + 20);
		in_if = sf_ifindex(rd32(p + 24), rd32(p + 28));
		out_if = sf_ifindex(rd32(p + 32), rd32(p + 36));
		nrec = rd32(p + 40);
	} else {
		uint32_t src = rd32(p + 4), in = rd32(p + 20), out = rd32(p + 24);
		cls = src >> 24;
		index = src & 0xffffff;
		rate = rd32(p + 8);
		drops = rd32(p + 16);
		in_if = sf_ifindex(in >> 30, in & 0x3fffffff);
		out_if = sf_ifindex(out >> 30, out & 0x3fffffff);
		nrec = rd32(p + 28);
	}
	struct sf_sample s;
	memset(&s, 0, sizeof(s));
	if (sf_flow_records(ex, p + hl, len - hl, nrec, &s) < 0)
		return -1;
	ex->st.flow_samples++;
	sf_drops(ex, dg->domain_key, cls, index, drops);

	struct mm_flow f;
	memset(&f, 0, sizeof(f));
	int ok = 0;
	if (s.hdr != NULL) {
		int link = s.hdr_proto == SF_HP_ETHERNET ? MM_LINK_ETHERNET
			   : s.hdr_proto == SF_HP_IPV4 || s.hdr_proto == SF_HP_IPV6 ? MM_LINK_IP
			   : 0;
		uint32_t ip_len = 0;
		if (link != 0 && mm_pkthdr_parse(s.hdr, s.hdr_len, link, &f, &ip_len) == 0) {
			f.bytes = ip_len ? ip_len : s.frame_len;
			ok = 1;
		}
	}
	if (!ok && s.ip != NULL) {
		/* length, protocol, src, dst, src port, dst port, tcp flags, tos/priority */
		const uint8_t *q = s.ip;
		memset(&f, 0, sizeof(f));
		f.bytes = rd32(q);
		f.proto = (uint8_t)rd32(q + 4);
		if (s.ip_af == 4) {
			mm_addr_set4(f.src_addr, q + 8);
			mm_addr_set4(f.dst_addr, q + 12);
			q += 16;
		} else {
			memcpy(f.src_addr, q + 8, 16);
			memcpy(f.dst_addr, q + 24, 16);
			q += 40;
		}
		f.af = s.ip_af;
		uint32_t sport = rd32(q), dport = rd32(q + 4);
		if ((f.proto == 1 || f.proto == 58) && sport <= 0xff && dport <= 0xff) {
			/* ICMP type and code in the port fields: flow.h's convention */
			f.src_port = 0;
			f.dst_port = (uint16_t)(sport << 8 | dport);
		} else {
			f.src_port = (uint16_t)sport;
			f.dst_port = (uint16_t)dport;
		}
		f.tcp_flags = (uint8_t)rd32(q + 8);
		f.tos = (uint8_t)rd32(q + 12);
		ok = 1;
	}
	if (!ok)
		return 0;

	uint8_t src = MM_SAMPLING_HEADER;
	if (ex->cfg_rate) {
		rate = ex->cfg_rate;
		src = MM_SAMPLING_CONFIGURED;
	} else if (rate == 0) {
		rate = ex->default_rate ? ex->default_rate : 1;
		src = MM_SAMPLING_DEFAULTED;
		ex->st.unknown_sampling++;
	}
	f.packets = 1;
	f.sampling_rate = rate;
	f.sampling_src = src;
	f.bytes_scaled = mm_scale(f.bytes, rate);
	f.packets_scaled = mm_scale(f.packets, rate);
	f.start_ms = f.end_ms = dg->now_ms;
	f.in_if = in_if;
	f.out_if = out_if;
	if (s.has_as) {
		f.src_as = s.src_as;
		f.dst_as = s.dst_as;
	}
	memcpy(f.exporter, ex->addr, 16);
	f.exporter_af = ex->af;
	f.domain = dg->sub_agent;
	f.format = MM_FMT_SFLOW5;
	ex->st.records++;
	dg->sink->emit(dg->sink->arg, &f);
	return 1;
}

/* FNV-1a of the agent address (with its type) and the sub-agent id. */
static uint32_t sf_domain_key(const uint8_t *agent, size_t alen, uint32_t sub_agent)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < alen; i++)
		h = (h ^ agent[i]) * 16777619u;
	for (int i = 24; i >= 0; i -= 8)
		h = (h ^ ((sub_agent >> i) & 0xff)) * 16777619u;
	return h;
}

int sflow5_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
		  const struct mm_flow_sink *sink)
{
	if (len < 8) {
		nfx_err(ex, "sflow: datagram of %zu bytes is shorter than the header", len);
		ex->st.malformed++;
		return -1;
	}
	if (rd32(buf) != SF_VERSION) {
		nfx_err(ex, "sflow: version %u", rd32(buf));
		ex->st.unsupported++;
		return -1;
	}
	size_t alen = sf_addr_len(buf + 4, len - 4); /* type word + address */
	if (alen == 0) {
		nfx_err(ex, "sflow: agent address type %u (or its address cut off)", rd32(buf + 4));
		ex->st.malformed++;
		return -1;
	}
	size_t hdr = 4 + alen + 16;
	if (len < hdr) {
		nfx_err(ex, "sflow: datagram of %zu bytes is shorter than the header (%zu)", len, hdr);
		ex->st.malformed++;
		return -1;
	}
	const uint8_t *h = buf + 4 + alen;
	uint32_t seq = rd32(h + 4), nsamples = rd32(h + 12); /* h + 8: uptime, unused */
	if (nsamples > (len - hdr) / 8) {
		nfx_err(ex, "sflow: header says %u samples, datagram has room for %zu", nsamples, (len - hdr) / 8);
		ex->st.malformed++;
		return -1;
	}
	struct sf_dgram dg = {
		.sub_agent = rd32(h),
		.domain_key = sf_domain_key(buf + 4, alen, rd32(h)),
		.now_ms = now_ms,
		.sink = sink,
	};
	struct mm_domain *d = nfx_domain(ex, MM_FMT_SFLOW5, dg.domain_key);
	if (d != NULL)
		nfx_seq(ex, &d->seq, seq, 1, 1, &ex->st.lost_packets);

	int emitted = 0;
	size_t off = hdr;
	for (uint32_t i = 0; i < nsamples; i++) {
		if (len - off < 8) {
			nfx_err(ex, "sflow: sample %u of %u starts past the datagram", i + 1, nsamples);
			ex->st.malformed++;
			return -1;
		}
		uint32_t fmt = rd32(buf + off), slen = rd32(buf + off + 4);
		off += 8;
		if (pad4(slen) > len - off) {
			nfx_err(ex, "sflow: sample %u (format %u:%u) of %u bytes overruns the datagram (%zu left)", i + 1,
				fmt >> 12, fmt & 0xfff, slen, len - off);
			ex->st.malformed++;
			return -1;
		}
		if (fmt >> 12 == 0) {
			switch (fmt) {
			case SF_FLOW_SAMPLE:
			case SF_FLOW_SAMPLE_EXPANDED: {
				int r = sf_flow_sample(ex, &dg, buf + off, slen, fmt == SF_FLOW_SAMPLE_EXPANDED);
				if (r < 0) {
					ex->st.malformed++;
					return -1;
				}
				emitted += r;
				break;
			}
			case SF_COUNTER_SAMPLE:
			case SF_COUNTER_SAMPLE_EXPANDED:
				ex->st.counter_samples++;
				break;
			}
		}
		off += (size_t)pad4(slen);
	}
	return emitted;
}
