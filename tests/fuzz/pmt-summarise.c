/* SPDX-License-Identifier: MIT */
/* pmt-summarise whole: profile building, heap statistics, every table and
 * format, folded stacks, and the process log report, on any input. */
#include "tool-run.h"
#include "tool.h"
#include <analyze/pmt-summarise.c>
#include <analyze/summarise-heap.c>

static const char *const sets[][8] = {
    {"pmt-summarise", "@0", NULL},
    {"pmt-summarise", "--format", "csv", "--top", "0", "--sort", "inclusive", "@0"},
    {"pmt-summarise", "--format", "json", "--all-frames", "--bytes", "@0", NULL},
    {"pmt-summarise", "--format", "rst", "--sort", "calls", "--full-path", "@0", NULL},
    {"pmt-summarise", "--folded", "--weight", "calls", "@0", NULL},
    {"pmt-summarise", "--folded", "--weight", "leaked", "@0", NULL},
    {"pmt-summarise", "--format", "markdown", "@0", "@0", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = fuzz_memfd(0, data, size);
	fuzz_tool(sets[size % (sizeof(sets) / sizeof(sets[0]))], in, in);
	return 0;
}
