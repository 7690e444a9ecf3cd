/*
 * test_exabgp.c - the blackhole / FlowSpec hand-off (common/exabgp.c):
 * alert events parsed strictly, every line it makes compared exactly and
 * checked by an independent reading of ExaBGP's text API grammar (the
 * `announce route` / `withdraw route` commands and the flow route block
 * as ExaBGP's configuration/flow/parser.py reads it: IPv4 destination
 * a.b.c.d/len, IPv6 destination x::y/len/offset with next-header, numeric
 * operators `=N`, `tcp-flags [ syn ]`, then discard or rate-limit), and
 * the route state: shared routes, the cap, withdraw on the last end.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mamori/classes.h"
#include "mamori/exabgp.h"
#include "mamori/incident.h"
#include "mamori/score.h"

/* ---- an independent checker of the lines ------------------------------ */

/* Split on blanks; returns the count. */
static int words(char *s, char **w, int max)
{
	int n = 0;

	for (char *t = strtok(s, " "); t != NULL && n < max; t = strtok(NULL, " "))
		w[n++] = t;
	return n;
}

static int is_prefix(const char *s, int af, int v6_offset)
{
	char buf[80], *slash;
	struct mm_prefix p;
	const char *why;

	snprintf(buf, sizeof(buf), "%s", s);
	if (v6_offset) { /* x::y/len/offset: strip the offset, which must be 0 */
		char *last = strrchr(buf, '/');
		if (last == NULL || strcmp(last, "/0") != 0)
			return 0;
		*last = '\0';
	}
	slash = strchr(buf, '/');
	if (slash == NULL || mm_prefix_parse(buf, &p, &why) != 0) /* host bits must be clear */
		return 0;
	return af == 4 ? strchr(buf, ':') == NULL && p.len >= 96 : strchr(buf, ':') != NULL;
}

/* 1 when `line` is a command ExaBGP's text API accepts, as we use it. */
static int exabgp_valid(const char *line)
{
	char copy[512], *w[64];
	int n, i;

	if (strlen(line) >= sizeof(copy) || strchr(line, '\n') != NULL)
		return 0;
	snprintf(copy, sizeof(copy), "%s", line);
	n = words(copy, w, 64);
	if (n < 3 || (strcmp(w[0], "announce") != 0 && strcmp(w[0], "withdraw") != 0))
		return 0;
	if (strcmp(w[1], "route") == 0) {
		int af = strchr(w[2], ':') ? 6 : 4;
		if (!is_prefix(w[2], af, 0))
			return 0;
		if (strcmp(w[0], "withdraw") == 0)
			return n == 3;
		/* announce route P next-hop (self|IP) [community [A:B]] */
		if (n < 5 || strcmp(w[3], "next-hop") != 0)
			return 0;
		if (strcmp(w[4], "self") != 0) {
			uint8_t a[16];
			if (mm_addr_parse(w[4], a) <= 0)
				return 0;
		}
		if (n == 5)
			return 1;
		if (n != 7 || strcmp(w[5], "community") != 0)
			return 0;
		unsigned x, y;
		char tail;
		return sscanf(w[6], "[%u:%u%c", &x, &y, &tail) == 3 && tail == ']' && x <= 65535 && y <= 65535;
	}
	/* (announce|withdraw) flow route { match { C; ... } [then { A; }] } */
	if (strcmp(w[1], "flow") != 0 || strcmp(w[2], "route") != 0 || n < 8 || strcmp(w[3], "{") != 0 ||
	    strcmp(w[4], "match") != 0 || strcmp(w[5], "{") != 0)
		return 0;
	int af = 0, have_dest = 0, have_proto = 0, tcp = 0;
	for (i = 6; i < n && strcmp(w[i], "}") != 0;) {
		if (strcmp(w[i], "destination") == 0 && i + 1 < n) {
			size_t l = strlen(w[i + 1]);
			char v[80];
			if (l == 0 || l >= sizeof(v) || w[i + 1][l - 1] != ';' || have_dest)
				return 0;
			memcpy(v, w[i + 1], l - 1);
			v[l - 1] = '\0';
			af = strchr(v, ':') ? 6 : 4;
			if (!is_prefix(v, af, af == 6))
				return 0;
			have_dest = 1;
			i += 2;
		} else if ((strcmp(w[i], "protocol") == 0 || strcmp(w[i], "next-header") == 0) && i + 1 < n) {
			if ((af == 6) != (w[i][0] == 'n') || have_proto)
				return 0; /* IPv4 says protocol, IPv6 next-header */
			if (strcmp(w[i + 1], "tcp;") != 0 && strcmp(w[i + 1], "udp;") != 0 &&
			    strcmp(w[i + 1], "icmp;") != 0)
				return 0;
			tcp = strcmp(w[i + 1], "tcp;") == 0;
			have_proto = 1;
			i += 2;
		} else if (strcmp(w[i], "source-port") == 0 && i + 1 < n) {
			unsigned port;
			char semi;
			if (sscanf(w[i + 1], "=%u%c", &port, &semi) != 2 || semi != ';' || port == 0 || port > 65535 ||
			    !have_proto)
				return 0;
			i += 2;
		} else if (strcmp(w[i], "tcp-flags") == 0 && i + 3 < n) {
			if (strcmp(w[i + 1], "[") != 0 || strcmp(w[i + 2], "syn") != 0 || strcmp(w[i + 3], "];") != 0 ||
			    !tcp)
				return 0;
			i += 4;
		} else {
			return 0;
		}
	}
	if (!have_dest || i >= n || strcmp(w[i], "}") != 0)
		return 0;
	i++;
	if (strcmp(w[0], "withdraw") == 0)
		return i == n - 1 && strcmp(w[i], "}") == 0;
	if (i + 4 > n || strcmp(w[i], "then") != 0 || strcmp(w[i + 1], "{") != 0)
		return 0;
	i += 2;
	if (strcmp(w[i], "discard;") == 0) {
		i++;
	} else if (strcmp(w[i], "rate-limit") == 0 && i + 1 < n) {
		unsigned long r;
		char semi;
		if (sscanf(w[i + 1], "%lu%c", &r, &semi) != 2 || semi != ';')
			return 0;
		i += 2;
	} else {
		return 0;
	}
	return i + 2 == n && strcmp(w[i], "}") == 0 && strcmp(w[i + 1], "}") == 0;
}

START_TEST(test_checker_catches)
{
	/* The checker must be able to fail. */
	ck_assert(exabgp_valid("announce route 203.0.113.5/32 next-hop self community [65535:666]"));
	ck_assert(!exabgp_valid("announce route 203.0.113.5 next-hop self"));          /* no length */
	ck_assert(!exabgp_valid("announce route 203.0.113.5/24 next-hop self"));       /* host bits */
	ck_assert(!exabgp_valid("announce route 203.0.113.5/32 next-hop self\nannounce route 0.0.0.0/0 next-hop self"));
	ck_assert(!exabgp_valid("announce flow route { match { destination 2001:db8::1/128; } then { discard; } }"));
	ck_assert(!exabgp_valid("announce flow route { match { destination 192.0.2.1/32; next-header udp; } then { discard; } }"));
	ck_assert(!exabgp_valid("announce flow route { match { destination 192.0.2.1/32; protocol udp; source-port 53; } then { discard; } }"));
	ck_assert(!exabgp_valid("announce flow route { match { destination 192.0.2.1/32; } }"));
	ck_assert(!exabgp_valid("withdraw flow route { match { destination 192.0.2.1/32; } then { discard; } }"));
}
END_TEST

/* ---- events ----------------------------------------------------------- */

static const char *event_json(char *buf, size_t len, const char *event, const char *id, const char *cls,
			      const char *vector, const char *tier, const char *target, const char *feature)
{
	int prefix = strchr(target, '/') != NULL;

	snprintf(buf, len,
		 "{\"schema\":1,\"event\":\"%s\",\"id\":\"%s\",\"class\":\"%s\",\"class_text\":\"x\","
		 "\"vector\":%s%s%s,\"tier\":\"%s\",\"severity\":\"high\",\"%s\":\"%s\",\"role\":\"victim\","
		 "\"step_s\":10,\"first_step\":1,\"first_time\":10,\"last_step\":1,\"last_time\":10,"
		 "\"feature\":\"%s\",\"evidence\":{\"features\":[],\"top_ports\":[{\"port\":53,\"packets\":9}]},"
		 "\"collectors\":[\"c1\"],\"completeness\":null,\"detector\":\"d\"}",
		 event, id, cls, vector ? "\"" : "", vector ? vector : "null", vector ? "\"" : "", tier,
		 prefix ? "prefix" : "host", target, feature);
	return buf;
}

START_TEST(test_event_parse)
{
	struct mm_exabgp_event ev;
	char j[2048];

	ck_assert_ptr_null(mm_exabgp_event_parse(event_json(j, sizeof(j), "start", "099bc619d43298bc",
							     "amplification", "ntp", "act", "203.0.113.5",
							     "amp_pkts_in"),
						  &ev));
	ck_assert_int_eq(ev.event, MM_INC_START);
	ck_assert_int_eq(ev.cls, MM_CLASS_AMPLIFICATION);
	ck_assert_int_eq(ev.tier, MM_TIER_ACT);
	ck_assert_uint_eq(ev.src_port, 123);
	ck_assert_uint_eq(ev.proto, 17);
	ck_assert_uint_eq(ev.target.len, 128);
	ck_assert_int_eq(ev.target.af, 4);
	ck_assert_str_eq(ev.id, "099bc619d43298bc");
	/* A prefix (carpet bombing), IPv6 host, unknown vector. */
	ck_assert_ptr_null(mm_exabgp_event_parse(event_json(j, sizeof(j), "end", "0000000000000001", "carpet_bombing",
							     NULL, "investigate", "198.51.100.0/24", "flood_pkts_in"),
						  &ev));
	ck_assert_uint_eq(ev.target.len, 96 + 24);
	ck_assert_int_eq(ev.event, MM_INC_END);
	ck_assert_ptr_null(mm_exabgp_event_parse(event_json(j, sizeof(j), "update", "00000000000000ff", "flood",
							     NULL, "act", "2001:db8::5", "udp_pkts_in"),
						  &ev));
	ck_assert_int_eq(ev.target.af, 6);
	ck_assert_uint_eq(ev.proto, 17);
	/* Refusals: each field that decides a line. */
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ "garbage", "not one JSON object" },
		{ "{\"schema\":2}", "schema missing or not 1" },
		{ "{\"schema\":1,\"event\":\"begin\"}", "event is not start, update or end" },
		{ "{\"schema\":1,\"event\":\"start\",\"id\":\"XYZ\"}", "id missing or not 16 hex digits" },
		{ "{\"schema\":1,\"event\":\"start\",\"id\":\"0123456789abcdef\",\"class\":\"dns\"}",
		  "class missing or unknown" },
		{ "{\"schema\":1,\"event\":\"start\",\"id\":\"0123456789abcdef\",\"class\":\"flood\",\"tier\":\"high\"}",
		  "tier is not act or investigate" },
		{ "{\"schema\":1,\"event\":\"start\",\"id\":\"0123456789abcdef\",\"class\":\"flood\",\"tier\":\"act\","
		  "\"host\":\"1.2.3.4/32 next-hop self\\nannounce route 0.0.0.0/0\"}",
		  "no host or prefix" },
		{ "{\"schema\":1,\"event\":\"start\",\"id\":\"0123456789abcdef\",\"class\":\"flood\",\"tier\":\"act\","
		  "\"host\":\"1.2.3.4; destination 0.0.0.0/0\"}",
		  "host is not an address" },
		{ "{\"schema\":1,\"event\":\"start\",\"id\":\"0123456789abcdef\",\"class\":\"flood\",\"tier\":\"act\"}",
		  "no host or prefix" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = mm_exabgp_event_parse(bad[i].json, &ev);
		ck_assert_msg(why != NULL && strcmp(why, bad[i].why) == 0, "case %zu: %s", i, why ? why : "(accepted)");
	}
}
END_TEST

/* ---- lines ------------------------------------------------------------- */

static struct mm_exabgp_params params(const char *action, const char *classes, const char *tier)
{
	struct mm_config c;
	struct mm_exabgp_params p;

	mm_config_defaults(&c);
	snprintf(c.exabgp_action, sizeof(c.exabgp_action), "%s", action);
	snprintf(c.exabgp_classes, sizeof(c.exabgp_classes), "%s", classes);
	c.exabgp_min_tier = strcmp(tier, "act") == 0 ? MM_TIER_ACT : MM_TIER_INVESTIGATE;
	ck_assert_int_eq(mm_exabgp_params_from_config(&p, &c), 0);
	mm_config_free(&c);
	return p;
}

static const struct {
	const char *action, *cls, *vector, *target, *feature;
	const char *announce, *withdraw;
} rules[] = {
	{ "blackhole", "flood", NULL, "203.0.113.5", "udp_pkts_in",
	  "announce route 203.0.113.5/32 next-hop self community [65535:666]", "withdraw route 203.0.113.5/32" },
	{ "blackhole", "amplification", "dns", "2001:db8::5", "amp_pkts_in",
	  "announce route 2001:db8::5/128 next-hop self community [65535:666]", "withdraw route 2001:db8::5/128" },
	{ "blackhole", "carpet_bombing", NULL, "198.51.100.0/24", "flood_pkts_in",
	  "announce route 198.51.100.0/24 next-hop self community [65535:666]", "withdraw route 198.51.100.0/24" },
	{ "flowspec", "amplification", "dns", "203.0.113.5", "amp_pkts_in",
	  "announce flow route { match { destination 203.0.113.5/32; protocol udp; source-port =53; } then { discard; } }",
	  "withdraw flow route { match { destination 203.0.113.5/32; protocol udp; source-port =53; } }" },
	{ "flowspec", "amplification", "memcached", "2001:db8::5", "amp_pkts_in",
	  "announce flow route { match { destination 2001:db8::5/128/0; next-header udp; source-port =11211; } then { discard; } }",
	  "withdraw flow route { match { destination 2001:db8::5/128/0; next-header udp; source-port =11211; } }" },
	{ "flowspec", "syn_flood", NULL, "203.0.113.7", "syn_pkts_in",
	  "announce flow route { match { destination 203.0.113.7/32; protocol tcp; tcp-flags [ syn ]; } then { discard; } }",
	  "withdraw flow route { match { destination 203.0.113.7/32; protocol tcp; tcp-flags [ syn ]; } }" },
	{ "flowspec", "flood", NULL, "203.0.113.8", "icmp_pkts_in",
	  "announce flow route { match { destination 203.0.113.8/32; protocol icmp; } then { discard; } }",
	  "withdraw flow route { match { destination 203.0.113.8/32; protocol icmp; } }" },
	{ "flowspec", "flood", NULL, "2001:db8::8", "icmp_pkts_in", /* ICMPv6: destination only */
	  "announce flow route { match { destination 2001:db8::8/128/0; } then { discard; } }",
	  "withdraw flow route { match { destination 2001:db8::8/128/0; } }" },
	{ "flowspec", "flood", NULL, "203.0.113.9", "flood_pkts_in",
	  "announce flow route { match { destination 203.0.113.9/32; } then { discard; } }",
	  "withdraw flow route { match { destination 203.0.113.9/32; } }" },
};

START_TEST(test_rules)
{
	struct mm_exabgp_params p = params(rules[_i].action, "flood,syn_flood,amplification,carpet_bombing", "act");
	struct mm_exabgp_event ev;
	char j[2048], a[MM_EXABGP_LINE_MAX], w[MM_EXABGP_LINE_MAX];

	ck_assert_ptr_null(mm_exabgp_event_parse(event_json(j, sizeof(j), "start", "0123456789abcdef", rules[_i].cls,
							     rules[_i].vector, "act", rules[_i].target,
							     rules[_i].feature),
						  &ev));
	ck_assert_int_eq(mm_exabgp_rule(&p, &ev, a, sizeof(a), w, sizeof(w)), 0);
	ck_assert_str_eq(a, rules[_i].announce);
	ck_assert_str_eq(w, rules[_i].withdraw);
	ck_assert_msg(exabgp_valid(a), "not ExaBGP's grammar: %s", a);
	ck_assert_msg(exabgp_valid(w), "not ExaBGP's grammar: %s", w);
}
END_TEST

START_TEST(test_rule_options)
{
	struct mm_config c;
	struct mm_exabgp_params p;
	struct mm_exabgp_event ev;
	char j[2048], a[MM_EXABGP_LINE_MAX], w[MM_EXABGP_LINE_MAX];

	mm_config_defaults(&c);
	snprintf(c.exabgp_next_hop, sizeof(c.exabgp_next_hop), "192.0.2.254");
	snprintf(c.exabgp_community, sizeof(c.exabgp_community), "64496:9999");
	ck_assert_int_eq(mm_exabgp_params_from_config(&p, &c), 0);
	ck_assert_ptr_null(mm_exabgp_event_parse(event_json(j, sizeof(j), "start", "0123456789abcdef", "flood", NULL,
							     "act", "203.0.113.5", "udp_pkts_in"),
						  &ev));
	ck_assert_int_eq(mm_exabgp_rule(&p, &ev, a, sizeof(a), w, sizeof(w)), 0);
	ck_assert_str_eq(a, "announce route 203.0.113.5/32 next-hop 192.0.2.254 community [64496:9999]");
	ck_assert(exabgp_valid(a));
	snprintf(c.exabgp_action, sizeof(c.exabgp_action), "flowspec");
	c.exabgp_rate_limit = 125000;
	ck_assert_int_eq(mm_exabgp_params_from_config(&p, &c), 0);
	ck_assert_int_eq(mm_exabgp_rule(&p, &ev, a, sizeof(a), w, sizeof(w)), 0);
	ck_assert_str_eq(a, "announce flow route { match { destination 203.0.113.5/32; protocol udp; } then { rate-limit 125000; } }");
	ck_assert(exabgp_valid(a));
	mm_config_free(&c);
}
END_TEST

/* ---- state ------------------------------------------------------------- */

struct lines {
	char v[32][MM_EXABGP_LINE_MAX];
	int n;
};

static void collect(void *arg, const char *line)
{
	struct lines *l = arg;

	ck_assert_int_lt(l->n, 32);
	ck_assert_msg(exabgp_valid(line), "not ExaBGP's grammar: %s", line);
	snprintf(l->v[l->n++], MM_EXABGP_LINE_MAX, "%s", line);
}

static void feed(struct mm_exabgp *x, struct lines *l, const char *event, const char *id, const char *cls,
		 const char *tier, const char *host)
{
	struct mm_exabgp_event ev;
	char j[2048];

	ck_assert_ptr_null(mm_exabgp_event_parse(event_json(j, sizeof(j), event, id, cls, NULL, tier, host,
							     "flood_pkts_in"),
						  &ev));
	mm_exabgp_feed(x, &ev, l ? collect : NULL, l);
}

START_TEST(test_state)
{
	struct mm_exabgp_params p = params("blackhole", "flood,amplification", "act");
	struct mm_exabgp *x;
	struct lines l = { .n = 0 };

	p.max_routes = 2;
	x = mm_exabgp_new(&p);
	ck_assert_ptr_nonnull(x);
	/* Below the tier, another class: nothing. */
	feed(x, &l, "start", "0000000000000001", "flood", "investigate", "203.0.113.1");
	feed(x, &l, "start", "0000000000000002", "syn_flood", "act", "203.0.113.2");
	ck_assert_int_eq(l.n, 0);
	/* The update that reaches act announces. */
	feed(x, &l, "update", "0000000000000001", "flood", "act", "203.0.113.1");
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.v[0], "announce route 203.0.113.1/32 next-hop self community [65535:666]");
	/* A second incident on the same host shares the route. */
	feed(x, &l, "start", "0000000000000003", "amplification", "act", "203.0.113.1");
	ck_assert_int_eq(l.n, 1);
	ck_assert_uint_eq(mm_exabgp_stats(x)->shared, 1);
	/* Further updates of held incidents: nothing. */
	feed(x, &l, "update", "0000000000000003", "amplification", "act", "203.0.113.1");
	ck_assert_int_eq(l.n, 1);
	/* A second route, then the cap. */
	feed(x, &l, "start", "0000000000000004", "flood", "act", "203.0.113.4");
	feed(x, &l, "start", "0000000000000005", "flood", "act", "203.0.113.5");
	ck_assert_int_eq(l.n, 2);
	ck_assert_uint_eq(mm_exabgp_stats(x)->refused, 1);
	ck_assert_uint_eq(mm_exabgp_stats(x)->routes, 2);
	/* The refused one's end withdraws nothing; the first end of the
	 * shared route neither; the last does. */
	feed(x, &l, "end", "0000000000000005", "flood", "act", "203.0.113.5");
	feed(x, &l, "end", "0000000000000001", "flood", "act", "203.0.113.1");
	ck_assert_int_eq(l.n, 2);
	feed(x, &l, "end", "0000000000000003", "amplification", "act", "203.0.113.1");
	ck_assert_int_eq(l.n, 3);
	ck_assert_str_eq(l.v[2], "withdraw route 203.0.113.1/32");
	/* Room again. */
	feed(x, &l, "start", "0000000000000006", "flood", "act", "203.0.113.6");
	ck_assert_int_eq(l.n, 4);
	feed(x, &l, "end", "0000000000000004", "flood", "act", "203.0.113.4");
	ck_assert_str_eq(l.v[4], "withdraw route 203.0.113.4/32");
	ck_assert_uint_eq(mm_exabgp_stats(x)->routes, 1);
	ck_assert_uint_eq(mm_exabgp_stats(x)->announced, 3);
	ck_assert_uint_eq(mm_exabgp_stats(x)->withdrawn, 2);
	mm_exabgp_free(x);
}
END_TEST

/* A silent rebuild (the stream's history) then announce_all. */
START_TEST(test_rebuild)
{
	struct mm_exabgp_params p = params("blackhole", "flood", "act");
	struct mm_exabgp *x = mm_exabgp_new(&p);
	struct lines l = { .n = 0 };

	feed(x, NULL, "start", "0000000000000001", "flood", "act", "203.0.113.1");
	feed(x, NULL, "start", "0000000000000002", "flood", "act", "203.0.113.2");
	feed(x, NULL, "end", "0000000000000001", "flood", "act", "203.0.113.1");
	ck_assert_uint_eq(mm_exabgp_stats(x)->announced, 0);
	ck_assert_int_eq(mm_exabgp_announce_all(x, collect, &l), 1);
	ck_assert_int_eq(l.n, 1);
	ck_assert_str_eq(l.v[0], "announce route 203.0.113.2/32 next-hop self community [65535:666]");
	feed(x, &l, "end", "0000000000000002", "flood", "act", "203.0.113.2");
	ck_assert_str_eq(l.v[1], "withdraw route 203.0.113.2/32");
	mm_exabgp_free(x);
}
END_TEST

static Suite *exabgp_suite(void)
{
	Suite *s = suite_create("exabgp");
	TCase *tc = tcase_create("lines");

	tcase_add_test(tc, test_checker_catches);
	tcase_add_test(tc, test_event_parse);
	tcase_add_loop_test(tc, test_rules, 0, (int)(sizeof(rules) / sizeof(rules[0])));
	tcase_add_test(tc, test_rule_options);
	tcase_add_test(tc, test_state);
	tcase_add_test(tc, test_rebuild);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(exabgp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
