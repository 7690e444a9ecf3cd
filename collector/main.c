/*
 * main.c - mamori-collector: receive flow exports (or read them from a
 * capture) and packets logged by Linux NFLOG, decode them, and dump them as
 * JSON lines or aggregate them into Redis.
 *
 * Everything the daemon holds lives in one struct collector owned by main()
 * and passed down; there are no other mutable globals here.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "mamori/capture.h"
#include "mamori/config.h"
#include "mamori/daemon_metrics.h"
#include "mamori/decode.h"
#include "mamori/dump.h"
#include "mamori/exporters.h"
#include "mamori/intake.h"
#include "mamori/log.h"
#include "mamori/nflog.h"
#include "mamori/pipeline.h"
#include "mamori/privdrop.h"
#include "mamori/reload.h"
#include "mamori/privacy.h"

#ifndef MAMORI_VERSION
#define MAMORI_VERSION "0.1.0"
#endif

#define PROG "mamori-collector"
#define DEFAULT_CONFIG "/etc/mamori/mamori.conf"
#define STATS_INTERVAL_S 10
#define REJECT_SAMPLE 32 /* bytes of a rejected datagram shown in the warning */

struct options {
	const char *config;    /* -c */
	int check;             /* -t */
	int verbose;           /* -v */
	int foreground;        /* -d / -f */
	int dump;              /* --dump */
	const char *read;      /* --read FILE */
	const char *replay;    /* --replay FILE */
	const char *stats_json;/* --stats-json FILE */
	struct mm_listen listen[MM_MAX_LISTEN];
	unsigned nlisten;      /* --listen, overriding the config's */
	int allow_root;        /* --allow-root */
};

struct collector {
	struct options o;
	struct mm_config cfg;
	int have_cfg;
	struct mm_exporters *exps;
	struct event_base *base;
	struct mm_intake *intake;
	struct mm_nflog *nflog;   /* NULL without nflog_group */
	struct event *ev_int, *ev_term, *ev_usr1, *ev_tick, *ev_stats, *ev_step;
	struct mm_pipeline *pipe; /* aggregation + Redis (not in --dump/--read) */
	struct mm_cryptopan *cp;  /* [privacy] pseudonymise: the key, NULL when off */
	struct mm_privacy *priv;  /* protected prefixes and pseudonyms, NULL when neither */
	struct mm_dump dump;
	struct mm_flow_sink sink;
	struct mm_ratelimit reject_rl;
	struct mm_capture_stats cap;
	uint64_t datagrams;      /* every datagram handed to us */
	uint64_t rejected;       /* mm_decode returned -1 */
	uint64_t records;        /* records the decoders emitted */
	uint64_t last_expire_ms; /* --read: capture time of the last expiry run */
	int replay;              /* 1 in --read mode: time is the capture's */
	sigset_t oldmask;        /* signal mask before main blocked ours */
	/* operations: reload, metrics, privileges (docs/operations.md) */
	struct event *ev_hup;
	struct mm_metrics *metrics;   /* NULL: no [collector] metrics */
	struct mm_reload_stats reload;
	struct mm_ratelimit deny_rl;  /* warnings for datagrams the allowlist refuses */
	uint64_t start_s;
};

/* ---- the datagram path ---------------------------------------------- */

static void sink_count(void *arg, const struct mm_flow *f)
{
	struct collector *c = arg;

	(void)f;
	c->records++;
}

/* What may leave the collector (privacy.h): NULL when dropped. */
static inline const struct mm_flow *private_flow(struct collector *c, const struct mm_flow *f, struct mm_flow *tmp)
{
	return c->priv != NULL ? mm_privacy_flow(c->priv, f, tmp) : f;
}

static void sink_pipeline(void *arg, const struct mm_flow *f)
{
	struct collector *c = arg;
	struct mm_flow tmp;

	c->records++;
	if ((f = private_flow(c, f, &tmp)) != NULL)
		mm_pipeline_flow(c->pipe, f);
}

static void sink_dump(void *arg, const struct mm_flow *f)
{
	struct collector *c = arg;
	struct mm_flow tmp;

	c->records++;
	if ((f = private_flow(c, f, &tmp)) != NULL)
		mm_dump_flow(&c->dump, f);
}

static void warn_rejected(struct collector *c, const struct mm_exporter *ex, uint16_t sport,
			  const uint8_t *payload, size_t len, uint64_t now_ms)
{
	char addr[64], hex[2 * REJECT_SAMPLE + 8], more[64] = "";
	uint64_t suppressed = 0;

	if (mm_log_level() < MM_LOG_WARN || !mm_ratelimit_ok(&c->reject_rl, now_ms, &suppressed))
		return;
	if (suppressed > 0)
		snprintf(more, sizeof(more), " (%" PRIu64 " similar warnings suppressed)", suppressed);
	/* A datagram's first bytes can hold flow addresses (a v5 record
	 * starts at byte 24): with pseudonyms on they are not shown. */
	mm_warnx("exporter %s port %u: rejected a %zu-byte datagram: %s; starts %s%s",
		 mm_addr_str(ex->addr, addr, sizeof(addr)), sport, len, ex->err[0] ? ex->err : "?",
		 c->cp != NULL ? "(not shown: addresses are pseudonymised)"
			       : mm_sanitize_hex(payload, len, REJECT_SAMPLE, hex, sizeof(hex)),
		 more);
}

/* Spoofed or misconfigured sources: say so, rate-limited, with a sample. */
static void warn_denied(struct collector *c, const uint8_t src[16], uint16_t sport, const uint8_t *payload,
			size_t len, uint64_t now_ms)
{
	char addr[64], hex[2 * REJECT_SAMPLE + 8], more[64] = "";
	uint64_t suppressed = 0;

	if (c->cfg.allow_unlisted_exporters || mm_log_level() < MM_LOG_WARN ||
	    !mm_ratelimit_ok(&c->deny_rl, now_ms, &suppressed))
		return;
	if (suppressed > 0)
		snprintf(more, sizeof(more), " (%" PRIu64 " similar warnings suppressed)", suppressed);
	mm_warnx("%s port %u: not an allowed exporter (no [exporter] section covers it): dropped a %zu-byte "
		 "datagram starting %s%s",
		 mm_addr_str(src, addr, sizeof(addr)), sport, len,
		 c->cp != NULL ? "(not shown: addresses are pseudonymised)"
			       : mm_sanitize_hex(payload, len, REJECT_SAMPLE, hex, sizeof(hex)),
		 more);
}

static int pipeline_start(struct collector *c, uint64_t now_ms);

/* --replay: the capture's clock drives the steps.  While a step is being
 * written, the replay waits for Redis (back-pressure) rather than queue the
 * whole capture in memory. */
static int replay_tick(struct collector *c, uint64_t ts_ms)
{
	if (c->pipe == NULL && pipeline_start(c, ts_ms) < 0)
		return -1;
	mm_pipeline_tick(c->pipe, ts_ms);
	mm_pipeline_drain(c->pipe, 2, 60000);
	return 0;
}

/* mm_datagram_fn: the one entry point for live and captured datagrams. */
static int on_datagram(void *arg, const uint8_t src[16], int src_af, uint16_t sport, const uint8_t *payload,
		       size_t len, uint64_t ts_ms)
{
	struct collector *c = arg;
	struct mm_exporter *ex;

	(void)src_af;
	c->datagrams++;
	if (c->o.replay != NULL && replay_tick(c, ts_ms) < 0)
		return 1;
	if (c->replay && ts_ms >= c->last_expire_ms + 1000) {
		/* Replay keeps the capture's time: expire on its clock. */
		mm_exporters_expire(c->exps, ts_ms);
		c->last_expire_ms = ts_ms;
	}
	ex = mm_exporters_get(c->exps, src, ts_ms);
	if (ex == NULL) {
		/* refused by the allowlist, or no memory: counted in the table */
		warn_denied(c, src, sport, payload, len, ts_ms);
		return 0;
	}
	if (mm_decode(ex, payload, len, ts_ms, &c->sink) < 0) {
		c->rejected++;
		warn_rejected(c, ex, sport, payload, len, ts_ms);
	}
	if (c->dump.error != 0) {
		if (c->base != NULL)
			event_base_loopexit(c->base, NULL);
		return 1;
	}
	return 0;
}

/* ---- statistics ------------------------------------------------------ */

static int cmp_exporter(const void *a, const void *b)
{
	const struct mm_exporter *x = *(const struct mm_exporter *const *)a;
	const struct mm_exporter *y = *(const struct mm_exporter *const *)b;

	return memcmp(x->addr, y->addr, 16);
}

struct exlist {
	struct mm_exporter **v;
	size_t n, cap;
};

static void exlist_add(void *arg, struct mm_exporter *ex)
{
	struct exlist *l = arg;

	if (l->n < l->cap)
		l->v[l->n++] = ex;
}

/* The exporters sorted by address (so reports are stable); free l->v. */
static int exlist_get(const struct collector *c, struct exlist *l)
{
	l->n = 0;
	l->cap = mm_exporters_count(c->exps);
	l->v = calloc(l->cap ? l->cap : 1, sizeof(*l->v));
	if (l->v == NULL)
		return -1;
	mm_exporters_foreach(c->exps, exlist_add, l);
	qsort(l->v, l->n, sizeof(*l->v), cmp_exporter);
	return 0;
}

static void stats_line(char *buf, size_t len, const struct mm_exporter_stats *st, uint64_t held)
{
	snprintf(buf, len,
		 "datagrams %" PRIu64 " records %" PRIu64 " malformed %" PRIu64 " unsupported %" PRIu64
		 " lost_packets %" PRIu64 " lost_records %" PRIu64 " unknown_template %" PRIu64
		 " unknown_sampling %" PRIu64 " pending %" PRIu64 " pending_lost %" PRIu64
		 " templates %" PRIu64,
		 st->datagrams, st->records, st->malformed, st->unsupported, st->lost_packets, st->lost_records,
		 st->unknown_template, st->unknown_sampling, held, st->pending_dropped + st->pending_expired,
		 st->templates);
	size_t n = strlen(buf);
	if ((st->flow_samples | st->counter_samples) && n < len)
		snprintf(buf + n, len - n,
			 " flow_samples %" PRIu64 " counter_samples %" PRIu64 " sample_drops %" PRIu64,
			 st->flow_samples, st->counter_samples, st->sample_drops);
}

static uint64_t kernel_drops(const struct collector *c)
{
	uint64_t n = 0;

	for (unsigned i = 0; c->intake != NULL && i < mm_intake_nsocks(c->intake); i++)
		n += mm_intake_sock_stats(c->intake, i)->kernel_drops;
	return n;
}

/* Per-exporter, per-socket and total lines, to stderr (final = 1: always,
 * whatever the log level) or through the log at info level. */
static void report(const struct collector *c, int final)
{
	char line[1024], addr[64];
	struct mm_exporter_stats tot;
	const struct mm_exporters_stats *ts = mm_exporters_stats(c->exps);
	struct exlist l;
	uint64_t held = 0;

#define OUT(...)                                                         \
	do {                                                             \
		if (final)                                               \
			fprintf(stderr, PROG ": " __VA_ARGS__);          \
		else                                                     \
			mm_info(__VA_ARGS__);                            \
	} while (0)

	if (exlist_get(c, &l) == 0) {
		for (size_t i = 0; i < l.n; i++) {
			const struct mm_exporter *ex = l.v[i];
			held += ex->npending;
			stats_line(line, sizeof(line), &ex->st, ex->npending);
			OUT("exporter %s: %s%s", mm_addr_str(ex->addr, addr, sizeof(addr)), line, final ? "\n" : "");
		}
		free(l.v);
	}
	mm_intake_refresh_drops(c->intake);
	if (c->pipe != NULL) {
		mm_pipeline_report(c->pipe, line, sizeof(line));
		OUT("%s%s", line, final ? "\n" : "");
	}
	for (unsigned i = 0; c->intake != NULL && i < mm_intake_nsocks(c->intake); i++) {
		const struct mm_intake_sock_stats *s = mm_intake_sock_stats(c->intake, i);
		OUT("socket %s (port %u): rcvbuf %d datagrams %" PRIu64 " bytes %" PRIu64 " kernel_drops %" PRIu64
		    " truncated %" PRIu64 " errors %" PRIu64 "%s",
		    s->listen, s->port, s->rcvbuf, s->datagrams, s->bytes, s->kernel_drops, s->truncated, s->errors,
		    final ? "\n" : "");
	}
	for (unsigned i = 0; i < mm_nflog_ngroups(c->nflog); i++) {
		const struct mm_nflog_group_stats *g = mm_nflog_group_stats(c->nflog, i);
		OUT("nflog group %u: packets %" PRIu64 " records %" PRIu64 " not_ip %" PRIu64 " truncated %" PRIu64
		    " malformed %" PRIu64 " kernel_drops %" PRIu64 "%s",
		    (unsigned)g->group, g->packets, g->records, g->not_ip, g->truncated, g->malformed, g->seq_lost,
		    final ? "\n" : "");
	}
	if (c->nflog != NULL) {
		const struct mm_nflog_stats *ns = mm_nflog_stats(c->nflog);
		OUT("nflog: rcvbuf %d reads %" PRIu64 " bytes %" PRIu64 " enobufs %" PRIu64 " rcvbuf_grown %" PRIu64
		    " errors %" PRIu64 "%s",
		    ns->rcvbuf, ns->reads, ns->bytes, ns->enobufs, ns->rcvbuf_grown, ns->errors, final ? "\n" : "");
	}
	if (c->priv != NULL) {
		const struct mm_privacy_stats *ps = mm_privacy_stats(c->priv);
		OUT("privacy: records %" PRIu64 " privacy_dropped %" PRIu64 " pseudonymised %" PRIu64
		    " cache_hits %" PRIu64 " cache_misses %" PRIu64 " cache_evictions %" PRIu64 " errors %" PRIu64 "%s",
		    ps->records, ps->dropped, ps->pseudonymised, ps->cache_hits, ps->cache_misses, ps->cache_evictions,
		    ps->errors, final ? "\n" : "");
	}
	if (c->replay)
		OUT("capture: frames %" PRIu64 " datagrams %" PRIu64 " skipped_non_udp %" PRIu64
		    " skipped_fragments %" PRIu64 " truncated %" PRIu64 "%s",
		    c->cap.frames, c->cap.datagrams, c->cap.skipped_non_udp, c->cap.skipped_fragments,
		    c->cap.truncated, final ? "\n" : "");
	mm_exporters_totals(c->exps, &tot);
	stats_line(line, sizeof(line), &tot, held);
	OUT("total: exporters %zu (evicted %" PRIu64 ") denied %" PRIu64 " rejected %" PRIu64
	    " kernel_drops %" PRIu64 " %s%s",
	    mm_exporters_count(c->exps), ts->evicted, ts->denied, c->rejected, kernel_drops(c), line,
	    final ? "\n" : "");
#undef OUT
}

static void json_stats(FILE *f, const struct mm_exporter_stats *st)
{
	for (size_t i = 0; i < mm_exporter_nstat_fields; i++)
		fprintf(f, "%s\"%s\":%" PRIu64, i ? "," : "", mm_exporter_stat_fields[i].name, mm_stat_get(st, i));
}

/* The counters as one JSON document, written to path.tmp then renamed. */
static int write_stats_json(const struct collector *c, const char *path)
{
	char tmp[PATH_MAX], addr[64], q[256];
	const struct mm_exporters_stats *ts = mm_exporters_stats(c->exps);
	struct mm_exporter_stats tot;
	struct exlist l;
	FILE *f;
	int bad;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		mm_warnx("%s: path too long", path);
		return -1;
	}
	if (exlist_get(c, &l) < 0)
		return -1;
	f = fopen(tmp, "w");
	if (f == NULL) {
		mm_warn("%s", tmp);
		free(l.v);
		return -1;
	}
	mm_exporters_totals(c->exps, &tot);
	fprintf(f, "{\"datagrams\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"records\":%" PRIu64
		   ",\"dumped\":%" PRIu64 ",\"kernel_drops\":%" PRIu64 ",\n",
		c->datagrams, c->rejected, c->records, c->dump.lines, kernel_drops(c));
	fprintf(f, " \"exporter_table\":{\"present\":%zu,\"created\":%" PRIu64 ",\"evicted\":%" PRIu64
		   ",\"denied\":%" PRIu64 ",\"removed\":%" PRIu64 ",\"alloc_failed\":%" PRIu64 "},\n",
		mm_exporters_count(c->exps), ts->created, ts->evicted, ts->denied, ts->removed, ts->alloc_failed);
	fprintf(f, " \"totals\":{");
	json_stats(f, &tot);
	fprintf(f, "},\n \"exporters\":[");
	for (size_t i = 0; i < l.n; i++) {
		const struct mm_exporter *ex = l.v[i];
		mm_addr_str(ex->addr, addr, sizeof(addr));
		fprintf(f, "%s\n  {\"exporter\":\"%s\",\"af\":%u,\"pending_held\":%u,", i ? "," : "", addr,
			(unsigned)ex->af, (unsigned)ex->npending);
		json_stats(f, &ex->st);
		fprintf(f, "}");
	}
	fprintf(f, "],\n \"sockets\":[");
	for (unsigned i = 0; c->intake != NULL && i < mm_intake_nsocks(c->intake); i++) {
		const struct mm_intake_sock_stats *s = mm_intake_sock_stats(c->intake, i);
		mm_json_string(q, sizeof(q), s->listen, strlen(s->listen));
		fprintf(f, "%s\n  {\"listen\":%s,\"port\":%u,\"rcvbuf\":%d,\"datagrams\":%" PRIu64
			   ",\"bytes\":%" PRIu64 ",\"kernel_drops\":%" PRIu64 ",\"truncated\":%" PRIu64
			   ",\"batches\":%" PRIu64 ",\"full_batches\":%" PRIu64 ",\"yields\":%" PRIu64
			   ",\"errors\":%" PRIu64 "}",
			i ? "," : "", q, s->port, s->rcvbuf, s->datagrams, s->bytes, s->kernel_drops, s->truncated,
			s->batches, s->full_batches, s->yields, s->errors);
	}
	fprintf(f, "]");
	if (c->nflog != NULL) {
		const struct mm_nflog_stats *ns = mm_nflog_stats(c->nflog);
		fprintf(f, ",\n \"nflog\":{\"rcvbuf\":%d,\"copy_range\":%" PRIu32 ",\"sampling_rate\":%" PRIu32
			   ",\"reads\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"enobufs\":%" PRIu64
			   ",\"rcvbuf_grown\":%" PRIu64 ",\"errors\":%" PRIu64 ",\"yields\":%" PRIu64 ",\"groups\":[",
			ns->rcvbuf, ns->copy_range, ns->sampling_rate, ns->reads, ns->bytes, ns->enobufs,
			ns->rcvbuf_grown, ns->errors, ns->yields);
		for (unsigned i = 0; i < mm_nflog_ngroups(c->nflog); i++) {
			const struct mm_nflog_group_stats *g = mm_nflog_group_stats(c->nflog, i);
			fprintf(f, "%s\n  {\"group\":%u,\"packets\":%" PRIu64 ",\"records\":%" PRIu64
				   ",\"not_ip\":%" PRIu64 ",\"truncated\":%" PRIu64 ",\"malformed\":%" PRIu64
				   ",\"kernel_drops\":%" PRIu64 "}",
				i ? "," : "", (unsigned)g->group, g->packets, g->records, g->not_ip, g->truncated,
				g->malformed, g->seq_lost);
		}
		fprintf(f, "]}");
	}
	if (c->priv != NULL) {
		const struct mm_privacy_stats *ps = mm_privacy_stats(c->priv);
		fprintf(f, ",\n \"privacy\":{\"protected_prefixes\":%u,\"pseudonymise\":%s,\"cache_entries_v4\":%" PRIu32
			   ",\"cache_entries_v6\":%" PRIu32
			   ",\"records\":%" PRIu64 ",\"privacy_dropped\":%" PRIu64 ",\"pseudonymised\":%" PRIu64
			   ",\"cache_hits\":%" PRIu64 ",\"cache_misses\":%" PRIu64 ",\"cache_evictions\":%" PRIu64
			   ",\"errors\":%" PRIu64 "}",
			c->cfg.nprotect, c->cp != NULL ? "true" : "false", mm_privacy_cache_size(c->priv, 4),
			mm_privacy_cache_size(c->priv, 6), ps->records,
			ps->dropped, ps->pseudonymised, ps->cache_hits, ps->cache_misses, ps->cache_evictions, ps->errors);
	}
	if (c->replay) {
		/* the capture read: --read or --replay */
		const char *file = c->o.read != NULL ? c->o.read : c->o.replay != NULL ? c->o.replay : "";

		mm_json_string(q, sizeof(q), file, strlen(file));
		fprintf(f, ",\n \"capture\":{\"file\":%s,\"frames\":%" PRIu64 ",\"datagrams\":%" PRIu64
			   ",\"skipped_non_udp\":%" PRIu64 ",\"skipped_fragments\":%" PRIu64
			   ",\"truncated\":%" PRIu64 "}",
			q, c->cap.frames, c->cap.datagrams, c->cap.skipped_non_udp, c->cap.skipped_fragments,
			c->cap.truncated);
	}
	fprintf(f, "}\n");
	free(l.v);
	bad = ferror(f);
	if (fclose(f) != 0 || bad) {
		mm_warnx("%s: write failed", tmp);
		unlink(tmp);
		return -1;
	}
	if (rename(tmp, path) < 0) {
		mm_warn("rename %s", path);
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* ---- events ------------------------------------------------------------ */

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- operations: metrics, reload ------------------------------------- */

static void fill_metrics(void *arg, struct mm_metrics_out *o)
{
	struct collector *c = arg;
	struct mm_collector_status st = { &c->cfg, c->exps, c->intake, c->nflog, c->pipe,
					  c->datagrams, c->rejected, c->records };

	mm_metrics_process(o, PROG, MAMORI_VERSION, c->start_s, &c->reload);
	mm_collector_metrics(o, &st);
}

/* Unhealthy: Redis not ready (intake goes on, the windows are queued). */
static int health(void *arg, char *why, size_t len)
{
	struct collector *c = arg;

	if (c->pipe != NULL && !mm_pipeline_writer_stats(c->pipe)->connected) {
		snprintf(why, len, "redis not connected (%" PRIu32 " steps queued)",
			 mm_pipeline_writer_stats(c->pipe)->steps_pending);
		return -1;
	}
	return 0;
}

/* Keys a running collector cannot change: they size its memory, or bind
 * what needs the privileges it gave up. */
static const struct mm_config_field collector_fixed[] = {
	MM_CONFIG_FIELD("[collector] batch", batch),
	MM_CONFIG_FIELD("[collector] nflog_group", nflog_groups),
	MM_CONFIG_FIELD("[collector] nflog_group", nflog_ngroups),
	MM_CONFIG_FIELD("[collector] nflog_sampling_rate", nflog_sampling_rate),
	MM_CONFIG_FIELD("[collector] nflog_copy_range", nflog_copy_range),
	MM_CONFIG_FIELD("[limits]", limits),
	MM_CONFIG_FIELD("[redis] queue_max_mb", redis_queue_max_mb),
	MM_CONFIG_FIELD("[redis] stall_timeout", redis_stall_timeout_s),
	MM_CONFIG_FIELD("[redis] backoff_max", redis_backoff_max_s),
	MM_CONFIG_FIELD("[window] step", step_s),
	MM_CONFIG_FIELD("[window] steps", window_steps),
	MM_CONFIG_FIELD("[window] late_steps", late_steps),
	MM_CONFIG_FIELD("[window] max_hosts", max_hosts),
	MM_CONFIG_FIELD("[window] max_external", max_external),
	MM_CONFIG_FIELD("[window] external_min_flows", external_min_flows),
	MM_CONFIG_FIELD("[daemon] user", daemon_user),
	MM_CONFIG_FIELD("[daemon] group", daemon_group),
	MM_CONFIG_FIELD("[daemon] allow_root", allow_root),
	/* the fast path's table and connection are sized and opened at start;
	 * its groups' ceilings follow a reload */
	MM_CONFIG_FIELD("[fastpath] enabled", fast_enabled),
	MM_CONFIG_FIELD("[fastpath] interval_ms", fast_interval_ms),
	MM_CONFIG_FIELD("[fastpath] check_ms", fast_check_ms),
	MM_CONFIG_FIELD("[fastpath] stream", fast_stream),
	MM_CONFIG_FIELD("[fastpath] stream_maxlen", fast_stream_maxlen),
	/* the key was read before the privileges were given up; the cache
	 * sizes memory */
	MM_CONFIG_FIELD("[privacy] pseudonymise", pseudonymise),
	MM_CONFIG_FIELD("[privacy] key_file", privacy_key_file),
	MM_CONFIG_FIELD("[privacy] cache_entries", pseudonym_cache),
};

/* [privacy] for a reload, prepared apart (nothing running changes): next's
 * groups mapped through the running key, its protected prefixes built. */
static int privacy_prepare(struct collector *c, struct mm_config *next, struct mm_protect **prot,
			   struct mm_privacy **fresh)
{
	char err[1024];

	if (c->cp != NULL && mm_privacy_map_groups(next, c->cp, err, sizeof(err)) < 0) {
		mm_warnx("reload: %s", err);
		return -1;
	}
	if (c->priv != NULL)
		*prot = mm_protect_new(next->protect, next->nprotect);
	else if (next->nprotect > 0)
		*fresh = mm_privacy_new(next->protect, next->nprotect, NULL, 0);
	if ((c->priv != NULL && *prot == NULL) || (c->priv == NULL && next->nprotect > 0 && *fresh == NULL)) {
		mm_warnx("reload: cannot set up the protected prefixes (out of memory)");
		return -1;
	}
	return 0;
}

/* ... and put in place (cannot fail); *prot gets the old set to free. */
static void privacy_install(struct collector *c, struct mm_protect **prot, struct mm_privacy **fresh)
{
	if (*prot != NULL)
		mm_privacy_swap_protect(c->priv, prot);
	if (*fresh != NULL) {
		c->priv = *fresh;
		*fresh = NULL;
	}
}

/* A metrics server for next's address: the running one when it stays,
 * a new one when it moves (*fresh = 1), NULL when there is none. */
static int metrics_for(struct collector *c, const struct mm_listen *want, struct mm_metrics **out, int *fresh)
{
	return mm_metrics_for(c->base, c->metrics, want, fill_metrics, health, c, out, fresh);
}

/*
 * SIGHUP: parse into a new config, validate, then apply in an order that
 * can be undone: metrics (a new address is bound beside the old), the
 * listeners (new ones bound before removed ones close), the monitored
 * prefixes (open steps stay: windows survive); only then is the config
 * swapped and the rest (exporter rates and allowlist, Redis settings,
 * log level) follows it.  Decoder state, windows and queued steps are
 * never touched.
 */
static void reload_config(struct collector *c)
{
	struct mm_config next, old;
	struct mm_metrics *m = NULL;
	struct mm_protect *prot = NULL;
	struct mm_privacy *fresh_priv = NULL;
	const struct mm_listen *ls;
	unsigned nls, added = 0, removed = 0;
	int fresh = 0;
	char err[512];

	if (!c->have_cfg || c->o.config == NULL) {
		mm_warnx("reload: running on built-in defaults (no -c): nothing to reload");
		return;
	}
	mm_info("SIGHUP: reloading %s", c->cfg.path);
	if (mm_reload_load(c->cfg.path, &next) < 0) {
		mm_reload_done(&c->reload, c->cfg.path, 0);
		return;
	}
	mm_reload_keep(&next, &c->cfg, collector_fixed, sizeof(collector_fixed) / sizeof(collector_fixed[0]));
	if (privacy_prepare(c, &next, &prot, &fresh_priv) < 0)
		goto refused;
	ls = c->o.nlisten > 0 ? c->o.listen : next.listen; /* --listen stays in force */
	nls = c->o.nlisten > 0 ? c->o.nlisten : next.nlisten;
	if (c->intake == NULL)
		nls = 0; /* --dump of a capture: no sockets */
	if (metrics_for(c, &next.collector_metrics, &m, &fresh) < 0)
		goto refused;
	if (c->intake != NULL &&
	    mm_intake_reconfigure(c->intake, ls, nls, next.rcvbuf, &added, &removed, err, sizeof(err)) < 0) {
		mm_warnx("reload: %s", err);
		goto refused;
	}
	if (c->pipe != NULL && mm_pipeline_reconfigure(c->pipe, &next) < 0) {
		mm_warnx("reload: cannot set up the new host groups (out of memory)");
		/* Put the listeners back as they were (those closed are bound again). */
		if (c->intake != NULL && mm_intake_reconfigure(c->intake, c->o.nlisten > 0 ? c->o.listen : c->cfg.listen,
							       c->o.nlisten > 0 ? c->o.nlisten : c->cfg.nlisten,
							       c->cfg.rcvbuf, NULL, NULL, err, sizeof(err)) < 0)
			mm_warnx("reload: listeners not restored: %s", err);
		goto refused;
	}
	/* Committed from here on. */
	old = c->cfg;
	c->cfg = next;
	if (c->o.nlisten > 0) {
		memcpy(c->cfg.listen, c->o.listen, sizeof(c->o.listen));
		c->cfg.nlisten = c->o.nlisten;
	}
	mm_exporters_reconfigure(c->exps, &c->cfg);
	privacy_install(c, &prot, &fresh_priv);
	mm_protect_free(prot);
	if (c->pipe != NULL)
		mm_pipeline_reconfigured(c->pipe);
	if (m != c->metrics) {
		mm_metrics_free(c->metrics);
		c->metrics = m;
	}
	mm_log_set_level(c->o.verbose ? MM_LOG_DEBUG : c->cfg.log_level);
	mm_config_free(&old);
	if (added || removed)
		mm_info("reload: %u listener%s added, %u removed", added, added == 1 ? "" : "s", removed);
	mm_reload_done(&c->reload, c->cfg.path, 1);
	return;
refused:
	if (fresh)
		mm_metrics_free(m);
	mm_protect_free(prot);
	mm_privacy_free(fresh_priv);
	mm_config_free(&next);
	mm_warnx("reload: %s could not be applied; keeping the running configuration", c->cfg.path);
	mm_reload_done(&c->reload, c->cfg.path, 0);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct collector *c = arg;

	(void)what;
	if (sig == SIGHUP) {
		reload_config(c);
		return;
	}
	if (sig == SIGUSR1) {
		report(c, 0);
		return;
	}
	mm_info("%s: shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopexit(c->base, NULL);
}

/* Once a second: pending sets that waited too long, and the dump output. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct collector *c = arg;

	(void)fd;
	(void)what;
	mm_exporters_expire(c->exps, wall_ms());
	if (c->o.dump && fflush(stdout) != 0 && c->dump.error == 0)
		c->dump.error = errno != 0 ? errno : EIO;
	if (c->dump.error != 0)
		event_base_loopexit(c->base, NULL);
}

/* Several times a step: close the steps that are due (cheap otherwise). */
static void on_step(evutil_socket_t fd, short what, void *arg)
{
	struct collector *c = arg;

	(void)fd;
	(void)what;
	mm_pipeline_tick(c->pipe, wall_ms());
}

static void on_stats(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	report(arg, 0);
}

/* ---- set-up and tear-down --------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: " PROG " [-dfhtvV] [-c FILE] [--listen ADDR:PORT]... [--dump] [--read FILE]\n"
		"                        [--replay FILE] [--stats-json FILE]\n"
		"  -c, --config FILE    configuration (default " DEFAULT_CONFIG ")\n"
		"  -t                   check the configuration and exit (0 = valid)\n"
		"  -v                   with -t: print the normalised configuration; else debug logging\n"
		"  -d, -f               stay in the foreground, log to stderr\n"
		"      --allow-root     run as root when no [daemon] user is set (tests, containers)\n"
		"      --dump           foreground, no Redis: print every flow as a JSON line on\n"
		"                       stdout (docs/dump.md); statistics and logs on stderr\n"
		"      --listen A:P     listen on A:P instead of the configured addresses\n"
		"                       (repeatable; ADDR:PORT, [V6ADDR]:PORT or :PORT)\n"
		"      --read FILE      decode the export datagrams in a pcap/pcapng file, dump them\n"
		"                       and exit (\"-\" = stdin); exporters are the datagrams' sources\n"
		"      --replay FILE    aggregate the flows of a capture into Redis on the capture's\n"
		"                       own clock (deterministic), wait until written, exit\n"
		"      --stats-json F   on exit, write the counters as JSON to F\n"
		"  -h, --help           this help\n"
		"  -V, --version        print the version\n"
		"In --dump and --read modes without -c, built-in defaults are used.\n");
}

enum { OPT_DUMP = 256, OPT_LISTEN, OPT_READ, OPT_REPLAY, OPT_STATS_JSON, OPT_ALLOW_ROOT };

/* 0 = go on, 1 = exit 0 (help/version), -1 = exit 1. */
static int parse_args(struct options *o, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dump", no_argument, NULL, OPT_DUMP },
		{ "listen", required_argument, NULL, OPT_LISTEN },
		{ "read", required_argument, NULL, OPT_READ },
		{ "replay", required_argument, NULL, OPT_REPLAY },
		{ "stats-json", required_argument, NULL, OPT_STATS_JSON },
		{ "allow-root", no_argument, NULL, OPT_ALLOW_ROOT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *why;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:dfhtvV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'd':
		case 'f': o->foreground = 1; break;
		case 't': o->check = 1; break;
		case 'v': o->verbose = 1; break;
		case OPT_DUMP: o->dump = 1; break;
		case OPT_READ: o->read = optarg; break;
		case OPT_REPLAY: o->replay = optarg; break;
		case OPT_STATS_JSON: o->stats_json = optarg; break;
		case OPT_ALLOW_ROOT: o->allow_root = 1; break;
		case OPT_LISTEN:
			if (o->nlisten >= MM_MAX_LISTEN) {
				fprintf(stderr, PROG ": at most %d --listen\n", MM_MAX_LISTEN);
				return -1;
			}
			if (mm_listen_parse(optarg, &o->listen[o->nlisten], &why) < 0) {
				fprintf(stderr, PROG ": --listen %s: %s\n", optarg, why);
				return -1;
			}
			o->nlisten++;
			break;
		case 'h': usage(stdout); return 1;
		case 'V': printf(PROG " " MAMORI_VERSION "\n"); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return -1;
	}
	if (o->replay != NULL && (o->read != NULL || o->dump)) {
		fprintf(stderr, PROG ": --replay writes to Redis; it does not go with --read or --dump\n");
		return -1;
	}
	if (o->read != NULL)
		o->dump = 1;
	if (o->replay != NULL)
		o->foreground = 1;
	if (o->dump)
		o->foreground = 1;
	return 0;
}

/* -c, the default file, or (dump/read without -c) the built-in defaults. */
static int load_config(struct collector *c)
{
	const char *path = c->o.config;

	if (path == NULL && c->o.dump && !c->o.check) {
		mm_config_defaults(&c->cfg);
		c->have_cfg = 1;
		return 0;
	}
	if (path == NULL)
		path = DEFAULT_CONFIG;
	c->have_cfg = 1; /* mm_config_load initialises it, even on failure */
	if (mm_config_load(&c->cfg, path, stderr) != 0)
		return -1;
	return 0;
}

/* [privacy]: the key (its file checked), the groups mapped to
 * pseudonyms, the filter every record passes before it leaves. */
static int privacy_start(struct collector *c)
{
	char err[1024];

	if (mm_privacy_setup(&c->cfg, &c->cp, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return -1;
	}
	if (c->o.check || (c->cp == NULL && c->cfg.nprotect == 0))
		return 0;
	c->priv = mm_privacy_new(c->cfg.protect, c->cfg.nprotect, c->cp, c->cp != NULL ? c->cfg.pseudonym_cache : 0);
	if (c->priv == NULL) {
		fprintf(stderr, PROG ": privacy: out of memory (cache_entries %" PRIu32 ")\n", c->cfg.pseudonym_cache);
		return -1;
	}
	mm_info("privacy: %u protected prefix%s; addresses %s", c->cfg.nprotect, c->cfg.nprotect == 1 ? "" : "es",
		c->cp != NULL ? "pseudonymised (Crypto-PAn)" : "kept");
	if (c->cp != NULL)
		mm_info("privacy: pseudonym cache of %" PRIu32 " IPv4 and %" PRIu32 " IPv6 entries (%zu KiB)",
			mm_privacy_cache_size(c->priv, 4), mm_privacy_cache_size(c->priv, 6), mm_privacy_memory(c->priv) >> 10);
	return 0;
}

/* Aggregation and Redis behind the decoders; decoder state from Redis. */
static int pipeline_start(struct collector *c, uint64_t now_ms)
{
	char err[512];
	long n;

	c->pipe = mm_pipeline_new(c->base, &c->cfg, c->exps, now_ms, err, sizeof(err));
	if (c->pipe == NULL) {
		mm_warnx("%s", err);
		return -1;
	}
	if (c->cfg.ngroups == 0)
		mm_warnx("no [group] section: no address is monitored; only external sources that "
			 "stand out are tracked");
	n = mm_pipeline_load_state(c->pipe, err, sizeof(err));
	if (n < 0)
		mm_warnx("no stored decoder state (%s): learning templates from the wire", err);
	else
		mm_info("loaded %ld stored template and sampling items", n);
	c->sink.emit = sink_pipeline;
	c->sink.arg = c;
	return 0;
}

/* Shutdown: close the open steps and wait (bounded) until Redis has them. */
static int pipeline_finish(struct collector *c, uint64_t now_ms)
{
	if (c->pipe == NULL)
		return 0;
	mm_pipeline_close(c->pipe, now_ms);
	return mm_pipeline_drain(c->pipe, 0, (c->cfg.redis_stall_timeout_s + 5) * 1000u);
}

static int run_replay(struct collector *c)
{
	char err[512];
	int r;

	sigprocmask(SIG_SETMASK, &c->oldmask, NULL);
	c->base = event_base_new();
	if (c->base == NULL) {
		mm_warnx("event_base_new failed");
		return -1;
	}
	c->replay = 1;
	r = mm_capture_read(c->o.replay, on_datagram, c, &c->cap, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, PROG ": %s\n", err);
	if (c->pipe == NULL)
		return r < 0 ? -1 : 0; /* nothing in the capture */
	mm_exporters_expire(c->exps, UINT64_MAX);
	/* the last step ends at the capture's last datagram */
	if (pipeline_finish(c, c->last_expire_ms) < 0)
		return -1;
	return r < 0 ? -1 : 0;
}

static int run_read(struct collector *c)
{
	char err[512];
	int r;

	/* No event loop here: the signals keep their usual effect. */
	sigprocmask(SIG_SETMASK, &c->oldmask, NULL);
	c->replay = 1;
	r = mm_capture_read(c->o.read, on_datagram, c, &c->cap, err, sizeof(err));
	/* The capture is over: a data set still waiting for its template
	 * will never get it (counted as expired / unknown template). */
	mm_exporters_expire(c->exps, UINT64_MAX);
	if (fflush(stdout) != 0 && c->dump.error == 0)
		c->dump.error = errno != 0 ? errno : EIO;
	if (r < 0)
		fprintf(stderr, PROG ": %s\n", err);
	return r < 0 ? -1 : 0;
}

static int run_live(struct collector *c)
{
	char err[512];
	struct timeval one = { 1, 0 }, stats = { STATS_INTERVAL_S, 0 };

	/* NFLOG first: binding a group needs CAP_NET_ADMIN, so it is done
	 * while privileged, before anything else is set up. */
	if (c->cfg.nflog_ngroups > 0) {
		const struct mm_nflog_stats *ns;
		char groups[MM_MAX_NFLOG_GROUPS * 7] = "";
		size_t gl = 0;

		c->nflog = mm_nflog_new(&c->cfg, &c->sink, err, sizeof(err));
		if (c->nflog == NULL) {
			mm_warnx("%s", err);
			return -1;
		}
		for (unsigned i = 0; i < c->cfg.nflog_ngroups && gl < sizeof(groups); i++)
			gl += (size_t)snprintf(groups + gl, sizeof(groups) - gl, "%s%u", i ? ", " : "",
					       (unsigned)c->cfg.nflog_groups[i]);
		ns = mm_nflog_stats(c->nflog);
		mm_info("nflog group%s %s: copy range %" PRIu32 " bytes, sampling 1:%" PRIu32
			", receive buffer %d bytes as the kernel counts it",
			c->cfg.nflog_ngroups > 1 ? "s" : "", groups, ns->copy_range, ns->sampling_rate, ns->rcvbuf);
	}
	c->intake = mm_intake_new(c->cfg.listen, c->cfg.nlisten, c->cfg.rcvbuf, c->cfg.batch, on_datagram, c, err,
				  sizeof(err));
	if (c->intake == NULL) {
		mm_warnx("%s", err);
		return -1;
	}
	for (unsigned i = 0; i < mm_intake_nsocks(c->intake); i++) {
		const struct mm_intake_sock_stats *s = mm_intake_sock_stats(c->intake, i);
		mm_info("listening on %s (port %u), receive buffer %d bytes as the kernel counts it "
			"(asked for %" PRIu32 "%s)%s",
			s->listen, s->port, s->rcvbuf, c->cfg.rcvbuf, s->rcvbuf_forced ? ", forced" : "",
			s->rxq_ovfl ? "" : ", kernel drops not visible");
		/* Linux reports twice what it was asked for. */
		if (c->cfg.rcvbuf > 0 && (uint64_t)s->rcvbuf / 2 < c->cfg.rcvbuf)
			mm_warnx("%s: asked for a %" PRIu32 "-byte receive buffer, got %d: raise "
				 "net.core.rmem_max or run as root",
				 s->listen, c->cfg.rcvbuf, s->rcvbuf / 2);
	}
	if (!c->o.foreground) {
		mm_log_init(PROG, 0, mm_log_level());
		if (daemon(0, 0) < 0) {
			mm_warn("daemon");
			return -1;
		}
	}

	c->base = event_base_new();
	if (c->base == NULL) {
		mm_warnx("event_base_new failed");
		return -1;
	}
	{
		/* The last privileged steps: the metrics socket, then giving up
		 * root before anything reads from the network. */
		struct mm_privdrop pd;
		int fresh, r;

		if (metrics_for(c, &c->cfg.collector_metrics, &c->metrics, &fresh) < 0)
			return -1;
		memset(&pd, 0, sizeof(pd));
		snprintf(pd.user, sizeof(pd.user), "%s", c->cfg.daemon_user);
		snprintf(pd.group, sizeof(pd.group), "%s", c->cfg.daemon_group);
		pd.allow_root = c->cfg.allow_root || c->o.allow_root;
		r = mm_privdrop(&pd, err, sizeof(err));
		if (r < 0) {
			mm_warnx("%s", err);
			return -1;
		}
		if (r == MM_PRIV_DROPPED)
			mm_info("running as %s (uid %u, gid %u)", pd.user, (unsigned)getuid(), (unsigned)getgid());
		else if (r == MM_PRIV_ROOT_ALLOWED)
			mm_warnx("running as root: allowed by %s", c->o.allow_root ? "--allow-root" : "[daemon] allow_root");
	}
	c->ev_hup = evsignal_new(c->base, SIGHUP, on_signal, c);
	c->ev_int = evsignal_new(c->base, SIGINT, on_signal, c);
	c->ev_term = evsignal_new(c->base, SIGTERM, on_signal, c);
	c->ev_usr1 = evsignal_new(c->base, SIGUSR1, on_signal, c);
	c->ev_tick = event_new(c->base, -1, EV_PERSIST, on_tick, c);
	c->ev_stats = event_new(c->base, -1, EV_PERSIST, on_stats, c);
	if (!c->ev_hup || !c->ev_int || !c->ev_term || !c->ev_usr1 || !c->ev_tick || !c->ev_stats ||
	    event_add(c->ev_hup, NULL) < 0 || event_add(c->ev_int, NULL) < 0 || event_add(c->ev_term, NULL) < 0 || event_add(c->ev_usr1, NULL) < 0 ||
	    event_add(c->ev_tick, &one) < 0 || event_add(c->ev_stats, &stats) < 0) {
		mm_warnx("cannot set up the event loop");
		return -1;
	}
	if (!c->o.dump) {
		/* at least 4 times a second; as often as the fast path checks */
		uint32_t tick_ms = c->cfg.fast_enabled && c->cfg.fast_check_ms < 250 ? c->cfg.fast_check_ms : 250;
		struct timeval quarter = { 0, (suseconds_t)tick_ms * 1000 };
		if (pipeline_start(c, wall_ms()) < 0)
			return -1;
		c->ev_step = event_new(c->base, -1, EV_PERSIST, on_step, c);
		if (c->ev_step == NULL || event_add(c->ev_step, &quarter) < 0) {
			mm_warnx("cannot set up the step timer");
			return -1;
		}
	}
	if (mm_intake_start(c->intake, c->base, err, sizeof(err)) < 0 ||
	    mm_nflog_start(c->nflog, c->base, err, sizeof(err)) < 0) {
		mm_warnx("%s", err);
		return -1;
	}
	/* The handlers are in place: a signal held since start-up comes now. */
	sigprocmask(SIG_SETMASK, &c->oldmask, NULL);
	if (event_base_dispatch(c->base) < 0) {
		mm_warnx("event loop failed");
		return -1;
	}
	if (c->o.dump && fflush(stdout) != 0 && c->dump.error == 0)
		c->dump.error = errno != 0 ? errno : EIO;
	if (c->pipe != NULL) {
		/* Stop reading, then hand what was counted to Redis. */
		mm_intake_stop(c->intake);
		mm_nflog_stop(c->nflog);
		if (pipeline_finish(c, wall_ms()) < 0)
			return -1;
	}
	return 0;
}

static void teardown(struct collector *c)
{
	struct event *evs[] = { c->ev_int, c->ev_term, c->ev_usr1, c->ev_tick, c->ev_stats, c->ev_step, c->ev_hup };

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	mm_metrics_free(c->metrics);
	mm_intake_free(c->intake);
	mm_nflog_free(c->nflog);
	mm_pipeline_free(c->pipe);
	mm_privacy_free(c->priv);
	mm_cryptopan_free(c->cp);
	if (c->base != NULL)
		event_base_free(c->base);
	mm_exporters_free(c->exps);
	if (c->have_cfg)
		mm_config_free(&c->cfg);
	libevent_global_shutdown();
}

int main(int argc, char **argv)
{
	static char outbuf[1 << 16];
	struct collector c;
	char abspath[PATH_MAX];
	int r, status = 0;

	memset(&c, 0, sizeof(c));
	/*
	 * Hold SIGINT/SIGTERM/SIGUSR1 until libevent handles them, so that one
	 * sent while starting up (a script that saw the port bound) is not
	 * lost: Linux keeps a blocked signal pending even where its action is
	 * "ignore" (as for background jobs of a non-interactive shell) and the
	 * handler installed meanwhile then runs.
	 */
	{
		sigset_t ours;
		sigemptyset(&ours);
		sigaddset(&ours, SIGINT);
		sigaddset(&ours, SIGTERM);
		sigaddset(&ours, SIGUSR1);
		sigaddset(&ours, SIGHUP);
		sigprocmask(SIG_BLOCK, &ours, &c.oldmask);
	}
	mm_log_init(PROG, 1, MM_LOG_INFO);
	r = parse_args(&c.o, argc, argv);
	if (r != 0)
		return r > 0 ? 0 : 1;

	if (load_config(&c) < 0) {
		if (c.have_cfg)
			mm_config_free(&c.cfg);
		return 1;
	}
	if (c.o.check) {
		/* printed as written, before the groups are mapped to pseudonyms */
		if (c.o.verbose)
			mm_config_print(&c.cfg, stdout);
		r = privacy_start(&c);
		if (r == 0 && !c.o.verbose)
			fprintf(stderr, PROG ": %s: configuration OK\n", c.cfg.path);
		mm_cryptopan_free(c.cp);
		mm_config_free(&c.cfg);
		return r == 0 ? 0 : 1;
	}
	if (privacy_start(&c) < 0) {
		mm_cryptopan_free(c.cp);
		mm_config_free(&c.cfg);
		return 1;
	}
	if (c.o.nlisten > 0) {
		memcpy(c.cfg.listen, c.o.listen, sizeof(c.o.listen));
		c.cfg.nlisten = c.o.nlisten;
	}
	mm_log_set_level(c.o.verbose ? MM_LOG_DEBUG : c.cfg.log_level);
	/* daemon() changes to /: keep a relative --stats-json meaning what it said. */
	if (c.o.stats_json != NULL && c.o.stats_json[0] != '/' && !c.o.foreground &&
	    getcwd(abspath, sizeof(abspath)) != NULL) {
		size_t n = strlen(abspath);
		if (n + 1 + strlen(c.o.stats_json) < sizeof(abspath)) {
			abspath[n] = '/';
			strcpy(abspath + n + 1, c.o.stats_json);
			c.o.stats_json = abspath;
		}
	}

	/* A closed stdout is a write error, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	if (c.o.dump)
		setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	mm_dump_init(&c.dump, stdout);
	c.sink.emit = c.o.dump ? sink_dump : sink_count;
	c.sink.arg = &c;
	mm_ratelimit_init(&c.reject_rl, 1.0, 10.0);
	mm_ratelimit_init(&c.deny_rl, 1.0, 10.0);
	c.start_s = (uint64_t)time(NULL);

	c.exps = mm_exporters_new(&c.cfg);
	if (c.exps == NULL) {
		mm_warnx("out of memory");
		teardown(&c);
		return 1;
	}

	if (c.o.replay != NULL)
		r = run_replay(&c);
	else if (c.o.read != NULL)
		r = run_read(&c);
	else
		r = run_live(&c);
	if (r < 0)
		status = 1;
	if (c.dump.error != 0 && c.dump.error != EPIPE) {
		mm_warnx("writing flows to stdout: %s", strerror(c.dump.error));
		status = 1;
	}
	/* Counters are worth showing once anything came in (a capture cut
	 * short still decoded what was before the cut). */
	if (r == 0 || c.cap.frames > 0) {
		report(&c, c.o.dump);
		if (c.o.stats_json != NULL && write_stats_json(&c, c.o.stats_json) < 0)
			status = 1;
	}
	teardown(&c);
	return status;
}
