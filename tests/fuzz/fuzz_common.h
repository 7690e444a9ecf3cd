/*
 * fuzz_common.h - the body every decoder's libFuzzer target shares.
 *
 * An input is either one datagram, or (starting with "MMFZ") a series of
 * datagrams each prefixed by a 2-byte big-endian length, so templates sent
 * in one datagram meet data in the next.  A fresh exporter per input keeps
 * every crash reproducible from its input alone; small limits make the
 * eviction and queue-overflow paths reachable.  Each datagram is decoded
 * twice so the templates it defines also decode its own data sets.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mamori/decode.h"

typedef int (*fuzz_decode_fn)(struct mm_exporter *, const uint8_t *, size_t, uint64_t,
			      const struct mm_flow_sink *);

static void fuzz_sink(void *arg, const struct mm_flow *f)
{
	/* Touch every field so uninitialised or wild values would show. */
	uint64_t *acc = arg;
	*acc += f->bytes_scaled + f->packets_scaled + f->start_ms + f->end_ms + f->src_port + f->dst_port +
		f->proto + f->af + f->src_addr[15] + f->dst_addr[15] + f->sampling_rate + f->sampling_src;
}

static void fuzz_one(fuzz_decode_fn decode, const uint8_t *data, size_t size)
{
	static const uint8_t addr[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1 };
	struct mm_decode_limits lim = {
		.max_exporters = 1, .max_domains = 4, .max_templates = 16, .max_template_fields = 64,
		.max_samplers = 4, .pending_max_sets = 4, .pending_max_bytes = 4096, .pending_timeout_ms = 1000,
	};
	struct mm_exporter *ex = mm_exporter_new(addr, &lim);
	if (ex == NULL)
		return;
	uint64_t acc = 0;
	struct mm_flow_sink sink = { fuzz_sink, &acc };
	uint64_t now = 1000;
	if (size >= 4 && memcmp(data, "MMFZ", 4) == 0) {
		size_t off = 4;
		while (size - off >= 2) {
			size_t n = (size_t)data[off] << 8 | data[off + 1];
			off += 2;
			if (n > size - off)
				n = size - off;
			/* an exact-size copy, so ASan sees any over-read */
			uint8_t *copy = malloc(n ? n : 1);
			memcpy(copy, data + off, n);
			decode(ex, copy, n, now, &sink);
			free(copy);
			off += n;
			now += 400;
			mm_exporter_expire(ex, now);
		}
	} else {
		decode(ex, data, size, now, &sink);
		decode(ex, data, size, now + 10, &sink);
	}
	mm_exporter_expire(ex, UINT64_MAX);
	mm_exporter_free(ex);
}
