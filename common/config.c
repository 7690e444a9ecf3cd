/*
 * config.c - the configuration file (config.h, docs/config.md).
 *
 * Hand-written rather than libinih: inih stops at (and reports the line of)
 * the first error only and cannot put file:line on messages raised while a
 * value is being checked.  Here every error is reported as "file:line:
 * message" and parsing goes on, so one run of `-t` lists them all.
 *
 * Table-driven: every key is one row of a const table (section, key, type,
 * where it lands, bounds, default).  Adding a key is adding a row (and a
 * line in docs/config.md and config/mamori.conf).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mamori/config.h"
#include "mamori/exabgp.h"
#include "mamori/cryptopan.h"
#include "mamori/log.h"
#include "mamori/privdrop.h"

void mm_decode_limits_default(struct mm_decode_limits *l)
{
	l->max_exporters = MM_DEF_MAX_EXPORTERS;
	l->max_domains = MM_DEF_MAX_DOMAINS;
	l->max_templates = MM_DEF_MAX_TEMPLATES;
	l->max_template_fields = MM_DEF_MAX_TEMPLATE_FIELDS;
	l->max_samplers = MM_DEF_MAX_SAMPLERS;
	l->pending_max_sets = MM_DEF_PENDING_MAX_SETS;
	l->pending_max_bytes = MM_DEF_PENDING_MAX_BYTES;
	l->pending_timeout_ms = MM_DEF_PENDING_TIMEOUT_MS;
}

static const char *const combine_names[] = {
	[MM_COMBINE_EITHER] = "either",
	[MM_COMBINE_BOTH] = "both",
	[MM_COMBINE_CEILING] = "ceiling",
	[MM_COMBINE_BASELINE] = "baseline",
};
#define NCOMBINE (sizeof(combine_names) / sizeof(combine_names[0]))

const char *mm_combine_name(int combine)
{
	return combine >= 0 && (size_t)combine < NCOMBINE ? combine_names[combine] : NULL;
}

int mm_combine_parse(const char *name)
{
	for (size_t i = 0; i < NCOMBINE; i++)
		if (strcmp(combine_names[i], name) == 0)
			return (int)i;
	return -1;
}

/* ---- the tables ---------------------------------------------------- */

enum ctype {
	CT_UINT,     /* decimal integer in [min, max]; stored by field size */
	CT_BOOL,     /* yes/no, true/false, on/off, 1/0 -> int */
	CT_STR,      /* printable text, length in [min, size-1] */
	CT_NAME,     /* [A-Za-z0-9._-], length in [min, size-1] (goes in keys) */
	CT_PATH,     /* "" or an absolute path */
	CT_SECRET,   /* like CT_STR, never printed */
	CT_LISTEN,   /* ADDR:PORT, [V6ADDR]:PORT or :PORT, repeatable */
	CT_NFGROUP,  /* an NFLOG group 0..65535, repeatable, no duplicates */
	CT_PREFIX,   /* IPv4/IPv6 prefix, host bits clear */
	CT_GPREFIX,  /* a group's prefix: like CT_PREFIX, repeatable, appended to
		      * the flat group_prefixes array (max: in all groups) */
	CT_PPREFIX,  /* [privacy] protect: like CT_PREFIX, repeatable, appended to
		      * c->protect (the row's field is nprotect) */
	CT_LOGLEVEL, /* error|warn|info|debug -> int */
	CT_COMBINE,  /* either|both|ceiling|baseline -> int (enum mm_combine) */
	CT_TIER,     /* investigate|act -> int (enum mm_tier: 1, 2) */
	CT_ADDR,     /* one ADDR:PORT (struct mm_listen), empty = none */
};

enum {
	F_REPEAT = 1,   /* may appear more than once in a section */
	F_REQUIRED = 2, /* a section without it is an error */
	F_DEFCODE = 4,  /* default set in code (hostname, decode.h, listen) */
	F_INT = 8,      /* CT_UINT stored in an int */
	F_DASH = 16,    /* CT_PATH that may also be "-" (standard output) */
};

struct keydef {
	const char *section;
	const char *key;
	enum ctype type;
	size_t off, size; /* where in struct mm_config / mm_exporter_cfg */
	uint64_t min, max; /* numbers: bounds; strings: min length */
	uint64_t def;      /* numeric default */
	const char *defstr; /* string default */
	unsigned flags;
};

#define C_(f) offsetof(struct mm_config, f), sizeof(((struct mm_config *)0)->f)
#define E_(f) offsetof(struct mm_exporter_cfg, f), sizeof(((struct mm_exporter_cfg *)0)->f)
#define G_(f) offsetof(struct mm_group_cfg, f), sizeof(((struct mm_group_cfg *)0)->f)

/* Singleton sections, grouped by section in printing order. */
static const struct keydef cfg_keys[] = {
	{ "collector", "id", CT_NAME, C_(collector_id), 1, 0, 0, NULL, F_DEFCODE },
	{ "collector", "listen", CT_LISTEN, C_(listen), 0, 0, 0, NULL, F_REPEAT | F_DEFCODE },
	{ "collector", "rcvbuf", CT_UINT, C_(rcvbuf), 4096, 1u << 30, 33554432, NULL, 0 },
	{ "collector", "batch", CT_UINT, C_(batch), 1, 1024, 64, NULL, 0 },
	{ "collector", "default_sampling_rate", CT_UINT, C_(default_sampling_rate), 1, 1000000, 1, NULL, 0 },
	{ "collector", "allow_unlisted_exporters", CT_BOOL, C_(allow_unlisted_exporters), 0, 1, 1, NULL, 0 },
	{ "collector", "nflog_group", CT_NFGROUP, C_(nflog_groups), 0, 65535, 0, NULL, F_REPEAT },
	{ "collector", "nflog_sampling_rate", CT_UINT, C_(nflog_sampling_rate), 1, 1000000, 1, NULL, 0 },
	/* 40: an IPv4 header and the TCP header up to its flags fit. */
	{ "collector", "nflog_copy_range", CT_UINT, C_(nflog_copy_range), 40, MM_NFLOG_COPY_MAX, 128, NULL, 0 },
	{ "collector", "metrics", CT_ADDR, C_(collector_metrics), 0, 0, 0, "", 0 },

	{ "limits", "max_exporters", CT_UINT, C_(limits.max_exporters), 1, 1u << 20, 0, NULL, F_DEFCODE },
	{ "limits", "max_domains", CT_UINT, C_(limits.max_domains), 1, 4096, 0, NULL, F_DEFCODE },
	{ "limits", "max_templates", CT_UINT, C_(limits.max_templates), 1, 65536, 0, NULL, F_DEFCODE },
	/* 16384: a 65535-byte IPFIX message cannot declare more fields. */
	{ "limits", "max_template_fields", CT_UINT, C_(limits.max_template_fields), 1, 16384, 0, NULL, F_DEFCODE },
	{ "limits", "max_samplers", CT_UINT, C_(limits.max_samplers), 1, 65536, 0, NULL, F_DEFCODE },
	{ "limits", "pending_max_sets", CT_UINT, C_(limits.pending_max_sets), 1, 4096, 0, NULL, F_DEFCODE },
	{ "limits", "pending_max_bytes", CT_UINT, C_(limits.pending_max_bytes), 1024, 1u << 26, 0, NULL, F_DEFCODE },
	{ "limits", "pending_timeout_ms", CT_UINT, C_(limits.pending_timeout_ms), 100, 600000, 0, NULL, F_DEFCODE },

	{ "redis", "host", CT_STR, C_(redis_host), 1, 0, 0, "127.0.0.1", 0 },
	{ "redis", "port", CT_UINT, C_(redis_port), 1, 65535, 6379, NULL, 0 },
	{ "redis", "socket", CT_PATH, C_(redis_socket), 0, 0, 0, "", 0 },
	{ "redis", "db", CT_UINT, C_(redis_db), 0, 65535, 0, NULL, F_INT },
	{ "redis", "user", CT_STR, C_(redis_user), 0, 0, 0, "", 0 },
	{ "redis", "password", CT_SECRET, C_(redis_password), 0, 0, 0, "", 0 },
	{ "redis", "queue_max_mb", CT_UINT, C_(redis_queue_max_mb), 1, 65536, 256, NULL, 0 },
	{ "redis", "stall_timeout", CT_UINT, C_(redis_stall_timeout_s), 1, 600, 10, NULL, 0 },
	{ "redis", "backoff_max", CT_UINT, C_(redis_backoff_max_s), 1, 3600, 30, NULL, 0 },

	{ "window", "step", CT_UINT, C_(step_s), 1, 3600, 10, NULL, 0 },
	{ "window", "steps", CT_UINT, C_(window_steps), 1, 1440, 6, NULL, 0 },
	{ "window", "retention", CT_UINT, C_(retention_s), 60, 31536000, 86400, NULL, 0 },
	{ "window", "late_steps", CT_UINT, C_(late_steps), 0, 10, 1, NULL, 0 },
	{ "window", "max_hosts", CT_UINT, C_(max_hosts), 1, 16777216, 1000000, NULL, 0 },
	{ "window", "max_external", CT_UINT, C_(max_external), 0, 4194304, 65536, NULL, 0 },
	{ "window", "external_min_flows", CT_UINT, C_(external_min_flows), 0, 1000000000, 100, NULL, 0 },

	{ "detector", "slow_window_steps", CT_UINT, C_(slow_window_steps), 1, 1440, 30, NULL, 0 },
	{ "detector", "update_steps", CT_UINT, C_(incident_update_steps), 1, 8640, 6, NULL, 0 },
	{ "detector", "calm_steps", CT_UINT, C_(incident_calm_steps), 1, 8640, 6, NULL, 0 },
	{ "detector", "max_incidents", CT_UINT, C_(max_incidents), 1, 10000000, 100000, NULL, 0 },
	{ "detector", "max_prefixes", CT_UINT, C_(max_prefixes), 1, 4194304, 65536, NULL, 0 },
	{ "detector", "metrics", CT_ADDR, C_(detector_metrics), 0, 0, 0, "", 0 },

	{ "alerts", "stream", CT_STR, C_(alert_stream), 1, 0, 0, "mm:alerts", 0 },
	{ "alerts", "stream_maxlen", CT_UINT, C_(alert_stream_maxlen), 1, 100000000, 100000, NULL, 0 },
	{ "alerts", "stream_retention", CT_UINT, C_(alert_stream_retention_s), 60, 31536000, 2592000, NULL, 0 },
	{ "alerts", "channel", CT_STR, C_(alert_channel), 0, 0, 0, "mm:alerts", 0 },
	{ "alerts", "file", CT_PATH, C_(alert_file), 0, 0, 0, "", F_DASH },
	{ "alerts", "syslog", CT_BOOL, C_(alert_syslog), 0, 1, 0, NULL, 0 },
	{ "alerts", "hook", CT_PATH, C_(alert_hook), 0, 0, 0, "", 0 },
	{ "alerts", "hook_timeout", CT_UINT, C_(alert_hook_timeout_s), 1, 3600, 10, NULL, 0 },
	{ "alerts", "hook_max", CT_UINT, C_(alert_hook_max), 1, 256, 4, NULL, 0 },
	{ "alerts", "hook_min_tier", CT_TIER, C_(alert_hook_min_tier), 0, 0, 1, NULL, 0 },

	/* The collector's per-second ceiling check and the detector's
	 * adoption of what it raises (docs/fastpath.md). */
	{ "fastpath", "enabled", CT_BOOL, C_(fast_enabled), 0, 1, 1, NULL, 0 },
	{ "fastpath", "interval_ms", CT_UINT, C_(fast_interval_ms), 100, 10000, 1000, NULL, 0 },
	{ "fastpath", "check_ms", CT_UINT, C_(fast_check_ms), 10, 250, 250, NULL, 0 },
	{ "fastpath", "stream", CT_STR, C_(fast_stream), 1, 0, 0, "mm:fast", 0 },
	{ "fastpath", "stream_maxlen", CT_UINT, C_(fast_stream_maxlen), 1, 100000000, 100000, NULL, 0 },
	{ "fastpath", "poll_ms", CT_UINT, C_(fast_poll_ms), 10, 1000, 50, NULL, 0 },

	{ "log", "level", CT_LOGLEVEL, C_(log_level), 0, 0, MM_LOG_INFO, NULL, F_INT },

	{ "daemon", "user", CT_STR, C_(daemon_user), 0, 0, 0, "", 0 },
	{ "daemon", "group", CT_STR, C_(daemon_group), 0, 0, 0, "", 0 },
	{ "daemon", "allow_root", CT_BOOL, C_(allow_root), 0, 1, 0, NULL, 0 },

	{ "exabgp", "enabled", CT_BOOL, C_(exabgp_enabled), 0, 1, 0, NULL, 0 },
	{ "exabgp", "dry_run", CT_BOOL, C_(exabgp_dry_run), 0, 1, 0, NULL, 0 },
	{ "exabgp", "action", CT_STR, C_(exabgp_action), 1, 0, 0, "blackhole", 0 },
	{ "exabgp", "classes", CT_STR, C_(exabgp_classes), 1, 0, 0, "flood,syn_flood,amplification", 0 },
	{ "exabgp", "min_tier", CT_TIER, C_(exabgp_min_tier), 0, 0, 2, NULL, 0 },
	{ "exabgp", "next_hop", CT_STR, C_(exabgp_next_hop), 1, 0, 0, "self", 0 },
	{ "exabgp", "community", CT_STR, C_(exabgp_community), 1, 0, 0, "65535:666", 0 },
	{ "exabgp", "rate_limit", CT_UINT, C_(exabgp_rate_limit), 0, 4000000000u, 0, NULL, 0 },
	{ "exabgp", "max_routes", CT_UINT, C_(exabgp_max_routes), 1, 100000, 100, NULL, 0 },
	{ "privacy", "protect", CT_PPREFIX, C_(nprotect), 0, MM_MAX_PROTECT, 0, NULL, F_REPEAT },
	{ "privacy", "pseudonymise", CT_BOOL, C_(pseudonymise), 0, 1, 0, NULL, 0 },
	{ "privacy", "key_file", CT_PATH, C_(privacy_key_file), 0, 0, 0, "", 0 },
	{ "privacy", "cache_entries", CT_UINT, C_(pseudonym_cache), 0, 16777216, 1048576, NULL, 0 },
	{ "privacy", "deanon_log", CT_PATH, C_(deanon_log), 0, 0, 0, "", 0 },
};
#define NCFG_KEYS (sizeof(cfg_keys) / sizeof(cfg_keys[0]))

/* Text values that their user parses further: checked with that parser
 * at load (NULL when fine, else why not), so that the error has a line. */
static const struct {
	const char *section, *key;
	const char *(*check)(const char *v);
} value_checks[] = {
	{ "daemon", "user", mm_privdrop_check_name },
	{ "daemon", "group", mm_privdrop_check_name },
	{ "exabgp", "action", mm_exabgp_check_action },
	{ "exabgp", "classes", mm_exabgp_check_classes },
	{ "exabgp", "next_hop", mm_exabgp_check_next_hop },
	{ "exabgp", "community", mm_exabgp_check_community },
};

static const char *check_value(const struct keydef *k, const char *v)
{
	for (size_t i = 0; i < sizeof(value_checks) / sizeof(value_checks[0]); i++)
		if (strcmp(value_checks[i].section, k->section) == 0 && strcmp(value_checks[i].key, k->key) == 0)
			return value_checks[i].check(v);
	return NULL;
}

/* [exporter NAME]: offsets into struct mm_exporter_cfg. */
static const struct keydef exp_keys[] = {
	{ "exporter", "address", CT_PREFIX, E_(prefix), 0, 0, 0, NULL, F_REQUIRED },
	{ "exporter", "sampling_rate", CT_UINT, E_(sampling_rate), 0, 1000000, 0, NULL, 0 },
	{ "exporter", "default_rate", CT_UINT, E_(default_rate), 0, 1000000, 0, NULL, 0 },
	{ "exporter", "site", CT_NAME, E_(site), 0, 0, 0, "", 0 },
};
#define NEXP_KEYS (sizeof(exp_keys) / sizeof(exp_keys[0]))

/* [group NAME]: offsets into struct mm_group_cfg.  `prefix` lands in the
 * flat arrays of struct mm_config; its row counts them in nprefixes.  The
 * detection keys' defaults are the detector's (mm_detect_params_default,
 * detector/score.c; test_score checks that the two agree) and their
 * rationale is docs/detections.md. */
#define CEIL_MAX 4000000000u /* packets or flows per second: beyond any link */
static const struct keydef grp_keys[] = {
	{ "group", "prefix", CT_GPREFIX, G_(nprefixes), 0, MM_MAX_GROUP_PREFIXES, 0, NULL, F_REPEAT | F_REQUIRED },
	{ "group", "description", CT_STR, G_(description), 0, 0, 0, "", 0 },
	{ "group", "sampling_rate", CT_UINT, G_(sampling_rate), 1, 1000000, 1000, NULL, 0 },
	{ "group", "min_sampled_packets", CT_UINT, G_(min_sampled_packets), 1, 1000000, 10, NULL, 0 },
	{ "group", "min_sampled_flows", CT_UINT, G_(min_sampled_flows), 1, 1000000, 4, NULL, 0 },
	{ "group", "min_reflectors", CT_UINT, G_(min_reflectors), 1, 1000, 3, NULL, 0 },
	{ "group", "ceiling_pps", CT_UINT, G_(ceiling_pps), 0, CEIL_MAX, 1000000, NULL, 0 },
	{ "group", "ceiling_mbps", CT_UINT, G_(ceiling_mbps), 0, 10000000, 10000, NULL, 0 },
	{ "group", "ceiling_flows", CT_UINT, G_(ceiling_flows), 0, CEIL_MAX, 200000, NULL, 0 },
	{ "group", "ceiling_tcp_pps", CT_UINT, G_(ceiling_tcp_pps), 0, CEIL_MAX, 0, NULL, 0 },
	{ "group", "ceiling_udp_pps", CT_UINT, G_(ceiling_udp_pps), 0, CEIL_MAX, 0, NULL, 0 },
	{ "group", "ceiling_icmp_pps", CT_UINT, G_(ceiling_icmp_pps), 0, CEIL_MAX, 100000, NULL, 0 },
	{ "group", "ceiling_syn_pps", CT_UINT, G_(ceiling_syn_pps), 0, CEIL_MAX, 100000, NULL, 0 },
	{ "group", "ceiling_amp_pps", CT_UINT, G_(ceiling_amp_pps), 0, CEIL_MAX, 50000, NULL, 0 },
	{ "group", "ceiling_out_pps", CT_UINT, G_(ceiling_out_pps), 0, CEIL_MAX, 0, NULL, 0 },
	{ "group", "ceiling_out_mbps", CT_UINT, G_(ceiling_out_mbps), 0, 10000000, 0, NULL, 0 },
	{ "group", "single_source_pps", CT_UINT, G_(single_source_pps), 0, CEIL_MAX, 10000, NULL, 0 },
	{ "group", "min_flood_pps", CT_UINT, G_(min_flood_pps), 0, CEIL_MAX, 200, NULL, 0 },
	{ "group", "min_outbound_pps", CT_UINT, G_(min_outbound_pps), 0, CEIL_MAX, 500, NULL, 0 },
	{ "group", "min_exfil_kbps", CT_UINT, G_(min_exfil_kbps), 0, 100000000, 800, NULL, 0 },
	{ "group", "score_investigate", CT_UINT, G_(score_investigate), 1, 1000, 6, NULL, 0 },
	{ "group", "score_act", CT_UINT, G_(score_act), 1, 1000, 10, NULL, 0 },
	{ "group", "combine", CT_COMBINE, G_(combine), 0, 0, MM_COMBINE_EITHER, NULL, 0 },
	{ "group", "confirm_fast_hits", CT_UINT, G_(confirm_fast_hits), 1, 16, 2, NULL, 0 },
	{ "group", "confirm_fast_steps", CT_UINT, G_(confirm_fast_steps), 1, 16, 3, NULL, 0 },
	{ "group", "confirm_slow_hits", CT_UINT, G_(confirm_slow_hits), 1, 16, 6, NULL, 0 },
	{ "group", "confirm_slow_steps", CT_UINT, G_(confirm_slow_steps), 1, 16, 9, NULL, 0 },
	{ "group", "warmup_steps", CT_UINT, G_(warmup_steps), 1, 65535, 180, NULL, 0 },
	{ "group", "group_warmup_steps", CT_UINT, G_(group_warmup_steps), 1, 65535, 18, NULL, 0 },
	{ "group", "ewma_alpha", CT_UINT, G_(ewma_alpha), 1, 500, 10, NULL, 0 },
	{ "group", "learn_clip", CT_UINT, G_(learn_clip), 1, 100, 3, NULL, 0 },
	{ "group", "time_of_week", CT_BOOL, G_(time_of_week), 0, 1, 1, NULL, 0 },
	{ "group", "carpet_prefix4", CT_UINT, G_(carpet_prefix4), 0, 32, 24, NULL, 0 },
	{ "group", "carpet_prefix6", CT_UINT, G_(carpet_prefix6), 0, 128, 64, NULL, 0 },
};
#define NGRP_KEYS (sizeof(grp_keys) / sizeof(grp_keys[0]))

/* Parser bookkeeping per named section has room for this many keys. */
#define NAMED_KEYS_MAX 48
_Static_assert(NEXP_KEYS <= NAMED_KEYS_MAX && NGRP_KEYS <= NAMED_KEYS_MAX, "NAMED_KEYS_MAX too small");

enum sec_kind {
	SK_SINGLE,   /* [name], once per file; keys land in struct mm_config */
	SK_EXPORTER, /* [exporter NAME] -> c->exporters[] */
	SK_GROUP,    /* [group NAME] -> c->groups[] */
};

struct sectiondef {
	const char *name;
	enum sec_kind kind; /* named kinds: [name NAME], once per NAME */
	const struct keydef *keys;
	size_t nkeys;
	unsigned max; /* named kinds: most sections allowed, 0 = no limit */
};

/* In printing order. */
static const struct sectiondef sections[] = {
	{ "collector", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "limits", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "exporter", SK_EXPORTER, exp_keys, NEXP_KEYS, 0 },
	{ "group", SK_GROUP, grp_keys, NGRP_KEYS, MM_MAX_GROUPS },
	{ "redis", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "window", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "detector", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "alerts", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "fastpath", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "log", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "daemon", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "exabgp", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
	{ "privacy", SK_SINGLE, cfg_keys, NCFG_KEYS, 0 },
};
#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))
#define SEC_NONE (-1) /* before the first header */
#define SEC_SKIP (-2) /* inside a rejected header: keys ignored silently */

static const char *const default_listen[] = { "0.0.0.0:2055", "0.0.0.0:4739" };

/* ---- parser state -------------------------------------------------- */

/* Per instance of a named section. */
struct inst_meta {
	int key_line[NAMED_KEYS_MAX]; /* where each key was set, 0 = not set */
	int addr_ok;                  /* [exporter]: address parsed */
};

/* Per kind of named section. */
struct named {
	struct inst_meta *meta;        /* parallel to c->exporters / c->groups */
	unsigned cap;                  /* allocated in both (a power of two) */
	unsigned *hash;                /* name -> index + 1 (0 = free) */
	unsigned hcap;                 /* 2 * cap: never more than half full */
};

struct parser {
	struct mm_config *c;
	const char *name;
	FILE *errs;
	int nerr;
	int sec;                       /* index into sections[] or SEC_* */
	int sec_line[NSECTIONS];       /* singleton sections: header line */
	int key_line[NCFG_KEYS];       /* singleton keys: where set */
	int listen_line[MM_MAX_LISTEN];
	int nflog_line[MM_MAX_NFLOG_GROUPS];
	struct named named[NSECTIONS]; /* used for named kinds only */
	int *gp_line;                  /* parallel to c->group_prefixes */
	unsigned gpcap;
	unsigned ppcap;                /* room in c->protect */
};

static void perr(struct parser *ps, int line, const char *fmt, ...) MM_PRINTF(3, 4);

static void perr(struct parser *ps, int line, const char *fmt, ...)
{
	va_list ap;

	ps->nerr++;
	if (ps->errs == NULL || ps->nerr > MM_CONFIG_MAX_ERRORS)
		return;
	fprintf(ps->errs, "%s:%d: ", ps->name, line);
	va_start(ap, fmt);
	vfprintf(ps->errs, fmt, ap);
	va_end(ap);
	fputc('\n', ps->errs);
}

/* Operator text echoed in messages: bounded and printable. */
struct qbuf {
	char s[72];
};
static const char *q(struct qbuf *b, const char *v)
{
	return mm_sanitize_text(v, strlen(v), b->s, sizeof(b->s));
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

/* ---- value parsers ------------------------------------------------- */

/* Decimal digits only: no sign, no spaces, no 0x, no suffix.  0 ok,
 * -1 not a number, -2 too large for 64 bits. */
static int parse_u64(const char *v, uint64_t *out)
{
	uint64_t n = 0;

	if (*v == '\0')
		return -1;
	for (; *v != '\0'; v++) {
		unsigned d;

		if (*v < '0' || *v > '9')
			return -1;
		d = (unsigned)(*v - '0');
		if (n > (UINT64_MAX - d) / 10)
			return -2;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}

static int parse_bool(const char *v)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcmp(v, yes[i]) == 0)
			return 1;
		if (strcmp(v, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* Names end up in Redis keys, where ':' separates fields. */
#define NAME_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-"

static int name_ok(const char *v)
{
	return strspn(v, NAME_CHARS) == strlen(v);
}

/*
 * ADDR:PORT (numeric IPv4), [V6ADDR]:PORT, or :PORT (= 0.0.0.0:PORT, every
 * IPv4 address).  Host names are not looked up: a config check must give
 * the same answer on every machine.  Port 0 lets the kernel choose (tests).
 */
int mm_listen_parse(const char *v, struct mm_listen *l, const char **why)
{
	char host[64];
	const char *port;
	size_t hlen, vlen = strlen(v);
	uint64_t pn;
	int af;

	memset(l, 0, sizeof(*l));
	if (vlen >= sizeof(l->text)) {
		*why = "too long";
		return -1;
	}
	if (v[0] == '[') {
		const char *rb = strchr(v, ']');

		if (rb == NULL) {
			*why = "missing ']'";
			return -1;
		}
		if (rb[1] != ':') {
			*why = "expected [V6ADDR]:PORT";
			return -1;
		}
		hlen = (size_t)(rb - v - 1);
		if (hlen >= sizeof(host)) {
			*why = "address too long";
			return -1;
		}
		memcpy(host, v + 1, hlen);
		host[hlen] = '\0';
		port = rb + 2;
		af = 6;
	} else {
		const char *colon = strrchr(v, ':');

		if (colon == NULL) {
			*why = "missing port (use ADDR:PORT, [V6ADDR]:PORT or :PORT)";
			return -1;
		}
		if (memchr(v, ':', (size_t)(colon - v)) != NULL) {
			*why = "IPv6 addresses need brackets: [V6ADDR]:PORT";
			return -1;
		}
		hlen = (size_t)(colon - v);
		if (hlen >= sizeof(host)) {
			*why = "address too long";
			return -1;
		}
		if (hlen == 0) {
			strcpy(host, "0.0.0.0");
		} else {
			memcpy(host, v, hlen);
			host[hlen] = '\0';
		}
		port = colon + 1;
		af = 4;
	}
	if (parse_u64(port, &pn) != 0 || pn > 65535) {
		*why = "bad port (0..65535)";
		return -1;
	}
	if (af == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;

		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			*why = "not a numeric IPv4 address (host names are not looked up)";
			return -1;
		}
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		l->sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;

		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			*why = "not a numeric IPv6 address";
			return -1;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		l->sslen = sizeof(*sin6);
	}
	memcpy(l->text, v, vlen + 1);
	return 0;
}

/* Same socket address (port 0 never collides: each gets its own port). */
static int listen_same(const struct mm_listen *a, const struct mm_listen *b)
{
	if (a->ss.ss_family != b->ss.ss_family)
		return 0;
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->ss, *y = (const void *)&b->ss;
		return x->sin_port != 0 && x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)&a->ss, *y = (const void *)&b->ss;
	return x->sin6_port != 0 && x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* ---- storing values ------------------------------------------------- */

/* A table row whose field cannot hold what the row allows is a bug in this
 * file: checked for every row by mm_config_defaults, which every load
 * runs, so the tests catch it before anything is stored. */
static void row_check(const struct keydef *k)
{
	int ok;

	switch (k->type) {
	case CT_UINT:
		if (k->flags & F_INT)
			ok = k->size == sizeof(int) && k->max <= INT_MAX;
		else if (k->size == sizeof(uint16_t))
			ok = k->max <= UINT16_MAX;
		else
			ok = k->size == sizeof(uint32_t) && k->max <= UINT32_MAX;
		ok = ok && k->min <= k->max &&
		     ((k->flags & F_DEFCODE) || (k->min <= k->def && k->def <= k->max));
		break;
	case CT_BOOL:
	case CT_LOGLEVEL:
	case CT_COMBINE:
	case CT_TIER:
		ok = k->size == sizeof(int);
		break;
	case CT_PREFIX:
		ok = k->size == sizeof(struct mm_prefix);
		break;
	case CT_GPREFIX:
	case CT_PPREFIX:
		ok = k->size == sizeof(unsigned) && (k->flags & F_REPEAT) && k->max <= UINT_MAX;
		break;
	case CT_LISTEN:
		ok = k->size == sizeof(((struct mm_config *)0)->listen);
		break;
	case CT_ADDR:
		ok = k->size == sizeof(struct mm_listen);
		break;
	case CT_NFGROUP:
		ok = k->size == sizeof(((struct mm_config *)0)->nflog_groups) && k->max <= UINT16_MAX &&
		     (k->flags & F_REPEAT);
		break;
	default: /* strings: a char array with room for the default */
		ok = k->size > 1 && k->min < k->size &&
		     (k->defstr == NULL || strlen(k->defstr) < k->size);
		break;
	}
	if (!ok)
		abort();
}

static void store_uint(const struct keydef *k, void *base, uint64_t v)
{
	char *p = (char *)base + k->off;

	if (k->flags & F_INT) {
		int i = (int)v;
		memcpy(p, &i, sizeof(i));
	} else if (k->size == sizeof(uint16_t)) {
		uint16_t u = (uint16_t)v;
		memcpy(p, &u, sizeof(u));
	} else if (k->size == sizeof(uint32_t)) {
		uint32_t u = (uint32_t)v;
		memcpy(p, &u, sizeof(u));
	} else {
		abort(); /* a table row with a field it cannot hold */
	}
}

static uint64_t load_uint(const struct keydef *k, const void *base)
{
	const char *p = (const char *)base + k->off;

	if (k->flags & F_INT) {
		int i;
		memcpy(&i, p, sizeof(i));
		return (uint64_t)i;
	}
	if (k->size == sizeof(uint16_t)) {
		uint16_t u;
		memcpy(&u, p, sizeof(u));
		return u;
	}
	if (k->size == sizeof(uint32_t)) {
		uint32_t u;
		memcpy(&u, p, sizeof(u));
		return u;
	}
	abort();
}

/* A prefix value; errors reported (with the masked prefix suggested when
 * only host bits were wrong).  0 or -1. */
static int parse_prefix(struct parser *ps, int line, const struct keydef *k, const char *v,
			struct mm_prefix *p)
{
	struct qbuf qb;
	const char *why = NULL;

	if (mm_prefix_parse(v, p, &why) == 0)
		return 0;
	if (strcmp(why, "host bits set") == 0) {
		char sug[64];
		perr(ps, line, "%s: bad prefix '%s': host bits set (did you mean %s?)", k->key, q(&qb, v),
		     mm_prefix_str(p, sug, sizeof(sug)));
	} else {
		perr(ps, line, "%s: bad prefix '%s': %s", k->key, q(&qb, v), why);
	}
	return -1;
}

/* Append a prefix of the current (last) group to the flat arrays. */
static int add_group_prefix(struct parser *ps, int line, const struct keydef *k,
			    struct mm_group_cfg *g, const struct mm_prefix *p)
{
	struct mm_config *c = ps->c;
	unsigned n = c->ngroup_prefixes;

	if (n >= k->max) {
		perr(ps, line, "%s: too many prefixes (max %llu in all groups)", k->key,
		     (unsigned long long)k->max);
		return -1;
	}
	if (n == ps->gpcap) {
		unsigned ncap = ps->gpcap ? ps->gpcap * 2 : 16;
		struct mm_prefix *np = realloc(c->group_prefixes, ncap * sizeof(*np));
		uint16_t *ng;
		int *nl;

		if (np == NULL)
			goto oom;
		c->group_prefixes = np;
		ng = realloc(c->group_prefix_group, ncap * sizeof(*ng));
		if (ng == NULL)
			goto oom;
		c->group_prefix_group = ng;
		nl = realloc(ps->gp_line, ncap * sizeof(*nl));
		if (nl == NULL)
			goto oom;
		ps->gp_line = nl;
		ps->gpcap = ncap;
	}
	c->group_prefixes[n] = *p;
	c->group_prefix_group[n] = (uint16_t)(c->ngroups - 1); /* ngroups <= MM_MAX_GROUPS */
	ps->gp_line[n] = line;
	c->ngroup_prefixes++;
	g->nprefixes++;
	return 0;
oom:
	perr(ps, line, "out of memory");
	return -1;
}

/* Parse `v` for key `k` into base (struct mm_config, mm_exporter_cfg or
 * mm_group_cfg).  Errors are reported; returns 0 or -1. */
static int set_value(struct parser *ps, int line, const struct keydef *k, void *base,
		     const char *v, struct inst_meta *em)
{
	struct qbuf qb;
	char *dst = (char *)base + k->off;
	const char *why = NULL;
	uint64_t n;
	size_t len;
	int r;

	switch (k->type) {
	case CT_UINT:
		if (*v == '\0') {
			perr(ps, line, "%s: missing value", k->key);
			return -1;
		}
		r = parse_u64(v, &n);
		if (r == -1) {
			perr(ps, line, "%s: bad number '%s' (expected a decimal integer)", k->key, q(&qb, v));
			return -1;
		}
		if (r == -2 || n < k->min || n > k->max) {
			perr(ps, line, "%s: %s out of range (%llu..%llu)", k->key, q(&qb, v),
			     (unsigned long long)k->min, (unsigned long long)k->max);
			return -1;
		}
		store_uint(k, base, n);
		return 0;
	case CT_BOOL:
		r = parse_bool(v);
		if (r < 0) {
			perr(ps, line, "%s: bad boolean '%s' (use yes or no)", k->key, q(&qb, v));
			return -1;
		}
		memcpy(dst, &r, sizeof(r));
		return 0;
	case CT_LOGLEVEL:
		r = mm_log_level_parse(v);
		if (r < 0) {
			perr(ps, line, "%s: unknown log level '%s' (use error, warn, info or debug)", k->key,
			     q(&qb, v));
			return -1;
		}
		memcpy(dst, &r, sizeof(r));
		return 0;
	case CT_COMBINE:
		r = mm_combine_parse(v);
		if (r < 0) {
			perr(ps, line, "%s: unknown mode '%s' (use either, both, ceiling or baseline)", k->key,
			     q(&qb, v));
			return -1;
		}
		memcpy(dst, &r, sizeof(r));
		return 0;
	case CT_TIER:
		r = strcmp(v, "investigate") == 0 ? 1 : strcmp(v, "act") == 0 ? 2 : -1;
		if (r < 0) {
			perr(ps, line, "%s: unknown tier '%s' (use investigate or act)", k->key, q(&qb, v));
			return -1;
		}
		memcpy(dst, &r, sizeof(r));
		return 0;
	case CT_STR:
	case CT_NAME:
	case CT_PATH:
	case CT_SECRET:
		len = strlen(v);
		if (len < k->min) {
			perr(ps, line, "%s: must not be empty", k->key);
			return -1;
		}
		if (len > k->size - 1) {
			perr(ps, line, "%s: too long (max %zu characters)", k->key, k->size - 1);
			return -1;
		}
		for (size_t i = 0; i < len; i++) {
			if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
				perr(ps, line, "%s: control character in value", k->key);
				return -1;
			}
		}
		if (k->type == CT_NAME && !name_ok(v)) {
			perr(ps, line, "%s: bad name '%s' (letters, digits, '.', '_' and '-' only)", k->key,
			     q(&qb, v));
			return -1;
		}
		if (k->type == CT_PATH && len > 0 && v[0] != '/' &&
		    !((k->flags & F_DASH) && strcmp(v, "-") == 0)) {
			perr(ps, line, "%s: '%s' is not an absolute path", k->key, q(&qb, v));
			return -1;
		}
		if ((why = check_value(k, v)) != NULL) {
			perr(ps, line, "%s: bad value '%s': %s", k->key, q(&qb, v), why);
			return -1;
		}
		memcpy(dst, v, len + 1);
		return 0;
	case CT_PREFIX: {
		struct mm_prefix p;

		if (parse_prefix(ps, line, k, v, &p) < 0)
			return -1;
		memcpy(dst, &p, sizeof(p));
		if (em != NULL)
			em->addr_ok = 1;
		return 0;
	}
	case CT_GPREFIX: {
		struct mm_prefix p;

		if (parse_prefix(ps, line, k, v, &p) < 0)
			return -1;
		return add_group_prefix(ps, line, k, base, &p);
	}
	case CT_PPREFIX: {
		struct mm_config *c = ps->c;
		struct mm_prefix p;

		if (parse_prefix(ps, line, k, v, &p) < 0)
			return -1;
		if (c->nprotect >= k->max) {
			perr(ps, line, "%s: too many prefixes (max %llu)", k->key, (unsigned long long)k->max);
			return -1;
		}
		if (c->nprotect == ps->ppcap) {
			unsigned ncap = ps->ppcap ? ps->ppcap * 2 : 16;
			struct mm_prefix *np = realloc(c->protect, ncap * sizeof(*np));

			if (np == NULL) {
				perr(ps, line, "out of memory");
				return -1;
			}
			c->protect = np;
			ps->ppcap = ncap;
		}
		c->protect[c->nprotect++] = p;
		return 0;
	}
	case CT_NFGROUP: {
		struct mm_config *c = ps->c;

		r = parse_u64(v, &n);
		if (*v == '\0' || r == -1) {
			perr(ps, line, "%s: bad number '%s' (expected a decimal integer)", k->key, q(&qb, v));
			return -1;
		}
		if (r == -2 || n > k->max) {
			perr(ps, line, "%s: %s out of range (%llu..%llu)", k->key, q(&qb, v),
			     (unsigned long long)k->min, (unsigned long long)k->max);
			return -1;
		}
		for (unsigned i = 0; i < c->nflog_ngroups; i++) {
			if (c->nflog_groups[i] == n) {
				perr(ps, line, "%s: duplicate group %llu (first at line %d)", k->key,
				     (unsigned long long)n, ps->nflog_line[i]);
				return -1;
			}
		}
		if (c->nflog_ngroups >= MM_MAX_NFLOG_GROUPS) {
			perr(ps, line, "%s: too many groups (max %d)", k->key, MM_MAX_NFLOG_GROUPS);
			return -1;
		}
		ps->nflog_line[c->nflog_ngroups] = line;
		c->nflog_groups[c->nflog_ngroups++] = (uint16_t)n;
		return 0;
	}
	case CT_ADDR: {
		struct mm_listen l;

		if (*v == '\0') {
			memset(dst, 0, sizeof(l));
			return 0;
		}
		if (mm_listen_parse(v, &l, &why) < 0) {
			perr(ps, line, "%s: bad address '%s': %s", k->key, q(&qb, v), why);
			return -1;
		}
		memcpy(dst, &l, sizeof(l));
		return 0;
	}
	case CT_LISTEN: {
		struct mm_config *c = ps->c;
		struct mm_listen l;

		if (mm_listen_parse(v, &l, &why) < 0) {
			perr(ps, line, "%s: bad address '%s': %s", k->key, q(&qb, v), why);
			return -1;
		}
		for (unsigned i = 0; i < c->nlisten; i++) {
			if (listen_same(&c->listen[i], &l)) {
				perr(ps, line, "%s: duplicate address '%s' (first at line %d)", k->key,
				     q(&qb, v), ps->listen_line[i]);
				return -1;
			}
		}
		if (c->nlisten >= MM_MAX_LISTEN) {
			perr(ps, line, "%s: too many addresses (max %d)", k->key, MM_MAX_LISTEN);
			return -1;
		}
		ps->listen_line[c->nlisten] = line;
		c->listen[c->nlisten++] = l;
		return 0;
	}
	}
	abort();
}

/* ---- defaults ------------------------------------------------------ */

static void apply_defaults(const struct keydef *keys, size_t nkeys, void *base)
{
	for (size_t i = 0; i < nkeys; i++) {
		const struct keydef *k = &keys[i];
		char *dst = (char *)base + k->off;
		int iv;

		if (k->flags & F_DEFCODE)
			continue;
		switch (k->type) {
		case CT_UINT:
			store_uint(k, base, k->def);
			break;
		case CT_BOOL:
		case CT_LOGLEVEL:
		case CT_COMBINE:
		case CT_TIER:
			iv = (int)k->def;
			memcpy(dst, &iv, sizeof(iv));
			break;
		case CT_STR:
		case CT_NAME:
		case CT_PATH:
		case CT_SECRET:
			snprintf(dst, k->size, "%s", k->defstr != NULL ? k->defstr : "");
			break;
		case CT_ADDR: /* memset: none */
		case CT_LISTEN:
		case CT_NFGROUP:
		case CT_PREFIX:
		case CT_GPREFIX:
		case CT_PPREFIX:
			break;
		}
	}
}

static void default_listens(struct mm_config *c)
{
	const char *why;

	c->nlisten = 0;
	for (size_t i = 0; i < sizeof(default_listen) / sizeof(default_listen[0]); i++)
		if (mm_listen_parse(default_listen[i], &c->listen[c->nlisten], &why) == 0)
			c->nlisten++;
}

/* The host name, made into a valid id (it ends up in Redis keys). */
static void default_collector_id(char *id, size_t size)
{
	char host[256];
	size_t n;

	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	for (char *p = host; *p != '\0'; p++)
		if (strchr(NAME_CHARS, *p) == NULL)
			*p = '_';
	if (host[0] == '\0')
		strcpy(host, "mamori");
	/* A host name longer than an id is cut, on purpose. */
	n = strlen(host);
	if (n > size - 1)
		n = size - 1;
	memcpy(id, host, n);
	id[n] = '\0';
}

void mm_config_defaults(struct mm_config *c)
{
	for (size_t i = 0; i < NCFG_KEYS; i++)
		row_check(&cfg_keys[i]);
	for (size_t i = 0; i < NEXP_KEYS; i++)
		row_check(&exp_keys[i]);
	for (size_t i = 0; i < NGRP_KEYS; i++)
		row_check(&grp_keys[i]);
	memset(c, 0, sizeof(*c));
	apply_defaults(cfg_keys, NCFG_KEYS, c);
	default_collector_id(c->collector_id, sizeof(c->collector_id));
	default_listens(c);
	mm_decode_limits_default(&c->limits);
}

void mm_config_free(struct mm_config *c)
{
	free(c->exporters);
	c->exporters = NULL;
	c->nexporters = 0;
	mm_lpm_free(c->exporter_lpm);
	c->exporter_lpm = NULL;
	free(c->groups);
	c->groups = NULL;
	c->ngroups = 0;
	free(c->group_prefixes);
	c->group_prefixes = NULL;
	free(c->group_prefix_group);
	c->group_prefix_group = NULL;
	c->ngroup_prefixes = 0;
	mm_lpm_free(c->group_lpm);
	c->group_lpm = NULL;
	free(c->protect);
	c->protect = NULL;
	c->nprotect = 0;
}

/* ---- the parser ---------------------------------------------------- */

static const struct keydef *find_key(int sec, const char *key, size_t *idx)
{
	const struct sectiondef *sd = &sections[sec];

	for (size_t i = 0; i < sd->nkeys; i++) {
		if (strcmp(sd->keys[i].section, sd->name) == 0 && strcmp(sd->keys[i].key, key) == 0) {
			*idx = i;
			return &sd->keys[i];
		}
	}
	return NULL;
}

/* ---- named sections ([exporter NAME], [group NAME]) ----------------- */

static unsigned inst_count(const struct parser *ps, int sec)
{
	switch (sections[sec].kind) {
	case SK_EXPORTER:
		return ps->c->nexporters;
	case SK_GROUP:
		return ps->c->ngroups;
	case SK_SINGLE:
		break;
	}
	return 1;
}

/* Where instance i's keys land. */
static void *inst_base(const struct parser *ps, int sec, unsigned i)
{
	switch (sections[sec].kind) {
	case SK_EXPORTER:
		return &ps->c->exporters[i];
	case SK_GROUP:
		return &ps->c->groups[i];
	case SK_SINGLE:
		break;
	}
	return ps->c;
}

static const char *inst_name(const struct parser *ps, int sec, unsigned i)
{
	switch (sections[sec].kind) {
	case SK_EXPORTER:
		return ps->c->exporters[i].name;
	case SK_GROUP:
		return ps->c->groups[i].name;
	case SK_SINGLE:
		break;
	}
	return "";
}

static int inst_line(const struct parser *ps, int sec, unsigned i)
{
	switch (sections[sec].kind) {
	case SK_EXPORTER:
		return ps->c->exporters[i].line;
	case SK_GROUP:
		return ps->c->groups[i].line;
	case SK_SINGLE:
		break;
	}
	return 0;
}

static size_t grp_key_index(const char *key)
{
	for (size_t i = 0; i < NGRP_KEYS; i++)
		if (strcmp(grp_keys[i].key, key) == 0)
			return i;
	abort();
}

/* A pair of a group's keys where `low` may not exceed `high`: reported at
 * the later of the two lines that were written (the section's line when
 * both are defaults, which cannot happen with the shipped defaults). */
static void check_group_pair(struct parser *ps, const struct inst_meta *em, const struct mm_group_cfg *g,
			     const char *low, uint32_t lv, const char *high, uint32_t hv, const char *why)
{
	int ll = em->key_line[grp_key_index(low)], hl = em->key_line[grp_key_index(high)];
	int line = ll > hl ? ll : hl;

	if (lv <= hv)
		return;
	perr(ps, line != 0 ? line : g->line, "[group %s]: %s %u %s %s %u", g->name, low, lv, why, high, hv);
}

/* Checks between a group's detection keys, at the end of its section so
 * that they come in file order. */
static void check_group_keys(struct parser *ps, unsigned gi)
{
	const struct inst_meta *em = &ps->named[ps->sec].meta[gi];
	const struct mm_group_cfg *g = &ps->c->groups[gi];

	check_group_pair(ps, em, g, "score_investigate", g->score_investigate, "score_act", g->score_act,
			 "is above");
	check_group_pair(ps, em, g, "confirm_fast_hits", g->confirm_fast_hits, "confirm_fast_steps",
			 g->confirm_fast_steps, "is more than");
	check_group_pair(ps, em, g, "confirm_slow_hits", g->confirm_slow_hits, "confirm_slow_steps",
			 g->confirm_slow_steps, "is more than");
}

/* End of a section: required keys present? */
static void end_section(struct parser *ps)
{
	const struct sectiondef *sd;
	const struct inst_meta *em;
	unsigned last;

	if (ps->sec < 0 || sections[ps->sec].kind == SK_SINGLE)
		return;
	sd = &sections[ps->sec];
	last = inst_count(ps, ps->sec) - 1;
	em = &ps->named[ps->sec].meta[last];
	for (size_t i = 0; i < sd->nkeys; i++)
		if ((sd->keys[i].flags & F_REQUIRED) && em->key_line[i] == 0)
			perr(ps, inst_line(ps, ps->sec, last), "[%s %s]: missing required key '%s'", sd->name,
			     inst_name(ps, ps->sec, last), sd->keys[i].key);
	if (sd->kind == SK_GROUP)
		check_group_keys(ps, last);
}

/* Section names are looked up in a hash table per kind (open addressing,
 * FNV-1a) so that duplicate detection stays linear in the number of
 * sections. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static int name_find(const struct parser *ps, int sec, const char *name)
{
	const struct named *nm = &ps->named[sec];

	if (nm->hcap == 0)
		return -1;
	for (uint32_t h = name_hash(name) & (nm->hcap - 1);; h = (h + 1) & (nm->hcap - 1)) {
		unsigned v = nm->hash[h];

		if (v == 0)
			return -1;
		if (strcmp(inst_name(ps, sec, v - 1), name) == 0)
			return (int)(v - 1);
	}
}

static void name_put(struct parser *ps, int sec, unsigned idx)
{
	struct named *nm = &ps->named[sec];
	uint32_t h = name_hash(inst_name(ps, sec, idx)) & (nm->hcap - 1);

	while (nm->hash[h] != 0)
		h = (h + 1) & (nm->hcap - 1);
	nm->hash[h] = idx + 1;
}

/* Room for one more instance of a named kind: the array in *c, the
 * parser's meta and a name table twice that size. */
static int named_grow(struct parser *ps, int sec)
{
	struct named *nm = &ps->named[sec];
	unsigned n = inst_count(ps, sec), ncap = nm->cap ? nm->cap * 2 : 8; /* a power of two */
	struct inst_meta *meta;
	unsigned *nh;

	if (sections[sec].kind == SK_EXPORTER) {
		struct mm_exporter_cfg *ne = realloc(ps->c->exporters, ncap * sizeof(*ne));
		if (ne == NULL)
			return -1;
		ps->c->exporters = ne;
	} else {
		struct mm_group_cfg *ng = realloc(ps->c->groups, ncap * sizeof(*ng));
		if (ng == NULL)
			return -1;
		ps->c->groups = ng;
	}
	meta = realloc(nm->meta, ncap * sizeof(*meta));
	if (meta == NULL)
		return -1;
	nm->meta = meta;
	nh = calloc(2 * (size_t)ncap, sizeof(*nh));
	if (nh == NULL)
		return -1;
	free(nm->hash);
	nm->hash = nh;
	nm->hcap = 2 * ncap;
	nm->cap = ncap;
	for (unsigned i = 0; i < n; i++)
		name_put(ps, sec, i);
	return 0;
}

static int add_named(struct parser *ps, int sec, const char *name, int line)
{
	struct mm_config *c = ps->c;
	unsigned n = inst_count(ps, sec);

	if (n == ps->named[sec].cap && named_grow(ps, sec) < 0)
		return -1;
	memset(&ps->named[sec].meta[n], 0, sizeof(ps->named[sec].meta[0]));
	if (sections[sec].kind == SK_EXPORTER) {
		struct mm_exporter_cfg *e = &c->exporters[n];

		memset(e, 0, sizeof(*e));
		apply_defaults(exp_keys, NEXP_KEYS, e);
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->line = line;
		c->nexporters++;
	} else {
		struct mm_group_cfg *g = &c->groups[n];

		memset(g, 0, sizeof(*g));
		apply_defaults(grp_keys, NGRP_KEYS, g);
		snprintf(g->name, sizeof(g->name), "%s", name);
		g->line = line;
		g->first_prefix = c->ngroup_prefixes;
		c->ngroups++;
	}
	name_put(ps, sec, n);
	return 0;
}

static void parse_header(struct parser *ps, char *s, int line)
{
	struct qbuf qb;
	char *close = strchr(s, ']');
	char *type, *name;
	int sec = -1, dup;

	ps->sec = SEC_SKIP;
	if (close == NULL) {
		perr(ps, line, "bad section header: missing ']'");
		return;
	}
	if (close[1] != '\0') {
		perr(ps, line, "unexpected text after ']'");
		return;
	}
	*close = '\0';
	type = trim(s + 1);
	name = type + strcspn(type, " \t");
	if (*name != '\0') {
		*name++ = '\0';
		name = trim(name);
	}
	if (*type == '\0') {
		perr(ps, line, "empty section header");
		return;
	}
	if (name[strcspn(name, " \t")] != '\0') {
		perr(ps, line, "bad section header (expected [section] or [section NAME])");
		return;
	}
	for (size_t i = 0; i < NSECTIONS; i++)
		if (strcmp(sections[i].name, type) == 0)
			sec = (int)i;
	if (sec < 0) {
		perr(ps, line, "unknown section [%s]", q(&qb, type));
		return;
	}
	if (sections[sec].kind == SK_SINGLE) {
		if (*name != '\0') {
			perr(ps, line, "section [%s] takes no name", type);
			return;
		}
		if (ps->sec_line[sec] != 0) {
			perr(ps, line, "duplicate section [%s] (first at line %d)", type, ps->sec_line[sec]);
			return;
		}
		ps->sec_line[sec] = line;
		ps->sec = sec;
		return;
	}
	if (*name == '\0') {
		perr(ps, line, "section [%s] needs a name: [%s NAME]", type, type);
		return;
	}
	if (strlen(name) >= MM_NAME_MAX || !name_ok(name)) {
		perr(ps, line, "bad %s name '%s' (1..%d letters, digits, '.', '_' or '-')", type,
		     q(&qb, name), MM_NAME_MAX - 1);
		return;
	}
	dup = name_find(ps, sec, name);
	if (dup >= 0) {
		perr(ps, line, "duplicate section [%s %s] (first at line %d)", type, name,
		     inst_line(ps, sec, (unsigned)dup));
		return;
	}
	if (sections[sec].max != 0 && inst_count(ps, sec) >= sections[sec].max) {
		perr(ps, line, "too many [%s] sections (max %u)", type, sections[sec].max);
		return;
	}
	if (add_named(ps, sec, name, line) < 0) {
		perr(ps, line, "out of memory");
		return;
	}
	ps->sec = sec;
}

/* "[collector]" or "[exporter edge1]" for messages. */
static const char *sec_label(const struct parser *ps, char *buf, size_t len)
{
	const struct sectiondef *sd = &sections[ps->sec];

	if (sd->kind != SK_SINGLE)
		snprintf(buf, len, "[%s %s]", sd->name, inst_name(ps, ps->sec, inst_count(ps, ps->sec) - 1));
	else
		snprintf(buf, len, "[%s]", sd->name);
	return buf;
}

static void parse_keyline(struct parser *ps, char *s, int line)
{
	char lbl[MM_NAME_MAX + 16];
	struct qbuf qb;
	char *eq = strchr(s, '=');
	const struct sectiondef *sd;
	const struct keydef *k;
	struct inst_meta *em = NULL;
	char *key, *val;
	void *base;
	int *seen;
	size_t idx;

	if (eq == NULL) {
		perr(ps, line, "missing '=' (expected key = value)");
		return;
	}
	*eq = '\0';
	key = trim(s);
	val = trim(eq + 1);
	if (*key == '\0') {
		perr(ps, line, "missing key before '='");
		return;
	}
	if (ps->sec == SEC_NONE) {
		perr(ps, line, "key '%s' outside any section", q(&qb, key));
		return;
	}
	if (ps->sec == SEC_SKIP)
		return;
	sd = &sections[ps->sec];
	k = find_key(ps->sec, key, &idx);
	if (k == NULL) {
		perr(ps, line, "unknown key '%s' in %s", q(&qb, key), sec_label(ps, lbl, sizeof(lbl)));
		return;
	}
	if (sd->kind != SK_SINGLE) {
		unsigned last = inst_count(ps, ps->sec) - 1;

		em = &ps->named[ps->sec].meta[last];
		seen = &em->key_line[idx];
		base = inst_base(ps, ps->sec, last);
	} else {
		seen = &ps->key_line[idx];
		base = ps->c;
	}
	if (*seen != 0 && !(k->flags & F_REPEAT)) {
		perr(ps, line, "duplicate key '%s' in %s (first at line %d)", key,
		     sec_label(ps, lbl, sizeof(lbl)), *seen);
		return;
	}
	/* Recorded before the value is checked: a bad value is one error,
	 * not also a "missing required key". */
	*seen = line;
	set_value(ps, line, k, base, val, em);
}

static void parse_line(struct parser *ps, char *s, int line)
{
	s = trim(s);
	if (*s == '\0' || *s == '#' || *s == ';')
		return;
	if (*s == '[') {
		end_section(ps);
		parse_header(ps, s, line);
	} else {
		parse_keyline(ps, s, line);
	}
}

static size_t key_index(const char *section, const char *key)
{
	for (size_t i = 0; i < NCFG_KEYS; i++)
		if (strcmp(cfg_keys[i].section, section) == 0 && strcmp(cfg_keys[i].key, key) == 0)
			return i;
	abort();
}

static size_t exp_key_index(const char *key)
{
	for (size_t i = 0; i < NEXP_KEYS; i++)
		if (strcmp(exp_keys[i].key, key) == 0)
			return i;
	abort();
}

/* ---- overlapping prefixes ------------------------------------------- */

struct pfx_ref {
	struct mm_prefix p;
	unsigned owner; /* exporters[] or groups[] index */
	unsigned ord;   /* file order, for ties */
	int line;       /* where the prefix was written */
};

struct overlap {
	int line, other_line; /* reported at the later of the two lines */
	size_t at, other;     /* refs[] indices */
	int dup;              /* the same prefix twice */
};

static int pfx_ref_cmp(const void *x, const void *y)
{
	const struct pfx_ref *a = x, *b = y;
	int r = memcmp(a->p.addr, b->p.addr, sizeof(a->p.addr));

	if (r != 0)
		return r;
	if (a->p.len != b->p.len)
		return a->p.len < b->p.len ? -1 : 1;
	return a->ord < b->ord ? -1 : a->ord > b->ord;
}

static int overlap_cmp(const void *x, const void *y)
{
	const struct overlap *a = x, *b = y;

	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	return a->other_line < b->other_line ? -1 : a->other_line > b->other_line;
}

/*
 * An address must map to one section only: with nested prefixes an
 * override would depend on which one is longer, easy to get wrong without
 * noticing.  Prefixes are nested or disjoint, so sorting them by (address,
 * length) puts every prefix right after the chain of those that contain
 * it; a stack walk then finds each contained prefix's nearest container in
 * O(n log n) (a pairwise check took seconds on a 1 MiB file).  Each
 * contained prefix is reported once, against that container.  With `dups`
 * the same prefix twice has a message of its own, and every later copy is
 * reported against the first.  refs[] is sorted in place; sec is the kind
 * of named section the owners are, key the name of the prefix key.
 */
static void check_overlaps(struct parser *ps, int sec, const char *key, struct pfx_ref *refs, size_t n,
			   int dups)
{
	const char *type = sections[sec].name;
	size_t sp = 0, no = 0;
	size_t *stack = malloc((n + 1) * sizeof(*stack));
	struct overlap *ov = malloc((n + 1) * sizeof(*ov));

	if (stack == NULL || ov == NULL) {
		perr(ps, 0, "out of memory");
		goto out;
	}
	qsort(refs, n, sizeof(*refs), pfx_ref_cmp);
	for (size_t r = 0; r < n; r++) {
		while (sp > 0 && !mm_prefix_contains(&refs[stack[sp - 1]].p, refs[r].p.addr))
			sp--;
		if (sp > 0) {
			size_t y = stack[sp - 1];
			int lx = refs[r].line, ly = refs[y].line;
			int dup = dups && refs[y].p.len == refs[r].p.len;

			ov[no++] = lx > ly ? (struct overlap){ lx, ly, r, y, dup } : (struct overlap){ ly, lx, y, r, dup };
			if (dup)
				continue;
		}
		stack[sp++] = r;
	}
	qsort(ov, no, sizeof(*ov), overlap_cmp);
	for (size_t i = 0; i < no; i++) {
		const struct pfx_ref *a = &refs[ov[i].at], *b = &refs[ov[i].other];
		char pa[64], pb[64];

		perr(ps, ov[i].line, "[%s %s] %s %s %s [%s %s] %s %s at line %d", type,
		     inst_name(ps, sec, a->owner), key, mm_prefix_str(&a->p, pa, sizeof(pa)),
		     ov[i].dup ? "duplicates" : "overlaps", type, inst_name(ps, sec, b->owner), key,
		     mm_prefix_str(&b->p, pb, sizeof(pb)), ov[i].other_line);
	}
out:
	free(stack);
	free(ov);
}

static int sec_index(const char *name)
{
	for (size_t i = 0; i < NSECTIONS; i++)
		if (strcmp(sections[i].name, name) == 0)
			return (int)i;
	abort();
}

/* [exporter] addresses: nested or equal ones are both "overlaps". */
static void check_exporter_overlaps(struct parser *ps)
{
	struct mm_config *c = ps->c;
	int sec = sec_index("exporter");
	size_t ka = exp_key_index("address"), n = 0;
	struct pfx_ref *refs = malloc((c->nexporters + 1) * sizeof(*refs));

	if (refs == NULL) {
		perr(ps, 0, "out of memory");
		return;
	}
	for (unsigned i = 0; i < c->nexporters; i++) {
		const struct inst_meta *em = &ps->named[sec].meta[i];

		if (em->addr_ok)
			refs[n++] = (struct pfx_ref){ c->exporters[i].prefix, i, i, em->key_line[ka] };
	}
	check_overlaps(ps, sec, "address", refs, n, 0);
	free(refs);
}

/* [group] prefixes, within and across groups: one address, one group.  Only
 * prefixes that parsed are in the flat array. */
static void check_group_overlaps(struct parser *ps)
{
	struct mm_config *c = ps->c;
	struct pfx_ref *refs = malloc(((size_t)c->ngroup_prefixes + 1) * sizeof(*refs));

	if (refs == NULL) {
		perr(ps, 0, "out of memory");
		return;
	}
	for (unsigned i = 0; i < c->ngroup_prefixes; i++)
		refs[i] = (struct pfx_ref){ c->group_prefixes[i], c->group_prefix_group[i], i, ps->gp_line[i] };
	check_overlaps(ps, sec_index("group"), "prefix", refs, c->ngroup_prefixes, 1);
	free(refs);
}

/* Pseudonyms need a key; a group prefix must map to one prefix. */
static void check_privacy(struct parser *ps)
{
	struct mm_config *c = ps->c;
	char pa[64];

	c->privacy_key_line = ps->key_line[key_index("privacy", "key_file")];
	if (!c->pseudonymise)
		return;
	if (c->privacy_key_file[0] == '\0')
		perr(ps, ps->key_line[key_index("privacy", "pseudonymise")],
		     "pseudonymise = yes needs key_file (the Crypto-PAn key, docs/privacy.md)");
	for (unsigned i = 0; i < c->ngroup_prefixes; i++)
		if (mm_prefix_mixes_v4mapped(&c->group_prefixes[i]))
			perr(ps, ps->gp_line[i],
			     "[group %s] prefix %s holds IPv4-mapped and other IPv6 addresses, which are "
			     "pseudonymised apart (pseudonymise = yes): give its IPv4 part as IPv4 prefixes",
			     c->groups[c->group_prefix_group[i]].name,
			     mm_prefix_str(&c->group_prefixes[i], pa, sizeof(pa)));
}

/* Checks that involve more than one key. */
static void validate(struct parser *ps)
{
	struct mm_config *c = ps->c;
	uint64_t window = (uint64_t)c->step_s * c->window_steps;

	if (c->retention_s < window) {
		int line = ps->key_line[key_index("window", "retention")];
		int l1 = ps->key_line[key_index("window", "step")];
		int l2 = ps->key_line[key_index("window", "steps")];

		if (line == 0)
			line = l1 > l2 ? l1 : l2;
		perr(ps, line, "retention %u s is shorter than one window (step %u s x %u steps = %llu s)",
		     c->retention_s, c->step_s, c->window_steps, (unsigned long long)window);
	}

	/* The interval is measured in whole checks (fastpath.h's buckets). */
	if (c->fast_interval_ms % c->fast_check_ms != 0 || c->fast_interval_ms / c->fast_check_ms > MM_FAST_MAX_CHECKS) {
		int l1 = ps->key_line[key_index("fastpath", "interval_ms")];
		int l2 = ps->key_line[key_index("fastpath", "check_ms")];

		perr(ps, l1 > l2 ? l1 : l2, "interval_ms %u is not a multiple of check_ms %u of at most %u checks",
		     c->fast_interval_ms, c->fast_check_ms, MM_FAST_MAX_CHECKS);
	}

	check_exporter_overlaps(ps);
	check_group_overlaps(ps);
	check_privacy(ps);
}

static int build_lpm(struct mm_config *c)
{
	if (c->nexporters > 0) {
		c->exporter_lpm = mm_lpm_new();
		if (c->exporter_lpm == NULL)
			return -1;
		for (unsigned i = 0; i < c->nexporters; i++)
			if (mm_lpm_insert(c->exporter_lpm, &c->exporters[i].prefix, (int)i) < 0)
				return -1;
	}
	if (c->ngroup_prefixes > 0) {
		c->group_lpm = mm_lpm_new();
		if (c->group_lpm == NULL)
			return -1;
		for (unsigned i = 0; i < c->ngroup_prefixes; i++)
			if (mm_lpm_insert(c->group_lpm, &c->group_prefixes[i], c->group_prefix_group[i]) < 0)
				return -1;
	}
	return 0;
}

static int config_parse(struct mm_config *c, const char *name, const char *text, size_t len,
			FILE *errs)
{
	struct parser ps;
	char buf[MM_CONFIG_LINE_MAX + 1];
	size_t pos = 0;
	int line = 0;

	mm_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", name);
	c->nlisten = 0; /* the defaults apply only if the file names none */
	memset(&ps, 0, sizeof(ps));
	ps.c = c;
	ps.name = name;
	ps.errs = errs;
	ps.sec = SEC_NONE;

	while (pos < len && ps.nerr < MM_CONFIG_MAX_ERRORS) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t end = nl != NULL ? (size_t)(nl - text) : len;
		size_t n = end - pos;

		line++;
		if (n > 0 && text[end - 1] == '\r')
			n--; /* CRLF files */
		if (n > MM_CONFIG_LINE_MAX - 1) {
			perr(&ps, line, "line too long (max %d characters)", MM_CONFIG_LINE_MAX - 1);
		} else if (memchr(text + pos, '\0', n) != NULL) {
			perr(&ps, line, "NUL byte in line");
		} else {
			memcpy(buf, text + pos, n);
			buf[n] = '\0';
			parse_line(&ps, buf, line);
		}
		pos = end + 1;
	}
	if (ps.nerr >= MM_CONFIG_MAX_ERRORS && pos < len) {
		if (errs != NULL)
			fprintf(errs, "%s:%d: too many errors, giving up\n", name, line);
	} else if (ps.nerr < MM_CONFIG_MAX_ERRORS) {
		end_section(&ps);
		validate(&ps);
	}
	if (c->nlisten == 0)
		default_listens(c);
	if (ps.nerr == 0 && build_lpm(c) < 0) {
		ps.nerr++;
		if (errs != NULL)
			fprintf(errs, "%s: out of memory\n", name);
	}
	for (size_t i = 0; i < NSECTIONS; i++) {
		free(ps.named[i].meta);
		free(ps.named[i].hash);
	}
	free(ps.gp_line);
	if (ps.nerr > 0) {
		mm_config_free(c);
		mm_config_defaults(c);
		snprintf(c->path, sizeof(c->path), "%s", name);
	}
	return ps.nerr;
}

int mm_config_load_string(struct mm_config *c, const char *name, const char *text, FILE *errs)
{
	return config_parse(c, name, text, strlen(text), errs);
}

int mm_config_load(struct mm_config *c, const char *path, FILE *errs)
{
	FILE *f;
	char *buf;
	size_t len = 0;
	int r, err;

	mm_config_defaults(c);
	snprintf(c->path, sizeof(c->path), "%s", path);
	f = fopen(path, "r");
	if (f == NULL) {
		if (errs != NULL)
			fprintf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		return 1;
	}
	buf = malloc(MM_CONFIG_FILE_MAX + 1);
	if (buf == NULL) {
		fclose(f);
		if (errs != NULL)
			fprintf(errs, "%s: out of memory\n", path);
		return 1;
	}
	/* Read one byte past the limit to tell "exactly the limit" from
	 * "too large". */
	len = fread(buf, 1, MM_CONFIG_FILE_MAX + 1, f);
	err = ferror(f) ? errno : 0;
	fclose(f);
	if (err != 0 || len > MM_CONFIG_FILE_MAX) {
		if (errs != NULL) {
			if (err != 0)
				fprintf(errs, "%s: cannot read: %s\n", path, strerror(err));
			else
				fprintf(errs, "%s: file too large (max %u bytes)\n", path, MM_CONFIG_FILE_MAX);
		}
		free(buf);
		return 1;
	}
	r = config_parse(c, path, buf, len, errs);
	free(buf);
	return r;
}

/* ---- printing ------------------------------------------------------ */

static void print_key(const struct mm_config *c, const struct keydef *k, const void *base, FILE *out)
{
	const char *p = (const char *)base + k->off;
	char tmp[64];
	int iv;

	switch (k->type) {
	case CT_UINT:
		fprintf(out, "%s = %llu\n", k->key, (unsigned long long)load_uint(k, base));
		break;
	case CT_BOOL:
		memcpy(&iv, p, sizeof(iv));
		fprintf(out, "%s = %s\n", k->key, iv ? "yes" : "no");
		break;
	case CT_LOGLEVEL:
		memcpy(&iv, p, sizeof(iv));
		fprintf(out, "%s = %s\n", k->key, mm_log_level_name(iv));
		break;
	case CT_COMBINE:
		memcpy(&iv, p, sizeof(iv));
		fprintf(out, "%s = %s\n", k->key, mm_combine_name(iv));
		break;
	case CT_TIER:
		memcpy(&iv, p, sizeof(iv));
		fprintf(out, "%s = %s\n", k->key, iv >= 2 ? "act" : "investigate");
		break;
	case CT_SECRET:
		/* Never printed: the output of -t -v ends up in tickets. */
		fprintf(out, "%s =%s\n", k->key, *p != '\0' ? " ********" : "");
		break;
	case CT_STR:
	case CT_NAME:
	case CT_PATH:
		/* "key =" for empty values: no trailing blank. */
		fprintf(out, "%s =%s%s\n", k->key, *p != '\0' ? " " : "", p);
		break;
	case CT_PREFIX:
		fprintf(out, "%s = %s\n", k->key,
			mm_prefix_str((const struct mm_prefix *)(const void *)p, tmp, sizeof(tmp)));
		break;
	case CT_GPREFIX: {
		const struct mm_group_cfg *g = base;
		for (unsigned i = g->first_prefix; i < g->first_prefix + g->nprefixes && i < c->ngroup_prefixes; i++)
			fprintf(out, "%s = %s\n", k->key, mm_prefix_str(&c->group_prefixes[i], tmp, sizeof(tmp)));
		break;
	}
	case CT_ADDR:
		fprintf(out, "%s =%s%s\n", k->key, *p != '\0' ? " " : "", ((const struct mm_listen *)(const void *)p)->text);
		break;
	case CT_LISTEN:
		for (unsigned i = 0; i < c->nlisten; i++)
			fprintf(out, "%s = %s\n", k->key, c->listen[i].text);
		break;
	case CT_NFGROUP:
		for (unsigned i = 0; i < c->nflog_ngroups; i++)
			fprintf(out, "%s = %u\n", k->key, (unsigned)c->nflog_groups[i]);
		break;
	case CT_PPREFIX:
		for (unsigned i = 0; i < c->nprotect; i++)
			fprintf(out, "%s = %s\n", k->key, mm_prefix_str(&c->protect[i], tmp, sizeof(tmp)));
		break;
	}
}

/* Instances of section s in c (printing has no parser). */
static unsigned print_count(const struct mm_config *c, const struct sectiondef *sd)
{
	switch (sd->kind) {
	case SK_EXPORTER:
		return c->nexporters;
	case SK_GROUP:
		return c->ngroups;
	case SK_SINGLE:
		break;
	}
	return 1;
}

void mm_config_print(const struct mm_config *c, FILE *out)
{
	int first = 1;

	for (size_t s = 0; s < NSECTIONS; s++) {
		const struct sectiondef *sd = &sections[s];
		unsigned ninst = print_count(c, sd);

		for (unsigned n = 0; n < ninst; n++) {
			const void *base = c;

			if (!first)
				fputc('\n', out);
			first = 0;
			switch (sd->kind) {
			case SK_EXPORTER:
				base = &c->exporters[n];
				fprintf(out, "[%s %s]\n", sd->name, c->exporters[n].name);
				break;
			case SK_GROUP:
				base = &c->groups[n];
				fprintf(out, "[%s %s]\n", sd->name, c->groups[n].name);
				break;
			case SK_SINGLE:
				fprintf(out, "[%s]\n", sd->name);
				break;
			}
			for (size_t i = 0; i < sd->nkeys; i++)
				if (strcmp(sd->keys[i].section, sd->name) == 0)
					print_key(c, &sd->keys[i], base, out);
		}
	}
}

const struct mm_exporter_cfg *mm_config_exporter(const struct mm_config *c, const uint8_t addr[16])
{
	const struct mm_exporter_cfg *best = NULL;
	int i;

	if (c->exporter_lpm != NULL) {
		i = mm_lpm_lookup(c->exporter_lpm, addr);
		return i >= 0 && (unsigned)i < c->nexporters ? &c->exporters[i] : NULL;
	}
	/* A config built by hand (tests): the same answer, the slow way. */
	for (unsigned j = 0; j < c->nexporters; j++)
		if (mm_prefix_contains(&c->exporters[j].prefix, addr) &&
		    (best == NULL || c->exporters[j].prefix.len > best->prefix.len))
			best = &c->exporters[j];
	return best;
}

int mm_config_group_of(const struct mm_config *c, const uint8_t addr[16])
{
	int best = -1, i;

	if (c->group_lpm != NULL) {
		i = mm_lpm_lookup(c->group_lpm, addr);
		return i >= 0 && (unsigned)i < c->ngroups ? i : -1;
	}
	/* A config built by hand (tests): the same answer, the slow way. */
	for (unsigned j = 0, len = 0; j < c->ngroup_prefixes; j++) {
		const struct mm_prefix *p = &c->group_prefixes[j];

		if (mm_prefix_contains(p, addr) && (best < 0 || p->len > len) &&
		    c->group_prefix_group[j] < c->ngroups) {
			best = c->group_prefix_group[j];
			len = p->len;
		}
	}
	return best;
}
