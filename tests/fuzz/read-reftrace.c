/* SPDX-License-Identifier: MIT */
/* The pymemtrace ReferenceTracing text reader (libpmt/read/backend-reftrace.c):
 * the HDR line, NEW:/DEL: columns with file names holding spaces, numbers,
 * MSG lines (Suspending, a doubled Resuming), EOF and what follows it. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_read(data, size, "reftrace.log");
	return 0;
}
