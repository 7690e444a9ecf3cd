/*
 * pipeline.c - aggregation and Redis behind the decoders, on one step clock.
 * The glue between aggregate.c, redis_writer.c and persist.c; main.c only
 * creates it, feeds it records and ticks it.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include "mamori/fast_sender.h"
#include "mamori/log.h"
#include "mamori/pipeline.h"
#include "mamori/redis_schema.h"

struct mm_pipeline {
	struct event_base *base;
	const struct mm_config *cfg;
	struct mm_exporters *exps;
	struct mm_agg *agg;
	struct mm_redis_writer *writer;
	struct mm_fast *fast;     /* NULL: [fastpath] off, or nothing monitored */
	struct mm_fast_sender *fsend;
	uint64_t check_ms, last_check; /* the fast path's check: bucket of the last one */
	struct mm_step_sink sink;
	uint64_t step_ms;
	uint64_t last_step;       /* step of the last tick */
	uint64_t persist_every_ms;/* re-export decoder state this often (keys have a TTL) */
	/* scratch for exporter statistics, grown as exporters come */
	struct mm_redis_exporter *xs;
	size_t nxs, capxs;
	uint64_t now_ms;
};

struct mm_pipeline *mm_pipeline_new(struct event_base *base, const struct mm_config *cfg,
				    struct mm_exporters *exps, uint64_t now_ms, char *err, size_t errlen)
{
	struct mm_pipeline *p = calloc(1, sizeof(*p));
	struct mm_agg_config ac;
	struct mm_redis_writer_opts wo;

	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->base = base;
	p->cfg = cfg;
	p->exps = exps;
	p->step_ms = (uint64_t)cfg->step_s * 1000u;
	p->last_step = now_ms / p->step_ms;
	p->now_ms = now_ms;
	/* Half the retention, so the state never expires while in use. */
	p->persist_every_ms = (uint64_t)cfg->retention_s * 500u;

	mm_agg_config_default(&ac);
	ac.step_ms = (uint32_t)p->step_ms;
	ac.late_steps = cfg->late_steps;
	ac.max_hosts = cfg->max_hosts;
	ac.max_external = cfg->max_external;
	ac.external_min_flows = cfg->external_min_flows;
	ac.prefixes = cfg->group_prefixes;
	ac.prefix_group = cfg->group_prefix_group;
	ac.nprefixes = cfg->ngroup_prefixes;
	if (cfg->fast_enabled && cfg->ngroups > 0) {
		struct mm_fast_params fp;

		mm_fast_params_from_config(&fp, cfg);
		p->fast = mm_fast_new(&fp, now_ms);
		if (p->fast == NULL) {
			snprintf(err, errlen, "cannot set up the fast path for %" PRIu32 " hosts (out of memory?)",
				 cfg->max_hosts);
			goto err;
		}
		p->fsend = mm_fast_sender_new(base, cfg, err, errlen);
		if (p->fsend == NULL)
			goto err;
		p->check_ms = cfg->fast_check_ms;
		p->last_check = now_ms / p->check_ms;
		ac.fast = p->fast;
	}
	p->agg = mm_agg_new(&ac, now_ms);
	if (p->agg == NULL) {
		snprintf(err, errlen, "cannot set up aggregation for %" PRIu32 " hosts (out of memory?)",
			 cfg->max_hosts);
		goto err;
	}
	mm_redis_writer_opts_default(&wo);
	wo.queue_max_bytes = (size_t)cfg->redis_queue_max_mb << 20;
	wo.stall_ms = cfg->redis_stall_timeout_s * 1000u;
	wo.backoff_max_ms = cfg->redis_backoff_max_s * 1000u;
	p->writer = mm_redis_writer_new(base, cfg, &wo, err, errlen);
	if (p->writer == NULL)
		goto err;
	mm_redis_writer_sink(p->writer, &p->sink);
	return p;
err:
	mm_pipeline_free(p);
	return NULL;
}

int mm_pipeline_reconfigure(struct mm_pipeline *p, const struct mm_config *next)
{
	/* The fast path's new ceilings are prepared first and put in force
	 * only once the aggregator has its new prefixes (and has told it
	 * which group each host is now in): a refusal changes nothing. */
	struct mm_fast_limits *lim = NULL;

	if (p->fast != NULL && (lim = mm_fast_groups_prepare(p->fast, next->groups, next->ngroups)) == NULL)
		return -1;
	if (mm_agg_set_prefixes(p->agg, next->group_prefixes, next->group_prefix_group, next->ngroup_prefixes) < 0) {
		mm_fast_groups_drop(lim);
		return -1;
	}
	if (p->fast != NULL) {
		mm_fast_groups_commit(p->fast, lim, next->ngroups);
		mm_agg_fast_sides(p->agg);
	}
	p->persist_every_ms = (uint64_t)next->retention_s * 500u;
	return 0;
}

void mm_pipeline_reconfigured(struct mm_pipeline *p)
{
	mm_redis_writer_reconfigure(p->writer, p->cfg);
}

void mm_pipeline_free(struct mm_pipeline *p)
{
	if (p == NULL)
		return;
	mm_redis_writer_free(p->writer);
	mm_agg_free(p->agg);
	mm_fast_sender_free(p->fsend);
	mm_fast_free(p->fast);
	free(p->xs);
	free(p);
}

struct load_arg {
	struct mm_pipeline *p;
	long bad;
};

static int load_one(void *arg, const uint8_t exporter[16], const char *field, const uint8_t *val, size_t len)
{
	struct load_arg *a = arg;
	struct mm_exporter *ex;

	/* Stored state of an exporter the allowlist no longer admits: skipped
	 * here, so that the denied counter counts datagrams only. */
	if (!a->p->cfg->allow_unlisted_exporters && mm_config_exporter(a->p->cfg, exporter) == NULL)
		return -1;
	ex = mm_exporters_get(a->p->exps, exporter, a->p->now_ms);
	if (ex == NULL)
		return -1; /* no memory */
	if (mm_exporter_import(ex, field, val, len) < 0) {
		a->bad++;
		return -1;
	}
	/* What came from Redis need not go back until it changes. */
	ex->tmpl_saved_gen = ex->tmpl_gen;
	ex->tmpl_saved_ms = a->p->now_ms;
	return 0;
}

long mm_pipeline_load_state(struct mm_pipeline *p, char *err, size_t errlen)
{
	struct load_arg a = { p, 0 };
	long n = mm_redis_load_exporter_states(p->cfg, load_one, &a, err, errlen);

	if (n >= 0 && a.bad > 0)
		mm_warnx("redis: %ld stored decoder state items refused as invalid", a.bad);
	return n;
}

void mm_pipeline_flow(void *arg, const struct mm_flow *f)
{
	mm_agg_add(((struct mm_pipeline *)arg)->agg, f);
}

struct persist_arg {
	struct mm_pipeline *p;
	char key[MM_REDIS_KEY_MAX];
};

static void persist_put(void *arg, const char *field, const uint8_t *val, size_t len)
{
	struct persist_arg *a = arg;
	mm_redis_writer_put_blob(a->p->writer, a->key, field, val, len);
}

static void collect_exporter(void *arg, struct mm_exporter *ex)
{
	struct mm_pipeline *p = arg;

	if (p->nxs < p->capxs) {
		memcpy(p->xs[p->nxs].addr, ex->addr, 16);
		p->xs[p->nxs].st = ex->st;
		p->nxs++;
	}
	/* Decoder state changed, or about to expire in Redis: write it. */
	if (ex->tmpl_gen != ex->tmpl_saved_gen || p->now_ms - ex->tmpl_saved_ms >= p->persist_every_ms) {
		struct persist_arg a = { p, { 0 } };
		mm_rkey_exporter_state(a.key, ex->addr);
		mm_exporter_export(ex, persist_put, &a);
		ex->tmpl_saved_gen = ex->tmpl_gen;
		ex->tmpl_saved_ms = p->now_ms;
	}
}

/* Exporter statistics for the step about to close, and decoder state. */
static void snapshot_exporters(struct mm_pipeline *p)
{
	size_t n = mm_exporters_count(p->exps);

	if (n > p->capxs) {
		struct mm_redis_exporter *x = realloc(p->xs, n * sizeof(*x));
		if (x != NULL) {
			p->xs = x;
			p->capxs = n;
		}
	}
	p->nxs = 0;
	mm_exporters_foreach(p->exps, collect_exporter, p);
	mm_redis_writer_step_stats(p->writer, p->xs, p->nxs);
}

/* The fast path's check, once per check_ms of the clock: on the records
 * counted so far (the aggregator's pipeline holds up to 16). */
static void fast_check(struct mm_pipeline *p, uint64_t now_ms)
{
	mm_agg_sync(p->agg);
	mm_fast_check(p->fast, now_ms, mm_fast_sender_send, p->fsend);
}

void mm_pipeline_tick(struct mm_pipeline *p, uint64_t now_ms)
{
	uint64_t step = now_ms / p->step_ms;

	p->now_ms = now_ms;
	if (p->fast != NULL && now_ms / p->check_ms > p->last_check) {
		p->last_check = now_ms / p->check_ms;
		fast_check(p, now_ms);
	}
	if (step <= p->last_step)
		return; /* nothing can close before the step changes */
	p->last_step = step;
	snapshot_exporters(p);
	mm_agg_advance(p->agg, now_ms, &p->sink);
}

void mm_pipeline_close(struct mm_pipeline *p, uint64_t now_ms)
{
	p->now_ms = now_ms;
	if (p->fast != NULL)
		fast_check(p, now_ms);
	snapshot_exporters(p);
	mm_agg_flush(p->agg, &p->sink);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Steps not yet in Redis beyond max_pending; at shutdown (0) the fast
 * path's events too. */
static int unwritten(const struct mm_pipeline *p, size_t max_pending)
{
	return mm_redis_writer_pending(p->writer) > max_pending ||
	       (max_pending == 0 && mm_fast_sender_pending(p->fsend) > 0);
}

int mm_pipeline_drain(struct mm_pipeline *p, size_t max_pending, uint32_t timeout_ms)
{
	if (!unwritten(p, max_pending))
		return 0;
	int expired = 0;
	struct timeval tv = { (time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000 };
	struct event *deadline = evtimer_new(p->base, on_deadline, &expired);
	if (deadline == NULL)
		return -1;
	evtimer_add(deadline, &tv);
	/* Each turn blocks until something happens (a reply, a reconnect
	 * timer, the deadline), so this does not spin. */
	while (!expired && unwritten(p, max_pending))
		if (event_base_loop(p->base, EVLOOP_ONCE) < 0)
			break;
	event_free(deadline);
	size_t left = mm_redis_writer_pending(p->writer);
	if (unwritten(p, max_pending)) {
		mm_warnx("redis: %zu steps or state batches still unwritten after %" PRIu32 " ms", left, timeout_ms);
		return -1;
	}
	return 0;
}

const struct mm_agg_stats *mm_pipeline_agg_stats(const struct mm_pipeline *p)
{
	return mm_agg_stats(p->agg);
}

const struct mm_redis_writer_stats *mm_pipeline_writer_stats(struct mm_pipeline *p)
{
	return mm_redis_writer_stats(p->writer);
}

void mm_pipeline_report(struct mm_pipeline *p, char *buf, size_t len)
{
	const struct mm_agg_stats *a = mm_agg_stats(p->agg);
	const struct mm_redis_writer_stats *w = mm_redis_writer_stats(p->writer);

	snprintf(buf, len,
		 "windows: hosts %" PRIu32 " external %" PRIu32 " records %" PRIu64 " unmonitored %" PRIu64
		 " late %" PRIu64 " future %" PRIu64 " hosts_dropped %" PRIu64 " steps_closed %" PRIu64
		 "; redis: %s steps_flushed %" PRIu64 " steps_pending %" PRIu32 " steps_dropped %" PRIu64
		 " last_flush_ms %" PRIu32 " queued_bytes %" PRIu64 " reconnects %" PRIu64 " errors %" PRIu64,
		 a->hosts_tracked, a->external_tracked, a->records, a->records_unmonitored, a->late_records,
		 a->future_records, a->hosts_dropped, a->steps_closed, w->connected ? "connected" : "DISCONNECTED",
		 w->steps_flushed, w->steps_pending, w->steps_dropped, w->last_flush_ms, w->bytes_queued,
		 w->reconnects, w->errors);
	if (p->fast != NULL) {
		const struct mm_fast_stats *f = mm_fast_stats(p->fast);
		const struct mm_fast_sender_stats *fs = mm_fast_sender_stats(p->fsend);
		size_t n = strlen(buf);

		if (n < len)
			snprintf(buf + n, len - n,
				 "; fastpath: checks %" PRIu64 " hosts_checked %" PRIu64 " late %" PRIu64
				 " future %" PRIu64 " events %" PRIu64 " repeats %" PRIu64 " deferred %" PRIu64
				 " added %" PRIu64 " dropped %" PRIu64 " failed %" PRIu64,
				 f->checks, f->hosts_checked, f->late, f->future, f->events, f->repeats, f->deferred,
				 fs->added, fs->dropped, fs->failed);
	}
}
