/* SPDX-License-Identifier: MIT */
/* The pmt log reader (libpmt/read/backend-pmt.c) on raw, uncompressed logs:
 * every record type, varints, value ranges, cuts. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_read(data, size, "fuzz.log");
	return 0;
}
