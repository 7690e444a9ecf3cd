/*
 * config.h - the configuration both daemons read (config/mamori.conf).
 * The file format, every key, its default and bounds: docs/config.md.
 *
 * Format: INI-like.  `[section]` or `[section NAME]` headers, `key = value`
 * lines, `#` or `;` comments, blank lines ignored.  Singleton sections
 * ([collector], [limits], [redis], [window], [detector], [alerts],
 * [fastpath], [log], [daemon], [exabgp]) may appear
 * once; named sections ([exporter NAME], [group NAME]) once per name.
 * Repeatable keys (listen, nflog_group, a group's prefix, protect) may
 * appear several times.
 *
 * Loading parses into a fresh struct and validates it; every error is
 * reported as "file:line: message" and any error fails the load, so a
 * daemon never starts (or reloads) on a bad file.
 */
#ifndef MAMORI_CONFIG_H
#define MAMORI_CONFIG_H

#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>
#include "mamori/decode.h"
#include "mamori/prefix.h"

#define MM_MAX_LISTEN 16
#define MM_MAX_NFLOG_GROUPS 16        /* [collector] nflog_group lines */
#define MM_NFLOG_COPY_MAX 128         /* most bytes of a packet NFLOG copies */
#define MM_NAME_MAX 64
#define MM_CONFIG_LINE_MAX 1024       /* longer lines are an error */
#define MM_CONFIG_FILE_MAX (1u << 20) /* larger files are refused */
#define MM_CONFIG_MAX_ERRORS 100      /* parsing stops after this many */
#define MM_MAX_GROUPS 4096            /* [group NAME] sections */
#define MM_MAX_GROUP_PREFIXES 65536   /* prefixes in all groups together */
#define MM_DESCRIPTION_MAX 256
#define MM_FAST_MAX_CHECKS 16         /* [fastpath] interval_ms / check_ms at most */
#define MM_MAX_PROTECT 65536          /* [privacy] protect prefixes */

struct mm_listen {
	char text[128];               /* as written: "127.0.0.1:2055", "[::]:4739" */
	struct sockaddr_storage ss;   /* resolved numeric address */
	socklen_t sslen;
};

struct mm_exporter_cfg {
	char name[MM_NAME_MAX];       /* section name */
	struct mm_prefix prefix;      /* `address =` exporter address or prefix */
	uint32_t sampling_rate;       /* override: 0 = learn from the export */
	uint32_t default_rate;        /* when unknown: 0 = use [collector] default */
	char site[MM_NAME_MAX];
	int line;                     /* where the section started */
};

/* How a group's static ceilings and adaptive baselines combine into a
 * decision (docs/detections.md).  The numbers are what the config stores. */
enum mm_combine {
	MM_COMBINE_EITHER = 0,   /* a ceiling or the baseline: either fires (default) */
	MM_COMBINE_BOTH = 1,     /* a ceiling and the baseline must agree */
	MM_COMBINE_CEILING = 2,  /* static ceilings only (the FastNetMon model) */
	MM_COMBINE_BASELINE = 3, /* adaptive baselines only */
};
/* "either", "both", ...; NULL for a value out of range. */
const char *mm_combine_name(int combine);
/* enum mm_combine by name, or -1. */
int mm_combine_parse(const char *name);

/* A host group: part of the monitored address space.  Its prefixes are
 * group_prefixes[first_prefix .. first_prefix + nprefixes - 1].  The
 * detection keys are what the detector scores the group's hosts with; their
 * meaning, defaults and rationale are docs/detections.md, their bounds
 * docs/config.md.  Ceilings of 0 are off. */
struct mm_group_cfg {
	char name[MM_NAME_MAX];       /* section name */
	char description[MM_DESCRIPTION_MAX]; /* free text, may be empty */
	unsigned first_prefix;        /* index into mm_config.group_prefixes */
	unsigned nprefixes;           /* at least 1 in a loaded config */
	int line;                     /* where the section started */

	/* detection */
	uint32_t sampling_rate;       /* expected 1:N of the group's exports, default 1000 */
	uint32_t min_sampled_packets; /* volume classes need this many, default 10 */
	uint32_t min_sampled_flows;   /* probe/attempt classes need this many, default 4 */
	uint32_t min_reflectors;      /* amplification: distinct sources, default 3 */
	uint32_t ceiling_pps;         /* inbound packets/s, default 1000000 */
	uint32_t ceiling_mbps;        /* inbound Mbit/s, default 10000 */
	uint32_t ceiling_flows;       /* inbound flows/s, default 200000 */
	uint32_t ceiling_tcp_pps;     /* inbound TCP packets/s, default 0 (off) */
	uint32_t ceiling_udp_pps;     /* inbound UDP packets/s, default 0 (off) */
	uint32_t ceiling_icmp_pps;    /* inbound ICMP packets/s, default 100000 */
	uint32_t ceiling_syn_pps;     /* inbound SYN-only packets/s, default 100000 */
	uint32_t ceiling_amp_pps;     /* unsolicited amplification packets/s, default 50000 */
	uint32_t ceiling_out_pps;     /* outbound packets/s, default 0 (off) */
	uint32_t ceiling_out_mbps;    /* outbound Mbit/s, default 0 (off) */
	uint32_t single_source_pps;   /* a flood from one source needs this many packets/s in, default 10000 */
	uint32_t min_flood_pps;       /* a flood class's baseline path needs this rise in packets/s, default 200 */
	uint32_t min_outbound_pps;    /* the same for outbound_flood, default 500 */
	uint32_t min_exfil_kbps;      /* exfiltration's baseline path needs this rise in kbit/s out, default 800 */
	uint32_t score_investigate;   /* baseline score (sigmas) for "investigate", default 6 */
	uint32_t score_act;           /* baseline score for "act", default 10 */
	int combine;                  /* enum mm_combine, default either */
	uint32_t confirm_fast_hits;   /* floods: hits ... */
	uint32_t confirm_fast_steps;  /* ... in this many steps, default 2 of 3 */
	uint32_t confirm_slow_hits;   /* scans, brute force, exfiltration: hits ... */
	uint32_t confirm_slow_steps;  /* ... in this many steps, default 6 of 9 */
	uint32_t warmup_steps;        /* steps learnt before a host's own baseline is trusted, default 180 */
	uint32_t group_warmup_steps;  /* the same for the group's typical host, default 18 */
	uint32_t ewma_alpha;          /* baseline EWMA weight per step, per mille, default 10 */
	uint32_t learn_clip;          /* a step's innovation is clipped to this many sigmas, default 3 */
	int time_of_week;             /* learn and apply the group's time-of-week factor, default yes */
	uint32_t carpet_prefix4;      /* carpet bombing: IPv4 prefix length summed, default 24, 0 = off */
	uint32_t carpet_prefix6;      /* carpet bombing: IPv6 prefix length summed, default 64, 0 = off */
};

struct mm_config {
	char path[512];

	/* [collector] */
	char collector_id[MM_NAME_MAX];      /* default: hostname */
	struct mm_listen listen[MM_MAX_LISTEN];
	unsigned nlisten;                    /* default: 0.0.0.0:2055 and 0.0.0.0:4739 */
	uint32_t rcvbuf;                     /* SO_RCVBUF bytes, default 33554432 */
	uint32_t batch;                      /* recvmmsg batch, default 64 */
	uint32_t default_sampling_rate;      /* default 1; used (and counted) when unknown */
	int allow_unlisted_exporters;        /* 1 (default) unless an allowlist is wanted */
	uint16_t nflog_groups[MM_MAX_NFLOG_GROUPS]; /* NFLOG groups subscribed to (docs/nflog.md) */
	unsigned nflog_ngroups;              /* default 0: no NFLOG source */
	uint32_t nflog_sampling_rate;        /* 1:N the logging rules sample at, default 1 */
	uint32_t nflog_copy_range;           /* bytes of each packet copied, default 128 */

	/* [limits] */
	struct mm_decode_limits limits;

	/* [exporter NAME] sections, in file order */
	struct mm_exporter_cfg *exporters;
	unsigned nexporters;
	struct mm_lpm *exporter_lpm;         /* address -> exporters[] index */

	/* [group NAME] sections, in file order: the monitored address space.
	 * The prefixes of every group in one flat array, in file order (so
	 * group by group), with the owning group of each alongside: what
	 * struct mm_agg_config takes as prefixes / prefix_group / nprefixes.
	 * No two prefixes overlap (checked at load), so an address belongs to
	 * at most one group. */
	struct mm_group_cfg *groups;
	unsigned ngroups;                    /* 0..MM_MAX_GROUPS */
	struct mm_prefix *group_prefixes;
	uint16_t *group_prefix_group;        /* index into groups[] */
	unsigned ngroup_prefixes;            /* 0..MM_MAX_GROUP_PREFIXES */
	struct mm_lpm *group_lpm;            /* address -> groups[] index */

	/* [redis] (read by later issues; parsed and validated now) */
	char redis_host[256];                /* default 127.0.0.1 */
	uint16_t redis_port;                 /* default 6379 */
	char redis_socket[256];              /* unix socket path, "" = TCP */
	int redis_db;                        /* default 0 */
	char redis_user[MM_NAME_MAX];
	char redis_password[256];
	uint32_t redis_queue_max_mb;         /* unflushed steps held in an outage, MiB, default 256 */
	uint32_t redis_stall_timeout_s;      /* default 10 */
	uint32_t redis_backoff_max_s;        /* reconnect back-off cap, default 30 */

	/* [window] */
	uint32_t step_s;                     /* default 10 */
	uint32_t window_steps;               /* default 6 */
	uint32_t retention_s;                /* default 86400 */
	uint32_t late_steps;                 /* earlier steps kept open, default 1 */
	uint32_t max_hosts;                  /* monitored hosts tracked, default 1000000 */
	uint32_t max_external;               /* external sources tracked, default 65536 */
	uint32_t external_min_flows;         /* scaled flows/step to write one, default 100 */

	/* [detector] */
	uint32_t slow_window_steps;          /* steps summed for the slow classes, default 30 */
	uint32_t incident_update_steps;      /* an incident's updates at most this often, default 6 */
	uint32_t incident_calm_steps;        /* calm steps that end an incident, default 6 */
	uint32_t max_incidents;              /* incidents open at once, default 100000 */
	uint32_t max_prefixes;               /* carpet-bombing prefix aggregates tracked, default 65536 */

	/* [alerts] (detector/alert.c, docs/alerts.md) */
	char alert_stream[MM_NAME_MAX];      /* Redis stream key, default mm:alerts */
	uint32_t alert_stream_maxlen;        /* XADD MAXLEN ~, default 100000 */
	uint32_t alert_stream_retention_s;   /* entries older are trimmed, idle stream expires; default 2592000 */
	char alert_channel[MM_NAME_MAX];     /* pub/sub channel, default mm:alerts, "" = none */
	char alert_file[512];                /* JSON lines: "" none, "-" stdout, else an absolute path */
	int alert_syslog;                    /* one line per event to syslog, default no */
	char alert_hook[512];                /* program run per event, JSON on stdin, "" = none */
	uint32_t alert_hook_timeout_s;       /* a hook still running is killed, default 10 */
	uint32_t alert_hook_max;             /* hooks running at once, default 4 */
	int alert_hook_min_tier;             /* enum mm_tier: 1 investigate (default), 2 act */

	/* [fastpath] (collector/fastpath.c, docs/fastpath.md) */
	int fast_enabled;                    /* the collector checks ceilings per interval, default yes */
	uint32_t fast_interval_ms;           /* rates are over this sliding interval, default 1000 */
	uint32_t fast_check_ms;              /* checked this often (its resolution), default 250 */
	char fast_stream[MM_NAME_MAX];       /* Redis stream of crossings, default mm:fast */
	uint32_t fast_stream_maxlen;         /* XADD MAXLEN ~, default 100000 */
	uint32_t fast_poll_ms;               /* the detector reads the stream this often, default 50 */

	/* [log] */
	int log_level;                       /* enum mm_log_level, default info */

	/* Operations (docs/operations.md).  metrics: text "" = no endpoint. */
	struct mm_listen collector_metrics;  /* [collector] metrics: /metrics and /healthz */
	struct mm_listen detector_metrics;   /* [detector] metrics */
	/* [daemon] (common/privdrop.c) */
	char daemon_user[MM_NAME_MAX];       /* drop to this user after binding, "" = none */
	char daemon_group[MM_NAME_MAX];      /* "" = the user's primary group */
	int allow_root;                      /* run the event loop as root, default no */
	/* [exabgp] (common/exabgp.c, `mamori exabgp`) */
	int exabgp_enabled;                  /* default no */
	int exabgp_dry_run;                  /* log the lines instead of printing them */
	char exabgp_action[16];              /* blackhole or flowspec */
	char exabgp_classes[256];            /* comma-separated class names */
	int exabgp_min_tier;                 /* enum mm_tier, default act */
	char exabgp_next_hop[64];            /* "self" or an address */
	char exabgp_community[24];           /* ASN:VALUE, default 65535:666 (RFC 7999) */
	uint32_t exabgp_rate_limit;          /* flowspec: 0 = discard, else bytes/s */
	uint32_t exabgp_max_routes;          /* routes announced at once, default 100 */
	/* [privacy] (docs/privacy.md) */
	struct mm_prefix *protect;           /* traffic to or from these is dropped by the collector */
	unsigned nprotect;                   /* 0..MM_MAX_PROTECT */
	int pseudonymise;                    /* Crypto-PAn addresses before they leave the collector, default no */
	char privacy_key_file[512];          /* the 32-byte key: absolute path, "" = none */
	int privacy_key_line;                /* where key_file was written (messages), 0 = not */
	uint32_t pseudonym_cache;            /* cached pseudonyms, 0 = no cache, default 1048576 */
	char deanon_log[512];                /* `mamori deanon` appends a line per use, "" = syslog only */
};

/*
 * Ownership: a struct mm_config owns `exporters`, `exporter_lpm`, `groups`,
 * `group_prefixes`, `group_prefix_group`, `group_lpm` and `protect`.  It may
 * be moved by value (parse into a new one, then swap) as long as exactly one
 * copy is passed to mm_config_free.
 */

/* Parse a listen address: ADDR:PORT (numeric IPv4), [V6ADDR]:PORT, or :PORT
 * (every IPv4 address).  No host name lookups; port 0 lets the kernel
 * choose.  0, or -1 with *why set.  The config and --listen both use it. */
int mm_listen_parse(const char *text, struct mm_listen *l, const char **why);

/* Defaults for everything (no file).  *c is overwritten, not freed. */
void mm_config_defaults(struct mm_config *c);
/* Load and validate `path` into *c (which it initialises).  Returns the
 * number of errors; each is written to `errs` (may be NULL) as
 * "path:line: message", or "path: message" when the file cannot be read.
 * On failure *c holds the defaults again (mm_config_free stays harmless). */
int mm_config_load(struct mm_config *c, const char *path, FILE *errs);
/* Same from a string (tests); `name` is used in messages. */
int mm_config_load_string(struct mm_config *c, const char *name, const char *text, FILE *errs);

/* One key set to a value in every section of a name ("group" for every
 * [group NAME]). */
struct mm_config_set {
	const char *section;
	const char *key;
	char value[64];
};
/* text with each set's key given its value: the key's line replaced in
 * every such section, or added at the end of one that lacks it; the rest
 * as written.  malloc'd, NULL on no memory.  Load the result to check it. */
char *mm_config_override(const char *text, const struct mm_config_set *sets, unsigned n);
/* Print the normalised config (every key, defaults filled in) in the file
 * format; loading the output gives the same config, except that a set
 * Redis password is printed as "********". */
void mm_config_print(const struct mm_config *c, FILE *out);
/* Free what *c owns; idempotent. */
void mm_config_free(struct mm_config *c);
/* The [exporter] section matching addr (longest prefix), or NULL. */
const struct mm_exporter_cfg *mm_config_exporter(const struct mm_config *c, const uint8_t addr[16]);
/* Index into c->groups of the [group] whose prefix covers addr, or -1. */
int mm_config_group_of(const struct mm_config *c, const uint8_t addr[16]);

#endif
