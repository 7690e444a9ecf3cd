/*
 * decode.c - one entry point for every export format: the version field
 * picks the decoder from a table (a new format is a new file plus a row).
 *
 * NetFlow and IPFIX start with a 16-bit version; sFlow with a 32-bit one.
 * So a row matches the first 32 bits under a mask: 16 bits for NetFlow v5
 * (its count follows) / v9 / IPFIX, all 32 for sFlow v5 (00 00 00 05).
 */
#include "nfx.h"

typedef int (*decode_fn)(struct mm_exporter *, const uint8_t *, size_t, uint64_t, const struct mm_flow_sink *);

static const struct {
	uint32_t match, mask; /* on the first 32 bits, big-endian */
	decode_fn fn;
} decoders[] = {
	{ 0x00050000u, 0xffff0000u, netflow5_decode },
	{ 0x00090000u, 0xffff0000u, netflow9_decode },
	{ 0x000a0000u, 0xffff0000u, ipfix_decode },
	{ 0x00000005u, 0xffffffffu, sflow5_decode },
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
	uint32_t first = rd32(buf);
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		if ((first & decoders[i].mask) == decoders[i].match)
			return decoders[i].fn(ex, buf, len, now_ms, sink);
	if (first >> 16 == 0)
		nfx_err(ex, "unknown export version %u (32-bit, sFlow-style)", first);
	else
		nfx_err(ex, "unknown export version %u", first >> 16);
	ex->st.unsupported++;
	return -1;
}
