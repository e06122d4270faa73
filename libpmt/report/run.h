/* SPDX-License-Identifier: MIT */
#pragma once
/* A run: the logs of one program and its child processes (the logs
 * pmt_tracer --follow-children writes, one per process), read one at a time
 * and summarised together: one row per process, with its parent where a
 * parent's MESSAGE names it ("pmt: child pid=N how=H log=PATH"), and the
 * functions aggregated over every process, matched by what a person sees of
 * them (function, file, first line), since code ids differ between logs.
 *
 * Memory: a row per process and an entry per distinct function; never the
 * events, and no log stays open once added (pmt_run_add() copies what it
 * keeps).
 *
 * Arguments: pmt_run_expand() turns files and directories into the list of
 * logs to read (a directory: the files in it named *.log.zst, *.log or
 * *.zst, sorted by name; not recursive). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpmt/read/source.h>
#include <libpmt/report/profile.h>
#include <libpmt/report/table.h>

/* One log to read, or a directory that could not be listed (err < 0, path
 * the directory; PMT_E_EMPTY when it holds no log). */
struct pmt_run_entry {
	char *path;
	int err;
};

/* The logs that args name, in order; dirs: how many args were directories.
 * "-" stays standard input. *out is freed with pmt_run_entries_free(). 0 or
 * -ENOMEM. */
int pmt_run_expand(char *const *args, unsigned n, struct pmt_run_entry **out, size_t *count,
		   unsigned *dirs);
void pmt_run_entries_free(struct pmt_run_entry *v, size_t n);

/* A function over all the processes of a run. */
struct pmt_run_func {
	const char *name, *file; /* file: as the log has it; shown: as names.h shows it */
	const char *shown;
	size_t name_len, file_len, shown_len;
	uint32_t line;
	uint32_t processes; /* how many processes ran it */
	struct pmt_fstat st;
};

/* One process of a run (one log). */
struct pmt_run_proc {
	char *log;	 /* the log's name as given */
	char *program;	 /* the header's argv, joined by spaces (argv[0] short unless full) */
	char *key;	 /* argv in full, what two runs' processes are matched by */
	const char *how; /* spawn, fork, exec, or "" when no parent named it */
	uint32_t pid, ppid;
	uint32_t parent; /* index + 1 of the parent process in the run, 0: none known */
	uint64_t events, duration_ns;
	int64_t rss_start, rss_peak, rss_end;
	bool rss, heap; /* RSS samples seen; heap records seen */
	int64_t heap_peak, heap_live;
	uint64_t heap_allocated;
	const char *complete; /* yes, truncated, cut, error */
};

struct pmt_run_opts {
	bool full_path;	 /* file names and argv[0] in full */
	bool all_frames; /* keep the tracer's own frames in the functions */
};

struct pmt_run;

int pmt_run_new(const struct pmt_run_opts *o, struct pmt_run **out);
void pmt_run_free(struct pmt_run *run);

/* Reads src to its end into a new profile (*prof, weights as
 * pmt_profile_new(); the caller owns it, also after an error), noting the
 * MESSAGEs that name child processes for the process pmt_run_add() adds
 * next (run may be NULL: nothing noted). Returns 0, or the -errno reading
 * stopped on (*prof then holds what
 * was read before). */
int pmt_run_read(struct pmt_run *run, struct pmt_source *src, unsigned weights,
		 struct pmt_profile **prof);
/* Adds the process of log name (src read to its end into prof; err: the
 * error reading stopped on, 0): its row and its functions. Nothing of src
 * or prof is kept. 0 or -ENOMEM. */
int pmt_run_add(struct pmt_run *run, const char *name, struct pmt_source *src,
		const struct pmt_profile *prof, int err);
/* After the last pmt_run_add(): every process's parent, from the MESSAGEs.
 * Returns how many child logs the MESSAGEs name that are not in the run
 * (not given, or not traced). */
unsigned pmt_run_finish(struct pmt_run *run);

size_t pmt_run_procs(const struct pmt_run *run);
const struct pmt_run_proc *pmt_run_proc(const struct pmt_run *run, size_t i);
/* The functions, in no particular order. */
const struct pmt_run_func *pmt_run_funcs(const struct pmt_run *run, size_t *n);
/* Events by kind over all processes (written: EVENT items). */
const uint64_t *pmt_run_kinds(const struct pmt_run *run, uint64_t *written);

/* The tables (new; the caller frees them), or -errno: one row per process
 * (parents before their children), events by kind, and the top functions
 * (sort as summary.h: 0 self, 1 inclusive, 2 calls; top 0: all). */
int pmt_run_processes_table(const struct pmt_run *run, const char *title, struct pmt_table **out);
int pmt_run_kinds_table(const struct pmt_run *run, const char *title, struct pmt_table **out);
int pmt_run_functions_table(const struct pmt_run *run, int sort, unsigned top, const char *title,
			    struct pmt_table **out);
