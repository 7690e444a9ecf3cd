/*
 * gen.h - mamori-gen internals: the project's own flow exporter.
 *
 * mamori-gen ENCODES (it is an exporter); it never uses the decoders in
 * collector/.  The pieces, one job per file:
 *
 *   main.c          CLI, validation, orchestration
 *   addr.c          prefixes and address arithmetic
 *   traffic.c       seeded background model (hosts, popularity, service mix)
 *   attacks.c       attack classes: parsing, validation, record generation
 *   benign.c        benign look-alikes (flash crowd, CDN, backup, update checks)
 *   scenario.c      merges background, attacks and look-alikes in time
 *                   order; the optional daily/weekly cycle
 *   scenario_file.c the --scenario file: KEY VALUE lines
 *   export.c        exporter: datagram assembly, sets, sequence numbers,
 *                   template refresh, the format table
 *   encode_v5.c     NetFlow v5 wire format
 *   encode_v9.c     NetFlow v9 wire format (RFC 3954)
 *   encode_ipfix.c  IPFIX wire format (RFC 7011)
 *   encode_sflow.c  sFlow v5 wire format (one flow sample per sampled packet)
 *   send.c          UDP output: sendmmsg batches, pacing, benchmark pool
 *   pcap.c          classic pcap output with a virtual clock
 *   groundtruth.c   the ground truth file and the record dump
 *
 * Records are the project's normalized flow record (mamori/flow.h): the
 * generator produces exactly what a decoder should give back, so end-to-end
 * tests can compare the two.
 *
 * Time: the scenario clock starts at T0 (--start, Unix ms) and is counted
 * in microseconds from T0 inside the generator.  No wall clock is read
 * except by send.c (pacing, and the benchmark pool's stamps).
 */
#ifndef MAMORI_GEN_H
#define MAMORI_GEN_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include "mamori/flow.h"
#include "mamori/classes.h"

#define GEN_ERRLEN 512
#define GEN_MAX_PREFIXES 64
#define GEN_MAX_ATTACKS 64
#define GEN_MAX_HOSTS 1000000u
#define GEN_DGRAM_MAX 65507u   /* largest UDP payload over IPv4 */
#define GEN_DGRAM_MTU 1472u    /* UDP payload in a 1500-byte IPv4 packet */

/* ------------------------------------------------------------------ */
/* Big-endian stores and loads (no alignment assumptions).             */

static inline void gen_put8(uint8_t *p, uint8_t v) { p[0] = v; }
static inline void gen_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}
static inline void gen_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}
static inline void gen_put64(uint8_t *p, uint64_t v)
{
	gen_put32(p, (uint32_t)(v >> 32));
	gen_put32(p + 4, (uint32_t)v);
}
static inline uint16_t gen_get16(const uint8_t *p)
{
	return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}
static inline uint32_t gen_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t gen_get64(const uint8_t *p)
{
	return (uint64_t)gen_get32(p) << 32 | gen_get32(p + 4);
}

/* ------------------------------------------------------------------ */
/* PRNG: xoshiro256** seeded through splitmix64.  Deterministic for a   */
/* given (seed, stream) on every platform; independent streams keep the */
/* background identical whether or not attacks are added.               */

struct gen_rng {
	uint64_t s[4];
};

static inline uint64_t gen_splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* A 64-bit mix of (a, b), for hash-derived addresses. */
static inline uint64_t gen_hash2(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ (b * 0xd6e8feb86659fd93ull);
	return gen_splitmix64(&x);
}

static inline void gen_rng_seed(struct gen_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed ^ (stream * 0x9e3779b97f4a7c15ull) ^ 0x6d616d6f7269ull;
	for (int i = 0; i < 4; i++)
		r->s[i] = gen_splitmix64(&x);
}

static inline uint64_t gen_rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t gen_rng_next(struct gen_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = gen_rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = gen_rotl(s[3], 45);
	return res;
}

/* Uniform in [0, 1). */
static inline double gen_rng_unit(struct gen_rng *r)
{
	return (double)(gen_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Uniform in [0, n) (multiply-shift; bias < n / 2^32, irrelevant here). */
static inline uint32_t gen_rng_below(struct gen_rng *r, uint32_t n)
{
	return (uint32_t)(((gen_rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

/* Walker alias table: O(1) draws from a discrete distribution. */
struct gen_alias {
	uint32_t n;
	uint32_t *cut;   /* keep i when the low 32 random bits are below cut[i] */
	uint32_t *alias;
};

/* Build from n >= 1 non-negative weights (not all zero).  0 or -1 (ENOMEM). */
int gen_alias_build(struct gen_alias *a, const double *w, uint32_t n);
void gen_alias_free(struct gen_alias *a);

static inline uint32_t gen_alias_draw(const struct gen_alias *a, struct gen_rng *r)
{
	uint64_t x = gen_rng_next(r);
	uint32_t i = (uint32_t)(((x >> 32) * (uint64_t)a->n) >> 32);
	return (uint32_t)x < a->cut[i] ? i : a->alias[i];
}

/* ------------------------------------------------------------------ */
/* addr.c - prefixes.  Addresses are 16 bytes, IPv4 IPv4-mapped (flow.h). */

struct gen_prefix {
	uint8_t addr[16]; /* host bits zero */
	uint8_t len;      /* 0..128 in IPv6 terms (IPv4 /n is 96 + n) */
	uint8_t af;       /* 4 or 6 */
};

/* "a.b.c.d" or "x::y": 4, 6, or -1. */
int gen_addr_parse(const char *s, uint8_t out[16]);
/* "a.b.c.d/n" or "x::/n" (bare address = host route).  Host bits set is
 * an error.  0 or -1 with a message in err. */
int gen_prefix_parse(const char *s, struct gen_prefix *p, char *err, size_t errlen);
int gen_prefix_contains(const struct gen_prefix *p, const uint8_t a[16]);
/* 1 when inner lies entirely within outer. */
int gen_prefix_within(const struct gen_prefix *inner, const struct gen_prefix *outer);
int gen_prefix_overlap(const struct gen_prefix *a, const struct gen_prefix *b);
/* Usable host addresses (IPv4 <= /30 without network and broadcast; IPv6
 * without the subnet-router anycast ::0), capped at 2^32. */
uint64_t gen_prefix_hosts(const struct gen_prefix *p);
/* The i-th usable host address, 0 <= i < gen_prefix_hosts(p). */
void gen_prefix_host(const struct gen_prefix *p, uint64_t i, uint8_t out[16]);
/* Inverse of gen_prefix_host: the index of a in p, or -1. */
int64_t gen_prefix_host_index(const struct gen_prefix *p, const uint8_t a[16]);
const char *gen_addr_str(const uint8_t a[16], char *buf, size_t len);
const char *gen_prefix_str(const struct gen_prefix *p, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* traffic.c - the background model.                                    */

struct gen_traffic_cfg {
	uint64_t seed;
	uint32_t hosts;                       /* monitored hosts */
	const struct gen_prefix *prefixes;    /* monitored prefixes */
	unsigned nprefixes;
	uint32_t sampling;                    /* 1:N packet sampling, N >= 1 */
	double rate;                          /* background records per scenario second */
	/* Bursty clients: each client host is active in a share onoff_share of
	 * its onoff_period_s-second periods (phases differ per host) and idle
	 * in the others; 0 = always active.  Servers stay steady. */
	double onoff_share, onoff_period_s;
};

struct gen_traffic;

/* NULL with a message in err on bad input or ENOMEM. */
struct gen_traffic *gen_traffic_new(const struct gen_traffic_cfg *c, char *err, size_t errlen);
void gen_traffic_free(struct gen_traffic *t);
/* One background record exported at t_ms (scenario clock, Unix ms).
 * Allocates nothing. */
void gen_traffic_next(struct gen_traffic *t, uint64_t t_ms, struct mm_flow *f);
/* Is a inside a monitored prefix? */
int gen_traffic_monitored(const struct gen_traffic *t, const uint8_t a[16]);
/* Does one monitored prefix contain all of p? */
int gen_traffic_covers(const struct gen_traffic *t, const struct gen_prefix *p);
/* Index of a monitored host with background traffic, or -1. */
int64_t gen_traffic_host_index(const struct gen_traffic *t, const uint8_t a[16]);
uint32_t gen_traffic_nhosts(const struct gen_traffic *t);
const uint8_t *gen_traffic_host_addr(const struct gen_traffic *t, uint32_t h);
/* Expected sampled packets/s and bytes/s of host h's background, inbound
 * (dir_in = 1) or outbound (0). */
void gen_traffic_baseline(struct gen_traffic *t, uint32_t h, int dir_in, double *pps, double *bps);
/* Sum of inbound baselines of the hosts inside p. */
void gen_traffic_prefix_baseline(struct gen_traffic *t, const struct gen_prefix *p, double *pps,
				 double *bps);
/* A deterministic external (non-monitored, globally routable looking)
 * address of family af derived from key. */
void gen_traffic_external(const struct gen_traffic *t, uint64_t key, int af, uint8_t out[16]);
/* The first monitored prefix of family af, or NULL. */
const struct gen_prefix *gen_traffic_prefix(const struct gen_traffic *t, int af);

/* ------------------------------------------------------------------ */
/* attacks.c                                                             */


enum gen_strength_kind { GEN_STR_NONE = 0, GEN_STR_PPS, GEN_STR_RATE, GEN_STR_MBPS, GEN_STR_X, GEN_STR_ATTEMPTS };

struct gen_attack {
	int cls;                  /* enum mm_class (mamori/classes.h) */
	char text[256];           /* the --attack argument, for messages */
	/* as given (0 / unset until resolved) */
	double start_s, end_s;    /* scenario seconds; end_s < 0 = scenario end */
	int str_kind;             /* enum gen_strength_kind */
	double str_val;
	double ramp_s;            /* linear ramp-up time */
	uint8_t victim[16];       /* flood, syn_flood, amplification: the victim */
	uint8_t source[16];       /* scans, bruteforce, outbound_*, exfiltration */
	uint8_t target[16];       /* vertical_scan, bruteforce, outbound_flood, exfiltration */
	int has_victim, has_source, has_target, has_prefix;
	struct gen_prefix prefix; /* carpet_bombing, horizontal_scan */
	int vector;               /* index in mm_amp_vectors (classes.h), -1 none */
	int proto;                /* IP protocol, -1 = class default */
	int port;                 /* -1 = class default */
	int port_lo, port_hi;     /* vertical_scan range */
	long sources;             /* attack sources / reflectors, -1 = default, 0 = spoofed per packet */
	long size;                /* bytes per packet, -1 = default */
	long flows;               /* exfiltration connections, -1 = default */
	double active_s;          /* exfiltration export interval */
	/* resolved by gen_attack_resolve */
	int af;
	double pps;               /* sampled packets per second (full strength) */
	double rec_rate;          /* records per second (full strength) */
	double ppr;               /* sampled packets per record (mean) */
	uint64_t start_us, end_us;/* scenario microseconds */
	uint32_t sampling;
	uint64_t seed;
	unsigned index;
	/* generation state */
	struct gen_rng rng;
	uint64_t k;               /* records emitted */
	uint64_t next_us;         /* time of the next record, UINT64_MAX = done */
	double pkt_carry;         /* fractional packets carried between records */
};

/* Parse "CLASS:key=val,key=val".  0 or -1 with a message in err. */
int gen_attack_parse(const char *spec, struct gen_attack *a, char *err, size_t errlen);
/* Fill defaults, check against the monitored prefixes, turn the strength
 * into sampled pps.  duration_s < 0: the scenario has no fixed end. */
int gen_attack_resolve(struct gen_attack *a, unsigned index, struct gen_traffic *t, uint64_t seed,
		       uint32_t sampling, double duration_s, char *err, size_t errlen);
/* Scenario time (us) of record k, UINT64_MAX when past the end. */
uint64_t gen_attack_time_us(const struct gen_attack *a, uint64_t k);
/* Make the next record (at a->next_us) and advance.  Allocates nothing. */
void gen_attack_next(struct gen_attack *a, const struct gen_traffic *t, uint64_t t0_ms,
		     struct mm_flow *f);
const char *gen_attack_class_name(int cls);
/* Ground-truth columns. */
const char *gen_attack_vector(const struct gen_attack *a); /* "-" when none */
const char *gen_attack_role(const struct gen_attack *a);   /* victim | source */
const char *gen_attack_target(const struct gen_attack *a, char *buf, size_t len);
/* The other side of a source class: the target address (vertical scan,
 * brute force, outbound flood, exfiltration) or the scanned prefix
 * (horizontal scan); "-" otherwise. */
const char *gen_attack_peer(const struct gen_attack *a, char *buf, size_t len);
/* The keys help text (for -h). */
void gen_attack_usage(FILE *out);

/* ------------------------------------------------------------------ */
/* benign.c - look-alikes, written to the ground truth as class "benign". */

enum { GEN_BENIGN_FLASH_CROWD, GEN_BENIGN_CDN, GEN_BENIGN_BACKUP, GEN_BENIGN_UPDATE_CHECK, GEN_BENIGN_NKINDS };

struct gen_benign {
	int kind;
	char text[256];
	double start_s, end_s;    /* end_s < 0: scenario end */
	int str_kind;             /* GEN_STR_NONE, _PPS or _X */
	double str_val;
	uint8_t host[16], target[16];
	int has_host, has_target, has_prefix;
	struct gen_prefix prefix; /* update_check */
	long peers;               /* clients / CDN edges */
	double period_s, burst_s; /* update_check */
	/* resolved */
	int af;
	uint64_t nhosts;
	double pps, rec_rate;
	uint64_t start_us, end_us, seed;
	uint32_t sampling;
	unsigned index;
	/* generation state */
	struct gen_rng rng;
	uint64_t k, next_us;
	uint8_t cur_host[16], cur_peer[16];
	uint16_t cur_hport, cur_pport;
	uint32_t cur_pkts;
};

/* "KIND:key=val,...".  0 or -1 with a message in err. */
int gen_benign_parse(const char *spec, struct gen_benign *b, char *err, size_t errlen);
int gen_benign_resolve(struct gen_benign *b, unsigned index, struct gen_traffic *t, uint64_t seed,
		       uint32_t sampling, double duration_s, char *err, size_t errlen);
uint64_t gen_benign_time_us(const struct gen_benign *b, uint64_t k);
void gen_benign_next(struct gen_benign *b, const struct gen_traffic *t, uint64_t t0_ms, struct mm_flow *f);
const char *gen_benign_kind_name(int kind);
const char *gen_benign_target(const struct gen_benign *b, char *buf, size_t len);

/* ------------------------------------------------------------------ */
/* scenario_file.c - the --scenario file (docs/scenarios.md).           */

struct gen_sfile_entry {
	char key[16];
	char value[256];
	unsigned line;
};

struct gen_sfile {
	struct gen_sfile_entry *e; /* owned: gen_sfile_free */
	unsigned n;
};

/* Read path: KEY VALUE lines, # comments.  Checks the keys (known, the
 * single-valued ones not repeated) and that each has one value; the
 * values are checked by the caller.  0, or -1 with "FILE:LINE: reason"
 * (or "FILE: reason") in err. */
int gen_sfile_load(const char *path, struct gen_sfile *sf, char *err, size_t errlen);
void gen_sfile_free(struct gen_sfile *sf);

/* ------------------------------------------------------------------ */
/* export.c + encode_*.c - the exporter.                                */

/* Header fields handed to a format's header writer. */
struct gen_hdr {
	size_t len;          /* datagram length */
	unsigned count;      /* v5: flow records; v9: all records incl. templates; sFlow: samples */
	uint32_t seq;        /* the format's sequence number for this datagram */
	uint32_t rec_seq;    /* data records (sFlow: samples) sent before this datagram */
	uint64_t export_ms;  /* export time, Unix ms */
	uint64_t boot_ms;    /* exporter boot (sysUptime origin), whole seconds */
	uint32_t domain;     /* v9 source id / IPFIX observation domain / v5 engine / sFlow sub-agent */
	uint32_t sampling;
	uint8_t agent4[4];   /* the exporter's address (sFlow agent address) */
};

/* What goes into a template datagram besides the header. */
struct gen_tmpl_ctx {
	uint32_t domain;
	uint32_t sampling;
	uint8_t exporter4[4];
	int legacy_sampling;  /* IPFIX: samplingInterval 34 + samplingAlgorithm 35 */
};

/* One wire format: a row of the format table (export.c). */
struct gen_exporter_cfg;

struct gen_fmt {
	const char *name;        /* "v5", "v9", "ipfix", "sflow" */
	uint16_t version;        /* 5, 9, 10; sFlow: MM_FMT_SFLOW5 (the record's format) */
	uint16_t hdr_len;
	uint16_t set_hdr;        /* 0: no sets (v5); 4 */
	uint16_t set_align;      /* data sets padded to this (v9: 4) */
	uint16_t max_records;    /* per datagram (v5: 30), 0 = by size */
	uint8_t seq_packets;     /* sequence counts packets (v9) rather than records */
	uint8_t has_ipv6;
	/* 1: each sampled packet of a flow is one wire record (sFlow): the
	 * exporter calls put_record once per packet with a one-packet copy of
	 * the flow carrying its share of the bytes, packet_len(copy) long. */
	uint8_t per_packet;
	/* longest record of family af under c */
	uint16_t (*rec_len)(int af, const struct gen_exporter_cfg *c);
	/* per_packet formats only */
	uint16_t (*packet_len)(const struct mm_flow *f, const struct gen_exporter_cfg *c);
	uint16_t (*template_id)(int af);
	void (*put_record)(uint8_t *p, const struct mm_flow *f, const struct gen_exporter_cfg *c);
	void (*put_header)(uint8_t *p, const struct gen_hdr *h);
	/* Template (+ options template + options data) sets after the header:
	 * bytes written; *records = template/option records for the v9 count,
	 * *data_records = data records (options data) for the IPFIX sequence. */
	size_t (*put_templates)(uint8_t *p, size_t room, const struct gen_tmpl_ctx *c,
				unsigned *records, unsigned *data_records);
	/* Move every flow record's timestamps in a finished datagram by delta_ms. */
	void (*shift_times)(uint8_t *p, size_t len, int64_t delta_ms);
};

extern const struct gen_fmt gen_fmt_v5, gen_fmt_v9, gen_fmt_ipfix, gen_fmt_sflow;
const struct gen_fmt *gen_fmt_find(const char *name);

/* A finished datagram handed to the output. */
struct gen_dgram {
	const uint8_t *buf;
	size_t len;
	uint64_t t_ms;        /* export time on the scenario clock */
	unsigned flows;       /* flow data records in it (sFlow: samples) */
	int is_template;
};

struct gen_sink {
	/* 0, or -1 to stop the run (output failed). */
	int (*put)(void *arg, const struct gen_dgram *d);
	void *arg;
};

struct gen_exporter_cfg {
	const struct gen_fmt *fmt;
	uint32_t domain;
	uint32_t sampling;
	uint8_t exporter4[4];
	unsigned rpd;           /* records per datagram (0 = as many as fit the MTU) */
	unsigned template_every;/* data datagrams between template refreshes, 0 = start only */
	int legacy_sampling;
	int ipv6;               /* IPv6 records will be sent */
	uint64_t boot_ms;
	/* sFlow: the sampled packets carry this text (repeated) as payload,
	 * and their raw headers copy up to GEN_SFLOW_HEADER_MAX bytes of the
	 * frame, as agents do: NULL = headers only (tests of "no payload is
	 * kept", docs/privacy.md) */
	const char *payload;
};
#define GEN_SFLOW_HEADER_MAX 128 /* hsflowd's and most agents' default header size */

struct gen_exporter {
	struct gen_exporter_cfg c;
	struct gen_sink sink;
	size_t budget;          /* datagram byte limit */
	unsigned max_rec;       /* record limit */
	uint32_t seq;           /* next sequence number (format's meaning) */
	uint32_t rec_seq;       /* data records (sFlow: samples) sent so far */
	unsigned since_tmpl;    /* data datagrams since the last template datagram */
	int tmpl_sent;
	int failed;             /* the sink returned -1 */
	/* the datagram being built: records staged per template (IPv4, IPv6),
	 * written as one set each when the datagram is finished */
	unsigned nrec;
	size_t slen[2];
	unsigned sn[2];
	uint64_t last_ms;
	/* statistics: flows = records added (sFlow: flows, not samples) */
	uint64_t flows, datagrams, tmpl_datagrams, bytes;
	uint64_t wire_records;  /* data records in datagrams sent (sFlow: samples) */
	uint8_t tbuf[1024];     /* template datagrams */
	uint8_t buf[GEN_DGRAM_MAX];
	uint8_t stage[2][GEN_DGRAM_MAX];
};

/* 0, or -1 with a message (records per datagram impossible). */
int gen_exporter_init(struct gen_exporter *x, const struct gen_exporter_cfg *c,
		      const struct gen_sink *sink, char *err, size_t errlen);
/* Append one record exported at t_ms (non-decreasing). */
void gen_exporter_add(struct gen_exporter *x, const struct mm_flow *f, uint64_t t_ms);
/* Send the open datagram, if any, stamped t_ms. */
void gen_exporter_flush(struct gen_exporter *x, uint64_t t_ms);
/* Benchmark pool: write a template datagram into buf (room bytes) stamped
 * t_ms, advancing the sequence; returns its length. */
size_t gen_exporter_template_dgram(struct gen_exporter *x, uint8_t *buf, size_t room, uint64_t t_ms);
/* Benchmark pool: re-stamp a finished data datagram built at *stamp_ms to
 * new_ms (records shift with it), give it the next sequence number. */
void gen_exporter_restamp(struct gen_exporter *x, uint8_t *buf, size_t len, unsigned flows,
			  uint64_t *stamp_ms, uint64_t new_ms);
/* Is a template datagram due before the next data datagram? */
int gen_exporter_template_due(const struct gen_exporter *x);

/* ------------------------------------------------------------------ */
/* scenario.c                                                            */

struct gen_scenario {
	struct gen_traffic *traffic;
	struct gen_attack *attacks;
	unsigned nattacks;
	struct gen_benign *benign;
	unsigned nbenign;
	uint64_t t0_ms;
	/* daily/weekly cycle of the background rate: 0 = flat */
	double cycle_day;        /* amplitude: rate x (1 + day x cos(2 pi (hour - 15) / 24)) */
	double cycle_weekend;    /* Saturday and Sunday (UTC) x this; 0 or 1 = no weekly cycle */
	uint64_t duration_us;    /* UINT64_MAX = until count */
	double bg_rate;          /* background records per scenario second */
	uint64_t count;          /* flow records to produce, 0 = no limit */
	int tick_flush;          /* flush the open datagram at each scenario second */
	FILE *dump;              /* optional record dump */
	/* results */
	uint64_t records, bg_records, attack_records, benign_records;
	uint64_t end_us;         /* scenario time reached */
};

/* Run to the end (duration, count, *stop or a failed sink). */
void gen_scenario_run(struct gen_scenario *s, struct gen_exporter *x, volatile sig_atomic_t *stop);

/* ------------------------------------------------------------------ */
/* pcap.c                                                                */

struct gen_pcap;
struct gen_pcap *gen_pcap_open(const char *path, const uint8_t src4[4], uint16_t sport,
			       const uint8_t dst4[4], uint16_t dport, char *err, size_t errlen);
/* One UDP datagram at scenario time t_us (Unix microseconds).  0 / -1. */
int gen_pcap_write(struct gen_pcap *p, const uint8_t *payload, size_t len, uint64_t t_us);
/* Flush and close; -1 when any write failed. */
int gen_pcap_close(struct gen_pcap *p);
/* A gen_sink writing to an open pcap. */
int gen_pcap_sink(void *arg, const struct gen_dgram *d);

/* ------------------------------------------------------------------ */
/* send.c                                                                */

enum gen_pace { GEN_PACE_REALTIME = 0, GEN_PACE_RATE, GEN_PACE_MAX };

struct gen_sender_cfg {
	uint8_t dst[16];
	int dst_af;
	uint16_t dport;
	uint8_t bind4[4];     /* exporter address to bind, 0.0.0.0 = any */
	int has_bind;
	int pace;             /* enum gen_pace */
	double rate;          /* records per wall second (GEN_PACE_RATE) */
	unsigned batch;       /* datagrams per sendmmsg */
	uint64_t t0_ms;       /* scenario start (GEN_PACE_REALTIME) */
	volatile sig_atomic_t *stop; /* set by a signal: stop waiting */
};

struct gen_send_stats {
	uint64_t flows, datagrams, tmpl_datagrams, bytes;
	uint64_t send_errors;   /* datagrams the kernel refused */
	double elapsed_s;
};

struct gen_sender;
struct gen_sender *gen_sender_open(const struct gen_sender_cfg *c, char *err, size_t errlen);
void gen_sender_close(struct gen_sender *s);
/* Scenario mode: a gen_sink that copies each datagram into the batch and
 * paces it. */
int gen_sender_sink(void *arg, const struct gen_dgram *d);
/* Send what is queued and stop the clock. */
void gen_sender_finish(struct gen_sender *s);
const struct gen_send_stats *gen_sender_stats(const struct gen_sender *s);

/* Benchmark mode: a pool of pre-encoded background datagrams sent in a
 * loop; only sequence numbers and timestamps are patched per send. */
struct gen_pool_cfg {
	unsigned datagrams;    /* pool size */
	uint64_t count;        /* flow records to send, 0 = until duration */
	double duration_s;     /* wall seconds, < 0 = until count */
};
/* Builds the pool from the scenario's background, then sends.  The
 * exporter x must be initialised with a sink that is not called.  0 / -1. */
int gen_pool_run(struct gen_sender *s, struct gen_exporter *x, struct gen_scenario *scn,
		 const struct gen_pool_cfg *c, volatile sig_atomic_t *stop, char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* groundtruth.c                                                         */

/* Write the ground truth (header + one line per attack that ran before
 * the scenario ended at end_us).  0 / -1 (errno). */
int gen_truth_write(const char *path, const struct gen_attack *a, unsigned n, const struct gen_benign *b,
		    unsigned nb, uint64_t t0_ms, uint64_t end_us);
/* The background rate factor of the cycle at Unix ms t (1 when flat). */
double gen_cycle_factor(const struct gen_scenario *s, uint64_t t_ms);
/* Record dump (--dump): header line, then one line per record. */
void gen_dump_header(FILE *out);
void gen_dump_record(FILE *out, const struct mm_flow *f, const char *origin);

#endif
