/*
 * attacks.c - the attack classes of the brief, injected on top of the
 * background: parsing of `--attack CLASS:key=val,...`, validation against
 * the monitored prefixes, and record generation.
 *
 * Strength is always resolved to SAMPLED packets per second (what the
 * exporter reports, before the collector scales by the rate), since that
 * decides whether an attack can be seen at all; the ground truth's
 * strength column carries it.  It can be given as:
 *   pps=S       sampled packets/s
 *   rate=R      actual packets/s on the wire (S = R / N)
 *   mbps=M      actual Mbit/s on the wire (S = M * 1e6 / 8 / size / N)
 *   x=M         M times the target's own background baseline (adds M x the
 *               host's (or prefix's) inbound pps; outbound pps for
 *               outbound_flood/outbound_scan; outbound bytes/s for
 *               exfiltration)
 *   attempts=A  bruteforce: actual login attempts/s (12.5 packets each)
 *
 * Each sampled packet of a spoofed or probing attack is its own flow, so
 * such records carry one packet; bruteforce records carry one attempt
 * (its sampled packets); exfiltration records carry one connection's
 * packets over the exporter's active timeout.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gen.h"

enum key {
	K_START, K_END, K_PPS, K_RATE, K_MBPS, K_X, K_RAMP, K_SIZE, K_ATTEMPTS,
	K_VICTIM, K_SOURCE, K_TARGET, K_PREFIX, K_VECTOR, K_PROTO, K_PORT, K_PORTS,
	K_SOURCES, K_REFLECTORS, K_SERVICE, K_FLOWS, K_ACTIVE, K_NKEYS
};

static const char *const key_names[K_NKEYS] = {
	"start", "end", "pps", "rate", "mbps", "x", "ramp", "size", "attempts",
	"victim", "source", "target", "prefix", "vector", "proto", "port", "ports",
	"sources", "reflectors", "service", "flows", "active",
};

#define B(k) (1u << (k))
#define COMMON (B(K_START) | B(K_END) | B(K_PPS) | B(K_RATE) | B(K_MBPS) | B(K_X) | B(K_RAMP) | B(K_SIZE))

/* The generator's side of each class (names and roles: mamori/classes.h). */
static const struct cls {
	uint32_t keys;
	double def_pps;      /* default strength: sampled pps */
	const char *what;
} classes[MM_CLASS_COUNT] = {
	[MM_CLASS_FLOOD] = { COMMON | B(K_VICTIM) | B(K_PROTO) | B(K_PORT) | B(K_SOURCES), 100,
			"volumetric flood (udp, icmp, tcp, gre, ...) at a victim" },
	[MM_CLASS_SYN_FLOOD] = { COMMON | B(K_VICTIM) | B(K_PORT) | B(K_SOURCES), 100,
			    "TCP SYN flood at a victim port" },
	[MM_CLASS_AMPLIFICATION] = { COMMON | B(K_VICTIM) | B(K_VECTOR) | B(K_PORT) | B(K_REFLECTORS) | B(K_SOURCES),
				100, "reflection/amplification: UDP from a service port, many reflectors" },
	[MM_CLASS_CARPET_BOMBING] = { COMMON | B(K_PREFIX) | B(K_PROTO) | B(K_VECTOR) | B(K_PORT) | B(K_SOURCES),
				 100, "a prefix flooded across its addresses" },
	[MM_CLASS_HORIZONTAL_SCAN] = { COMMON | B(K_SOURCE) | B(K_PREFIX) | B(K_PORT), 1,
				  "one source, many destinations, one port (SYN probes)" },
	[MM_CLASS_VERTICAL_SCAN] = { COMMON | B(K_SOURCE) | B(K_TARGET) | B(K_PORTS), 1,
				"one source, one destination, many ports (SYN probes)" },
	[MM_CLASS_BRUTEFORCE] = { COMMON | B(K_SOURCE) | B(K_TARGET) | B(K_SERVICE) | B(K_PORT) | B(K_ATTEMPTS), 1,
			     "many short connections to an auth port" },
	[MM_CLASS_OUTBOUND_FLOOD] = { COMMON | B(K_SOURCE) | B(K_TARGET) | B(K_PROTO) | B(K_PORT),
				 100, "a monitored host flooding an outside target" },
	[MM_CLASS_OUTBOUND_SCAN] = { COMMON | B(K_SOURCE) | B(K_PORT), 1,
				"a monitored host scanning the Internet on one port" },
	[MM_CLASS_EXFILTRATION] = { COMMON | B(K_SOURCE) | B(K_TARGET) | B(K_PORT) | B(K_FLOWS) | B(K_ACTIVE), 10,
			       "a monitored host sending bulk data out" },
};

/* Typical response bytes per packet by amplification vector (names and
 * ports: mm_amp_vectors in mamori/classes.h); others use 500. */
static const struct {
	const char *name;
	uint16_t size;
} vec_sizes[] = {
	{ "dns", 1400 },  { "ntp", 468 },      { "ssdp", 320 },    { "memcached", 1400 }, { "cldap", 1400 },
	{ "chargen", 1000 }, { "snmp", 1200 }, { "qotd", 500 },    { "ws-discovery", 700 }, { "portmap", 500 },
	{ "mssql", 300 }, { "netbios", 250 },  { "rip", 500 },     { "tftp", 500 },       { "arms", 1000 },
	{ "coap", 400 },  { "openvpn", 100 },
};

static unsigned nvectors(void)
{
	unsigned n = 0;
	while (mm_amp_vectors[n].name)
		n++;
	return n;
}

static uint16_t vec_size(int v)
{
	for (unsigned i = 0; i < sizeof(vec_sizes) / sizeof(vec_sizes[0]); i++)
		if (strcmp(vec_sizes[i].name, mm_amp_vectors[v].name) == 0)
			return vec_sizes[i].size;
	return 500;
}

/* The vector names, wrapped for -h (continuation lines indented 20). */
static void list_vectors(char *buf, size_t len, int wrap)
{
	size_t off = 0, col = 20;
	buf[0] = '\0';
	for (unsigned i = 0; mm_amp_vectors[i].name && off < len; i++) {
		size_t w = strlen(mm_amp_vectors[i].name) + 1;
		const char *sep = i == 0 ? "" : wrap && col + w > 80 ? "\n                    " : " ";
		if (i && wrap && col + w > 80)
			col = 20;
		off += (size_t)snprintf(buf + off, len - off, "%s%s", sep, mm_amp_vectors[i].name);
		col += w;
	}
}

static const struct svc {
	const char *name;
	uint16_t port;
} services[] = {
	{ "ssh", 22 }, { "telnet", 23 }, { "rdp", 3389 }, { "ftp", 21 }, { "smtp", 25 },
	{ "pop3", 110 }, { "imap", 143 }, { "mssql", 1433 }, { "mysql", 3306 }, { "vnc", 5900 },
};
#define NSERVICES (sizeof(services) / sizeof(services[0]))

static const struct {
	const char *name;
	int proto;
} protos[] = {
	{ "udp", 17 }, { "icmp", 1 }, { "tcp", 6 }, { "gre", 47 }, { "esp", 50 },
};

#define BRUTE_PKTS 12.5 /* packets of one login attempt (10..15) */

const char *gen_attack_class_name(int cls)
{
	const struct mm_class_info *ci = mm_class_info((enum mm_class)cls);
	return ci ? ci->name : "?";
}

void gen_attack_usage(FILE *out)
{
	char vlist[400];
	list_vectors(vlist, sizeof(vlist), 1);
	fprintf(out, "Attack classes (--attack CLASS:key=val,...):\n");
	for (int c = 0; c < MM_CLASS_COUNT; c++) {
		fprintf(out, "  %-16s %s\n  %-16s keys:", gen_attack_class_name(c), classes[c].what, "");
		for (int k = 0; k < K_NKEYS; k++)
			if (classes[c].keys & B(k))
				fprintf(out, " %s", key_names[k]);
		fprintf(out, "\n");
	}
	fprintf(out,
		"Keys:\n"
		"  start=S end=S     scenario seconds (default 0 .. --duration)\n"
		"  pps=S             strength in SAMPLED packets/s (default: flood classes 100,\n"
		"                    scans and bruteforce 1, exfiltration 10)\n"
		"  rate=R            strength in actual packets/s on the wire (pps = R / sampling)\n"
		"  mbps=M            strength in actual Mbit/s on the wire\n"
		"  x=M               strength as M times the target's own background baseline\n"
		"  attempts=A        bruteforce: actual attempts/s (12.5 packets each)\n"
		"  ramp=S            ramp linearly from 0 to full strength over S seconds\n"
		"  victim=ADDR       monitored victim (default: a host picked by the seed)\n"
		"  source=ADDR       attacker (scans, bruteforce: default external; outbound\n"
		"                    classes and exfiltration: a monitored host)\n"
		"  target=ADDR       the host a vertical scan or bruteforce hits (monitored), or the\n"
		"                    outside target of outbound_flood / exfiltration\n"
		"  prefix=P          carpet_bombing / horizontal_scan range (inside --prefix)\n"
		"  vector=V          amplification vector, or a reflected carpet bombing:\n"
		"                    %s\n"
		"  proto=P           udp icmp tcp gre esp, or a number (flood default udp)\n"
		"  port=N            destination port (syn_flood 80, horizontal_scan 22,\n"
		"                    outbound_scan 23, exfiltration 443; floods: random)\n"
		"  ports=LO-HI       vertical_scan port range (default 1-1024)\n"
		"  sources=N         attack sources; 0 = a spoofed source per packet (default for\n"
		"                    floods); reflectors=N for amplification (default 500)\n"
		"  service=S         bruteforce: ssh telnet rdp ftp smtp pop3 imap mssql mysql vnc\n"
		"  size=B            bytes per packet (class/vector default)\n"
		"  flows=N active=S  exfiltration: parallel connections (1), export interval (10 s)\n",
		vlist);
}

/* ------------------------------------------------------------------ */
/* Parsing                                                              */

static int parse_double(const char *v, double *out)
{
	char *end;
	errno = 0;
	double d = strtod(v, &end);
	if (errno || end == v || *end != '\0' || !isfinite(d))
		return -1;
	*out = d;
	return 0;
}

static int parse_long(const char *v, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long n = strtol(v, &end, 10);
	if (errno || end == v || *end != '\0' || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

static int set_strength(struct gen_attack *a, int kind, const char *v, char *err, size_t errlen)
{
	if (a->str_kind != GEN_STR_NONE) {
		snprintf(err, errlen, "give one strength: pps=, rate=, mbps=, x= or attempts=");
		return -1;
	}
	if (parse_double(v, &a->str_val) < 0 || a->str_val <= 0) {
		snprintf(err, errlen, "strength '%s' is not a positive number", v);
		return -1;
	}
	a->str_kind = kind;
	return 0;
}

static int set_addr(uint8_t out[16], int *has, const char *key, const char *v, char *err, size_t errlen)
{
	if (gen_addr_parse(v, out) < 0) {
		snprintf(err, errlen, "%s='%s' is not an IPv4 or IPv6 address", key, v);
		return -1;
	}
	*has = 1;
	return 0;
}

static int parse_kv(struct gen_attack *a, int k, const char *v, char *err, size_t errlen)
{
	long n;
	double d;

	switch (k) {
	case K_START:
	case K_END:
		if (parse_double(v, &d) < 0 || d < 0 || d > 1e9) {
			snprintf(err, errlen, "%s='%s' is not a number of seconds", key_names[k], v);
			return -1;
		}
		if (k == K_START)
			a->start_s = d;
		else
			a->end_s = d;
		return 0;
	case K_PPS:
		return set_strength(a, GEN_STR_PPS, v, err, errlen);
	case K_RATE:
		return set_strength(a, GEN_STR_RATE, v, err, errlen);
	case K_MBPS:
		return set_strength(a, GEN_STR_MBPS, v, err, errlen);
	case K_X:
		return set_strength(a, GEN_STR_X, v, err, errlen);
	case K_ATTEMPTS:
		return set_strength(a, GEN_STR_ATTEMPTS, v, err, errlen);
	case K_RAMP:
	case K_ACTIVE:
		if (parse_double(v, &d) < 0 || d < 0 || d > 1e7 || (k == K_ACTIVE && d < 0.001)) {
			snprintf(err, errlen, "%s='%s' is not a number of seconds", key_names[k], v);
			return -1;
		}
		if (k == K_RAMP)
			a->ramp_s = d;
		else
			a->active_s = d;
		return 0;
	case K_SIZE:
		if (parse_long(v, 28, 65535, &n) < 0) {
			snprintf(err, errlen, "size='%s': bytes per packet must be 28..65535", v);
			return -1;
		}
		a->size = n;
		return 0;
	case K_VICTIM:
		return set_addr(a->victim, &a->has_victim, "victim", v, err, errlen);
	case K_SOURCE:
		return set_addr(a->source, &a->has_source, "source", v, err, errlen);
	case K_TARGET:
		return set_addr(a->target, &a->has_target, "target", v, err, errlen);
	case K_PREFIX: {
		char why[160];
		if (gen_prefix_parse(v, &a->prefix, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "prefix: %s", why);
			return -1;
		}
		a->has_prefix = 1;
		return 0;
	}
	case K_VECTOR: {
		char list[200];
		for (unsigned i = 0; i < nvectors(); i++)
			if (strcmp(v, mm_amp_vectors[i].name) == 0) {
				a->vector = (int)i;
				return 0;
			}
		list_vectors(list, sizeof(list), 0);
		snprintf(err, errlen, "vector='%s' unknown (%s)", v, list);
		return -1;
	}
	case K_PROTO:
		for (unsigned i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
			if (strcmp(v, protos[i].name) == 0) {
				a->proto = protos[i].proto;
				return 0;
			}
		if (parse_long(v, 1, 255, &n) == 0 && n != 58) {
			a->proto = (int)n;
			return 0;
		}
		snprintf(err, errlen, "proto='%s': udp icmp tcp gre esp or a protocol number 1..255", v);
		return -1;
	case K_PORT:
		if (parse_long(v, 1, 65535, &n) < 0) {
			snprintf(err, errlen, "port='%s' must be 1..65535", v);
			return -1;
		}
		a->port = (int)n;
		return 0;
	case K_PORTS: {
		const char *dash = strchr(v, '-');
		char lo[16];
		long l, h;
		if (!dash || (size_t)(dash - v) >= sizeof(lo)) {
			snprintf(err, errlen, "ports='%s' must be LO-HI", v);
			return -1;
		}
		memcpy(lo, v, (size_t)(dash - v));
		lo[dash - v] = '\0';
		if (parse_long(lo, 1, 65535, &l) < 0 || parse_long(dash + 1, 1, 65535, &h) < 0 || h < l) {
			snprintf(err, errlen, "ports='%s' must be LO-HI within 1..65535", v);
			return -1;
		}
		a->port_lo = (int)l;
		a->port_hi = (int)h;
		return 0;
	}
	case K_SOURCES:
	case K_REFLECTORS:
		if (parse_long(v, 0, 16777216, &n) < 0 || (k == K_REFLECTORS && n == 0)) {
			snprintf(err, errlen, "%s='%s' must be %s..16777216", key_names[k], v,
				 k == K_REFLECTORS ? "1" : "0");
			return -1;
		}
		a->sources = n;
		return 0;
	case K_SERVICE:
		for (unsigned i = 0; i < NSERVICES; i++)
			if (strcmp(v, services[i].name) == 0) {
				a->port = services[i].port;
				return 0;
			}
		snprintf(err, errlen, "service='%s' unknown (ssh telnet rdp ftp smtp pop3 imap mssql mysql vnc)", v);
		return -1;
	case K_FLOWS:
		if (parse_long(v, 1, 65536, &n) < 0) {
			snprintf(err, errlen, "flows='%s' must be 1..65536", v);
			return -1;
		}
		a->flows = n;
		return 0;
	default:
		snprintf(err, errlen, "internal: key %d", k);
		return -1;
	}
}

int gen_attack_parse(const char *spec, struct gen_attack *a, char *err, size_t errlen)
{
	char buf[sizeof(a->text)];
	char why[GEN_ERRLEN];

	memset(a, 0, sizeof(*a));
	a->end_s = -1;
	a->vector = -1;
	a->proto = -1;
	a->port = -1;
	a->port_lo = a->port_hi = -1;
	a->sources = -1;
	a->size = -1;
	a->flows = -1;
	a->active_s = 10;
	if (strlen(spec) >= sizeof(buf)) {
		snprintf(err, errlen, "--attack '%.40s...': too long", spec);
		return -1;
	}
	snprintf(a->text, sizeof(a->text), "%s", spec);
	snprintf(buf, sizeof(buf), "%s", spec);

	char *colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	a->cls = mm_class_parse(buf);
	if (a->cls < 0) {
		snprintf(err, errlen,
			 "--attack '%s': unknown class '%s' (flood syn_flood amplification carpet_bombing "
			 "horizontal_scan vertical_scan bruteforce outbound_flood outbound_scan exfiltration)",
			 spec, buf);
		return -1;
	}
	uint32_t seen = 0;
	char *save = NULL;
	for (char *kv = colon ? strtok_r(colon + 1, ",", &save) : NULL; kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq || eq == kv || eq[1] == '\0') {
			snprintf(err, errlen, "--attack '%s': '%s' is not key=value", spec, kv);
			return -1;
		}
		*eq = '\0';
		int k = -1;
		for (int i = 0; i < K_NKEYS; i++)
			if (strcmp(kv, key_names[i]) == 0)
				k = i;
		if (k < 0 || !(classes[a->cls].keys & B(k))) {
			char list[256] = "";
			size_t off = 0;
			for (int i = 0; i < K_NKEYS && off < sizeof(list); i++)
				if (classes[a->cls].keys & B(i))
					off += (size_t)snprintf(list + off, sizeof(list) - off, " %s", key_names[i]);
			snprintf(err, errlen, "--attack '%s': %s key '%s' (%s takes:%s)", spec,
				 k < 0 ? "unknown" : "unexpected", kv, gen_attack_class_name(a->cls), list);
			return -1;
		}
		if (seen & B(k)) {
			snprintf(err, errlen, "--attack '%s': key '%s' given twice", spec, kv);
			return -1;
		}
		seen |= B(k);
		if (parse_kv(a, k, eq + 1, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "--attack '%s': %s", spec, why);
			return -1;
		}
	}
	if (a->str_kind == GEN_STR_ATTEMPTS && a->cls != MM_CLASS_BRUTEFORCE) {
		snprintf(err, errlen, "--attack '%s': attempts= is for bruteforce", spec);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* Resolution                                                           */

static int is_inbound(int cls)
{
	return cls <= MM_CLASS_CARPET_BOMBING;
}

static int monitored_source(int cls)
{
	return cls == MM_CLASS_OUTBOUND_FLOOD || cls == MM_CLASS_OUTBOUND_SCAN || cls == MM_CLASS_EXFILTRATION;
}

static int addr_af(const uint8_t a[16])
{
	return mm_addr_is4(a) ? 4 : 6;
}

static void pick_host(struct gen_traffic *t, uint64_t seed, unsigned index, uint64_t salt, uint8_t out[16])
{
	uint32_t h = (uint32_t)(gen_hash2(seed ^ 0x686f7374ull, (uint64_t)index << 8 | salt) %
				gen_traffic_nhosts(t));
	memcpy(out, gen_traffic_host_addr(t, h), 16);
}

static int default_size(const struct gen_attack *a)
{
	if (a->size > 0)
		return (int)a->size;
	int v6 = a->af == 6 ? 20 : 0;
	switch (a->cls) {
	case MM_CLASS_FLOOD:
	case MM_CLASS_CARPET_BOMBING:
	case MM_CLASS_OUTBOUND_FLOOD:
		if (a->vector >= 0)
			return vec_size(a->vector);
		if (a->proto == 6)
			return 60 + v6;
		if (a->proto == 1)
			return 1000;
		return 1024;
	case MM_CLASS_SYN_FLOOD:
		return 60 + v6;
	case MM_CLASS_AMPLIFICATION:
		return vec_size(a->vector);
	case MM_CLASS_HORIZONTAL_SCAN:
	case MM_CLASS_VERTICAL_SCAN:
	case MM_CLASS_OUTBOUND_SCAN:
		return 44 + v6;
	case MM_CLASS_BRUTEFORCE:
		return 120;
	case MM_CLASS_EXFILTRATION:
		return 1400;
	default:
		return 100;
	}
}

int gen_attack_resolve(struct gen_attack *a, unsigned index, struct gen_traffic *t, uint64_t seed,
		       uint32_t sampling, double duration_s, char *err, size_t errlen)
{
	char sa[64];
	const char *cn = gen_attack_class_name(a->cls);

	a->index = index;
	a->seed = seed;
	a->sampling = sampling;

	/* Window. */
	if (a->end_s < 0) {
		if (duration_s < 0) {
			snprintf(err, errlen, "--attack '%s': end= needed when the scenario has no --duration",
				 a->text);
			return -1;
		}
		a->end_s = duration_s;
	}
	if (duration_s >= 0 && a->end_s > duration_s) {
		snprintf(err, errlen, "--attack '%s': end=%g is after the scenario's end (--duration %g)", a->text,
			 a->end_s, duration_s);
		return -1;
	}
	if (a->end_s <= a->start_s) {
		snprintf(err, errlen, "--attack '%s': end must be after start", a->text);
		return -1;
	}
	a->start_us = (uint64_t)llround(a->start_s * 1e6);
	a->end_us = (uint64_t)llround(a->end_s * 1e6);

	/* Defaults for the class. */
	switch (a->cls) {
	case MM_CLASS_FLOOD:
		if (a->proto < 0)
			a->proto = 17;
		if (a->sources < 0)
			a->sources = 0;
		break;
	case MM_CLASS_SYN_FLOOD:
		a->proto = 6;
		if (a->port < 0)
			a->port = 80;
		if (a->sources < 0)
			a->sources = 0;
		break;
	case MM_CLASS_AMPLIFICATION:
		a->proto = 17;
		if (a->vector < 0)
			a->vector = 0; /* dns */
		if (a->sources < 0)
			a->sources = 500;
		if (a->sources == 0) {
			snprintf(err, errlen, "--attack '%s': amplification needs reflectors >= 1", a->text);
			return -1;
		}
		break;
	case MM_CLASS_CARPET_BOMBING:
		if (a->vector >= 0) {
			if (a->proto >= 0 && a->proto != 17) {
				snprintf(err, errlen, "--attack '%s': a reflected carpet bombing (vector=) is UDP",
					 a->text);
				return -1;
			}
			a->proto = 17;
			if (a->sources < 0)
				a->sources = 500;
		}
		if (a->proto < 0)
			a->proto = 17;
		if (a->sources < 0)
			a->sources = 0;
		break;
	case MM_CLASS_HORIZONTAL_SCAN:
		a->proto = 6;
		if (a->port < 0)
			a->port = 22;
		break;
	case MM_CLASS_VERTICAL_SCAN:
		a->proto = 6;
		if (a->port_lo < 0) {
			a->port_lo = 1;
			a->port_hi = 1024;
		}
		break;
	case MM_CLASS_BRUTEFORCE:
		a->proto = 6;
		if (a->port < 0)
			a->port = 22;
		break;
	case MM_CLASS_OUTBOUND_FLOOD:
		if (a->proto < 0)
			a->proto = 17;
		break;
	case MM_CLASS_OUTBOUND_SCAN:
		a->proto = 6;
		if (a->port < 0)
			a->port = 23;
		break;
	case MM_CLASS_EXFILTRATION:
		a->proto = 6;
		if (a->port < 0)
			a->port = 443;
		if (a->flows < 0)
			a->flows = 1;
		break;
	}

	/* Addresses and their families. */
	switch (a->cls) {
	case MM_CLASS_FLOOD:
	case MM_CLASS_SYN_FLOOD:
	case MM_CLASS_AMPLIFICATION:
		if (!a->has_victim) {
			pick_host(t, seed, index, 1, a->victim);
			a->has_victim = 1;
		}
		if (!gen_traffic_monitored(t, a->victim)) {
			snprintf(err, errlen, "--attack '%s': victim %s is not inside any --prefix", a->text,
				 gen_addr_str(a->victim, sa, sizeof(sa)));
			return -1;
		}
		a->af = addr_af(a->victim);
		break;
	case MM_CLASS_CARPET_BOMBING:
		if (!a->has_prefix) {
			const struct gen_prefix *m = gen_traffic_prefix(t, 4);
			if (!m)
				m = gen_traffic_prefix(t, 6);
			a->prefix = *m;
			unsigned want = m->af == 4 ? 96 + 24 : 120;
			if (a->prefix.len < want)
				a->prefix.len = (uint8_t)want; /* the first /24 (/120) of it */
			a->has_prefix = 1;
		}
		a->af = a->prefix.af;
		if (!gen_traffic_covers(t, &a->prefix)) {
			snprintf(err, errlen, "--attack '%s': prefix %s is not inside a --prefix", a->text,
				 gen_prefix_str(&a->prefix, sa, sizeof(sa)));
			return -1;
		}
		break;
	case MM_CLASS_HORIZONTAL_SCAN:
		if (!a->has_prefix) {
			int af = a->has_source ? addr_af(a->source) : 4;
			const struct gen_prefix *m = gen_traffic_prefix(t, af);
			if (!m && !a->has_source)
				m = gen_traffic_prefix(t, 6);
			if (!m) {
				snprintf(err, errlen, "--attack '%s': no monitored IPv%d prefix to scan", a->text, af);
				return -1;
			}
			a->prefix = *m;
			a->has_prefix = 1;
		} else if (!gen_traffic_covers(t, &a->prefix)) {
			snprintf(err, errlen, "--attack '%s': prefix %s is not inside a --prefix", a->text,
				 gen_prefix_str(&a->prefix, sa, sizeof(sa)));
			return -1;
		}
		a->af = a->prefix.af;
		if (!a->has_source) {
			gen_traffic_external(t, (uint64_t)0x5343414eu << 24 | index, a->af, a->source);
			a->has_source = 1;
		}
		break;
	case MM_CLASS_VERTICAL_SCAN:
	case MM_CLASS_BRUTEFORCE:
		if (!a->has_target) {
			pick_host(t, seed, index, 2, a->target);
			a->has_target = 1;
		}
		if (!gen_traffic_monitored(t, a->target)) {
			snprintf(err, errlen, "--attack '%s': target %s is not inside any --prefix", a->text,
				 gen_addr_str(a->target, sa, sizeof(sa)));
			return -1;
		}
		a->af = addr_af(a->target);
		if (!a->has_source) {
			gen_traffic_external(t, (uint64_t)0x5343414eu << 24 | index, a->af, a->source);
			a->has_source = 1;
		}
		break;
	case MM_CLASS_OUTBOUND_FLOOD:
	case MM_CLASS_OUTBOUND_SCAN:
	case MM_CLASS_EXFILTRATION:
		if (!a->has_source) {
			pick_host(t, seed, index, 3, a->source);
			a->has_source = 1;
		}
		if (!gen_traffic_monitored(t, a->source)) {
			snprintf(err, errlen, "--attack '%s': source %s must be a monitored host (inside a --prefix)",
				 a->text, gen_addr_str(a->source, sa, sizeof(sa)));
			return -1;
		}
		a->af = addr_af(a->source);
		if (a->cls != MM_CLASS_OUTBOUND_SCAN && !a->has_target) {
			gen_traffic_external(t, (uint64_t)0x54475424u << 24 | index, a->af, a->target);
			a->has_target = 1;
		}
		if (a->has_target && gen_traffic_monitored(t, a->target)) {
			snprintf(err, errlen, "--attack '%s': target %s is monitored; %s goes out", a->text,
				 gen_addr_str(a->target, sa, sizeof(sa)), cn);
			return -1;
		}
		break;
	}
	if ((a->has_source && addr_af(a->source) != a->af) || (a->has_target && addr_af(a->target) != a->af) ||
	    (a->has_victim && addr_af(a->victim) != a->af) || (a->has_prefix && a->prefix.af != a->af)) {
		snprintf(err, errlen, "--attack '%s': mixes IPv4 and IPv6 addresses", a->text);
		return -1;
	}

	/* Strength -> sampled pps. */
	double size = default_size(a);
	double n = sampling;
	switch (a->str_kind) {
	case GEN_STR_NONE:
		a->pps = classes[a->cls].def_pps;
		break;
	case GEN_STR_PPS:
		a->pps = a->str_val;
		break;
	case GEN_STR_RATE:
		a->pps = a->str_val / n;
		break;
	case GEN_STR_MBPS:
		a->pps = a->str_val * 1e6 / 8.0 / size / n;
		break;
	case GEN_STR_ATTEMPTS:
		a->pps = a->str_val * BRUTE_PKTS / n;
		break;
	case GEN_STR_X: {
		double pps = 0, bps = 0;
		if (a->cls == MM_CLASS_CARPET_BOMBING) {
			gen_traffic_prefix_baseline(t, &a->prefix, &pps, &bps);
		} else {
			const uint8_t *who = is_inbound(a->cls) ? a->victim
					     : monitored_source(a->cls) ? a->source
									: NULL;
			int64_t h = who ? gen_traffic_host_index(t, who) : -1;
			if (!who) {
				snprintf(err, errlen, "--attack '%s': x= needs a monitored host's baseline; %s "
					 "comes from outside, use pps= or rate=", a->text, cn);
				return -1;
			}
			if (h >= 0)
				gen_traffic_baseline(t, (uint32_t)h, is_inbound(a->cls), &pps, &bps);
		}
		if (a->cls == MM_CLASS_EXFILTRATION)
			pps = bps / size;
		if (pps <= 0) {
			snprintf(err, errlen, "--attack '%s': the target has no background traffic; use pps=",
				 a->text);
			return -1;
		}
		a->pps = a->str_val * pps;
		break;
	}
	}
	if (!(a->pps > 0) || a->pps > 1e8) {
		snprintf(err, errlen, "--attack '%s': strength %g sampled pps out of range (0, 1e8]", a->text, a->pps);
		return -1;
	}

	/* Packets per record and the record rate. */
	a->ppr = 1;
	if (a->cls == MM_CLASS_BRUTEFORCE && sampling <= 1)
		a->ppr = BRUTE_PKTS;
	if (a->cls == MM_CLASS_EXFILTRATION) {
		a->ppr = a->pps * a->active_s / (double)a->flows;
		if (a->ppr < 1)
			a->ppr = 1;
	}
	a->rec_rate = a->pps / a->ppr;

	gen_rng_seed(&a->rng, seed, 0x41545441434bull + index);
	a->k = 0;
	a->pkt_carry = 0;
	a->next_us = gen_attack_time_us(a, 0);
	return 0;
}

uint64_t gen_attack_time_us(const struct gen_attack *a, uint64_t k)
{
	/* Exfiltration chunks are exported once they have accumulated: record
	 * k goes out at the end of interval k; the others at the packet. */
	double kk = (double)k + (a->cls == MM_CLASS_EXFILTRATION ? 1 : 0), tau;
	double r = a->rec_rate, ramp = a->ramp_s;

	if (ramp > 0 && kk < r * ramp / 2)
		tau = sqrt(2.0 * ramp * kk / r);
	else
		tau = kk / r + (ramp > 0 ? ramp / 2 : 0);
	double t = (double)a->start_us + tau * 1e6;
	if (t >= (double)a->end_us)
		return UINT64_MAX;
	return (uint64_t)t;
}

/* ------------------------------------------------------------------ */
/* Records                                                              */

static uint16_t eph(struct gen_rng *r)
{
	return (uint16_t)(1024 + gen_rng_below(r, 64512));
}

static void spoofed(struct gen_attack *a, const struct gen_traffic *t, uint8_t out[16])
{
	uint64_t key;
	if (a->sources == 0)
		key = gen_rng_next(&a->rng);
	else
		key = (uint64_t)a->index << 32 | gen_rng_below(&a->rng, (uint32_t)a->sources);
	gen_traffic_external(t, key ^ ((uint64_t)0x41 << 56), a->af, out);
}

static void random_in(struct gen_attack *a, const struct gen_prefix *p, uint8_t out[16])
{
	uint64_t n = gen_prefix_hosts(p);
	uint32_t i = n > UINT32_MAX ? (uint32_t)gen_rng_next(&a->rng) : gen_rng_below(&a->rng, (uint32_t)n);
	gen_prefix_host(p, i, out);
}

static uint8_t l4proto(const struct gen_attack *a)
{
	return a->af == 6 && a->proto == 1 ? 58 : (uint8_t)a->proto;
}

static void set_ports_flood(struct gen_attack *a, struct mm_flow *f)
{
	uint8_t p = f->proto;
	if (p == 1 || p == 58) {
		f->src_port = 0;
		f->dst_port = p == 1 ? 0x0800 : (uint16_t)(128 << 8);
	} else if (p == 6 || p == 17) {
		f->src_port = eph(&a->rng);
		f->dst_port = a->port > 0 ? (uint16_t)a->port : eph(&a->rng);
		if (p == 6)
			f->tcp_flags = a->cls == MM_CLASS_FLOOD ? 0x10 : 0x02; /* ACK flood / SYN */
	}
}

void gen_attack_next(struct gen_attack *a, const struct gen_traffic *t, uint64_t t0_ms, struct mm_flow *f)
{
	struct gen_rng *r = &a->rng;
	uint64_t t_ms = t0_ms + a->next_us / 1000;
	uint64_t start_ms = t0_ms + a->start_us / 1000;
	double size = default_size(a);
	uint64_t dur = 0;
	int inbound = 1;

	memset(f, 0, sizeof(*f));
	f->af = (uint8_t)a->af;
	f->proto = l4proto(a);
	f->packets = 1;

	switch (a->cls) {
	case MM_CLASS_FLOOD:
	case MM_CLASS_SYN_FLOOD:
		spoofed(a, t, f->src_addr);
		memcpy(f->dst_addr, a->victim, 16);
		set_ports_flood(a, f);
		break;
	case MM_CLASS_AMPLIFICATION:
		spoofed(a, t, f->src_addr);
		memcpy(f->dst_addr, a->victim, 16);
		f->src_port = mm_amp_vectors[a->vector].port;
		f->dst_port = a->port > 0 ? (uint16_t)a->port : eph(r);
		break;
	case MM_CLASS_CARPET_BOMBING:
		spoofed(a, t, f->src_addr);
		random_in(a, &a->prefix, f->dst_addr);
		set_ports_flood(a, f);
		if (a->vector >= 0)
			f->src_port = mm_amp_vectors[a->vector].port;
		break;
	case MM_CLASS_HORIZONTAL_SCAN:
		memcpy(f->src_addr, a->source, 16);
		random_in(a, &a->prefix, f->dst_addr);
		f->src_port = eph(r);
		f->dst_port = (uint16_t)a->port;
		f->tcp_flags = 0x02;
		break;
	case MM_CLASS_VERTICAL_SCAN:
		memcpy(f->src_addr, a->source, 16);
		memcpy(f->dst_addr, a->target, 16);
		f->src_port = eph(r);
		f->dst_port = (uint16_t)(a->port_lo + (int)gen_rng_below(r, (uint32_t)(a->port_hi - a->port_lo + 1)));
		f->tcp_flags = 0x02;
		break;
	case MM_CLASS_BRUTEFORCE:
		memcpy(f->src_addr, a->source, 16);
		memcpy(f->dst_addr, a->target, 16);
		f->src_port = (uint16_t)(32768 + gen_rng_below(r, 28232));
		f->dst_port = (uint16_t)a->port;
		if (a->sampling <= 1) {
			f->packets = 10 + gen_rng_below(r, 6);
			f->tcp_flags = 0x1b;
			dur = 500 + gen_rng_below(r, 2500);
		} else {
			uint32_t u = gen_rng_below(r, 25);
			f->tcp_flags = u < 2 ? 0x02 : u < 4 ? 0x11 : (u & 1) ? 0x18 : 0x10;
		}
		break;
	case MM_CLASS_OUTBOUND_FLOOD:
		inbound = 0;
		memcpy(f->src_addr, a->source, 16);
		memcpy(f->dst_addr, a->target, 16);
		set_ports_flood(a, f);
		if (f->proto == 6)
			f->tcp_flags = 0x02;
		break;
	case MM_CLASS_OUTBOUND_SCAN:
		inbound = 0;
		memcpy(f->src_addr, a->source, 16);
		gen_traffic_external(t, gen_rng_next(r), a->af, f->dst_addr);
		f->src_port = eph(r);
		f->dst_port = (uint16_t)a->port;
		f->tcp_flags = 0x02;
		break;
	case MM_CLASS_EXFILTRATION: {
		inbound = 0;
		uint32_t flow = (uint32_t)(a->k % (uint64_t)a->flows);
		memcpy(f->src_addr, a->source, 16);
		memcpy(f->dst_addr, a->target, 16);
		f->src_port = (uint16_t)(32768 + gen_hash2(a->seed + a->index, flow) % 28232);
		f->dst_port = (uint16_t)a->port;
		f->tcp_flags = 0x18;
		double want = a->ppr + a->pkt_carry;
		double whole = floor(want);
		a->pkt_carry = want - whole;
		f->packets = whole < 1 ? 1 : (uint64_t)whole;
		dur = (uint64_t)(a->active_s * 1000);
		break;
	}
	}

	f->bytes = f->packets * (uint64_t)size;
	if (a->cls == MM_CLASS_BRUTEFORCE)
		f->bytes = f->packets * (uint64_t)(60 + gen_rng_below(r, 120));
	f->in_if = inbound ? 1 : 2;
	f->out_if = inbound ? 2 : 1;
	f->direction = MM_DIR_INGRESS;
	f->sampling_rate = a->sampling;
	f->packets_scaled = mm_scale(f->packets, a->sampling);
	f->bytes_scaled = mm_scale(f->bytes, a->sampling);

	uint64_t lag = a->cls == MM_CLASS_EXFILTRATION ? 0 : gen_rng_below(r, 1000);
	f->end_ms = t_ms > lag ? t_ms - lag : 0;
	if (f->end_ms < start_ms)
		f->end_ms = start_ms;
	f->start_ms = f->end_ms > dur ? f->end_ms - dur : 0;
	if (f->start_ms < start_ms)
		f->start_ms = start_ms;

	a->k++;
	a->next_us = gen_attack_time_us(a, a->k);
}

/* ------------------------------------------------------------------ */
/* Ground-truth columns                                                 */

const char *gen_attack_vector(const struct gen_attack *a)
{
	switch (a->cls) {
	case MM_CLASS_AMPLIFICATION:
		return mm_amp_vectors[a->vector].name;
	case MM_CLASS_CARPET_BOMBING:
		if (a->vector >= 0)
			return mm_amp_vectors[a->vector].name;
		/* fallthrough */
	case MM_CLASS_FLOOD:
	case MM_CLASS_OUTBOUND_FLOOD:
		for (unsigned i = 0; i < sizeof(protos) / sizeof(protos[0]); i++)
			if (protos[i].proto == a->proto)
				return protos[i].name;
		return "other";
	case MM_CLASS_BRUTEFORCE:
		for (unsigned i = 0; i < NSERVICES; i++)
			if (services[i].port == a->port)
				return services[i].name;
		return "-";
	default:
		return "-";
	}
}

const char *gen_attack_role(const struct gen_attack *a)
{
	return mm_class_info((enum mm_class)a->cls)->role == MM_ROLE_SOURCE ? "source" : "victim";
}

const char *gen_attack_peer(const struct gen_attack *a, char *buf, size_t len)
{
	if (a->cls == MM_CLASS_HORIZONTAL_SCAN && a->has_prefix)
		return gen_prefix_str(&a->prefix, buf, len);
	if (mm_class_info((enum mm_class)a->cls)->role == MM_ROLE_SOURCE && a->has_target)
		return gen_addr_str(a->target, buf, len);
	return "-";
}

const char *gen_attack_target(const struct gen_attack *a, char *buf, size_t len)
{
	if (a->cls == MM_CLASS_CARPET_BOMBING)
		return gen_prefix_str(&a->prefix, buf, len);
	if (mm_class_info((enum mm_class)a->cls)->role == MM_ROLE_SOURCE)
		return gen_addr_str(a->source, buf, len);
	return gen_addr_str(a->victim, buf, len);
}
