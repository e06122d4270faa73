/* SPDX-License-Identifier: MIT */
#pragma once
/* pmt-diff of two runs (run.h): overall figures summed over the processes,
 * the processes of OLD and NEW matched by their command line (exactly,
 * then with its digits ignored, so pipe and fd numbers that differ between
 * runs still match; several processes with the same command line in the
 * order of their logs), and the functions over all processes matched by
 * (function, file, first line), largest increase first. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <libpmt/report/run.h>
#include <libpmt/report/table.h>

struct pmt_run_diff_opts {
	enum pmt_format format; /* may carry PMT_FMT_EXACT */
	unsigned top;		/* functions listed; 0: all */
	bool has_threshold;
	int64_t threshold; /* bytes */
};

/* Prints the tables to out; *worse: a function's self or inclusive growth
 * got worse by more than the threshold. 0 or -errno. */
int pmt_run_diff(const struct pmt_run *old, const struct pmt_run *new_,
		 const struct pmt_run_diff_opts *o, FILE *out, bool *worse);
