/*
 * netflow5.c - NetFlow v5: fixed 24-byte header, fixed 48-byte records.
 *
 * The header's sampling_interval (low 14 bits; top 2 bits the mode) scales
 * the counters; 0 means the exporter does not sample: rate 1, provenance
 * "header", unless the operator configured a rate for the exporter.  The
 * flow_sequence counts records per (engine type, engine id).
 */
#include <string.h>
#include "nfx.h"

#define V5_HDR 24
#define V5_REC 48

int netflow5_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
		    const struct mm_flow_sink *sink)
{
	(void)now_ms;
	if (len < V5_HDR) {
		nfx_err(ex, "v5: datagram of %zu bytes is shorter than the header", len);
		ex->st.malformed++;
		return -1;
	}
	unsigned count = rd16(buf + 2);
	if (count == 0 || len < V5_HDR + (size_t)count * V5_REC) {
		nfx_err(ex, "v5: header says %u records, datagram has room for %zu", count,
			(len - V5_HDR) / V5_REC);
		ex->st.malformed++;
		return -1;
	}
	uint32_t uptime = rd32(buf + 4);
	uint64_t export_ms = (uint64_t)rd32(buf + 8) * 1000u + rd32(buf + 12) / 1000000u;
	uint32_t seq = rd32(buf + 16);
	uint32_t domain = (uint32_t)buf[20] << 8 | buf[21];
	uint32_t interval = rd16(buf + 22) & 0x3fff;

	uint32_t rate = interval ? interval : 1;
	uint8_t src = MM_SAMPLING_HEADER;
	if (ex->cfg_rate) {
		rate = ex->cfg_rate;
		src = MM_SAMPLING_CONFIGURED;
	}
	struct mm_domain *d = nfx_domain(ex, MM_FMT_NETFLOW5, domain);
	if (d != NULL)
		nfx_seq(ex, &d->seq, seq, count, count, &ex->st.lost_records);

	struct mm_flow f;
	for (unsigned i = 0; i < count; i++) {
		const uint8_t *r = buf + V5_HDR + (size_t)i * V5_REC;
		memset(&f, 0, sizeof(f));
		mm_addr_set4(f.src_addr, r);
		mm_addr_set4(f.dst_addr, r + 4);
		f.af = 4;
		f.in_if = rd16(r + 12);
		f.out_if = rd16(r + 14);
		f.packets = rd32(r + 16);
		f.bytes = rd32(r + 20);
		/* first/last are sysUptime ms; mod 2^32 so a wrapped uptime works */
		int64_t ago_first = (int32_t)(uptime - rd32(r + 24));
		int64_t ago_last = (int32_t)(uptime - rd32(r + 28));
		f.start_ms = (uint64_t)((int64_t)export_ms - ago_first);
		f.end_ms = (uint64_t)((int64_t)export_ms - ago_last);
		if (f.start_ms > f.end_ms) {
			uint64_t t = f.start_ms;
			f.start_ms = f.end_ms;
			f.end_ms = t;
		}
		f.src_port = rd16(r + 32);
		f.dst_port = rd16(r + 34);
		f.tcp_flags = r[37];
		f.proto = r[38];
		f.tos = r[39];
		f.src_as = rd16(r + 40);
		f.dst_as = rd16(r + 42);
		f.sampling_rate = rate;
		f.sampling_src = src;
		f.bytes_scaled = mm_scale(f.bytes, rate);
		f.packets_scaled = mm_scale(f.packets, rate);
		memcpy(f.exporter, ex->addr, 16);
		f.exporter_af = ex->af;
		f.domain = domain;
		f.format = MM_FMT_NETFLOW5;
		ex->st.records++;
		sink->emit(sink->arg, &f);
	}
	return (int)count;
}
