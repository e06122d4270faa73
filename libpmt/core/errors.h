/* SPDX-License-Identifier: MIT */
#pragma once
/* libpmt reports failures as negative numbers: -errno for a system error,
 * or one of the codes below, which have a meaning of their own in pmt and
 * lie apart from every errno (errno values are small: Linux's end below
 * 4096), so a message never names a system error that did not happen (a
 * truncated log is not "broken pipe"). pmt_strerror() gives every code a
 * lower-case message. */
#include <errno.h>
#include <stdbool.h>

#define PMT_E_BASE 0x10000
#define PMT_E_EMPTY (-(PMT_E_BASE + 1))	    /* empty input */
#define PMT_E_TYPE (-(PMT_E_BASE + 2))	    /* not a log of a type this tool reads */
#define PMT_E_CORRUPT (-(PMT_E_BASE + 3))   /* a record does not decode */
#define PMT_E_ZSTD (-(PMT_E_BASE + 4))	    /* the zstd data is corrupt */
#define PMT_E_VERSION (-(PMT_E_BASE + 5))   /* newer log format */
#define PMT_E_TRUNCATED (-(PMT_E_BASE + 6)) /* input ends inside a frame or record */
#define PMT_E_LAST PMT_E_TRUNCATED

/* Whether err (< 0) is one of pmt's own codes rather than -errno. */
static inline bool pmt_is_pmt_error(int err)
{
	return err <= -(PMT_E_BASE + 1) && err >= PMT_E_LAST;
}

/* Static string, lower case, no full stop. Accepts err < 0 or, for an
 * errno, err > 0. */
const char *pmt_strerror(int err);
