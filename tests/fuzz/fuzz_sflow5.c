/* libFuzzer target: sflow5_decode on untrusted bytes (see fuzz_common.h). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(sflow5_decode, data, size);
	return 0;
}
