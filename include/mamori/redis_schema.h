/*
 * redis_schema.h - the Redis layout of mamori, in one place: key names,
 * field names, value encodings, the server-side function library, and a
 * synchronous reader that the detector, the CLI and the tests share.
 * The prose version, with TTLs and who writes / who reads, is
 * docs/redis-schema.md; a change here is a change there (and, if readers
 * of the old layout would misread it, a new MM_REDIS_SCHEMA_VERSION).
 *
 * Keys (step = the aggregator's step number k, covering Unix time
 * [k * step_s, (k + 1) * step_s); addr = the host's address as text,
 * dotted quad for IPv4 / IPv4-mapped, RFC 5952 for IPv6):
 *
 *   mm:h:{<addr>}:<step>      hash   one host, one step; fields per collector
 *   mm:idx:<step>:<shard>     set    addresses active in the step, 64 shards
 *   mm:done:<step>            hash   <collector_id> -> hosts written, set after
 *                                    the step's last command was acknowledged
 *   mm:stat:<step>            hash   <collector_id>:<name> -> collector counters
 *   mm:xstat:<step>           hash   <collector_id>:<exporter>:<name> -> exporter counters
 *   mm:tpl:{<exporter>}       hash   decoder state of one exporter (persist.c fields)
 *   mm:schema                 string "1": the layout version (configuration, no TTL)
 *
 * Every key but mm:schema carries the configured retention as TTL, refreshed
 * by every write.  The braces are Redis Cluster hash tags: all steps of one
 * host hash to the same slot, so a window can be read from one node.
 *
 * Host hash fields, for collector C (collector ids cannot contain ':', so
 * the collector is everything before the first ':'):
 *   C:<mm_ctr_name(c)>        decimal counter, only when non-zero
 *   C:hll:<mm_sketch_name(s)> HyperLogLog registers, only when not empty:
 *                             64 bytes = the registers as they are; an even
 *                             length below 64 = (index, value) byte pairs of
 *                             the non-zero registers
 *   C:top:<mm_redis_topk_name(t)>  top-K evidence, only when not empty:
 *                             ports: per entry port (2 bytes, big-endian),
 *                             count (LEB128); addresses: per entry a length
 *                             byte (4 = IPv4, 16 = IPv6), the address, count
 *                             (LEB128); entries with count 0 are left out
 * Binary values stay at or under 64 bytes wherever the data allows (the
 * IPv6 peer lists excepted), so a host hash stays in Redis' compact listpack
 * encoding at the default hash-max-listpack-value of 64.
 *
 * Each collector writes only its own fields and every write is an HSET /
 * SADD / EXPIRE, so re-sending a step after a reconnect is harmless;
 * readers add the collectors up (mm_hoststep_merge).
 */
#ifndef MAMORI_REDIS_SCHEMA_H
#define MAMORI_REDIS_SCHEMA_H

#include <stddef.h>
#include <stdint.h>
#include "mamori/config.h"
#include "mamori/window.h"

#define MM_REDIS_SCHEMA_VERSION 1  /* value of mm:schema */
#define MM_REDIS_LIB_VERSION 1     /* version of the "mamori" function library */
#define MM_REDIS_IDX_SHARDS 64     /* mm:idx shards per step */
#define MM_REDIS_IDX_CHUNK 4096    /* most members one mm_add call carries */
#define MM_REDIS_KEY_MAX 96        /* longest key built here, with its NUL */
#define MM_REDIS_ADDR_MAX 46       /* INET6_ADDRSTRLEN */
#define MM_REDIS_SCHEMA_KEY "mm:schema"

/* The Lua library ("#!lua name=mamori") loaded with FUNCTION LOAD REPLACE.
 *   FCALL mm_put 1 <key> <ttl> <field> <value> [<field> <value> ...]
 *       HSET + EXPIRE; returns the number of fields written.
 *   FCALL mm_add 1 <key> <ttl> <member> [<member> ...]
 *       SADD + EXPIRE; returns the number of members sent.
 *   FCALL mm_version 0
 *       MM_REDIS_LIB_VERSION (no-writes).
 * Versioning rule: a later library keeps every function of the earlier ones
 * with the same arguments, so a newer collector's library never breaks an
 * older collector; the writer loads its own only when the server's is
 * missing or older. */
extern const char mm_redis_lua_lib[];

/* Write v in decimal at p (no NUL, at most 20 digits); returns the end. */
char *mm_redis_put_dec(char *p, uint64_t v);
/* Address text (IPv4-mapped addresses as dotted quad); returns its length. */
size_t mm_redis_addr_text(const uint8_t addr[16], char *out, size_t outlen);
/* Parse address text back into 16 bytes (IPv4 becomes IPv4-mapped). 0 / -1. */
int mm_redis_addr_parse(const char *text, size_t len, uint8_t addr[16]);
/* Index shard of an address: FNV-1a (32 bit) over the 16 bytes, mod
 * MM_REDIS_IDX_SHARDS.  Any reader just reads every shard; the function
 * only spreads the load. */
unsigned mm_redis_shard(const uint8_t addr[16]);

/* Key builders.  Each writes a NUL-terminated key into out (at least
 * MM_REDIS_KEY_MAX bytes) and returns its length. */
size_t mm_rkey_host(char *out, const uint8_t addr[16], uint64_t step);
size_t mm_rkey_index(char *out, uint64_t step, unsigned shard);
size_t mm_rkey_done(char *out, uint64_t step);
size_t mm_rkey_stat(char *out, uint64_t step);
size_t mm_rkey_xstat(char *out, uint64_t step);
size_t mm_rkey_exporter_state(char *out, const uint8_t exporter[16]);

/* Top-K lists as the host hash names them ("top:<name>"). */
enum mm_redis_topk {
	MM_RT_PEERS_IN, MM_RT_PEERS_OUT,          /* struct mm_topk_addr lists */
	MM_RT_DPORTS_IN, MM_RT_SPORTS_IN, MM_RT_DPORTS_OUT, /* ports[MM_T_*] */
	MM_RT_COUNT
};
const char *mm_redis_topk_name(enum mm_redis_topk t);

/* Value encodings (see the top of this file).  Encoders return the length
 * written, 0 for an empty sketch or list (the field is then left out).
 * Decoders return 0, or -1 on a malformed value (out is then unchanged). */
#define MM_REDIS_HLL_ENC_MAX MM_HLL_REGS
#define MM_REDIS_TOPK_ENC_MAX (MM_TOPK * (1 + 16 + 10))
size_t mm_redis_enc_hll(const struct mm_hll *h, uint8_t out[MM_REDIS_HLL_ENC_MAX]);
int mm_redis_dec_hll(const uint8_t *p, size_t len, struct mm_hll *h);
size_t mm_redis_enc_topk_addr(const struct mm_topk_addr t[MM_TOPK], uint8_t out[MM_REDIS_TOPK_ENC_MAX]);
int mm_redis_dec_topk_addr(const uint8_t *p, size_t len, struct mm_topk_addr t[MM_TOPK]);
size_t mm_redis_enc_topk_port(const struct mm_topk_port t[MM_TOPK], uint8_t out[MM_REDIS_TOPK_ENC_MAX]);
int mm_redis_dec_topk_port(const uint8_t *p, size_t len, struct mm_topk_port t[MM_TOPK]);

/* Data completeness of one exporter's step, 0..1: the share of the export
 * it sent that arrived.  (records / (records + lost_records)) x
 * (datagrams / (datagrams + lost_packets)); a ratio with nothing to count
 * is 1.  Record gaps come from v5/IPFIX/sFlow sequence numbers, packet gaps
 * from v9's, so for one exporter only one factor is ever below 1. */
double mm_redis_completeness(uint64_t records, uint64_t lost_records, uint64_t datagrams,
			     uint64_t lost_packets);

/*
 * Reader: a synchronous hiredis connection (start-up, CLI, tests, the
 * detector's per-step read).  Reads are pipelined in chunks of
 * MM_REDIS_READ_CHUNK commands.  Every call returns -1 on a connection or
 * protocol error with the reason in mm_redis_reader_error(); a value that
 * does not decode is skipped and counted (bad_fields), not an error.
 */
#define MM_REDIS_READ_CHUNK 1024
#define MM_REDIS_CONTRIB_MAX 16

struct mm_redis_reader;

/* Connect as [redis] says (socket or host:port, AUTH with user/password,
 * SELECT db).  timeout_ms bounds the connect and every later reply.
 * NULL with err filled on failure. */
struct mm_redis_reader *mm_redis_reader_open(const struct mm_config *cfg, unsigned timeout_ms, char *err,
					     size_t errlen);
void mm_redis_reader_close(struct mm_redis_reader *r);
const char *mm_redis_reader_error(const struct mm_redis_reader *r);

/* Who contributed to a host's window. */
struct mm_redis_contrib {
	unsigned n;                  /* distinct collectors listed in id[] */
	unsigned more;               /* further distinct collectors, not listed */
	char id[MM_REDIS_CONTRIB_MAX][MM_NAME_MAX];
	uint32_t steps;              /* steps of the range with any data */
	uint32_t bad_fields;         /* fields skipped: unknown name or bad value */
};

/* The host's steps [first, first + nsteps), every collector's fields
 * decoded and folded with mm_hoststep_merge into *out (zeroed first).
 * who may be NULL.  Returns the number of steps with data, or -1. */
int mm_redis_read_host(struct mm_redis_reader *r, const uint8_t addr[16], uint64_t first, uint32_t nsteps,
		       struct mm_hoststep *out, struct mm_redis_contrib *who);
/* The same for n hosts in one pipeline; out[n], who[n] (or NULL).
 * Returns 0 or -1. */
int mm_redis_read_hosts(struct mm_redis_reader *r, const uint8_t (*addrs)[16], size_t n, uint64_t first,
			uint32_t nsteps, struct mm_hoststep *out, struct mm_redis_contrib *who);
/* Only the (host, step) pairs asked for: pairs[i].host indexes addrs and
 * out (n of each; who[n] or NULL), each pair's step folded into its
 * host's out.  Hosts with no pair get zeros.  For readers that know which
 * steps of a range a host had data in (the index) and skip the rest.
 * Returns 0 or -1. */
struct mm_redis_pair {
	uint32_t host;
	uint64_t step;
};
int mm_redis_read_pairs(struct mm_redis_reader *r, const uint8_t (*addrs)[16], size_t n,
			const struct mm_redis_pair *pairs, size_t npairs, struct mm_hoststep *out,
			struct mm_redis_contrib *who);

/* The first and last step for which the host has a window key (SCAN over
 * its hash tag: for analysts and tests, not for a hot path).  Returns the
 * number of steps found (0: none, first/last untouched), or -1. */
long mm_redis_host_steps(struct mm_redis_reader *r, const uint8_t addr[16], uint64_t *first, uint64_t *last);

/* Active hosts of a step, from every index shard: fn once per address
 * (each once; order unspecified).  A non-zero return from fn stops.
 * Returns the number of addresses delivered, or -1. */
long mm_redis_read_index(struct mm_redis_reader *r, uint64_t step,
			 int (*fn)(void *arg, const uint8_t addr[16]), void *arg);
/* Done marks of a step: fn(collector, hosts) per collector that finished
 * it.  Returns the number of collectors, or -1. */
long mm_redis_read_done(struct mm_redis_reader *r, uint64_t step,
			int (*fn)(void *arg, const char *collector, uint64_t hosts), void *arg);
/* Statistics of a step: fn(collector, exporter, name, value) per field of
 * mm:stat (exporter NULL) and mm:xstat (exporter = address text).  Returns
 * the number of fields, or -1. */
long mm_redis_read_stats(struct mm_redis_reader *r, uint64_t step,
			 int (*fn)(void *arg, const char *collector, const char *exporter, const char *name,
				   const char *value),
			 void *arg);

/*
 * Start-up loader for the decoder state the writer stores with
 * mm_redis_writer_put_blob (mm:tpl:{<exporter>}): a short synchronous
 * connection, HSCAN over `key`, fn(arg, field, value, len) per field (the
 * field is NUL-terminated; a field may come twice if the hash is rehashed
 * during the scan, so fn must be idempotent).  fn returns 0 when it took
 * the value, non-zero when it refused it (the scan goes on).  Returns the
 * number of values taken, or -1 with err filled (connection, AUTH, SELECT,
 * or no reply within 2 s).
 */
typedef int (*mm_redis_hash_fn)(void *arg, const char *field, const uint8_t *val, size_t len);
long mm_redis_load_hash(const struct mm_config *cfg, const char *key, mm_redis_hash_fn fn, void *arg, char *err,
			size_t errlen);

/*
 * Every exporter's stored decoder state (mm:tpl:{<exporter>} hashes), on
 * one connection: SCAN for the keys, HSCAN each; fn(arg, exporter, field,
 * value, len) per field (return 0 = used).  For a collector starting up.
 * Returns fields used, or -1 with err filled.
 */
typedef int (*mm_redis_state_fn)(void *arg, const uint8_t exporter[16], const char *field, const uint8_t *val,
				 size_t len);
long mm_redis_load_exporter_states(const struct mm_config *cfg, mm_redis_state_fn fn, void *arg, char *err,
				   size_t errlen);

#endif
