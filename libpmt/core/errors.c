/* SPDX-License-Identifier: MIT */
#include <string.h>

#include <libpmt/core/errors.h>

const char *pmt_strerror(int err)
{
	switch (err > 0 ? -err : err) {
	case PMT_E_EMPTY:
		return "empty input";
	case PMT_E_TYPE:
		return "not a log this tool reads";
	case PMT_E_CORRUPT:
		return "corrupt log record";
	case PMT_E_ZSTD:
		return "corrupt zstd data";
	case PMT_E_VERSION:
		return "unsupported log format version";
	case PMT_E_TRUNCATED:
		return "truncated log (no complete zstd frame or record)";
	}
	if (err < 0)
		err = -err;
	if (err >= PMT_E_BASE)
		return "unknown pmt error";
	/* strerror() texts start with a capital; GNU style messages do not. */
	static __thread char buf[128];
	const char *s = strerror(err);
	size_t n = strlen(s);
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}
