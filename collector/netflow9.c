/*
 * netflow9.c - NetFlow v9 (RFC 3954): the packet header and FlowSet framing.
 * Templates and records are shared with IPFIX (templates.c).
 *
 * Header: version(2)=9 count(2) sysUptime(4) unix_secs(4) package_sequence(4)
 * source_id(4).  The sequence counts export packets per source id, so gaps
 * are lost packets (records per packet are unknown).
 */
#include "nfx.h"

#define V9_HDR 20

int netflow9_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
		    const struct mm_flow_sink *sink)
{
	if (len < V9_HDR) {
		nfx_err(ex, "v9: datagram of %zu bytes is shorter than the header", len);
		ex->st.malformed++;
		return -1;
	}
	struct nfx_ctx c = {
		.format = MM_FMT_NETFLOW9,
		.sys_uptime = rd32(buf + 4),
		.export_ms = (uint64_t)rd32(buf + 8) * 1000u,
		.domain = rd32(buf + 16),
		.now_ms = now_ms,
		.sink = sink,
	};
	uint32_t seq = rd32(buf + 12);
	struct mm_domain *d = nfx_domain(ex, MM_FMT_NETFLOW9, c.domain);
	if (d != NULL)
		nfx_seq(ex, &d->seq, seq, 1, 1, &ex->st.lost_packets);

	int emitted = 0;
	size_t off = V9_HDR;
	while (len - off >= 4) {
		uint16_t id = rd16(buf + off), flen = rd16(buf + off + 2);
		if (flen < 4 || flen > len - off) {
			nfx_err(ex, "v9: flowset %u at offset %zu claims %u bytes, %zu left", id, off, flen,
				len - off);
			ex->st.malformed++;
			return -1;
		}
		const uint8_t *body = buf + off + 4;
		size_t blen = flen - 4u;
		if (id == 0 || id == 1) {
			if (nfx_template_set(ex, &c, body, blen, id == 1) < 0) {
				ex->st.malformed++;
				return -1;
			}
		} else if (id >= 256) {
			int n = nfx_data_set(ex, &c, id, body, blen);
			if (n < 0) {
				ex->st.malformed++;
				return -1;
			}
			emitted += n;
		}
		/* ids 2..255 are reserved: skipped by length */
		off += flen;
	}
	return emitted;
}
