/*
 * pktsend.c - send known packets, for the NFLOG test and benchmark
 * (tests/integration/test_nflog.sh, bench/nflog.sh).  Not installed.
 *
 *   pktsend udp ADDR PORT COUNT SIZE MARKER
 *       COUNT datagrams of SIZE payload bytes (MARKER repeated) to
 *       ADDR:PORT, from one unconnected socket, with sendmmsg in batches
 *       of 64 (as fast as the kernel takes them).
 *   pktsend syn ADDR PORT COUNT
 *       COUNT TCP connection attempts (a SYN each), one socket each, each
 *       waited for (refused or connected, at most 1 s) and closed.
 *
 * ADDR is a numeric IPv4 or IPv6 address.  Prints "sent N SECONDS" on
 * stdout (N packets the kernel accepted, the elapsed wall time); exits 1
 * on an error.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define MAX_SIZE 9000

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int parse_addr(const char *a, const char *p, struct sockaddr_storage *ss, socklen_t *sl)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	char *end;
	long port = strtol(p, &end, 10);

	if (*p == '\0' || *end != '\0' || port < 1 || port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, a, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*sl = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, a, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*sl = sizeof(*s6);
		return 0;
	}
	return -1;
}

static long send_udp(const struct sockaddr_storage *ss, socklen_t sl, long count, size_t size, const char *marker)
{
	static char buf[MAX_SIZE];
	struct mmsghdr msgs[BATCH];
	struct iovec iov;
	size_t ml = strlen(marker);
	long sent = 0;
	int fd = socket(ss->ss_family, SOCK_DGRAM, 0);

	if (fd < 0) {
		perror("pktsend: socket");
		return -1;
	}
	for (size_t i = 0; i < size; i++)
		buf[i] = ml ? marker[i % ml] : 'x';
	iov.iov_base = buf;
	iov.iov_len = size;
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_name = (void *)ss;
		msgs[i].msg_hdr.msg_namelen = sl;
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	while (sent < count) {
		unsigned n = count - sent < BATCH ? (unsigned)(count - sent) : BATCH;
		int r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == EINTR || errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED)
				continue;
			perror("pktsend: sendmmsg");
			close(fd);
			return -1;
		}
		sent += r;
	}
	close(fd);
	return sent;
}

static long send_syn(const struct sockaddr_storage *ss, socklen_t sl, long count)
{
	long sent = 0;

	for (long i = 0; i < count; i++) {
		int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		struct pollfd pfd;

		if (fd < 0) {
			perror("pktsend: socket");
			return -1;
		}
		if (connect(fd, (const struct sockaddr *)ss, sl) < 0 && errno != EINPROGRESS &&
		    errno != ECONNREFUSED) {
			perror("pktsend: connect");
			close(fd);
			return -1;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		(void)poll(&pfd, 1, 1000);
		close(fd);
		sent++;
	}
	return sent;
}

int main(int argc, char **argv)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	long count, sent;
	double t0;

	if (argc < 5 || parse_addr(argv[2], argv[3], &ss, &sl) < 0 || (count = atol(argv[4])) < 0) {
		fprintf(stderr, "usage: pktsend udp ADDR PORT COUNT SIZE MARKER | syn ADDR PORT COUNT\n");
		return 2;
	}
	t0 = now_s();
	if (strcmp(argv[1], "udp") == 0 && argc == 7 && atol(argv[5]) >= 0 && atol(argv[5]) <= MAX_SIZE) {
		sent = send_udp(&ss, sl, count, (size_t)atol(argv[5]), argv[6]);
	} else if (strcmp(argv[1], "syn") == 0 && argc == 5) {
		sent = send_syn(&ss, sl, count);
	} else {
		fprintf(stderr, "usage: pktsend udp ADDR PORT COUNT SIZE MARKER | syn ADDR PORT COUNT\n");
		return 2;
	}
	if (sent < 0)
		return 1;
	printf("sent %ld %.3f\n", sent, now_s() - t0);
	return 0;
}
