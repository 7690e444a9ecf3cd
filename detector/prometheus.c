/*
 * prometheus.c - the detector's counters as Prometheus families
 * (daemon_metrics.h; names and meaning in docs/operations.md).
 */
#include "mamori/daemon_metrics.h"
#include "mamori/detector.h"
#include "mamori/incident.h"

static void det_families(struct mm_metrics_out *o, const struct mm_det *d)
{
	const struct mm_det_stats *st = mm_det_stats(d);
	struct mm_incident_stats is = mm_incidents_stats(mm_det_incidents((struct mm_det *)d));

	mm_metric_family(o, "mamori_hosts_tracked", "gauge", "Monitored hosts the detector holds state for.");
	mm_metric_u64(o, "mamori_hosts_tracked", st->hosts, NULL);
	mm_metric_family(o, "mamori_external_sources_tracked", "gauge", "External sources the detector scores.");
	mm_metric_u64(o, "mamori_external_sources_tracked", st->externals, NULL);
	mm_metric_family(o, "mamori_hosts_refused_total", "counter", "Hosts not tracked: [window] max_hosts reached.");
	mm_metric_u64(o, "mamori_hosts_refused_total", st->refused, NULL);
	mm_metric_family(o, "mamori_host_steps_scored_total", "counter", "Host-steps scored.");
	mm_metric_u64(o, "mamori_host_steps_scored_total", st->scored, NULL);
	mm_metric_family(o, "mamori_prefixes_tracked", "gauge", "Carpet-bombing prefixes tracked.");
	mm_metric_u64(o, "mamori_prefixes_tracked", st->prefixes, NULL);
	mm_metric_family(o, "mamori_incidents_refused_total", "counter",
			 "Incident starts refused: [detector] max_incidents open.");
	mm_metric_u64(o, "mamori_incidents_refused_total", is.refused, NULL);
}

void mm_detector_metrics(struct mm_metrics_out *o, const struct mm_detector_status *s)
{
	static const char *const ev_names[3] = { "start", "update", "end" };
	const struct mm_alert_stats *a = s->alerts;

	mm_metric_family(o, "mamori_alerts_total", "counter", "Incident events raised, by class and event.");
	for (int k = 0; k < MM_CLASS_COUNT; k++)
		for (int e = 0; e < 3; e++)
			mm_metric_u64(o, "mamori_alerts_total", s->events[k][e], "class",
				      mm_class_info((enum mm_class)k)->name, "event", ev_names[e], NULL);
	mm_metric_family(o, "mamori_incidents_open", "gauge", "Incidents open now, by class.");
	for (int k = 0; k < MM_CLASS_COUNT; k++)
		mm_metric_u64(o, "mamori_incidents_open", (uint64_t)(s->open[k] > 0 ? s->open[k] : 0), "class",
			      mm_class_info((enum mm_class)k)->name, NULL);
	mm_metric_family(o, "mamori_detector_step_seconds", "summary", "Time to score one step (reads, scoring, writes).");
	mm_metric_f64(o, "mamori_detector_step_seconds_sum", s->step_seconds_sum, NULL);
	mm_metric_u64(o, "mamori_detector_step_seconds_count", s->steps, NULL);
	mm_metric_family(o, "mamori_detector_last_step_seconds", "gauge", "Time the last step took to score.");
	mm_metric_f64(o, "mamori_detector_last_step_seconds", s->step_seconds_last, NULL);
	mm_metric_family(o, "mamori_detector_next_step", "gauge", "The next step to score (step number).");
	mm_metric_u64(o, "mamori_detector_next_step", s->next_step, NULL);
	mm_metric_family(o, "mamori_detector_incomplete_steps_total", "counter",
			 "Steps scored before every collector had marked them done.");
	mm_metric_u64(o, "mamori_detector_incomplete_steps_total", s->incomplete_steps, NULL);
	mm_metric_family(o, "mamori_redis_errors_total", "counter",
			 "Redis failures: window reads and baseline writes, and alert deliveries.");
	mm_metric_u64(o, "mamori_redis_errors_total", s->redis_errors + (a ? a->redis_errors : 0), NULL);
	if (a != NULL) {
		mm_metric_family(o, "mamori_alert_stream_added_total", "counter", "Events added to the alert stream.");
		mm_metric_u64(o, "mamori_alert_stream_added_total", a->stream_added, NULL);
		mm_metric_family(o, "mamori_alert_hooks_total", "counter", "Alert hook runs by outcome.");
		mm_metric_u64(o, "mamori_alert_hooks_total", a->hooks_run, "result", "run", NULL);
		mm_metric_u64(o, "mamori_alert_hooks_total", a->hooks_failed, "result", "failed", NULL);
		mm_metric_u64(o, "mamori_alert_hooks_total", a->hooks_timed_out, "result", "timed_out", NULL);
		mm_metric_u64(o, "mamori_alert_hooks_total", a->hooks_skipped, "result", "skipped", NULL);
		mm_metric_family(o, "mamori_alert_events_dropped_total", "counter",
				 "Events not delivered: too large, or a file write failed.");
		mm_metric_u64(o, "mamori_alert_events_dropped_total", a->dropped, NULL);
	}
	if (s->det != NULL)
		det_families(o, s->det);
}
