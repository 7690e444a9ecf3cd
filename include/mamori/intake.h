/*
 * intake.h - live UDP intake on libevent 2.1.
 *
 * One non-blocking socket per listen address (IPv4 or IPv6; IPv6 sockets
 * are IPV6_V6ONLY so "[::]:p" and "0.0.0.0:p" can both be bound).  Each
 * read callback drains its socket with recvmmsg in batches of `batch`
 * datagrams, up to MM_INTAKE_MAX_ROUNDS batches, so one busy socket cannot
 * starve the others (the event is level-triggered and comes back on the next
 * loop turn).  Every datagram goes to the same mm_datagram_fn that capture
 * reading uses (capture.h), with the receive time of its batch.
 *
 * Hot path: the batch's buffers (batch * MM_INTAKE_BUFSZ bytes, shared by
 * every socket of the intake, pages touched only as datagrams fill them),
 * address and control buffers are allocated once in mm_intake_new; a batch
 * costs one recvmmsg and one clock read, no allocation.
 *
 * Kernel drops: SO_RXQ_OVFL is enabled and the drop counter the kernel puts
 * in each datagram's control data is followed per socket; drops after the
 * last received datagram show up with the next one.  SO_RCVBUF: as root
 * SO_RCVBUFFORCE is tried first (not capped by net.core.rmem_max); the size
 * obtained is reported.
 */
#ifndef MAMORI_INTAKE_H
#define MAMORI_INTAKE_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/capture.h"
#include "mamori/config.h"

struct event_base;
struct mm_intake;

/* Largest UDP payload there is (IPv6 without jumbograms: 65527). */
#define MM_INTAKE_BUFSZ 65536
/* Batches per read callback before yielding to the other events. */
#define MM_INTAKE_MAX_ROUNDS 8

struct mm_intake_sock_stats {
	char listen[128];      /* as configured ("0.0.0.0:2055") */
	int af;                /* 4 or 6 */
	uint16_t port;         /* bound port (the kernel's choice for port 0) */
	int rcvbuf;            /* SO_RCVBUF obtained, as getsockopt reports it
				* (Linux doubles the request for its bookkeeping) */
	int rcvbuf_forced;     /* 1 when SO_RCVBUFFORCE was accepted */
	int rxq_ovfl;          /* 1 when SO_RXQ_OVFL is on (kernel drops visible) */
	uint64_t datagrams;    /* delivered to the callback */
	uint64_t bytes;        /* their payload bytes */
	uint64_t kernel_drops; /* dropped by the kernel on this socket (buffer full) */
	uint64_t truncated;    /* larger than MM_INTAKE_BUFSZ (MSG_TRUNC): not delivered */
	uint64_t batches;      /* recvmmsg calls that returned datagrams */
	uint64_t full_batches; /* ... that returned a full batch */
	uint64_t yields;       /* callbacks that stopped at MM_INTAKE_MAX_ROUNDS */
	uint64_t errors;       /* recvmmsg errors other than EAGAIN/EINTR */
	uint64_t discarded;    /* received, not delivered: the callback asked to stop */
};

/*
 * Open, configure and bind one socket per listen address (do it while
 * privileged).  rcvbuf: bytes asked for (0 = leave the kernel default);
 * batch: datagrams per recvmmsg (clamped to 1..1024).  `fn(arg, ...)` gets
 * every datagram; a non-zero return stops delivery of the rest of that
 * batch (counted as discarded) and ends the callback; stopping the loop is
 * the caller's business.  NULL with err filled on failure (nothing left
 * open).
 */
struct mm_intake *mm_intake_new(const struct mm_listen *ls, unsigned nls, uint32_t rcvbuf, uint32_t batch,
				mm_datagram_fn fn, void *arg, char *err, size_t errlen);
/* Add the sockets' read events to `base`.  0, or -1 with err filled. */
int mm_intake_start(struct mm_intake *in, struct event_base *base, char *err, size_t errlen);
/* Stop reading (the sockets stay open, their statistics stay readable). */
void mm_intake_stop(struct mm_intake *in);
/* Close everything (events first).  NULL is fine. */
void mm_intake_free(struct mm_intake *in);

/* Bring the kernel drop counters up to date (drops after the last datagram
 * read are not reported with any datagram); call before reading stats. */
void mm_intake_refresh_drops(struct mm_intake *in);
unsigned mm_intake_nsocks(const struct mm_intake *in);
/*
 * Listen on exactly ls[0..nls) (a reload): sockets whose address is still
 * listed are kept as they are (their queued datagrams, counters and
 * events), new addresses are opened and bound, and sockets no longer
 * listed are closed, their counters added to mm_intake_retired_stats.
 * Everything that can fail is done before anything is closed: on failure
 * (-1, err filled) the intake is unchanged.  rcvbuf applies to new
 * sockets.  *added and *removed (may be NULL) count the changes.
 */
int mm_intake_reconfigure(struct mm_intake *in, const struct mm_listen *ls, unsigned nls, uint32_t rcvbuf,
			  unsigned *added, unsigned *removed, char *err, size_t errlen);
/* The counters of every socket closed by a reconfigure, summed (listen,
 * port and rcvbuf unset), so that totals never go backwards. */
const struct mm_intake_sock_stats *mm_intake_retired_stats(const struct mm_intake *in);
const struct mm_intake_sock_stats *mm_intake_sock_stats(const struct mm_intake *in, unsigned i);

#endif
