/*
 * exabgp.c - incident events to ExaBGP text API lines (exabgp.h).
 *
 * State is two small arrays searched linearly: routes (at most
 * max_routes) and the incidents holding them.  Events are rare (one per
 * incident start and end), so simplicity wins over a hash here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/classes.h"
#include "mamori/exabgp.h"
#include "mamori/flow.h"
#include "mamori/incident.h"
#include "mamori/json_scan.h"
#include "mamori/score.h"

/* ---- configuration --------------------------------------------------- */

static int is_victim_class(int k)
{
	const struct mm_class_info *ci = mm_class_info((enum mm_class)k);

	return ci != NULL && ci->role == MM_ROLE_VICTIM;
}

const char *mm_exabgp_check_action(const char *v)
{
	return strcmp(v, "blackhole") == 0 || strcmp(v, "flowspec") == 0 ? NULL : "use blackhole or flowspec";
}

static const char *parse_classes(const char *v, uint32_t *mask)
{
	static char why[96];
	char name[32];

	*mask = 0;
	while (*v != '\0') {
		size_t n;
		int k;

		v += strspn(v, " \t");
		n = strcspn(v, ", \t");
		if (n == 0 || n >= sizeof(name))
			return "expected class names separated by commas";
		memcpy(name, v, n);
		name[n] = '\0';
		k = mm_class_parse(name);
		if (k < 0) {
			snprintf(why, sizeof(why), "unknown class '%.31s'", name);
			return why;
		}
		if (!is_victim_class(k)) {
			snprintf(why, sizeof(why), "%s names a source, not a victim to protect", name);
			return why;
		}
		*mask |= 1u << k;
		v += n;
		v += strspn(v, " \t");
		if (*v == ',' && *++v == '\0')
			return "expected class names separated by commas";
	}
	return *mask != 0 ? NULL : "expected class names separated by commas";
}

const char *mm_exabgp_check_classes(const char *v)
{
	uint32_t m;

	return parse_classes(v, &m);
}

const char *mm_exabgp_check_next_hop(const char *v)
{
	uint8_t a[16];

	return strcmp(v, "self") == 0 || mm_addr_parse(v, a) > 0 ? NULL : "use self or an IPv4 or IPv6 address";
}

static int parse_u16(const char *s, size_t n, uint16_t *out)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

static const char *parse_community(const char *v, uint16_t *asn, uint16_t *val)
{
	const char *colon = strchr(v, ':');

	if (colon == NULL || parse_u16(v, (size_t)(colon - v), asn) < 0 ||
	    parse_u16(colon + 1, strlen(colon + 1), val) < 0)
		return "expected ASN:VALUE, each 0..65535 (RFC 7999 BLACKHOLE is 65535:666)";
	return NULL;
}

const char *mm_exabgp_check_community(const char *v)
{
	uint16_t a, b;

	return parse_community(v, &a, &b);
}

int mm_exabgp_params_from_config(struct mm_exabgp_params *p, const struct mm_config *c)
{
	memset(p, 0, sizeof(*p));
	if (mm_exabgp_check_action(c->exabgp_action) != NULL || parse_classes(c->exabgp_classes, &p->classes) != NULL ||
	    mm_exabgp_check_next_hop(c->exabgp_next_hop) != NULL ||
	    parse_community(c->exabgp_community, &p->community_asn, &p->community_value) != NULL)
		return -1;
	p->action = strcmp(c->exabgp_action, "flowspec") == 0 ? MM_EXABGP_FLOWSPEC : MM_EXABGP_BLACKHOLE;
	p->min_tier = c->exabgp_min_tier;
	snprintf(p->next_hop, sizeof(p->next_hop), "%s", c->exabgp_next_hop);
	p->rate_limit = c->exabgp_rate_limit;
	p->max_routes = c->exabgp_max_routes ? c->exabgp_max_routes : 1;
	return 0;
}

/* ---- events ---------------------------------------------------------- */

enum { K_SCHEMA, K_EVENT, K_ID, K_CLASS, K_VECTOR, K_TIER, K_HOST, K_PREFIX, K_FEATURE, K_N };
static const char *const event_keys[K_N] = { "schema", "event", "id",     "class",  "vector",
					     "tier",   "host",  "prefix", "feature" };

const char *mm_exabgp_event_parse(const char *json, struct mm_exabgp_event *ev)
{
	struct mm_json_span v[K_N];
	char buf[64];
	uint64_t schema;

	memset(ev, 0, sizeof(*ev));
	if (mm_json_members(json, event_keys, K_N, v) < 0)
		return "not one JSON object";
	if (mm_json_u64(&v[K_SCHEMA], &schema) < 0 || schema != 1)
		return "schema missing or not 1";
	if (mm_json_str(&v[K_EVENT], buf, sizeof(buf)) < 0)
		return "no event";
	if (strcmp(buf, "start") == 0)
		ev->event = MM_INC_START;
	else if (strcmp(buf, "update") == 0)
		ev->event = MM_INC_UPDATE;
	else if (strcmp(buf, "end") == 0)
		ev->event = MM_INC_END;
	else
		return "event is not start, update or end";
	if (mm_json_str(&v[K_ID], ev->id, sizeof(ev->id)) < 0 || strlen(ev->id) != 16 ||
	    strspn(ev->id, "0123456789abcdef") != 16)
		return "id missing or not 16 hex digits";
	if (mm_json_str(&v[K_CLASS], buf, sizeof(buf)) < 0 || (ev->cls = mm_class_parse(buf)) < 0)
		return "class missing or unknown";
	if (mm_json_str(&v[K_TIER], buf, sizeof(buf)) < 0)
		return "no tier";
	if (strcmp(buf, "act") == 0)
		ev->tier = MM_TIER_ACT;
	else if (strcmp(buf, "investigate") == 0)
		ev->tier = MM_TIER_INVESTIGATE;
	else
		return "tier is not act or investigate";
	if (mm_json_str(&v[K_HOST], buf, sizeof(buf)) == 0) {
		if (mm_addr_parse(buf, ev->target.addr) <= 0)
			return "host is not an address";
		ev->target.len = 128;
	} else if (mm_json_str(&v[K_PREFIX], buf, sizeof(buf)) == 0) {
		const char *why;
		if (mm_prefix_parse(buf, &ev->target, &why) < 0)
			return "prefix is not a prefix";
	} else {
		return "no host or prefix";
	}
	ev->target.af = mm_addr_is4(ev->target.addr) && ev->target.len >= 96 ? 4 : 6;
	if (ev->cls == MM_CLASS_AMPLIFICATION && mm_json_str(&v[K_VECTOR], buf, sizeof(buf)) == 0) {
		const struct mm_amp_vector *av = mm_amp_vector_by_name(buf);
		if (av != NULL)
			ev->src_port = av->port;
	}
	if (ev->cls == MM_CLASS_AMPLIFICATION) {
		ev->proto = 17;
	} else if (ev->cls == MM_CLASS_SYN_FLOOD) {
		ev->proto = 6;
		ev->syn = 1;
	} else if (mm_json_str(&v[K_FEATURE], buf, sizeof(buf)) == 0) {
		if (strcmp(buf, "tcp_pkts_in") == 0)
			ev->proto = 6;
		else if (strcmp(buf, "udp_pkts_in") == 0)
			ev->proto = 17;
		else if (strcmp(buf, "icmp_pkts_in") == 0 && ev->target.af == 4)
			ev->proto = 1; /* ICMPv6 is left unmatched: one name less to get wrong */
	}
	return NULL;
}

/* ---- lines ----------------------------------------------------------- */

static const char *proto_name(uint8_t p)
{
	switch (p) {
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	}
	return NULL;
}

int mm_exabgp_rule(const struct mm_exabgp_params *p, const struct mm_exabgp_event *ev, char *announce,
		   size_t alen, char *withdraw, size_t wlen)
{
	char pfx[64], match[192];
	int n, m;
	size_t k = 0;

	if (mm_prefix_str(&ev->target, pfx, sizeof(pfx)) == NULL)
		return -1;
	if (p->action == MM_EXABGP_BLACKHOLE) {
		n = snprintf(announce, alen, "announce route %s next-hop %s community [%u:%u]", pfx, p->next_hop,
			     (unsigned)p->community_asn, (unsigned)p->community_value);
		m = snprintf(withdraw, wlen, "withdraw route %s", pfx);
		return n < 0 || (size_t)n >= alen || m < 0 || (size_t)m >= wlen ? -1 : 0;
	}
	/* FlowSpec: IPv6 prefixes carry an offset, and the protocol is the
	 * next header (ExaBGP's flow grammar). */
	k += (size_t)snprintf(match + k, sizeof(match) - k, "destination %s%s;", pfx, ev->target.af == 6 ? "/0" : "");
	if (proto_name(ev->proto) != NULL && k < sizeof(match))
		k += (size_t)snprintf(match + k, sizeof(match) - k, " %s %s;", ev->target.af == 6 ? "next-header" : "protocol",
				      proto_name(ev->proto));
	if (ev->src_port != 0 && k < sizeof(match))
		k += (size_t)snprintf(match + k, sizeof(match) - k, " source-port =%u;", (unsigned)ev->src_port);
	if (ev->syn && k < sizeof(match))
		k += (size_t)snprintf(match + k, sizeof(match) - k, " tcp-flags [ syn ];");
	if (k >= sizeof(match))
		return -1;
	if (p->rate_limit > 0)
		n = snprintf(announce, alen, "announce flow route { match { %s } then { rate-limit %u; } }", match,
			     (unsigned)p->rate_limit);
	else
		n = snprintf(announce, alen, "announce flow route { match { %s } then { discard; } }", match);
	m = snprintf(withdraw, wlen, "withdraw flow route { match { %s } }", match);
	return n < 0 || (size_t)n >= alen || m < 0 || (size_t)m >= wlen ? -1 : 0;
}

/* ---- state ----------------------------------------------------------- */

struct route {
	char announce[MM_EXABGP_LINE_MAX];
	char withdraw[MM_EXABGP_LINE_MAX];
	unsigned holders;       /* incidents using it */
};

struct holder {
	char id[17];
	unsigned route;         /* index into routes[] */
};

struct mm_exabgp {
	struct mm_exabgp_params p;
	struct route *routes;
	unsigned nroutes;
	struct holder *holders;
	unsigned nholders, maxholders;
	struct mm_exabgp_stats st;
};

struct mm_exabgp *mm_exabgp_new(const struct mm_exabgp_params *p)
{
	struct mm_exabgp *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return NULL;
	x->p = *p;
	if (x->p.max_routes == 0)
		x->p.max_routes = 1;
	/* Several incidents may share a route (a flood and a reflection
	 * against one host); beyond 4 each on average is counted refused. */
	x->maxholders = 4 * x->p.max_routes;
	x->routes = calloc(x->p.max_routes, sizeof(*x->routes));
	x->holders = calloc(x->maxholders, sizeof(*x->holders));
	if (x->routes == NULL || x->holders == NULL) {
		mm_exabgp_free(x);
		return NULL;
	}
	return x;
}

void mm_exabgp_free(struct mm_exabgp *x)
{
	if (x == NULL)
		return;
	free(x->routes);
	free(x->holders);
	free(x);
}

static int find_holder(const struct mm_exabgp *x, const char *id)
{
	for (unsigned i = 0; i < x->nholders; i++)
		if (strcmp(x->holders[i].id, id) == 0)
			return (int)i;
	return -1;
}

static void emit(mm_exabgp_out_fn out, void *arg, const char *line)
{
	if (out != NULL)
		out(arg, line);
}

/* The incident holds (or now takes) its route.  Lines sent: 0 or 1. */
static int hold(struct mm_exabgp *x, const struct mm_exabgp_event *ev, mm_exabgp_out_fn out, void *arg)
{
	char a[MM_EXABGP_LINE_MAX], w[MM_EXABGP_LINE_MAX];
	unsigned r;

	if (find_holder(x, ev->id) >= 0)
		return 0;
	if (mm_exabgp_rule(&x->p, ev, a, sizeof(a), w, sizeof(w)) < 0 || x->nholders == x->maxholders) {
		x->st.refused++;
		return 0;
	}
	for (r = 0; r < x->nroutes; r++)
		if (strcmp(x->routes[r].announce, a) == 0)
			break;
	if (r == x->nroutes) {
		if (x->nroutes == x->p.max_routes) {
			x->st.refused++;
			return 0;
		}
		memcpy(x->routes[r].announce, a, sizeof(a));
		memcpy(x->routes[r].withdraw, w, sizeof(w));
		x->routes[r].holders = 0;
		x->nroutes++;
	} else {
		x->st.shared++;
	}
	memcpy(x->holders[x->nholders].id, ev->id, sizeof(ev->id));
	x->holders[x->nholders++].route = r;
	if (x->routes[r].holders++ > 0 || out == NULL)
		return 0;
	x->st.announced++;
	emit(out, arg, a);
	return 1;
}

/* The incident ended: its route goes when nobody else holds it. */
static int release(struct mm_exabgp *x, const struct mm_exabgp_event *ev, mm_exabgp_out_fn out, void *arg)
{
	int h = find_holder(x, ev->id);
	unsigned r;

	if (h < 0) {
		x->st.ignored++;
		return 0;
	}
	r = x->holders[h].route;
	x->holders[h] = x->holders[--x->nholders];
	if (--x->routes[r].holders > 0)
		return 0;
	if (out != NULL) {
		x->st.withdrawn++;
		emit(out, arg, x->routes[r].withdraw);
	}
	/* Keep the arrays dense: the last route takes r's place. */
	if (r != --x->nroutes) {
		x->routes[r] = x->routes[x->nroutes];
		for (unsigned i = 0; i < x->nholders; i++)
			if (x->holders[i].route == x->nroutes)
				x->holders[i].route = r;
	}
	return out != NULL;
}

int mm_exabgp_feed(struct mm_exabgp *x, const struct mm_exabgp_event *ev, mm_exabgp_out_fn out, void *arg)
{
	int n = 0;

	x->st.events++;
	if (ev->event == MM_INC_END)
		n = release(x, ev, out, arg);
	else if (ev->cls >= 0 && ev->cls < 32 && (x->p.classes >> ev->cls & 1) && ev->tier >= x->p.min_tier)
		n = hold(x, ev, out, arg); /* a start, or an update that reached the tier */
	else
		x->st.ignored++;
	x->st.routes = x->nroutes;
	return n;
}

int mm_exabgp_announce_all(struct mm_exabgp *x, mm_exabgp_out_fn out, void *arg)
{
	for (unsigned r = 0; r < x->nroutes; r++) {
		x->st.announced++;
		emit(out, arg, x->routes[r].announce);
	}
	return (int)x->nroutes;
}

const struct mm_exabgp_stats *mm_exabgp_stats(const struct mm_exabgp *x)
{
	return &x->st;
}
