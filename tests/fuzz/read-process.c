/* SPDX-License-Identifier: MIT */
/* The process JSON log reader (libpmt/read/process-reader.c): the record
 * prefix anywhere in a line, JSON through jansson, required keys, numbers. */
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pmt_input *in;
	int r = pmt_input_open_mem(data, size, "process.log", &in);
	if (r < 0) {
		fuzz_check_error(r);
		return 0;
	}
	/* whatever the sniffing says: the reader skips what is not a record */
	fuzz_drain_process(in);
	pmt_input_free(in);
	return 0;
}
