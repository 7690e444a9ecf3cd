/*
 * templates.c - what NetFlow v9 (RFC 3954) and IPFIX (RFC 7011/7012) share:
 * template and options-template records, compiling a template once into a
 * field map, and decoding data records through that map into mm_flow.
 *
 * A template is compiled into ops: for fixed-length templates only the
 * fields we use, each with its offset, so a record costs one pass over a
 * handful of ops; variable-length templates keep one op per field and walk
 * the lengths.  Options data feeds the sampler table and the system init
 * time; it never produces flow records.
 */
#include <stdlib.h>
#include <string.h>
#include "nfx.h"

enum dst {
	D_SKIP = 0,
	D_SRC4, D_DST4, D_SRC6, D_DST6,
	D_SPORT, D_DPORT, D_PROTO, D_TCPFLAGS, D_TOS,
	D_BYTES, D_PKTS, D_BYTES_TOTAL, D_PKTS_TOTAL, D_INIT_BYTES, D_INIT_PKTS,
	D_OUT_BYTES, D_OUT_PKTS,
	D_INIF, D_OUTIF, D_SRCAS, D_DSTAS, D_DIRECTION,
	D_FIRST_UP, D_LAST_UP, D_START_S, D_END_S, D_START_MS, D_END_MS,
	D_START_NTP, D_END_NTP, D_START_DUS, D_END_DUS, D_DUR_MS, D_DUR_US,
	D_OBS_S, D_OBS_MS, D_OBS_NTP,
	D_ICMP_TC, D_ICMP_TYPE, D_ICMP_CODE,
	D_SAMPLER_ID, D_SAMPLING_INTERVAL, D_PKT_INTERVAL, D_PKT_SPACE,
	D_SAMPLING_SIZE, D_SAMPLING_POP, D_SAMPLING_PROB,
	D_FRAME_SECTION, D_IPHDR_SECTION, D_FRAME_SIZE, D_SYS_INIT_MS,
};

#define VARLEN 65535u

/* The IANA element (enterprise 0) → what it is. */
static enum dst ie_dst(uint16_t id)
{
	switch (id) {
	case 1: return D_BYTES;
	case 2: return D_PKTS;
	case 4: return D_PROTO;
	case 5: return D_TOS;
	case 6: return D_TCPFLAGS;
	case 7: return D_SPORT;
	case 8: return D_SRC4;
	case 10: return D_INIF;
	case 11: return D_DPORT;
	case 12: return D_DST4;
	case 14: return D_OUTIF;
	case 16: return D_SRCAS;
	case 17: return D_DSTAS;
	case 21: return D_LAST_UP;
	case 22: return D_FIRST_UP;
	case 23: return D_OUT_BYTES;
	case 24: return D_OUT_PKTS;
	case 27: return D_SRC6;
	case 28: return D_DST6;
	case 32: return D_ICMP_TC;
	case 34: return D_SAMPLING_INTERVAL;
	case 48: return D_SAMPLER_ID;
	case 50: return D_SAMPLING_INTERVAL; /* samplerRandomInterval */
	case 61: return D_DIRECTION;
	case 85: return D_BYTES_TOTAL;
	case 86: return D_PKTS_TOTAL;
	case 139: return D_ICMP_TC;
	case 150: return D_START_S;
	case 151: return D_END_S;
	case 152: return D_START_MS;
	case 153: return D_END_MS;
	case 154: return D_START_NTP;
	case 155: return D_END_NTP;
	case 156: return D_START_NTP;
	case 157: return D_END_NTP;
	case 158: return D_START_DUS;
	case 159: return D_END_DUS;
	case 160: return D_SYS_INIT_MS;
	case 161: return D_DUR_MS;
	case 162: return D_DUR_US;
	case 176: return D_ICMP_TYPE;
	case 177: return D_ICMP_CODE;
	case 178: return D_ICMP_TYPE;
	case 179: return D_ICMP_CODE;
	case 231: return D_INIT_BYTES;   /* initiatorOctets (Cisco ASA fwd bytes) */
	case 298: return D_INIT_PKTS;    /* initiatorPackets */
	case 302: return D_SAMPLER_ID;   /* selectorId */
	case 305: return D_PKT_INTERVAL;
	case 306: return D_PKT_SPACE;
	case 309: return D_SAMPLING_SIZE;
	case 310: return D_SAMPLING_POP;
	case 311: return D_SAMPLING_PROB;
	case 312: return D_FRAME_SIZE;
	case 313: return D_IPHDR_SECTION;
	case 315: return D_FRAME_SECTION;
	case 322: return D_OBS_S;
	case 323: return D_OBS_MS;
	case 324: return D_OBS_NTP;
	case 325: return D_OBS_NTP;
	default: return D_SKIP;
	}
}

/* Is `len` a length this element can be read at?  (Reduced-size encoding of
 * unsigned integers is allowed by RFC 7011 6.2.) */
static int dst_len_ok(enum dst d, unsigned len)
{
	switch (d) {
	case D_SKIP: return 1;
	case D_SRC4: case D_DST4: return len == 4;
	case D_SRC6: case D_DST6: return len == 16;
	case D_START_NTP: case D_END_NTP: case D_OBS_NTP: return len == 8;
	case D_SAMPLING_PROB: return len == 8 || len == 4;
	case D_FRAME_SECTION: case D_IPHDR_SECTION: return len > 0;
	default: return len >= 1 && len <= 8;
	}
}

/* --- templates ----------------------------------------------------------- */

struct mm_template *nfx_template_find(struct mm_exporter *ex, uint16_t format, uint32_t domain, uint16_t id)
{
	uint32_t n = ex->lim->max_templates;
	if (ex->tmpl_hint < n) {
		struct mm_template *t = &ex->templates[ex->tmpl_hint];
		if (t->used && t->id == id && t->domain == domain && t->format == format)
			return t;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct mm_template *t = &ex->templates[i];
		if (t->used && t->id == id && t->domain == domain && t->format == format) {
			ex->tmpl_hint = i;
			return t;
		}
	}
	return NULL;
}

void nfx_template_remove(struct mm_exporter *ex, struct mm_template *t)
{
	(void)ex;
	free(t->fields);
	free(t->ops);
	memset(t, 0, sizeof(*t));
}

static struct mm_template *template_slot(struct mm_exporter *ex)
{
	struct mm_template *victim = NULL;
	for (uint32_t i = 0; i < ex->lim->max_templates; i++) {
		struct mm_template *t = &ex->templates[i];
		if (!t->used)
			return t;
		if (victim == NULL || t->lru < victim->lru)
			victim = t;
	}
	if (victim != NULL) {
		ex->st.templates_evicted++;
		nfx_template_remove(ex, victim);
	}
	return victim;
}

/* Compile fields into ops.  Options templates of v9 have scope fields whose
 * "type" is a scope kind (system, interface...), not an element: skipped. */
static int template_compile(struct mm_template *t, int v9_scopes)
{
	unsigned off = 0, nops = 0;
	for (unsigned i = 0; i < t->nfields; i++) {
		const struct mm_tfield *f = &t->fields[i];
		enum dst d = D_SKIP;
		if (f->pen == 0 && !(v9_scopes && i < t->scope_fields))
			d = ie_dst(f->id);
		if (f->len == VARLEN) {
			t->varlen = 1;
		} else if (!dst_len_ok(d, f->len)) {
			d = D_SKIP; /* an odd length for a known element: ignore the element */
		}
		if (d == D_SRC4 || d == D_DST4 || d == D_SRC6 || d == D_DST6)
			t->has_addrs = 1;
		if (d != D_SKIP || t->varlen) {
			t->ops[nops].off = (uint16_t)off;
			t->ops[nops].len = f->len;
			t->ops[nops].dst = (uint16_t)d;
			nops++;
		}
		off += (f->len == VARLEN) ? 1 : f->len;
	}
	if (t->varlen) {
		/* Walking lengths needs every field, in order. */
		nops = 0;
		for (unsigned i = 0; i < t->nfields; i++) {
			const struct mm_tfield *f = &t->fields[i];
			enum dst d = D_SKIP;
			if (f->pen == 0 && !(v9_scopes && i < t->scope_fields))
				d = ie_dst(f->id);
			if (f->len != VARLEN && !dst_len_ok(d, f->len))
				d = D_SKIP;
			t->ops[nops].off = 0;
			t->ops[nops].len = f->len;
			t->ops[nops].dst = (uint16_t)d;
			nops++;
		}
	}
	if (off == 0 || off > 65535)
		return -1;
	t->nops = (uint16_t)nops;
	t->rec_len = (uint16_t)off;
	return 0;
}

static int same_fields(const struct mm_template *t, const struct mm_tfield *f, unsigned n, unsigned scope,
		       int options)
{
	return t->nfields == n && t->scope_fields == scope && t->options == options &&
	       memcmp(t->fields, f, n * sizeof(*f)) == 0;
}

int nfx_template_add(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t id, const struct mm_tfield *f,
		     unsigned n, unsigned scope, int options)
{
	ex->st.templates++;
	struct mm_template *t = nfx_template_find(ex, c->format, c->domain, id);
	if (t != NULL && same_fields(t, f, n, scope, options)) {
		t->lru = ++ex->tick; /* a refresh */
		return 0;
	}
	if (t != NULL)
		nfx_template_remove(ex, t); /* redefinition replaces */
	else
		t = template_slot(ex);
	if (t == NULL)
		return -1;
	t->fields = malloc(n * sizeof(*t->fields));
	t->ops = malloc(n * sizeof(*t->ops));
	if (t->fields == NULL || t->ops == NULL) {
		nfx_template_remove(ex, t);
		nfx_err(ex, "out of memory for template %u", id);
		return -1;
	}
	memcpy(t->fields, f, n * sizeof(*f));
	t->nfields = (uint16_t)n;
	t->scope_fields = (uint16_t)scope;
	t->options = (uint8_t)options;
	t->domain = c->domain;
	t->format = c->format;
	t->id = id;
	if (template_compile(t, c->format == MM_FMT_NETFLOW9 && options) < 0) {
		nfx_template_remove(ex, t);
		nfx_err(ex, "template %u has an empty or oversized record", id);
		return -1;
	}
	t->used = 1;
	t->lru = ++ex->tick;
	ex->tmpl_gen++;
	nfx_pending_replay(ex, c, id);
	return 0;
}

/* IPFIX template withdrawal (RFC 7011 8.1): id 2/3 withdraws all of a kind. */
static void template_withdraw(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t id, int options)
{
	ex->st.template_withdrawals++;
	for (uint32_t i = 0; i < ex->lim->max_templates; i++) {
		struct mm_template *t = &ex->templates[i];
		if (!t->used || t->domain != c->domain || t->format != c->format)
			continue;
		if ((id == 2 || id == 3) ? (t->options == options) : (t->id == id))
			nfx_template_remove(ex, t);
	}
}

static int all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

int nfx_template_set(struct mm_exporter *ex, const struct nfx_ctx *c, const uint8_t *p, size_t len, int options)
{
	const int v9 = c->format == MM_FMT_NETFLOW9;
	const unsigned maxf = ex->lim->max_template_fields;
	struct mm_tfield *fields = ex->tmpl_scratch;
	size_t off = 0;

	while (len - off >= 4) {
		const uint8_t *r = p + off;
		uint16_t id = rd16(r);
		unsigned n, scope = 0;
		size_t hdr;
		if (v9 && options) {
			/* id, scope length (bytes), option length (bytes) */
			if (len - off < 6)
				break; /* padding */
			unsigned sl = rd16(r + 2), ol = rd16(r + 4);
			if (id == 0 && sl == 0 && ol == 0 && all_zero(r, len - off))
				break;
			if (sl % 4 || ol % 4) {
				nfx_err(ex, "v9 options template %u: scope/option length %u/%u not a multiple of 4", id,
					sl, ol);
				return -1;
			}
			scope = sl / 4;
			n = scope + ol / 4;
			hdr = 6;
		} else if (options) {
			/* IPFIX: id, field count, scope field count */
			n = rd16(r + 2);
			if (n == 0) {
				if (id == 0 && all_zero(r, len - off))
					break;
				template_withdraw(ex, c, id, 1);
				off += 4;
				continue;
			}
			if (len - off < 6) {
				nfx_err(ex, "options template %u truncated", id);
				return -1;
			}
			scope = rd16(r + 4);
			hdr = 6;
			if (scope == 0 || scope > n) {
				nfx_err(ex, "options template %u: scope count %u of %u fields", id, scope, n);
				return -1;
			}
		} else {
			n = rd16(r + 2);
			if (n == 0) {
				if (id == 0 && all_zero(r, len - off))
					break;
				if (v9) {
					nfx_err(ex, "v9 template %u with no fields", id);
					return -1;
				}
				template_withdraw(ex, c, id, 0);
				off += 4;
				continue;
			}
			hdr = 4;
		}
		if (id < 256) {
			if (all_zero(r, len - off))
				break; /* zero padding */
			nfx_err(ex, "template id %u is reserved (< 256)", id);
			return -1;
		}
		if (n > maxf) {
			nfx_err(ex, "template %u has %u fields (limit %u)", id, n, maxf);
			return -1;
		}
		off += hdr;
		for (unsigned i = 0; i < n; i++) {
			if (len - off < 4) {
				nfx_err(ex, "template %u truncated at field %u of %u", id, i, n);
				return -1;
			}
			uint16_t fid = rd16(p + off), flen = rd16(p + off + 2);
			off += 4;
			uint32_t pen = 0;
			if (!v9 && (fid & 0x8000)) {
				if (len - off < 4) {
					nfx_err(ex, "template %u truncated in enterprise field %u", id, i);
					return -1;
				}
				pen = rd32(p + off);
				off += 4;
				fid &= 0x7fff;
			}
			fields[i].id = fid;
			fields[i].len = flen;
			fields[i].pen = pen;
		}
		if (nfx_template_add(ex, c, id, fields, n, scope, options) < 0)
			return -1;
	}
	return 0;
}

/* --- data records -------------------------------------------------------- */

enum {
	H_BYTES = 1u << 0, H_PKTS = 1u << 1, H_BYTES_TOTAL = 1u << 2, H_PKTS_TOTAL = 1u << 3,
	H_INIT_BYTES = 1u << 4, H_INIT_PKTS = 1u << 5, H_OUT_BYTES = 1u << 6, H_OUT_PKTS = 1u << 7,
	H_FIRST_UP = 1u << 8, H_LAST_UP = 1u << 9, H_START = 1u << 10, H_END = 1u << 11,
	H_START_DUS = 1u << 12, H_END_DUS = 1u << 13, H_DUR = 1u << 14, H_OBS = 1u << 15,
	H_SAMPLER = 1u << 16, H_INTERVAL = 1u << 17, H_PKT_INTERVAL = 1u << 18, H_PKT_SPACE = 1u << 19,
	H_SIZE = 1u << 20, H_POP = 1u << 21, H_PROB = 1u << 22, H_FRAME_SIZE = 1u << 23,
	H_SYS_INIT = 1u << 24, H_ICMP_TYPE = 1u << 25, H_ICMP_CODE = 1u << 26, H_ICMP_TC = 1u << 27,
	H_ADDR = 1u << 28, H_SECTION = 1u << 29,
	/* elements that make a record's sampling rate its own */
	H_RECORD_SAMPLING = H_SAMPLER | H_INTERVAL | H_PKT_INTERVAL | H_PKT_SPACE | H_SIZE | H_POP | H_PROB,
};

/* Everything one record said, before it becomes an mm_flow.  Only `has` is
 * reset per record: a field is read only when its bit says it was set. */
struct acc {
	uint32_t has;
	uint64_t bytes, pkts, bytes_total, pkts_total, init_bytes, init_pkts, out_bytes, out_pkts;
	uint32_t first_up, last_up, start_dus, end_dus;
	uint64_t start_ms, end_ms, dur_ms, obs_ms, sys_init_ms;
	uint64_t sampler_id, interval, pkt_interval, pkt_space, size, pop, frame_size;
	double prob;
	uint16_t icmp_tc;
	uint8_t icmp_type, icmp_code;
	const uint8_t *section;
	unsigned section_len;
	int section_link;
};

/* NTP timestamp (RFC 5905: seconds since 1900 + 2^-32 fractions) to Unix ms. */
static uint64_t ntp_ms(uint64_t v)
{
	uint64_t sec = v >> 32, frac = v & 0xffffffffu;
	if (sec < 2208988800u)
		return 0;
	return (sec - 2208988800u) * 1000u + ((frac * 1000u) >> 32);
}

static double rd_float(const uint8_t *v, unsigned len)
{
	if (len == 8) {
		uint64_t u = rd64(v);
		double d;
		memcpy(&d, &u, sizeof(d));
		return d;
	}
	uint32_t u = rd32(v);
	float fl;
	memcpy(&fl, &u, sizeof(fl));
	return fl;
}

static inline void apply(struct acc *a, struct mm_flow *f, unsigned d, const uint8_t *v, unsigned len)
{
	switch (d) {
	case D_SKIP: break;
	case D_SRC4: mm_addr_set4(f->src_addr, v); f->af = 4; a->has |= H_ADDR; break;
	case D_DST4: mm_addr_set4(f->dst_addr, v); f->af = 4; a->has |= H_ADDR; break;
	case D_SRC6: memcpy(f->src_addr, v, 16); f->af = 6; a->has |= H_ADDR; break;
	case D_DST6: memcpy(f->dst_addr, v, 16); f->af = 6; a->has |= H_ADDR; break;
	case D_SPORT: f->src_port = (uint16_t)rdn(v, len); break;
	case D_DPORT: f->dst_port = (uint16_t)rdn(v, len); break;
	case D_PROTO: f->proto = (uint8_t)rdn(v, len); break;
	case D_TCPFLAGS: f->tcp_flags = (uint8_t)rdn(v, len); break;
	case D_TOS: f->tos = (uint8_t)rdn(v, len); break;
	case D_BYTES: a->bytes = rdn(v, len); a->has |= H_BYTES; break;
	case D_PKTS: a->pkts = rdn(v, len); a->has |= H_PKTS; break;
	case D_BYTES_TOTAL: a->bytes_total = rdn(v, len); a->has |= H_BYTES_TOTAL; break;
	case D_PKTS_TOTAL: a->pkts_total = rdn(v, len); a->has |= H_PKTS_TOTAL; break;
	case D_INIT_BYTES: a->init_bytes = rdn(v, len); a->has |= H_INIT_BYTES; break;
	case D_INIT_PKTS: a->init_pkts = rdn(v, len); a->has |= H_INIT_PKTS; break;
	case D_OUT_BYTES: a->out_bytes = rdn(v, len); a->has |= H_OUT_BYTES; break;
	case D_OUT_PKTS: a->out_pkts = rdn(v, len); a->has |= H_OUT_PKTS; break;
	case D_INIF: f->in_if = (uint32_t)rdn(v, len); break;
	case D_OUTIF: f->out_if = (uint32_t)rdn(v, len); break;
	case D_SRCAS: f->src_as = (uint32_t)rdn(v, len); break;
	case D_DSTAS: f->dst_as = (uint32_t)rdn(v, len); break;
	case D_DIRECTION: f->direction = rdn(v, len) ? MM_DIR_EGRESS : MM_DIR_INGRESS; break;
	case D_FIRST_UP: a->first_up = (uint32_t)rdn(v, len); a->has |= H_FIRST_UP; break;
	case D_LAST_UP: a->last_up = (uint32_t)rdn(v, len); a->has |= H_LAST_UP; break;
	case D_START_S: a->start_ms = rdn(v, len) * 1000u; a->has |= H_START; break;
	case D_END_S: a->end_ms = rdn(v, len) * 1000u; a->has |= H_END; break;
	case D_START_MS: a->start_ms = rdn(v, len); a->has |= H_START; break;
	case D_END_MS: a->end_ms = rdn(v, len); a->has |= H_END; break;
	case D_START_NTP: a->start_ms = ntp_ms(rd64(v)); a->has |= H_START; break;
	case D_END_NTP: a->end_ms = ntp_ms(rd64(v)); a->has |= H_END; break;
	case D_START_DUS: a->start_dus = (uint32_t)rdn(v, len); a->has |= H_START_DUS; break;
	case D_END_DUS: a->end_dus = (uint32_t)rdn(v, len); a->has |= H_END_DUS; break;
	case D_DUR_MS: a->dur_ms = rdn(v, len); a->has |= H_DUR; break;
	case D_DUR_US: a->dur_ms = rdn(v, len) / 1000u; a->has |= H_DUR; break;
	case D_OBS_S: a->obs_ms = rdn(v, len) * 1000u; a->has |= H_OBS; break;
	case D_OBS_MS: a->obs_ms = rdn(v, len); a->has |= H_OBS; break;
	case D_OBS_NTP: a->obs_ms = ntp_ms(rd64(v)); a->has |= H_OBS; break;
	case D_ICMP_TC: a->icmp_tc = (uint16_t)rdn(v, len); a->has |= H_ICMP_TC; break;
	case D_ICMP_TYPE: a->icmp_type = (uint8_t)rdn(v, len); a->has |= H_ICMP_TYPE; break;
	case D_ICMP_CODE: a->icmp_code = (uint8_t)rdn(v, len); a->has |= H_ICMP_CODE; break;
	case D_SAMPLER_ID: a->sampler_id = rdn(v, len); a->has |= H_SAMPLER; break;
	case D_SAMPLING_INTERVAL: a->interval = rdn(v, len); a->has |= H_INTERVAL; break;
	case D_PKT_INTERVAL: a->pkt_interval = rdn(v, len); a->has |= H_PKT_INTERVAL; break;
	case D_PKT_SPACE: a->pkt_space = rdn(v, len); a->has |= H_PKT_SPACE; break;
	case D_SAMPLING_SIZE: a->size = rdn(v, len); a->has |= H_SIZE; break;
	case D_SAMPLING_POP: a->pop = rdn(v, len); a->has |= H_POP; break;
	case D_SAMPLING_PROB: a->prob = rd_float(v, len); a->has |= H_PROB; break;
	case D_FRAME_SIZE: a->frame_size = rdn(v, len); a->has |= H_FRAME_SIZE; break;
	case D_SYS_INIT_MS: a->sys_init_ms = rdn(v, len); a->has |= H_SYS_INIT; break;
	case D_FRAME_SECTION:
		a->section = v; a->section_len = len; a->section_link = MM_LINK_ETHERNET;
		a->has |= H_SECTION;
		break;
	case D_IPHDR_SECTION:
		if (!(a->has & H_SECTION)) {
			a->section = v; a->section_len = len; a->section_link = MM_LINK_IP;
			a->has |= H_SECTION;
		}
		break;
	}
}

/* A sampling rate the record (or options record) states itself; 0 = none. */
static uint32_t acc_rate(const struct acc *a)
{
	uint64_t r = 0;
	if ((a->has & (H_PKT_INTERVAL | H_PKT_SPACE)) == (H_PKT_INTERVAL | H_PKT_SPACE) && a->pkt_interval)
		r = (a->pkt_interval + a->pkt_space) / a->pkt_interval;
	else if (a->has & H_INTERVAL)
		r = a->interval ? a->interval : 1;
	else if ((a->has & (H_SIZE | H_POP)) == (H_SIZE | H_POP) && a->size)
		r = a->pop / a->size;
	else if ((a->has & H_PROB) && a->prob > 0 && a->prob <= 1) /* false for NaN */
		r = (1.0 / a->prob >= 4294967295.0) ? UINT32_MAX : (uint64_t)(1.0 / a->prob + 0.5);
	if (r > UINT32_MAX)
		r = UINT32_MAX;
	return (uint32_t)r;
}

/* Unix ms of a sysUpTime-relative stamp. */
static uint64_t uptime_ms(const struct nfx_ctx *c, const struct mm_domain *d, uint32_t up, int *ok)
{
	*ok = 1;
	if (c->format == MM_FMT_NETFLOW9) {
		/* export time minus how long ago (mod 2^32: uptime wraps at ~49.7 days) */
		int64_t ago = (int32_t)(c->sys_uptime - up);
		return (uint64_t)((int64_t)c->export_ms - ago);
	}
	if (d != NULL && d->has_sys_init)
		return d->sys_init_ms + up;
	*ok = 0;
	return 0;
}

static void acc_times(const struct acc *a, const struct nfx_ctx *c, const struct mm_domain *d, struct mm_flow *f)
{
	int hs = 0, he = 0, ok;
	uint64_t s = 0, e = 0;
	if (a->has & H_START) { s = a->start_ms; hs = 1; }
	if (a->has & H_END) { e = a->end_ms; he = 1; }
	if (!hs && (a->has & H_START_DUS)) { s = c->export_ms - a->start_dus / 1000u; hs = 1; }
	if (!he && (a->has & H_END_DUS)) { e = c->export_ms - a->end_dus / 1000u; he = 1; }
	if (!hs && (a->has & H_FIRST_UP)) {
		s = uptime_ms(c, d, a->first_up, &ok);
		hs = ok;
	}
	if (!he && (a->has & H_LAST_UP)) {
		e = uptime_ms(c, d, a->last_up, &ok);
		he = ok;
	}
	if (!hs && !he && (a->has & (H_FIRST_UP | H_LAST_UP)) == (H_FIRST_UP | H_LAST_UP)) {
		/* IPFIX uptime stamps without a known system init time: keep
		 * the duration, anchor the end at the export time. */
		e = c->export_ms;
		s = e - (uint32_t)(a->last_up - a->first_up);
		hs = he = 1;
	}
	if (a->has & H_DUR) {
		if (hs && !he) { e = s + a->dur_ms; he = 1; }
		else if (he && !hs) { s = e - a->dur_ms; hs = 1; }
	}
	if (!hs && !he && (a->has & H_OBS)) { s = e = a->obs_ms; hs = he = 1; }
	if (!hs && !he) { s = e = c->export_ms; }
	else if (!hs) s = e;
	else if (!he) e = s;
	if (s > e) { uint64_t t = s; s = e; e = t; }
	f->start_ms = s;
	f->end_ms = e;
}

/* The rate a set's records get unless they carry their own. */
struct set_rate {
	uint32_t rate;
	uint8_t src;
};

static struct set_rate set_rate(struct mm_exporter *ex, struct mm_domain *d)
{
	struct set_rate sr;
	int found = 0;
	if (ex->cfg_rate) {
		sr.rate = ex->cfg_rate;
		sr.src = MM_SAMPLING_CONFIGURED;
	} else if (d != NULL && (sr.rate = nfx_sampler_rate(ex, d, 0, &found), found)) {
		sr.src = MM_SAMPLING_LEARNT;
	} else {
		sr.rate = ex->default_rate ? ex->default_rate : 1;
		sr.src = MM_SAMPLING_DEFAULTED;
	}
	return sr;
}

static void emit_flow(struct mm_exporter *ex, const struct nfx_ctx *c, struct mm_domain *d,
		      const struct set_rate *sr, const struct mm_template *t, struct acc *a, struct mm_flow *f)
{
	uint32_t ip_len = 0;
	if (!(a->has & H_ADDR) && (a->has & H_SECTION)) {
		/* Only a sampled frame: its headers give what the fields did not. */
		mm_pkthdr_parse(a->section, a->section_len, a->section_link, f, &ip_len);
	}
	if (a->has & H_BYTES) f->bytes = a->bytes;
	else if (a->has & H_BYTES_TOTAL) f->bytes = a->bytes_total;
	else if (a->has & H_INIT_BYTES) f->bytes = a->init_bytes;
	else if (a->has & H_OUT_BYTES) f->bytes = a->out_bytes;
	else if (a->has & H_FRAME_SIZE) f->bytes = a->frame_size;
	else if (ip_len) f->bytes = ip_len;
	if (a->has & H_PKTS) f->packets = a->pkts;
	else if (a->has & H_PKTS_TOTAL) f->packets = a->pkts_total;
	else if (a->has & H_INIT_PKTS) f->packets = a->init_pkts;
	else if (a->has & H_OUT_PKTS) f->packets = a->out_pkts;
	else if (a->has & H_SECTION) f->packets = 1;

	if (f->proto == 1 || f->proto == 58) {
		if (a->has & H_ICMP_TC) f->dst_port = a->icmp_tc;
		else if (a->has & (H_ICMP_TYPE | H_ICMP_CODE))
			f->dst_port = (uint16_t)(a->icmp_type << 8 | a->icmp_code);
		if (a->has & (H_ICMP_TC | H_ICMP_TYPE | H_ICMP_CODE))
			f->src_port = 0;
	}

	/* Sampling: operator override, then the record's own elements, then its
	 * sampler id in the learnt table, then the domain's rate, then the
	 * default (counted) - never a silent x1.  Records without sampling
	 * elements share the set's rate, resolved once per set. */
	uint32_t rate;
	int found = 0;
	if (ex->cfg_rate || !(a->has & H_RECORD_SAMPLING)) {
		rate = sr->rate;
		f->sampling_src = sr->src;
	} else if ((rate = acc_rate(a)) != 0) {
		f->sampling_src = MM_SAMPLING_RECORD;
	} else if (d != NULL && (a->has & H_SAMPLER) &&
		   (rate = nfx_sampler_rate(ex, d, (uint32_t)a->sampler_id, &found), found)) {
		f->sampling_src = MM_SAMPLING_LEARNT;
	} else {
		rate = sr->rate;
		f->sampling_src = sr->src;
	}
	if (f->sampling_src == MM_SAMPLING_DEFAULTED)
		ex->st.unknown_sampling++;
	f->sampling_rate = rate;
	f->bytes_scaled = mm_scale(f->bytes, rate);
	f->packets_scaled = mm_scale(f->packets, rate);

	acc_times(a, c, d, f);
	memcpy(f->exporter, ex->addr, 16);
	f->exporter_af = ex->af;
	f->domain = c->domain;
	f->template_id = t->id;
	f->format = c->format;
	ex->st.records++;
	c->sink->emit(c->sink->arg, f);
}

static void options_record(struct mm_exporter *ex, struct mm_domain *d,
			   const struct acc *a)
{
	ex->st.options_records++;
	if (d == NULL)
		return;
	uint32_t rate = acc_rate(a);
	if (rate)
		nfx_sampler_learn(ex, d, (a->has & H_SAMPLER) ? (uint32_t)a->sampler_id : 0, rate);
	if (a->has & H_SYS_INIT) {
		if (!d->has_sys_init || d->sys_init_ms != a->sys_init_ms)
			ex->tmpl_gen++;
		d->sys_init_ms = a->sys_init_ms;
		d->has_sys_init = 1;
	}
}

/* Walk one variable-length record: returns its length, or 0 if it overruns
 * `len`.  With `a`/`f`, applies the fields too. */
static size_t varlen_record(const struct mm_template *t, const uint8_t *p, size_t len, struct acc *a,
			    struct mm_flow *f)
{
	size_t off = 0;
	for (unsigned i = 0; i < t->nops; i++) {
		const struct mm_op *op = &t->ops[i];
		size_t flen = op->len;
		if (flen == VARLEN) {
			/* RFC 7011 7: one length octet, or 255 + two octets */
			if (len - off < 1)
				return 0;
			flen = p[off++];
			if (flen == 255) {
				if (len - off < 2)
					return 0;
				flen = rd16(p + off);
				off += 2;
			}
		}
		if (len - off < flen)
			return 0;
		if (a != NULL && op->dst != D_SKIP && dst_len_ok((enum dst)op->dst, (unsigned)flen))
			apply(a, f, op->dst, p + off, (unsigned)flen);
		off += flen;
	}
	return off;
}

/* A decoded record: options data feeds the sampler table, a flow record
 * goes to the sink.  Returns the flow records emitted (0 or 1). */
static inline int finish_record(struct mm_exporter *ex, const struct nfx_ctx *c, struct mm_domain *d,
				const struct set_rate *sr, const struct mm_template *t, struct acc *a,
				struct mm_flow *f)
{
	if (t->options) {
		options_record(ex, d, a);
		return 0;
	}
	emit_flow(ex, c, d, sr, t, a, f);
	return 1;
}

int nfx_data_set(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t set_id, const uint8_t *p, size_t len)
{
	struct mm_template *t = nfx_template_find(ex, c->format, c->domain, set_id);
	if (t == NULL) {
		nfx_pending_add(ex, c, set_id, p, len);
		return 0;
	}
	t->lru = ++ex->tick;
	struct mm_domain *d = nfx_domain(ex, c->format, c->domain);
	const struct set_rate sr = set_rate(ex, d);
	int emitted = 0;
	struct acc a;
	struct mm_flow f;

	if (!t->varlen) {
		const size_t rl = t->rec_len;
		/* Whatever is left after the last whole record is padding. */
		for (size_t off = 0; len - off >= rl; off += rl) {
			const uint8_t *r = p + off;
			a.has = 0;
			memset(&f, 0, sizeof(f));
			for (unsigned i = 0; i < t->nops; i++) {
				const struct mm_op *op = &t->ops[i];
				apply(&a, &f, op->dst, r + op->off, op->len);
			}
			emitted += finish_record(ex, c, d, &sr, t, &a, &f);
		}
		return emitted;
	}

	/* Variable length: check the whole set first, so a bad set emits
	 * nothing; a short all-zero tail is padding. */
	size_t off = 0, n;
	while (off < len) {
		n = varlen_record(t, p + off, len - off, NULL, NULL);
		if (n == 0) {
			if (all_zero(p + off, len - off))
				break;
			nfx_err(ex, "set %u: variable-length record overruns the set at offset %zu", set_id, off);
			return -1;
		}
		off += n;
	}
	size_t end = off;
	for (off = 0; off < end; off += n) {
		a.has = 0;
		memset(&f, 0, sizeof(f));
		n = varlen_record(t, p + off, end - off, &a, &f);
		emitted += finish_record(ex, c, d, &sr, t, &a, &f);
	}
	return emitted;
}
