#include <stdlib.h>
#include <string.h>
#include "mamori/capture.h"
#include "testutil.h"

static void collect(void *arg, const struct mm_flow *f)
{
	struct tu_decoded *d = arg;
	if (d->nrecs == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 256;
		d->recs = realloc(d->recs, d->cap * sizeof(*d->recs));
		if (d->recs == NULL)
			abort();
	}
	d->recs[d->nrecs++] = *f;
}

static struct mm_exporter *exporter(struct tu_decoded *d, const uint8_t src[16])
{
	if (d->lim.max_exporters == 0)
		mm_decode_limits_default(&d->lim);
	for (unsigned i = 0; i < d->nex; i++)
		if (memcmp(d->ex[i]->addr, src, 16) == 0)
			return d->ex[i];
	if (d->nex == TU_MAX_EXPORTERS)
		abort();
	struct mm_exporter *ex = mm_exporter_new(src, &d->lim);
	if (ex == NULL)
		abort();
	if (d->default_rate)
		ex->default_rate = d->default_rate;
	d->ex[d->nex++] = ex;
	return ex;
}

static int on_datagram(void *arg, const uint8_t src[16], int af, uint16_t sport, const uint8_t *p, size_t len,
		       uint64_t ts_ms)
{
	(void)af;
	(void)sport;
	struct tu_decoded *d = arg;
	struct mm_flow_sink sink = { collect, d };
	d->datagrams++;
	if (mm_decode(exporter(d, src), p, len, ts_ms, &sink) < 0)
		d->rejected++;
	return 0;
}

int tu_decode_capture(struct tu_decoded *d, const char *path)
{
	char err[256];
	if (mm_capture_read(path, on_datagram, d, NULL, err, sizeof(err)) < 0)
		return -1;
	for (unsigned i = 0; i < d->nex; i++)
		mm_exporter_expire(d->ex[i], UINT64_MAX);
	return 0;
}

int tu_decode_bytes(struct tu_decoded *d, const uint8_t *buf, size_t len, uint64_t now_ms)
{
	static const uint8_t src[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 };
	struct mm_flow_sink sink = { collect, d };
	d->datagrams++;
	int n = mm_decode(exporter(d, src), buf, len, now_ms, &sink);
	if (n < 0)
		d->rejected++;
	return n;
}

struct mm_exporter_stats tu_stats(const struct tu_decoded *d)
{
	struct mm_exporter_stats t;
	memset(&t, 0, sizeof(t));
	for (unsigned i = 0; i < d->nex; i++) {
		const uint64_t *s = (const uint64_t *)&d->ex[i]->st;
		uint64_t *o = (uint64_t *)&t;
		for (size_t k = 0; k < sizeof(t) / sizeof(uint64_t); k++)
			o[k] += s[k];
	}
	return t;
}

void tu_free(struct tu_decoded *d)
{
	for (unsigned i = 0; i < d->nex; i++)
		mm_exporter_free(d->ex[i]);
	free(d->recs);
	memset(d, 0, sizeof(*d));
}
