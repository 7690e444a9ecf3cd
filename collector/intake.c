/*
 * intake.c - live UDP intake (intake.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/sock_diag.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "mamori/flow.h"
#include "mamori/intake.h"

#define BATCH_MAX 1024

/* Control data per datagram: room for the SO_RXQ_OVFL counter (and a
 * little more, should the kernel add something we did not ask for). */
union ctrl {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(uint32_t)) + 32];
};

struct sock {
	int fd;
	struct event *ev;
	struct mm_intake *in;
	uint32_t last_ovfl; /* last kernel drop counter seen */
	struct sockaddr_storage bound; /* the address as bound (a reconfigure compares it) */
	struct mm_intake_sock_stats st;
};

struct mm_intake {
	mm_datagram_fn fn;
	void *arg;
	unsigned nsocks;
	unsigned batch;
	struct sock *socks;
	struct event_base *base;       /* set by mm_intake_start */
	struct mm_intake_sock_stats retired; /* sockets closed by a reconfigure */
	/* One batch of receive buffers, shared by every socket. */
	struct mmsghdr *msgs;
	struct iovec *iov;
	struct sockaddr_storage *names;
	union ctrl *ctrl;
	uint8_t *bufs;
};

static void seterr(char *err, size_t errlen, const char *fmt, const char *a, int e)
{
	if (err == NULL || errlen == 0)
		return;
	if (e != 0)
		snprintf(err, errlen, "%s: %s: %s", a, fmt, strerror(e));
	else
		snprintf(err, errlen, "%s: %s", a, fmt);
}

static int sock_open(struct sock *s, const struct mm_listen *l, uint32_t rcvbuf, char *err, size_t errlen)
{
	int fam = l->ss.ss_family, one = 1, got = 0;
	socklen_t olen;
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);

	snprintf(s->st.listen, sizeof(s->st.listen), "%s", l->text[0] ? l->text : "?");
	if (fam != AF_INET && fam != AF_INET6) {
		seterr(err, errlen, "not an IPv4 or IPv6 address", s->st.listen, 0);
		return -1;
	}
	s->st.af = fam == AF_INET ? 4 : 6;
	s->fd = socket(fam, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (s->fd < 0) {
		seterr(err, errlen, "socket", s->st.listen, errno);
		return -1;
	}
	if (fam == AF_INET6 && setsockopt(s->fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) < 0) {
		seterr(err, errlen, "IPV6_V6ONLY", s->st.listen, errno);
		return -1;
	}
	s->st.rxq_ovfl = setsockopt(s->fd, SOL_SOCKET, SO_RXQ_OVFL, &one, sizeof(one)) == 0;
	if (rcvbuf > 0) {
		int want = rcvbuf > INT_MAX / 2 ? INT_MAX / 2 : (int)rcvbuf;
		if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &want, sizeof(want)) == 0)
			s->st.rcvbuf_forced = 1;
		else if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof(want)) < 0) {
			seterr(err, errlen, "SO_RCVBUF", s->st.listen, errno);
			return -1;
		}
	}
	olen = sizeof(got);
	if (getsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &got, &olen) == 0)
		s->st.rcvbuf = got;
	if (bind(s->fd, (const struct sockaddr *)&l->ss, l->sslen) < 0) {
		seterr(err, errlen, "bind", s->st.listen, errno);
		return -1;
	}
	s->bound = l->ss;
	if (getsockname(s->fd, (struct sockaddr *)&bound, &blen) == 0) {
		s->bound = bound; /* port 0: the kernel's choice, which a reload may name */
		if (bound.ss_family == AF_INET)
			s->st.port = ntohs(((const struct sockaddr_in *)&bound)->sin_port);
		else if (bound.ss_family == AF_INET6)
			s->st.port = ntohs(((const struct sockaddr_in6 *)&bound)->sin6_port);
	}
	return 0;
}

static void msg_reset(struct mm_intake *in, unsigned i)
{
	struct msghdr *h = &in->msgs[i].msg_hdr;

	h->msg_namelen = sizeof(in->names[i]);
	h->msg_controllen = sizeof(in->ctrl[i].buf);
	h->msg_flags = 0;
}

struct mm_intake *mm_intake_new(const struct mm_listen *ls, unsigned nls, uint32_t rcvbuf, uint32_t batch,
				mm_datagram_fn fn, void *arg, char *err, size_t errlen)
{
	struct mm_intake *in = calloc(1, sizeof(*in));
	unsigned i;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (in == NULL)
		goto nomem;
	in->fn = fn;
	in->arg = arg;
	in->batch = batch < 1 ? 1 : batch > BATCH_MAX ? BATCH_MAX : batch;
	in->socks = calloc(nls ? nls : 1, sizeof(*in->socks));
	in->msgs = calloc(in->batch, sizeof(*in->msgs));
	in->iov = calloc(in->batch, sizeof(*in->iov));
	in->names = calloc(in->batch, sizeof(*in->names));
	in->ctrl = calloc(in->batch, sizeof(*in->ctrl));
	in->bufs = malloc((size_t)in->batch * MM_INTAKE_BUFSZ);
	if (!in->socks || !in->msgs || !in->iov || !in->names || !in->ctrl || !in->bufs)
		goto nomem;
	for (i = 0; i < in->batch; i++) {
		struct msghdr *h = &in->msgs[i].msg_hdr;

		in->iov[i].iov_base = in->bufs + (size_t)i * MM_INTAKE_BUFSZ;
		in->iov[i].iov_len = MM_INTAKE_BUFSZ;
		h->msg_name = &in->names[i];
		h->msg_iov = &in->iov[i];
		h->msg_iovlen = 1;
		h->msg_control = in->ctrl[i].buf;
		msg_reset(in, i);
	}
	for (i = 0; i < nls; i++) {
		in->socks[i].fd = -1;
		in->socks[i].in = in;
	}
	for (i = 0; i < nls; i++) {
		in->nsocks = i + 1;
		if (sock_open(&in->socks[i], &ls[i], rcvbuf, err, errlen) < 0)
			goto fail;
	}
	in->nsocks = nls;
	return in;
nomem:
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "intake: out of memory");
fail:
	mm_intake_free(in);
	return NULL;
}

/* Follow the kernel's drop counter in a datagram's control data. */
static void note_drops(struct sock *s, struct msghdr *h)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL; c = CMSG_NXTHDR(h, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL &&
		    c->cmsg_len >= CMSG_LEN(sizeof(uint32_t))) {
			uint32_t v;
			memcpy(&v, CMSG_DATA(c), sizeof(v));
			/* Cumulative per socket, stamped at enqueue; wraps at 2^32. */
			s->st.kernel_drops += (uint32_t)(v - s->last_ovfl);
			s->last_ovfl = v;
		}
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct sock *s = arg;
	struct mm_intake *in = s->in;
	unsigned round;

	(void)what;
	for (round = 0; round < MM_INTAKE_MAX_ROUNDS; round++) {
		int n = recvmmsg(fd, in->msgs, in->batch, MSG_DONTWAIT, NULL);
		int stop = 0;
		uint64_t now;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				s->st.errors++;
			return;
		}
		if (n == 0)
			return;
		now = now_ms();
		s->st.batches++;
		if ((unsigned)n == in->batch)
			s->st.full_batches++;
		for (int i = 0; i < n; i++) {
			struct msghdr *h = &in->msgs[i].msg_hdr;
			const struct sockaddr_storage *ss = &in->names[i];
			uint8_t src[16];
			uint16_t sport;
			int af;

			if (h->msg_controllen > 0)
				note_drops(s, h);
			if (stop) {
				s->st.discarded++;
				continue;
			}
			if (h->msg_flags & MSG_TRUNC) {
				s->st.truncated++;
				continue;
			}
			if (ss->ss_family == AF_INET) {
				const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
				mm_addr_set4(src, (const uint8_t *)&sin->sin_addr);
				sport = ntohs(sin->sin_port);
				af = 4;
			} else if (ss->ss_family == AF_INET6) {
				const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
				memcpy(src, &sin6->sin6_addr, 16);
				sport = ntohs(sin6->sin6_port);
				af = mm_addr_is4(src) ? 4 : 6;
			} else {
				s->st.errors++;
				continue;
			}
			s->st.datagrams++;
			s->st.bytes += in->msgs[i].msg_len;
			if (in->fn(in->arg, src, af, sport, in->iov[i].iov_base, in->msgs[i].msg_len, now) != 0)
				stop = 1;
		}
		for (int i = 0; i < n; i++)
			msg_reset(in, (unsigned)i);
		/* A short batch: the queue is (very likely) empty; the event is
		 * level-triggered, so anything that came meanwhile calls us back. */
		if (stop || (unsigned)n < in->batch)
			return;
	}
	s->st.yields++;
}

int mm_intake_start(struct mm_intake *in, struct event_base *base, char *err, size_t errlen)
{
	in->base = base;
	for (unsigned i = 0; i < in->nsocks; i++) {
		struct sock *s = &in->socks[i];

		if (s->ev != NULL)
			continue;
		s->ev = event_new(base, s->fd, EV_READ | EV_PERSIST, on_read, s);
		if (s->ev == NULL || event_add(s->ev, NULL) < 0) {
			seterr(err, errlen, "cannot add the read event", s->st.listen, 0);
			return -1;
		}
	}
	return 0;
}

void mm_intake_stop(struct mm_intake *in)
{
	if (in == NULL)
		return;
	for (unsigned i = 0; i < in->nsocks; i++)
		if (in->socks[i].ev != NULL)
			event_del(in->socks[i].ev);
}

void mm_intake_free(struct mm_intake *in)
{
	if (in == NULL)
		return;
	for (unsigned i = 0; in->socks != NULL && i < in->nsocks; i++) {
		if (in->socks[i].ev != NULL)
			event_free(in->socks[i].ev);
		if (in->socks[i].fd >= 0)
			close(in->socks[i].fd);
	}
	free(in->socks);
	free(in->msgs);
	free(in->iov);
	free(in->names);
	free(in->ctrl);
	free(in->bufs);
	free(in);
}

unsigned mm_intake_nsocks(const struct mm_intake *in)
{
	return in->nsocks;
}

void mm_intake_refresh_drops(struct mm_intake *in)
{
	/* SO_RXQ_OVFL only reports drops through datagrams that arrive later;
	 * the socket's own drop counter (SK_MEMINFO_DROPS, the same counter)
	 * also shows those after the last datagram read. */
	for (unsigned i = 0; in != NULL && i < in->nsocks; i++) {
		struct sock *s = &in->socks[i];
		uint32_t mem[SK_MEMINFO_VARS];
		socklen_t len = sizeof(mem);
		if (s->fd < 0 || getsockopt(s->fd, SOL_SOCKET, SO_MEMINFO, mem, &len) < 0 ||
		    len <= SK_MEMINFO_DROPS * sizeof(uint32_t))
			continue;
		uint32_t v = mem[SK_MEMINFO_DROPS];
		if (v != s->last_ovfl) {
			s->st.kernel_drops += (uint32_t)(v - s->last_ovfl);
			s->last_ovfl = v;
		}
	}
}

const struct mm_intake_sock_stats *mm_intake_sock_stats(const struct mm_intake *in, unsigned i)
{
	return i < in->nsocks ? &in->socks[i].st : NULL;
}

/* The same socket address: a listener that stays (port 0 is the kernel's
 * choice each time, so only the same text keeps such a socket). */
static int same_listen(const struct sock *s, const struct mm_listen *l)
{
	const struct sockaddr_storage *a = &s->bound;

	if (strcmp(s->st.listen, l->text) == 0)
		return 1;
	if (a->ss_family != l->ss.ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)&l->ss;
		return y->sin_port != 0 && x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)&l->ss;
	return y->sin6_port != 0 && x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

static void retire(struct mm_intake_sock_stats *r, const struct mm_intake_sock_stats *s)
{
	r->datagrams += s->datagrams;
	r->bytes += s->bytes;
	r->kernel_drops += s->kernel_drops;
	r->truncated += s->truncated;
	r->batches += s->batches;
	r->full_batches += s->full_batches;
	r->yields += s->yields;
	r->errors += s->errors;
	r->discarded += s->discarded;
}

int mm_intake_reconfigure(struct mm_intake *in, const struct mm_listen *ls, unsigned nls, uint32_t rcvbuf,
			  unsigned *added, unsigned *removed, char *err, size_t errlen)
{
	struct sock *ns = calloc(nls ? nls : 1, sizeof(*ns));
	int *from = calloc(nls ? nls : 1, sizeof(*from)); /* old index kept, or -1 */
	char *taken = calloc(in->nsocks ? in->nsocks : 1, 1); /* an old socket goes to one listen at most */
	unsigned i, j, nadd = 0, nkept = 0;

	if (ns == NULL || from == NULL || taken == NULL) {
		seterr(err, errlen, "out of memory", "intake", 0);
		goto fail;
	}
	for (i = 0; i < nls; i++) {
		ns[i].fd = -1;
		ns[i].in = in;
		from[i] = -1;
		for (j = 0; j < in->nsocks; j++)
			if (!taken[j] && in->socks[j].fd >= 0 && same_listen(&in->socks[j], &ls[i])) {
				from[i] = (int)j;
				taken[j] = 1;
				break;
			}
	}
	/* Everything that can fail first (binding the new sockets, the
	 * events): on failure nothing has changed. */
	for (i = 0; i < nls; i++) {
		if (from[i] >= 0) {
			ns[i].fd = in->socks[from[i]].fd;
			ns[i].last_ovfl = in->socks[from[i]].last_ovfl;
			ns[i].bound = in->socks[from[i]].bound;
			ns[i].st = in->socks[from[i]].st;
			nkept++;
		} else {
			if (sock_open(&ns[i], &ls[i], rcvbuf, err, errlen) < 0)
				goto fail;
			nadd++;
		}
		if (in->base != NULL) {
			ns[i].ev = event_new(in->base, ns[i].fd, EV_READ | EV_PERSIST, on_read, &ns[i]);
			if (ns[i].ev == NULL) {
				seterr(err, errlen, "cannot create the read event", ns[i].st.listen, 0);
				goto fail;
			}
		}
	}
	/* Commit: the kept sockets' queued datagrams stay where they are. */
	for (j = 0; j < in->nsocks; j++) {
		int kept = 0;

		for (i = 0; i < nls; i++)
			kept |= from[i] == (int)j;
		if (in->socks[j].ev != NULL)
			event_free(in->socks[j].ev);
		if (!kept) {
			if (in->socks[j].fd >= 0)
				close(in->socks[j].fd);
			retire(&in->retired, &in->socks[j].st);
		}
	}
	for (i = 0; i < nls; i++)
		if (ns[i].ev != NULL && event_add(ns[i].ev, NULL) < 0)
			ns[i].st.errors++; /* cannot happen for a fresh event; counted if it does */
	free(in->socks);
	in->socks = ns;
	if (added != NULL)
		*added = nadd;
	if (removed != NULL)
		*removed = in->nsocks - nkept;
	in->nsocks = nls;
	free(from);
	free(taken);
	return 0;
fail:
	for (i = 0; ns != NULL && i < nls; i++) {
		if (ns[i].ev != NULL)
			event_free(ns[i].ev);
		if (ns[i].fd >= 0 && (from == NULL || from[i] < 0))
			close(ns[i].fd);
	}
	free(ns);
	free(from);
	free(taken);
	return -1;
}

const struct mm_intake_sock_stats *mm_intake_retired_stats(const struct mm_intake *in)
{
	return &in->retired;
}
