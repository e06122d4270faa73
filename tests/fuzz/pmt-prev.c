/* SPDX-License-Identifier: MIT */
/* pmt-prev whole: the RSS jumps, the ring of previous events, event
 * formatting in every format, short names. */
#include "tool-run.h"
#include "tool.h"
#include <analyze/pmt-prev.c>

static const char *const sets[][10] = {
    {"pmt-prev", "@0", NULL},
    {"pmt-prev", "--drss", "0", "--context", "3", "--format", "csv", "@0", NULL},
    {"pmt-prev", "--drss", "4k", "--format", "json", "@0", NULL},
    {"pmt-prev", "--context", "0", "--full-path", "@0", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tool(sets[size % (sizeof(sets) / sizeof(sets[0]))], fuzz_memfd(0, data, size), NULL);
	return 0;
}
