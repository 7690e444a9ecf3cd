/*
 * dump.c - flow records as JSON lines (dump.h, docs/dump.md).
 *
 * A hand-rolled formatter: literals are copied, numbers converted by a
 * digit loop, IPv4 addresses by hand; only IPv6 goes through inet_ntop.
 * The worst case is bounded (every variable part has a fixed maximum), so
 * one line always fits MM_DUMP_LINE_MAX.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "mamori/dump.h"

/* Longest string we let a name table give us (sampling source). */
#define NAME_MAX_LEN 32

#define LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

static const char digits2[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static inline unsigned ndigits(uint64_t v)
{
	unsigned n = 1;

	for (;;) {
		if (v < 10)
			return n;
		if (v < 100)
			return n + 1;
		if (v < 1000)
			return n + 2;
		if (v < 10000)
			return n + 3;
		v /= 10000;
		n += 4;
	}
}

/* Decimal: count the digits, then write them backwards two at a time. */
static char *put_u64(char *p, uint64_t v)
{
	unsigned n = ndigits(v);
	char *e = p + n;

	while (v >= 100) {
		unsigned d = (unsigned)(v % 100) * 2;
		v /= 100;
		*--e = digits2[d + 1];
		*--e = digits2[d];
	}
	if (v >= 10) {
		*--e = digits2[v * 2 + 1];
		*--e = digits2[v * 2];
	} else {
		*--e = (char)('0' + v);
	}
	return p + n;
}

static char *put_ip4(char *p, const uint8_t b[4])
{
	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (i > 0)
			*p++ = '.';
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
	}
	return p;
}

/* A quoted address, or null when the family is unknown. */
static char *put_addr(char *p, const uint8_t a[16], unsigned af)
{
	char s[INET6_ADDRSTRLEN];
	size_t n;

	if (af == 4) {
		*p++ = '"';
		p = put_ip4(p, a + 12);
		*p++ = '"';
		return p;
	}
	if (af != 6 || inet_ntop(AF_INET6, a, s, sizeof(s)) == NULL)
		return LIT(p, "null");
	n = strlen(s);
	*p++ = '"';
	memcpy(p, s, n);
	p += n;
	*p++ = '"';
	return p;
}

size_t mm_json_string(char *out, size_t outlen, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	if (outlen == 0)
		return 0;
	/* Worst case per byte is 6 (\u00XX); check before each write. */
	if (outlen < 3)
		goto toolong;
	out[o++] = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc = 0;

		switch (c) {
		case '"': esc = '"'; break;
		case '\\': esc = '\\'; break;
		case '\b': esc = 'b'; break;
		case '\f': esc = 'f'; break;
		case '\n': esc = 'n'; break;
		case '\r': esc = 'r'; break;
		case '\t': esc = 't'; break;
		default: break;
		}
		if (esc != 0) {
			if (o + 2 + 2 > outlen) /* + closing quote and NUL */
				goto toolong;
			out[o++] = '\\';
			out[o++] = esc;
		} else if (c < 0x20 || c >= 0x7f) {
			if (o + 6 + 2 > outlen)
				goto toolong;
			memcpy(out + o, "\\u00", 4);
			out[o + 4] = hex[c >> 4];
			out[o + 5] = hex[c & 15];
			o += 6;
		} else {
			if (o + 1 + 2 > outlen)
				goto toolong;
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	out[o] = '\0';
	return o;
toolong:
	out[0] = '\0';
	return 0;
}

static const char *format_name(unsigned fmt)
{
	switch (fmt) {
	case MM_FMT_NETFLOW5: return "netflow5";
	case MM_FMT_NETFLOW9: return "netflow9";
	case MM_FMT_IPFIX: return "ipfix";
	case MM_FMT_SFLOW5: return "sflow5";
	case MM_FMT_NFLOG: return "nflog";
	default: return "unknown";
	}
}

static const char *direction_name(unsigned d)
{
	switch (d) {
	case MM_DIR_INGRESS: return "ingress";
	case MM_DIR_EGRESS: return "egress";
	default: return "unknown";
	}
}

/* A name from a table: bounded and escaped, whatever the table says (the
 * usual case, plain ASCII without quotes or backslashes, is a copy). */
static char *put_name(char *p, const char *s)
{
	char tmp[NAME_MAX_LEN * 6 + 3];
	size_t n, len, i;

	if (s == NULL)
		s = "unknown";
	for (i = 0; i < NAME_MAX_LEN && s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			break;
	}
	len = i;
	if (i == NAME_MAX_LEN || s[i] == '\0') {
		*p++ = '"';
		memcpy(p, s, len);
		p += len;
		*p++ = '"';
		return p;
	}
	len = strnlen(s, NAME_MAX_LEN);
	n = mm_json_string(tmp, sizeof(tmp), s, len);
	memcpy(p, tmp, n);
	return p + n;
}

size_t mm_dump_format(const struct mm_flow *f, char *buf)
{
	char *p = buf;
	unsigned xaf = f->exporter_af;

	if (xaf != 4 && xaf != 6)
		xaf = mm_addr_is4(f->exporter) ? 4 : 6;

	p = LIT(p, "{\"type\":\"flow\",\"format\":");
	p = put_name(p, format_name(f->format));
	p = LIT(p, ",\"exporter\":");
	p = put_addr(p, f->exporter, xaf);
	p = LIT(p, ",\"domain\":");
	p = put_u64(p, f->domain);
	p = LIT(p, ",\"template\":");
	p = put_u64(p, f->template_id);
	p = LIT(p, ",\"src\":");
	p = put_addr(p, f->src_addr, f->af);
	p = LIT(p, ",\"dst\":");
	p = put_addr(p, f->dst_addr, f->af);
	p = LIT(p, ",\"af\":");
	p = put_u64(p, f->af);
	p = LIT(p, ",\"proto\":");
	p = put_u64(p, f->proto);
	p = LIT(p, ",\"sport\":");
	p = put_u64(p, f->src_port);
	p = LIT(p, ",\"dport\":");
	p = put_u64(p, f->dst_port);
	p = LIT(p, ",\"tcp_flags\":");
	p = put_u64(p, f->tcp_flags);
	p = LIT(p, ",\"tos\":");
	p = put_u64(p, f->tos);
	p = LIT(p, ",\"bytes\":");
	p = put_u64(p, f->bytes);
	p = LIT(p, ",\"packets\":");
	p = put_u64(p, f->packets);
	p = LIT(p, ",\"sampling_rate\":");
	p = put_u64(p, f->sampling_rate);
	p = LIT(p, ",\"sampling_source\":");
	p = put_name(p, mm_sampling_src_name(f->sampling_src));
	p = LIT(p, ",\"bytes_scaled\":");
	p = put_u64(p, f->bytes_scaled);
	p = LIT(p, ",\"packets_scaled\":");
	p = put_u64(p, f->packets_scaled);
	p = LIT(p, ",\"start_ms\":");
	p = put_u64(p, f->start_ms);
	p = LIT(p, ",\"end_ms\":");
	p = put_u64(p, f->end_ms);
	p = LIT(p, ",\"in_if\":");
	p = put_u64(p, f->in_if);
	p = LIT(p, ",\"out_if\":");
	p = put_u64(p, f->out_if);
	p = LIT(p, ",\"src_as\":");
	p = put_u64(p, f->src_as);
	p = LIT(p, ",\"dst_as\":");
	p = put_u64(p, f->dst_as);
	p = LIT(p, ",\"direction\":");
	p = put_name(p, direction_name(f->direction));
	p = LIT(p, "}\n");
	*p = '\0';
	return (size_t)(p - buf);
}

void mm_dump_init(struct mm_dump *d, FILE *out)
{
	d->out = out;
	d->lines = 0;
	d->error = 0;
}

void mm_dump_flow(void *arg, const struct mm_flow *f)
{
	struct mm_dump *d = arg;
	char line[MM_DUMP_LINE_MAX];
	size_t n;

	if (d->error != 0)
		return;
	n = mm_dump_format(f, line);
	if (fwrite(line, 1, n, d->out) != n) {
		d->error = errno != 0 ? errno : EIO;
		return;
	}
	d->lines++;
}
