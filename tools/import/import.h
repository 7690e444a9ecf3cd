/*
 * import.h - mamori-import internals: labelled flow datasets (Argus
 * .binetflow, Zeek conn logs as CSV) turned into an IPFIX pcap and a
 * ground-truth file in mamori-gen's format (docs/labelled.md).
 *
 *   read.c    the two input formats, into connections (imp_conn)
 *   truth.c   labels -> malicious episodes -> classes, the truth file
 *   main.c    CLI, prefix inference, the export (tools/gen's exporter and
 *             pcap writer), the config fragment
 */
#ifndef MAMORI_IMPORT_H
#define MAMORI_IMPORT_H

#include <stdint.h>
#include <stdio.h>

#include "../gen/gen.h"

#define IMP_LABEL_MAX 96

/* One bidirectional connection as the dataset gives it (Argus and Zeek
 * both report both directions in one line). */
struct imp_conn {
	uint8_t src[16], dst[16];   /* IPv4-mapped for IPv4 */
	uint8_t af;                 /* 4 or 6 */
	uint8_t proto;
	uint8_t fwd_flags, rev_flags; /* TCP flags of each direction (0 unknown) */
	uint16_t sport, dport;      /* ICMP: sport 0, dport type<<8|code */
	uint64_t start_ms, end_ms;
	uint64_t fwd_pkts, fwd_bytes, rev_pkts, rev_bytes;
	int src_local, dst_local;   /* Zeek local_orig/local_resp: 1 yes, 0 no, -1 not given */
	int malicious;              /* label says malicious */
	char label[IMP_LABEL_MAX];  /* the original label ("" none) */
	unsigned line;              /* line in the input file */
};

struct imp_conns {
	struct imp_conn *v;
	size_t n, cap;
};

struct imp_read_opts {
	const char *file_label;  /* label for lines without one (file-level label), or NULL */
	uint64_t t0_ms;          /* added to relative timestamps (< 1e9 s) */
};

struct imp_read_stats {
	unsigned long lines;       /* data lines */
	unsigned long conns;       /* connections kept */
	unsigned long bad;         /* bad lines: reported file:line, skipped */
	unsigned long non_ip;      /* ARP, LLC, Argus management records: skipped */
	unsigned long empty;       /* no packets in either direction: skipped */
	unsigned long relative;    /* timestamps shifted by t0 */
	unsigned long unknown_label; /* labels neither benign nor malicious: taken as benign */
	const char *format;        /* "binetflow" or "zeek" */
};

/* Reads a .binetflow or Zeek conn CSV (told apart by the header).  Bad
 * lines are reported on stderr as FILE:LINE: reason (the first 20, then
 * counted) and skipped.  0, or -1 when the file cannot be read or has no
 * known header. */
int imp_read(const char *path, const struct imp_read_opts *o, struct imp_conns *out, struct imp_read_stats *st);

/* A label: 1 malicious, 0 benign (background, benign, normal), -1 neither. */
int imp_label_malicious(const char *label);

/* ---- truth.c ---- */

struct imp_truth_opts {
	const struct gen_prefix *prefixes; /* monitored */
	unsigned nprefixes;
	double gap_s;          /* a new episode after this much silence */
	unsigned min_probes;   /* scans: distinct targets/ports; brute force: attempts */
	unsigned min_flows;    /* an episode with fewer connections is unmatched */
};

struct imp_truth_stats {
	unsigned rows, classed, unmatched;
	unsigned per_class[MM_CLASS_COUNT];
	unsigned long mal_conns, classed_conns;
};

/* Writes the ground truth of the malicious connections (conns sorted by
 * start).  0 / -1 (errno). */
int imp_truth_write(const char *path, const struct imp_conns *c, const struct imp_truth_opts *o,
		    struct imp_truth_stats *st);

int imp_local(const struct gen_prefix *p, unsigned n, const uint8_t a[16]);

#endif
