/*
 * benign.c - benign look-alikes: traffic that resembles an attack but is
 * not one, injected on top of the background like an attack and written to
 * the ground truth with class "benign" (docs/scenarios.md).
 *
 *   flash_crowd   many external clients (clients=, 2000) -> host:443 TCP,
 *                 small requests in, large responses out (2 out per in);
 *                 the look-alike of a flood: many sources, inbound rate far
 *                 above the host's baseline
 *   cdn           a large download from a few CDN edges (peers=, 8):
 *                 1400-byte TCP from port 443 in, the host's ACKs out (one
 *                 per 2 packets); the look-alike of a volumetric flood
 *   backup        host -> target:22 (an external backup server), 1400-byte
 *                 TCP out, ACKs in, one SSH session exported a record a
 *                 minute (an active timeout); the look-alike of
 *                 exfiltration (and, were it many flows, of brute force)
 *   update_check  every host of prefix= (default the first /24 of the
 *                 first monitored prefix) asks target:443 at once every
 *                 period= seconds (3600) for burst= seconds (60): periodic,
 *                 synchronised fan-in to one external server
 *
 * Keys: host= (monitored, default drawn from the seed), start=, end=,
 * pps= (sampled inbound packets/s; backup and update_check: outbound) or
 * x= (a multiple of the host's own background baseline in that
 * direction), clients=, peers=, target=, prefix=, period=, burst=.
 * Each record carries 1..4 sampled packets (a backup: a minute's); its
 * companion (response or ACKs) takes the next slot.  Generation is deterministic per (seed,
 * index) and independent of the background stream.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

/* Seconds of a backup session per exported record: a common active timeout. */
#define BACKUP_RECORD_S 60

static const char *const kind_names[GEN_BENIGN_NKINDS] = {
	[GEN_BENIGN_FLASH_CROWD] = "flash_crowd",
	[GEN_BENIGN_CDN] = "cdn",
	[GEN_BENIGN_BACKUP] = "backup",
	[GEN_BENIGN_UPDATE_CHECK] = "update_check",
};

const char *gen_benign_kind_name(int kind)
{
	return kind >= 0 && kind < GEN_BENIGN_NKINDS ? kind_names[kind] : "?";
}

static int num(const char *v, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end || !isfinite(d) || d < lo || d > hi)
		return -1;
	*out = d;
	return 0;
}

int gen_benign_parse(const char *spec, struct gen_benign *b, char *err, size_t errlen)
{
	char buf[256];
	const char *colon = strchr(spec, ':');
	size_t kl = colon ? (size_t)(colon - spec) : strlen(spec);

	memset(b, 0, sizeof(*b));
	b->kind = -1;
	b->end_s = -1;
	snprintf(b->text, sizeof(b->text), "%s", spec);
	for (int k = 0; k < GEN_BENIGN_NKINDS; k++)
		if (strlen(kind_names[k]) == kl && strncmp(spec, kind_names[k], kl) == 0)
			b->kind = k;
	if (b->kind < 0) {
		snprintf(err, errlen, "benign '%.*s': unknown kind (flash_crowd, cdn, backup, update_check)", (int)kl,
			 spec);
		return -1;
	}
	if (!colon || strlen(colon + 1) >= sizeof(buf))
		colon = ":";
	snprintf(buf, sizeof(buf), "%s", colon + 1);
	for (char *save, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		double d = 0;
		if (!eq) {
			snprintf(err, errlen, "benign %s: '%s' is not key=value", kind_names[b->kind], kv);
			return -1;
		}
		*eq = '\0';
		const char *k = kv, *v = eq + 1;
		int bad = 0;
		if (strcmp(k, "host") == 0)
			bad = gen_addr_parse(v, b->host) < 0 || !(b->has_host = 1);
		else if (strcmp(k, "target") == 0)
			bad = gen_addr_parse(v, b->target) < 0 || !(b->has_target = 1);
		else if (strcmp(k, "prefix") == 0)
			bad = gen_prefix_parse(v, &b->prefix, err, errlen) < 0 || !(b->has_prefix = 1);
		else if (strcmp(k, "start") == 0)
			bad = num(v, 0, 1e9, &b->start_s) < 0;
		else if (strcmp(k, "end") == 0)
			bad = num(v, 0, 1e9, &b->end_s) < 0;
		else if (strcmp(k, "pps") == 0 || strcmp(k, "x") == 0) {
			bad = b->str_kind || num(v, 0, 1e9, &d) < 0 || d <= 0;
			b->str_kind = k[0] == 'x' ? GEN_STR_X : GEN_STR_PPS;
			b->str_val = d;
		} else if (strcmp(k, "clients") == 0 || strcmp(k, "peers") == 0)
			bad = num(v, 1, 1e6, &d) < 0 || !(b->peers = (long)d);
		else if (strcmp(k, "period") == 0)
			bad = num(v, 1, 1e7, &b->period_s) < 0;
		else if (strcmp(k, "burst") == 0)
			bad = num(v, 1, 1e7, &b->burst_s) < 0;
		else {
			snprintf(err, errlen, "benign %s: unknown key '%s'", kind_names[b->kind], k);
			return -1;
		}
		if (bad) {
			snprintf(err, errlen, "benign %s: bad or repeated value for '%s': '%s'", kind_names[b->kind], k, v);
			return -1;
		}
	}
	return 0;
}

/* Direction of the strength: inbound for flash_crowd and cdn. */
static int str_inbound(const struct gen_benign *b)
{
	return b->kind == GEN_BENIGN_FLASH_CROWD || b->kind == GEN_BENIGN_CDN;
}

int gen_benign_resolve(struct gen_benign *b, unsigned index, struct gen_traffic *t, uint64_t seed,
		       uint32_t sampling, double duration_s, char *err, size_t errlen)
{
	const char *name = kind_names[b->kind];
	b->index = index;
	b->sampling = sampling;
	b->seed = seed;
	if (b->end_s < 0) {
		if (duration_s < 0) {
			snprintf(err, errlen, "benign %s: end= is needed without --duration", name);
			return -1;
		}
		b->end_s = duration_s;
	}
	if (duration_s >= 0 && b->end_s > duration_s + 1e-9) {
		snprintf(err, errlen, "benign %s: end=%g is past the scenario's duration %g", name, b->end_s, duration_s);
		return -1;
	}
	if (b->end_s <= b->start_s) {
		snprintf(err, errlen, "benign %s: end must be after start", name);
		return -1;
	}
	if (b->kind == GEN_BENIGN_UPDATE_CHECK) {
		if (!b->has_prefix) {
			const struct gen_prefix *p = gen_traffic_prefix(t, 4);
			if (!p)
				p = gen_traffic_prefix(t, 6);
			b->prefix = *p;
			if (p->af == 4 && p->len < 96 + 24)
				b->prefix.len = 96 + 24;
		}
		if (!gen_traffic_covers(t, &b->prefix)) {
			snprintf(err, errlen, "benign %s: prefix is not inside a monitored prefix", name);
			return -1;
		}
		b->nhosts = gen_prefix_hosts(&b->prefix);
		if (b->nhosts == 0 || b->nhosts > 65536) {
			snprintf(err, errlen, "benign %s: prefix must hold 1..65536 hosts", name);
			return -1;
		}
		gen_prefix_host(&b->prefix, 0, b->host);
		if (b->period_s <= 0)
			b->period_s = 3600;
		if (b->burst_s <= 0)
			b->burst_s = 60;
		if (b->burst_s > b->period_s) {
			snprintf(err, errlen, "benign %s: burst longer than period", name);
			return -1;
		}
	} else {
		if (!b->has_host) {
			uint32_t h = (uint32_t)(gen_hash2(seed ^ 0x62656e69676eull, index) % gen_traffic_nhosts(t));
			memcpy(b->host, gen_traffic_host_addr(t, h), 16);
		}
		if (!gen_traffic_monitored(t, b->host)) {
			snprintf(err, errlen, "benign %s: host is not inside a monitored prefix", name);
			return -1;
		}
	}
	b->af = mm_addr_is4(b->host) ? 4 : 6;
	if (!b->has_target)
		gen_traffic_external(t, 0x62656e00ull + index, b->af, b->target);
	if (gen_traffic_monitored(t, b->target) || (mm_addr_is4(b->target) ? 4 : 6) != b->af) {
		snprintf(err, errlen, "benign %s: target must be outside the monitored prefixes, same family", name);
		return -1;
	}
	if (b->peers <= 0)
		b->peers = b->kind == GEN_BENIGN_FLASH_CROWD ? 2000 : 8;
	double base_pps = 0, base_bps;
	if (b->str_kind == GEN_STR_X) {
		int64_t h = gen_traffic_host_index(t, b->host);
		if (h < 0 || b->kind == GEN_BENIGN_UPDATE_CHECK) {
			snprintf(err, errlen, "benign %s: x= needs a host with background (update_check: use pps=)", name);
			return -1;
		}
		gen_traffic_baseline(t, (uint32_t)h, str_inbound(b), &base_pps, &base_bps);
		b->pps = b->str_val * base_pps;
	} else {
		b->pps = b->str_kind ? b->str_val : 10;
	}
	if (!(b->pps > 0)) {
		snprintf(err, errlen, "benign %s: the host has no background to take x= of", name);
		return -1;
	}
	/* a data record carries 1..4 sampled packets (mean 2.5); each data
	 * record has one companion record (responses or ACKs).  A backup is
	 * one long SSH session, which a router exports once per active
	 * timeout (BACKUP_RECORD_S) rather than as many short flows. */
	b->rec_rate = b->kind == GEN_BENIGN_BACKUP ? 1.0 / BACKUP_RECORD_S : b->pps / 2.5;
	b->start_us = (uint64_t)llround(b->start_s * 1e6);
	b->end_us = (uint64_t)llround(b->end_s * 1e6);
	gen_rng_seed(&b->rng, seed, 0x100 + index);
	b->k = 0;
	b->next_us = gen_benign_time_us(b, 0);
	return 0;
}

uint64_t gen_benign_time_us(const struct gen_benign *b, uint64_t k)
{
	/* data record j = k/2 at j / rec_rate of active time; its companion
	 * 1 ms later (half the spacing when that is shorter: in order) */
	double j = (double)(k / 2), active = j / b->rec_rate, t;
	if (b->kind == GEN_BENIGN_UPDATE_CHECK) {
		double per = b->burst_s * b->rec_rate; /* records per burst */
		double n = floor(j / per);
		t = b->start_s + n * b->period_s + (j - n * per) / b->rec_rate;
	} else if (b->kind == GEN_BENIGN_BACKUP) {
		/* a record is exported at the end of its interval, the last
		 * one when the session ends */
		if (b->start_s + active >= b->end_s - 0.002)
			return UINT64_MAX;
		t = fmin(b->start_s + active + BACKUP_RECORD_S, b->end_s - 0.002);
	} else {
		t = b->start_s + active;
	}
	double us = t * 1e6 + (k & 1 ? fmin(1000, 0.5e6 / b->rec_rate) : 0);
	if (us >= (double)b->end_us)
		return UINT64_MAX;
	return (uint64_t)us;
}

/* Seconds of the session the current backup record covers: a full active
 * timeout, or what is left of it when the session ends. */
static double backup_interval_s(const struct gen_benign *b)
{
	double from = b->start_s + (double)(b->k / 2) * BACKUP_RECORD_S;

	return fmin(BACKUP_RECORD_S, b->end_s - 0.002 - from);
}

static uint16_t eph(struct gen_rng *r)
{
	return (uint16_t)(32768 + gen_rng_below(r, 28232));
}

void gen_benign_next(struct gen_benign *b, const struct gen_traffic *t, uint64_t t0_ms, struct mm_flow *f)
{
	struct gen_rng *r = &b->rng;
	uint64_t t_ms = t0_ms + b->next_us / 1000;
	int companion = b->k & 1;
	int in; /* the record flows peer -> host */
	unsigned size;

	if (!companion) {
		/* the data record: its peer, host, ports and size */
		memcpy(b->cur_host, b->host, 16);
		switch (b->kind) {
		case GEN_BENIGN_FLASH_CROWD:
		case GEN_BENIGN_CDN:
			gen_traffic_external(t, 0x636c69ull << 32 | (uint64_t)b->index << 24 |
						     gen_rng_below(r, (uint32_t)b->peers),
					     b->af, b->cur_peer);
			b->cur_hport = b->kind == GEN_BENIGN_CDN ? eph(r) : 443;
			b->cur_pport = b->kind == GEN_BENIGN_CDN ? 443 : eph(r);
			break;
		case GEN_BENIGN_BACKUP:
			memcpy(b->cur_peer, b->target, 16);
			if (b->k == 0)
				b->cur_hport = eph(r); /* one session throughout */
			b->cur_pport = 22;
			break;
		case GEN_BENIGN_UPDATE_CHECK:
			gen_prefix_host(&b->prefix, (uint64_t)(b->k / 2) % b->nhosts, b->cur_host);
			memcpy(b->cur_peer, b->target, 16);
			b->cur_hport = eph(r);
			b->cur_pport = 443;
			break;
		}
		b->cur_pkts = 1 + gen_rng_below(r, 4);
		if (b->kind == GEN_BENIGN_BACKUP) /* the interval's packets, +-10 % */
			b->cur_pkts = (uint32_t)fmin(UINT32_MAX, fmax(1, round(b->pps * backup_interval_s(b) *
										 (0.9 + 0.2 * gen_rng_unit(r)))));
	}
	memset(f, 0, sizeof(*f));
	f->af = (uint8_t)b->af;
	f->proto = 6;
	/* which way the data goes: flash crowd's requests and CDN's content
	 * come in, backups and update checks go out; companions reverse */
	in = b->kind == GEN_BENIGN_FLASH_CROWD || b->kind == GEN_BENIGN_CDN;
	if (companion)
		in = !in;
	uint64_t pk = b->cur_pkts;
	switch (b->kind) {
	case GEN_BENIGN_FLASH_CROWD: /* request in (small), response out: twice the packets */
		size = companion ? 1300 : 120 + gen_rng_below(r, 400);
		if (companion)
			pk *= 2;
		break;
	case GEN_BENIGN_UPDATE_CHECK: /* request out, small response in */
		size = companion ? 400 : 200;
		break;
	default: /* bulk data, ACKs back (one per 2 packets, at least 1) */
		size = companion ? 40 : 1400;
		if (companion)
			pk = pk / 2 ? pk / 2 : 1;
		break;
	}
	if (b->af == 6 && size < 80)
		size += 20;
	if (in) {
		memcpy(f->src_addr, b->cur_peer, 16);
		memcpy(f->dst_addr, b->cur_host, 16);
		f->src_port = b->cur_pport;
		f->dst_port = b->cur_hport;
		f->in_if = 1;
		f->out_if = 2;
	} else {
		memcpy(f->src_addr, b->cur_host, 16);
		memcpy(f->dst_addr, b->cur_peer, 16);
		f->src_port = b->cur_hport;
		f->dst_port = b->cur_pport;
		f->in_if = 2;
		f->out_if = 1;
	}
	f->packets = pk;
	f->bytes = pk * size;
	f->tcp_flags = size <= 60 ? 0x10 : 0x18;
	f->direction = MM_DIR_INGRESS;
	f->sampling_rate = b->sampling;
	f->packets_scaled = mm_scale(f->packets, b->sampling);
	f->bytes_scaled = mm_scale(f->bytes, b->sampling);
	uint64_t start_ms = t0_ms + b->start_us / 1000;
	uint64_t dur = b->kind == GEN_BENIGN_BACKUP ? (uint64_t)llround(backup_interval_s(b) * 1000)
						    : 1000 + gen_rng_below(r, 5000);
	f->end_ms = t_ms;
	f->start_ms = f->end_ms > dur ? f->end_ms - dur : 0;
	if (f->start_ms < start_ms)
		f->start_ms = start_ms;
	b->k++;
	b->next_us = gen_benign_time_us(b, b->k);
}

const char *gen_benign_target(const struct gen_benign *b, char *buf, size_t len)
{
	if (b->kind == GEN_BENIGN_UPDATE_CHECK)
		return gen_prefix_str(&b->prefix, buf, len);
	return gen_addr_str(b->host, buf, len);
}
