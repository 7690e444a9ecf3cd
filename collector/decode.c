/*
 * decode.c - one entry point for every export format: the version field
 * picks the decoder from a table (a new format is a new file plus a row).
 */
#include "nfx.h"

typedef int (*decode_fn)(struct mm_exporter *, const uint8_t *, size_t, uint64_t, const struct mm_flow_sink *);

static const struct {
	uint16_t version;
	decode_fn fn;
} decoders[] = {
	{ 5, netflow5_decode },
	{ 9, netflow9_decode },
	{ 10, ipfix_decode },
};

int mm_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
	      const struct mm_flow_sink *sink)
{
	ex->st.datagrams++;
	ex->st.bytes += len;
	ex->last_seen_ms = now_ms;
	ex->err[0] = '\0';
	if (len < 4) {
		nfx_err(ex, "datagram of %zu bytes", len);
		ex->st.malformed++;
		return -1;
	}
	uint16_t version = rd16(buf);
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		if (decoders[i].version == version)
			return decoders[i].fn(ex, buf, len, now_ms, sink);
	if (version == 0 && rd16(buf + 2) == 5)
		nfx_err(ex, "sFlow v5 datagram: sFlow is not decoded yet");
	else
		nfx_err(ex, "unknown export version %u", version);
	ex->st.unsupported++;
	return -1;
}
