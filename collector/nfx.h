/*
 * nfx.h - internal to the decoders: what NetFlow v9 and IPFIX share
 * (templates, sampler tables, sequence accounting, pending sets), and the
 * byte readers every decoder uses.  Not a contract: include/mamori/decode.h is.
 */
#ifndef MAMORI_NFX_H
#define MAMORI_NFX_H

#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdarg.h>
#include "mamori/decode.h"

static inline uint16_t rd16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rd64(const uint8_t *p) { return ((uint64_t)rd32(p) << 32) | rd32(p + 4); }
/* Big-endian unsigned of 1..8 bytes (RFC 7011 reduced-size encoding). */
static inline uint64_t rdn(const uint8_t *p, unsigned len)
{
	switch (len) {
	case 1: return p[0];
	case 2: return rd16(p);
	case 4: return rd32(p);
	case 8: return rd64(p);
	default: {
		uint64_t v = 0;
		for (unsigned i = 0; i < len && i < 8; i++)
			v = (v << 8) | p[i];
		return v;
	}
	}
}

/* Record the reason for a rejection in ex->err (no logging here). */
void nfx_err(struct mm_exporter *ex, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Observation domain state, created on first use (LRU-evicted at the cap). */
struct mm_domain *nfx_domain(struct mm_exporter *ex, uint16_t format, uint32_t id);

/* Sequence accounting.  `count` is how many units this datagram carries
 * (records for v5/IPFIX/sFlow, 1 for v9 packets), `flows` the flow records
 * among them (exporters disagree on whether options records count); gaps go
 * to *lost. */
void nfx_seq(struct mm_exporter *ex, struct mm_seq *s, uint32_t seq, uint32_t count, uint32_t flows,
	     uint64_t *lost);

/* Sampler table of a domain: learn a rate, look one up (0 = unknown). */
void nfx_sampler_learn(struct mm_exporter *ex, struct mm_domain *d, uint32_t sampler_id, uint32_t rate);
uint32_t nfx_sampler_rate(struct mm_exporter *ex, struct mm_domain *d, uint32_t sampler_id, int *found);

/* Header context a data set needs to be decoded (kept with pending sets). */
struct nfx_ctx {
	uint16_t format;     /* 9 or 10 */
	uint32_t domain;
	uint64_t export_ms;  /* export time from the message header */
	uint32_t sys_uptime; /* v9 only */
	uint64_t now_ms;
	const struct mm_flow_sink *sink;
};

/* Template sets (v9 flowset 0/1, IPFIX set 2/3).  Returns 0, or -1 when the
 * set is malformed (templates before the bad one are kept). */
int nfx_template_set(struct mm_exporter *ex, const struct nfx_ctx *c, const uint8_t *p, size_t len,
		     int options);
/* A data set for template `set_id`.  Returns records emitted (flow records),
 * or -1 when malformed.  Unknown template: queued for later (returns 0). */
int nfx_data_set(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t set_id, const uint8_t *p,
		 size_t len);
/* Define (or refresh, or replace) a template; replays held sets for it.
 * 0, or -1 when it cannot be compiled (ex->err says why). */
int nfx_template_add(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t id, const struct mm_tfield *f,
		     unsigned n, unsigned scope, int options);
/* Template lookup (NULL when unknown) and removal. */
struct mm_template *nfx_template_find(struct mm_exporter *ex, uint16_t format, uint32_t domain, uint16_t id);
void nfx_template_remove(struct mm_exporter *ex, struct mm_template *t);

/* Pending sets: hold, and replay when a template arrives. */
void nfx_pending_add(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t set_id, const uint8_t *p,
		     size_t len);
void nfx_pending_replay(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t set_id);

#endif
