#pragma once
/* Reports on process JSON logs (ProcessLoggingThread-JSON records), used by
 * pmt-summarise and pmt-diff when their input is a process log. Both write
 * to out, return 0, or -errno for an input that could not be read at all
 * (after writing whatever was readable). Bad JSON lines are skipped and
 * counted; *warnings (may be NULL) receives their number. */
#include <stdio.h>

#include "input.h"
#include "table.h"

/* pymemtrace process.py's per-PID table, then duration, peak RSS, mean CPU%
 * and effective time per PID. */
int pmt_process_summarise(struct pmt_input *in, enum pmt_format f, FILE *out, unsigned *warnings);

/* The tech note's Summary table: one row per input, time and ratio against
 * the first (the baseline), peak RSS. */
int pmt_process_diff(struct pmt_input *const *ins, unsigned n, enum pmt_format f, FILE *out,
		     unsigned *warnings);
