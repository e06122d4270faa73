/* SPDX-License-Identifier: MIT */
#pragma once
/* A process JSON log read whole and grouped by PID, in bounded memory: what
 * the process reports (pmt-summarise, pmt-diff) and pmt-gnuplot's process
 * plots iterate over. Ownership: the log owns its spool file and buffers. */
#include <stdbool.h>
#include <stdint.h>

#include <libpmt/read/input.h>
#include <libpmt/read/process-reader.h>

/* Per-PID statistics. */
struct pmt_process_pid {
	int64_t pid;
	uint64_t records;
	uint64_t labels;
	double t_min, t_max; /* elapsed_time range */
	int64_t rss_min, rss_max;
	double last_elapsed;  /* of the last record, in file order */
	double last_user;     /* NaN when no record had cpu_times.user */
	bool pfaults_missing; /* some record had no pfaults */
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
