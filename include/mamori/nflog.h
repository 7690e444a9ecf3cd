/*
 * nflog.h - Linux NFLOG as a flow source (docs/nflog.md).
 *
 * Two halves, two files:
 *  - nflog.c: the pure conversion of one logged packet (its first bytes,
 *    as the kernel copied them, and the metadata NFLOG sends with it) into
 *    a one-packet struct mm_flow.  No I/O, no clock, no globals.
 *  - nflog_intake.c: the live source: one libnetfilter_log handle (one
 *    netlink socket) bound to every configured group, read non-blocking in
 *    the collector's libevent loop; each packet goes through
 *    mm_nflog_record to the same sink the UDP decoders feed.
 *
 * A record from NFLOG is one packet: packets = 1, bytes = the packet's IP
 * length from its header (the original length, not the copied length),
 * both scaled by the configured nflog_sampling_rate (provenance
 * `configured`), start = end = the time the batch was read.  Only the
 * headers up to L4 are read (mm_pkthdr_parse); payload never is.
 */
#ifndef MAMORI_NFLOG_H
#define MAMORI_NFLOG_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"
#include "mamori/flow.h"

/* What NFLOG says about a packet besides its bytes. */
struct mm_nflog_meta {
	uint64_t now_ms;        /* receive time of the batch: the record's start and end */
	uint32_t sampling_rate; /* 1:N of the logging rule (0 is taken as 1) */
	uint32_t indev, outdev; /* interface indexes, 0 = none */
	uint16_t group;         /* NFLOG group: the record's domain */
	uint16_t hw_protocol;   /* skb protocol (ETH_P_IP ...), host order, 0 = not given */
	uint8_t family;         /* nfgen_family: NFPROTO_IPV4 2, IPV6 10, BRIDGE 7, NETDEV 5 ... */
	uint8_t hook;           /* netfilter hook number in that family */
};

/* mm_nflog_record results (a caller counts each kind). */
enum {
	MM_NFLOG_OK = 0,
	MM_NFLOG_NOT_IP = -1,    /* not IPv4/IPv6 (ARP from a bridge rule, ...) */
	MM_NFLOG_TRUNCATED = -2, /* too short for its IP header */
	MM_NFLOG_MALFORMED = -3, /* IP header inconsistent (version vs protocol, IHL) */
};

/*
 * Fill *f with the record for one logged packet: `pkt` holds its first
 * `caplen` bytes starting at the network header (what NFLOG copies for the
 * inet, bridge and netdev families).  Returns MM_NFLOG_OK, or one of the
 * negative results above with *f zeroed.
 */
int mm_nflog_record(const struct mm_nflog_meta *m, const uint8_t *pkt, size_t caplen, struct mm_flow *f);

/* ---- the live source (nflog_intake.c) ------------------------------- */

struct event_base;
struct mm_nflog;

/* Per group, all monotonic. */
struct mm_nflog_group_stats {
	uint16_t group;
	uint64_t packets;     /* packet messages received for the group */
	uint64_t records;     /* records emitted */
	uint64_t not_ip;      /* rejected: not IP */
	uint64_t truncated;   /* rejected: too short */
	uint64_t malformed;   /* rejected: bad IP header, or no payload attribute */
	uint64_t seq_lost;    /* packets the kernel logged but we never got (sequence gaps) */
};

/* For the whole handle (one netlink socket). */
struct mm_nflog_stats {
	uint64_t reads;        /* recv calls that returned data */
	uint64_t bytes;        /* netlink bytes read */
	uint64_t enobufs;      /* times the kernel said it dropped messages (socket buffer full) */
	uint64_t rcvbuf_grown; /* times the buffer was enlarged after ENOBUFS */
	uint64_t errors;       /* recv errors other than EAGAIN, EINTR, ENOBUFS */
	uint64_t yields;       /* callbacks that stopped after MM_NFLOG_MAX_ROUNDS reads */
	int rcvbuf;            /* SO_RCVBUF as getsockopt reports it (twice the request) */
	uint32_t copy_range;   /* bytes copied per packet */
	uint32_t sampling_rate;
};

/* Reads per callback before yielding to the other events (each read can
 * carry many packets: the kernel batches them into one message). */
#define MM_NFLOG_MAX_ROUNDS 16
/* The socket buffer is doubled after ENOBUFS up to this size. */
#define MM_NFLOG_RCVBUF_MAX (256u << 20)

/*
 * Open a libnetfilter_log handle and bind every group of cfg (nflog_groups,
 * nflog_copy_range, nflog_sampling_rate; the socket buffer starts at
 * cfg->rcvbuf).  Do it while privileged: binding needs CAP_NET_ADMIN, and
 * EPERM is reported naming it.  Records go to `sink` (it must outlive the
 * source).  NULL with err filled on failure (nothing left open).
 */
struct mm_nflog *mm_nflog_new(const struct mm_config *cfg, const struct mm_flow_sink *sink, char *err,
			      size_t errlen);
/* Add the read event to `base`.  0, or -1 with err filled. */
int mm_nflog_start(struct mm_nflog *n, struct event_base *base, char *err, size_t errlen);
/* Stop reading (statistics stay readable). */
void mm_nflog_stop(struct mm_nflog *n);
/* Unbind and close everything.  NULL is fine. */
void mm_nflog_free(struct mm_nflog *n);

const struct mm_nflog_stats *mm_nflog_stats(const struct mm_nflog *n);
unsigned mm_nflog_ngroups(const struct mm_nflog *n);
const struct mm_nflog_group_stats *mm_nflog_group_stats(const struct mm_nflog *n, unsigned i);

#endif
