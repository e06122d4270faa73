/* SPDX-License-Identifier: MIT */
#pragma once
/* Shared command-line behaviour of the pmt-* tools (what main()s use):
 * messages as "prog: [file: ]message", --version text, exit codes, option
 * values. These helpers write to stderr/stdout; the rest of libpmt never
 * prints. */
#include <stdint.h>
#include <stdio.h>

enum { PMT_EXIT_OK = 0, PMT_EXIT_NO = 1, PMT_EXIT_ERROR = 2 };

void pmt_cli_set_prog(const char *argv0); /* basename kept */
const char *pmt_cli_prog(void);

/* "prog: file: message\n" (file may be NULL) on stderr. */
void pmt_cli_error(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "prog: file: <pmt_strerror(err)>[: detail]\n" (file and detail may be
 * NULL or ""): how every tool reports a failed libpmt call. */
void pmt_cli_errno(const char *file, int err, const char *detail);
/* "prog: file: warning: log is truncated[: detail]; <then>\n": a cut log
 * (killed writer, copy of a live log) whose readable part was used. */
void pmt_cli_truncated(const char *file, const char *detail, const char *then);
/* "prog: file: warning: log is still being written (no trailer yet): read N
 * events up to its last complete frame\n": a live log (pmt_source_live()). */
void pmt_cli_live(const char *file, uint64_t events);
/* What a tool says of a truncated log: pmt_cli_live() or pmt_cli_truncated(). */
struct pmt_source;
void pmt_cli_incomplete(const char *file, const struct pmt_source *src, const char *then);
/* "prog: file: warning: message\n". */
void pmt_cli_warn(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "prog: file: note: message\n": information the user should see on stderr
 * that is neither a warning nor an error. */
void pmt_cli_note(const char *file, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "prog: file: the log has no heap records: --weight alloc needs a log of
 * pmt_tracer --heap\n": a log without what weight w (enum pmt_weight,
 * profile.h) is made of, as pmt_profile_has_weight() tells. */
void pmt_cli_no_weight(const char *file, unsigned w);
/* "prog: message\nTry 'prog --help' for more information.\n", exit 2. */
__attribute__((noreturn)) void pmt_cli_usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
/* "prog (pmt) VERSION\n" on stdout. */
void pmt_cli_version(void);

/* What every tool's getopt loop ends with: 'h' calls usage() and exits 0,
 * 'V' prints the version and exits 0, anything else (getopt's '?', having
 * printed the reason) gives the --help hint and exits 2. */
__attribute__((noreturn)) void pmt_cli_common_option(int c, void (*usage)(void));

/* --format's value among the formats a tool prints (events: text, csv,
 * json; tables: all five); anything else is a usage error (exit 2). */
enum { PMT_CLI_EVENT_FORMATS = 0, PMT_CLI_TABLE_FORMATS = 1 };
int pmt_cli_format(const char *arg, int which);

struct pmt_input;
/* Shows "prog: file: NN%" on stderr while in is read, when stderr is a
 * terminal and the file is large (64 MiB, or $PMT_PROGRESS_MIN bytes); the
 * line is cleared at the end of the input. */
void pmt_cli_progress(struct pmt_input *in);

/* --threads N, taken by every tool that reads logs: the threads that
 * decompress a pmt log's frames ahead of reading it (pmt_input_set_threads;
 * 1: none). The longopts entry, the getopt value, and what the option
 * does (a bad value is a usage error, exit 2). */
#define PMT_CLI_OPT_THREADS 0x7468
#define PMT_CLI_THREADS_OPTION                                                                     \
	{                                                                                          \
		"threads", required_argument, NULL, PMT_CLI_OPT_THREADS                            \
	}
void pmt_cli_threads(const char *arg);

/* Byte counts: "4096", "4k", "4KiB", "1M" (binary multiples), and "-1",
 * which stays -1 in *out: it means "one page", and the caller resolves it
 * against the log's own page size. 0 or -EINVAL. */
int pmt_cli_parse_bytes(const char *s, int64_t *out);
/* An option's count (--top, --context, ...) in [min, max]; anything else is
 * a usage error naming the option and the range (exit 2). */
uint64_t pmt_cli_range(const char *opt, const char *arg, uint64_t min, uint64_t max);

/* Non-negative integers. 0 or -EINVAL. */
int pmt_cli_parse_u64(const char *s, uint64_t *out);
