/*
 * exporter.c - the decoding state of one exporter: observation domains,
 * sampler tables, sequence accounting and the queue of data sets that came
 * before their template.  All tables are fixed-size arrays allocated once in
 * mm_exporter_new, so nothing an exporter sends can grow memory.
 */
#include <stdlib.h>
#include <string.h>
#include "nfx.h"

struct mm_exporter *mm_exporter_new(const uint8_t addr[16], const struct mm_decode_limits *lim)
{
	struct mm_exporter *ex = calloc(1, sizeof(*ex));
	if (ex == NULL)
		return NULL;
	memcpy(ex->addr, addr, 16);
	ex->af = mm_addr_is4(addr) ? 4 : 6;
	ex->lim = lim;
	ex->default_rate = 1;
	ex->domains = calloc(lim->max_domains ? lim->max_domains : 1, sizeof(*ex->domains));
	ex->templates = calloc(lim->max_templates ? lim->max_templates : 1, sizeof(*ex->templates));
	ex->pending = calloc(lim->pending_max_sets ? lim->pending_max_sets : 1, sizeof(*ex->pending));
	ex->pend_buf = malloc(lim->pending_max_bytes ? lim->pending_max_bytes : 1);
	ex->tmpl_scratch = calloc(lim->max_template_fields ? lim->max_template_fields : 1,
				  sizeof(*ex->tmpl_scratch));
	if (!ex->domains || !ex->templates || !ex->pending || !ex->pend_buf || !ex->tmpl_scratch)
		goto err;
	for (uint32_t i = 0; i < lim->max_domains; i++) {
		ex->domains[i].samplers = calloc(lim->max_samplers ? lim->max_samplers : 1,
						 sizeof(struct mm_sampler));
		if (ex->domains[i].samplers == NULL)
			goto err;
	}
	return ex;
err:
	mm_exporter_free(ex);
	return NULL;
}

void mm_exporter_free(struct mm_exporter *ex)
{
	if (ex == NULL)
		return;
	if (ex->templates)
		for (uint32_t i = 0; i < ex->lim->max_templates; i++) {
			free(ex->templates[i].fields);
			free(ex->templates[i].ops);
		}
	if (ex->domains)
		for (uint32_t i = 0; i < ex->lim->max_domains; i++)
			free(ex->domains[i].samplers);
	free(ex->domains);
	free(ex->templates);
	free(ex->pending);
	free(ex->pend_buf);
	free(ex->tmpl_scratch);
	free(ex);
}

void nfx_err(struct mm_exporter *ex, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(ex->err, sizeof(ex->err), fmt, ap);
	va_end(ap);
}

struct mm_domain *nfx_domain(struct mm_exporter *ex, uint16_t format, uint32_t id)
{
	struct mm_domain *victim = NULL;
	uint32_t n = ex->lim->max_domains;
	for (uint32_t i = 0; i < n; i++) {
		struct mm_domain *d = &ex->domains[i];
		if (d->used && d->id == id && d->format == format) {
			d->lru = ++ex->tick;
			return d;
		}
		if (victim == NULL || (victim->used && (!d->used || d->lru < victim->lru)))
			victim = d;
	}
	if (victim == NULL)
		return NULL;
	if (victim->used) {
		/* The domain's templates and pending sets go with it. */
		ex->st.domains_evicted++;
		for (uint32_t i = 0; i < ex->lim->max_templates; i++)
			if (ex->templates[i].used && ex->templates[i].domain == victim->id &&
			    ex->templates[i].format == victim->format)
				nfx_template_remove(ex, &ex->templates[i]);
	}
	struct mm_sampler *s = victim->samplers;
	memset(s, 0, ex->lim->max_samplers * sizeof(*s));
	memset(victim, 0, sizeof(*victim));
	victim->samplers = s;
	victim->used = 1;
	victim->id = id;
	victim->format = format;
	victim->lru = ++ex->tick;
	return victim;
}

/* Gaps beyond this are an exporter restart (or garbage), not loss. */
#define SEQ_MAX_GAP (1u << 24)
/* A datagram this far behind the expected sequence is a late arrival. */
#define SEQ_REORDER_WINDOW (1u << 16)

void nfx_seq(struct mm_exporter *ex, struct mm_seq *s, uint32_t seq, uint32_t count, uint32_t flows,
	     uint64_t *lost)
{
	if (!s->valid) {
		s->valid = 1;
		s->next = seq + count;
		s->last = seq;
		return;
	}
	uint32_t ahead = seq - s->next; /* modulo 2^32: wrap is handled for free */
	if (ahead == 0 || seq - s->last == count || seq - s->last == flows) {
		/* In order.  The last two tests accept exporters whose sequence
		 * already includes this datagram's records (softflowd's IPFIX
		 * does, counting flow records only); they can only hide a gap
		 * that exactly equals the difference of two datagrams' record
		 * counts.  For v9 (count 1 per packet) they are the same test. */
		s->next = seq + count;
		s->last = seq;
	} else if (ahead < SEQ_MAX_GAP) {
		*lost += ahead;
		s->next = seq + count;
		s->last = seq;
	} else if ((uint32_t)(s->next - seq) <= SEQ_REORDER_WINDOW) {
		/* Late datagram: it was counted lost when its successor came;
		 * take that back (bounded at zero), do not move `next`. */
		ex->st.seq_reordered++;
		*lost -= (*lost < count) ? *lost : count;
	} else {
		ex->st.seq_resets++;
		s->next = seq + count;
		s->last = seq;
	}
}

void nfx_sampler_learn(struct mm_exporter *ex, struct mm_domain *d, uint32_t sampler_id, uint32_t rate)
{
	struct mm_sampler *victim = NULL;
	if (rate == 0)
		rate = 1;
	for (uint32_t i = 0; i < ex->lim->max_samplers; i++) {
		struct mm_sampler *s = &d->samplers[i];
		if (s->used && s->id == sampler_id) {
			if (s->rate != rate)
				ex->tmpl_gen++;
			s->rate = rate;
			s->lru = ++ex->tick;
			return;
		}
		/* Prefer a free slot, else the least recently used one. */
		if (victim == NULL || (victim->used && (!s->used || s->lru < victim->lru)))
			victim = s;
	}
	if (victim == NULL)
		return;
	victim->used = 1;
	victim->id = sampler_id;
	victim->rate = rate;
	ex->tmpl_gen++;
	victim->lru = ++ex->tick;
}

uint32_t nfx_sampler_rate(struct mm_exporter *ex, struct mm_domain *d, uint32_t sampler_id, int *found)
{
	for (uint32_t i = 0; i < ex->lim->max_samplers; i++) {
		struct mm_sampler *s = &d->samplers[i];
		if (s->used && s->id == sampler_id) {
			*found = 1;
			return s->rate;
		}
	}
	*found = 0;
	return 0;
}

/* --- data sets waiting for their template -------------------------------- */

static void pending_drop(struct mm_exporter *ex, struct mm_pending *pe)
{
	pe->used = 0;
	ex->npending--;
	if (ex->npending == 0)
		ex->pend_used = 0;
}

/* Make `need` contiguous bytes free at the end of pend_buf by packing the
 * live entries to the front. */
static int pending_make_room(struct mm_exporter *ex, uint32_t need)
{
	uint32_t cap = ex->lim->pending_max_bytes;
	if (cap - ex->pend_used >= need)
		return 0;
	uint32_t live = 0;
	for (uint32_t i = 0; i < ex->lim->pending_max_sets; i++)
		if (ex->pending[i].used)
			live += ex->pending[i].len;
	if (cap - live < need)
		return -1;
	/* Pack in buffer order so memmove never overwrites a live entry. */
	uint32_t w = 0;
	for (;;) {
		struct mm_pending *next = NULL;
		for (uint32_t i = 0; i < ex->lim->pending_max_sets; i++) {
			struct mm_pending *pe = &ex->pending[i];
			if (pe->used && pe->off >= w && (next == NULL || pe->off < next->off))
				next = pe;
		}
		if (next == NULL)
			break;
		memmove(ex->pend_buf + w, ex->pend_buf + next->off, next->len);
		next->off = w;
		w += next->len;
		if (next->len == 0)
			w++; /* cannot happen: empty sets are never queued; keeps the loop finite */
	}
	ex->pend_used = w;
	return 0;
}

void nfx_pending_add(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t set_id, const uint8_t *p,
		     size_t len)
{
	struct mm_pending *slot = NULL;
	for (uint32_t i = 0; i < ex->lim->pending_max_sets; i++)
		if (!ex->pending[i].used) {
			slot = &ex->pending[i];
			break;
		}
	if (slot == NULL || len == 0 || len > ex->lim->pending_max_bytes ||
	    pending_make_room(ex, (uint32_t)len) < 0) {
		ex->st.pending_dropped++;
		ex->st.unknown_template++;
		return;
	}
	memcpy(ex->pend_buf + ex->pend_used, p, len);
	slot->used = 1;
	slot->off = ex->pend_used;
	slot->len = (uint32_t)len;
	slot->domain = c->domain;
	slot->set_id = set_id;
	slot->format = c->format;
	slot->recv_ms = c->now_ms;
	slot->export_ms = c->export_ms;
	slot->sys_uptime = c->sys_uptime;
	ex->pend_used += (uint32_t)len;
	ex->npending++;
	ex->st.pending_queued++;
}

void nfx_pending_replay(struct mm_exporter *ex, const struct nfx_ctx *c, uint16_t set_id)
{
	if (ex->npending == 0)
		return;
	for (uint32_t i = 0; i < ex->lim->pending_max_sets; i++) {
		struct mm_pending *pe = &ex->pending[i];
		if (!pe->used || pe->domain != c->domain || pe->set_id != set_id || pe->format != c->format)
			continue;
		struct nfx_ctx pc = *c;
		pc.export_ms = pe->export_ms;
		pc.sys_uptime = pe->sys_uptime;
		/* Taken off the queue first: decoding cannot re-queue it, since
		 * its template now exists. */
		const uint8_t *data = ex->pend_buf + pe->off;
		uint32_t len = pe->len;
		pe->used = 0;
		ex->npending--;
		ex->st.pending_decoded++;
		if (nfx_data_set(ex, &pc, set_id, data, len) < 0)
			ex->st.malformed++;
		if (ex->npending == 0)
			ex->pend_used = 0;
	}
}

void mm_exporter_expire(struct mm_exporter *ex, uint64_t now_ms)
{
	if (ex->npending == 0)
		return;
	for (uint32_t i = 0; i < ex->lim->pending_max_sets; i++) {
		struct mm_pending *pe = &ex->pending[i];
		/* Capture clocks can run backwards: only a forward gap expires. */
		if (pe->used && now_ms >= pe->recv_ms && now_ms - pe->recv_ms >= ex->lim->pending_timeout_ms) {
			ex->st.pending_expired++;
			ex->st.unknown_template++;
			pending_drop(ex, pe);
		}
	}
}
