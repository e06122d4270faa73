/* SPDX-License-Identifier: MIT */
#pragma once
/* Reader of process JSON logs: the ProcessLoggingThread-JSON[-START|-STOP]
 * records that pymemtrace's process module and pmt's monitor write, found
 * anywhere in an application log (other lines are ignored), parsed with
 * jansson. Streams: one record at a time, bounded memory.
 * Ownership: the reader borrows the input (the caller frees it); strings in
 * a record stay valid until the next call. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpmt/read/input.h>

enum pmt_process_kind { PMT_PROC_PLAIN = 0, PMT_PROC_START, PMT_PROC_STOP };

struct pmt_process_record {
	enum pmt_process_kind kind;
	uint64_t line;	  /* 1-based line number in the (decompressed) input */
	int64_t pid;	  /* required */
	double elapsed;	  /* elapsed_time (s since the process started), required */
	int64_t rss;	  /* memory_info.rss, bytes, required */
	int64_t vms;	  /* memory_info.vms, -1 when absent */
	bool has_pfaults; /* memory_info.pfaults: macOS psutil and pmt; not Linux psutil */
	double pfaults;
	bool has_user; /* cpu_times.user */
	double user;
	double system; /* cpu_times.system, NaN when absent */
	bool has_timestamp;
	char iso[32];	   /* timestamp as YYYY-MM-DDTHH:MM:SS.ffffff, "" when absent */
	const char *label; /* UTF-8 label bytes or NULL (no label key) */
	size_t label_len;
};

struct pmt_process_reader;

/* Called for every line that carries the prefix but no usable record
 * (broken JSON, a required key missing); why is lower case. */
typedef void (*pmt_process_warn_fn)(void *ctx, uint64_t line, const char *why);

int pmt_process_reader_new(struct pmt_input *in, struct pmt_process_reader **out);
void pmt_process_reader_free(struct pmt_process_reader *r);
void pmt_process_reader_set_warn(struct pmt_process_reader *r, pmt_process_warn_fn fn, void *ctx);

/* Next record: 1, 0 at the end, or -errno from the input (records before
 * it were all returned). Bad lines are skipped, counted and passed to the
 * warn callback. */
int pmt_process_reader_next(struct pmt_process_reader *r, struct pmt_process_record *rec);

uint64_t pmt_process_reader_bad(const struct pmt_process_reader *r);

/* Parses one log line; 1 = a record, 0 = no prefix on the line, or
 * PMT_E_CORRUPT with a static reason in *why. For tests and the reader. */
int pmt_process_parse_line(const char *line, size_t len, struct pmt_process_record *rec,
			   const char **why);
