/* SPDX-License-Identifier: MIT */
/* Input: file or stdin, zstd or not, as decompressed bytes or lines. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <libpmt/core/errors.h>
#include <libpmt/core/log-format.h>
#include <libpmt/read/frames.h>
#include <libpmt/read/input.h>

/* The buffer of decompressed bytes starts at SNIFF_LEN, which a pmt log
 * never outgrows (its records are read through it), and grows only for a
 * text line longer than it, up to BUF_CAP: small inputs cost no large
 * allocation. */
#define BUF_CAP (1024 * 1024 + 64 * 1024) /* longest line + one read */
#define LINE_MAX_LEN (1024 * 1024)
#define SNIFF_LEN (64 * 1024)
#define READ_CHUNK (64 * 1024)

struct pmt_input {
	int fd;		    /* -1 for memory */
	const uint8_t *mem; /* pmt_input_open_mem(): mem[mem_pos, mem_len) unread */
	size_t mem_len, mem_pos;
	char *path;
	enum pmt_input_type type;
	bool compressed;
	bool raw_eof; /* the fd is exhausted */
	bool eof;     /* no more decompressed bytes */
	bool truncated;
	uint64_t raw_bytes, file_size;
	void (*progress)(void *ctx, uint64_t done, uint64_t total, bool end);
	void *progress_ctx;

	/* zstd */
	ZSTD_DCtx *dctx;
	uint8_t *zin;
	size_t zin_cap, zin_pos, zin_len;
	size_t zret; /* last ZSTD_decompressStream result: 0 at a frame end */

	int pending; /* an error to give once the bytes before it are out */

	/* parallel decode (frames.h): on between two frames unless hold, which
	 * keeps the stream here until a frame ends with the pool's rest gone */
	struct pmt_frames *frames;
	bool frames_on, hold;

	/* decompressed bytes not yet consumed: buf[start, end) */
	char *buf;
	size_t cap; /* of buf: SNIFF_LEN to BUF_CAP */
	size_t start, end;
};

const char *pmt_input_type_name(enum pmt_input_type t)
{
	switch (t) {
	case PMT_INPUT_PMT:
		return "pmt event log";
	case PMT_INPUT_PYMEMTRACE:
		return "pymemtrace log";
	case PMT_INPUT_PROCESS:
		return "process log";
	case PMT_INPUT_EMPTY:
		return "empty";
	case PMT_INPUT_REFTRACE:
		return "pymemtrace reference tracing log";
	default:
		return "unknown";
	}
}

static unsigned default_threads;

void pmt_input_set_threads(unsigned n) { default_threads = n; }

unsigned pmt_input_threads(void)
{
	if (default_threads)
		return default_threads;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 1 ? (unsigned)n : 1;
}

static long read_fd(struct pmt_input *in, void *dst, size_t n);

static long raw_read(struct pmt_input *in, void *dst, size_t n)
{
	/* what the decode pool read and gave back comes first */
	if (in->frames && pmt_frames_has_rest(in->frames))
		return (long)pmt_frames_take_rest(in->frames, dst, n);
	return read_fd(in, dst, n);
}

static long frames_read(void *ctx, void *dst, size_t n) { return read_fd(ctx, dst, n); }

static long read_fd(struct pmt_input *in, void *dst, size_t n)
{
	if (in->raw_eof)
		return 0;
	if (in->mem) {
		size_t k = in->mem_len - in->mem_pos;
		if (k > n)
			k = n;
		memcpy(dst, in->mem + in->mem_pos, k);
		in->mem_pos += k;
		in->raw_eof = k == 0;
		in->raw_bytes += k;
		if (in->progress)
			in->progress(in->progress_ctx, in->raw_bytes, in->file_size, k == 0);
		return (long)k;
	}
	for (;;) {
		ssize_t k = read(in->fd, dst, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			in->raw_eof = true;
		in->raw_bytes += (uint64_t)k;
		if (in->progress)
			in->progress(in->progress_ctx, in->raw_bytes, in->file_size, k == 0);
		return k;
	}
}

/* Produces up to n decompressed bytes at dst; 0 only at the end. */
static long produce(struct pmt_input *in, void *dst, size_t n)
{
	if (in->pending) {
		long e = in->pending;
		in->pending = 0;
		return e;
	}
	if (in->eof || !n)
		return 0;
	if (!in->compressed) {
		long k = raw_read(in, dst, n);
		if (k == 0)
			in->eof = true;
		return k;
	}
	if (in->frames && !in->hold && in->zret == 0) {
		if (!in->frames_on) {
			int r = pmt_frames_feed(in->frames, in->zin + in->zin_pos,
						in->zin_len - in->zin_pos);
			if (r < 0)
				return r;
			in->zin_pos = in->zin_len;
			in->frames_on = true;
		}
		long k = pmt_frames_produce(in->frames, dst, n);
		if (k < 0)
			in->eof = true;
		if (k != 0)
			return k;
		in->frames_on = false;
		in->hold = true;
	}
	ZSTD_outBuffer out = {dst, n, 0};
	while (out.pos == 0) {
		if (in->zin_pos == in->zin_len) {
			long k = raw_read(in, in->zin, in->zin_cap);
			if (k < 0)
				return k;
			if (k == 0) {
				/* Flush what the decoder still holds, then stop. */
				ZSTD_inBuffer none = {in->zin, 0, 0};
				size_t r = ZSTD_decompressStream(in->dctx, &out, &none);
				if (!ZSTD_isError(r) && out.pos)
					return (long)out.pos;
				in->eof = true;
				in->truncated = in->zret != 0;
				return 0;
			}
			in->zin_pos = 0;
			in->zin_len = (size_t)k;
		}
		ZSTD_inBuffer zi = {in->zin, in->zin_len, in->zin_pos};
		size_t r = ZSTD_decompressStream(in->dctx, &out, &zi);
		in->zin_pos = zi.pos;
		if (ZSTD_isError(r)) {
			/* the bytes decoded before the error first, so that what is
			 * read does not depend on how it is read */
			in->eof = true;
			if (out.pos) {
				in->pending = PMT_E_ZSTD;
				break;
			}
			return PMT_E_ZSTD;
		}
		in->zret = r;
		if (r == 0 && in->hold && !pmt_frames_has_rest(in->frames) && !in->raw_eof)
			in->hold = false;
	}
	return (long)out.pos;
}

/* Reads more decompressed bytes into buf; returns bytes added, 0, -errno. */
static long fill(struct pmt_input *in, size_t want)
{
	if (in->start && in->end + want > in->cap) {
		memmove(in->buf, in->buf + in->start, in->end - in->start);
		in->end -= in->start;
		in->start = 0;
	}
	if (in->end == in->cap && in->cap < BUF_CAP) {
		/* full of one unfinished line */
		size_t cap = in->cap * 2 < BUF_CAP ? in->cap * 2 : BUF_CAP;
		char *b = realloc(in->buf, cap);
		if (!b)
			return -ENOMEM;
		in->buf = b;
		in->cap = cap;
	}
	size_t room = in->cap - in->end;
	if (want > room)
		want = room;
	long k = produce(in, in->buf + in->end, want);
	if (k > 0)
		in->end += (size_t)k;
	return k;
}

static bool has_line_prefix(const char *p, size_t n, const char *pre)
{
	size_t m = strlen(pre);
	return n >= m && !memcmp(p, pre, m);
}

static enum pmt_input_type sniff(const char *b, size_t n)
{
	if (n == 0)
		return PMT_INPUT_EMPTY;
	if (n >= PMT_MAGIC_LEN && !memcmp(b, PMT_MAGIC, PMT_MAGIC_LEN))
		return PMT_INPUT_PMT;
	const char *p = b, *end = b + n;
	bool sof = false;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		/* ReferenceTracing: its header names LiveCnt; its events NEW:/DEL: */
		if ((has_line_prefix(p, len, "HDR: ") && memmem(p, len, " LiveCnt ", 9)) ||
		    has_line_prefix(p, len, "NEW: ") || has_line_prefix(p, len, "DEL: "))
			return PMT_INPUT_REFTRACE;
		if ((len == 3 && !memcmp(p, "SOF", 3)) || (len == 4 && !memcmp(p, "SOF\r", 4))) {
			sof = true; /* the next line says which */
		} else if (has_line_prefix(p, len, "HDR: ") || has_line_prefix(p, len, "FRST: ") ||
			   has_line_prefix(p, len, "NEXT: ") || sof) {
			return PMT_INPUT_PYMEMTRACE;
		}
		if (memmem(p, len, "ProcessLoggingThread-JSON", 25) && len > 25)
			return PMT_INPUT_PROCESS;
		if (!nl)
			break;
		p = nl + 1;
	}
	return sof ? PMT_INPUT_PYMEMTRACE : PMT_INPUT_UNKNOWN;
}

static int start(struct pmt_input *in, struct pmt_input **out);

int pmt_input_open(const char *path, struct pmt_input **out)
{
	int r = -ENOMEM;
	struct pmt_input *in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->fd = -1;
	bool is_stdin = !strcmp(path, "-");
	in->path = strdup(is_stdin ? "(stdin)" : path);
	in->cap = SNIFF_LEN;
	in->buf = malloc(in->cap);
	if (!in->path || !in->buf)
		goto fail;
	if (is_stdin) {
		in->fd = dup(0);
	} else {
		in->fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	if (in->fd < 0) {
		r = -errno;
		goto fail;
	}
	struct stat st;
	if (fstat(in->fd, &st) == 0) {
		if (S_ISDIR(st.st_mode)) {
			r = -EISDIR;
			goto fail;
		}
		if (S_ISREG(st.st_mode))
			in->file_size = (uint64_t)st.st_size;
	}
	return start(in, out);
fail:
	pmt_input_free(in);
	return r;
}

int pmt_input_open_mem(const void *data, size_t len, const char *name, struct pmt_input **out)
{
	struct pmt_input *in = calloc(1, sizeof(*in));
	if (!in)
		return -ENOMEM;
	in->fd = -1;
	in->mem = len ? data : (const uint8_t *)"";
	in->mem_len = len;
	in->file_size = len;
	in->path = strdup(name);
	in->cap = SNIFF_LEN;
	in->buf = malloc(in->cap);
	if (!in->path || !in->buf) {
		pmt_input_free(in);
		return -ENOMEM;
	}
	return start(in, out);
}

/* Sees whether the bytes are zstd and sniffs the type. */
static int start(struct pmt_input *in, struct pmt_input **out)
{
	int r = -ENOMEM;
	/* Raw bytes first, to see whether this is zstd. */
	while (in->end < 4 && !in->raw_eof) {
		long k = raw_read(in, in->buf + in->end, 4 - in->end);
		if (k < 0) {
			r = (int)k;
			goto fail;
		}
		in->end += (size_t)k;
	}
	static const uint8_t zmagic[4] = {0x28, 0xb5, 0x2f, 0xfd};
	if (in->end == 4 && !memcmp(in->buf, zmagic, 4)) {
		in->compressed = true;
		in->zin_cap = ZSTD_DStreamInSize();
		in->zin = malloc(in->zin_cap);
		in->dctx = ZSTD_createDCtx();
		if (!in->zin || !in->dctx)
			goto fail;
		memcpy(in->zin, in->buf, 4);
		in->zin_len = 4;
		in->end = 0;
		in->zret = 1;
	}
	while (in->end < SNIFF_LEN) {
		long k = fill(in, SNIFF_LEN - in->end);
		if (k < 0) {
			r = (int)k;
			goto fail;
		}
		if (k == 0)
			break;
	}
	in->type = sniff(in->buf, in->end);
	unsigned threads = pmt_input_threads();
	if (in->compressed && in->type == PMT_INPUT_PMT && threads > 1)
		in->frames = pmt_frames_new(threads, frames_read, in); /* NULL: one thread */
	*out = in;
	return 0;
fail:
	pmt_input_free(in);
	return r;
}

void pmt_input_free(struct pmt_input *in)
{
	if (!in)
		return;
	pmt_frames_free(in->frames);
	if (in->fd >= 0)
		close(in->fd);
	ZSTD_freeDCtx(in->dctx);
	free(in->zin);
	free(in->buf);
	free(in->path);
	free(in);
}

enum pmt_input_type pmt_input_type(const struct pmt_input *in) { return in->type; }

const char *pmt_input_path(const struct pmt_input *in) { return in->path; }

bool pmt_input_compressed(const struct pmt_input *in) { return in->compressed; }

long pmt_input_read(struct pmt_input *in, void *dst, size_t n)
{
	if (in->start < in->end) {
		size_t k = in->end - in->start;
		if (k > n)
			k = n;
		memcpy(dst, in->buf + in->start, k);
		in->start += k;
		return (long)k;
	}
	return produce(in, dst, n);
}

int pmt_input_getline(struct pmt_input *in, const char **line, size_t *len)
{
	size_t scan = in->start;
	for (;;) {
		char *nl = memchr(in->buf + scan, '\n', in->end - scan);
		if (nl) {
			*line = in->buf + in->start;
			*len = (size_t)(nl - (in->buf + in->start));
			in->start = (size_t)(nl - in->buf) + 1;
			return 1;
		}
		size_t have = in->end - in->start;
		/* more than a piece and no '\n': the line goes on (so a line of
		 * exactly N MiB is N pieces, however the bytes came) */
		if (have > LINE_MAX_LEN) {
			*line = in->buf + in->start;
			*len = LINE_MAX_LEN;
			in->start += LINE_MAX_LEN;
			return 1;
		}
		scan = in->end;
		size_t base = in->start;
		long k = fill(in, READ_CHUNK);
		if (k < 0)
			return (int)k;
		scan -= base - in->start; /* fill may have moved the data */
		if (k == 0) {
			if (in->start == in->end)
				return 0;
			*line = in->buf + in->start;
			*len = in->end - in->start;
			in->start = in->end;
			return 1;
		}
	}
}

bool pmt_input_truncated(const struct pmt_input *in) { return in->truncated; }

/* Whether the fd named n in /proc/PID/fdinfo (the directory info) is open
 * for writing: O_WRONLY or O_RDWR in its octal flags. */
static bool fd_writable(int info, const char *n)
{
	int fd = openat(info, n, O_RDONLY | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	char line[128];
	unsigned long flags = 0;
	bool found = false;
	while (!found && fgets(line, sizeof(line), f))
		found = sscanf(line, "flags: %lo", &flags) == 1;
	fclose(f);
	return found && (flags & (O_WRONLY | O_RDWR));
}

/* Whether process pid has the file of st open for writing. */
static bool held_by(uint64_t pid, const struct stat *st)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%llu/fdinfo", (unsigned long long)pid);
	int info = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "/proc/%llu/fd", (unsigned long long)pid);
	DIR *d = info >= 0 ? opendir(path) : NULL;
	bool held = false;
	struct dirent *e;
	while (d && !held && (e = readdir(d))) {
		struct stat fst;
		held = e->d_name[0] != '.' && fstatat(dirfd(d), e->d_name, &fst, 0) == 0 &&
		       fst.st_dev == st->st_dev && fst.st_ino == st->st_ino &&
		       fd_writable(info, e->d_name);
	}
	if (d)
		closedir(d);
	if (info >= 0)
		close(info);
	return held;
}

bool pmt_input_growing(const struct pmt_input *in, uint64_t pid)
{
	struct stat st;
	if (in->mem || in->fd < 0 || fstat(in->fd, &st) != 0 || !S_ISREG(st.st_mode))
		return false;
	if ((uint64_t)st.st_size > in->raw_bytes)
		return true;
	return pid > 0 && held_by(pid, &st);
}

uint64_t pmt_input_raw_bytes(const struct pmt_input *in) { return in->raw_bytes; }

uint64_t pmt_input_file_size(const struct pmt_input *in) { return in->file_size; }

void pmt_input_set_progress(struct pmt_input *in,
			    void (*cb)(void *ctx, uint64_t done, uint64_t total, bool end),
			    void *ctx)
{
	in->progress = cb;
	in->progress_ctx = ctx;
}
