/* SPDX-License-Identifier: MIT */
#pragma once
/* How reports name code: file paths as a person reads them, and the
 * tracer's own frames, hidden by default.
 *
 *  - the program's files relative to where it ran (the log header's cwd,
 *    or the directory of the script), "<stdlib>/json/encoder.py" and
 *    "<site-packages>/pkg/mod.py" for the interpreter's own (exact from the
 *    header's library directories; guessed from the path for older logs
 *    and pymemtrace logs, whose program directory is then the deepest one
 *    that holds all their other files), everything else as it is;
 *  - the tracer's own frames: its launcher (pmt_tracer/__main__.py and
 *    __init__.py) and runpy, which run the program; C functions carry their
 *    caller's file, so the exec() that starts the program is one of them.
 *
 * Ownership: the names object copies what it needs from the header. */
#include <stdbool.h>
#include <stddef.h>

#include <libpmt/read/source.h>

enum pmt_file_class {
	PMT_FILE_PROGRAM = 0, /* under the directory it ran in, or relative */
	PMT_FILE_STDLIB,      /* the standard library, frozen modules too */
	PMT_FILE_SITE,	      /* site-packages, dist-packages */
	PMT_FILE_OTHER,	      /* anywhere else, or no file */
};

struct pmt_names;

/* For the log of s, read to its end (its code table is used for the
 * guesses); full: paths stay as they are (--full-path, csv, json), only
 * classified. 0 or -ENOMEM. */
int pmt_names_new(const struct pmt_source *s, bool full, struct pmt_names **out);
void pmt_names_free(struct pmt_names *n);

/* The short form of file[0..len): a pointer into file or into n's buffer
 * (valid until the next call), its length in *out_len; its class in *cls
 * (may be NULL). */
const char *pmt_names_file(struct pmt_names *n, const char *file, size_t len, size_t *out_len,
			   enum pmt_file_class *cls);

/* Whether file is one of the tracer's own (see above). */
bool pmt_names_tracer_file(const char *file, size_t len);
