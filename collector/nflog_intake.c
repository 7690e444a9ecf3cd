/*
 * nflog_intake.c - the live NFLOG source: one libnetfilter_log handle (one
 * netlink socket) bound to every configured group, read in the collector's
 * libevent loop.  Each logged packet goes through mm_nflog_record (nflog.c)
 * to the collector's flow sink.
 *
 * Hot path: the kernel batches packets into one netlink message (up to
 * NLBUFSIZ bytes, QTHRESH packets, or FLUSH_CS centiseconds, whichever
 * comes first), so a read callback does one non-blocking recv per batch,
 * one clock read per batch, no allocation; at most MM_NFLOG_MAX_ROUNDS
 * batches before yielding to the other events (the event is
 * level-triggered).  The receive buffer is allocated once with the struct.
 *
 * Losses: ENOBUFS on recv means the kernel dropped messages because the
 * socket buffer was full; it is counted, the buffer is doubled (up to
 * MM_NFLOG_RCVBUF_MAX) and reading goes on.  How many packets were lost is
 * known from the per-group sequence numbers (NFULNL_CFG_F_SEQ): every gap
 * is counted in seq_lost.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <linux/netfilter/nfnetlink.h>
#include <libnetfilter_log/libnetfilter_log.h>

#include "mamori/nflog.h"

#define NLBUFSIZ 65536    /* kernel's per-group batch buffer (its max is 131072) */
#define QTHRESH 256       /* packets per batch at most */
#define FLUSH_CS 10       /* a partial batch waits at most 100 ms */
#define RECV_BUFSZ 262144 /* > the largest batch the kernel can send */

struct nfgroup {
	struct mm_nflog *n;
	struct nflog_g_handle *gh;
	struct mm_nflog_group_stats st;
	uint32_t next_seq; /* the kernel numbers each group's packets from 0 */
};

struct mm_nflog {
	struct nflog_handle *h;
	int fd;
	struct event *ev;
	const struct mm_flow_sink *sink;
	struct mm_nflog_stats st;
	struct nfgroup groups[MM_MAX_NFLOG_GROUPS];
	unsigned ngroups;
	uint32_t rcvbuf_req; /* bytes last asked for */
	uint64_t now_ms;     /* receive time of the batch being handled */
	char buf[RECV_BUFSZ];
};

static uint64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* SO_RCVBUFFORCE (root, not capped by net.core.rmem_max), else SO_RCVBUF. */
static void set_rcvbuf(struct mm_nflog *n, uint32_t bytes)
{
	int v = bytes > (uint32_t)(INT32_MAX / 2) ? INT32_MAX / 2 : (int)bytes;
	socklen_t sl = sizeof(n->st.rcvbuf);

	if (setsockopt(n->fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, sizeof(v)) < 0)
		(void)setsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &v, sizeof(v));
	n->rcvbuf_req = bytes;
	if (getsockopt(n->fd, SOL_SOCKET, SO_RCVBUF, &n->st.rcvbuf, &sl) < 0)
		n->st.rcvbuf = 0;
}

static int on_packet(struct nflog_g_handle *gh, struct nfgenmsg *nfmsg, struct nflog_data *nfd, void *arg)
{
	struct nfgroup *g = arg;
	struct mm_nflog *n = g->n;
	struct nfulnl_msg_packet_hdr *ph = nflog_get_msg_packet_hdr(nfd);
	struct mm_nflog_meta m;
	struct mm_flow f;
	char *payload = NULL;
	uint32_t seq;
	int len;

	(void)gh;
	g->st.packets++;
	if (nflog_get_seq(nfd, &seq) == 0) {
		uint32_t gap = seq - g->next_seq;
		/* behind (reordered, impossible on one socket) or a wild jump: resync only */
		if (gap < 0x80000000u)
			g->st.seq_lost += gap;
		g->next_seq = seq + 1;
	}
	len = nflog_get_payload(nfd, &payload);
	if (len < 0 || payload == NULL) {
		g->st.malformed++;
		return 0;
	}
	/* The kernel copies at most the copy range; never look further. */
	if ((uint32_t)len > n->st.copy_range)
		len = (int)n->st.copy_range;
	memset(&m, 0, sizeof(m));
	m.now_ms = n->now_ms;
	m.sampling_rate = n->st.sampling_rate;
	m.indev = nflog_get_indev(nfd);
	m.outdev = nflog_get_outdev(nfd);
	m.group = g->st.group;
	m.family = nfmsg != NULL ? nfmsg->nfgen_family : 0;
	if (ph != NULL) {
		m.hw_protocol = ntohs(ph->hw_protocol);
		m.hook = ph->hook;
	}
	switch (mm_nflog_record(&m, (const uint8_t *)payload, (size_t)len, &f)) {
	case MM_NFLOG_OK:
		g->st.records++;
		n->sink->emit(n->sink->arg, &f);
		break;
	case MM_NFLOG_NOT_IP:
		g->st.not_ip++;
		break;
	case MM_NFLOG_TRUNCATED:
		g->st.truncated++;
		break;
	default:
		g->st.malformed++;
		break;
	}
	return 0;
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
	struct mm_nflog *n = arg;

	(void)what;
	for (int rounds = 0; rounds < MM_NFLOG_MAX_ROUNDS; rounds++) {
		ssize_t r = recv(fd, n->buf, sizeof(n->buf), MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == ENOBUFS) {
				/* The kernel dropped what did not fit; the
				 * sequence gaps will say how much. */
				n->st.enobufs++;
				if (n->rcvbuf_req < MM_NFLOG_RCVBUF_MAX) {
					uint32_t want = n->rcvbuf_req >= MM_NFLOG_RCVBUF_MAX / 2 ? MM_NFLOG_RCVBUF_MAX
												  : n->rcvbuf_req * 2;
					set_rcvbuf(n, want);
					n->st.rcvbuf_grown++;
				}
				continue;
			}
			n->st.errors++;
			return;
		}
		if (r == 0)
			return;
		n->st.reads++;
		n->st.bytes += (uint64_t)r;
		n->now_ms = wall_ms();
		/* Its -1 is no error to count: a batch of several packets
		 * ends with NLMSG_DONE, which libnfnetlink dispatches to no
		 * subsystem and reports as -1 after every packet was handled. */
		(void)nflog_handle_packet(n->h, n->buf, (int)r);
	}
	n->st.yields++;
}

struct mm_nflog *mm_nflog_new(const struct mm_config *cfg, const struct mm_flow_sink *sink, char *err,
			      size_t errlen)
{
	struct mm_nflog *n = calloc(1, sizeof(*n));

	if (n == NULL) {
		snprintf(err, errlen, "nflog: out of memory");
		return NULL;
	}
	n->fd = -1;
	n->sink = sink;
	n->st.copy_range = cfg->nflog_copy_range ? cfg->nflog_copy_range : MM_NFLOG_COPY_MAX;
	if (n->st.copy_range > MM_NFLOG_COPY_MAX)
		n->st.copy_range = MM_NFLOG_COPY_MAX;
	n->st.sampling_rate = cfg->nflog_sampling_rate ? cfg->nflog_sampling_rate : 1;
	n->h = nflog_open();
	if (n->h == NULL) {
		snprintf(err, errlen, "nflog: cannot open a netfilter netlink socket: %s", strerror(errno));
		goto err;
	}
	n->fd = nflog_fd(n->h);
	set_rcvbuf(n, cfg->rcvbuf);
	for (unsigned i = 0; i < cfg->nflog_ngroups; i++) {
		struct nfgroup *g = &n->groups[i];
		unsigned num = cfg->nflog_groups[i];

		g->n = n;
		g->st.group = (uint16_t)num;
		errno = 0;
		g->gh = nflog_bind_group(n->h, (uint16_t)num);
		if (g->gh == NULL) {
			int e = errno;
			if (e == EPERM || e == EACCES)
				snprintf(err, errlen,
					 "nflog group %u: %s: subscribing to NFLOG needs CAP_NET_ADMIN (run as root "
					 "or grant the capability)",
					 num, strerror(e));
			else if (e == EBUSY)
				snprintf(err, errlen, "nflog group %u: %s: another process (ulogd?) has bound it",
					 num, strerror(e));
			else
				snprintf(err, errlen, "nflog group %u: cannot bind: %s", num,
					 e ? strerror(e) : "unknown error");
			goto err;
		}
		n->ngroups = i + 1;
		if (nflog_set_mode(g->gh, NFULNL_COPY_PACKET, n->st.copy_range) < 0 ||
		    nflog_set_flags(g->gh, NFULNL_CFG_F_SEQ) < 0 || nflog_set_nlbufsiz(g->gh, NLBUFSIZ) < 0 ||
		    nflog_set_qthresh(g->gh, QTHRESH) < 0 || nflog_set_timeout(g->gh, FLUSH_CS) < 0) {
			snprintf(err, errlen, "nflog group %u: cannot configure it: %s", num, strerror(errno));
			goto err;
		}
		if (nflog_callback_register(g->gh, on_packet, g) < 0) {
			snprintf(err, errlen, "nflog group %u: cannot register the callback", num);
			goto err;
		}
	}
	return n;
err:
	mm_nflog_free(n);
	return NULL;
}

int mm_nflog_start(struct mm_nflog *n, struct event_base *base, char *err, size_t errlen)
{
	if (n == NULL)
		return 0;
	if (evutil_make_socket_nonblocking(n->fd) < 0) {
		snprintf(err, errlen, "nflog: cannot make the socket non-blocking");
		return -1;
	}
	n->ev = event_new(base, n->fd, EV_READ | EV_PERSIST, on_read, n);
	if (n->ev == NULL || event_add(n->ev, NULL) < 0) {
		snprintf(err, errlen, "nflog: cannot add the read event");
		return -1;
	}
	return 0;
}

void mm_nflog_stop(struct mm_nflog *n)
{
	if (n != NULL && n->ev != NULL)
		event_del(n->ev);
}

void mm_nflog_free(struct mm_nflog *n)
{
	if (n == NULL)
		return;
	if (n->ev != NULL)
		event_free(n->ev);
	for (unsigned i = 0; i < n->ngroups; i++)
		if (n->groups[i].gh != NULL)
			nflog_unbind_group(n->groups[i].gh);
	if (n->h != NULL)
		nflog_close(n->h);
	free(n);
}

const struct mm_nflog_stats *mm_nflog_stats(const struct mm_nflog *n)
{
	return &n->st;
}

unsigned mm_nflog_ngroups(const struct mm_nflog *n)
{
	return n != NULL ? n->ngroups : 0;
}

const struct mm_nflog_group_stats *mm_nflog_group_stats(const struct mm_nflog *n, unsigned i)
{
	return &n->groups[i].st;
}
