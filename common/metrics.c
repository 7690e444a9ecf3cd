/*
 * metrics.c - /metrics and /healthz over evhttp (metrics.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "mamori/log.h"
#include "mamori/metrics.h"
#include "mamori/reload.h"

/* ---- the exposition format -------------------------------------------- */

static void put(struct mm_metrics_out *o, const char *s, size_t n)
{
	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		char *b;

		while (cap < o->len + n + 1)
			cap *= 2;
		b = realloc(o->buf, cap);
		if (b == NULL) {
			o->oom = 1;
			return;
		}
		o->buf = b;
		o->cap = cap;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_(struct mm_metrics_out *o, const char *s)
{
	put(o, s, strlen(s));
}

void mm_metric_family(struct mm_metrics_out *o, const char *name, const char *type, const char *help)
{
	puts_(o, "# HELP ");
	puts_(o, name);
	put(o, " ", 1);
	/* HELP escapes backslash and newline. */
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			puts_(o, "\\\\");
		else if (*p == '\n')
			puts_(o, "\\n");
		else
			put(o, p, 1);
	}
	puts_(o, "\n# TYPE ");
	puts_(o, name);
	put(o, " ", 1);
	puts_(o, type);
	put(o, "\n", 1);
}

/* name{k="v",...} : label values escape backslash, quote and newline;
 * anything else outside printable ASCII becomes '?', so a page is
 * always valid UTF-8 whatever an exporter's name held. */
static void sample_head(struct mm_metrics_out *o, const char *name, va_list ap)
{
	const char *k;
	int first = 1;

	puts_(o, name);
	while ((k = va_arg(ap, const char *)) != NULL) {
		const char *v = va_arg(ap, const char *);

		put(o, first ? "{" : ",", 1);
		first = 0;
		puts_(o, k);
		puts_(o, "=\"");
		for (const char *p = v != NULL ? v : ""; *p; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == '\\')
				puts_(o, "\\\\");
			else if (c == '"')
				puts_(o, "\\\"");
			else if (c == '\n')
				puts_(o, "\\n");
			else if (c < 0x20 || c >= 0x7f)
				put(o, "?", 1);
			else
				put(o, p, 1);
		}
		put(o, "\"", 1);
	}
	if (!first)
		put(o, "}", 1);
}

void mm_metric_u64(struct mm_metrics_out *o, const char *name, uint64_t v, ...)
{
	char num[32];
	va_list ap;

	va_start(ap, v);
	sample_head(o, name, ap);
	va_end(ap);
	snprintf(num, sizeof(num), " %llu\n", (unsigned long long)v);
	puts_(o, num);
}

void mm_metric_f64(struct mm_metrics_out *o, const char *name, double v, ...)
{
	char num[40];
	va_list ap;

	va_start(ap, v);
	sample_head(o, name, ap);
	va_end(ap);
	if (isnan(v))
		snprintf(num, sizeof(num), " NaN\n");
	else if (isinf(v))
		snprintf(num, sizeof(num), " %sInf\n", v > 0 ? "+" : "-");
	else
		snprintf(num, sizeof(num), " %.17g\n", v);
	puts_(o, num);
}

void mm_metrics_process(struct mm_metrics_out *o, const char *prog, const char *version, uint64_t start_s,
			const struct mm_reload_stats *reload)
{
	mm_metric_family(o, "mamori_build_info", "gauge", "The program and its version (always 1).");
	mm_metric_u64(o, "mamori_build_info", 1, "program", prog, "version", version, NULL);
	mm_metric_family(o, "mamori_start_time_seconds", "gauge", "When the daemon started, Unix time.");
	mm_metric_u64(o, "mamori_start_time_seconds", start_s, NULL);
	if (reload == NULL)
		return;
	mm_metric_family(o, "mamori_config_reloads_total", "counter",
			 "Reloads on SIGHUP: applied, or failed (errors in the file, or not applicable).");
	mm_metric_u64(o, "mamori_config_reloads_total", reload->ok, "result", "ok", NULL);
	mm_metric_u64(o, "mamori_config_reloads_total", reload->failed, "result", "failed", NULL);
	mm_metric_family(o, "mamori_config_last_reload_successful", "gauge",
			 "1 unless the last reload failed (the running configuration is then the one before).");
	mm_metric_u64(o, "mamori_config_last_reload_successful", reload->last_failed ? 0 : 1, NULL);
	mm_metric_family(o, "mamori_config_last_reload_success_timestamp_seconds", "gauge",
			 "When a reload was last applied, Unix time (0: never).");
	mm_metric_u64(o, "mamori_config_last_reload_success_timestamp_seconds", reload->last_ok_s, NULL);
}

char *mm_metrics_render(mm_metrics_fill_fn fill, void *arg, size_t *len)
{
	struct mm_metrics_out o = { NULL, 0, 0, 0 };

	fill(arg, &o);
	if (o.buf == NULL && !o.oom)
		put(&o, "", 0);
	if (o.oom) {
		free(o.buf);
		return NULL;
	}
	if (len != NULL)
		*len = o.len;
	return o.buf;
}

/* ---- the server ---------------------------------------------------------- */

struct mm_metrics {
	struct evhttp *http;
	int fd;
	uint16_t port;
	struct mm_listen addr;
	mm_metrics_fill_fn fill;
	mm_health_fn health;
	void *arg;
};

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *ctype,
		       const char *body, size_t len)
{
	struct evbuffer *b = evbuffer_new();

	if (b == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct mm_metrics *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (path == NULL) {
		evhttp_send_error(req, HTTP_BADREQUEST, NULL);
	} else if (strcmp(path, "/metrics") == 0) {
		size_t len;
		char *page = mm_metrics_render(m->fill, m->arg, &len);

		if (page == NULL) {
			evhttp_send_error(req, 500, "out of memory");
			return;
		}
		reply_text(req, HTTP_OK, "OK", "text/plain; version=0.0.4; charset=utf-8", page, len);
		free(page);
	} else if (strcmp(path, "/healthz") == 0) {
		char why[256] = "", line[300];
		int bad = m->health != NULL && m->health(m->arg, why, sizeof(why)) != 0;
		int n = snprintf(line, sizeof(line), "%s\n", bad ? (why[0] ? why : "unhealthy") : "ok");

		reply_text(req, bad ? 503 : HTTP_OK, bad ? "Service Unavailable" : "OK", "text/plain; charset=utf-8",
			   line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : strlen(line));
	} else {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
	}
}

struct mm_metrics *mm_metrics_new(struct event_base *base, const struct mm_listen *addr, mm_metrics_fill_fn fill,
				  mm_health_fn health, void *arg, char *err, size_t errlen)
{
	struct mm_metrics *m = calloc(1, sizeof(*m));
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1;

	if (m == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->fd = -1;
	m->addr = *addr;
	m->fill = fill;
	m->health = health;
	m->arg = arg;
	m->fd = socket(addr->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    (addr->ss.ss_family == AF_INET6 && setsockopt(m->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) ||
	    bind(m->fd, (const struct sockaddr *)&addr->ss, addr->sslen) < 0 || listen(m->fd, 16) < 0 ||
	    getsockname(m->fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "metrics %s: %s", addr->text, strerror(errno));
		goto fail;
	}
	m->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						 : ((struct sockaddr_in6 *)&ss)->sin6_port);
	m->http = evhttp_new(base);
	if (m->http == NULL || evhttp_accept_socket(m->http, m->fd) != 0) {
		snprintf(err, errlen, "metrics %s: cannot set up the HTTP server", addr->text);
		goto fail;
	}
	m->fd = -1; /* evhttp owns it now */
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_gencb(m->http, on_request, m);
	return m;
fail:
	mm_metrics_free(m);
	return NULL;
}

void mm_metrics_free(struct mm_metrics *m)
{
	if (m == NULL)
		return;
	if (m->http != NULL)
		evhttp_free(m->http); /* closes the listening socket it owns */
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

uint16_t mm_metrics_port(const struct mm_metrics *m)
{
	return m->port;
}

const struct mm_listen *mm_metrics_listen(const struct mm_metrics *m)
{
	return &m->addr;
}

int mm_metrics_for(struct event_base *base, struct mm_metrics *running, const struct mm_listen *want,
		   mm_metrics_fill_fn fill, mm_health_fn health, void *arg, struct mm_metrics **out, int *fresh)
{
	char err[256];

	*fresh = 0;
	*out = NULL;
	if (want->text[0] == '\0')
		return 0;
	if (running != NULL && strcmp(mm_metrics_listen(running)->text, want->text) == 0) {
		*out = running;
		return 0;
	}
	*out = mm_metrics_new(base, want, fill, health, arg, err, sizeof(err));
	if (*out == NULL) {
		mm_warnx("%s", err);
		return -1;
	}
	*fresh = 1;
	mm_info("metrics on http://%s/metrics (port %u)", want->text, (unsigned)mm_metrics_port(*out));
	return 0;
}
