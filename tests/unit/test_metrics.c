/*
 * test_metrics.c - the /metrics page (common/metrics.c): the exposition
 * format exactly (HELP and label escaping, numbers, NaN and infinities),
 * and the HTTP server on a real loopback socket: /metrics, /healthz
 * healthy and not, 404, a POST refused.
 */
#include <check.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "mamori/metrics.h"
#include "mamori/reload.h"

static void fill_example(void *arg, struct mm_metrics_out *o)
{
	(void)arg;
	mm_metric_family(o, "mm_test_total", "counter", "Help with a \\ backslash\nand a newline.");
	mm_metric_u64(o, "mm_test_total", 18446744073709551615ull, "exporter", "192.0.2.1", "name", "a\"b\\c\nd\x01\xff", NULL);
	mm_metric_u64(o, "mm_test_total", 0, NULL);
	mm_metric_family(o, "mm_test_seconds", "gauge", "Floats.");
	mm_metric_f64(o, "mm_test_seconds", 0.25, NULL);
	mm_metric_f64(o, "mm_test_seconds", NAN, "k", "nan", NULL);
	mm_metric_f64(o, "mm_test_seconds", INFINITY, "k", "pos", NULL);
	mm_metric_f64(o, "mm_test_seconds", -INFINITY, "k", "neg", NULL);
}

START_TEST(test_format)
{
	size_t len;
	char *page = mm_metrics_render(fill_example, NULL, &len);

	ck_assert_ptr_nonnull(page);
	ck_assert_str_eq(page, "# HELP mm_test_total Help with a \\\\ backslash\\nand a newline.\n"
			       "# TYPE mm_test_total counter\n"
			       "mm_test_total{exporter=\"192.0.2.1\",name=\"a\\\"b\\\\c\\nd??\"} 18446744073709551615\n"
			       "mm_test_total 0\n"
			       "# HELP mm_test_seconds Floats.\n"
			       "# TYPE mm_test_seconds gauge\n"
			       "mm_test_seconds 0.25\n"
			       "mm_test_seconds{k=\"nan\"} NaN\n"
			       "mm_test_seconds{k=\"pos\"} +Inf\n"
			       "mm_test_seconds{k=\"neg\"} -Inf\n");
	ck_assert_uint_eq(len, strlen(page));
	free(page);
}
END_TEST

START_TEST(test_process_families)
{
	struct mm_reload_stats r = { 3, 1, 1700000000, 1 };
	char *page;

	struct mm_metrics_out o = { NULL, 0, 0, 0 };
	mm_metrics_process(&o, "mamori-test", "9.9", 42, &r);
	page = o.buf;
	ck_assert_ptr_nonnull(strstr(page, "mamori_build_info{program=\"mamori-test\",version=\"9.9\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(page, "mamori_start_time_seconds 42\n"));
	ck_assert_ptr_nonnull(strstr(page, "mamori_config_reloads_total{result=\"ok\"} 3\n"));
	ck_assert_ptr_nonnull(strstr(page, "mamori_config_reloads_total{result=\"failed\"} 1\n"));
	ck_assert_ptr_nonnull(strstr(page, "mamori_config_last_reload_successful 0\n"));
	ck_assert_ptr_nonnull(strstr(page, "mamori_config_last_reload_success_timestamp_seconds 1700000000\n"));
	free(page);
}
END_TEST

/* ---- the server -------------------------------------------------------- */

static int healthy = 1;

static int health(void *arg, char *why, size_t len)
{
	(void)arg;
	if (healthy)
		return 0;
	snprintf(why, len, "redis not connected");
	return -1;
}

/* A raw HTTP/1.0 request in a child (the parent runs the loop); the
 * response lands in out. */
static void http_get(uint16_t port, const char *request, char *out, size_t outlen, struct event_base *base)
{
	int p[2];
	pid_t pid;
	size_t n = 0;
	ssize_t r;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port) };
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		char buf[8192];

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		close(p[0]);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
		    write(fd, request, strlen(request)) < 0)
			_exit(1);
		while ((r = read(fd, buf, sizeof(buf))) > 0)
			if (write(p[1], buf, (size_t)r) < 0)
				_exit(1);
		_exit(0);
	}
	close(p[1]);
	/* Serve until the child has its answer (the pipe closes). */
	while (1) {
		struct timeval tv = { 0, 20000 };
		fd_set rf;
		FD_ZERO(&rf);
		FD_SET(p[0], &rf);
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (select(p[0] + 1, &rf, NULL, NULL, &tv) > 0) {
			r = read(p[0], out + n, outlen - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
		}
	}
	out[n] = '\0';
	close(p[0]);
	waitpid(pid, NULL, 0);
}

START_TEST(test_server)
{
	struct event_base *base = event_base_new();
	struct mm_listen l;
	const char *why;
	char err[256], resp[16384];
	struct mm_metrics *m;

	ck_assert_int_eq(mm_listen_parse("127.0.0.1:0", &l, &why), 0);
	m = mm_metrics_new(base, &l, fill_example, health, NULL, err, sizeof(err));
	ck_assert_msg(m != NULL, "%s", err);
	ck_assert_uint_gt(mm_metrics_port(m), 0);

	http_get(mm_metrics_port(m), "GET /metrics HTTP/1.0\r\n\r\n", resp, sizeof(resp), base);
	ck_assert_msg(strncmp(resp, "HTTP/1.0 200 OK\r\n", 17) == 0 || strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0,
		      "%s", resp);
	ck_assert_ptr_nonnull(strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	ck_assert_ptr_nonnull(strstr(resp, "\r\n\r\n# HELP mm_test_total "));
	ck_assert_ptr_nonnull(strstr(resp, "mm_test_seconds{k=\"neg\"} -Inf\n"));

	http_get(mm_metrics_port(m), "GET /healthz HTTP/1.0\r\n\r\n", resp, sizeof(resp), base);
	ck_assert_ptr_nonnull(strstr(resp, " 200 OK\r\n"));
	ck_assert_ptr_nonnull(strstr(resp, "\r\n\r\nok\n"));
	healthy = 0;
	http_get(mm_metrics_port(m), "GET /healthz HTTP/1.0\r\n\r\n", resp, sizeof(resp), base);
	ck_assert_ptr_nonnull(strstr(resp, " 503 Service Unavailable\r\n"));
	ck_assert_ptr_nonnull(strstr(resp, "\r\n\r\nredis not connected\n"));

	http_get(mm_metrics_port(m), "GET /secret HTTP/1.0\r\n\r\n", resp, sizeof(resp), base);
	ck_assert_ptr_nonnull(strstr(resp, " 404 "));
	http_get(mm_metrics_port(m), "POST /metrics HTTP/1.0\r\nContent-Length: 1\r\n\r\nx", resp, sizeof(resp), base);
	ck_assert_ptr_null(strstr(resp, " 200 "));
	mm_metrics_free(m);
	event_base_free(base);
}
END_TEST

START_TEST(test_bind_error)
{
	struct event_base *base = event_base_new();
	struct mm_listen l;
	const char *why;
	char err[256];
	struct mm_metrics *m;

	/* TEST-NET-1 is not ours: bind fails, and says where. */
	ck_assert_int_eq(mm_listen_parse("192.0.2.1:9551", &l, &why), 0);
	m = mm_metrics_new(base, &l, fill_example, NULL, NULL, err, sizeof(err));
	ck_assert_ptr_null(m);
	ck_assert_msg(strncmp(err, "metrics 192.0.2.1:9551: ", 24) == 0, "%s", err);
	event_base_free(base);
}
END_TEST

static Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *tc = tcase_create("metrics");

	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_process_families);
	tcase_add_test(tc, test_server);
	tcase_add_test(tc, test_bind_error);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(metrics_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
