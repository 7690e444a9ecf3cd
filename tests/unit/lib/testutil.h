/* testutil.h - helpers the unit tests share: decode a whole capture through
 * the same seam the collector's --read uses, keeping one exporter state per
 * source address, and collect the records for inspection. */
#ifndef MAMORI_TESTUTIL_H
#define MAMORI_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/decode.h"

#define TU_MAX_EXPORTERS 8

struct tu_decoded {
	struct mm_decode_limits lim;
	struct mm_exporter *ex[TU_MAX_EXPORTERS];
	unsigned nex;
	struct mm_flow *recs;   /* every record emitted, in order */
	size_t nrecs, cap;
	uint64_t datagrams, rejected;
	uint32_t default_rate;  /* applied to new exporters (0 = leave 1) */
};

/* Decode `path` (pcap); returns 0 or -1 if the capture cannot be read.
 * All pending sets are expired at the end (as --read does). */
int tu_decode_capture(struct tu_decoded *d, const char *path);
/* Decode one datagram from a fixed exporter (192.0.2.1) in d. */
int tu_decode_bytes(struct tu_decoded *d, const uint8_t *buf, size_t len, uint64_t now_ms);
/* Totals over exporters. */
struct mm_exporter_stats tu_stats(const struct tu_decoded *d);
void tu_free(struct tu_decoded *d);

#endif
