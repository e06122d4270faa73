/* SPDX-License-Identifier: MIT */
#pragma once
/* Regular expressions for the analysers' --match/--file: PCRE2, compiled
 * once with JIT where the platform has it, matched on bytes (names in logs
 * need not be UTF-8). Ownership: pmt_regex_free() releases everything. */
#include <stdbool.h>
#include <stddef.h>

struct pmt_regex;

/* Compiles pattern. On a syntax error returns -EINVAL and writes a
 * message ("missing closing parenthesis at offset 3") into err. */
int pmt_regex_new(const char *pattern, struct pmt_regex **out, char *err, size_t errlen);
void pmt_regex_free(struct pmt_regex *re);
/* True when the pattern matches anywhere in s[0..len). */
bool pmt_regex_match(struct pmt_regex *re, const char *s, size_t len);
