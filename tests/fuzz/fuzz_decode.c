/* libFuzzer target: mm_decode, the version dispatch in front of every
 * decoder (see fuzz_common.h). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_one(mm_decode, data, size);
	return 0;
}
