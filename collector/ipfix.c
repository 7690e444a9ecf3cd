/*
 * ipfix.c - IPFIX (RFC 7011): the message header and Set framing.
 * Templates and records are shared with NetFlow v9 (templates.c).
 *
 * Header: version(2)=10 length(2) exportTime(4) sequence(4) domain(4).
 * The sequence counts data records (flow and options) per observation
 * domain, so gaps are lost records.  One datagram normally holds one
 * message; several back to back are accepted.
 */
#include "nfx.h"

#define IPFIX_HDR 16

static int ipfix_message(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
			 const struct mm_flow_sink *sink)
{
	struct nfx_ctx c = {
		.format = MM_FMT_IPFIX,
		.export_ms = (uint64_t)rd32(buf + 4) * 1000u,
		.domain = rd32(buf + 12),
		.now_ms = now_ms,
		.sink = sink,
	};
	uint32_t seq = rd32(buf + 8);
	uint64_t flows0 = ex->st.records, opts0 = ex->st.options_records, pend0 = ex->st.pending_queued;
	int emitted = 0, bad = 0;
	size_t off = IPFIX_HDR;
	while (len - off >= 4) {
		uint16_t id = rd16(buf + off), slen = rd16(buf + off + 2);
		if (slen < 4 || slen > len - off) {
			nfx_err(ex, "ipfix: set %u at offset %zu claims %u bytes, %zu left", id, off, slen,
				len - off);
			bad = 1;
			break;
		}
		const uint8_t *body = buf + off + 4;
		size_t blen = slen - 4u;
		if (id == 2 || id == 3) {
			if (blen == 0 || nfx_template_set(ex, &c, body, blen, id == 3) < 0) {
				if (blen == 0)
					nfx_err(ex, "ipfix: empty template set at offset %zu", off);
				bad = 1;
				break;
			}
		} else if (id >= 256) {
			int n = blen == 0 ? -1 : nfx_data_set(ex, &c, id, body, blen);
			if (n < 0) {
				if (blen == 0)
					nfx_err(ex, "ipfix: empty data set %u at offset %zu", id, off);
				bad = 1;
				break;
			}
			emitted += n;
		}
		/* 0, 1 (v9 ids) and 4..255 are reserved: skipped by length */
		off += slen;
	}
	if (off != len && !bad) {
		nfx_err(ex, "ipfix: %zu stray bytes after the last set", len - off);
		bad = 1;
	}

	struct mm_domain *d = nfx_domain(ex, MM_FMT_IPFIX, c.domain);
	if (d != NULL) {
		if (ex->st.pending_queued != pend0) {
			/* Records in held sets are not counted yet: resynchronise
			 * on the next message rather than guess. */
			d->seq.valid = 0;
		} else {
			uint32_t flows = (uint32_t)(ex->st.records - flows0);
			uint32_t count = flows + (uint32_t)(ex->st.options_records - opts0);
			nfx_seq(ex, &d->seq, seq, count, flows, &ex->st.lost_records);
		}
	}
	if (bad) {
		ex->st.malformed++;
		return -1;
	}
	return emitted;
}

int ipfix_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
		 const struct mm_flow_sink *sink)
{
	int total = 0;
	size_t off = 0;
	do {
		if (len - off < IPFIX_HDR) {
			nfx_err(ex, "ipfix: %zu bytes is shorter than a message header", len - off);
			ex->st.malformed++;
			return -1;
		}
		const uint8_t *m = buf + off;
		uint16_t mlen = rd16(m + 2);
		if (rd16(m) != 10 || mlen < IPFIX_HDR || mlen > len - off) {
			nfx_err(ex, "ipfix: message at offset %zu: version %u, length %u, %zu bytes left", off,
				rd16(m), mlen, len - off);
			ex->st.malformed++;
			return -1;
		}
		int n = ipfix_message(ex, m, mlen, now_ms, sink);
		if (n < 0)
			return -1;
		total += n;
		off += mlen;
	} while (off < len);
	return total;
}
