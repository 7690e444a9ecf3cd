/*
 * export.c - the exporting process: assembles records into datagrams,
 * keeps the sequence numbers, and sends the templates at start and every
 * --template-every data datagrams.  The wire formats are rows of the
 * format table (encode_v5.c, encode_v9.c, encode_ipfix.c,
 * encode_sflow.c); a new format is a new file plus one row here.
 *
 * Sequence numbers, as each format defines them:
 *   v5     flow_sequence = flow records sent before this datagram
 *   v9     package sequence = export packets sent before this one
 *          (template datagrams count: they are export packets)
 *   IPFIX  sequence = data records sent before this message in the
 *          observation domain (options data records are data records;
 *          template records are not, RFC 7011 section 3.1)
 *   sFlow  datagram sequence = datagrams sent before this one (+ 1), and
 *          per sample the samples sent before it (+ 1)
 *
 * A datagram holds at most --records-per-datagram records; without that
 * option as many as fit a 1500-byte MTU (1472 bytes of UDP payload), v5
 * never more than 30.  v9/IPFIX records are staged per template and a
 * datagram carries one set per template it uses (IPv4 first, then IPv6),
 * as exporters with per-template buffers do.  v9 sets are padded to 4
 * bytes.  sFlow (a `per_packet` format) sends one sample per sampled packet
 * of a flow: a flow of N sampled packets becomes N records, and the
 * record limits count samples.
 */
#include <stdio.h>
#include <string.h>

#include "gen.h"

static const struct gen_fmt *const formats[] = { &gen_fmt_v5, &gen_fmt_v9, &gen_fmt_ipfix, &gen_fmt_sflow };

const struct gen_fmt *gen_fmt_find(const char *name)
{
	for (unsigned i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		char num[8];
		snprintf(num, sizeof(num), "%u", formats[i]->version);
		if (strcmp(name, formats[i]->name) == 0 || strcmp(name, num) == 0)
			return formats[i];
	}
	if (strcmp(name, "v10") == 0)
		return &gen_fmt_ipfix;
	if (strcmp(name, "sflow5") == 0)
		return &gen_fmt_sflow;
	return NULL;
}

int gen_exporter_init(struct gen_exporter *x, const struct gen_exporter_cfg *c,
		      const struct gen_sink *sink, char *err, size_t errlen)
{
	const struct gen_fmt *f = c->fmt;

	memset(x, 0, offsetof(struct gen_exporter, tbuf));
	x->c = *c;
	x->sink = *sink;
	if (c->ipv6 && !f->has_ipv6) {
		snprintf(err, errlen, "NetFlow %s cannot carry IPv6 records (use -f v9 or -f ipfix)", f->name);
		return -1;
	}
	if (c->sampling == 0 || (f->version == 5 && c->sampling > 0x3fff)) {
		snprintf(err, errlen, "sampling 1:%u cannot be encoded in %s (v5: 1..16383)", c->sampling, f->name);
		return -1;
	}
	size_t worst = (size_t)f->rec_len(4, c);
	if (f->has_ipv6 && f->rec_len(6, c) > worst)
		worst = f->rec_len(6, c);
	if (c->rpd) {
		if (f->max_records && c->rpd > f->max_records) {
			snprintf(err, errlen, "--records-per-datagram %u: %s carries at most %u", c->rpd, f->name,
				 f->max_records);
			return -1;
		}
		if (f->hdr_len + 2 * (size_t)(f->set_hdr + f->set_align - 1) + (size_t)c->rpd * worst >
		    GEN_DGRAM_MAX) {
			snprintf(err, errlen, "--records-per-datagram %u does not fit a UDP datagram in %s", c->rpd,
				 f->name);
			return -1;
		}
		x->max_rec = c->rpd;
		x->budget = GEN_DGRAM_MAX;
	} else {
		x->max_rec = f->max_records ? f->max_records : 65535u;
		x->budget = GEN_DGRAM_MTU;
	}
	return 0;
}

static struct gen_hdr make_hdr(const struct gen_exporter *x, size_t len, unsigned count, uint64_t t_ms)
{
	struct gen_hdr h = {
		.len = len,
		.count = count,
		.seq = x->seq,
		.rec_seq = x->rec_seq,
		.export_ms = t_ms,
		.boot_ms = x->c.boot_ms,
		.domain = x->c.domain,
		.sampling = x->c.sampling,
	};
	memcpy(h.agent4, x->c.exporter4, 4);
	return h;
}

int gen_exporter_template_due(const struct gen_exporter *x)
{
	if (!x->c.fmt->put_templates)
		return 0;
	return !x->tmpl_sent || (x->c.template_every > 0 && x->since_tmpl >= x->c.template_every);
}

size_t gen_exporter_template_dgram(struct gen_exporter *x, uint8_t *buf, size_t room, uint64_t t_ms)
{
	const struct gen_fmt *f = x->c.fmt;
	struct gen_tmpl_ctx ctx = {
		.domain = x->c.domain,
		.sampling = x->c.sampling,
		.legacy_sampling = x->c.legacy_sampling,
	};
	unsigned recs = 0, drecs = 0;

	memcpy(ctx.exporter4, x->c.exporter4, 4);
	size_t n = f->put_templates(buf + f->hdr_len, room - f->hdr_len, &ctx, &recs, &drecs);
	struct gen_hdr h = make_hdr(x, f->hdr_len + n, recs, t_ms);
	f->put_header(buf, &h);
	x->seq += f->seq_packets ? 1 : drecs;
	x->tmpl_sent = 1;
	x->since_tmpl = 0;
	x->tmpl_datagrams++;
	x->datagrams++;
	x->bytes += h.len;
	return h.len;
}

static void emit(struct gen_exporter *x, const uint8_t *buf, size_t len, uint64_t t_ms, unsigned flows,
		 int tmpl)
{
	struct gen_dgram d = { buf, len, t_ms, flows, tmpl };
	if (!x->failed && x->sink.put(x->sink.arg, &d) < 0)
		x->failed = 1;
}

static void send_templates(struct gen_exporter *x, uint64_t t_ms)
{
	size_t len = gen_exporter_template_dgram(x, x->tbuf, sizeof(x->tbuf), t_ms);
	emit(x, x->tbuf, len, t_ms, 0, 1);
}

/* Bytes of the datagram if finished now, with `extra` record bytes of
 * family slot i added. */
static size_t dgram_size(const struct gen_exporter *x, int add_slot, size_t extra)
{
	const struct gen_fmt *f = x->c.fmt;
	size_t n = f->hdr_len;
	for (int i = 0; i < 2; i++) {
		size_t body = x->slen[i] + (i == add_slot ? extra : 0);
		if (body == 0)
			continue;
		size_t set = f->set_hdr + body;
		n += set + (f->set_align - set % f->set_align) % f->set_align;
	}
	return n;
}

void gen_exporter_flush(struct gen_exporter *x, uint64_t t_ms)
{
	const struct gen_fmt *f = x->c.fmt;
	size_t len = f->hdr_len;

	if (x->nrec == 0)
		return;
	for (int i = 0; i < 2; i++) {
		if (x->sn[i] == 0)
			continue;
		size_t set = len;
		if (f->set_hdr) {
			gen_put16(x->buf + len, f->template_id(i ? 6 : 4));
			len += f->set_hdr;
		}
		memcpy(x->buf + len, x->stage[i], x->slen[i]);
		len += x->slen[i];
		while ((len - set) % f->set_align)
			x->buf[len++] = 0;
		if (f->set_hdr)
			gen_put16(x->buf + set + 2, (uint16_t)(len - set));
	}
	struct gen_hdr h = make_hdr(x, len, x->nrec, t_ms);
	f->put_header(x->buf, &h);
	x->seq += f->seq_packets ? 1 : x->nrec;
	x->rec_seq += x->nrec;
	x->wire_records += x->nrec;
	x->datagrams++;
	x->bytes += len;
	x->since_tmpl++;
	emit(x, x->buf, len, t_ms, x->nrec, 0);
	x->nrec = 0;
	x->slen[0] = x->slen[1] = 0;
	x->sn[0] = x->sn[1] = 0;
}

/* Stage one wire record of rl bytes. */
static void add_record(struct gen_exporter *x, const struct mm_flow *fl, uint64_t t_ms, int slot, size_t rl)
{
	const struct gen_fmt *f = x->c.fmt;

	if (x->nrec > 0 && dgram_size(x, slot, rl) > x->budget)
		gen_exporter_flush(x, x->last_ms);
	if (x->nrec == 0 && gen_exporter_template_due(x))
		send_templates(x, t_ms);
	f->put_record(x->stage[slot] + x->slen[slot], fl, &x->c);
	x->slen[slot] += rl;
	x->sn[slot]++;
	x->nrec++;
	x->last_ms = t_ms;
	if (x->nrec >= x->max_rec)
		gen_exporter_flush(x, t_ms);
}

void gen_exporter_add(struct gen_exporter *x, const struct mm_flow *fl, uint64_t t_ms)
{
	const struct gen_fmt *f = x->c.fmt;
	int slot = fl->af == 6 ? 1 : 0;

	if (x->failed)
		return;
	x->flows++;
	if (!f->per_packet) {
		add_record(x, fl, t_ms, slot, f->rec_len(slot ? 6 : 4, &x->c));
		return;
	}
	/* One record per sampled packet, the flow's bytes shared out. */
	struct mm_flow pk = *fl;
	uint64_t n = fl->packets;
	pk.packets = 1;
	for (uint64_t i = 0; i < n && !x->failed; i++) {
		pk.bytes = fl->bytes / n + (i < fl->bytes % n ? 1 : 0);
		add_record(x, &pk, t_ms, slot, f->packet_len(&pk, &x->c));
	}
}

void gen_exporter_restamp(struct gen_exporter *x, uint8_t *buf, size_t len, unsigned flows,
			  uint64_t *stamp_ms, uint64_t new_ms)
{
	const struct gen_fmt *f = x->c.fmt;
	int64_t delta = (int64_t)(new_ms - *stamp_ms);

	if (delta != 0)
		f->shift_times(buf, len, delta);
	struct gen_hdr h = make_hdr(x, len, flows, new_ms);
	f->put_header(buf, &h);
	x->seq += f->seq_packets ? 1 : flows;
	x->rec_seq += flows;
	x->wire_records += flows;
	x->since_tmpl++;
	x->datagrams++;
	x->flows += flows;
	x->bytes += len;
	*stamp_ms = new_ms;
}
