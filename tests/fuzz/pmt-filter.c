/* SPDX-License-Identifier: MIT */
/* pmt-filter whole: selection, event and allocator-call formatting, and the
 * copy to a new pmt log (-o, written to /dev/null). */
#include "tool-run.h"
#include "tool.h"
#include <analyze/pmt-filter.c>

static const char *const sets[][12] = {
    {"pmt-filter", "@0", NULL},
    {"pmt-filter", "--format", "csv", "--prev=2", "--drss", "1", "@0", NULL},
    {"pmt-filter", "--format", "json", "--size-min", "0", "@0", NULL},
    {"pmt-filter", "--match", "^f", "--event", "CALL,RETURN", "--thread", "0", "@0", NULL},
    {"pmt-filter", "--from", "3", "--to", "1000", "--file", "py$", "@0", NULL},
    {"pmt-filter", "--drss", "4096", "--prev", "-o", "/dev/null", "--force", "@0", NULL},
    {"pmt-filter", "--drss", "1", "--to", "5000", "-o", "/dev/null", "--force", "@0", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_tool(sets[size % (sizeof(sets) / sizeof(sets[0]))], fuzz_memfd(0, data, size), NULL);
	return 0;
}
