/* SPDX-License-Identifier: MIT */
/* PCRE2 behind pmt_regex: one compile, one match context, JIT when built. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

#include <libpmt/read/regex.h>

struct pmt_regex {
	pcre2_code *code;
	pcre2_match_data *md;
	bool jit;
};

int pmt_regex_new(const char *pattern, struct pmt_regex **out, char *err, size_t errlen)
{
	struct pmt_regex *re = calloc(1, sizeof(*re));
	if (!re)
		return -ENOMEM;
	int ec;
	PCRE2_SIZE off;
	/* no UTF flag: names are bytes, and a stray Latin-1 byte must not make
	 * every match fail */
	re->code = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &off, NULL);
	if (!re->code) {
		PCRE2_UCHAR msg[256];
		pcre2_get_error_message(ec, msg, sizeof(msg));
		if (err)
			snprintf(err, errlen, "%s at offset %zu", (const char *)msg, (size_t)off);
		free(re);
		return -EINVAL;
	}
	re->jit = pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE) == 0;
	re->md = pcre2_match_data_create_from_pattern(re->code, NULL);
	if (!re->md) {
		pcre2_code_free(re->code);
		free(re);
		return -ENOMEM;
	}
	*out = re;
	return 0;
}

void pmt_regex_free(struct pmt_regex *re)
{
	if (!re)
		return;
	pcre2_match_data_free(re->md);
	pcre2_code_free(re->code);
	free(re);
}

bool pmt_regex_match(struct pmt_regex *re, const char *s, size_t len)
{
	int r = re->jit ? pcre2_jit_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, NULL)
			: pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, re->md, NULL);
	return r >= 0;
}
