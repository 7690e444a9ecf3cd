/*
 * test_log.c - the logging module (common/log.c): levels, the stderr line
 * format, fatal exits, the rate limiter's arithmetic and the sanitisers.
 *
 * Works with CK_FORK=no (valgrind) too: every test sets the log state it
 * needs and puts stderr back.
 */
#include <check.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mamori/log.h"

/* ---- capturing stderr ---------------------------------------------- */

struct capture {
	FILE *tmp;
	int saved;
};

static void cap_start(struct capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	ck_assert_ptr_nonnull(c->tmp);
	c->saved = dup(STDERR_FILENO);
	ck_assert_int_ge(c->saved, 0);
	ck_assert_int_ge(dup2(fileno(c->tmp), STDERR_FILENO), 0);
}

/* Stop capturing; returns what was written (caller frees). */
static char *cap_end(struct capture *c)
{
	char *buf;
	long n;

	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	n = ftell(c->tmp);
	ck_assert_int_ge(n, 0);
	buf = calloc(1, (size_t)n + 1);
	rewind(c->tmp);
	ck_assert_uint_eq(fread(buf, 1, (size_t)n, c->tmp), (size_t)n);
	fclose(c->tmp);
	return buf;
}

/* ---- levels -------------------------------------------------------- */

START_TEST(test_level_names)
{
	ck_assert_int_eq(mm_log_level_parse("error"), MM_LOG_ERR);
	ck_assert_int_eq(mm_log_level_parse("warn"), MM_LOG_WARN);
	ck_assert_int_eq(mm_log_level_parse("info"), MM_LOG_INFO);
	ck_assert_int_eq(mm_log_level_parse("debug"), MM_LOG_DEBUG);
	ck_assert_int_eq(mm_log_level_parse("warning"), -1);
	ck_assert_int_eq(mm_log_level_parse("INFO"), -1);
	ck_assert_int_eq(mm_log_level_parse(""), -1);
	ck_assert_int_eq(mm_log_level_parse(NULL), -1);
	for (int l = MM_LOG_ERR; l <= MM_LOG_DEBUG; l++)
		ck_assert_int_eq(mm_log_level_parse(mm_log_level_name(l)), l);
	ck_assert_str_eq(mm_log_level_name(-1), "unknown");
	ck_assert_str_eq(mm_log_level_name(4), "unknown");
}
END_TEST

START_TEST(test_level_set)
{
	mm_log_init("t", 1, MM_LOG_WARN);
	ck_assert_int_eq(mm_log_level(), MM_LOG_WARN);
	mm_log_set_level(MM_LOG_DEBUG);
	ck_assert_int_eq(mm_log_level(), MM_LOG_DEBUG);
	/* Out of range is clamped, not stored. */
	mm_log_set_level(99);
	ck_assert_int_eq(mm_log_level(), MM_LOG_DEBUG);
	mm_log_set_level(-5);
	ck_assert_int_eq(mm_log_level(), MM_LOG_ERR);
	mm_log_init("t", 1, 42);
	ck_assert_int_eq(mm_log_level(), MM_LOG_DEBUG);
}
END_TEST

/* ---- output -------------------------------------------------------- */

START_TEST(test_stderr_format)
{
	struct capture c;
	char *out;

	mm_log_init("mamori-collector", 1, MM_LOG_DEBUG);
	cap_start(&c);
	mm_warnx("bad datagram from %s (%d bytes)", "192.0.2.1", 12);
	errno = ENOENT;
	mm_warn("open %s", "/x");
	ck_assert_int_eq(errno, ENOENT); /* logging keeps errno */
	mm_info("started, %u sockets", 2u);
	mm_debug("tick %d", 3);
	out = cap_end(&c);
	ck_assert_str_eq(out, "mamori-collector: warning: bad datagram from 192.0.2.1 (12 bytes)\n"
			      "mamori-collector: warning: open /x: No such file or directory\n"
			      "mamori-collector: started, 2 sockets\n"
			      "mamori-collector: debug: tick 3\n");
	free(out);
	mm_log_init(NULL, 1, MM_LOG_INFO);
	cap_start(&c);
	mm_info("x");
	out = cap_end(&c);
	ck_assert_str_eq(out, "mamori: x\n");
	free(out);
}
END_TEST

START_TEST(test_level_filters)
{
	struct capture c;
	char *out;

	mm_log_init("m", 1, MM_LOG_INFO);
	cap_start(&c);
	mm_debug("hidden");
	mm_info("shown");
	mm_log_set_level(MM_LOG_ERR);
	mm_warnx("hidden");
	mm_warn("hidden");
	mm_info("hidden");
	mm_log_set_level(MM_LOG_WARN);
	mm_warnx("shown too");
	mm_info("hidden");
	out = cap_end(&c);
	ck_assert_str_eq(out, "m: shown\nm: warning: shown too\n");
	free(out);
}
END_TEST

/* The level is checked before anything is formatted: an argument that
 * would fault if %s ever read it is never touched. */
START_TEST(test_level_checked_before_formatting)
{
	const char *poison = (const char *)(uintptr_t)1;

	mm_log_init("m", 1, MM_LOG_INFO);
	mm_debug("%s", poison);
	mm_log_set_level(MM_LOG_ERR);
	mm_warnx("%s", poison);
	mm_info("%s", poison);
}
END_TEST

START_TEST(test_long_line_truncated)
{
	struct capture c;
	char *big = malloc(5000), *out;

	memset(big, 'a', 4999);
	big[4999] = '\0';
	mm_log_init("m", 1, MM_LOG_INFO);
	cap_start(&c);
	mm_warnx("%s", big);
	out = cap_end(&c);
	/* "m: warning: " + 1023 characters + "\n": one line, never split. */
	ck_assert_uint_eq(strlen(out), strlen("m: warning: ") + 1023 + 1);
	ck_assert_int_eq(out[strlen(out) - 1], '\n');
	ck_assert_ptr_eq(strchr(out, '\n'), out + strlen(out) - 1);
	free(out);
	free(big);
}
END_TEST

START_TEST(test_syslog_mode_quiet_on_stderr)
{
	struct capture c;
	char *out;

	mm_log_init("mamori-test", 0, MM_LOG_DEBUG);
	cap_start(&c);
	mm_debug("test_log: syslog mode check, ignore");
	out = cap_end(&c);
	ck_assert_str_eq(out, "");
	free(out);
	mm_log_init("mamori-test", 1, MM_LOG_INFO); /* closes syslog */
}
END_TEST

/* Run fn in a child with stderr on a pipe; return its exit status and
 * what it wrote.  Our own fork, so this works with CK_FORK=no too. */
static int run_child(void (*fn)(void), char *out, size_t outlen)
{
	int fds[2], status = 0;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		fn();
		_exit(99); /* not reached: fn must exit */
	}
	close(fds[1]);
	while (n < outlen - 1 && (r = read(fds[0], out + n, outlen - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = '\0';
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void do_fatalx(void)
{
	mm_log_init("mamori-collector", 1, MM_LOG_ERR);
	mm_fatalx("cannot start: %s", "bad config");
}

static void do_fatal(void)
{
	mm_log_init("mamori-collector", 1, MM_LOG_ERR);
	errno = EACCES;
	mm_fatal("bind %s", "0.0.0.0:2055");
}

START_TEST(test_fatal)
{
	char out[256];

	ck_assert_int_eq(run_child(do_fatalx, out, sizeof(out)), 1);
	ck_assert_str_eq(out, "mamori-collector: fatal: cannot start: bad config\n");
	ck_assert_int_eq(run_child(do_fatal, out, sizeof(out)), 1);
	ck_assert_str_eq(out, "mamori-collector: fatal: bind 0.0.0.0:2055: Permission denied\n");
}
END_TEST

/* ---- rate limiter -------------------------------------------------- */

START_TEST(test_ratelimit_burst_and_refill)
{
	struct mm_ratelimit rl;
	uint64_t sup = 77;

	mm_ratelimit_init(&rl, 1.0, 3.0);
	/* Starts full: a burst of 3 gets through at once. */
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1000, &sup), 1);
	ck_assert_uint_eq(sup, 0);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1000, &sup), 1);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1000, &sup), 1);
	sup = 77;
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1000, &sup), 0);
	ck_assert_uint_eq(sup, 77); /* untouched when skipped */
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1500, &sup), 0);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1999, &sup), 0);
	/* One token per second: exactly at 2000 ms the next line goes out
	 * and reports the 3 it skipped. */
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 2000, &sup), 1);
	ck_assert_uint_eq(sup, 3);
	ck_assert_uint_eq(rl.suppressed, 0);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 2000, &sup), 0);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 3000, &sup), 1);
	ck_assert_uint_eq(sup, 1);
}
END_TEST

START_TEST(test_ratelimit_fractional)
{
	struct mm_ratelimit rl;
	uint64_t sup;

	/* One line per 10 s: 0.1/s must add up to a whole token. */
	mm_ratelimit_init(&rl, 0.1, 1.0);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 0, &sup), 1);
	for (uint64_t t = 1000; t < 10000; t += 1000)
		ck_assert_int_eq(mm_ratelimit_ok(&rl, t, &sup), 0);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 10000, &sup), 1);
	ck_assert_uint_eq(sup, 9);
}
END_TEST

START_TEST(test_ratelimit_steady_rate)
{
	struct mm_ratelimit rl;
	unsigned passed = 0;

	/* 10/s with a burst of 5, offered 100/s for 10 s (t = 0..9990 ms):
	 * 5 from the burst + 99 whole tokens refilled over 9.99 s. */
	mm_ratelimit_init(&rl, 10.0, 5.0);
	for (uint64_t t = 0; t < 10000; t += 10)
		passed += (unsigned)mm_ratelimit_ok(&rl, t, NULL);
	ck_assert_uint_eq(passed, 104);
}
END_TEST

START_TEST(test_ratelimit_idle_capped)
{
	struct mm_ratelimit rl;
	unsigned passed = 0;

	mm_ratelimit_init(&rl, 100.0, 2.0);
	mm_ratelimit_ok(&rl, 0, NULL);
	mm_ratelimit_ok(&rl, 0, NULL);
	/* An hour of silence refills to the burst, not to 360000. */
	for (int i = 0; i < 10; i++)
		passed += (unsigned)mm_ratelimit_ok(&rl, 3600000, NULL);
	ck_assert_uint_eq(passed, 2);
	/* A huge jump in time is fine as well. */
	ck_assert_int_eq(mm_ratelimit_ok(&rl, UINT64_MAX, NULL), 1);
}
END_TEST

START_TEST(test_ratelimit_clock_backwards)
{
	struct mm_ratelimit rl;
	uint64_t sup;

	mm_ratelimit_init(&rl, 1.0, 1.0);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 5000, &sup), 1);
	/* Back in time: no refill... */
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1000, &sup), 0);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1999, &sup), 0);
	/* ...but the new reading is the reference: the bucket does not stay
	 * frozen until 6000. */
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 2000, &sup), 1);
	ck_assert_uint_eq(sup, 2);
}
END_TEST

START_TEST(test_ratelimit_degenerate)
{
	struct mm_ratelimit rl;

	mm_ratelimit_init(&rl, 10.0, 0.0); /* no burst: never */
	for (uint64_t t = 0; t < 5000; t += 100)
		ck_assert_int_eq(mm_ratelimit_ok(&rl, t, NULL), 0);
	ck_assert_uint_eq(rl.suppressed, 50);
	mm_ratelimit_init(&rl, 0.0, 2.0); /* no refill: the burst, then never */
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 0, NULL), 1);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1000000, NULL), 1);
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 2000000, NULL), 0);
	mm_ratelimit_init(&rl, -1.0, -1.0); /* negatives count as zero */
	ck_assert_int_eq(mm_ratelimit_ok(&rl, 1000, NULL), 0);
}
END_TEST

/* ---- sanitisers ---------------------------------------------------- */

START_TEST(test_sanitize_hex)
{
	static const uint8_t b[] = { 0xde, 0xad, 0xbe, 0xef, 0x00, 0x0f };
	char out[64], tiny[9];

	ck_assert_str_eq(mm_sanitize_hex(b, 4, 16, out, sizeof(out)), "deadbeef");
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 6, out, sizeof(out)), "deadbeef000f");
	/* Cut by max: marked. */
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 2, out, sizeof(out)), "dead...");
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 0, out, sizeof(out)), "...");
	/* Exactly fits outlen. */
	ck_assert_str_eq(mm_sanitize_hex(b, 4, 16, tiny, sizeof(tiny)), "deadbeef");
	/* Cut by outlen: room is kept for the mark. */
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 16, tiny, sizeof(tiny)), "dead...");
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 16, tiny, 8), "dead...");
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 16, tiny, 3), "de");
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 16, tiny, 2), "");
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 16, tiny, 1), "");
	ck_assert_str_eq(mm_sanitize_hex(b, 6, 16, tiny, 0), "");
	ck_assert_str_eq(mm_sanitize_hex(b, 0, 16, out, sizeof(out)), "");
	ck_assert_str_eq(mm_sanitize_hex(NULL, 10, 16, out, sizeof(out)), "");
	ck_assert_ptr_eq(mm_sanitize_hex(b, 1, 1, out, sizeof(out)), out);
}
END_TEST

START_TEST(test_sanitize_text)
{
	static const char raw[] = "ab\x01" "c\x7f\xff\x1b[2J";
	char out[64], small[8];

	ck_assert_str_eq(mm_sanitize_text(raw, sizeof(raw) - 1, out, sizeof(out)), "ab?c???[2J");
	/* Exactly len bytes: a NUL inside is shown, not an end. */
	ck_assert_str_eq(mm_sanitize_text("a\0b", 3, out, sizeof(out)), "a?b");
	ck_assert_str_eq(mm_sanitize_text("abcdef", 3, out, sizeof(out)), "abc");
	ck_assert_str_eq(mm_sanitize_text("abcdefg", 7, small, sizeof(small)), "abcdefg");
	ck_assert_str_eq(mm_sanitize_text("abcdefgh", 8, small, sizeof(small)), "abcd...");
	ck_assert_str_eq(mm_sanitize_text("abcdefgh", 8, small, 4), "...");
	ck_assert_str_eq(mm_sanitize_text("abcdefgh", 8, small, 3), "ab");
	ck_assert_str_eq(mm_sanitize_text("abcdefgh", 8, small, 1), "");
	ck_assert_str_eq(mm_sanitize_text("abcdefgh", 8, small, 0), "");
	ck_assert_str_eq(mm_sanitize_text(NULL, 8, out, sizeof(out)), "");
	ck_assert_str_eq(mm_sanitize_text("", 0, out, sizeof(out)), "");
	ck_assert_ptr_eq(mm_sanitize_text("x", 1, out, sizeof(out)), out);
}
END_TEST

static Suite *log_suite(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("levels");

	tcase_add_test(tc, test_level_names);
	tcase_add_test(tc, test_level_set);
	suite_add_tcase(s, tc);

	tc = tcase_create("output");
	tcase_add_test(tc, test_stderr_format);
	tcase_add_test(tc, test_level_filters);
	tcase_add_test(tc, test_level_checked_before_formatting);
	tcase_add_test(tc, test_long_line_truncated);
	tcase_add_test(tc, test_syslog_mode_quiet_on_stderr);
	tcase_add_test(tc, test_fatal);
	suite_add_tcase(s, tc);

	tc = tcase_create("ratelimit");
	tcase_add_test(tc, test_ratelimit_burst_and_refill);
	tcase_add_test(tc, test_ratelimit_fractional);
	tcase_add_test(tc, test_ratelimit_steady_rate);
	tcase_add_test(tc, test_ratelimit_idle_capped);
	tcase_add_test(tc, test_ratelimit_clock_backwards);
	tcase_add_test(tc, test_ratelimit_degenerate);
	suite_add_tcase(s, tc);

	tc = tcase_create("sanitize");
	tcase_add_test(tc, test_sanitize_hex);
	tcase_add_test(tc, test_sanitize_text);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(log_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
