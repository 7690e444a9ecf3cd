/*
 * prometheus.c - the collector's counters as Prometheus families
 * (daemon_metrics.h; names and meaning in docs/operations.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/daemon_metrics.h"
#include "mamori/exporters.h"
#include "mamori/intake.h"
#include "mamori/nflog.h"
#include "mamori/pipeline.h"

/* Help texts of the per-exporter counters, by field name. */
static const struct {
	const char *field, *help;
} exporter_help[] = {
	{ "datagrams", "Export datagrams received from the exporter." },
	{ "bytes", "UDP payload bytes of those datagrams." },
	{ "records", "Flow records decoded." },
	{ "malformed", "Datagrams or sets rejected as malformed." },
	{ "lost_packets", "Export packets lost (sequence gaps, v9 and sFlow)." },
	{ "lost_records", "Flow records lost (sequence gaps, v5 and IPFIX)." },
	{ "unknown_template", "Data sets dropped because their template never came." },
	{ "unknown_sampling", "Records scaled by a default rate: the export did not say its sampling." },
};

static const char *help_of(const char *field)
{
	for (size_t i = 0; i < sizeof(exporter_help) / sizeof(exporter_help[0]); i++)
		if (strcmp(exporter_help[i].field, field) == 0)
			return exporter_help[i].help;
	return "Exporter counter (docs/operations.md).";
}

struct exp_list {
	struct mm_exporter **v;
	size_t n, cap;
};

static void collect(void *arg, struct mm_exporter *ex)
{
	struct exp_list *l = arg;

	if (l->n < l->cap)
		l->v[l->n++] = ex;
}

static void exporter_families(struct mm_metrics_out *o, const struct mm_collector_status *s)
{
	struct exp_list l = { NULL, 0, mm_exporters_count(s->exps) };
	struct mm_exporter_stats tot;
	char name[96];

	l.v = calloc(l.cap ? l.cap : 1, sizeof(*l.v));
	if (l.v == NULL) {
		o->oom = 1;
		return;
	}
	mm_exporters_foreach(s->exps, collect, &l);
	for (size_t f = 0; f < mm_exporter_nstat_fields; f++) {
		const char *field = mm_exporter_stat_fields[f].name;

		snprintf(name, sizeof(name), "mamori_exporter_%s_total", field);
		mm_metric_family(o, name, "counter", help_of(field));
		for (size_t i = 0; i < l.n; i++) {
			const struct mm_exporter *ex = l.v[i];
			const struct mm_exporter_cfg *ec = mm_config_exporter(s->cfg, ex->addr);
			char addr[64];

			mm_addr_str(ex->addr, addr, sizeof(addr));
			mm_metric_u64(o, name, mm_stat_get(&ex->st, f), "exporter", addr, "name", ec ? ec->name : "",
				      "site", ec ? ec->site : "", NULL);
		}
	}
	/* The same, summed over every exporter ever seen (evicted ones too). */
	mm_exporters_totals(s->exps, &tot);
	for (size_t f = 0; f < mm_exporter_nstat_fields; f++) {
		snprintf(name, sizeof(name), "mamori_exporters_%s_total", mm_exporter_stat_fields[f].name);
		mm_metric_family(o, name, "counter", "Summed over every exporter, evicted ones included.");
		mm_metric_u64(o, name, mm_stat_get(&tot, f), NULL);
	}
	free(l.v);
}

static void table_families(struct mm_metrics_out *o, const struct mm_collector_status *s)
{
	const struct mm_exporters_stats *t = mm_exporters_stats(s->exps);

	mm_metric_family(o, "mamori_exporters", "gauge", "Exporter states held.");
	mm_metric_u64(o, "mamori_exporters", mm_exporters_count(s->exps), NULL);
	mm_metric_family(o, "mamori_exporters_evicted_total", "counter", "Exporter states evicted at [limits] max_exporters.");
	mm_metric_u64(o, "mamori_exporters_evicted_total", t->evicted, NULL);
	mm_metric_family(o, "mamori_exporter_denied_datagrams_total", "counter",
			 "Datagrams dropped before decoding: their source is outside the exporter allowlist.");
	mm_metric_u64(o, "mamori_exporter_denied_datagrams_total", t->denied, NULL);
	mm_metric_family(o, "mamori_exporters_removed_total", "counter",
			 "Exporter states removed by a reload whose allowlist no longer admits them.");
	mm_metric_u64(o, "mamori_exporters_removed_total", t->removed, NULL);
	mm_metric_family(o, "mamori_datagrams_total", "counter", "Datagrams handed to the decoders.");
	mm_metric_u64(o, "mamori_datagrams_total", s->datagrams, NULL);
	mm_metric_family(o, "mamori_datagrams_rejected_total", "counter", "Datagrams a decoder rejected.");
	mm_metric_u64(o, "mamori_datagrams_rejected_total", s->rejected, NULL);
	mm_metric_family(o, "mamori_records_total", "counter", "Flow records the decoders emitted.");
	mm_metric_u64(o, "mamori_records_total", s->records, NULL);
}

static void socket_families(struct mm_metrics_out *o, const struct mm_collector_status *s)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} ctr[] = {
		{ "mamori_socket_datagrams_total", "Datagrams received on the socket.",
		  offsetof(struct mm_intake_sock_stats, datagrams) },
		{ "mamori_socket_kernel_drops_total", "Datagrams the kernel dropped on the socket (receive buffer full).",
		  offsetof(struct mm_intake_sock_stats, kernel_drops) },
		{ "mamori_socket_truncated_total", "Datagrams too large to receive whole.",
		  offsetof(struct mm_intake_sock_stats, truncated) },
		{ "mamori_socket_errors_total", "Receive errors.", offsetof(struct mm_intake_sock_stats, errors) },
	};
	unsigned n = s->intake != NULL ? mm_intake_nsocks(s->intake) : 0;
	uint64_t drops = 0;

	mm_intake_refresh_drops(s->intake);
	for (size_t k = 0; k < sizeof(ctr) / sizeof(ctr[0]); k++) {
		mm_metric_family(o, ctr[k].name, "counter", ctr[k].help);
		for (unsigned i = 0; i < n; i++) {
			const struct mm_intake_sock_stats *st = mm_intake_sock_stats(s->intake, i);
			char port[8];
			uint64_t v;

			memcpy(&v, (const char *)st + ctr[k].off, sizeof(v));
			snprintf(port, sizeof(port), "%u", (unsigned)st->port);
			mm_metric_u64(o, ctr[k].name, v, "listen", st->listen, "port", port, NULL);
		}
	}
	for (unsigned i = 0; i < n; i++)
		drops += mm_intake_sock_stats(s->intake, i)->kernel_drops;
	if (s->intake != NULL)
		drops += mm_intake_retired_stats(s->intake)->kernel_drops;
	mm_metric_family(o, "mamori_kernel_drops_total", "counter",
			 "Datagrams the kernel dropped on every socket, closed ones included, and NFLOG packets lost.");
	for (unsigned i = 0; i < mm_nflog_ngroups(s->nflog); i++)
		drops += mm_nflog_group_stats(s->nflog, i)->seq_lost;
	mm_metric_u64(o, "mamori_kernel_drops_total", drops, NULL);
	if (s->nflog == NULL)
		return;
	mm_metric_family(o, "mamori_nflog_packets_total", "counter", "Packets received from the NFLOG group.");
	for (unsigned i = 0; i < mm_nflog_ngroups(s->nflog); i++) {
		const struct mm_nflog_group_stats *g = mm_nflog_group_stats(s->nflog, i);
		char grp[8];
		snprintf(grp, sizeof(grp), "%u", (unsigned)g->group);
		mm_metric_u64(o, "mamori_nflog_packets_total", g->packets, "group", grp, NULL);
	}
	mm_metric_family(o, "mamori_nflog_kernel_drops_total", "counter",
			 "Packets the kernel logged to the group that never arrived (sequence gaps).");
	for (unsigned i = 0; i < mm_nflog_ngroups(s->nflog); i++) {
		const struct mm_nflog_group_stats *g = mm_nflog_group_stats(s->nflog, i);
		char grp[8];
		snprintf(grp, sizeof(grp), "%u", (unsigned)g->group);
		mm_metric_u64(o, "mamori_nflog_kernel_drops_total", g->seq_lost, "group", grp, NULL);
	}
	mm_metric_family(o, "mamori_nflog_enobufs_total", "counter", "Times the kernel said the NFLOG socket overflowed.");
	mm_metric_u64(o, "mamori_nflog_enobufs_total", mm_nflog_stats(s->nflog)->enobufs, NULL);
}

static void pipeline_families(struct mm_metrics_out *o, struct mm_pipeline *p)
{
	const struct mm_agg_stats *a = mm_pipeline_agg_stats(p);
	const struct mm_redis_writer_stats *w = mm_pipeline_writer_stats(p);

	mm_metric_family(o, "mamori_hosts_tracked", "gauge", "Monitored hosts with data in an open step.");
	mm_metric_u64(o, "mamori_hosts_tracked", a->hosts_tracked, NULL);
	mm_metric_family(o, "mamori_external_sources_tracked", "gauge", "External sources tracked.");
	mm_metric_u64(o, "mamori_external_sources_tracked", a->external_tracked, NULL);
	mm_metric_family(o, "mamori_aggregated_records_total", "counter", "Flow records counted into the step windows.");
	mm_metric_u64(o, "mamori_aggregated_records_total", a->records, NULL);
	mm_metric_family(o, "mamori_unmonitored_records_total", "counter",
			 "Records with neither end monitored nor a tracked source.");
	mm_metric_u64(o, "mamori_unmonitored_records_total", a->records_unmonitored, NULL);
	mm_metric_family(o, "mamori_hosts_dropped_total", "counter", "Host updates lost: [window] max_hosts reached.");
	mm_metric_u64(o, "mamori_hosts_dropped_total", a->hosts_dropped, NULL);
	mm_metric_family(o, "mamori_steps_closed_total", "counter", "Steps closed and handed to Redis.");
	mm_metric_u64(o, "mamori_steps_closed_total", a->steps_closed, NULL);
	mm_metric_family(o, "mamori_redis_connected", "gauge", "1 while the Redis connection is ready.");
	mm_metric_u64(o, "mamori_redis_connected", w->connected ? 1 : 0, NULL);
	mm_metric_family(o, "mamori_redis_errors_total", "counter", "Error replies from Redis.");
	mm_metric_u64(o, "mamori_redis_errors_total", w->errors, NULL);
	mm_metric_family(o, "mamori_redis_connect_failures_total", "counter", "Connections refused, failed or timed out.");
	mm_metric_u64(o, "mamori_redis_connect_failures_total", w->connect_failures, NULL);
	mm_metric_family(o, "mamori_redis_steps_flushed_total", "counter", "Steps written and acknowledged.");
	mm_metric_u64(o, "mamori_redis_steps_flushed_total", w->steps_flushed, NULL);
	mm_metric_family(o, "mamori_redis_steps_pending", "gauge", "Closed steps not yet written.");
	mm_metric_u64(o, "mamori_redis_steps_pending", w->steps_pending, NULL);
	mm_metric_family(o, "mamori_redis_steps_dropped_total", "counter", "Steps dropped: memory bound or refused.");
	mm_metric_u64(o, "mamori_redis_steps_dropped_total", w->steps_dropped + w->steps_failed, NULL);
	mm_metric_family(o, "mamori_redis_flush_seconds", "gauge", "The last step's flush: closed to acknowledged.");
	mm_metric_f64(o, "mamori_redis_flush_seconds", w->last_flush_ms / 1000.0, NULL);
	mm_metric_family(o, "mamori_redis_queued_bytes", "gauge", "Bytes held for Redis.");
	mm_metric_u64(o, "mamori_redis_queued_bytes", w->bytes_queued, NULL);
}

void mm_collector_metrics(struct mm_metrics_out *o, const struct mm_collector_status *s)
{
	table_families(o, s);
	exporter_families(o, s);
	socket_families(o, s);
	if (s->pipe != NULL)
		pipeline_families(o, s->pipe);
}
