/* SPDX-License-Identifier: MIT */
/* The input layer: plain and zstd input read the same, lines of any length,
 * type sniffing, truncated and corrupt zstd. Uses the zstd CLI for the
 * compressed fixtures, as a third party would make them. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "tap.h"
#include <libpmt/core/errors.h>
#include <libpmt/read/input.h>

static char dir[] = "/tmp/pmt-test-input-XXXXXX";

static const char *at(const char *name)
{
	static char buf[8][300];
	static int i;
	char *p = buf[i++ & 7];
	snprintf(p, 300, "%s/%s", dir, name);
	return p;
}

static void put(const char *name, const char *data, size_t n)
{
	int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, n) != (ssize_t)n)
		abort();
	close(fd);
}

/* Compresses path to path.zst with the zstd CLI. */
static int zstd_cli(const char *level, const char *path)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "zstd -q -f %s %s -o %s.zst", level, path, path);
	return system(cmd);
}

/* Counts lines and bytes through getline. */
static int lines(const char *path, long *nlines, long *nbytes, size_t *longest, int *trunc)
{
	struct pmt_input *in;
	int r = pmt_input_open(path, &in);
	if (r < 0)
		return r;
	const char *l;
	size_t n;
	*nlines = *nbytes = 0;
	*longest = 0;
	while ((r = pmt_input_getline(in, &l, &n)) > 0) {
		(*nlines)++;
		*nbytes += (long)n;
		if (n > *longest)
			*longest = n;
	}
	*trunc = pmt_input_truncated(in);
	pmt_input_free(in);
	return r;
}

int main(void)
{
	if (!mkdtemp(dir))
		return 99;
	/* 100k lines of varying length, one 3 MiB line, CRLF, a NUL, no final \n */
	size_t cap = 16u << 20, len = 0;
	char *text = malloc(cap);
	long want_lines = 0, want_bytes = 0;
	for (int i = 0; i < 100000; i++) {
		int k = snprintf(text + len, 200, "line %d %.*s", i, i % 90,
				 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm"
				 "nopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
		len += (size_t)k;
		want_bytes += k;
		text[len++] = '\n';
		want_lines++;
	}
	memset(text + len, 'L', 3u << 20);
	len += 3u << 20;
	text[len++] = '\n';
	want_lines += 3; /* cut into 1 MiB pieces */
	want_bytes += 3u << 20;
	memcpy(text + len, "crlf\r\nnul\0byte", 14);
	len += 14;
	want_lines += 2;
	want_bytes += 5 + 8;
	put("text", text, len);

	long nl, nb;
	size_t longest;
	int trunc;
	ok(lines(at("text"), &nl, &nb, &longest, &trunc) == 0 && nl == want_lines &&
	       nb == want_bytes && longest == 1u << 20 && !trunc,
	   "plain text: %ld lines, %ld bytes (want %ld, %ld)", nl, nb, want_lines, want_bytes);
	ok(zstd_cli("-19", at("text")) == 0, "zstd CLI compresses the text");
	ok(lines(at("text.zst"), &nl, &nb, &longest, &trunc) == 0 && nl == want_lines &&
	       nb == want_bytes && !trunc,
	   "zstd text reads the same: %ld lines", nl);

	struct pmt_input *in;
	ok(pmt_input_open(at("text.zst"), &in) == 0 && pmt_input_compressed(in) &&
	       pmt_input_type(in) == PMT_INPUT_UNKNOWN,
	   "unknown text sniffed as unknown, compressed");
	pmt_input_free(in);

	/* A zstd file cut in the middle: lines up to the cut, then truncated. */
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "head -c 20000 %s.zst > %s/cut.zst", at("text"), dir);
	ok(system(cmd) == 0, "cut the compressed file");
	int r = lines(at("cut.zst"), &nl, &nb, &longest, &trunc);
	ok(r == 0 && trunc && nl > 1000 && nl < want_lines, "cut zstd: %ld lines then truncated",
	   nl);

	/* Corrupt zstd: valid magic then garbage. */
	char bad[200];
	memset(bad, 0xff, sizeof(bad));
	memcpy(bad, "\x28\xb5\x2f\xfd", 4);
	put("bad.zst", bad, sizeof(bad));
	r = pmt_input_open(at("bad.zst"), &in);
	ok(r == PMT_E_ZSTD, "corrupt zstd: PMT_E_ZSTD (%d)", r);
	if (r == 0)
		pmt_input_free(in);

	/* Sniffing. */
	const char *pym = "Start message\nSOF\nHDR: Event        dEvent\n";
	put("pym", pym, strlen(pym));
	ok(pmt_input_open(at("pym"), &in) == 0 && pmt_input_type(in) == PMT_INPUT_PYMEMTRACE,
	   "pymemtrace log sniffed");
	pmt_input_free(in);
	const char *proc =
	    "2026-01-01 00:00:00,000 - app - INFO - hello\n"
	    "2026-01-01 00:00:00,001 - process.py#300 - 1 - (ProcMon   ) - INFO     - "
	    "ProcessLoggingThread-JSON-START {\"pid\": 1}\n";
	put("proc", proc, strlen(proc));
	ok(zstd_cli("-1", at("proc")) == 0 && pmt_input_open(at("proc.zst"), &in) == 0 &&
	       pmt_input_type(in) == PMT_INPUT_PROCESS,
	   "zstd-compressed process log sniffed");
	pmt_input_free(in);
	put("empty", "", 0);
	ok(pmt_input_open(at("empty"), &in) == 0 && pmt_input_type(in) == PMT_INPUT_EMPTY,
	   "empty file sniffed as empty");
	pmt_input_free(in);
	ok(zstd_cli("-1", at("empty")) == 0 && pmt_input_open(at("empty.zst"), &in) == 0 &&
	       pmt_input_type(in) == PMT_INPUT_EMPTY,
	   "empty zstd sniffed as empty");
	pmt_input_free(in);

	/* stdin. */
	int fd = open(at("text"), O_RDONLY), saved = dup(0);
	dup2(fd, 0);
	close(fd);
	ok(lines("-", &nl, &nb, &longest, &trunc) == 0 && nl == want_lines, "stdin as '-'");
	dup2(saved, 0);
	close(saved);

	/* read() after a partial getline continues at the right byte. */
	ok(pmt_input_open(at("text"), &in) == 0, "reopen");
	const char *l;
	size_t n;
	pmt_input_getline(in, &l, &n);
	char buf[7];
	long k = pmt_input_read(in, buf, 6);
	buf[6] = '\0';
	ok(k == 6 && !strcmp(buf, "line 1"), "read continues after getline");
	pmt_input_free(in);

	/* From memory (the fuzz targets' input): the same bytes, lines, type
	 * and zstd decoding as from the file. */
	ok(pmt_input_open_mem(text, len, "mem", &in) == 0 &&
	       pmt_input_type(in) == PMT_INPUT_UNKNOWN && !strcmp(pmt_input_path(in), "mem") &&
	       !pmt_input_compressed(in),
	   "memory input: opens, named, not compressed");
	long mlines = 0;
	int gl;
	while ((gl = pmt_input_getline(in, &l, &n)) > 0)
		mlines++;
	ok(gl == 0 && mlines == nl && !pmt_input_truncated(in),
	   "memory input: the lines of the file (%ld of %ld)", mlines, nl);
	pmt_input_free(in);
	{
		char z[4096];
		int zfd = open(at("text.zst"), O_RDONLY);
		ssize_t zn = zfd >= 0 ? read(zfd, z, sizeof(z)) : -1;
		if (zfd >= 0)
			close(zfd);
		ok(zn > 0 && pmt_input_open_mem(z, (size_t)zn, "mem.zst", &in) == 0 &&
		       pmt_input_compressed(in),
		   "memory input: zstd is decompressed");
		char b2[64];
		ok(pmt_input_read(in, b2, 6) == 6 && !memcmp(b2, "line 0", 6),
		   "memory input: the decompressed bytes");
		pmt_input_free(in);
	}
	ok(pmt_input_open_mem("", 0, "empty", &in) == 0 && pmt_input_type(in) == PMT_INPUT_EMPTY,
	   "memory input: empty");
	pmt_input_free(in);
	free(text);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		return 99;
	return done_testing();
}
