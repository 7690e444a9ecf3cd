/*
 * dump.h - flow records as JSON lines (`mamori-collector --dump`, `--read`).
 *
 * Exactly one line per struct mm_flow, fields always present and always in
 * this order (GoFlow2 style); every field is described in docs/dump.md:
 *
 * {"type":"flow","format":"ipfix","exporter":"192.0.2.1","domain":0,
 *  "template":256,"src":"10.0.0.1","dst":"10.0.0.2","af":4,"proto":6,
 *  "sport":443,"dport":51000,"tcp_flags":27,"tos":0,"bytes":1500,
 *  "packets":3,"sampling_rate":1000,"sampling_source":"learnt",
 *  "bytes_scaled":1500000,"packets_scaled":3000,"start_ms":1700000000000,
 *  "end_ms":1700000001000,"in_if":1,"out_if":2,"src_as":0,"dst_as":0,
 *  "direction":"ingress"}
 *
 * (one line in the output).  A record with af 0 prints "src":null,"dst":null.
 */
#ifndef MAMORI_DUMP_H
#define MAMORI_DUMP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "mamori/flow.h"

/* Room for the longest line mm_dump_format can produce, '\n' and NUL
 * included: 853 bytes (IPv6 addresses and 20-digit counters everywhere). */
#define MM_DUMP_LINE_MAX 1024

/* Format `f` as one JSON line ending in '\n' into buf (MM_DUMP_LINE_MAX
 * bytes), NUL-terminated.  Returns the length without the NUL. */
size_t mm_dump_format(const struct mm_flow *f, char *buf);

/*
 * Write s[0..len) as a JSON string, quotes included, into out (outlen bytes,
 * NUL-terminated).  '"', '\\' and control characters are escaped (\n, \t,
 * ... or \u00XX); so are DEL and bytes >= 0x80 (as \u00XX, i.e. read as
 * Latin-1), so the output is always plain ASCII whatever the input.
 * Returns the length written, or 0 (and out = "") when it does not fit.
 */
size_t mm_json_string(char *out, size_t outlen, const char *s, size_t len);

/* A sink that writes each record to `out` (buffered stdio). */
struct mm_dump {
	FILE *out;
	uint64_t lines; /* records written */
	int error;      /* errno of the first failed write, 0 if none */
};
void mm_dump_init(struct mm_dump *d, FILE *out);
/* mm_flow_sink_fn: arg is a struct mm_dump *. */
void mm_dump_flow(void *arg, const struct mm_flow *f);

#endif
