/* SPDX-License-Identifier: MIT */
/* The pymemtrace Profile/Trace text reader (libpmt/read/backend-pymt.c):
 * columns, numbers, clocks, tags, event order. The name is one pymemtrace
 * gives its logs, so the file-name parse runs too. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_read(data, size, "20241107_195847_62264_P_0_PY3.13.0b3.log");
	return 0;
}
