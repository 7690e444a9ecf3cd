/*
 * persist.c - export and import what an exporter taught the decoders:
 * templates, sampler rates and system init times.
 *
 * Field names:  t.<format>.<domain>.<template id>   template
 *               s.<format>.<domain>.<sampler id>    sampler rate
 *               i.<format>.<domain>                 system init time (ms)
 * Values (big-endian, first byte = encoding version 1):
 *   template: 1, options(1), scope fields(2), field count(2),
 *             then per field: id(2) length(2) enterprise number(4)
 *   sampler:  1, rate(4)
 *   init:     1, Unix ms(8)
 * An imported template goes through the same checks and compilation as one
 * from the wire, so a corrupt or hostile store cannot do more than a packet.
 */
#include <stdio.h>
#include <string.h>
#include "nfx.h"

#define PERSIST_VERSION 1

static void put_u16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_u32(uint8_t *p, uint32_t v) { put_u16(p, v >> 16); put_u16(p + 2, v & 0xffff); }

void mm_exporter_export(struct mm_exporter *ex, mm_persist_fn put, void *arg)
{
	char field[64];
	uint8_t buf[6 + 8 * 1024]; /* templates of more fields are not persisted */
	for (uint32_t i = 0; i < ex->lim->max_templates; i++) {
		const struct mm_template *t = &ex->templates[i];
		if (!t->used || t->nfields > 1024)
			continue;
		buf[0] = PERSIST_VERSION;
		buf[1] = t->options;
		put_u16(buf + 2, t->scope_fields);
		put_u16(buf + 4, t->nfields);
		size_t n = 6;
		for (unsigned k = 0; k < t->nfields; k++, n += 8) {
			put_u16(buf + n, t->fields[k].id);
			put_u16(buf + n + 2, t->fields[k].len);
			put_u32(buf + n + 4, t->fields[k].pen);
		}
		snprintf(field, sizeof(field), "t.%u.%u.%u", t->format, t->domain, t->id);
		put(arg, field, buf, n);
	}
	for (uint32_t i = 0; i < ex->lim->max_domains; i++) {
		const struct mm_domain *d = &ex->domains[i];
		if (!d->used)
			continue;
		for (uint32_t k = 0; k < ex->lim->max_samplers; k++) {
			const struct mm_sampler *s = &d->samplers[k];
			if (!s->used)
				continue;
			buf[0] = PERSIST_VERSION;
			put_u32(buf + 1, s->rate);
			snprintf(field, sizeof(field), "s.%u.%u.%u", d->format, d->id, s->id);
			put(arg, field, buf, 5);
		}
		if (d->has_sys_init) {
			buf[0] = PERSIST_VERSION;
			put_u32(buf + 1, (uint32_t)(d->sys_init_ms >> 32));
			put_u32(buf + 5, (uint32_t)d->sys_init_ms);
			snprintf(field, sizeof(field), "i.%u.%u", d->format, d->id);
			put(arg, field, buf, 9);
		}
	}
}

static int known_format(unsigned f)
{
	return f == MM_FMT_NETFLOW5 || f == MM_FMT_NETFLOW9 || f == MM_FMT_IPFIX;
}

int mm_exporter_import(struct mm_exporter *ex, const char *field, const uint8_t *val, size_t len)
{
	unsigned format, domain, id;
	char kind, tail;
	int n = sscanf(field, "%c.%u.%u.%u%c", &kind, &format, &domain, &id, &tail);
	if (len < 1 || val[0] != PERSIST_VERSION) {
		nfx_err(ex, "stored %s: unknown encoding", field);
		return -1;
	}
	if (kind == 'i' && n == 3 && known_format(format) && len == 9) {
		struct mm_domain *d = nfx_domain(ex, (uint16_t)format, domain);
		if (d == NULL)
			return -1;
		d->sys_init_ms = (uint64_t)rd32(val + 1) << 32 | rd32(val + 5);
		d->has_sys_init = 1;
		return 0;
	}
	if (n != 4 || !known_format(format)) {
		nfx_err(ex, "stored field %.40s: not a template or sampler name", field);
		return -1;
	}
	if (kind == 's' && len == 5) {
		struct mm_domain *d = nfx_domain(ex, (uint16_t)format, domain);
		if (d == NULL)
			return -1;
		nfx_sampler_learn(ex, d, id, rd32(val + 1));
		return 0;
	}
	if (kind != 't' || len < 6 || id > 65535 || format == MM_FMT_NETFLOW5) {
		nfx_err(ex, "stored %.40s: bad value", field);
		return -1;
	}
	unsigned options = val[1], scope = rd16(val + 2), nf = rd16(val + 4);
	if (options > 1 || nf == 0 || nf > ex->lim->max_template_fields || scope > nf || len != 6 + 8u * nf ||
	    id < 256) {
		nfx_err(ex, "stored template %u: inconsistent", id);
		return -1;
	}
	struct mm_tfield *f = ex->tmpl_scratch;
	for (unsigned k = 0; k < nf; k++) {
		f[k].id = rd16(val + 6 + 8 * k);
		f[k].len = rd16(val + 8 + 8 * k);
		f[k].pen = rd32(val + 10 + 8 * k);
	}
	struct mm_flow_sink none = { NULL, NULL };
	struct nfx_ctx c = { .format = (uint16_t)format, .domain = domain, .sink = &none };
	/* No held sets can be waiting at start-up; if some are, they are
	 * decoded later by the next wire template, so do not replay here. */
	uint32_t held = ex->npending;
	ex->npending = 0;
	int r = nfx_template_add(ex, &c, (uint16_t)id, f, nf, scope, (int)options);
	ex->npending = held;
	ex->st.templates--; /* an import is not a template record received */
	return r;
}
