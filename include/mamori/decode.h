/*
 * decode.h - the decoder contract: untrusted export datagrams in, normalized
 * flow records (flow.h) out.
 *
 * Decoders are pure: bytes + the exporter's state (templates, sampler
 * tables, sequence counters, pending queue) + the receive time in; records
 * out through a sink.  No I/O, no clock, no globals, no logging.  A bad
 * datagram (or set) costs only itself: it is rejected, counted in the
 * exporter's statistics and described in ex->err; the caller decides whether
 * and how (rate-limited) to log it.
 *
 * State is keyed as the RFCs key it: per exporter address, per observation
 * domain (v9 source id / IPFIX observation domain id / v5 engine), per
 * template id and per sampler id.  Every table is capped (mm_decode_limits);
 * what is evicted or dropped is counted.
 *
 * Worst-case decoder memory per exporter (bytes), with L = limits:
 *   sizeof(struct mm_exporter)
 *   + L.max_domains * (sizeof(struct mm_domain) + L.max_samplers * sizeof(struct mm_sampler))
 *   + L.max_templates * (sizeof(struct mm_template)
 *                        + L.max_template_fields * (sizeof(struct mm_tfield) + sizeof(struct mm_op)))
 *   + L.pending_max_sets * sizeof(struct mm_pending) + L.pending_max_bytes
 *   + L.max_template_fields * sizeof(struct mm_tfield)   (parse scratch)
 * and the exporter table holds at most L.max_exporters of them.  On x86-64
 * with the defaults (16 domains of 32 samplers, 256 templates of <= 128
 * fields, 32 pending sets in 64 KiB) that is about 2.5 + 13 + 537 + 66 + 1
 * = 619 KiB per exporter (struct mm_exporter's 2.5 KiB include the 2 KiB
 * sFlow data-source table), ~620 MiB for 1024 exporters: the worst case an
 * attacker can force with spoofed exporters and maximal templates (real
 * exporters use a few KiB).  Deployments lower max_exporters or turn on the
 * exporter allowlist.
 */
#ifndef MAMORI_DECODE_H
#define MAMORI_DECODE_H

#include <stdint.h>
#include <stddef.h>
#include "mamori/flow.h"

struct mm_decode_limits {
	uint32_t max_exporters;       /* exporter table size (LRU eviction) */
	uint32_t max_domains;         /* observation domains per exporter */
	uint32_t max_templates;       /* templates per exporter, all domains (LRU) */
	uint32_t max_template_fields; /* fields in one template; larger are rejected */
	uint32_t max_samplers;        /* sampler ids per domain (LRU) */
	uint32_t pending_max_sets;    /* data sets held waiting for their template */
	uint32_t pending_max_bytes;   /* bytes held in those sets */
	uint32_t pending_timeout_ms;  /* held longer than this: dropped, counted */
};

/* Defaults named in docs/config.md. */
#define MM_DEF_MAX_EXPORTERS 1024u
#define MM_DEF_MAX_DOMAINS 16u
#define MM_DEF_MAX_TEMPLATES 256u
#define MM_DEF_MAX_TEMPLATE_FIELDS 128u
#define MM_DEF_MAX_SAMPLERS 32u
#define MM_DEF_PENDING_MAX_SETS 32u
#define MM_DEF_PENDING_MAX_BYTES 65536u
#define MM_DEF_PENDING_TIMEOUT_MS 30000u

void mm_decode_limits_default(struct mm_decode_limits *l);

/* Per-exporter counters.  All monotonic. */
struct mm_exporter_stats {
	uint64_t datagrams;         /* datagrams seen from this exporter */
	uint64_t bytes;             /* their UDP payload bytes */
	uint64_t records;           /* flow data records emitted */
	uint64_t options_records;   /* options data records consumed */
	uint64_t templates;         /* (options) template records accepted */
	uint64_t template_withdrawals;
	uint64_t templates_evicted; /* LRU evictions at max_templates */
	uint64_t malformed;         /* datagrams or sets rejected as malformed */
	uint64_t unsupported;       /* well-formed but unknown version */
	uint64_t lost_packets;      /* sequence gaps in export packets (v9, sFlow datagrams) */
	uint64_t lost_records;      /* sequence gaps in records (v5, IPFIX) */
	uint64_t seq_reordered;     /* datagrams arriving behind the expected sequence */
	uint64_t seq_resets;        /* sequence jumps taken as an exporter restart */
	uint64_t unknown_template;  /* data sets whose template never came (expired/overflow) */
	uint64_t pending_queued;    /* data sets held waiting for their template */
	uint64_t pending_decoded;   /* ... later decoded when the template arrived */
	uint64_t pending_dropped;   /* ... dropped: queue full (sets or bytes) */
	uint64_t pending_expired;   /* ... dropped: template did not come in time */
	uint64_t unknown_sampling;  /* records scaled by the default rate */
	uint64_t flow_samples;      /* sFlow flow samples read (a record each when they carry IP) */
	uint64_t counter_samples;   /* sFlow counter samples (counted, content skipped) */
	uint64_t sample_drops;      /* packets an sFlow agent could not sample (its drops counters' growth) */
	uint64_t domains_evicted;
};

/* One template field as the exporter declared it. */
struct mm_tfield {
	uint16_t id;  /* information element id (enterprise bit cleared) */
	uint16_t len; /* 65535 = variable length (IPFIX) */
	uint32_t pen; /* enterprise number, 0 = IANA */
};

/* A compiled field: where it lands in the record being built. */
struct mm_op {
	uint16_t off; /* offset in the record (fixed-length templates) */
	uint16_t len; /* field length; 65535 = variable */
	uint16_t dst; /* what it is (internal enum in templates.c) */
	uint16_t pad_;
};

struct mm_template {
	uint32_t domain;
	uint16_t id;
	uint8_t options;     /* 1 = options template */
	uint8_t varlen;      /* 1 = has variable-length fields */
	uint16_t nfields;
	uint16_t scope_fields; /* options templates: leading scope fields */
	uint16_t nops;       /* fixed templates: ops only for fields we use */
	uint16_t rec_len;    /* fixed templates: record length; varlen: minimum */
	uint8_t used;
	uint8_t has_addrs;   /* carries addresses (else headers from a frame section) */
	uint16_t format;     /* MM_FMT_NETFLOW9 or MM_FMT_IPFIX: part of the key */
	uint64_t lru;        /* last use tick */
	struct mm_tfield *fields;
	struct mm_op *ops;
};

/* A sampler's rate, keyed by sampler id (0 = the domain/system rate). */
struct mm_sampler {
	uint32_t id;
	uint32_t rate;
	uint64_t lru;
	uint8_t used;
};

/* Sequence tracking for one (exporter, domain, stream). */
struct mm_seq {
	uint32_t next;  /* expected next sequence number (RFC: seq + count) */
	uint32_t last;  /* sequence number of the last datagram */
	uint8_t valid;
};

struct mm_domain {
	uint32_t id;
	uint16_t format;     /* the export format is part of the key */
	uint8_t used;
	uint8_t has_sys_init;
	struct mm_seq seq;
	uint64_t sys_init_ms;  /* IPFIX systemInitTimeMilliseconds (IE 160) */
	uint64_t lru;
	struct mm_sampler *samplers; /* max_samplers entries */
};

/* A data set held until its template arrives. */
struct mm_pending {
	uint32_t domain;
	uint16_t set_id;
	uint16_t format;    /* 9 or 10 */
	uint32_t off, len;  /* bytes in mm_exporter.pend_buf */
	uint64_t recv_ms;   /* when it arrived (for the timeout) */
	uint64_t export_ms; /* export header time (ms) */
	uint32_t sys_uptime;/* v9 header sysUptime */
	uint8_t used;
};

/*
 * An sFlow data source (sflow.c): the agent's cumulative `drops` counter
 * last seen for (agent and sub-agent, source id), so that only its growth
 * is counted in st.sample_drops.  MM_SFLOW_SOURCES entries per exporter,
 * 4-way set associative, least recently used replaced within a set; a
 * source seen for the first time (or again after replacement) only sets
 * the baseline.
 */
#define MM_SFLOW_SOURCES 128u
struct mm_sflow_source {
	uint32_t domain_key; /* hash of (agent address, sub-agent id) */
	uint32_t index;      /* source id index */
	uint32_t drops;      /* cumulative drops last seen */
	uint8_t cls;         /* source id type (0 ifIndex, 1 VLAN, 2 entity) */
	uint8_t used;
	uint16_t pad_;
};

struct mm_exporter {
	uint8_t addr[16];   /* IPv4-mapped when af == 4 */
	uint8_t af;
	uint32_t cfg_rate;     /* operator override (0 = none): wins over everything */
	uint32_t default_rate; /* used when nothing is known (>= 1, counted) */
	const struct mm_decode_limits *lim;
	struct mm_exporter_stats st;
	uint64_t tick;         /* LRU clock for templates/domains/samplers */
	uint64_t last_seen_ms;

	struct mm_domain *domains;     /* lim->max_domains */
	struct mm_template *templates; /* lim->max_templates */
	struct mm_pending *pending;    /* lim->pending_max_sets */
	uint8_t *pend_buf;             /* lim->pending_max_bytes */
	uint32_t pend_used;            /* bytes in use in pend_buf */
	uint32_t npending;             /* live entries in pending */
	uint32_t tmpl_hint;            /* index of the last template used */
	struct mm_tfield *tmpl_scratch; /* lim->max_template_fields, for parsing */

	uint64_t tmpl_gen;     /* bumped when a template or learnt rate changes (persistence) */
	uint64_t tmpl_saved_gen; /* owner's: tmpl_gen when last persisted */
	uint64_t tmpl_saved_ms;  /* owner's: when last persisted */

	struct mm_sflow_source sflow_src[MM_SFLOW_SOURCES]; /* sFlow drops baselines */

	char err[160];  /* last rejection, sanitised text */
};

/* Create an exporter state.  `lim` must outlive it.  NULL on ENOMEM. */
struct mm_exporter *mm_exporter_new(const uint8_t addr[16], const struct mm_decode_limits *lim);
void mm_exporter_free(struct mm_exporter *ex);

/*
 * Decode one datagram from `ex`.  The format is recognised from its content
 * (version field), so any port carries any format.  now_ms is the receive
 * time (used for pending-set timeouts, and as the time of sFlow samples).
 * Emits each flow data record to `sink` and returns how many it emitted, or
 * -1 when the datagram (or a set, or an sFlow sample, in it) was malformed:
 * counted once in st.malformed, ex->err says why.  The records of sets (or
 * samples) before a bad one have been emitted (and counted in st.records);
 * nothing after it is read, since its lengths cannot be trusted.
 */
int mm_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
	      const struct mm_flow_sink *sink);

/* The per-format decoders behind mm_decode (same contract). */
int netflow5_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
		    const struct mm_flow_sink *sink);
int netflow9_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
		    const struct mm_flow_sink *sink);
int ipfix_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
		 const struct mm_flow_sink *sink);
/* sFlow v5 (sflow.c): one record per flow sample that carries an IPv4 or
 * IPv6 packet (raw header or sampled IP record); start = end = now_ms, since
 * sFlow carries no time of its own.  docs/decoding.md has the details. */
int sflow5_decode(struct mm_exporter *ex, const uint8_t *buf, size_t len, uint64_t now_ms,
		  const struct mm_flow_sink *sink);

/*
 * Persistence of what an exporter taught us (templates, sampler rates,
 * system init times), so a restarted collector - or a second one taking the
 * same exporters - decodes at once instead of waiting for template refresh.
 * mm_exporter_export calls put() once per item with a stable field name and
 * a versioned binary value (docs/redis-schema.md); mm_exporter_import takes
 * one such pair back, validating it like a template off the wire.  0 on
 * success, -1 on a value it cannot use (ex->err says why; nothing changes).
 * ex->tmpl_gen tells the caller when an export is due.
 */
typedef void (*mm_persist_fn)(void *arg, const char *field, const uint8_t *val, size_t len);
void mm_exporter_export(struct mm_exporter *ex, mm_persist_fn put, void *arg);
int mm_exporter_import(struct mm_exporter *ex, const char *field, const uint8_t *val, size_t len);

/* Drop pending sets older than the timeout (counted).  Call now and then. */
void mm_exporter_expire(struct mm_exporter *ex, uint64_t now_ms);

/*
 * Parse a sampled frame (Ethernet with VLAN/QinQ, or a bare IPv4/IPv6
 * header) into the address, protocol, port, flag and ToS fields of `f`.
 * Only headers up to L4 are read; payload is never looked at.  `link` is
 * MM_LINK_ETHERNET or MM_LINK_IP.  Returns 0 when at least the IP addresses
 * were found, -1 otherwise (f's address fields then untouched).  *ip_len
 * (may be NULL) gets the IP total length from the header (0 if unknown).
 * Shared by IPFIX (dataLinkFrameSection / ipHeaderPacketSection), sFlow and
 * NFLOG.
 */
enum { MM_LINK_ETHERNET = 1, MM_LINK_IP = 2 };
int mm_pkthdr_parse(const uint8_t *p, size_t len, int link, struct mm_flow *f, uint32_t *ip_len);

#endif
