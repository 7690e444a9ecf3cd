/*
 * libFuzzer target: mm_nflog_record (collector/nflog.c) on untrusted bytes.
 * Input: family (1 byte), hook (1), hw_protocol (2, big-endian), sampling
 * rate (4, big-endian), then the packet as NFLOG copies it (at most the
 * 128-byte copy range, as the live source enforces), decoded from an
 * exact-size heap copy so ASan sees any over-read.  Seeds:
 * the .hex files in tests/fuzz/seeds/nflog (tests/fuzz/run.sh turns them
 * into bytes).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "mamori/nflog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mm_nflog_meta m;
	struct mm_flow f;
	uint8_t *copy;
	size_t n;
	volatile uint64_t acc = 0;

	if (size < 8)
		return 0;
	memset(&m, 0, sizeof(m));
	m.family = data[0];
	m.hook = data[1];
	m.hw_protocol = (uint16_t)(data[2] << 8 | data[3]);
	m.sampling_rate = (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | data[7];
	m.now_ms = 1000;
	m.group = 1;
	n = size - 8;
	if (n > MM_NFLOG_COPY_MAX)
		n = MM_NFLOG_COPY_MAX;
	copy = malloc(n ? n : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data + 8, n);
	if (mm_nflog_record(&m, copy, n, &f) == MM_NFLOG_OK) {
		/* Touch every field so uninitialised or wild values would show. */
		acc += f.bytes_scaled + f.packets_scaled + f.start_ms + f.src_port + f.dst_port + f.proto + f.af +
		       f.src_addr[15] + f.dst_addr[15] + f.sampling_rate + f.direction + f.tcp_flags;
		if (f.packets != 1 || f.sampling_rate < 1 || f.bytes < n)
			abort();
	}
	free(copy);
	(void)acc;
	return 0;
}
