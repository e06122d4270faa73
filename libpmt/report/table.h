/* SPDX-License-Identifier: MIT */
#pragma once
/* Tables for reports, printed as text (aligned columns), csv, json (array of
 * objects), markdown or rst (grid tables, as the pymemtrace tech notes use).
 * A table holds its cells in memory: for summaries, not for event streams.
 * Ownership: the table copies every string it is given. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum pmt_format {
	PMT_FMT_TEXT = 0,
	PMT_FMT_CSV,
	PMT_FMT_JSON,
	PMT_FMT_MARKDOWN,
	PMT_FMT_RST,
	PMT_FMT_HTML, /* a <table> for pmt-report; not a --format value */
};
/* Or'ed into a format: byte cells print as exact integers in text, markdown,
 * rst and html too (--bytes). csv and json always print them exact. */
#define PMT_FMT_EXACT 0x100
#define PMT_FMT_MASK 0xff
/* Returns the format (one of the first five) or -1. */
int pmt_format_parse(const char *s);

/* Bytes for a person: "512 B", "12.3 MiB", "-4.0 KiB" (binary units, one
 * decimal; the unit is padded to three characters so right-aligned columns
 * line up). Returns buf. */
char *pmt_format_bytes(char *buf, size_t cap, double v);

enum pmt_align { PMT_ALIGN_LEFT = 0, PMT_ALIGN_RIGHT };

struct pmt_table;

/* title may be NULL; text/markdown/rst print it above the table, json and
 * csv leave it out. */
int pmt_table_new(const char *title, struct pmt_table **out);
void pmt_table_free(struct pmt_table *t);
int pmt_table_column(struct pmt_table *t, const char *name, enum pmt_align a);
/* Cells fill the current row left to right; a row is complete when every
 * column has a cell, and the next cell starts a new row. */
int pmt_table_str(struct pmt_table *t, const char *s);
int pmt_table_strn(struct pmt_table *t, const char *s, size_t len);
int pmt_table_int(struct pmt_table *t, int64_t v);
/* decimals digits after the point; json prints the number unquoted. */
int pmt_table_num(struct pmt_table *t, double v, int decimals);
/* A byte count: exact in csv and json (and with PMT_FMT_EXACT), binary
 * units in the other formats (pmt_format_bytes). */
int pmt_table_bytes(struct pmt_table *t, int64_t v);
/* The same for a mean: exact with decimals digits where exact. */
int pmt_table_bytes_num(struct pmt_table *t, double v, int decimals);
/* Empty cell (json: null). */
int pmt_table_null(struct pmt_table *t);
/* Writes the table; 0 or -errno (EIO on a write error). */
int pmt_table_print(const struct pmt_table *t, enum pmt_format f, FILE *out);

/* Helpers for tools that stream rows themselves (pmt-filter --format csv|json):
 * one CSV field, quoted when it has to be (RFC 4180), and one JSON string,
 * where bytes that are not UTF-8 are read as Latin-1 (pymemtrace writes
 * Latin-1 names as raw bytes) so the output always parses. */
int pmt_csv_write_field(FILE *out, const char *s, size_t len);
int pmt_json_write_string(FILE *out, const char *s, size_t len);
/* Text as XML/HTML character data or attribute value (SVG, HTML): & < > "
 * ' as entities, control characters as spaces or U+FFFD, bytes that are not
 * UTF-8 read as Latin-1. 0 or -EIO. */
int pmt_xml_write(FILE *out, const char *s, size_t len);
/* A row of a comparison: what, a, b, b - a (in bytes or as integers) and
 * b / a (null when a is 0). */
void pmt_table_diff_row(struct pmt_table *t, const char *what, int64_t a, int64_t b, bool bytes);
