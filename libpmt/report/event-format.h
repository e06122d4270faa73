/* SPDX-License-Identifier: MIT */
#pragma once
/* Events printed the way pymemtrace prints them (reference: pymemtrace-facts
 * §1.5): fixed minimum widths, single spaces, 193 characters when nothing
 * overflows, so a line of ours and a line of theirs compare column for
 * column. Also the csv and json-lines forms of the same fields. Used by
 * pmt-filter and pmt-prev; formatting is by hand because printf with
 * padded fields costs more than decoding the event. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <libpmt/read/source.h>

/* The fields of one printed line. */
struct pmt_evline {
	const char *tag; /* "NEXT: ", "PREV: ", ... (6 bytes) */
	uint64_t number;
	int64_t devent;
	uint64_t time_ns;
	unsigned kind;
	const char *file, *name;
	size_t file_len, name_len;
	uint32_t line;
	int64_t rss, drss;
	uint32_t thread;
};

/* Fills file/name from the source's code table (pymemtrace's placeholders
 * when the id is unknown). */
void pmt_evline_code(struct pmt_evline *l, const struct pmt_source *s, uint32_t code);
/* The file as a person reads it (names.h), for the text form. */
struct pmt_names;
void pmt_evline_short(struct pmt_evline *l, struct pmt_names *n);

/* "HDR: Event ... dRSS\n", as pymemtrace writes it. */
int pmt_evfmt_header(FILE *out);
int pmt_evfmt_text(FILE *out, const struct pmt_evline *l);
/* "MSG:  <event> +<d> <clock>     # text\n" */
int pmt_evfmt_message(FILE *out, uint64_t number, int64_t devent, uint64_t time_ns,
		      const char *text, size_t len);

/* CSV: a header row, then one row per event or message. */
int pmt_evfmt_csv_header(FILE *out);
int pmt_evfmt_csv(FILE *out, const struct pmt_evline *l);
int pmt_evfmt_csv_message(FILE *out, uint64_t number, uint64_t time_ns, const char *text,
			  size_t len);
/* JSON lines: one object per line. */
int pmt_evfmt_json(FILE *out, const struct pmt_evline *l);
int pmt_evfmt_json_message(FILE *out, uint64_t number, uint64_t time_ns, const char *text,
			   size_t len);

/* Allocator calls (heap logs), one per line: text ("HEAP: event clock call
 * size address [old] thread line function file"), csv, json lines. The
 * call's site gives function, file and line. */
int pmt_evfmt_alloc_header(FILE *out);
int pmt_evfmt_alloc_text(FILE *out, const struct pmt_item *it, const struct pmt_source *s);
int pmt_evfmt_alloc_csv_header(FILE *out);
int pmt_evfmt_alloc_csv(FILE *out, const struct pmt_item *it, const struct pmt_source *s);
int pmt_evfmt_alloc_json(FILE *out, const struct pmt_item *it, const struct pmt_source *s);
/* The call has a size (not a free). */
static inline int pmt_alloc_has_size(unsigned op)
{
	return !pmt_alloc_op_frees(op) && !pmt_alloc_op_null_free(op);
}
