/*
 * read.c - the labelled datasets' two formats, into connections.
 *
 * Argus .binetflow (Stratosphere/CTU): CSV (or TAB-separated) with a
 * header naming StartTime, Dur, Proto, SrcAddr, Sport, Dir, DstAddr, Dport,
 * State, sTos, dTos, TotPkts, TotBytes and optionally SrcBytes, SrcPkts,
 * Label.  Times "YYYY/MM/DD HH:MM:SS.ffffff" (read as UTC: the capture's
 * local time, consistent within a file) or Unix seconds; ports decimal or
 * hex ("0x0303": ICMP type and code).  Without SrcPkts the source's packets
 * are TotPkts x SrcBytes / TotBytes; without SrcBytes every packet is
 * counted in the source's direction.
 *
 * Zeek conn.log as CSV: the header names the columns (ts, id.orig_h,
 * id.orig_p, id.resp_h, id.resp_p, proto, duration, orig_pkts,
 * orig_ip_bytes, resp_pkts, resp_ip_bytes, history, local_orig,
 * local_resp, label, detailedlabel); "-" and "(empty)" are empty.
 *
 * Columns are found by name; a line that lacks one, or whose address,
 * time or counter does not parse, is bad: reported as FILE:LINE and
 * skipped.  Non-IP records (ARP, LLC, Argus "man") are skipped and counted.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "import.h"

#define MAXCOL 64
#define BAD_SHOWN 20

enum {
	C_TS, C_DUR, C_PROTO, C_SRC, C_SPORT, C_DST, C_DPORT, C_STATE, C_TOTPKTS, C_TOTBYTES, C_SRCBYTES,
	C_SRCPKTS, C_LABEL, C_DLABEL, C_OPKTS, C_OBYTES, C_RPKTS, C_RBYTES, C_HISTORY, C_LORIG, C_LRESP,
	C_NCOL
};

static const char *const argus_names[C_NCOL] = {
	[C_TS] = "StartTime", [C_DUR] = "Dur", [C_PROTO] = "Proto", [C_SRC] = "SrcAddr", [C_SPORT] = "Sport",
	[C_DST] = "DstAddr", [C_DPORT] = "Dport", [C_STATE] = "State", [C_TOTPKTS] = "TotPkts",
	[C_TOTBYTES] = "TotBytes", [C_SRCBYTES] = "SrcBytes", [C_SRCPKTS] = "SrcPkts", [C_LABEL] = "Label",
};
static const char *const zeek_names[C_NCOL] = {
	[C_TS] = "ts", [C_DUR] = "duration", [C_PROTO] = "proto", [C_SRC] = "id.orig_h", [C_SPORT] = "id.orig_p",
	[C_DST] = "id.resp_h", [C_DPORT] = "id.resp_p", [C_STATE] = "conn_state", [C_OPKTS] = "orig_pkts",
	[C_OBYTES] = "orig_ip_bytes", [C_RPKTS] = "resp_pkts", [C_RBYTES] = "resp_ip_bytes",
	[C_HISTORY] = "history", [C_LORIG] = "local_orig", [C_LRESP] = "local_resp", [C_LABEL] = "label",
	[C_DLABEL] = "detailedlabel",
};
/* needed columns */
static const int argus_need[] = { C_TS, C_DUR, C_PROTO, C_SRC, C_SPORT, C_DST, C_DPORT, C_TOTPKTS, C_TOTBYTES, -1 };
static const int zeek_need[] = { C_TS, C_PROTO, C_SRC, C_SPORT, C_DST, C_DPORT, C_OPKTS, C_RPKTS, -1 };

struct rd {
	const char *path;
	unsigned line;
	struct imp_read_stats *st;
};

static void bad(struct rd *r, const char *why, const char *what)
{
	r->st->bad++;
	if (r->st->bad <= BAD_SHOWN)
		fprintf(stderr, "mamori-import: %s:%u: %s%s%.40s%s\n", r->path, r->line, why, what ? " '" : "",
			what ? what : "", what ? "'" : "");
	else if (r->st->bad == BAD_SHOWN + 1)
		fprintf(stderr, "mamori-import: %s: more bad lines, counted only\n", r->path);
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '"')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == '"'))
		s[--n] = '\0';
	return s;
}

static int empty(const char *s)
{
	return *s == '\0' || strcmp(s, "-") == 0 || strcmp(s, "(empty)") == 0;
}

static int split(char *line, char sep, char **f)
{
	int n = 0;
	for (char *p = line; n < MAXCOL;) {
		f[n++] = p;
		p = strchr(p, sep);
		if (!p)
			break;
		*p++ = '\0';
	}
	for (int i = 0; i < n; i++)
		f[i] = trim(f[i]);
	return n;
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;
	if (empty(s)) {
		*v = 0;
		return 0;
	}
	if (*s == '-')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return (end == s || *end || errno) ? -1 : 0;
}

static int parse_port(const char *s, uint16_t *v)
{
	uint64_t x;
	if (parse_u64(s, &x) < 0 || x > 65535)
		return -1;
	*v = (uint16_t)x;
	return 0;
}

static int parse_secs(const char *s, double *v)
{
	char *end;
	if (empty(s)) {
		*v = 0;
		return 0;
	}
	errno = 0;
	*v = strtod(s, &end);
	return (end == s || *end || errno || !(*v >= 0) || *v > 1e10) ? -1 : 0;
}

/* "2013/10/21 13:22:59.340835" (UTC) or Unix seconds, into ms. */
static int parse_time(const char *s, uint64_t *ms)
{
	struct tm tm;
	double frac = 0;
	const char *p = s;

	memset(&tm, 0, sizeof(tm));
	if (strchr(s, '/') || (strchr(s, '-') && strchr(s, ':'))) {
		char sepd = strchr(s, '/') ? '/' : '-';
		int y, mo, d, h, mi, sec, n = 0;
		char fmt[40];
		snprintf(fmt, sizeof(fmt), "%%4d%c%%2d%c%%2d%%*[ T]%%2d:%%2d:%%2d%%n", sepd, sepd);
		if (sscanf(s, fmt, &y, &mo, &d, &h, &mi, &sec, &n) != 6 || n == 0)
			return -1;
		p = s + n;
		if (*p == '.') {
			char *end;
			frac = strtod(p, &end);
			if (*end)
				return -1;
		} else if (*p)
			return -1;
		if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60 || y < 1970)
			return -1;
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		time_t t = timegm(&tm);
		if (t < 0)
			return -1;
		*ms = (uint64_t)t * 1000 + (uint64_t)(frac * 1000.0 + 0.5);
		return 0;
	}
	double v;
	if (parse_secs(s, &v) < 0 || empty(s))
		return -1;
	*ms = (uint64_t)(v * 1000.0 + 0.5);
	return 0;
}

/* IP protocol by name or number; -2 non-IP (skip), -1 unknown. */
static int parse_proto(const char *s)
{
	static const struct {
		const char *name;
		int num;
	} t[] = { { "tcp", 6 },	    { "udp", 17 },	 { "icmp", 1 },	      { "ipv6-icmp", 58 }, { "icmp6", 58 },
		  { "icmpv6", 58 }, { "igmp", 2 },	 { "gre", 47 },	      { "esp", 50 },	   { "ah", 51 },
		  { "sctp", 132 },  { "ipv6", 41 },	 { "ipnip", 4 },      { "pim", 103 },	   { "rtp", 17 },
		  { "rtcp", 17 },   { "udt", 17 },	 { "ospf", 89 },      { "vrrp", 112 },	   { "unas", 0 } };
	static const char *const nonip[] = { "arp", "rarp", "llc", "man", "stp", "ipx/spx", "lldp", "ipx", NULL };
	for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcasecmp(s, t[i].name) == 0)
			return t[i].num;
	for (unsigned i = 0; nonip[i]; i++)
		if (strcasecmp(s, nonip[i]) == 0)
			return -2;
	uint64_t v;
	if (parse_u64(s, &v) == 0 && !empty(s) && v < 256)
		return (int)v;
	return -1;
}

/* Argus state "FSPA_FSRPA": the letters of each side. */
static uint8_t argus_letters(const char *s, size_t n)
{
	uint8_t f = 0;
	for (size_t i = 0; i < n; i++)
		switch (s[i]) {
		case 'F': f |= 0x01; break;
		case 'S': f |= 0x02; break;
		case 'R': f |= 0x04; break;
		case 'P': f |= 0x08; break;
		case 'A': f |= 0x10; break;
		case 'U': f |= 0x20; break;
		default: break;
		}
	return f;
}

static void argus_flags(const char *st, uint8_t *fwd, uint8_t *rev)
{
	const char *u = strchr(st, '_');
	if (u) {
		*fwd = argus_letters(st, (size_t)(u - st));
		*rev = argus_letters(u + 1, strlen(u + 1));
		return;
	}
	/* Zeek-like or Argus summary states */
	if (strncmp(st, "S0", 2) == 0 || strcmp(st, "REQ") == 0 || strcmp(st, "S") == 0)
		*fwd = 0x02, *rev = 0;
	else if (strcmp(st, "REJ") == 0 || strcmp(st, "RST") == 0)
		*fwd = 0x02, *rev = 0x14;
	else
		*fwd = 0x1b, *rev = 0x1b; /* an established flow: what unsampled exporters report */
}

/* Zeek history: uppercase originator, lowercase responder. */
static void zeek_flags(const char *h, uint8_t *fwd, uint8_t *rev)
{
	*fwd = *rev = 0;
	for (const char *p = h; *p; p++) {
		uint8_t f = 0;
		switch (tolower((unsigned char)*p)) {
		case 's': f = 0x02; break;
		case 'h': f = 0x12; break;
		case 'a': f = 0x10; break;
		case 'd': f = 0x18; break;
		case 'f': f = 0x11; break;
		case 'r': f = 0x04; break;
		default: break;
		}
		if (isupper((unsigned char)*p))
			*fwd |= f;
		else
			*rev |= f;
	}
}

int imp_label_malicious(const char *label)
{
	static const char *const benign[] = { "background", "benign", "normal", "legitimate", NULL };
	static const char *const mal[] = { "malicious", "malware", "botnet", "attack", "scan", "dos", "flood",
					   "brute", "c&c", "spam", "trojan", "exploit", NULL };
	char low[IMP_LABEL_MAX];
	size_t n = 0;
	for (; label[n] && n + 1 < sizeof(low); n++)
		low[n] = (char)tolower((unsigned char)label[n]);
	low[n] = '\0';
	if (n == 0)
		return 0;
	for (unsigned i = 0; benign[i]; i++)
		if (strstr(low, benign[i]))
			return 0;
	for (unsigned i = 0; mal[i]; i++)
		if (strstr(low, mal[i]))
			return 1;
	/* "CC" (command and control) as a word */
	for (char *p = low; (p = strstr(p, "cc")); p += 2)
		if ((p == low || !isalnum((unsigned char)p[-1])) && !isalnum((unsigned char)p[2]))
			return 1;
	return -1;
}

static int push(struct imp_conns *out, const struct imp_conn *c)
{
	if (out->n == out->cap) {
		size_t nc = out->cap ? out->cap * 2 : 1024;
		struct imp_conn *nv = realloc(out->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		out->v = nv;
		out->cap = nc;
	}
	out->v[out->n++] = *c;
	return 0;
}

int imp_read(const char *path, const struct imp_read_opts *o, struct imp_conns *out, struct imp_read_stats *st)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL, *f[MAXCOL];
	size_t cap = 0;
	int col[C_NCOL], zeek = 0, rc = -1;
	char sep = ',';
	struct rd r = { path, 0, st };

	if (!fp) {
		fprintf(stderr, "mamori-import: %s: %s\n", path, strerror(errno));
		return -1;
	}
	ssize_t len = getline(&buf, &cap, fp);
	r.line = 1;
	if (len <= 0) {
		fprintf(stderr, "mamori-import: %s: empty, expected a header line\n", path);
		goto out;
	}
	if (strchr(buf, '\t'))
		sep = '\t';
	int nf = split(buf, sep, f);
	for (int c = 0; c < C_NCOL; c++)
		col[c] = -1;
	for (int i = 0; i < nf; i++)
		if (strcmp(f[i], "id.orig_h") == 0)
			zeek = 1;
	const char *const *names = zeek ? zeek_names : argus_names;
	for (int i = 0; i < nf; i++)
		for (int c = 0; c < C_NCOL; c++)
			if (names[c] && strcmp(f[i], names[c]) == 0)
				col[c] = i;
	const int *need = zeek ? zeek_need : argus_need;
	for (int k = 0; need[k] >= 0; k++)
		if (col[need[k]] < 0) {
			fprintf(stderr, "mamori-import: %s:1: header lacks '%s' (not a %s file)\n", path, names[need[k]],
				zeek ? "Zeek conn" : "binetflow");
			goto out;
		}
	st->format = zeek ? "zeek" : "binetflow";
	int maxcol = 0;
	for (int c = 0; c < C_NCOL; c++)
		if (col[c] > maxcol)
			maxcol = col[c];

	while ((len = getline(&buf, &cap, fp)) > 0) {
		struct imp_conn c;
		r.line++;
		char *l = trim(buf);
		if (*l == '\0' || *l == '#')
			continue;
		st->lines++;
		nf = split(l, sep, f);
		/* a missing trailing Label is an empty one */
		int need_n = maxcol + 1;
		if (col[C_LABEL] == maxcol && nf == maxcol)
			f[nf++] = (char *)"";
		if (nf < need_n) {
			bad(&r, "too few columns", NULL);
			continue;
		}
		memset(&c, 0, sizeof(c));
		c.line = r.line;
		c.src_local = c.dst_local = -1;
		int proto = parse_proto(f[col[C_PROTO]]);
		if (proto == -2) {
			st->non_ip++;
			continue;
		}
		if (proto < 0) {
			bad(&r, "unknown protocol", f[col[C_PROTO]]);
			continue;
		}
		c.proto = (uint8_t)proto;
		int a1 = gen_addr_parse(f[col[C_SRC]], c.src), a2 = gen_addr_parse(f[col[C_DST]], c.dst);
		if (a1 < 0 || a2 < 0 || a1 != a2) {
			bad(&r, "not an IP address pair", a1 < 0 ? f[col[C_SRC]] : f[col[C_DST]]);
			continue;
		}
		c.af = (uint8_t)a1;
		uint16_t sp, dp;
		if (parse_port(f[col[C_SPORT]], &sp) < 0 || parse_port(f[col[C_DPORT]], &dp) < 0) {
			bad(&r, "bad port", f[col[C_SPORT]]);
			continue;
		}
		if (c.proto == 1 || c.proto == 58) {
			/* both formats: source port = ICMP type, destination port = code */
			c.sport = 0;
			c.dport = (uint16_t)((sp & 0xff) << 8 | (dp & 0xff));
		} else {
			c.sport = sp;
			c.dport = dp;
		}
		double dur = 0;
		if (parse_time(f[col[C_TS]], &c.start_ms) < 0) {
			bad(&r, "bad time", f[col[C_TS]]);
			continue;
		}
		if (col[C_DUR] >= 0 && parse_secs(f[col[C_DUR]], &dur) < 0) {
			bad(&r, "bad duration", f[col[C_DUR]]);
			continue;
		}
		if (c.start_ms < 1000000000ull * 1000) {
			c.start_ms += o->t0_ms;
			st->relative++;
		}
		c.end_ms = c.start_ms + (uint64_t)(dur * 1000.0 + 0.5);
		char label[IMP_LABEL_MAX] = "";
		if (zeek) {
			if (parse_u64(f[col[C_OPKTS]], &c.fwd_pkts) < 0 || parse_u64(f[col[C_RPKTS]], &c.rev_pkts) < 0 ||
			    (col[C_OBYTES] >= 0 && parse_u64(f[col[C_OBYTES]], &c.fwd_bytes) < 0) ||
			    (col[C_RBYTES] >= 0 && parse_u64(f[col[C_RBYTES]], &c.rev_bytes) < 0)) {
				bad(&r, "bad packet or byte count", NULL);
				continue;
			}
			if (col[C_HISTORY] >= 0)
				zeek_flags(f[col[C_HISTORY]], &c.fwd_flags, &c.rev_flags);
			if (col[C_LORIG] >= 0 && !empty(f[col[C_LORIG]]))
				c.src_local = (f[col[C_LORIG]][0] == 'T' || f[col[C_LORIG]][0] == 't');
			if (col[C_LRESP] >= 0 && !empty(f[col[C_LRESP]]))
				c.dst_local = (f[col[C_LRESP]][0] == 'T' || f[col[C_LRESP]][0] == 't');
			if (col[C_LABEL] >= 0 && !empty(f[col[C_LABEL]])) {
				if (col[C_DLABEL] >= 0 && !empty(f[col[C_DLABEL]]))
					snprintf(label, sizeof(label), "%s/%s", f[col[C_LABEL]], f[col[C_DLABEL]]);
				else
					snprintf(label, sizeof(label), "%s", f[col[C_LABEL]]);
			}
		} else {
			uint64_t tp, tb, sb = 0, spk = 0;
			if (parse_u64(f[col[C_TOTPKTS]], &tp) < 0 || parse_u64(f[col[C_TOTBYTES]], &tb) < 0 ||
			    (col[C_SRCBYTES] >= 0 && parse_u64(f[col[C_SRCBYTES]], &sb) < 0) ||
			    (col[C_SRCPKTS] >= 0 && parse_u64(f[col[C_SRCPKTS]], &spk) < 0)) {
				bad(&r, "bad packet or byte count", NULL);
				continue;
			}
			int has_sb = col[C_SRCBYTES] >= 0 && !empty(f[col[C_SRCBYTES]]);
			int has_sp = col[C_SRCPKTS] >= 0 && !empty(f[col[C_SRCPKTS]]);
			if (!has_sb || sb > tb) {
				c.fwd_pkts = tp, c.fwd_bytes = tb;
			} else {
				if (!has_sp)
					spk = tb ? (uint64_t)((double)tp * (double)sb / (double)tb + 0.5) : tp;
				if (spk > tp)
					spk = tp;
				if (sb > 0 && spk == 0)
					spk = 1;
				if (tp > spk && tb == sb) /* reverse packets need bytes: give them 40 each */
					sb = tb > 40 * (tp - spk) ? tb - 40 * (tp - spk) : sb;
				c.fwd_pkts = spk, c.fwd_bytes = sb;
				c.rev_pkts = tp - spk, c.rev_bytes = tb - sb;
				if (c.rev_pkts == 0)
					c.rev_bytes = 0;
			}
			if (col[C_STATE] >= 0 && c.proto == 6)
				argus_flags(f[col[C_STATE]], &c.fwd_flags, &c.rev_flags);
			if (col[C_LABEL] >= 0 && !empty(f[col[C_LABEL]]))
				snprintf(label, sizeof(label), "%s", f[col[C_LABEL]]);
		}
		if (label[0] == '\0' && o->file_label)
			snprintf(label, sizeof(label), "%s", o->file_label);
		for (char *p = label; *p; p++)
			if (*p == '\t' || (unsigned char)*p < 0x20)
				*p = ' ';
		snprintf(c.label, sizeof(c.label), "%s", label);
		int m = imp_label_malicious(label);
		if (m < 0)
			st->unknown_label++;
		c.malicious = m > 0;
		if (c.fwd_pkts == 0 && c.rev_pkts == 0) {
			st->empty++;
			continue;
		}
		if (c.fwd_pkts && c.fwd_bytes == 0)
			c.fwd_bytes = c.fwd_pkts * 40;
		if (c.rev_pkts && c.rev_bytes == 0)
			c.rev_bytes = c.rev_pkts * 40;
		if (push(out, &c) < 0) {
			fprintf(stderr, "mamori-import: out of memory\n");
			goto out;
		}
		st->conns++;
	}
	if (ferror(fp)) {
		fprintf(stderr, "mamori-import: %s: %s\n", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	free(buf);
	fclose(fp);
	return rc;
}
