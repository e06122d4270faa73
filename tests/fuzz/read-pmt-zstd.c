/* SPDX-License-Identifier: MIT */
/* The pmt log reader on compressed logs as they are on disk: the input
 * layer's zstd streaming (corrupt frames, cut frames, several frames, data
 * after the last one) under the same reader. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_read(data, size, "fuzz.log.zst");
	return 0;
}
