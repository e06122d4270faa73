#pragma once
/* Reports on process JSON logs (ProcessLoggingThread-JSON records), used by
 * pmt-summarise and pmt-diff when their input is a process log, and by
 * pmt-gnuplot. Both reports write to out, return 0, or -errno for an input
 * that could not be read at all (after writing whatever was readable):
 * PMT_E_EMPTY (nothing in it), PMT_E_TYPE (no process record in it),
 * PMT_E_CORRUPT (only broken records). Bad JSON lines are skipped and
 * counted; *warnings (may be NULL) receives their number, plus one for a
 * truncated zstd input. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "input.h"
#include "process-reader.h"
#include "table.h"

/* pymemtrace process.py's per-PID table, then duration, peak RSS, mean CPU%
 * and effective time per PID. With PMT_FMT_TEXT each PID's table is exactly
 * pymemtrace's text (header and rows, cells joined by one space), followed by
 * a blank line and one summary line; other formats print one records table
 * (all PIDs) and one summary table (json: {"records": [...], "summary": [...]}). */
int pmt_process_summarise(struct pmt_input *in, enum pmt_format f, FILE *out, unsigned *warnings);

/* The tech note's Summary table: one row per input, time and ratio against
 * the first (the baseline), peak RSS. The time of a run is the last
 * elapsed_time of its first PID (the process that was monitored). */
int pmt_process_diff(struct pmt_input *const *ins, unsigned n, enum pmt_format f, FILE *out,
		     unsigned *warnings);

/* ---- building blocks shared with pmt-gnuplot ---- */

/* Per-PID statistics. */
struct pmt_process_pid {
	int64_t pid;
	uint64_t records;
	uint64_t labels;
	double t_min, t_max;     /* elapsed_time range */
	int64_t rss_min, rss_max;
	double last_elapsed;     /* of the last record, in file order */
	double last_user;        /* NaN when no record had cpu_times.user */
	bool pfaults_missing;    /* some record had no pfaults */
};

/* One row of pymemtrace's table, computed against the previous record of
 * the same PID (zero for the first one). NaN = empty cell (no pfaults, no
 * user time, or zero time delta). */
struct pmt_process_row {
	double t;
	int64_t rss;
	double faults_per_s;
	double user;
	double mean_cpu; /* fraction: 1.0 = 100% */
	double inst_cpu;
	const char *iso; /* "" when absent */
	int64_t pid;
	const char *label; /* NULL when none */
	size_t label_len;
};

/* The records of one log grouped by PID in file order, spooled to an
 * unlinked temporary file so memory stays bounded by the number of PIDs. */
struct pmt_process_log;

/* Reads the whole input. warn (may be NULL) sees every bad line. Returns 0,
 * or -errno; on an input error after some records, *out is still set and
 * the error returned (callers print what they have, then fail). */
int pmt_process_log_read(struct pmt_input *in, pmt_process_warn_fn warn, void *ctx,
			 struct pmt_process_log **out);
void pmt_process_log_free(struct pmt_process_log *l);
unsigned pmt_process_log_pids(const struct pmt_process_log *l);
const struct pmt_process_pid *pmt_process_log_pid(const struct pmt_process_log *l, unsigned i);
uint64_t pmt_process_log_bad(const struct pmt_process_log *l);
bool pmt_process_log_truncated(const struct pmt_process_log *l);

/* Iterates the rows of PID i (0-based, order of first appearance): begin,
 * then next until it returns 0. Strings stay valid until the next call. */
int pmt_process_log_begin(struct pmt_process_log *l, unsigned i);
int pmt_process_log_next(struct pmt_process_log *l, struct pmt_process_row *row);

/* pymemtrace's cell texts for a row (the header when row is NULL), each
 * padded to its column width as pymemtrace formats it: cells[9] point into
 * buf. Empty cells are blank, or "NaN" (what the .dat needs) with
 * nan_for_empty. Control characters in labels are shown as escapes. */
enum { PMT_PROCESS_NCOLS = 9 };
void pmt_process_row_cells(const struct pmt_process_row *row, bool nan_for_empty, char *buf,
			   size_t bufsz, const char *cells[PMT_PROCESS_NCOLS]);
/* Writes one row (or the header) padded exactly as pymemtrace prints it,
 * with a final newline. */
int pmt_process_row_print(const struct pmt_process_row *row, FILE *out);
