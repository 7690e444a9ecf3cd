/*
 * test_config.c - the configuration parser (common/config.c).
 *
 * Every error path is checked with its exact "file:line: " text; the
 * print -> load round trip; the example config/mamori.conf (must load
 * clean and equal the defaults apart from its example sections);
 * docs/config.md naming every key; host groups (flat prefix arrays,
 * lookup, overlaps, limits).
 * Run from the top of the tree (make does).
 */
#include <check.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "mamori/config.h"
#include "mamori/log.h"

/* Load `text` as "t.conf"; *out gets everything written to errs. */
static int load(struct mm_config *c, const char *text, char **out)
{
	size_t len;
	FILE *f = open_memstream(out, &len);
	int n;

	ck_assert_ptr_nonnull(f);
	n = mm_config_load_string(c, "t.conf", text, f);
	fclose(f);
	return n;
}

static char *print_str(const struct mm_config *c)
{
	char *buf = NULL;
	size_t len;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	mm_config_print(c, f);
	fclose(f);
	return buf;
}

/* Load must succeed with no output at all. */
static void load_ok(struct mm_config *c, const char *text)
{
	char *errs = NULL;
	int n = load(c, text, &errs);

	ck_assert_msg(n == 0, "expected no errors, got %d:\n%s", n, errs);
	ck_assert_str_eq(errs, "");
	free(errs);
}

/* ---- defaults ------------------------------------------------------ */

START_TEST(test_defaults)
{
	struct mm_config c;
	struct mm_decode_limits l;
	char host[256] = "";
	const struct sockaddr_in *sin;

	mm_config_defaults(&c);
	mm_decode_limits_default(&l);
	ck_assert_mem_eq(&c.limits, &l, sizeof(l));
	ck_assert_uint_eq(l.max_exporters, MM_DEF_MAX_EXPORTERS);
	ck_assert_uint_eq(l.max_domains, MM_DEF_MAX_DOMAINS);
	ck_assert_uint_eq(l.max_templates, MM_DEF_MAX_TEMPLATES);
	ck_assert_uint_eq(l.max_template_fields, MM_DEF_MAX_TEMPLATE_FIELDS);
	ck_assert_uint_eq(l.max_samplers, MM_DEF_MAX_SAMPLERS);
	ck_assert_uint_eq(l.pending_max_sets, MM_DEF_PENDING_MAX_SETS);
	ck_assert_uint_eq(l.pending_max_bytes, MM_DEF_PENDING_MAX_BYTES);
	ck_assert_uint_eq(l.pending_timeout_ms, MM_DEF_PENDING_TIMEOUT_MS);

	ck_assert_int_eq(gethostname(host, sizeof(host) - 1), 0);
	ck_assert_str_eq(c.collector_id, host);
	ck_assert_uint_eq(c.nlisten, 2);
	ck_assert_str_eq(c.listen[0].text, "0.0.0.0:2055");
	ck_assert_str_eq(c.listen[1].text, "0.0.0.0:4739");
	sin = (const struct sockaddr_in *)&c.listen[1].ss;
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin->sin_port), 4739);
	ck_assert_uint_eq(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	ck_assert_uint_eq(c.listen[0].sslen, sizeof(struct sockaddr_in));
	ck_assert_uint_eq(c.rcvbuf, 33554432);
	ck_assert_uint_eq(c.batch, 64);
	ck_assert_uint_eq(c.default_sampling_rate, 1);
	ck_assert_int_eq(c.allow_unlisted_exporters, 1);
	ck_assert_uint_eq(c.nflog_ngroups, 0);
	ck_assert_uint_eq(c.nflog_sampling_rate, 1);
	ck_assert_uint_eq(c.nflog_copy_range, 128);
	ck_assert_uint_eq(c.nexporters, 0);
	ck_assert_ptr_null(c.exporters);
	ck_assert_str_eq(c.redis_host, "127.0.0.1");
	ck_assert_uint_eq(c.redis_port, 6379);
	ck_assert_str_eq(c.redis_socket, "");
	ck_assert_int_eq(c.redis_db, 0);
	ck_assert_str_eq(c.redis_user, "");
	ck_assert_str_eq(c.redis_password, "");
	ck_assert_uint_eq(c.step_s, 10);
	ck_assert_uint_eq(c.window_steps, 6);
	ck_assert_uint_eq(c.retention_s, 86400);
	ck_assert_uint_eq(c.late_steps, 1);
	ck_assert_uint_eq(c.max_hosts, 1000000);
	ck_assert_uint_eq(c.max_external, 65536);
	ck_assert_uint_eq(c.external_min_flows, 100);
	ck_assert_uint_eq(c.redis_queue_max_mb, 256);
	ck_assert_uint_eq(c.redis_stall_timeout_s, 10);
	ck_assert_uint_eq(c.redis_backoff_max_s, 30);
	ck_assert_uint_eq(c.ngroups, 0);
	ck_assert_ptr_null(c.groups);
	ck_assert_uint_eq(c.ngroup_prefixes, 0);
	ck_assert_ptr_null(c.group_prefixes);
	ck_assert_ptr_null(c.group_prefix_group);
	ck_assert_ptr_null(c.group_lpm);
	ck_assert_uint_eq(c.slow_window_steps, 30);
	ck_assert_uint_eq(c.incident_update_steps, 6);
	ck_assert_uint_eq(c.incident_calm_steps, 6);
	ck_assert_uint_eq(c.max_incidents, 100000);
	ck_assert_int_eq(c.log_level, MM_LOG_INFO);
	mm_config_free(&c);
	mm_config_free(&c); /* idempotent */
}
END_TEST

START_TEST(test_empty_and_comments)
{
	struct mm_config c, d;
	char *a, *b;

	load_ok(&c, "");
	ck_assert_str_eq(c.path, "t.conf");
	load_ok(&d, "# comment\n; another\n\n   \t\n  # indented comment\n[log]\n; x = y\n");
	a = print_str(&c);
	b = print_str(&d);
	ck_assert_str_eq(a, b);
	free(a);
	free(b);
	mm_config_free(&c);
	mm_config_free(&d);
}
END_TEST

START_TEST(test_all_keys)
{
	struct mm_config c;
	const struct sockaddr_in *sin;
	const struct sockaddr_in6 *sin6;
	char a[64];

	/* CRLF endings, blanks around '=', no newline at the end. */
	load_ok(&c, "[collector]\r\n"
		    "  id =  edge-1.example_x \r\n"
		    "listen=192.0.2.1:9995\n"
		    "listen = [2001:db8::1]:4739\n"
		    "listen = :6343\n"
		    "listen = 127.0.0.1:0\n"
		    "listen = 127.0.0.1:0\n"
		    "rcvbuf = 4096\n"
		    "batch = 1024\n"
		    "default_sampling_rate = 1000000\n"
		    "allow_unlisted_exporters = off\n"
		    "[limits]\n"
		    "max_exporters = 1\n"
		    "max_domains = 4096\n"
		    "max_templates = 65536\n"
		    "max_template_fields = 16384\n"
		    "max_samplers = 2\n"
		    "pending_max_sets = 4096\n"
		    "pending_max_bytes = 1024\n"
		    "pending_timeout_ms = 600000\n"
		    "[ exporter   r1 ]\n"
		    "address = 198.51.100.7\n"
		    "sampling_rate = 1000\n"
		    "default_rate = 100\n"
		    "site = ams-1\n"
		    "[exporter r2]\n"
		    "address = 2001:db8:1::/48\n"
		    "[redis]\n"
		    "host = redis.example\n"
		    "port = 6380\n"
		    "socket = /run/redis/redis.sock\n"
		    "db = 3\n"
		    "user = mamori\n"
		    "password = p#ss;word = x\n"
		    "queue_max_mb = 65536\n"
		    "stall_timeout = 600\n"
		    "backoff_max = 3600\n"
		    "[window]\n"
		    "step = 3600\n"
		    "steps = 1440\n"
		    "retention = 31536000\n"
		    "late_steps = 10\n"
		    "max_hosts = 16777216\n"
		    "max_external = 4194304\n"
		    "external_min_flows = 1000000000\n"
		    "[log]\n"
		    "level = debug");
	ck_assert_str_eq(c.collector_id, "edge-1.example_x");
	ck_assert_uint_eq(c.nlisten, 5);
	ck_assert_str_eq(c.listen[0].text, "192.0.2.1:9995");
	sin = (const struct sockaddr_in *)&c.listen[0].ss;
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(ntohs(sin->sin_port), 9995);
	ck_assert_uint_eq(ntohl(sin->sin_addr.s_addr), 0xc0000201u);
	sin6 = (const struct sockaddr_in6 *)&c.listen[1].ss;
	ck_assert_int_eq(sin6->sin6_family, AF_INET6);
	ck_assert_uint_eq(ntohs(sin6->sin6_port), 4739);
	ck_assert_str_eq(inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a)), "2001:db8::1");
	ck_assert_uint_eq(c.listen[1].sslen, sizeof(struct sockaddr_in6));
	/* ":PORT" is every IPv4 address. */
	sin = (const struct sockaddr_in *)&c.listen[2].ss;
	ck_assert_str_eq(c.listen[2].text, ":6343");
	ck_assert_int_eq(sin->sin_family, AF_INET);
	ck_assert_uint_eq(sin->sin_addr.s_addr, htonl(INADDR_ANY));
	ck_assert_uint_eq(ntohs(sin->sin_port), 6343);
	/* Port 0 twice is not a duplicate: each gets its own port. */
	ck_assert_str_eq(c.listen[4].text, "127.0.0.1:0");
	ck_assert_uint_eq(c.rcvbuf, 4096);
	ck_assert_uint_eq(c.batch, 1024);
	ck_assert_uint_eq(c.default_sampling_rate, 1000000);
	ck_assert_int_eq(c.allow_unlisted_exporters, 0);
	ck_assert_uint_eq(c.limits.max_exporters, 1);
	ck_assert_uint_eq(c.limits.max_domains, 4096);
	ck_assert_uint_eq(c.limits.max_templates, 65536);
	ck_assert_uint_eq(c.limits.max_template_fields, 16384);
	ck_assert_uint_eq(c.limits.max_samplers, 2);
	ck_assert_uint_eq(c.limits.pending_max_sets, 4096);
	ck_assert_uint_eq(c.limits.pending_max_bytes, 1024);
	ck_assert_uint_eq(c.limits.pending_timeout_ms, 600000);
	ck_assert_uint_eq(c.nexporters, 2);
	ck_assert_str_eq(c.exporters[0].name, "r1");
	ck_assert_int_eq(c.exporters[0].line, 21);
	ck_assert_str_eq(mm_prefix_str(&c.exporters[0].prefix, a, sizeof(a)), "198.51.100.7/32");
	ck_assert_uint_eq(c.exporters[0].sampling_rate, 1000);
	ck_assert_uint_eq(c.exporters[0].default_rate, 100);
	ck_assert_str_eq(c.exporters[0].site, "ams-1");
	ck_assert_str_eq(c.exporters[1].name, "r2");
	ck_assert_str_eq(mm_prefix_str(&c.exporters[1].prefix, a, sizeof(a)), "2001:db8:1::/48");
	ck_assert_uint_eq(c.exporters[1].sampling_rate, 0);
	ck_assert_uint_eq(c.exporters[1].default_rate, 0);
	ck_assert_str_eq(c.exporters[1].site, "");
	ck_assert_str_eq(c.redis_host, "redis.example");
	ck_assert_uint_eq(c.redis_port, 6380);
	ck_assert_str_eq(c.redis_socket, "/run/redis/redis.sock");
	ck_assert_int_eq(c.redis_db, 3);
	ck_assert_str_eq(c.redis_user, "mamori");
	/* No inline comments: '#', ';' and '=' belong to the value. */
	ck_assert_str_eq(c.redis_password, "p#ss;word = x");
	ck_assert_uint_eq(c.step_s, 3600);
	ck_assert_uint_eq(c.window_steps, 1440);
	ck_assert_uint_eq(c.retention_s, 31536000);
	ck_assert_uint_eq(c.late_steps, 10);
	ck_assert_uint_eq(c.max_hosts, 16777216);
	ck_assert_uint_eq(c.max_external, 4194304);
	ck_assert_uint_eq(c.external_min_flows, 1000000000);
	ck_assert_uint_eq(c.redis_queue_max_mb, 65536);
	ck_assert_uint_eq(c.redis_stall_timeout_s, 600);
	ck_assert_uint_eq(c.redis_backoff_max_s, 3600);
	ck_assert_int_eq(c.log_level, MM_LOG_DEBUG);
	mm_config_free(&c);

	/* The lower bounds of the new keys. */
	load_ok(&c, "[window]\nlate_steps = 0\nmax_hosts = 1\nmax_external = 0\nexternal_min_flows = 0\n"
		    "[redis]\nqueue_max_mb = 1\nstall_timeout = 1\nbackoff_max = 1\n");
	ck_assert_uint_eq(c.late_steps, 0);
	ck_assert_uint_eq(c.max_hosts, 1);
	ck_assert_uint_eq(c.max_external, 0);
	ck_assert_uint_eq(c.external_min_flows, 0);
	ck_assert_uint_eq(c.redis_queue_max_mb, 1);
	ck_assert_uint_eq(c.redis_stall_timeout_s, 1);
	ck_assert_uint_eq(c.redis_backoff_max_s, 1);
	mm_config_free(&c);
}
END_TEST

START_TEST(test_bool_forms)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	struct mm_config c;
	char text[128];

	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[collector]\nallow_unlisted_exporters = %s\n", no[i]);
		load_ok(&c, text);
		ck_assert_int_eq(c.allow_unlisted_exporters, 0);
		snprintf(text, sizeof(text), "[collector]\nallow_unlisted_exporters = %s\n", yes[i]);
		load_ok(&c, text);
		ck_assert_int_eq(c.allow_unlisted_exporters, 1);
	}
	mm_config_free(&c);
}
END_TEST

START_TEST(test_log_levels)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	struct mm_config c;
	char text[64];

	for (int i = 0; i < 4; i++) {
		snprintf(text, sizeof(text), "[log]\nlevel = %s\n", names[i]);
		load_ok(&c, text);
		ck_assert_int_eq(c.log_level, i);
	}
	mm_config_free(&c);
}
END_TEST

/* ---- every error path, exact text ---------------------------------- */

static const struct {
	const char *text;
	const char *errs;
} bad[] = {
	/* sections */
	{ "[bogus]\nx = 1\n", "t.conf:1: unknown section [bogus]\n" },
	{ "[collector]\n[collector]\nbatch = 1\n",
	  "t.conf:2: duplicate section [collector] (first at line 1)\n" },
	{ "[log\n", "t.conf:1: bad section header: missing ']'\n" },
	{ "[log] # c\n", "t.conf:1: unexpected text after ']'\n" },
	{ "[ ]\n", "t.conf:1: empty section header\n" },
	{ "[log x]\n", "t.conf:1: section [log] takes no name\n" },
	{ "[exporter]\n", "t.conf:1: section [exporter] needs a name: [exporter NAME]\n" },
	{ "[exporter a b]\n", "t.conf:1: bad section header (expected [section] or [section NAME])\n" },
	{ "[exporter a:b]\n",
	  "t.conf:1: bad exporter name 'a:b' (1..63 letters, digits, '.', '_' or '-')\n" },
	{ "[exporter 0123456789012345678901234567890123456789012345678901234567890123]\n",
	  "t.conf:1: bad exporter name '0123456789012345678901234567890123456789012345678901234567890123' "
	  "(1..63 letters, digits, '.', '_' or '-')\n" },
	{ "[exporter a]\naddress = 192.0.2.1\n[exporter a]\naddress = 192.0.2.2\n",
	  "t.conf:3: duplicate section [exporter a] (first at line 1)\n" },
	{ "[exporter a]\nsite = x\n[log]\n", "t.conf:1: [exporter a]: missing required key 'address'\n" },
	{ "[exporter a]\n", "t.conf:1: [exporter a]: missing required key 'address'\n" },
	/* groups: sections */
	{ "[group]\n", "t.conf:1: section [group] needs a name: [group NAME]\n" },
	{ "[group a:b]\nprefix = 10.0.0.0/8\n",
	  "t.conf:1: bad group name 'a:b' (1..63 letters, digits, '.', '_' or '-')\n" },
	{ "[group g]\n", "t.conf:1: [group g]: missing required key 'prefix'\n" },
	{ "[group g]\ndescription = empty\n\n[log]\n", "t.conf:1: [group g]: missing required key 'prefix'\n" },
	{ "[group a]\nprefix = 10.0.0.0/8\n[group b]\ndescription = x\n",
	  "t.conf:3: [group b]: missing required key 'prefix'\n" },
	{ "[group a]\nprefix = 10.0.0.0/8\n[group a]\nprefix = 11.0.0.0/8\n",
	  "t.conf:3: duplicate section [group a] (first at line 1)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\naddress = 11.0.0.0/8\n", "t.conf:3: unknown key 'address' in [group g]\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\ndescription = a\ndescription = b\n",
	  "t.conf:4: duplicate key 'description' in [group g] (first at line 3)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\ndescription = a\tb\n", "t.conf:3: description: control character in value\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\ndescription = "
	  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	  "0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
	  "01234567890123456789012345678901234567890123456789012345\n",
	  "t.conf:3: description: too long (max 255 characters)\n" },
	/* groups: prefixes (the [exporter] address messages) */
	{ "[group g]\nprefix = 10.0.0.1/8\n",
	  "t.conf:2: prefix: bad prefix '10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nprefix = 2001:db8::1/32\n",
	  "t.conf:3: prefix: bad prefix '2001:db8::1/32': host bits set (did you mean 2001:db8::/32?)\n" },
	{ "[group g]\nprefix = 10.0.0.0/33\n",
	  "t.conf:2: prefix: bad prefix '10.0.0.0/33': prefix length out of range (IPv4: 0..32)\n" },
	{ "[group g]\nprefix = ::/129\n",
	  "t.conf:2: prefix: bad prefix '::/129': prefix length out of range (IPv6: 0..128)\n" },
	{ "[group g]\nprefix = 10.0.0.0/\n",
	  "t.conf:2: prefix: bad prefix '10.0.0.0/': prefix length is not a number\n" },
	{ "[group g]\nprefix = customers\n",
	  "t.conf:2: prefix: bad prefix 'customers': not an IPv4 or IPv6 address\n" },
	{ "[group g]\nprefix =\n", "t.conf:2: prefix: bad prefix '': empty prefix\n" },
	/* groups: the same prefix twice, overlaps (within and across groups) */
	{ "[group g]\nprefix = 10.0.0.0/8\nprefix = 10.0.0.0/8\n",
	  "t.conf:3: [group g] prefix 10.0.0.0/8 duplicates [group g] prefix 10.0.0.0/8 at line 2\n" },
	{ "[group a]\nprefix = 192.0.2.1\n[group b]\nprefix = ::ffff:192.0.2.1/128\n",
	  "t.conf:4: [group b] prefix ::ffff:192.0.2.1/128 duplicates [group a] prefix 192.0.2.1/32 at line 2\n" },
	{ "[group g]\nprefix = 10.1.0.0/16\nprefix = 10.0.0.0/8\n",
	  "t.conf:3: [group g] prefix 10.0.0.0/8 overlaps [group g] prefix 10.1.0.0/16 at line 2\n" },
	{ "[group a]\nprefix = 2001:db8::/32\n[group b]\ndescription = x\nprefix = 2001:db8:1::/48\n",
	  "t.conf:5: [group b] prefix 2001:db8:1::/48 overlaps [group a] prefix 2001:db8::/32 at line 2\n" },
	{ "[group a]\nprefix = 192.0.2.0/24\n[group b]\nprefix = ::/0\n",
	  "t.conf:4: [group b] prefix ::/0 overlaps [group a] prefix 192.0.2.0/24 at line 2\n" },
	{ "[group a]\nprefix = 192.0.2.0/25\nprefix = 192.0.2.128/25\n[group b]\nprefix = 192.0.2.77\n",
	  "t.conf:5: [group b] prefix 192.0.2.77/32 overlaps [group a] prefix 192.0.2.0/25 at line 2\n" },
	/* groups: detection keys */
	{ "[group g]\nprefix = 10.0.0.0/8\nsampling_rate = 0\n",
	  "t.conf:3: sampling_rate: 0 out of range (1..1000000)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nmin_sampled_packets = 0\n",
	  "t.conf:3: min_sampled_packets: 0 out of range (1..1000000)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nmin_reflectors = 1001\n",
	  "t.conf:3: min_reflectors: 1001 out of range (1..1000)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nceiling_pps = 4000000001\n",
	  "t.conf:3: ceiling_pps: 4000000001 out of range (0..4000000000)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nceiling_mbps = 10000001\n",
	  "t.conf:3: ceiling_mbps: 10000001 out of range (0..10000000)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nceiling_syn_pps = -5\n",
	  "t.conf:3: ceiling_syn_pps: bad number '-5' (expected a decimal integer)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nscore_act = 0\n", "t.conf:3: score_act: 0 out of range (1..1000)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\newma_alpha = 501\n", "t.conf:3: ewma_alpha: 501 out of range (1..500)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\newma_alpha = 0.01\n",
	  "t.conf:3: ewma_alpha: bad number '0.01' (expected a decimal integer)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nconfirm_fast_steps = 17\n",
	  "t.conf:3: confirm_fast_steps: 17 out of range (1..16)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nwarmup_steps = 65536\n",
	  "t.conf:3: warmup_steps: 65536 out of range (1..65535)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nlearn_clip = 0\n", "t.conf:3: learn_clip: 0 out of range (1..100)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\ncombine = sometimes\n",
	  "t.conf:3: combine: unknown mode 'sometimes' (use either, both, ceiling or baseline)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\ncombine = Either\n",
	  "t.conf:3: combine: unknown mode 'Either' (use either, both, ceiling or baseline)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\ntime_of_week = weekly\n",
	  "t.conf:3: time_of_week: bad boolean 'weekly' (use yes or no)\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nceiling_pps = 1\nceiling_pps = 2\n",
	  "t.conf:4: duplicate key 'ceiling_pps' in [group g] (first at line 3)\n" },
	/* groups: keys that must agree, at the later of the two lines, when
	 * the section ends (so in file order) */
	{ "[group g]\nprefix = 10.0.0.0/8\nscore_act = 8\nscore_investigate = 12\n",
	  "t.conf:4: [group g]: score_investigate 12 is above score_act 8\n" },
	{ "[group g]\nscore_investigate = 11\nprefix = 10.0.0.0/8\n[log]\n",
	  "t.conf:2: [group g]: score_investigate 11 is above score_act 10\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nconfirm_fast_hits = 4\n",
	  "t.conf:3: [group g]: confirm_fast_hits 4 is more than confirm_fast_steps 3\n" },
	{ "[group g]\nprefix = 10.0.0.0/8\nconfirm_slow_steps = 5\n",
	  "t.conf:3: [group g]: confirm_slow_hits 6 is more than confirm_slow_steps 5\n" },
	/* [detector] */
	{ "[detector]\nslow_window_steps = 0\n", "t.conf:2: slow_window_steps: 0 out of range (1..1440)\n" },
	{ "[detector]\nupdate_steps = 0\n", "t.conf:2: update_steps: 0 out of range (1..8640)\n" },
	{ "[detector]\ncalm_steps = 8641\n", "t.conf:2: calm_steps: 8641 out of range (1..8640)\n" },
	{ "[detector]\nmax_incidents = 10000001\n",
	  "t.conf:2: max_incidents: 10000001 out of range (1..10000000)\n" },
	{ "[detector]\nsampling_rate = 1000\n", "t.conf:2: unknown key 'sampling_rate' in [detector]\n" },
	{ "[detector]\n[detector]\n", "t.conf:2: duplicate section [detector] (first at line 1)\n" },
	/* [alerts] */
	{ "[alerts]\nstream =\n", "t.conf:2: stream: must not be empty\n" },
	{ "[alerts]\nstream_maxlen = 0\n", "t.conf:2: stream_maxlen: 0 out of range (1..100000000)\n" },
	{ "[alerts]\nfile = alerts.json\n", "t.conf:2: file: 'alerts.json' is not an absolute path\n" },
	{ "[alerts]\nhook = -\n", "t.conf:2: hook: '-' is not an absolute path\n" },
	/* [fastpath] */
	{ "[fastpath]\ncheck_ms = 300\n", "t.conf:2: check_ms: 300 out of range (10..250)\n" },
	{ "[fastpath]\ninterval_ms = 1000\ncheck_ms = 300\n", "t.conf:3: check_ms: 300 out of range (10..250)\n" },
	{ "[fastpath]\ninterval_ms = 900\ncheck_ms = 200\n",
	  "t.conf:3: interval_ms 900 is not a multiple of check_ms 200 of at most 16 checks\n" },
	{ "[fastpath]\ncheck_ms = 50\n",
	  "t.conf:2: interval_ms 1000 is not a multiple of check_ms 50 of at most 16 checks\n" },
	{ "[fastpath]\ninterval_ms = 50\n", "t.conf:2: interval_ms: 50 out of range (100..10000)\n" },
	{ "[fastpath]\nenabled = maybe\n", "t.conf:2: enabled: bad boolean 'maybe' (use yes or no)\n" },
	{ "[fastpath]\nstream =\n", "t.conf:2: stream: must not be empty\n" },
	{ "[fastpath]\npoll_ms = 5\n", "t.conf:2: poll_ms: 5 out of range (10..1000)\n" },
	{ "[alerts]\nhook_max = 0\n", "t.conf:2: hook_max: 0 out of range (1..256)\n" },
	{ "[alerts]\nhook_min_tier = high\n",
	  "t.conf:2: hook_min_tier: unknown tier 'high' (use investigate or act)\n" },
	/* operations: metrics, [daemon], [exabgp] */
	{ "[collector]\nmetrics = 127.0.0.1\n",
	  "t.conf:2: metrics: bad address '127.0.0.1': missing port (use ADDR:PORT, [V6ADDR]:PORT or :PORT)\n" },
	{ "[detector]\nmetrics = localhost:9552\n",
	  "t.conf:2: metrics: bad address 'localhost:9552': not a numeric IPv4 address (host names are not looked up)\n" },
	{ "[detector]\nmetrics = :1\nmetrics = :2\n",
	  "t.conf:3: duplicate key 'metrics' in [detector] (first at line 2)\n" },
	{ "[daemon]\nuser = no body\n",
	  "t.conf:2: user: bad value 'no body': not a user or group name (letters, digits, '.', '_' and '-')\n" },
	{ "[daemon]\ngroup = -wheel\n", "t.conf:2: group: bad value '-wheel': starts with '-'\n" },
	{ "[daemon]\nuser = a23456789012345678901234567890123\n",
	  "t.conf:2: user: bad value 'a23456789012345678901234567890123': longer than 32 characters\n" },
	{ "[daemon]\nallow_root = sometimes\n", "t.conf:2: allow_root: bad boolean 'sometimes' (use yes or no)\n" },
	{ "[daemon]\nuid = 65534\n", "t.conf:2: unknown key 'uid' in [daemon]\n" },
	{ "[daemon x]\n", "t.conf:1: section [daemon] takes no name\n" },
	{ "[exabgp]\naction = nullroute\n", "t.conf:2: action: bad value 'nullroute': use blackhole or flowspec\n" },
	{ "[exabgp]\nclasses = flood,dns\n", "t.conf:2: classes: bad value 'flood,dns': unknown class 'dns'\n" },
	{ "[exabgp]\nclasses = flood,horizontal_scan\n",
	  "t.conf:2: classes: bad value 'flood,horizontal_scan': horizontal_scan names a source, not a victim to protect\n" },
	{ "[exabgp]\nclasses = flood,\n",
	  "t.conf:2: classes: bad value 'flood,': expected class names separated by commas\n" },
	{ "[exabgp]\nclasses =\n", "t.conf:2: classes: must not be empty\n" },
	{ "[exabgp]\nmin_tier = high\n", "t.conf:2: min_tier: unknown tier 'high' (use investigate or act)\n" },
	{ "[exabgp]\nnext_hop = router1\n", "t.conf:2: next_hop: bad value 'router1': use self or an IPv4 or IPv6 address\n" },
	{ "[exabgp]\ncommunity = 65536:666\n",
	  "t.conf:2: community: bad value '65536:666': expected ASN:VALUE, each 0..65535 (RFC 7999 BLACKHOLE is 65535:666)\n" },
	{ "[exabgp]\ncommunity = blackhole\n",
	  "t.conf:2: community: bad value 'blackhole': expected ASN:VALUE, each 0..65535 (RFC 7999 BLACKHOLE is 65535:666)\n" },
	{ "[exabgp]\nrate_limit = 4000000001\n", "t.conf:2: rate_limit: 4000000001 out of range (0..4000000000)\n" },
	{ "[exabgp]\nmax_routes = 0\n", "t.conf:2: max_routes: 0 out of range (1..100000)\n" },
	{ "[exabgp]\nenabled = 2\n", "t.conf:2: enabled: bad boolean '2' (use yes or no)\n" },
	/* key lines */
	{ "batch = 1\n", "t.conf:1: key 'batch' outside any section\n" },
	{ "[collector]\nbatch 1\n", "t.conf:2: missing '=' (expected key = value)\n" },
	{ "[collector]\n = 1\n", "t.conf:2: missing key before '='\n" },
	{ "[collector]\nbatchsize = 1\n", "t.conf:2: unknown key 'batchsize' in [collector]\n" },
	{ "[exporter e]\naddress = 192.0.2.1\nsize = 1\n", "t.conf:3: unknown key 'size' in [exporter e]\n" },
	{ "[window]\nlevel = info\n", "t.conf:2: unknown key 'level' in [window]\n" },
	{ "[collector]\nbatch = 1\n\nbatch = 2\n",
	  "t.conf:4: duplicate key 'batch' in [collector] (first at line 2)\n" },
	{ "[exporter e]\naddress = 192.0.2.1\naddress = 192.0.2.2\n",
	  "t.conf:3: duplicate key 'address' in [exporter e] (first at line 2)\n" },
	/* numbers */
	{ "[collector]\nbatch = 0\n", "t.conf:2: batch: 0 out of range (1..1024)\n" },
	{ "[collector]\nnflog_group = 65536\n", "t.conf:2: nflog_group: 65536 out of range (0..65535)\n" },
	{ "[collector]\nnflog_group = x\n", "t.conf:2: nflog_group: bad number 'x' (expected a decimal integer)\n" },
	{ "[collector]\nnflog_group =\n", "t.conf:2: nflog_group: bad number '' (expected a decimal integer)\n" },
	{ "[collector]\nnflog_group = 5\nnflog_group = 5\n",
	  "t.conf:3: nflog_group: duplicate group 5 (first at line 2)\n" },
	{ "[collector]\nnflog_group = 0\nnflog_group = 1\nnflog_group = 2\nnflog_group = 3\nnflog_group = 4\n"
	  "nflog_group = 5\nnflog_group = 6\nnflog_group = 7\nnflog_group = 8\nnflog_group = 9\n"
	  "nflog_group = 10\nnflog_group = 11\nnflog_group = 12\nnflog_group = 13\nnflog_group = 14\n"
	  "nflog_group = 15\nnflog_group = 16\n",
	  "t.conf:18: nflog_group: too many groups (max 16)\n" },
	{ "[collector]\nnflog_copy_range = 39\n", "t.conf:2: nflog_copy_range: 39 out of range (40..128)\n" },
	{ "[collector]\nnflog_copy_range = 129\n", "t.conf:2: nflog_copy_range: 129 out of range (40..128)\n" },
	{ "[collector]\nnflog_sampling_rate = 0\n", "t.conf:2: nflog_sampling_rate: 0 out of range (1..1000000)\n" },
	{ "[collector]\nbatch = 1025\n", "t.conf:2: batch: 1025 out of range (1..1024)\n" },
	{ "[collector]\nrcvbuf = 4095\n", "t.conf:2: rcvbuf: 4095 out of range (4096..1073741824)\n" },
	{ "[collector]\ndefault_sampling_rate = 1000001\n",
	  "t.conf:2: default_sampling_rate: 1000001 out of range (1..1000000)\n" },
	{ "[collector]\nbatch = 18446744073709551616\n",
	  "t.conf:2: batch: 18446744073709551616 out of range (1..1024)\n" },
	{ "[collector]\nbatch = 12abc\n", "t.conf:2: batch: bad number '12abc' (expected a decimal integer)\n" },
	{ "[collector]\nbatch = -1\n", "t.conf:2: batch: bad number '-1' (expected a decimal integer)\n" },
	{ "[collector]\nbatch = 0x10\n", "t.conf:2: batch: bad number '0x10' (expected a decimal integer)\n" },
	{ "[collector]\nbatch = 64 # default\n",
	  "t.conf:2: batch: bad number '64 # default' (expected a decimal integer)\n" },
	{ "[collector]\nbatch =\n", "t.conf:2: batch: missing value\n" },
	{ "[limits]\nmax_exporters = 0\n", "t.conf:2: max_exporters: 0 out of range (1..1048576)\n" },
	{ "[limits]\nmax_domains = 4097\n", "t.conf:2: max_domains: 4097 out of range (1..4096)\n" },
	{ "[limits]\nmax_templates = 65537\n", "t.conf:2: max_templates: 65537 out of range (1..65536)\n" },
	{ "[limits]\nmax_template_fields = 16385\n",
	  "t.conf:2: max_template_fields: 16385 out of range (1..16384)\n" },
	{ "[limits]\nmax_samplers = 0\n", "t.conf:2: max_samplers: 0 out of range (1..65536)\n" },
	{ "[limits]\npending_max_sets = 4097\n", "t.conf:2: pending_max_sets: 4097 out of range (1..4096)\n" },
	{ "[limits]\npending_max_bytes = 1023\n",
	  "t.conf:2: pending_max_bytes: 1023 out of range (1024..67108864)\n" },
	{ "[limits]\npending_timeout_ms = 99\n",
	  "t.conf:2: pending_timeout_ms: 99 out of range (100..600000)\n" },
	{ "[exporter e]\naddress = 192.0.2.1\nsampling_rate = 1000001\n",
	  "t.conf:3: sampling_rate: 1000001 out of range (0..1000000)\n" },
	{ "[exporter e]\naddress = 192.0.2.1\ndefault_rate = 2000000\n",
	  "t.conf:3: default_rate: 2000000 out of range (0..1000000)\n" },
	{ "[redis]\nport = 0\n", "t.conf:2: port: 0 out of range (1..65535)\n" },
	{ "[redis]\nport = 65536\n", "t.conf:2: port: 65536 out of range (1..65535)\n" },
	{ "[redis]\ndb = 65536\n", "t.conf:2: db: 65536 out of range (0..65535)\n" },
	{ "[window]\nstep = 0\n", "t.conf:2: step: 0 out of range (1..3600)\n" },
	{ "[window]\nstep = 3601\n", "t.conf:2: step: 3601 out of range (1..3600)\n" },
	{ "[window]\nsteps = 1441\n", "t.conf:2: steps: 1441 out of range (1..1440)\n" },
	{ "[window]\nretention = 59\n", "t.conf:2: retention: 59 out of range (60..31536000)\n" },
	{ "[window]\nretention = 31536001\n", "t.conf:2: retention: 31536001 out of range (60..31536000)\n" },
	{ "[window]\nlate_steps = 11\n", "t.conf:2: late_steps: 11 out of range (0..10)\n" },
	{ "[window]\nlate_steps = -1\n", "t.conf:2: late_steps: bad number '-1' (expected a decimal integer)\n" },
	{ "[window]\nmax_hosts = 0\n", "t.conf:2: max_hosts: 0 out of range (1..16777216)\n" },
	{ "[window]\nmax_hosts = 16777217\n", "t.conf:2: max_hosts: 16777217 out of range (1..16777216)\n" },
	{ "[window]\nmax_external = 4194305\n", "t.conf:2: max_external: 4194305 out of range (0..4194304)\n" },
	{ "[window]\nexternal_min_flows = 1000000001\n",
	  "t.conf:2: external_min_flows: 1000000001 out of range (0..1000000000)\n" },
	{ "[window]\nmax_hosts = 1\nmax_hosts = 2\n",
	  "t.conf:3: duplicate key 'max_hosts' in [window] (first at line 2)\n" },
	{ "[redis]\nqueue_max_mb = 0\n", "t.conf:2: queue_max_mb: 0 out of range (1..65536)\n" },
	{ "[redis]\nqueue_max_mb = 65537\n", "t.conf:2: queue_max_mb: 65537 out of range (1..65536)\n" },
	{ "[redis]\nqueue_max = 256\n", "t.conf:2: unknown key 'queue_max' in [redis]\n" },
	{ "[redis]\nstall_timeout = 0\n", "t.conf:2: stall_timeout: 0 out of range (1..600)\n" },
	{ "[redis]\nstall_timeout = 601\n", "t.conf:2: stall_timeout: 601 out of range (1..600)\n" },
	{ "[redis]\nbackoff_max = 0\n", "t.conf:2: backoff_max: 0 out of range (1..3600)\n" },
	{ "[redis]\nbackoff_max = 3601\n", "t.conf:2: backoff_max: 3601 out of range (1..3600)\n" },
	{ "[redis]\nbackoff_max = 30s\n", "t.conf:2: backoff_max: bad number '30s' (expected a decimal integer)\n" },
	/* booleans and levels */
	{ "[collector]\nallow_unlisted_exporters = maybe\n",
	  "t.conf:2: allow_unlisted_exporters: bad boolean 'maybe' (use yes or no)\n" },
	{ "[collector]\nallow_unlisted_exporters = YES\n",
	  "t.conf:2: allow_unlisted_exporters: bad boolean 'YES' (use yes or no)\n" },
	{ "[log]\nlevel = verbose\n",
	  "t.conf:2: level: unknown log level 'verbose' (use error, warn, info or debug)\n" },
	/* strings */
	{ "[collector]\nid =\n", "t.conf:2: id: must not be empty\n" },
	{ "[collector]\nid = a b\n", "t.conf:2: id: bad name 'a b' (letters, digits, '.', '_' and '-' only)\n" },
	{ "[collector]\nid = col:1\n", "t.conf:2: id: bad name 'col:1' (letters, digits, '.', '_' and '-' only)\n" },
	{ "[collector]\nid = 0123456789012345678901234567890123456789012345678901234567890123\n",
	  "t.conf:2: id: too long (max 63 characters)\n" },
	{ "[collector]\nid = a\tb\n", "t.conf:2: id: control character in value\n" },
	{ "[redis]\nhost =\n", "t.conf:2: host: must not be empty\n" },
	{ "[redis]\npassword = a\033[2Jb\n", "t.conf:2: password: control character in value\n" },
	{ "[redis]\nsocket = run/redis.sock\n", "t.conf:2: socket: 'run/redis.sock' is not an absolute path\n" },
	{ "[exporter e]\naddress = 192.0.2.1\nsite = a/b\n",
	  "t.conf:3: site: bad name 'a/b' (letters, digits, '.', '_' and '-' only)\n" },
	/* prefixes */
	{ "[exporter e]\naddress = 10.0.0.1/8\n",
	  "t.conf:2: address: bad prefix '10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)\n" },
	{ "[exporter e]\naddress = 2001:db8::1/32\n",
	  "t.conf:2: address: bad prefix '2001:db8::1/32': host bits set (did you mean 2001:db8::/32?)\n" },
	{ "[exporter e]\naddress = 10.0.0.0/33\n",
	  "t.conf:2: address: bad prefix '10.0.0.0/33': prefix length out of range (IPv4: 0..32)\n" },
	{ "[exporter e]\naddress = ::/129\n",
	  "t.conf:2: address: bad prefix '::/129': prefix length out of range (IPv6: 0..128)\n" },
	{ "[exporter e]\naddress = 10.0.0.0/\n",
	  "t.conf:2: address: bad prefix '10.0.0.0/': prefix length is not a number\n" },
	{ "[exporter e]\naddress = router1\n",
	  "t.conf:2: address: bad prefix 'router1': not an IPv4 or IPv6 address\n" },
	{ "[exporter e]\naddress =\n", "t.conf:2: address: bad prefix '': empty prefix\n" },
	/* listen */
	{ "[collector]\nlisten = 127.0.0.1\n",
	  "t.conf:2: listen: bad address '127.0.0.1': missing port (use ADDR:PORT, [V6ADDR]:PORT or :PORT)\n" },
	{ "[collector]\nlisten = 127.0.0.1:65536\n",
	  "t.conf:2: listen: bad address '127.0.0.1:65536': bad port (0..65535)\n" },
	{ "[collector]\nlisten = 127.0.0.1:\n", "t.conf:2: listen: bad address '127.0.0.1:': bad port (0..65535)\n" },
	{ "[collector]\nlisten = 127.0.0.1:x\n", "t.conf:2: listen: bad address '127.0.0.1:x': bad port (0..65535)\n" },
	{ "[collector]\nlisten = ::1:2055\n",
	  "t.conf:2: listen: bad address '::1:2055': IPv6 addresses need brackets: [V6ADDR]:PORT\n" },
	{ "[collector]\nlisten = localhost:2055\n",
	  "t.conf:2: listen: bad address 'localhost:2055': not a numeric IPv4 address (host names are not looked up)\n" },
	{ "[collector]\nlisten = 10.1:2055\n",
	  "t.conf:2: listen: bad address '10.1:2055': not a numeric IPv4 address (host names are not looked up)\n" },
	{ "[collector]\nlisten = [::1:2055\n", "t.conf:2: listen: bad address '[::1:2055': missing ']'\n" },
	{ "[collector]\nlisten = [::1]2055\n", "t.conf:2: listen: bad address '[::1]2055': expected [V6ADDR]:PORT\n" },
	{ "[collector]\nlisten = [192.0.2.1]:2055\n",
	  "t.conf:2: listen: bad address '[192.0.2.1]:2055': not a numeric IPv6 address\n" },
	{ "[collector]\nlisten = :2055\nlisten = 0.0.0.0:2055\n",
	  "t.conf:3: listen: duplicate address '0.0.0.0:2055' (first at line 2)\n" },
	{ "[collector]\nlisten = [::]:2055\nlisten = [0::0]:2055\n",
	  "t.conf:3: listen: duplicate address '[0::0]:2055' (first at line 2)\n" },
	{ "[collector]\nlisten = :1\nlisten = :2\nlisten = :3\nlisten = :4\nlisten = :5\nlisten = :6\n"
	  "listen = :7\nlisten = :8\nlisten = :9\nlisten = :10\nlisten = :11\nlisten = :12\n"
	  "listen = :13\nlisten = :14\nlisten = :15\nlisten = :16\nlisten = :17\n",
	  "t.conf:18: listen: too many addresses (max 16)\n" },
	/* whole-file checks */
	{ "[window]\nstep = 3600\nsteps = 1440\n",
	  "t.conf:3: retention 86400 s is shorter than one window (step 3600 s x 1440 steps = 5184000 s)\n" },
	{ "[exporter a]\naddress = 10.0.0.0/8\n[exporter b]\nsite = x\naddress = 10.1.0.0/16\n",
	  "t.conf:5: [exporter b] address 10.1.0.0/16 overlaps [exporter a] address 10.0.0.0/8 at line 2\n" },
	{ "[exporter a]\naddress = 2001:db8::/32\n[exporter b]\naddress = ::/0\n",
	  "t.conf:4: [exporter b] address ::/0 overlaps [exporter a] address 2001:db8::/32 at line 2\n" },
	{ "[exporter a]\naddress = 192.0.2.0/24\n[exporter b]\naddress = ::ffff:192.0.2.1\n",
	  "t.conf:4: [exporter b] address ::ffff:192.0.2.1/128 overlaps [exporter a] address 192.0.2.0/24 at line 2\n" },
	{ "[exporter a]\naddress = 192.0.2.1\n[exporter b]\naddress = 192.0.2.1/32\n",
	  "t.conf:4: [exporter b] address 192.0.2.1/32 overlaps [exporter a] address 192.0.2.1/32 at line 2\n" },
	/* [privacy] */
	{ "[privacy]\nprotect = 10.0.0.1/8\n",
	  "t.conf:2: protect: bad prefix '10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)\n" },
	{ "[privacy]\nkey_file = k.key\n", "t.conf:2: key_file: 'k.key' is not an absolute path\n" },
	{ "[privacy]\ncache_entries = 16777217\n", "t.conf:2: cache_entries: 16777217 out of range (0..16777216)\n" },
	{ "[privacy]\n\npseudonymise = yes\n",
	  "t.conf:3: pseudonymise = yes needs key_file (the Crypto-PAn key, docs/privacy.md)\n" },
	{ "[group a]\nprefix = 2001:db8::/32\nprefix = ::/64\n[privacy]\npseudonymise = yes\nkey_file = /k\n",
	  "t.conf:3: [group a] prefix ::/64 holds IPv4-mapped and other IPv6 addresses, which are pseudonymised "
	  "apart (pseudonymise = yes): give its IPv4 part as IPv4 prefixes\n" },
	{ "[alerts]\nstream_retention = 59\n", "t.conf:2: stream_retention: 59 out of range (60..31536000)\n" },
};

START_TEST(test_errors)
{
	struct mm_config c;
	char *errs = NULL;
	int n = load(&c, bad[_i].text, &errs);

	ck_assert_msg(n == 1, "case %d: %d errors:\n%s", _i, n, errs);
	ck_assert_str_eq(errs, bad[_i].errs);
	/* A failed load leaves the defaults, nothing allocated. */
	ck_assert_uint_eq(c.nexporters, 0);
	ck_assert_ptr_null(c.exporters);
	ck_assert_ptr_null(c.exporter_lpm);
	ck_assert_uint_eq(c.ngroups, 0);
	ck_assert_ptr_null(c.groups);
	ck_assert_uint_eq(c.ngroup_prefixes, 0);
	ck_assert_ptr_null(c.group_prefixes);
	ck_assert_ptr_null(c.group_prefix_group);
	ck_assert_ptr_null(c.group_lpm);
	ck_assert_uint_eq(c.nlisten, 2);
	ck_assert_str_eq(c.path, "t.conf");
	free(errs);
	mm_config_free(&c);
}
END_TEST

/* The retention check names the line that made the window too long even
 * when it is retention itself. */
START_TEST(test_retention_line)
{
	struct mm_config c;
	char *errs = NULL;

	ck_assert_int_eq(load(&c, "[window]\nretention = 60\nstep = 11\n", &errs), 1);
	ck_assert_str_eq(errs, "t.conf:2: retention 60 s is shorter than one window (step 11 s x 6 steps = 66 s)\n");
	free(errs);
	load_ok(&c, "[window]\nretention = 60\nstep = 10\n");
	mm_config_free(&c);
}
END_TEST

START_TEST(test_line_too_long)
{
	struct mm_config c;
	char *errs = NULL;
	size_t max = MM_CONFIG_LINE_MAX - 1;
	char *text = malloc(64 + 2 * MM_CONFIG_LINE_MAX);
	size_t n;

	/* Exactly the maximum is fine (a comment)... */
	n = (size_t)sprintf(text, "[log]\n#");
	memset(text + n, 'x', max - 1);
	strcpy(text + n + max - 1, "\n");
	load_ok(&c, text);
	/* ...one more is not, and parsing goes on after it. */
	n = (size_t)sprintf(text, "[log]\n#");
	memset(text + n, 'x', max);
	strcpy(text + n + max, "\nlevel = loud\n");
	ck_assert_int_eq(load(&c, text, &errs), 2);
	ck_assert_str_eq(errs, "t.conf:2: line too long (max 1023 characters)\n"
			       "t.conf:3: level: unknown log level 'loud' (use error, warn, info or debug)\n");
	free(errs);
	free(text);
	mm_config_free(&c);
}
END_TEST

/* Every error is reported, in order, and the count returned. */
START_TEST(test_all_errors_collected)
{
	struct mm_config c;
	char *errs = NULL;
	int n = load(&c,
		     "[collector]\n"
		     "batch = 0\n"
		     "rcvbuf = big\n"
		     "nonsense\n"
		     "[nope]\n"
		     "anything = goes\n" /* ignored: inside a rejected section */
		     "[exporter a]\n"
		     "address = 10.0.0.0/8\n"
		     "[exporter b]\n"
		     "address = 10.2.0.0/16\n"
		     "[exporter c]\n"
		     "sampling_rate = 10\n"
		     "[log]\n"
		     "level = info\n"
		     "level = debug\n",
		     &errs);

	ck_assert_int_eq(n, 7);
	ck_assert_str_eq(errs, "t.conf:2: batch: 0 out of range (1..1024)\n"
			       "t.conf:3: rcvbuf: bad number 'big' (expected a decimal integer)\n"
			       "t.conf:4: missing '=' (expected key = value)\n"
			       "t.conf:5: unknown section [nope]\n"
			       "t.conf:11: [exporter c]: missing required key 'address'\n"
			       "t.conf:15: duplicate key 'level' in [log] (first at line 14)\n"
			       "t.conf:10: [exporter b] address 10.2.0.0/16 overlaps [exporter a] "
			       "address 10.0.0.0/8 at line 8\n");
	free(errs);
	mm_config_free(&c);
}
END_TEST

/* Every overlapping section is reported (against its nearest container),
 * in line order; a section with a bad address takes no part. */
START_TEST(test_overlaps_all_reported)
{
	struct mm_config c;
	char *errs = NULL;
	int n = load(&c,
		     "[exporter big]\n"
		     "address = 10.0.0.0/8\n"
		     "[exporter x]\n"
		     "address = 10.1.0.0/16\n"
		     "[exporter y]\n"
		     "address = 10.2.0.0/16\n"
		     "[exporter z]\n"
		     "address = 11.0.0.0/8\n"
		     "[exporter w]\n"
		     "address = 10.1.2.3\n"
		     "[exporter bad]\n"
		     "address = 10.0.0.1/8\n",
		     &errs);

	ck_assert_int_eq(n, 4);
	ck_assert_str_eq(errs, "t.conf:12: address: bad prefix '10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)\n"
			       "t.conf:4: [exporter x] address 10.1.0.0/16 overlaps [exporter big] address 10.0.0.0/8 at line 2\n"
			       "t.conf:6: [exporter y] address 10.2.0.0/16 overlaps [exporter big] address 10.0.0.0/8 at line 2\n"
			       "t.conf:10: [exporter w] address 10.1.2.3/32 overlaps [exporter x] address 10.1.0.0/16 at line 4\n");
	free(errs);
	mm_config_free(&c);
}
END_TEST

/* Many sections load fast (the overlap check is not pairwise). */
START_TEST(test_many_exporters)
{
	enum { N = 20000 };
	struct mm_config c;
	char *text = malloc((size_t)N * 48 + 64), *errs = NULL;
	size_t len = 0;
	uint8_t a[16];

	for (int i = 0; i < N; i++)
		len += (size_t)sprintf(text + len, "[exporter e%d]\naddress = 10.%d.%d.0/24\n", i, i / 256, i % 256);
	ck_assert_int_eq(load(&c, text, &errs), 0);
	ck_assert_uint_eq(c.nexporters, N);
	mm_addr_parse("10.78.31.9", a); /* 78 * 256 + 31 = 19999 */
	ck_assert_str_eq(mm_config_exporter(&c, a)->name, "e19999");
	free(errs);
	mm_config_free(&c);
	/* Duplicate names are still found once the name table has grown. */
	strcpy(text + len, "[exporter e5]\n");
	ck_assert_int_eq(load(&c, text, &errs), 1);
	ck_assert_str_eq(errs, "t.conf:40001: duplicate section [exporter e5] (first at line 11)\n");
	free(errs);
	free(text);
	mm_config_free(&c);
}
END_TEST

START_TEST(test_too_many_errors)
{
	struct mm_config c;
	size_t len = 0;
	char *text = malloc(200 * 16), *errs = NULL, *p, *last;
	int n, lines = 0;

	len = (size_t)sprintf(text, "[collector]\n");
	for (int i = 0; i < 150; i++)
		len += (size_t)sprintf(text + len, "batch%d = 1\n", i);
	n = load(&c, text, &errs);
	ck_assert_int_eq(n, MM_CONFIG_MAX_ERRORS);
	for (p = errs, last = errs; *p != '\0'; p++) {
		if (*p == '\n') {
			lines++;
			if (p[1] != '\0')
				last = p + 1;
		}
	}
	ck_assert_int_eq(lines, MM_CONFIG_MAX_ERRORS + 1);
	ck_assert_str_eq(last, "t.conf:101: too many errors, giving up\n");
	ck_assert_ptr_nonnull(strstr(errs, "t.conf:101: unknown key 'batch99' in [collector]\n"));
	ck_assert_ptr_null(strstr(errs, "batch100"));
	free(errs);
	free(text);
	mm_config_free(&c);
}
END_TEST

/* Echoed values are sanitised and bounded. */
START_TEST(test_error_echo_sanitised)
{
	struct mm_config c;
	char *errs = NULL;
	char text[256];

	snprintf(text, sizeof(text), "[collector]\nbatch = %s\n",
		 "\x1b]0;pwned\x07-0123456789012345678901234567890123456789012345678901234567890123456789");
	ck_assert_int_eq(load(&c, text, &errs), 1);
	/* 71 characters at most: 68 of the value and "...". */
	ck_assert_str_eq(errs, "t.conf:2: batch: bad number '?]0;pwned?-0123456789012345678901234567890123456789"
			       "01234567890123456...' (expected a decimal integer)\n");
	free(errs);
	mm_config_free(&c);
}
END_TEST

/* ---- files --------------------------------------------------------- */

static char *write_tmp(const char *data, size_t len)
{
	char *path = strdup("/tmp/mamori-test-config-XXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(test_load_file)
{
	static const char text[] = "[collector]\nbatch = 7\n[exporter x]\naddress = 192.0.2.0/24\n";
	struct mm_config c;
	char *path = write_tmp(text, sizeof(text) - 1);

	ck_assert_int_eq(mm_config_load(&c, path, stderr), 0);
	ck_assert_str_eq(c.path, path);
	ck_assert_uint_eq(c.batch, 7);
	ck_assert_uint_eq(c.nexporters, 1);
	mm_config_free(&c);
	unlink(path);
	free(path);
}
END_TEST

START_TEST(test_load_file_errors)
{
	static const char nul[] = "[collector]\nbatch = 7\0junk\nrcvbuf = 1\n";
	struct mm_config c;
	char *errs = NULL, *path, *big, expect[256];
	size_t len;
	FILE *f;

	f = open_memstream(&errs, &len);
	ck_assert_int_eq(mm_config_load(&c, "/nonexistent/mamori.conf", f), 1);
	fclose(f);
	ck_assert_str_eq(errs, "/nonexistent/mamori.conf: cannot open: No such file or directory\n");
	free(errs);

	f = open_memstream(&errs, &len);
	ck_assert_int_eq(mm_config_load(&c, "/tmp", f), 1);
	fclose(f);
	ck_assert_str_eq(errs, "/tmp: cannot read: Is a directory\n");
	free(errs);

	/* A NUL byte is an error on its line, not the end of the file. */
	path = write_tmp(nul, sizeof(nul) - 1);
	f = open_memstream(&errs, &len);
	ck_assert_int_eq(mm_config_load(&c, path, f), 2);
	fclose(f);
	snprintf(expect, sizeof(expect), "%s:2: NUL byte in line\n%s:3: rcvbuf: 1 out of range (4096..1073741824)\n",
		 path, path);
	ck_assert_str_eq(errs, expect);
	free(errs);
	unlink(path);
	free(path);

	/* One byte over the size limit. */
	big = malloc(MM_CONFIG_FILE_MAX + 1);
	memset(big, '\n', MM_CONFIG_FILE_MAX + 1);
	path = write_tmp(big, MM_CONFIG_FILE_MAX + 1);
	f = open_memstream(&errs, &len);
	ck_assert_int_eq(mm_config_load(&c, path, f), 1);
	fclose(f);
	snprintf(expect, sizeof(expect), "%s: file too large (max 1048576 bytes)\n", path);
	ck_assert_str_eq(errs, expect);
	free(errs);
	unlink(path);
	free(path);
	/* Exactly the limit loads. */
	path = write_tmp(big, MM_CONFIG_FILE_MAX);
	ck_assert_int_eq(mm_config_load(&c, path, NULL), 0);
	unlink(path);
	free(path);
	free(big);

	/* errs may be NULL: still counted. */
	ck_assert_int_eq(mm_config_load_string(&c, "t.conf", "[x]\n[y]\n", NULL), 2);
	mm_config_free(&c);
}
END_TEST

/* ---- printing ------------------------------------------------------ */

static const char rich[] = "[collector]\n"
			   "id = c1\n"
			   "listen = :2055\n"
			   "listen = [::]:4739\n"
			   "listen = 192.0.2.10:6343\n"
			   "rcvbuf = 8192\n"
			   "batch = 3\n"
			   "default_sampling_rate = 512\n"
			   "allow_unlisted_exporters = false\n"
			   "nflog_group = 7\n"
			   "nflog_copy_range = 64\n"
			   "nflog_group = 0\n"
			   "nflog_sampling_rate = 100\n"
			   "[log]\n"
			   "level = warn\n"
			   "[group servers]\n"
			   "prefix = 192.0.2.0/25\n"
			   "description =  Web and mail, rack 4 (#2; a=b) \n"
			   "prefix = 2001:db8:10::/48\n"
			   "sampling_rate = 100\n"
			   "combine = both\n"
			   "time_of_week = off\n"
			   "ceiling_udp_pps = 500000\n"
			   "[exporter z-last]\n"
			   "address = 2001:db8::/32\n"
			   "site = lon\n"
			   "[exporter a-first]\n"
			   "address = 10.0.0.1\n"
			   "sampling_rate = 100\n"
			   "default_rate = 10\n"
			   "[limits]\n"
			   "max_exporters = 5\n"
			   "pending_timeout_ms = 1000\n"
			   "[window]\n"
			   "step = 5\n"
			   "max_hosts = 5000\n"
			   "late_steps = 0\n"
			   "[redis]\n"
			   "socket = /tmp/r.sock\n"
			   "user = u\n"
			   "db = 9\n"
			   "stall_timeout = 3\n"
			   "[detector]\n"
			   "slow_window_steps = 60\n"
			   "[privacy]\n"
			   "protect = 192.0.2.128/25\n"
			   "key_file = /etc/mamori/pseudonym.key\n"
			   "pseudonymise = on\n"
			   "protect = 2001:db8:99::/48\n"
			   "cache_entries = 0\n"
			   "[group clients]\n"
			   "prefix = 198.51.100.0/24\n";

START_TEST(test_print_format)
{
	struct mm_config c;
	char *out;

	load_ok(&c, rich);
	out = print_str(&c);
	ck_assert_str_eq(out, "[collector]\n"
			      "id = c1\n"
			      "listen = :2055\n"
			      "listen = [::]:4739\n"
			      "listen = 192.0.2.10:6343\n"
			      "rcvbuf = 8192\n"
			      "batch = 3\n"
			      "default_sampling_rate = 512\n"
			      "allow_unlisted_exporters = no\n"
			      "nflog_group = 7\n"
			      "nflog_group = 0\n"
			      "nflog_sampling_rate = 100\n"
			      "nflog_copy_range = 64\n"
			      "metrics =\n"
			      "\n"
			      "[limits]\n"
			      "max_exporters = 5\n"
			      "max_domains = 16\n"
			      "max_templates = 256\n"
			      "max_template_fields = 128\n"
			      "max_samplers = 32\n"
			      "pending_max_sets = 32\n"
			      "pending_max_bytes = 65536\n"
			      "pending_timeout_ms = 1000\n"
			      "\n"
			      "[exporter z-last]\n"
			      "address = 2001:db8::/32\n"
			      "sampling_rate = 0\n"
			      "default_rate = 0\n"
			      "site = lon\n"
			      "\n"
			      "[exporter a-first]\n"
			      "address = 10.0.0.1/32\n"
			      "sampling_rate = 100\n"
			      "default_rate = 10\n"
			      "site =\n"
			      "\n"
			      "[group servers]\n"
			      "prefix = 192.0.2.0/25\n"
			      "prefix = 2001:db8:10::/48\n"
			      "description = Web and mail, rack 4 (#2; a=b)\n"
			      "sampling_rate = 100\n"
			      "min_sampled_packets = 10\n"
			      "min_sampled_flows = 4\n"
			      "min_reflectors = 3\n"
			      "ceiling_pps = 1000000\n"
			      "ceiling_mbps = 10000\n"
			      "ceiling_flows = 200000\n"
			      "ceiling_tcp_pps = 0\n"
			      "ceiling_udp_pps = 500000\n"
			      "ceiling_icmp_pps = 100000\n"
			      "ceiling_syn_pps = 100000\n"
			      "ceiling_amp_pps = 50000\n"
			      "ceiling_out_pps = 0\n"
			      "ceiling_out_mbps = 0\n"
			      "single_source_pps = 10000\n"
			      "min_flood_pps = 200\n"
			      "min_outbound_pps = 500\n"
			      "min_exfil_kbps = 800\n"
			      "score_investigate = 6\n"
			      "score_act = 10\n"
			      "combine = both\n"
			      "confirm_fast_hits = 2\n"
			      "confirm_fast_steps = 3\n"
			      "confirm_slow_hits = 6\n"
			      "confirm_slow_steps = 9\n"
			      "warmup_steps = 180\n"
			      "group_warmup_steps = 18\n"
			      "ewma_alpha = 10\n"
			      "learn_clip = 3\n"
			      "time_of_week = no\n"
			      "carpet_prefix4 = 24\n"
			      "carpet_prefix6 = 64\n"
			      "\n"
			      "[group clients]\n"
			      "prefix = 198.51.100.0/24\n"
			      "description =\n"
			      "sampling_rate = 1000\n"
			      "min_sampled_packets = 10\n"
			      "min_sampled_flows = 4\n"
			      "min_reflectors = 3\n"
			      "ceiling_pps = 1000000\n"
			      "ceiling_mbps = 10000\n"
			      "ceiling_flows = 200000\n"
			      "ceiling_tcp_pps = 0\n"
			      "ceiling_udp_pps = 0\n"
			      "ceiling_icmp_pps = 100000\n"
			      "ceiling_syn_pps = 100000\n"
			      "ceiling_amp_pps = 50000\n"
			      "ceiling_out_pps = 0\n"
			      "ceiling_out_mbps = 0\n"
			      "single_source_pps = 10000\n"
			      "min_flood_pps = 200\n"
			      "min_outbound_pps = 500\n"
			      "min_exfil_kbps = 800\n"
			      "score_investigate = 6\n"
			      "score_act = 10\n"
			      "combine = either\n"
			      "confirm_fast_hits = 2\n"
			      "confirm_fast_steps = 3\n"
			      "confirm_slow_hits = 6\n"
			      "confirm_slow_steps = 9\n"
			      "warmup_steps = 180\n"
			      "group_warmup_steps = 18\n"
			      "ewma_alpha = 10\n"
			      "learn_clip = 3\n"
			      "time_of_week = yes\n"
			      "carpet_prefix4 = 24\n"
			      "carpet_prefix6 = 64\n"
			      "\n"
			      "[redis]\n"
			      "host = 127.0.0.1\n"
			      "port = 6379\n"
			      "socket = /tmp/r.sock\n"
			      "db = 9\n"
			      "user = u\n"
			      "password =\n"
			      "queue_max_mb = 256\n"
			      "stall_timeout = 3\n"
			      "backoff_max = 30\n"
			      "\n"
			      "[window]\n"
			      "step = 5\n"
			      "steps = 6\n"
			      "retention = 86400\n"
			      "late_steps = 0\n"
			      "max_hosts = 5000\n"
			      "max_external = 65536\n"
			      "external_min_flows = 100\n"
			      "\n"
			      "[detector]\n"
			      "slow_window_steps = 60\n"
			      "update_steps = 6\n"
			      "calm_steps = 6\n"
			      "max_incidents = 100000\n"
			      "max_prefixes = 65536\n"
			      "metrics =\n"
			      "\n"
			      "[alerts]\n"
			      "stream = mm:alerts\n"
			      "stream_maxlen = 100000\n"
			      "stream_retention = 2592000\n"
			      "channel = mm:alerts\n"
			      "file =\n"
			      "syslog = no\n"
			      "hook =\n"
			      "hook_timeout = 10\n"
			      "hook_max = 4\n"
			      "hook_min_tier = investigate\n"
			      "\n"
			      "[fastpath]\n"
			      "enabled = yes\n"
			      "interval_ms = 1000\n"
			      "check_ms = 250\n"
			      "stream = mm:fast\n"
			      "stream_maxlen = 100000\n"
			      "poll_ms = 50\n"
			      "\n"
			      "[log]\n"
			      "level = warn\n"
			      "\n"
			      "[daemon]\n"
			      "user =\n"
			      "group =\n"
			      "allow_root = no\n"
			      "\n"
			      "[exabgp]\n"
			      "enabled = no\n"
			      "dry_run = no\n"
			      "action = blackhole\n"
			      "classes = flood,syn_flood,amplification\n"
			      "min_tier = act\n"
			      "next_hop = self\n"
			      "community = 65535:666\n"
			      "rate_limit = 0\n"
			      "max_routes = 100\n"
			      "\n"
			      "[privacy]\n"
			      "protect = 192.0.2.128/25\n"
			      "protect = 2001:db8:99::/48\n"
			      "pseudonymise = yes\n"
			      "key_file = /etc/mamori/pseudonym.key\n"
			      "cache_entries = 0\n"
			      "deanon_log =\n");
	free(out);
	mm_config_free(&c);
}
END_TEST

START_TEST(test_round_trip)
{
	struct mm_config a, b;
	char *pa, *pb;

	load_ok(&a, rich);
	pa = print_str(&a);
	load_ok(&b, pa);
	pb = print_str(&b);
	ck_assert_str_eq(pa, pb);
	/* The structs agree too, not only their printouts. */
	ck_assert_uint_eq(a.nlisten, b.nlisten);
	for (unsigned i = 0; i < a.nlisten; i++) {
		ck_assert_str_eq(a.listen[i].text, b.listen[i].text);
		ck_assert_uint_eq(a.listen[i].sslen, b.listen[i].sslen);
		ck_assert_mem_eq(&a.listen[i].ss, &b.listen[i].ss, a.listen[i].sslen);
	}
	ck_assert_mem_eq(&a.limits, &b.limits, sizeof(a.limits));
	ck_assert_uint_eq(a.nexporters, b.nexporters);
	for (unsigned i = 0; i < a.nexporters; i++) {
		ck_assert_str_eq(a.exporters[i].name, b.exporters[i].name);
		ck_assert_mem_eq(&a.exporters[i].prefix, &b.exporters[i].prefix, sizeof(struct mm_prefix));
		ck_assert_uint_eq(a.exporters[i].sampling_rate, b.exporters[i].sampling_rate);
		ck_assert_uint_eq(a.exporters[i].default_rate, b.exporters[i].default_rate);
		ck_assert_str_eq(a.exporters[i].site, b.exporters[i].site);
	}
	ck_assert_uint_eq(a.nprotect, 2);
	ck_assert_uint_eq(a.nprotect, b.nprotect);
	ck_assert_mem_eq(a.protect, b.protect, a.nprotect * sizeof(*a.protect));
	ck_assert_int_eq(b.pseudonymise, 1);
	ck_assert_str_eq(b.privacy_key_file, "/etc/mamori/pseudonym.key");
	ck_assert_int_gt(a.privacy_key_line, 0);
	ck_assert_uint_eq(a.ngroups, 2);
	ck_assert_uint_eq(a.ngroups, b.ngroups);
	for (unsigned i = 0; i < a.ngroups; i++) {
		ck_assert_str_eq(a.groups[i].name, b.groups[i].name);
		ck_assert_str_eq(a.groups[i].description, b.groups[i].description);
		ck_assert_uint_eq(a.groups[i].first_prefix, b.groups[i].first_prefix);
		ck_assert_uint_eq(a.groups[i].nprefixes, b.groups[i].nprefixes);
		ck_assert_uint_eq(a.groups[i].sampling_rate, b.groups[i].sampling_rate);
		ck_assert_uint_eq(a.groups[i].ceiling_udp_pps, b.groups[i].ceiling_udp_pps);
		ck_assert_int_eq(a.groups[i].combine, b.groups[i].combine);
		ck_assert_int_eq(a.groups[i].time_of_week, b.groups[i].time_of_week);
		ck_assert_uint_eq(a.groups[i].warmup_steps, b.groups[i].warmup_steps);
	}
	ck_assert_uint_eq(a.groups[0].sampling_rate, 100);
	ck_assert_int_eq(a.groups[0].combine, MM_COMBINE_BOTH);
	ck_assert_int_eq(a.groups[0].time_of_week, 0);
	ck_assert_uint_eq(a.slow_window_steps, 60);
	ck_assert_uint_eq(a.slow_window_steps, b.slow_window_steps);
	ck_assert_uint_eq(a.ngroup_prefixes, 3);
	ck_assert_uint_eq(a.ngroup_prefixes, b.ngroup_prefixes);
	for (unsigned i = 0; i < a.ngroup_prefixes; i++) {
		ck_assert_mem_eq(&a.group_prefixes[i], &b.group_prefixes[i], sizeof(struct mm_prefix));
		ck_assert_uint_eq(a.group_prefix_group[i], b.group_prefix_group[i]);
	}
	ck_assert_str_eq(a.redis_socket, b.redis_socket);
	ck_assert_int_eq(a.redis_db, b.redis_db);
	ck_assert_uint_eq(a.redis_stall_timeout_s, b.redis_stall_timeout_s);
	ck_assert_uint_eq(a.max_hosts, b.max_hosts);
	ck_assert_uint_eq(a.late_steps, b.late_steps);
	ck_assert_uint_eq(a.step_s, b.step_s);
	ck_assert_int_eq(a.log_level, b.log_level);
	ck_assert_int_eq(a.allow_unlisted_exporters, b.allow_unlisted_exporters);
	free(pa);
	free(pb);
	mm_config_free(&a);
	mm_config_free(&b);

	/* The defaults round-trip as well. */
	mm_config_defaults(&a);
	pa = print_str(&a);
	load_ok(&b, pa);
	pb = print_str(&b);
	ck_assert_str_eq(pa, pb);
	free(pa);
	free(pb);
	mm_config_free(&a);
	mm_config_free(&b);
}
END_TEST

START_TEST(test_password_never_printed)
{
	struct mm_config c, d;
	char *out, *again;

	load_ok(&c, "[redis]\npassword = s3cr3t-value\n");
	ck_assert_str_eq(c.redis_password, "s3cr3t-value");
	out = print_str(&c);
	ck_assert_ptr_null(strstr(out, "s3cr3t"));
	ck_assert_ptr_nonnull(strstr(out, "\npassword = ********\n"));
	/* The masked output still loads (and prints the same). */
	load_ok(&d, out);
	again = print_str(&d);
	ck_assert_str_eq(out, again);
	free(out);
	free(again);
	mm_config_free(&c);
	mm_config_free(&d);
}
END_TEST

/* ---- exporter lookup ----------------------------------------------- */

START_TEST(test_exporter_lookup)
{
	struct mm_config c;
	uint8_t a[16];
	const struct mm_exporter_cfg *e;

	load_ok(&c, "[exporter v4net]\naddress = 192.0.2.0/24\n"
		    "[exporter v4host]\naddress = 198.51.100.1\n"
		    "[exporter v6]\naddress = 2001:db8:1::/48\n");
	ck_assert_ptr_nonnull(c.exporter_lpm);
	ck_assert_int_eq(mm_addr_parse("192.0.2.77", a), 4);
	e = mm_config_exporter(&c, a);
	ck_assert_ptr_nonnull(e);
	ck_assert_str_eq(e->name, "v4net");
	ck_assert_int_eq(mm_addr_parse("198.51.100.1", a), 4);
	ck_assert_str_eq(mm_config_exporter(&c, a)->name, "v4host");
	ck_assert_int_eq(mm_addr_parse("198.51.100.2", a), 4);
	ck_assert_ptr_null(mm_config_exporter(&c, a));
	ck_assert_int_eq(mm_addr_parse("2001:db8:1:ffff::9", a), 6);
	ck_assert_str_eq(mm_config_exporter(&c, a)->name, "v6");
	ck_assert_int_eq(mm_addr_parse("2001:db8:2::9", a), 6);
	ck_assert_ptr_null(mm_config_exporter(&c, a));
	mm_config_free(&c);

	/* No sections: no table, no match. */
	load_ok(&c, "");
	ck_assert_ptr_null(c.exporter_lpm);
	ck_assert_ptr_null(mm_config_exporter(&c, a));
	mm_config_free(&c);
}
END_TEST

/* A config built by hand (no table) gets the same longest-prefix answer,
 * nested prefixes included. */
START_TEST(test_exporter_lookup_by_hand)
{
	struct mm_exporter_cfg ex[3];
	struct mm_config c;
	uint8_t a[16];

	mm_config_defaults(&c);
	memset(ex, 0, sizeof(ex));
	ck_assert_int_eq(mm_prefix_parse("10.0.0.0/8", &ex[0].prefix, NULL), 0);
	ck_assert_int_eq(mm_prefix_parse("10.1.0.0/16", &ex[1].prefix, NULL), 0);
	ck_assert_int_eq(mm_prefix_parse("10.1.2.0/24", &ex[2].prefix, NULL), 0);
	strcpy(ex[0].name, "eight");
	strcpy(ex[1].name, "sixteen");
	strcpy(ex[2].name, "twentyfour");
	c.exporters = ex;
	c.nexporters = 3;
	mm_addr_parse("10.1.2.3", a);
	ck_assert_str_eq(mm_config_exporter(&c, a)->name, "twentyfour");
	mm_addr_parse("10.1.3.3", a);
	ck_assert_str_eq(mm_config_exporter(&c, a)->name, "sixteen");
	mm_addr_parse("10.200.3.3", a);
	ck_assert_str_eq(mm_config_exporter(&c, a)->name, "eight");
	mm_addr_parse("11.0.0.1", a);
	ck_assert_ptr_null(mm_config_exporter(&c, a));
}
END_TEST

/* ---- host groups --------------------------------------------------- */

/* Groups in file order, each group's prefixes a contiguous range of the
 * flat arrays in file order, the group index alongside each prefix;
 * exporters and groups have separate name spaces and address spaces. */
START_TEST(test_groups_parsed)
{
	struct mm_config c;
	char a[64];

	load_ok(&c, "[group web]\n"                     /* 1 */
		    "prefix = 192.0.2.0/25\n"
		    "prefix = 2001:db8:1::/48\n"
		    "description = the web farm\n"
		    "prefix = 192.0.2.128/26\n"         /* 5 */
		    "[exporter web]\n"
		    "address = 192.0.2.0/24\n"         /* overlaps a group: fine */
		    "[ group   mail ]\n"
		    "description =\n"
		    "prefix = 198.51.100.7\n"          /* 10 */
		    "[log]\n"
		    "[group v6-only]\n"
		    "prefix = ::ffff:203.0.113.0/120\n"
		    "prefix = 2001:db8:2::/48\n");
	ck_assert_uint_eq(c.ngroups, 3);
	ck_assert_uint_eq(c.nexporters, 1);
	ck_assert_str_eq(c.groups[0].name, "web");
	ck_assert_str_eq(c.groups[0].description, "the web farm");
	ck_assert_int_eq(c.groups[0].line, 1);
	ck_assert_uint_eq(c.groups[0].first_prefix, 0);
	ck_assert_uint_eq(c.groups[0].nprefixes, 3);
	ck_assert_str_eq(c.groups[1].name, "mail");
	ck_assert_str_eq(c.groups[1].description, "");
	ck_assert_int_eq(c.groups[1].line, 8);
	ck_assert_uint_eq(c.groups[1].first_prefix, 3);
	ck_assert_uint_eq(c.groups[1].nprefixes, 1);
	ck_assert_str_eq(c.groups[2].name, "v6-only");
	ck_assert_int_eq(c.groups[2].line, 12);
	ck_assert_uint_eq(c.groups[2].first_prefix, 4);
	ck_assert_uint_eq(c.groups[2].nprefixes, 2);

	ck_assert_uint_eq(c.ngroup_prefixes, 6);
	ck_assert_str_eq(mm_prefix_str(&c.group_prefixes[0], a, sizeof(a)), "192.0.2.0/25");
	ck_assert_str_eq(mm_prefix_str(&c.group_prefixes[1], a, sizeof(a)), "2001:db8:1::/48");
	ck_assert_str_eq(mm_prefix_str(&c.group_prefixes[2], a, sizeof(a)), "192.0.2.128/26");
	ck_assert_str_eq(mm_prefix_str(&c.group_prefixes[3], a, sizeof(a)), "198.51.100.7/32");
	ck_assert_str_eq(mm_prefix_str(&c.group_prefixes[4], a, sizeof(a)), "::ffff:203.0.113.0/120");
	ck_assert_str_eq(mm_prefix_str(&c.group_prefixes[5], a, sizeof(a)), "2001:db8:2::/48");
	ck_assert_uint_eq(c.group_prefixes[3].len, 128); /* IPv4 /32 in IPv6 terms */
	ck_assert_uint_eq(c.group_prefix_group[0], 0);
	ck_assert_uint_eq(c.group_prefix_group[1], 0);
	ck_assert_uint_eq(c.group_prefix_group[2], 0);
	ck_assert_uint_eq(c.group_prefix_group[3], 1);
	ck_assert_uint_eq(c.group_prefix_group[4], 2);
	ck_assert_uint_eq(c.group_prefix_group[5], 2);
	/* Each group's range points back at it. */
	for (unsigned g = 0; g < c.ngroups; g++)
		for (unsigned i = 0; i < c.groups[g].nprefixes; i++)
			ck_assert_uint_eq(c.group_prefix_group[c.groups[g].first_prefix + i], g);
	ck_assert_ptr_nonnull(c.group_lpm);
	mm_config_free(&c);
	ck_assert_ptr_null(c.groups);
	ck_assert_ptr_null(c.group_prefixes);
	ck_assert_ptr_null(c.group_prefix_group);
	ck_assert_ptr_null(c.group_lpm);
	ck_assert_uint_eq(c.ngroups, 0);
	ck_assert_uint_eq(c.ngroup_prefixes, 0);
}
END_TEST

START_TEST(test_group_of)
{
	static const struct {
		const char *addr;
		int group;
	} cases[] = {
		{ "10.0.0.0", 0 },      { "10.255.255.255", 0 }, { "11.0.0.0", -1 },     { "9.255.255.255", -1 },
		{ "192.0.2.1", 1 },     { "192.0.2.0", -1 },      { "192.0.2.2", -1 },   { "::ffff:192.0.2.1", 1 },
		{ "2001:db8::", 2 },    { "2001:db8::ffff:ffff:ffff:ffff", 2 },          { "2001:db8:0:1::", -1 },
		{ "2001:db8:a::1", 0 }, { "::a00:1", -1 },        { "::", -1 },          { "0.0.0.0", -1 },
		{ "ff02::1", -1 },
	};
	struct mm_config c;
	uint8_t a[16];

	load_ok(&c, "[group ten]\nprefix = 10.0.0.0/8\nprefix = 2001:db8:a::/48\n"
		    "[group one]\nprefix = 192.0.2.1\n"
		    "[group v6]\nprefix = 2001:db8::/64\n");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_gt(mm_addr_parse(cases[i].addr, a), 0);
		ck_assert_msg(mm_config_group_of(&c, a) == cases[i].group, "%s: %d, expected %d", cases[i].addr,
			      mm_config_group_of(&c, a), cases[i].group);
	}
	mm_config_free(&c);

	/* No groups: no table, nothing monitored. */
	load_ok(&c, "[exporter e]\naddress = 10.0.0.0/8\n");
	ck_assert_ptr_null(c.group_lpm);
	mm_addr_parse("10.1.1.1", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), -1);
	mm_config_free(&c);
	/* ::/0 monitors everything, IPv4 included. */
	load_ok(&c, "[group all]\nprefix = ::/0\n");
	mm_addr_parse("203.0.113.9", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), 0);
	mm_addr_parse("fe80::1", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), 0);
	mm_config_free(&c);
}
END_TEST

/* The detection keys of a group: every one at its bounds, the defaults
 * where not given, and [detector] at its bounds. */
START_TEST(test_group_detection)
{
	struct mm_config c;
	const struct mm_group_cfg *g;

	load_ok(&c, "[group high]\n"
		    "prefix = 10.0.0.0/8\n"
		    "sampling_rate = 1000000\n"
		    "min_sampled_packets = 1000000\n"
		    "min_sampled_flows = 1000000\n"
		    "min_reflectors = 1000\n"
		    "ceiling_pps = 4000000000\n"
		    "ceiling_mbps = 10000000\n"
		    "ceiling_flows = 4000000000\n"
		    "ceiling_tcp_pps = 4000000000\n"
		    "ceiling_udp_pps = 4000000000\n"
		    "ceiling_icmp_pps = 4000000000\n"
		    "ceiling_syn_pps = 4000000000\n"
		    "ceiling_amp_pps = 4000000000\n"
		    "ceiling_out_pps = 4000000000\n"
		    "ceiling_out_mbps = 10000000\n"
		    "score_investigate = 1000\n"
		    "score_act = 1000\n"
		    "combine = ceiling\n"
		    "confirm_fast_hits = 16\n"
		    "confirm_fast_steps = 16\n"
		    "confirm_slow_hits = 16\n"
		    "confirm_slow_steps = 16\n"
		    "warmup_steps = 65535\n"
		    "ewma_alpha = 500\n"
		    "learn_clip = 100\n"
		    "time_of_week = no\n"
		    "[group low]\n"
		    "prefix = 11.0.0.0/8\n"
		    "sampling_rate = 1\n"
		    "min_sampled_packets = 1\n"
		    "min_sampled_flows = 1\n"
		    "min_reflectors = 1\n"
		    "ceiling_pps = 0\n"
		    "ceiling_mbps = 0\n"
		    "ceiling_flows = 0\n"
		    "ceiling_icmp_pps = 0\n"
		    "ceiling_syn_pps = 0\n"
		    "ceiling_amp_pps = 0\n"
		    "score_investigate = 1\n"
		    "score_act = 1\n"
		    "combine = baseline\n"
		    "confirm_fast_hits = 1\n"
		    "confirm_fast_steps = 1\n"
		    "confirm_slow_hits = 1\n"
		    "confirm_slow_steps = 1\n"
		    "warmup_steps = 1\n"
		    "ewma_alpha = 1\n"
		    "learn_clip = 1\n"
		    "[group plain]\n"
		    "prefix = 12.0.0.0/8\n"
		    "[detector]\n"
		    "slow_window_steps = 1440\n"
		    "update_steps = 8640\n"
		    "calm_steps = 1\n"
		    "max_incidents = 10000000\n"
		    "[alerts]\n"
		    "stream_maxlen = 100000000\n"
		    "file = -\n"
		    "hook_timeout = 3600\n"
		    "hook_max = 256\n"
		    "hook_min_tier = act\n");
	ck_assert_uint_eq(c.alert_stream_maxlen, 100000000);
	ck_assert_str_eq(c.alert_file, "-");
	ck_assert_uint_eq(c.alert_hook_timeout_s, 3600);
	ck_assert_uint_eq(c.alert_hook_max, 256);
	ck_assert_int_eq(c.alert_hook_min_tier, 2);
	g = &c.groups[0];
	ck_assert_uint_eq(g->sampling_rate, 1000000);
	ck_assert_uint_eq(g->min_sampled_packets, 1000000);
	ck_assert_uint_eq(g->min_sampled_flows, 1000000);
	ck_assert_uint_eq(g->min_reflectors, 1000);
	ck_assert_uint_eq(g->ceiling_pps, 4000000000u);
	ck_assert_uint_eq(g->ceiling_mbps, 10000000);
	ck_assert_uint_eq(g->ceiling_flows, 4000000000u);
	ck_assert_uint_eq(g->ceiling_tcp_pps, 4000000000u);
	ck_assert_uint_eq(g->ceiling_udp_pps, 4000000000u);
	ck_assert_uint_eq(g->ceiling_icmp_pps, 4000000000u);
	ck_assert_uint_eq(g->ceiling_syn_pps, 4000000000u);
	ck_assert_uint_eq(g->ceiling_amp_pps, 4000000000u);
	ck_assert_uint_eq(g->ceiling_out_pps, 4000000000u);
	ck_assert_uint_eq(g->ceiling_out_mbps, 10000000);
	ck_assert_uint_eq(g->score_investigate, 1000);
	ck_assert_uint_eq(g->score_act, 1000);
	ck_assert_int_eq(g->combine, MM_COMBINE_CEILING);
	ck_assert_uint_eq(g->confirm_fast_hits, 16);
	ck_assert_uint_eq(g->confirm_fast_steps, 16);
	ck_assert_uint_eq(g->confirm_slow_hits, 16);
	ck_assert_uint_eq(g->confirm_slow_steps, 16);
	ck_assert_uint_eq(g->warmup_steps, 65535);
	ck_assert_uint_eq(g->ewma_alpha, 500);
	ck_assert_uint_eq(g->learn_clip, 100);
	ck_assert_int_eq(g->time_of_week, 0);
	g = &c.groups[1];
	ck_assert_uint_eq(g->sampling_rate, 1);
	ck_assert_uint_eq(g->min_sampled_packets, 1);
	ck_assert_uint_eq(g->ceiling_pps, 0);
	ck_assert_uint_eq(g->ceiling_icmp_pps, 0);
	ck_assert_uint_eq(g->score_investigate, 1);
	ck_assert_uint_eq(g->score_act, 1);
	ck_assert_int_eq(g->combine, MM_COMBINE_BASELINE);
	ck_assert_uint_eq(g->confirm_slow_steps, 1);
	ck_assert_uint_eq(g->warmup_steps, 1);
	ck_assert_uint_eq(g->ewma_alpha, 1);
	ck_assert_int_eq(g->time_of_week, 1);
	/* Not given: the defaults. */
	g = &c.groups[2];
	ck_assert_uint_eq(g->sampling_rate, 1000);
	ck_assert_uint_eq(g->min_sampled_packets, 10);
	ck_assert_uint_eq(g->min_sampled_flows, 4);
	ck_assert_uint_eq(g->min_reflectors, 3);
	ck_assert_uint_eq(g->ceiling_pps, 1000000);
	ck_assert_uint_eq(g->ceiling_mbps, 10000);
	ck_assert_uint_eq(g->ceiling_flows, 200000);
	ck_assert_uint_eq(g->ceiling_tcp_pps, 0);
	ck_assert_uint_eq(g->ceiling_udp_pps, 0);
	ck_assert_uint_eq(g->ceiling_icmp_pps, 100000);
	ck_assert_uint_eq(g->ceiling_syn_pps, 100000);
	ck_assert_uint_eq(g->ceiling_amp_pps, 50000);
	ck_assert_uint_eq(g->ceiling_out_pps, 0);
	ck_assert_uint_eq(g->ceiling_out_mbps, 0);
	ck_assert_uint_eq(g->score_investigate, 6);
	ck_assert_uint_eq(g->score_act, 10);
	ck_assert_int_eq(g->combine, MM_COMBINE_EITHER);
	ck_assert_uint_eq(g->confirm_fast_hits, 2);
	ck_assert_uint_eq(g->confirm_fast_steps, 3);
	ck_assert_uint_eq(g->confirm_slow_hits, 6);
	ck_assert_uint_eq(g->confirm_slow_steps, 9);
	ck_assert_uint_eq(g->warmup_steps, 180);
	ck_assert_uint_eq(g->ewma_alpha, 10);
	ck_assert_uint_eq(g->learn_clip, 3);
	ck_assert_int_eq(g->time_of_week, 1);
	ck_assert_uint_eq(c.slow_window_steps, 1440);
	ck_assert_uint_eq(c.incident_update_steps, 8640);
	ck_assert_uint_eq(c.incident_calm_steps, 1);
	ck_assert_uint_eq(c.max_incidents, 10000000);
	mm_config_free(&c);

	/* The combine names, both ways. */
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(mm_combine_parse(mm_combine_name(i)), i);
	ck_assert_ptr_null(mm_combine_name(4));
	ck_assert_ptr_null(mm_combine_name(-1));
	ck_assert_int_eq(mm_combine_parse("never"), -1);
}
END_TEST

/* Every error of several groups' detection keys comes out, in file
 * order. */
START_TEST(test_group_detection_errors)
{
	struct mm_config c;
	char *errs = NULL;
	int n = load(&c,
		     "[group a]\n"                  /* 1 */
		     "prefix = 10.0.0.0/8\n"
		     "score_investigate = 9\n"
		     "score_act = 7\n"
		     "combine = maybe\n"             /* 5 */
		     "[group b]\n"
		     "confirm_fast_hits = 5\n"
		     "prefix = 11.0.0.0/8\n"
		     "confirm_fast_steps = 4\n"
		     "confirm_slow_hits = 10\n"      /* 10 */
		     "[detector]\n"
		     "calm_steps = 0\n",
		     &errs);

	ck_assert_int_eq(n, 5);
	ck_assert_str_eq(errs, "t.conf:5: combine: unknown mode 'maybe' (use either, both, ceiling or baseline)\n"
			       "t.conf:4: [group a]: score_investigate 9 is above score_act 7\n"
			       "t.conf:9: [group b]: confirm_fast_hits 5 is more than confirm_fast_steps 4\n"
			       "t.conf:10: [group b]: confirm_slow_hits 10 is more than confirm_slow_steps 9\n"
			       "t.conf:12: calm_steps: 0 out of range (1..8640)\n");
	free(errs);
	mm_config_free(&c);
}
END_TEST

/* A config built by hand (no table): the same answer. */
START_TEST(test_group_of_by_hand)
{
	struct mm_group_cfg g[2];
	struct mm_prefix p[3];
	uint16_t pg[3] = { 1, 0, 1 };
	struct mm_config c;
	uint8_t a[16];

	mm_config_defaults(&c);
	memset(g, 0, sizeof(g));
	ck_assert_int_eq(mm_prefix_parse("10.0.0.0/8", &p[0], NULL), 0);
	ck_assert_int_eq(mm_prefix_parse("2001:db8::/32", &p[1], NULL), 0);
	ck_assert_int_eq(mm_prefix_parse("192.0.2.0/24", &p[2], NULL), 0);
	c.groups = g;
	c.ngroups = 2;
	c.group_prefixes = p;
	c.group_prefix_group = pg;
	c.ngroup_prefixes = 3;
	mm_addr_parse("10.1.2.3", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), 1);
	mm_addr_parse("2001:db8:5::1", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), 0);
	mm_addr_parse("192.0.2.255", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), 1);
	mm_addr_parse("192.0.3.0", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), -1);
	/* A prefix naming a group that does not exist matches nothing. */
	pg[0] = 7;
	mm_addr_parse("10.1.2.3", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), -1);
}
END_TEST

/* Every overlap and duplicate is reported once, in line order, both lines
 * named; later copies of one prefix against the first; bad prefixes and
 * rejected sections take no part. */
START_TEST(test_group_overlaps_all_reported)
{
	struct mm_config c;
	char *errs = NULL;
	int n = load(&c,
		     "[group big]\n"              /* 1 */
		     "prefix = 10.0.0.0/8\n"
		     "prefix = 2001:db8::/32\n"
		     "[group x]\n"
		     "prefix = 10.1.0.0/16\n"     /* 5: in big */
		     "prefix = 172.16.0.0/12\n"
		     "prefix = 10.1.2.3\n"        /* 7: in x's 10.1/16 */
		     "[group y]\n"
		     "prefix = 172.16.0.0/12\n"   /* 9: = x's */
		     "prefix = 2001:db8:ff::/48\n" /* 10: in big */
		     "prefix = 10.0.0.1/8\n"      /* 11: bad */
		     "[group x]\n"                /* 12: duplicate, keys ignored */
		     "prefix = 10.0.0.0/8\n"
		     "[group z]\n"
		     "prefix = 172.16.0.0/12\n"   /* 15: = x's, again */
		     "prefix = 0.0.0.0/0\n",      /* 16: contains 10/8 and 172.16/12 */
		     &errs);

	ck_assert_int_eq(n, 9);
	ck_assert_str_eq(errs,
			 "t.conf:11: prefix: bad prefix '10.0.0.1/8': host bits set (did you mean 10.0.0.0/8?)\n"
			 "t.conf:12: duplicate section [group x] (first at line 4)\n"
			 "t.conf:5: [group x] prefix 10.1.0.0/16 overlaps [group big] prefix 10.0.0.0/8 at line 2\n"
			 "t.conf:7: [group x] prefix 10.1.2.3/32 overlaps [group x] prefix 10.1.0.0/16 at line 5\n"
			 "t.conf:9: [group y] prefix 172.16.0.0/12 duplicates [group x] prefix 172.16.0.0/12 at line 6\n"
			 "t.conf:10: [group y] prefix 2001:db8:ff::/48 overlaps [group big] prefix 2001:db8::/32 at line 3\n"
			 "t.conf:15: [group z] prefix 172.16.0.0/12 duplicates [group x] prefix 172.16.0.0/12 at line 6\n"
			 "t.conf:16: [group z] prefix 0.0.0.0/0 overlaps [group big] prefix 10.0.0.0/8 at line 2\n"
			 "t.conf:16: [group z] prefix 0.0.0.0/0 overlaps [group x] prefix 172.16.0.0/12 at line 6\n");
	free(errs);
	mm_config_free(&c);
}
END_TEST

/* Text for n groups of k prefixes each (IPv4 /28s and IPv6 /32s, all
 * disjoint); *len gets its length. */
static char *groups_text(unsigned n, unsigned k, size_t *len)
{
	char *text = malloc((size_t)n * (24 + 32 * (size_t)k) + 256);
	size_t l = 0;

	ck_assert_ptr_nonnull(text);
	for (unsigned g = 0; g < n; g++) {
		l += (size_t)sprintf(text + l, "[group g%u]\n", g);
		for (unsigned j = 0; j < k; j++) {
			unsigned i = g * k + j;

			if (j % 2 == 0)
				l += (size_t)sprintf(text + l, "prefix = 10.%u.%u.%u/28\n", i >> 12, (i >> 4) & 255,
						     (i & 15) << 4);
			else
				l += (size_t)sprintf(text + l, "prefix = fd:%x::/32\n", i);
		}
	}
	*len = l;
	return text;
}

/* 4000 groups x 10 prefixes load fast (no pairwise checks), from a file
 * under the 1 MiB limit, and map right. */
START_TEST(test_many_groups)
{
	enum { N = 4000, K = 10 };
	struct mm_config c;
	size_t len;
	char *text = groups_text(N, K, &len), *errs = NULL, *path, tmpl[] = "/tmp/mamori-test-groups-XXXXXX";
	uint8_t a[16];
	clock_t t0;
	double secs;
	int fd;

	ck_assert_uint_lt(len, MM_CONFIG_FILE_MAX);
	fd = mkstemp(tmpl);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	path = tmpl;
	t0 = clock();
	ck_assert_int_eq(mm_config_load(&c, path, stderr), 0);
	secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	/* Milliseconds normally; generous for valgrind and the sanitizers. */
	ck_assert_msg(secs < 20.0, "loading %d groups took %.1f s", N, secs);
	unlink(path);
	ck_assert_uint_eq(c.ngroups, N);
	ck_assert_uint_eq(c.ngroup_prefixes, N * K);
	ck_assert_str_eq(c.groups[N - 1].name, "g3999");
	ck_assert_uint_eq(c.groups[N - 1].first_prefix, (N - 1) * K);
	ck_assert_uint_eq(c.group_prefix_group[N * K - 1], N - 1);
	/* Prefix i = 10 * g + j: even j 10.(i >> 12).((i >> 4) & 255).((i & 15) << 4)/28,
	 * odd j fd:i::/32.  i = 12340: 10.3.3.64/28 in g1234; i = 12341 is IPv6. */
	mm_addr_parse("10.3.3.77", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), 1234);
	mm_addr_parse("10.3.3.80", a);
	ck_assert_int_eq(mm_config_group_of(&c, a), -1);
	mm_addr_parse("fd:3035:1::", a); /* 0x3035 = 12341 */
	ck_assert_int_eq(mm_config_group_of(&c, a), 1234);
	mm_addr_parse("fd:9c3f::1", a); /* i = 39999 */
	ck_assert_int_eq(mm_config_group_of(&c, a), 3999);
	mm_config_free(&c);

	/* The name table and the overlap check still find what is wrong
	 * once everything has grown. */
	strcpy(text + len, "[group g17]\nprefix = 11.0.0.0/8\n[group last]\nprefix = 10.3.3.64/26\n");
	ck_assert_int_eq(load(&c, text, &errs), 3);
	ck_assert_str_eq(errs, "t.conf:44001: duplicate section [group g17] (first at line 188)\n"
			       "t.conf:44004: [group last] prefix 10.3.3.64/26 overlaps [group g1234] prefix "
			       "10.3.3.64/28 at line 13576\n"
			       "t.conf:44004: [group last] prefix 10.3.3.64/26 overlaps [group g1234] prefix "
			       "10.3.3.96/28 at line 13578\n");
	free(errs);
	free(text);
	mm_config_free(&c);
}
END_TEST

/* 4096 groups and 65536 prefixes are the limits: exactly them loads, one
 * more of either is one error, and the section or line beyond is ignored. */
START_TEST(test_group_limits)
{
	struct mm_config c;
	size_t len;
	char *text = groups_text(MM_MAX_GROUPS, MM_MAX_GROUP_PREFIXES / MM_MAX_GROUPS, &len), *errs = NULL;
	char *more;
	int lines = MM_MAX_GROUPS * (1 + MM_MAX_GROUP_PREFIXES / MM_MAX_GROUPS);
	char expect[128];

	ck_assert_int_eq(load(&c, text, &errs), 0);
	ck_assert_str_eq(errs, "");
	free(errs);
	ck_assert_uint_eq(c.ngroups, MM_MAX_GROUPS);
	ck_assert_uint_eq(c.ngroup_prefixes, MM_MAX_GROUP_PREFIXES);
	ck_assert_uint_eq(c.group_prefix_group[MM_MAX_GROUP_PREFIXES - 1], MM_MAX_GROUPS - 1);
	mm_config_free(&c);

	more = malloc(len + 128);
	ck_assert_ptr_nonnull(more);
	/* One more prefix in the last group. */
	sprintf(more, "%sprefix = 11.0.0.0/8\n", text);
	ck_assert_int_eq(load(&c, more, &errs), 1);
	snprintf(expect, sizeof(expect), "t.conf:%d: prefix: too many prefixes (max 65536 in all groups)\n",
		 lines + 1);
	ck_assert_str_eq(errs, expect);
	free(errs);
	/* One more group: rejected, its keys ignored (no missing-prefix or
	 * too-many-prefixes error on top). */
	sprintf(more, "%s[group one-too-many]\nprefix = 11.0.0.0/8\ndescription = x\n", text);
	ck_assert_int_eq(load(&c, more, &errs), 1);
	snprintf(expect, sizeof(expect), "t.conf:%d: too many [group] sections (max 4096)\n", lines + 1);
	ck_assert_str_eq(errs, expect);
	free(errs);
	ck_assert_uint_eq(c.ngroups, 0);
	free(more);
	free(text);
	mm_config_free(&c);
}
END_TEST

/* ---- the shipped files --------------------------------------------- */

/* config/mamori.conf loads clean and, apart from its example exporter and
 * example group (real sections, not defaults: checked on their own), says
 * exactly the defaults ("values = defaults"). */
START_TEST(test_example_config)
{
	struct mm_config c, d, view;
	char *pc, *pd, a[64];
	uint8_t addr[16];

	ck_assert_int_eq(mm_config_load(&c, "config/mamori.conf", stderr), 0);
	ck_assert_uint_eq(c.nexporters, 1);
	ck_assert_str_eq(c.exporters[0].name, "example-router");
	/* The example group: documentation prefixes only. */
	ck_assert_uint_eq(c.ngroups, 1);
	ck_assert_str_eq(c.groups[0].name, "customers");
	ck_assert_uint_eq(c.groups[0].first_prefix, 0);
	ck_assert_uint_eq(c.groups[0].nprefixes, 2);
	ck_assert_uint_eq(c.ngroup_prefixes, 2);
	ck_assert_str_eq(mm_prefix_str(&c.group_prefixes[0], a, sizeof(a)), "198.51.100.0/24");
	ck_assert_str_eq(mm_prefix_str(&c.group_prefixes[1], a, sizeof(a)), "2001:db8:100::/48");
	ck_assert_uint_eq(c.group_prefix_group[0], 0);
	ck_assert_uint_eq(c.group_prefix_group[1], 0);
	mm_addr_parse("198.51.100.200", addr);
	ck_assert_int_eq(mm_config_group_of(&c, addr), 0);
	mm_addr_parse("192.0.2.1", addr);
	ck_assert_int_eq(mm_config_group_of(&c, addr), -1);
	view = c;
	view.nexporters = 0;
	view.ngroups = 0;
	view.ngroup_prefixes = 0;
	mm_config_defaults(&d);
	pc = print_str(&view);
	pd = print_str(&d);
	ck_assert_str_eq(pc, pd);
	free(pc);
	free(pd);
	mm_config_free(&d);
	/* The example group's detection keys are the defaults too. */
	load_ok(&d, "[group customers]\nprefix = 198.51.100.0/24\nprefix = 2001:db8:100::/48\n"
		    "description = example: documentation prefixes\n");
	view.ngroups = c.ngroups;
	view.ngroup_prefixes = c.ngroup_prefixes;
	pc = print_str(&view);
	pd = print_str(&d);
	ck_assert_str_eq(pc, pd);
	free(pc);
	free(pd);
	mm_config_free(&c);
	mm_config_free(&d);
}
END_TEST

/* docs/config.md documents every key the parser knows (as `key`). */
START_TEST(test_docs_name_every_key)
{
	struct mm_config c;
	char *out, *doc, *line, *save = NULL;
	size_t dlen = 0;
	FILE *f = fopen("docs/config.md", "r");

	ck_assert_ptr_nonnull(f);
	doc = calloc(1, 1 << 20);
	dlen = fread(doc, 1, (1 << 20) - 1, f);
	fclose(f);
	ck_assert_uint_gt(dlen, 0);
	load_ok(&c, "[collector]\nnflog_group = 5\n[exporter e]\naddress = 192.0.2.1\n[group g]\nprefix = 10.0.0.0/8\n"
		    "[privacy]\nprotect = 192.0.2.0/24\n");
	ck_assert_uint_eq(c.ngroups, 1);
	out = print_str(&c);
	for (line = strtok_r(out, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char want[80];
		size_t klen;

		if (line[0] == '[') {
			char sec[40];
			sscanf(line, "[%39[a-z]", sec);
			snprintf(want, sizeof(want), "[%s", sec);
			ck_assert_msg(strstr(doc, want) != NULL, "docs/config.md lacks section %s", want);
			continue;
		}
		klen = strcspn(line, " ");
		snprintf(want, sizeof(want), "`%.*s`", (int)klen, line);
		ck_assert_msg(strstr(doc, want) != NULL, "docs/config.md lacks key %s", want);
	}
	free(out);
	free(doc);
	mm_config_free(&c);
}
END_TEST


/* mm_config_override: a key replaced in every section of its name, added
 * where missing, everything else as written; the result loads. */
/* The operations keys: metrics addresses, [daemon], [exabgp], as loaded,
 * printed and loaded again. */
START_TEST(test_operations_keys)
{
	struct mm_config c, d;
	char *out, *out2;

	load_ok(&c, "[collector]\nmetrics = 127.0.0.1:9551\n[detector]\nmetrics = [::1]:9552\n"
		    "[daemon]\nuser = nobody\ngroup = nogroup\nallow_root = yes\n"
		    "[exabgp]\nenabled = yes\ndry_run = yes\naction = flowspec\n"
		    "classes = amplification , carpet_bombing\nmin_tier = investigate\nnext_hop = 192.0.2.1\n"
		    "community = 64496:666\nrate_limit = 125000\nmax_routes = 7\n");
	ck_assert_str_eq(c.collector_metrics.text, "127.0.0.1:9551");
	ck_assert_int_eq(c.collector_metrics.ss.ss_family, AF_INET);
	ck_assert_str_eq(c.detector_metrics.text, "[::1]:9552");
	ck_assert_int_eq(c.detector_metrics.ss.ss_family, AF_INET6);
	ck_assert_str_eq(c.daemon_user, "nobody");
	ck_assert_str_eq(c.daemon_group, "nogroup");
	ck_assert_int_eq(c.allow_root, 1);
	ck_assert_int_eq(c.exabgp_enabled, 1);
	ck_assert_int_eq(c.exabgp_dry_run, 1);
	ck_assert_str_eq(c.exabgp_action, "flowspec");
	ck_assert_str_eq(c.exabgp_classes, "amplification , carpet_bombing");
	ck_assert_int_eq(c.exabgp_min_tier, 1);
	ck_assert_str_eq(c.exabgp_next_hop, "192.0.2.1");
	ck_assert_str_eq(c.exabgp_community, "64496:666");
	ck_assert_uint_eq(c.exabgp_rate_limit, 125000);
	ck_assert_uint_eq(c.exabgp_max_routes, 7);
	out = print_str(&c);
	ck_assert_ptr_nonnull(strstr(out, "\nmetrics = 127.0.0.1:9551\n"));
	ck_assert_ptr_nonnull(strstr(out, "\nmetrics = [::1]:9552\n"));
	ck_assert_ptr_nonnull(strstr(out, "[daemon]\nuser = nobody\ngroup = nogroup\nallow_root = yes\n"));
	ck_assert_ptr_nonnull(strstr(out, "min_tier = investigate\n"));
	load_ok(&d, out);
	out2 = print_str(&d);
	ck_assert_str_eq(out, out2);
	free(out);
	free(out2);
	mm_config_free(&c);
	mm_config_free(&d);
	/* Empty means none. */
	load_ok(&c, "[collector]\nmetrics =\n");
	ck_assert_str_eq(c.collector_metrics.text, "");
	mm_config_free(&c);
}
END_TEST

START_TEST(test_override)
{
	static const char text[] = "# sweep base\n"
				   "[window]\n"
				   "step = 10\n"
				   "[group a]\n"
				   "prefix = 10.0.0.0/16\n"
				   "score_investigate = 6   \n"
				   "[group b]\n"
				   "prefix = 10.1.0.0/16\n"
				   "[detector]\n"
				   "calm_steps=3";
	struct mm_config_set sets[2] = { { "group", "score_investigate", "9" }, { "detector", "calm_steps", "7" } };
	struct mm_config c;
	char *out = mm_config_override(text, sets, 2);

	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "# sweep base\n"
			      "[window]\n"
			      "step = 10\n"
			      "[group a]\n"
			      "prefix = 10.0.0.0/16\n"
			      "score_investigate = 9\n"
			      "[group b]\n"
			      "prefix = 10.1.0.0/16\n"
			      "score_investigate = 9\n"
			      "[detector]\n"
			      "calm_steps = 7\n");
	ck_assert_int_eq(mm_config_load_string(&c, "o.conf", out, stderr), 0);
	ck_assert_uint_eq(c.groups[0].score_investigate, 9);
	ck_assert_uint_eq(c.groups[1].score_investigate, 9);
	ck_assert_uint_eq(c.incident_calm_steps, 7);
	mm_config_free(&c);
	free(out);
	/* a key of a section the text lacks: nothing to put it in */
	{
		struct mm_config_set w = { "alerts", "hook_max", "2" };
		out = mm_config_override("[window]\nstep = 5\n", &w, 1);
		ck_assert_str_eq(out, "[window]\nstep = 5\n");
		free(out);
	}
	/* a key name that is a prefix of another is not it */
	{
		struct mm_config_set w = { "window", "step", "20" };
		out = mm_config_override("[window]\nsteps = 6\nstep = 5\n", &w, 1);
		ck_assert_str_eq(out, "[window]\nsteps = 6\nstep = 20\n");
		free(out);
	}
}
END_TEST

static Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("load");

	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_empty_and_comments);
	tcase_add_test(tc, test_all_keys);
	tcase_add_test(tc, test_bool_forms);
	tcase_add_test(tc, test_log_levels);
	tcase_add_test(tc, test_load_file);
	tcase_add_test(tc, test_load_file_errors);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof(bad) / sizeof(bad[0])));
	tcase_add_test(tc, test_retention_line);
	tcase_add_test(tc, test_line_too_long);
	tcase_add_test(tc, test_all_errors_collected);
	tcase_add_test(tc, test_overlaps_all_reported);
	tcase_add_test(tc, test_many_exporters);
	tcase_add_test(tc, test_too_many_errors);
	tcase_add_test(tc, test_error_echo_sanitised);
	suite_add_tcase(s, tc);

	tc = tcase_create("print");
	tcase_add_test(tc, test_print_format);
	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_password_never_printed);
	suite_add_tcase(s, tc);

	tc = tcase_create("exporters");
	tcase_add_test(tc, test_exporter_lookup);
	tcase_add_test(tc, test_exporter_lookup_by_hand);
	suite_add_tcase(s, tc);

	tc = tcase_create("groups");
	tcase_add_test(tc, test_groups_parsed);
	tcase_add_test(tc, test_group_of);
	tcase_add_test(tc, test_group_of_by_hand);
	tcase_add_test(tc, test_group_detection);
	tcase_add_test(tc, test_group_detection_errors);
	tcase_add_test(tc, test_group_overlaps_all_reported);
	tcase_add_test(tc, test_many_groups);
	tcase_add_test(tc, test_group_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_test(tc, test_example_config);
	tcase_add_test(tc, test_docs_name_every_key);
	tcase_add_test(tc, test_override);
	tcase_add_test(tc, test_operations_keys);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(config_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
