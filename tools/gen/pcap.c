/*
 * pcap.c - classic pcap output (microsecond timestamps, LINKTYPE_ETHERNET)
 * with Ethernet / IPv4 / UDP headers around each export datagram.
 *
 * The timestamps come from the scenario's own clock, never the wall
 * clock, and every header field is a function of the datagram sequence
 * (the IPv4 identification counts up), so the same arguments give a
 * byte-identical file.  The file is written little-endian whatever the
 * host.  IPv4 header and UDP checksums are computed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

struct gen_pcap {
	FILE *fp;
	uint8_t src[4], dst[4];
	uint16_t sport, dport;
	uint16_t ip_id;
	int failed;
	char *iobuf;
};

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

struct gen_pcap *gen_pcap_open(const char *path, const uint8_t src4[4], uint16_t sport,
			       const uint8_t dst4[4], uint16_t dport, char *err, size_t errlen)
{
	struct gen_pcap *p = calloc(1, sizeof(*p));
	uint8_t gh[24];

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->fp = fopen(path, "wb");
	if (!p->fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		free(p);
		return NULL;
	}
	p->iobuf = malloc(1 << 20);
	if (p->iobuf)
		setvbuf(p->fp, p->iobuf, _IOFBF, 1 << 20);
	memcpy(p->src, src4, 4);
	memcpy(p->dst, dst4, 4);
	p->sport = sport;
	p->dport = dport;
	le32(gh, 0xa1b2c3d4u);
	le16(gh + 4, 2);
	le16(gh + 6, 4);
	le32(gh + 8, 0);       /* thiszone */
	le32(gh + 12, 0);      /* sigfigs */
	le32(gh + 16, 65535);  /* snaplen */
	le32(gh + 20, 1);      /* LINKTYPE_ETHERNET */
	if (fwrite(gh, sizeof(gh), 1, p->fp) != 1)
		p->failed = 1;
	return p;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

int gen_pcap_write(struct gen_pcap *p, const uint8_t *payload, size_t len, uint64_t t_us)
{
	uint8_t rec[16], hdr[14 + 20 + 8];
	size_t ulen = 8 + len, iplen = 20 + ulen, caplen = 14 + iplen;

	if (iplen > 65535)
		return -1;
	le32(rec, (uint32_t)(t_us / 1000000));
	le32(rec + 4, (uint32_t)(t_us % 1000000));
	le32(rec + 8, (uint32_t)caplen);
	le32(rec + 12, (uint32_t)caplen);

	/* Ethernet: locally administered MACs, IPv4. */
	static const uint8_t eth[14] = { 0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01, 0x08, 0x00 };
	memcpy(hdr, eth, 14);
	uint8_t *ip = hdr + 14, *udp = ip + 20;
	ip[0] = 0x45;
	ip[1] = 0;
	gen_put16(ip + 2, (uint16_t)iplen);
	gen_put16(ip + 4, p->ip_id++);
	gen_put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = 17;
	gen_put16(ip + 10, 0);
	memcpy(ip + 12, p->src, 4);
	memcpy(ip + 16, p->dst, 4);
	gen_put16(ip + 10, fold(sum16(ip, 20, 0)));
	gen_put16(udp, p->sport);
	gen_put16(udp + 2, p->dport);
	gen_put16(udp + 4, (uint16_t)ulen);
	gen_put16(udp + 6, 0);
	/* UDP checksum over the pseudo header, header and payload. */
	uint32_t s = sum16(ip + 12, 8, 0) + 17 + (uint32_t)ulen;
	s = sum16(udp, 8, s);
	s = sum16(payload, len, s);
	uint16_t ck = fold(s);
	gen_put16(udp + 6, ck ? ck : 0xffff);

	if (fwrite(rec, sizeof(rec), 1, p->fp) != 1 || fwrite(hdr, sizeof(hdr), 1, p->fp) != 1 ||
	    fwrite(payload, 1, len, p->fp) != len) {
		p->failed = 1;
		return -1;
	}
	return 0;
}

int gen_pcap_sink(void *arg, const struct gen_dgram *d)
{
	return gen_pcap_write(arg, d->buf, d->len, d->t_ms * 1000);
}

int gen_pcap_close(struct gen_pcap *p)
{
	int rc = p->failed ? -1 : 0;
	if (fclose(p->fp) != 0)
		rc = -1;
	free(p->iobuf);
	free(p);
	return rc;
}
