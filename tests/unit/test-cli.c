/* SPDX-License-Identifier: MIT */
/* libpmt/report/cli.c: option value parsing and message formats. TAP output. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libpmt/report/cli.h>

static int failures, count;

static void check(int ok, const char *what)
{
	count++;
	printf("%sok %d - %s\n", ok ? "" : "not ", count, what);
	if (!ok)
		failures++;
}

static int bytes_is(const char *s, int64_t want)
{
	int64_t v = 12345;
	return pmt_cli_parse_bytes(s, &v) == 0 && v == want;
}

static int bytes_bad(const char *s)
{
	int64_t v;
	return pmt_cli_parse_bytes(s, &v) < 0;
}

int main(void)
{
	printf("1..8\n");
	check(bytes_is("4096", 4096) && bytes_is("0", 0), "plain byte counts");
	check(bytes_is("4k", 4096) && bytes_is("4K", 4096) && bytes_is("4KiB", 4096) &&
		  bytes_is("1M", 1 << 20) && bytes_is("2G", INT64_C(2) << 30) &&
		  bytes_is("10B", 10),
	      "binary suffixes");
	check(bytes_is("-1", -1), "-1 kept for the caller to resolve as one page");
	check(bytes_bad("") && bytes_bad("-2") && bytes_bad("4x") && bytes_bad("k") &&
		  bytes_bad("99999999999999999999") && bytes_bad("9000000000G") && bytes_bad(" 4"),
	      "bad byte counts rejected");
	uint64_t u = 0;
	check(pmt_cli_parse_u64("18446744073709551615", &u) == 0 && u == UINT64_MAX, "u64 max");
	check(pmt_cli_parse_u64("-1", &u) < 0 && pmt_cli_parse_u64("1x", &u) < 0 &&
		  pmt_cli_parse_u64("18446744073709551616", &u) < 0,
	      "bad u64 rejected");

	pmt_cli_set_prog("/usr/bin/lt-pmt-filter");
	check(!strcmp(pmt_cli_prog(), "pmt-filter"), "prog is the basename without lt-");

	/* message format, through a pipe on stderr */
	int fd[2];
	if (pipe(fd))
		return 2;
	fflush(stderr);
	int saved = dup(2);
	dup2(fd[1], 2);
	pmt_cli_error("a.log", "bad record at byte %d", 7);
	pmt_cli_warn(NULL, "truncated");
	fflush(stderr);
	dup2(saved, 2);
	close(fd[1]);
	char buf[256] = "";
	ssize_t n = read(fd[0], buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	check(!strcmp(buf, "pmt-filter: a.log: bad record at byte 7\n"
			   "pmt-filter: warning: truncated\n"),
	      "error and warning lines");
	return failures ? 1 : 0;
}
