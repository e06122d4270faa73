/* SPDX-License-Identifier: MIT */
/* pmt-diff whole: two profiles compared, heap comparison, every format, and
 * process logs compared. The input is OLD and NEW joined by a line
 * "--pmt-diff--"; without one it is compared with itself. */
#include "tool-run.h"
#include "tool.h"
#include <analyze/diff-objects.c>
#include <analyze/pmt-diff.c>

static const char *const sets[][10] = {
    {"pmt-diff", "@0", "@1", NULL},
    {"pmt-diff", "--format", "csv", "--top", "0", "--threshold", "0", "@0", "@1", NULL},
    {"pmt-diff", "--format", "json", "--bytes", "--all-frames", "@0", "@1", NULL},
    {"pmt-diff", "--format", "rst", "--full-path", "@0", "@1", NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char sep[] = "\n--pmt-diff--\n";
	const uint8_t *cut = memmem(data, size, sep, sizeof(sep) - 1);
	const char *a, *b;
	if (cut) {
		size_t n = (size_t)(cut - data), skip = n + sizeof(sep) - 1;
		a = fuzz_memfd(0, data, n);
		b = fuzz_memfd(1, data + skip, size - skip);
	} else {
		a = b = fuzz_memfd(0, data, size);
	}
	fuzz_tool(sets[size % (sizeof(sets) / sizeof(sets[0]))], a, b);
	return 0;
}
