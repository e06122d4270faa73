/* SPDX-License-Identifier: MIT */
#pragma once
/* libpmt reports failures as -errno. These are the codes with a meaning of
 * their own in pmt; pmt_strerror() gives every code a lower-case message. */
#include <errno.h>

#define PMT_E_EMPTY (-ENODATA)		 /* empty input */
#define PMT_E_TYPE (-EMEDIUMTYPE)	 /* not a log of a type this tool reads */
#define PMT_E_CORRUPT (-EBADMSG)	 /* a record does not decode */
#define PMT_E_ZSTD (-EILSEQ)		 /* the zstd data is corrupt */
#define PMT_E_VERSION (-EPROTONOSUPPORT) /* newer log format */
#define PMT_E_TRUNCATED (-EPIPE)	 /* input ends inside a frame or record */

/* Static string, lower case, no full stop. Accepts err < 0 or > 0. */
const char *pmt_strerror(int err);
