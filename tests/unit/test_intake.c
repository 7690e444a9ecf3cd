/*
 * test_intake.c - the live UDP intake (intake.h) over loopback: datagrams
 * sent to an ephemeral port arrive whole, in order, with their source; the
 * per-socket counters (batches, kernel drops via SO_RXQ_OVFL, discarded);
 * listen-address parsing; bind errors.
 *
 * Every wait is on an event: the loop runs until the callback has seen what
 * it expects, bounded by a watchdog timer that fails the test.  Where the
 * test cannot know what the kernel kept (drops), it sends a marker datagram
 * from a timer until one arrives, and then checks the accounting.
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "mamori/flow.h"
#include "mamori/intake.h"

#define WATCHDOG_S 10
#define MARKER 0xee

struct rx {
	struct event_base *base;
	uint64_t n, bytes;
	uint64_t flood, markers;
	uint64_t expect;     /* loopexit when n reaches it (0 = on a marker) */
	int stop_at;         /* return non-zero on this datagram (1-based) */
	uint16_t want_sport;
	int want_af;
	uint8_t want_src[16];
	int bad;             /* a datagram was wrong: out of order, bad source or bytes */
	char why[160];
	int timed_out;
};

static void fail_later(struct rx *r, const char *why)
{
	if (!r->bad) {
		r->bad = 1;
		snprintf(r->why, sizeof(r->why), "%s", why);
	}
}

/* Payload of datagram `seq`: 4-byte sequence number, then seq-derived bytes;
 * length 1 + seq % 1200 (at least 4). */
static size_t make_payload(uint8_t *p, uint32_t seq)
{
	size_t len = 4 + seq % 1200;

	p[0] = (uint8_t)(seq >> 24), p[1] = (uint8_t)(seq >> 16), p[2] = (uint8_t)(seq >> 8), p[3] = (uint8_t)seq;
	for (size_t i = 4; i < len; i++)
		p[i] = (uint8_t)(seq * 7 + i);
	return len;
}

static int on_dgram(void *arg, const uint8_t src[16], int af, uint16_t sport, const uint8_t *p, size_t len,
		    uint64_t ts_ms)
{
	struct rx *r = arg;
	uint8_t want[1300];
	uint32_t seq;

	r->n++;
	r->bytes += len;
	if (af != r->want_af || sport != r->want_sport || memcmp(src, r->want_src, 16) != 0)
		fail_later(r, "wrong source");
	if (ts_ms < 1600000000000ull)
		fail_later(r, "receive time is not Unix ms");
	if (len == 1 && p[0] == MARKER) {
		r->markers++;
		if (r->expect == 0)
			event_base_loopexit(r->base, NULL);
		return 0;
	}
	if (len < 4) {
		fail_later(r, "short datagram");
		return 0;
	}
	seq = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
	if (r->expect != 0 && seq != r->flood)
		fail_later(r, "out of order");
	if (make_payload(want, seq) != len || memcmp(want, p, len) != 0)
		fail_later(r, "wrong bytes");
	r->flood++;
	if (r->expect != 0 && r->n == r->expect)
		event_base_loopexit(r->base, NULL);
	return r->stop_at != 0 && r->n == (uint64_t)r->stop_at;
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct rx *r = arg;

	(void)fd;
	(void)what;
	r->timed_out = 1;
	event_base_loopbreak(r->base);
}

/* A client socket bound to an ephemeral port on the loopback of family af. */
static int client(int af, struct sockaddr_storage *ss, socklen_t *sslen)
{
	int fd = socket(af == 4 ? AF_INET : AF_INET6, SOCK_DGRAM, 0);

	memset(ss, 0, sizeof(*ss));
	if (af == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		*sslen = sizeof(*sin6);
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)ss, *sslen), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)ss, sslen), 0);
	return fd;
}

static uint16_t ss_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

/* The server address: the client's, with the intake's port. */
static void to_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void send_seq(int fd, const struct sockaddr_storage *to, socklen_t tolen, uint32_t seq)
{
	uint8_t p[1300];
	size_t len = make_payload(p, seq);

	ck_assert_int_eq(sendto(fd, p, len, 0, (const struct sockaddr *)to, tolen), (ssize_t)len);
}

struct marker_sender {
	int fd;
	struct sockaddr_storage to;
	socklen_t tolen;
	uint64_t sent;
};

static void on_marker_timer(evutil_socket_t fd, short what, void *arg)
{
	struct marker_sender *m = arg;
	uint8_t b = MARKER;

	(void)fd;
	(void)what;
	if (sendto(m->fd, &b, 1, 0, (const struct sockaddr *)&m->to, m->tolen) == 1)
		m->sent++;
}

struct fixture {
	struct event_base *base;
	struct mm_intake *in;
	struct event *watchdog;
	struct rx rx;
	int cfd;
	struct sockaddr_storage to;
	socklen_t tolen;
};

/* Intake on the loopback of family af, port 0; a client; a watchdog.
 * Returns 0, or -1 when the family is not available here (IPv6). */
static int setup(struct fixture *fx, int af, uint32_t rcvbuf, uint32_t batch)
{
	struct mm_listen l;
	const char *why;
	char err[256];
	struct timeval wd = { WATCHDOG_S, 0 };

	memset(fx, 0, sizeof(*fx));
	fx->cfd = -1;
	ck_assert_int_eq(mm_listen_parse(af == 4 ? "127.0.0.1:0" : "[::1]:0", &l, &why), 0);
	fx->in = mm_intake_new(&l, 1, rcvbuf, batch, on_dgram, &fx->rx, err, sizeof(err));
	if (fx->in == NULL && af == 6 && (strstr(err, "Address family") || strstr(err, "assign")))
		return -1;
	ck_assert_msg(fx->in != NULL, "mm_intake_new: %s", err);
	fx->base = event_base_new();
	ck_assert_ptr_nonnull(fx->base);
	ck_assert_int_eq(mm_intake_start(fx->in, fx->base, err, sizeof(err)), 0);
	fx->watchdog = evtimer_new(fx->base, on_watchdog, &fx->rx);
	ck_assert_int_eq(evtimer_add(fx->watchdog, &wd), 0);

	fx->rx.base = fx->base;
	fx->rx.want_af = af;
	fx->cfd = client(af, &fx->to, &fx->tolen);
	fx->rx.want_sport = ss_port(&fx->to);
	if (af == 4) {
		static const uint8_t lo[4] = { 127, 0, 0, 1 };
		mm_addr_set4(fx->rx.want_src, lo);
	} else {
		memcpy(fx->rx.want_src, &in6addr_loopback, 16);
	}
	to_port(&fx->to, mm_intake_sock_stats(fx->in, 0)->port);
	return 0;
}

static void teardown(struct fixture *fx)
{
	if (fx->watchdog)
		event_free(fx->watchdog);
	mm_intake_free(fx->in); /* frees its events before the base goes */
	if (fx->base)
		event_base_free(fx->base);
	if (fx->cfd >= 0)
		close(fx->cfd);
}

static void check_rx(const struct fixture *fx)
{
	ck_assert_msg(!fx->rx.timed_out, "watchdog: only %llu datagrams arrived",
		      (unsigned long long)fx->rx.n);
	ck_assert_msg(!fx->rx.bad, "%s", fx->rx.why);
}

/* ---- tests ---- */

static void roundtrip(int af)
{
	struct fixture fx;
	const struct mm_intake_sock_stats *st;
	uint64_t bytes = 0;
	const uint32_t N = 300;

	if (setup(&fx, af, 4u << 20, 8) < 0)
		return; /* no IPv6 loopback in this sandbox */
	st = mm_intake_sock_stats(fx.in, 0);
	ck_assert_uint_ne(st->port, 0);
	ck_assert_int_eq(st->af, af);
	ck_assert_int_eq(st->rxq_ovfl, 1);
	ck_assert_int_gt(st->rcvbuf, 0);
	for (uint32_t i = 0; i < N; i++) {
		uint8_t p[1300];
		bytes += make_payload(p, i);
		send_seq(fx.cfd, &fx.to, fx.tolen, i);
	}
	fx.rx.expect = N;
	ck_assert_int_eq(event_base_dispatch(fx.base), 0);
	check_rx(&fx);
	ck_assert_uint_eq(fx.rx.n, N);
	ck_assert_uint_eq(fx.rx.bytes, bytes);
	ck_assert_uint_eq(st->datagrams, N);
	ck_assert_uint_eq(st->bytes, bytes);
	ck_assert_uint_eq(st->kernel_drops, 0);
	ck_assert_uint_eq(st->truncated + st->errors + st->discarded, 0);
	/* batch 8: at least N / 8 recvmmsg calls, each at most 8. */
	ck_assert_uint_ge(st->batches, (N + 7) / 8);
	ck_assert_uint_le(st->full_batches, N / 8);
	teardown(&fx);
}

START_TEST(roundtrip_ipv4)
{
	roundtrip(4);
}
END_TEST

START_TEST(roundtrip_ipv6)
{
	roundtrip(6);
}
END_TEST

/* A receive buffer far too small: the kernel drops, SO_RXQ_OVFL tells. */
START_TEST(kernel_drops_reported)
{
	struct fixture fx;
	struct marker_sender ms;
	struct event *tm;
	struct timeval every = { 0, 20000 };
	const struct mm_intake_sock_stats *st;
	const uint32_t N = 200;

	setup(&fx, 4, 1, 64); /* the kernel's minimum */
	st = mm_intake_sock_stats(fx.in, 0);
	for (uint32_t i = 0; i < N; i++)
		send_seq(fx.cfd, &fx.to, fx.tolen, 1000 + i % 2 * 100); /* 1004 or 1104 bytes */
	ms.fd = fx.cfd;
	ms.to = fx.to;
	ms.tolen = fx.tolen;
	ms.sent = 0;
	tm = event_new(fx.base, -1, EV_PERSIST, on_marker_timer, &ms);
	ck_assert_int_eq(event_add(tm, &every), 0);
	fx.rx.expect = 0; /* until a marker arrives */
	ck_assert_int_eq(event_base_dispatch(fx.base), 0);
	event_free(tm);
	check_rx(&fx);
	ck_assert_uint_ge(fx.rx.markers, 1);
	ck_assert_uint_ge(fx.rx.flood, 1);
	ck_assert_uint_lt(fx.rx.flood, N);
	ck_assert_uint_gt(st->kernel_drops, 0);
	/* Each sent datagram was received or dropped (the marker that ended
	 * the loop came after the flood, so its drop count covers the flood). */
	ck_assert_uint_ge(fx.rx.flood + st->kernel_drops, N);
	ck_assert_uint_le(fx.rx.n + st->kernel_drops, N + ms.sent);
	ck_assert_uint_eq(st->datagrams, fx.rx.n);
	teardown(&fx);
}
END_TEST

/* Drops with no datagram read after them (the end of a burst) are still
 * counted once the statistics are refreshed. */
START_TEST(kernel_drops_without_later_datagram)
{
	struct fixture fx;
	const struct mm_intake_sock_stats *st;
	const uint32_t N = 200;

	setup(&fx, 4, 1, 64); /* the kernel's minimum */
	st = mm_intake_sock_stats(fx.in, 0);
	for (uint32_t i = 0; i < N; i++)
		send_seq(fx.cfd, &fx.to, fx.tolen, 1000);
	/* nothing is read: SO_RXQ_OVFL had no datagram to report through */
	ck_assert_uint_eq(st->datagrams, 0);
	ck_assert_uint_eq(st->kernel_drops, 0);
	mm_intake_refresh_drops(fx.in);
	ck_assert_uint_gt(st->kernel_drops, 0);
	ck_assert_uint_lt(st->kernel_drops, N);
	teardown(&fx);
}
END_TEST

/* The callback asks to stop: the rest of that batch is discarded, counted,
 * and the intake carries on with the next read. */
START_TEST(callback_stop_discards)
{
	struct fixture fx;
	struct marker_sender ms;
	struct event *tm;
	struct timeval every = { 0, 20000 };
	const struct mm_intake_sock_stats *st;

	setup(&fx, 4, 1u << 20, 64);
	st = mm_intake_sock_stats(fx.in, 0);
	for (uint32_t i = 0; i < 10; i++)
		send_seq(fx.cfd, &fx.to, fx.tolen, i);
	fx.rx.stop_at = 3;
	ms.fd = fx.cfd;
	ms.to = fx.to;
	ms.tolen = fx.tolen;
	ms.sent = 0;
	tm = event_new(fx.base, -1, EV_PERSIST, on_marker_timer, &ms);
	ck_assert_int_eq(event_add(tm, &every), 0);
	ck_assert_int_eq(event_base_dispatch(fx.base), 0);
	event_free(tm);
	check_rx(&fx);
	/* Everything sent was delivered or discarded; nothing dropped. */
	ck_assert_uint_eq(st->kernel_drops, 0);
	ck_assert_uint_eq(fx.rx.flood + st->discarded, 10);
	ck_assert_uint_ge(fx.rx.flood, 3);
	ck_assert_uint_eq(st->datagrams, fx.rx.n);
	teardown(&fx);
}
END_TEST

/* Two sockets on one loop: each gets its own datagrams and counters. */
START_TEST(two_sockets)
{
	struct mm_listen l[2];
	const char *why;
	char err[256];
	struct rx rx;
	struct event_base *base = event_base_new();
	struct mm_intake *in;
	struct sockaddr_storage to;
	socklen_t tolen;
	struct event *wd;
	struct timeval wdt = { WATCHDOG_S, 0 };
	int fd;
	static const uint8_t lo[4] = { 127, 0, 0, 1 };

	ck_assert_int_eq(mm_listen_parse("127.0.0.1:0", &l[0], &why), 0);
	ck_assert_int_eq(mm_listen_parse("127.0.0.1:0", &l[1], &why), 0);
	memset(&rx, 0, sizeof(rx));
	in = mm_intake_new(l, 2, 1u << 20, 4, on_dgram, &rx, err, sizeof(err));
	ck_assert_msg(in != NULL, "%s", err);
	ck_assert_uint_eq(mm_intake_nsocks(in), 2);
	ck_assert_ptr_null(mm_intake_sock_stats(in, 2));
	ck_assert_int_eq(mm_intake_start(in, base, err, sizeof(err)), 0);
	ck_assert_int_eq(mm_intake_start(in, base, err, sizeof(err)), 0); /* idempotent */
	wd = evtimer_new(base, on_watchdog, &rx);
	evtimer_add(wd, &wdt);
	rx.base = base;
	rx.want_af = 4;
	mm_addr_set4(rx.want_src, lo);
	fd = client(4, &to, &tolen);
	rx.want_sport = ss_port(&to);
	for (uint32_t i = 0; i < 20; i++) {
		to_port(&to, mm_intake_sock_stats(in, i % 2)->port);
		send_seq(fd, &to, tolen, i);
	}
	rx.expect = 20;
	/* Order across sockets is the loop's business: only count. */
	rx.stop_at = 0;
	ck_assert_int_eq(event_base_dispatch(base), 0);
	ck_assert_msg(!rx.timed_out, "watchdog");
	ck_assert_uint_eq(rx.n, 20);
	ck_assert_uint_eq(mm_intake_sock_stats(in, 0)->datagrams, 10);
	ck_assert_uint_eq(mm_intake_sock_stats(in, 1)->datagrams, 10);
	ck_assert_uint_ne(mm_intake_sock_stats(in, 0)->port, mm_intake_sock_stats(in, 1)->port);
	event_free(wd);
	mm_intake_free(in);
	event_base_free(base);
	close(fd);
}
END_TEST

START_TEST(bind_errors)
{
	struct mm_listen l[2];
	const char *why;
	char err[256], text[64];
	struct mm_intake *a, *b;
	struct rx rx;

	memset(&rx, 0, sizeof(rx));
	ck_assert_int_eq(mm_listen_parse("127.0.0.1:0", &l[0], &why), 0);
	a = mm_intake_new(l, 1, 0, 64, on_dgram, &rx, err, sizeof(err));
	ck_assert_ptr_nonnull(a);
	/* The same port again: EADDRINUSE, reported with the address. */
	snprintf(text, sizeof(text), "127.0.0.1:%u", mm_intake_sock_stats(a, 0)->port);
	ck_assert_int_eq(mm_listen_parse(text, &l[0], &why), 0);
	ck_assert_int_eq(mm_listen_parse("127.0.0.1:0", &l[1], &why), 0);
	b = mm_intake_new(l, 2, 0, 64, on_dgram, &rx, err, sizeof(err));
	ck_assert_ptr_null(b);
	ck_assert_msg(strstr(err, text) != NULL && strstr(err, "bind") != NULL, "err: %s", err);
	/* ... also when it is the second of two. */
	ck_assert_int_eq(mm_listen_parse("127.0.0.1:0", &l[0], &why), 0);
	ck_assert_int_eq(mm_listen_parse(text, &l[1], &why), 0);
	ck_assert_ptr_null(mm_intake_new(l, 2, 0, 64, on_dgram, &rx, err, sizeof(err)));
	/* Not an address of this host. */
	ck_assert_int_eq(mm_listen_parse("192.0.2.123:0", &l[0], &why), 0);
	ck_assert_ptr_null(mm_intake_new(l, 1, 0, 64, on_dgram, &rx, err, sizeof(err)));
	ck_assert_msg(strstr(err, "192.0.2.123:0") != NULL, "err: %s", err);
	mm_intake_free(a);
	mm_intake_free(NULL);
}
END_TEST

START_TEST(listen_parse)
{
	static const struct {
		const char *text;
		int ok, af;
		uint16_t port;
	} cases[] = {
		{ "127.0.0.1:2055", 1, 4, 2055 },  { "0.0.0.0:4739", 1, 4, 4739 }, { ":6343", 1, 4, 6343 },
		{ "[::]:2055", 1, 6, 2055 },       { "[::1]:0", 1, 6, 0 },         { "[2001:db8::1]:65535", 1, 6, 65535 },
		{ "127.0.0.1", 0, 0, 0 },          { "127.0.0.1:", 0, 0, 0 },      { "127.0.0.1:65536", 0, 0, 0 },
		{ "127.0.0.1:-1", 0, 0, 0 },       { "127.0.0.1:+5", 0, 0, 0 },    { "127.0.0.1:2055x", 0, 0, 0 },
		{ "localhost:2055", 0, 0, 0 },     { "::1:2055", 0, 0, 0 },        { "[::1]", 0, 0, 0 },
		{ "[::1]2055", 0, 0, 0 },          { "[1.2.3.4]:5", 0, 0, 0 },     { "[::1:5", 0, 0, 0 },
		{ "256.0.0.1:5", 0, 0, 0 },        { "", 0, 0, 0 },                { "[]:5", 0, 0, 0 },
	};
	struct mm_listen l;
	const char *why;
	char longer[200];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r = mm_listen_parse(cases[i].text, &l, &why);
		ck_assert_msg((r == 0) == cases[i].ok, "%s: %d", cases[i].text, r);
		if (!cases[i].ok)
			continue;
		ck_assert_str_eq(l.text, cases[i].text);
		if (cases[i].af == 4) {
			ck_assert_int_eq(l.ss.ss_family, AF_INET);
			ck_assert_uint_eq(l.sslen, sizeof(struct sockaddr_in));
			ck_assert_uint_eq(ntohs(((struct sockaddr_in *)&l.ss)->sin_port), cases[i].port);
		} else {
			ck_assert_int_eq(l.ss.ss_family, AF_INET6);
			ck_assert_uint_eq(l.sslen, sizeof(struct sockaddr_in6));
			ck_assert_uint_eq(ntohs(((struct sockaddr_in6 *)&l.ss)->sin6_port), cases[i].port);
		}
	}
	memset(longer, '1', sizeof(longer) - 1);
	longer[sizeof(longer) - 1] = '\0';
	ck_assert_int_eq(mm_listen_parse(longer, &l, &why), -1);
}
END_TEST

/* A reload's listeners: a kept socket keeps what is queued in it, a new one
 * is bound beside it, a removed one's counters are retired, and a list
 * that cannot be bound changes nothing. */
START_TEST(reconfigure_listeners)
{
	struct fixture fx;
	struct mm_listen l[2];
	const char *why;
	char err[256], text[64];
	unsigned added = 9, removed = 9;
	uint16_t p0, p1;
	const uint32_t N = 50;

	ck_assert_int_eq(setup(&fx, 4, 1u << 20, 8), 0);
	p0 = mm_intake_sock_stats(fx.in, 0)->port;
	for (uint32_t i = 0; i < N; i++)
		send_seq(fx.cfd, &fx.to, fx.tolen, i); /* queued: the loop has not run */
	ck_assert_int_eq(mm_listen_parse("127.0.0.1:0", &l[0], &why), 0);
	ck_assert_int_eq(mm_listen_parse("127.0.0.1:0", &l[1], &why), 0);
	ck_assert_int_eq(mm_intake_reconfigure(fx.in, l, 2, 1u << 20, &added, &removed, err, sizeof(err)), 0);
	ck_assert_uint_eq(added, 1);
	ck_assert_uint_eq(removed, 0);
	ck_assert_uint_eq(mm_intake_nsocks(fx.in), 2);
	ck_assert_uint_eq(mm_intake_sock_stats(fx.in, 0)->port, p0);
	p1 = mm_intake_sock_stats(fx.in, 1)->port;
	ck_assert_uint_ne(p1, p0);
	fx.rx.expect = N;
	ck_assert_int_eq(event_base_dispatch(fx.base), 0);
	check_rx(&fx);
	ck_assert_uint_eq(fx.rx.n, N); /* nothing queued was lost */

	/* Keep the new one (named by its port now), drop the first. */
	snprintf(text, sizeof(text), "127.0.0.1:%u", (unsigned)p1);
	ck_assert_int_eq(mm_listen_parse(text, &l[0], &why), 0);
	ck_assert_int_eq(mm_intake_reconfigure(fx.in, l, 1, 1u << 20, &added, &removed, err, sizeof(err)), 0);
	ck_assert_uint_eq(added, 0);
	ck_assert_uint_eq(removed, 1);
	ck_assert_uint_eq(mm_intake_sock_stats(fx.in, 0)->port, p1);
	ck_assert_uint_eq(mm_intake_retired_stats(fx.in)->datagrams, N);
	fx.rx.n = fx.rx.flood = 0;
	to_port(&fx.to, p1);
	for (uint32_t i = 0; i < N; i++)
		send_seq(fx.cfd, &fx.to, fx.tolen, i);
	ck_assert_int_eq(event_base_dispatch(fx.base), 0);
	check_rx(&fx);
	ck_assert_uint_eq(fx.rx.n, N);

	/* An address that is not ours: refused, nothing changed. */
	ck_assert_int_eq(mm_listen_parse("192.0.2.1:0", &l[1], &why), 0);
	ck_assert_int_eq(mm_intake_reconfigure(fx.in, l, 2, 1u << 20, &added, &removed, err, sizeof(err)), -1);
	ck_assert_msg(strncmp(err, "192.0.2.1:0: bind: ", 19) == 0, "%s", err);
	ck_assert_uint_eq(mm_intake_nsocks(fx.in), 1);
	ck_assert_uint_eq(mm_intake_sock_stats(fx.in, 0)->port, p1);
	fx.rx.n = fx.rx.flood = 0;
	for (uint32_t i = 0; i < N; i++)
		send_seq(fx.cfd, &fx.to, fx.tolen, i);
	ck_assert_int_eq(event_base_dispatch(fx.base), 0);
	check_rx(&fx);
	ck_assert_uint_eq(fx.rx.n, N);
	teardown(&fx);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("intake");
	TCase *tc = tcase_create("loopback");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, roundtrip_ipv4);
	tcase_add_test(tc, roundtrip_ipv6);
	tcase_add_test(tc, kernel_drops_reported);
	tcase_add_test(tc, kernel_drops_without_later_datagram);
	tcase_add_test(tc, callback_stop_discards);
	tcase_add_test(tc, two_sockets);
	tcase_add_test(tc, bind_errors);
	tcase_add_test(tc, reconfigure_listeners);
	suite_add_tcase(s, tc);
	tc = tcase_create("parse");
	tcase_add_test(tc, listen_parse);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	libevent_global_shutdown();
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
