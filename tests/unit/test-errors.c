/* SPDX-License-Identifier: MIT */
/* libpmt/core/errors: pmt's codes lie apart from every errno, so that no
 * message names a system error that did not happen. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <libpmt/core/errors.h>

#include "tap.h"

int main(void)
{
	static const int codes[] = {PMT_E_EMPTY, PMT_E_TYPE,	PMT_E_CORRUPT,
				    PMT_E_ZSTD,	 PMT_E_VERSION, PMT_E_TRUNCATED};
	const unsigned n = sizeof(codes) / sizeof(codes[0]);
	for (unsigned i = 0; i < n; i++) {
		int c = codes[i];
		ok(pmt_is_pmt_error(c), "code %d is a pmt error", c);
		ok(-c >= 4096, "code %d is beyond every errno (Linux's are below 4096)", c);
		const char *m = pmt_strerror(c);
		ok(m && *m && strcmp(m, "unknown pmt error"), "code %d: \"%s\"", c, m ? m : "");
		ok(!strcmp(pmt_strerror(-c), m), "code %d given positive: the same message", c);
		for (unsigned j = 0; j < i; j++)
			if (!strcmp(pmt_strerror(codes[j]), m))
				ok(0, "codes %d and %d share the message \"%s\"", codes[j], c, m);
	}
	/* errno values stay system errors, with their own message */
	static const int sys[] = {EPIPE,       ENODATA,		EBADMSG, EILSEQ,
				  EMEDIUMTYPE, EPROTONOSUPPORT, ENOENT,	 ENOSPC};
	for (unsigned i = 0; i < sizeof(sys) / sizeof(sys[0]); i++) {
		int e = sys[i];
		ok(!pmt_is_pmt_error(-e), "-errno %d is not a pmt error", e);
		for (unsigned j = 0; j < n; j++)
			if (codes[j] == -e)
				ok(0, "pmt code %d is -errno %d", codes[j], e);
		char want[128];
		snprintf(want, sizeof(want), "%s", strerror(e));
		want[0] = (char)(want[0] | 0x20);
		ok(!strcasecmp(pmt_strerror(-e), want), "-errno %d: \"%s\"", e, pmt_strerror(-e));
	}
	ok(!strcmp(pmt_strerror(-EPIPE), "broken pipe"), "EPIPE is a broken pipe only");
	ok(strstr(pmt_strerror(PMT_E_TRUNCATED), "truncated") != NULL,
	   "a truncated log says truncated");
	ok(!strcmp(pmt_strerror(-(PMT_E_BASE + 99)), "unknown pmt error"),
	   "an unassigned pmt code: unknown pmt error");
	return done_testing();
}
