/* SPDX-License-Identifier: MIT */
/* The log writer and reader: random event streams round-trip exactly (huge
 * values, negative RSS deltas, many code ids, long and non-ASCII names,
 * threads, messages, skips, many frames), and a log cut at every byte offset
 * or corrupted reads back as a prefix plus a warning or an error, never a
 * crash. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "tap.h"
#include <libpmt/core/errors.h>
#include <libpmt/core/log-writer.h>
#include <libpmt/read/source.h>
#include <libpmt/read/symtab.h>

struct ev {
	uint8_t kind;
	uint32_t code, line, thread;
	uint64_t t;
	int64_t rss;
	uint64_t skip_before;
	int msg; /* a message precedes it */
};

static char tmpdir[] = "/tmp/pmt-test-log-XXXXXX";

static char *path_of(const char *name)
{
	static char buf[4][256];
	static int i;
	char *p = buf[i++ & 3];
	snprintf(p, 256, "%s/%s", tmpdir, name);
	return p;
}

static struct pmt_header header(void)
{
	static const char *argv[] = {"prog.py", "arg 1", "\xc3\xa9t\xc3\xa9"};
	return (struct pmt_header){.version = PMT_FORMAT_VERSION,
				   .pid = 1234,
				   .ppid = 1,
				   .page_size = 4096,
				   .python_version = "3.11.7",
				   .argc = 3,
				   .argv = argv,
				   .start_wall_ns = 1700000000123456789ull,
				   .mode = PMT_MODE_PROFILE,
				   .rss_source = "statm",
				   .drss_trigger = -1,
				   .flags = PMT_HDR_PREV,
				   .rss_start = 5000};
}

/* Writes n random events; returns 0 or -errno. */
static int write_log(const char *path, struct ev *evs, size_t n, uint32_t ncodes,
		     uint32_t frame_events)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct pmt_header h = header();
	struct pmt_writer_opts o = {.frame_events = frame_events};
	struct pmt_writer *w;
	int r = pmt_writer_new(fd, &h, &o, &w);
	if (r < 0)
		return r;
	char name[600];
	for (uint32_t id = 1; id <= ncodes; id++) {
		int len = snprintf(name, sizeof(name), "f\xc3\xbcnc_%u_", id);
		size_t extra = id % 97 == 0 ? 500 : 0; /* a few long names */
		memset(name + len, 'x', extra);
		r = pmt_writer_code(w, id, id % 3 == 0 ? PMT_CODE_C : PMT_CODE_PY, id * 7,
				    "/src/\xe2\x82\xac/m\xc3\xb6"
				    "d.py",
				    16, name, (size_t)len + extra);
		if (r < 0)
			return r;
	}
	uint32_t cur_thread = 0;
	for (size_t i = 0; i < n; i++) {
		struct ev *e = &evs[i];
		if (e->thread != cur_thread) {
			r = pmt_writer_thread(w, e->thread, 1000 + e->thread,
					      e->thread == 2 ? "worker-2" : NULL);
			cur_thread = e->thread;
		}
		if (e->msg)
			r = pmt_writer_message(w, "marker \xe2\x9c\x93", 10);
		if (e->skip_before)
			r = pmt_writer_skip(w, e->skip_before);
		r = pmt_writer_event(w, e->kind, e->code, e->line, e->t, e->rss);
		if (r < 0)
			return r;
	}
	struct pmt_trailer t = {
	    .total_events = 0, .end_wall_ns = 42, .peak_rss = 1 << 30, .flags = PMT_TRL_CLEAN};
	for (size_t i = 0; i < n; i++)
		t.total_events += 1 + evs[i].skip_before;
	r = pmt_writer_close(w, &t);
	pmt_writer_free(w);
	return r;
}

static void make_events(struct ev *evs, size_t n, uint32_t ncodes)
{
	uint64_t t = 0;
	int64_t rss = 5000;
	for (size_t i = 0; i < n; i++) {
		struct ev *e = &evs[i];
		uint64_t x = tap_rnd();
		e->kind = (uint8_t)(x % 7);
		e->code = (uint32_t)(tap_rnd() % (ncodes + 1)); /* 0 = unknown, allowed */
		e->line = (uint32_t)(x >> 8) % 5 == 0 ? UINT32_MAX : (uint32_t)(x >> 16) % 3000;
		t += (x >> 20) % 11 == 0 ? (1ull << 40) : (x >> 24) % 5000;
		e->t = t;
		int64_t d = (int64_t)(tap_rnd() % 2001) - 1000;
		if (x % 13 == 0)
			d = -(int64_t)(rss / 2);
		if (x % 17 == 0)
			d = (int64_t)1 << 28; /* 1 TiB */
		/* within the readers' range, [0, 2^52] bytes (docs/FORMAT.md) */
		if (rss + d > ((int64_t)1 << 40))
			d = -(rss / 2);
		if (rss + d < 0)
			d = -rss;
		rss += d;
		e->rss = rss;
		e->thread = (uint32_t)((x >> 40) % 3);
		e->skip_before = x % 19 == 0 ? (x >> 33) % 100000 : 0;
		e->msg = x % 23 == 0;
	}
}

/* Reads path back and compares with evs. Returns events matched, or -errno
 * from the reader; *trunc gets the truncation flag. */
static long read_back(const char *path, const struct ev *evs, size_t n, int *trunc, int *bad)
{
	struct pmt_source *s;
	int r = pmt_source_open(path, &s);
	if (r < 0)
		return r;
	struct pmt_item it;
	size_t i = 0;
	uint64_t number = 0;
	*bad = 0;
	while ((r = pmt_source_next(s, &it)) > 0) {
		if (it.type != PMT_ITEM_EVENT) {
			if (it.type == PMT_ITEM_SKIP &&
			    (i >= n || it.ev.delta != evs[i].skip_before))
				(*bad)++;
			if (it.type == PMT_ITEM_MESSAGE &&
			    (it.text_len != 10 || memcmp(it.text, "marker \xe2\x9c\x93", 10)))
				(*bad)++;
			continue;
		}
		if (i >= n) {
			(*bad)++;
			break;
		}
		const struct ev *e = &evs[i];
		number += e->skip_before;
		if (it.ev.kind != e->kind || it.ev.code != e->code || it.ev.line != e->line ||
		    it.ev.time_ns != e->t || it.ev.rss != e->rss * 4096 ||
		    it.ev.thread != e->thread || it.ev.number != number ||
		    it.ev.delta != 1 + e->skip_before)
			(*bad)++;
		if (e->code && !pmt_source_code(s, e->code))
			(*bad)++;
		number++;
		i++;
	}
	*trunc = pmt_source_truncated(s);
	pmt_source_free(s);
	return r < 0 ? r : (long)i;
}

static void test_roundtrip(void)
{
	enum { N = 200000, NCODES = 5000 };
	static struct ev evs[N];
	make_events(evs, N, NCODES);
	const char *p = path_of("rt.log.zst");
	ok(write_log(p, evs, N, NCODES, 10000) == 0, "write %d random events in 20 frames", N);
	int trunc, bad;
	long got = read_back(p, evs, N, &trunc, &bad);
	ok(got == N, "read back all events (%ld)", got);
	ok(bad == 0, "every field equal (%d mismatches)", bad);
	ok(!trunc, "complete log is not truncated");

	struct pmt_source *s;
	ok(pmt_source_open(p, &s) == 0, "reopen");
	const struct pmt_header *h = pmt_source_header(s);
	ok(h->pid == 1234 && h->ppid == 1 && h->page_size == 4096 && h->argc == 3 &&
	       !strcmp(h->argv[2], "\xc3\xa9t\xc3\xa9") && !strcmp(h->python_version, "3.11.7") &&
	       !strcmp(h->rss_source, "statm") && h->drss_trigger == -1 &&
	       h->flags == PMT_HDR_PREV && h->start_wall_ns == 1700000000123456789ull,
	   "header fields round-trip");
	struct pmt_item it;
	while (pmt_source_next(s, &it) > 0)
		;
	/* code records are read as the stream goes: check them at the end */
	const struct pmt_code *c = pmt_source_code(s, 97 * 3);
	ok(c && c->name_len > 500 && c->kind == PMT_CODE_C && c->firstline == 97 * 21 &&
	       !strcmp(c->file, "/src/\xe2\x82\xac/m\xc3\xb6"
				"d.py"),
	   "long non-ASCII code names round-trip");
	const struct pmt_trailer *t = pmt_source_trailer(s);
	ok(t && t->flags == PMT_TRL_CLEAN && t->peak_rss == 1 << 30, "trailer round-trips");
	ok(pmt_source_code_count(s) == NCODES, "code count");
	const struct pmt_thread *th = pmt_source_thread(s, 2);
	ok(th && !strcmp(th->name, "worker-2") && th->tid == 1002, "thread names");
	pmt_source_free(s);
}

/* The defined codes in order, undefined pages skipped (a walk over a log
 * defining id 2^24 once took seconds: regress/ of the fuzz targets). */
static void test_next_code(void)
{
	struct pmt_symtab t = {0};
	const uint32_t ids[] = {3, 1024, 1025, 5000000, PMT_MAX_CODE_ID};
	bool set = true;
	for (size_t i = sizeof(ids) / sizeof(*ids); i-- > 0;)
		set &= pmt_symtab_set_code(&t, ids[i], PMT_CODE_PY, 1, "f.py", 4, "g", 1) == 0;
	ok(set, "codes defined far apart");
	size_t n = 0;
	bool order = true;
	for (const struct pmt_code *c = pmt_symtab_next_code(&t, 0); c;
	     c = pmt_symtab_next_code(&t, c->id))
		order &= n < sizeof(ids) / sizeof(*ids) && c->id == ids[n++];
	ok(order && n == sizeof(ids) / sizeof(*ids), "next_code walks the defined codes in order");
	ok(pmt_symtab_next_code(&t, 3)->id == 1024 && !pmt_symtab_next_code(&t, PMT_MAX_CODE_ID),
	   "next_code from an id, and after the last");
	pmt_symtab_free(&t);
}

static int copy_prefix(const char *from, const char *to, off_t n, off_t flip)
{
	int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	static char buf[1 << 20];
	ssize_t k = read(in, buf, sizeof(buf));
	close(in);
	if (k < n)
		n = k;
	if (flip >= 0 && flip < n)
		buf[flip] ^= 0x5a;
	ssize_t w = write(out, buf, (size_t)n);
	close(out);
	return w == n ? 0 : -1;
}

static void test_truncation(void)
{
	enum { N = 300 };
	struct ev evs[N];
	make_events(evs, N, 20);
	char p[300];
	snprintf(p, sizeof(p), "%s", path_of("small.log.zst"));
	write_log(p, evs, N, 20, 50); /* several small frames */
	struct stat st;
	stat(p, &st);
	int crashes = 0, wrong = 0, silent = 0;
	long last_good = -1;
	for (off_t cut = 0; cut < st.st_size; cut++) {
		const char *q = path_of("cut.log.zst");
		copy_prefix(p, q, cut, -1);
		int trunc = 0, bad = 0;
		long got = read_back(q, evs, N, &trunc, &bad);
		if (bad)
			wrong++;
		if (got >= 0 && !trunc)
			silent++; /* a cut log must say so */
		if (got >= 0 && got < last_good)
			crashes++; /* more input must never give fewer events */
		if (got >= 0)
			last_good = got;
	}
	ok(wrong == 0, "every prefix decodes to a correct prefix of the events (%d wrong)", wrong);
	ok(silent == 0, "every cut is reported as truncation or an error (%d silent)", silent);
	ok(crashes == 0, "events read never decrease as the cut moves on (%d)", crashes);
	ok(last_good >= N - 50, "a log cut in its last frame keeps the earlier frames (%ld)",
	   last_good);
}

static void test_corrupt(void)
{
	enum { N = 3000 };
	static struct ev evs[N];
	make_events(evs, N, 50);
	char p[300];
	snprintf(p, sizeof(p), "%s", path_of("c.log.zst"));
	write_log(p, evs, N, 50, 500);
	struct stat st;
	stat(p, &st);
	int wrong = 0, errors = 0;
	for (int i = 0; i < 200; i++) {
		off_t at = (off_t)(tap_rnd() % (uint64_t)st.st_size);
		const char *q = path_of("flip.log.zst");
		copy_prefix(p, q, st.st_size, at);
		int trunc, bad;
		long got = read_back(q, evs, N, &trunc, &bad);
		if (got < 0)
			errors++;
		else if (bad && got == N)
			wrong++; /* zstd checksums must catch a flipped byte */
	}
	ok(wrong == 0, "flipped bytes never give silently wrong complete logs (%d)", wrong);
	ok(errors > 0, "flipped bytes give errors (%d of 200)", errors);

	/* Plain-text garbage, empty, and a pmt magic followed by nonsense. */
	const char *q = path_of("empty");
	close(open(q, O_WRONLY | O_CREAT | O_TRUNC, 0644));
	struct pmt_source *s;
	ok(pmt_source_open(q, &s) == PMT_E_EMPTY, "empty input: PMT_E_EMPTY");
	int fd = open(q, O_WRONLY | O_TRUNC);
	ssize_t w = write(fd, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
	close(fd);
	ok(w == 16 && pmt_source_open(q, &s) == PMT_E_TYPE, "PNG: PMT_E_TYPE");
	fd = open(q, O_WRONLY | O_TRUNC);
	w = write(fd, PMT_MAGIC "\x01\x02\x09\x01", PMT_MAGIC_LEN + 4);
	close(fd);
	int r = pmt_source_open(q, &s);
	ok(r == PMT_E_VERSION, "format version 9: PMT_E_VERSION (%d)", r);
	fd = open(q, O_WRONLY | O_TRUNC);
	w = write(fd, PMT_MAGIC "\x07\x05", PMT_MAGIC_LEN + 2);
	close(fd);
	ok(pmt_source_open(q, &s) == PMT_E_CORRUPT, "no header record: PMT_E_CORRUPT");
	ok(pmt_source_open(path_of("missing"), &s) == -ENOENT, "missing file: -ENOENT");
	ok(pmt_source_open(tmpdir, &s) == -EISDIR, "directory: -EISDIR");
	ok(!strcmp(pmt_strerror(-ENOENT), "no such file or directory"), "strerror lower case");
}

/* The descriptor of path among ours, or -1. */
static int fd_of(const char *path)
{
	int found = -1;
	for (int fd = 0; fd < 65536 && found < 0; fd++) {
		char link[64], target[PATH_MAX];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (!strcmp(target, path))
			found = fd;
	}
	return found;
}

static bool file_is(const char *path, const char *text)
{
	char buf[256];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(text) && !memcmp(buf, text, (size_t)n);
}

/* A program dup2()s its own file onto the writer's fd: the writer leaves
 * that file alone, reopens the log by path and says so in it. */
static void test_fd_taken(bool with_path)
{
	enum { N = 50000 };
	static struct ev evs[N];
	make_events(evs, N, 10);
	const char *p = path_of(with_path ? "taken.log.zst" : "nopath.log.zst");
	const char *mine = path_of("mine.txt");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct pmt_header h = header();
	struct pmt_writer_opts o = {.frame_events = 1000, .path = with_path ? p : NULL};
	struct pmt_writer *w;
	int r = pmt_writer_new(fd, &h, &o, &w);
	int wfd = fd_of(p);
	ok(r == 0 && wfd >= 0 && wfd != fd && fcntl(fd, F_GETFD) < 0,
	   "the writer keeps its fd elsewhere (%d, not %d)", wfd, fd);
	int r1 = 0, r2 = 0;
	for (uint32_t id = 1; id <= 10 && r1 == 0; id++) /* the codes the events name */
		r1 = pmt_writer_code(w, id, PMT_CODE_PY, 1, "a.py", 4, "f", 1);
	for (size_t i = 0; i < N && r1 == 0; i++) {
		if (i == N / 2) {
			int m = open(mine, O_WRONLY | O_CREAT | O_TRUNC, 0644);
			r2 = dup2(m, wfd) == wfd && write(wfd, "mine\n", 5) == 5 ? 0 : -1;
			close(m);
		}
		r1 = pmt_writer_event(w, evs[i].kind, evs[i].code, evs[i].line, evs[i].t,
				      evs[i].rss);
	}
	struct pmt_trailer t = {.total_events = N, .flags = PMT_TRL_CLEAN};
	int rc = pmt_writer_close(w, &t);
	struct pmt_writer_status st;
	pmt_writer_status(w, &st);
	pmt_writer_free(w);
	ok(r2 == 0 && fcntl(wfd, F_GETFD) >= 0, "the program's fd stays open (%d)", r2);
	close(wfd);
	ok(file_is(mine, "mine\n"), "not a byte of the log in the program's file");
	if (!with_path) {
		ok(rc == -EBADF && st.error == -EBADF && st.fd_lost,
		   "without a path: an error, the fd lost (%d %d)", rc, st.error);
		return;
	}
	ok(r1 == 0 && rc == 0 && st.error == 0 && st.reopened == 1 && !st.fd_lost,
	   "reopened by path (%d %d, %u times)", r1, rc, st.reopened);
	struct pmt_source *s;
	int messages = 0, events = 0, trunc = 1;
	if (pmt_source_open(p, &s) == 0) {
		struct pmt_item it;
		while ((r = pmt_source_next(s, &it)) > 0) {
			events += it.type == PMT_ITEM_EVENT;
			messages +=
			    it.type == PMT_ITEM_MESSAGE && it.text_len > 30 &&
			    !memcmp(it.text, "pmt: log fd taken by the program at event ", 42);
		}
		trunc = r < 0 || pmt_source_truncated(s);
		pmt_source_free(s);
	}
	ok(events == N && !trunc, "the log decodes completely (%d events)", events);
	ok(messages == 1, "and says it was reopened (%d)", messages);
}

static void test_varint(void)
{
	uint8_t buf[16];
	int bad = 0;
	uint64_t vals[] = {0, 1, 127, 128, 300, UINT32_MAX, (1ull << 63) - 1, UINT64_MAX};
	for (unsigned i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		uint8_t *e = pmt_varint_put(buf, vals[i]);
		const uint8_t *p = buf;
		uint64_t v;
		if (pmt_varint_get(&p, e, &v) || v != vals[i] || p != e)
			bad++;
		p = buf;
		if (e - buf > 1 && pmt_varint_get(&p, e - 1, &v) != -1)
			bad++;
		int64_t s = (int64_t)vals[i];
		if (pmt_unzigzag(pmt_zigzag(s)) != s || pmt_unzigzag(pmt_zigzag(-s)) != -s)
			bad++;
	}
	memset(buf, 0xff, sizeof(buf));
	const uint8_t *p = buf;
	uint64_t v;
	ok(bad == 0 && pmt_varint_get(&p, buf + 16, &v) == -2, "varints and zigzag");
}

/* ALLOC and SITE records (version 2): every op with random addresses, sizes
 * and alignments, interleaved with events and skips, read back exactly with
 * their event numbers and sites; a cut inside an ALLOC is truncation. */
struct arec {
	uint8_t op, domain;
	uint64_t addr, old, size, align;
	uint32_t thread, code, line;
	uint64_t number;
};

static void test_alloc_records(void)
{
	enum { N = 20000 };
	static struct arec recs[N];
	const char *p = path_of("heap.log.zst");
	int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	struct pmt_header h = header();
	h.flags = PMT_HDR_HEAP_LIBC;
	struct pmt_writer_opts o = {.frame_events = 997};
	struct pmt_writer *w;
	int r = pmt_writer_new(fd, &h, &o, &w);
	ok(r == 0, "heap writer opens");
	if (r < 0)
		return;
	r = pmt_writer_code(w, 1, PMT_CODE_PY, 1, "a.py", 4, "f", 1);
	uint64_t events = 0, addr = 0x7f0000001000ull;
	uint32_t thread = 0, code = 0, line = 0;
	for (int i = 0; i < N && r == 0; i++) {
		if (tap_rnd() % 5 == 0)
			r = pmt_writer_event(w, PMT_CALL, 1, 3, events * 10, 100), events++;
		if (r == 0 && tap_rnd() % 11 == 0) {
			uint64_t k = 1 + tap_rnd() % 50;
			r = pmt_writer_skip(w, k);
			events += k;
		}
		if (r == 0 && tap_rnd() % 7 == 0) {
			thread = (uint32_t)(tap_rnd() % 3);
			code = (uint32_t)(tap_rnd() % 2);
			line = (uint32_t)(tap_rnd() % 1000);
			r = pmt_writer_site(w, thread, code, line, 4242 + thread,
					    thread == 2 ? "native" : NULL);
		}
		struct arec *a = &recs[i];
		unsigned ops[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};
		a->op = (uint8_t)ops[tap_rnd() % 15];
		a->domain = a->op >= PMT_ALLOC_PY_MALLOC ? (uint8_t)(1 + tap_rnd() % 2) : 0;
		addr += (tap_rnd() % 3 == 0) ? (uint64_t) - (int64_t)(tap_rnd() % 100000)
					     : tap_rnd() % 4096;
		a->addr = tap_rnd() % 97 == 0 ? 0 : tap_rnd() % 89 == 0 ? UINT64_MAX - 15 : addr;
		a->old = pmt_alloc_op_reallocs(a->op) ? (tap_rnd() % 2 ? a->addr : tap_rnd()) : 0;
		a->size = pmt_alloc_op_frees(a->op) || pmt_alloc_op_null_free(a->op)
			      ? 0
			      : (tap_rnd() % 13 == 0 ? tap_rnd() : tap_rnd() % 300);
		a->align = a->op >= 5 && a->op <= 7 ? 1ull << (tap_rnd() % 20) : 0;
		if (pmt_alloc_op_null_free(a->op))
			a->addr = 0;
		a->thread = thread, a->code = code, a->line = line, a->number = events;
		r = pmt_writer_alloc(w, a->op, a->domain, a->addr, a->old, a->size, a->align);
	}
	struct pmt_trailer tr = {.total_events = events, .flags = PMT_TRL_CLEAN};
	if (r == 0)
		r = pmt_writer_close(w, &tr);
	ok(r == 0 && w->allocs == N, "%d ALLOC records written (%d)", N, r);
	pmt_writer_free(w);

	struct pmt_source *s;
	r = pmt_source_open(p, &s);
	ok(r == 0 && pmt_source_header(s)->version == PMT_FORMAT_VERSION &&
	       (pmt_source_header(s)->flags & PMT_HDR_HEAP_LIBC),
	   "heap log opens, version %d, heap flag", PMT_FORMAT_VERSION);
	if (r < 0)
		return;
	struct pmt_item it;
	int n = 0, bad = 0;
	while ((r = pmt_source_next(s, &it)) > 0) {
		if (it.type != PMT_ITEM_ALLOC)
			continue;
		struct arec *a = &recs[n++];
		const struct pmt_alloc *x = &it.alloc;
		if (x->op != a->op || x->domain != a->domain || x->addr != a->addr ||
		    x->old_addr != a->old || x->size != a->size || x->align != a->align ||
		    x->site.thread != a->thread || x->site.code != a->code ||
		    x->site.line != a->line || it.ev.number != a->number)
			bad++;
	}
	ok(r == 0 && n == N && bad == 0 && !pmt_source_truncated(s),
	   "every ALLOC reads back with its site and event number (%d read, %d wrong)", n, bad);
	const struct pmt_thread *th = pmt_source_thread(s, 2);
	ok(th && th->tid == 4244 && !strcmp(th->name, "native"),
	   "a SITE tail announces a native thread");
	pmt_source_free(s);

	/* Cut inside the stream: a prefix of the records, then truncated. */
	struct stat st;
	stat(p, &st);
	int cut_bad = 0;
	for (int k = 1; k < 40; k++) {
		const char *q = path_of("heap-cut.log.zst");
		copy_prefix(p, q, st.st_size, st.st_size * k / 40);
		if (pmt_source_open(q, &s) < 0)
			continue;
		int m = 0;
		while ((r = pmt_source_next(s, &it)) > 0)
			if (it.type == PMT_ITEM_ALLOC) {
				struct arec *a = &recs[m++];
				if (it.alloc.addr != a->addr || it.alloc.size != a->size)
					cut_bad++;
			}
		if (r != 0 || !pmt_source_truncated(s))
			cut_bad++;
		pmt_source_free(s);
	}
	ok(cut_bad == 0, "cut heap logs read back as a prefix, truncated (%d wrong)", cut_bad);

	/* Op 15 is not assigned: corrupt. */
	fd = open(path_of("op15.log.zst"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	r = pmt_writer_new(fd, &h, NULL, &w);
	if (r == 0) {
		*w->pos++ = PMT_TAG_ALLOC | 15;
		*w->pos++ = 0;
		r = pmt_writer_close(w, &tr);
		pmt_writer_free(w);
	}
	r = r ? r : pmt_source_open(path_of("op15.log.zst"), &s);
	if (r == 0) {
		while ((r = pmt_source_next(s, &it)) > 0)
			;
		pmt_source_free(s);
	}
	ok(r == PMT_E_CORRUPT, "ALLOC op 15: corrupt (%d)", r);
}

/* A digest of everything a reader sees of path, read one item at a time
 * (batch 0) or in batches of up to batch items: each item, the final
 * return code, the truncation flag and the error detail. */
static uint64_t hash_in(uint64_t h, const void *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 0x100000001b3ull;
	return h;
}

enum { ALL, NOT_FLAT, SKIP_FLAT }; /* every item; leaving out flat events, or letting the reader */

static uint64_t read_digest(const char *path, unsigned batch, int flat, long *items)
{
	struct pmt_source *s;
	int r = pmt_source_open(path, &s);
	uint64_t h = 0xcbf29ce484222325ull;
	*items = 0;
	if (r < 0)
		return hash_in(h, &r, sizeof(r));
	pmt_source_skip_flat(s, flat == SKIP_FLAT);
	static struct pmt_item it[PMT_SOURCE_BATCH];
	for (;;) {
		int n = batch ? pmt_source_next_batch(s, it, batch) : pmt_source_next(s, it);
		if (n <= 0) {
			r = n;
			break;
		}
		for (int i = 0; i < n; i++) {
			const struct pmt_event *e = &it[i].ev;
			if (flat != ALL) {
				/* what pmt-filter --drss needs: not the delta */
				if (it[i].type == PMT_ITEM_EVENT && e->drss == 0)
					continue;
				uint64_t f[] = {it[i].type,	  e->number, e->time_ns,
						(uint64_t)e->rss, e->code,   e->line,
						it[i].text_len};
				h = hash_in(h, f, sizeof(f));
				continue;
			}
			uint64_t f[] = {it[i].type, e->number,	      e->delta,
					e->time_ns, (uint64_t)e->rss, (uint64_t)e->drss,
					e->code,    e->line,	      e->thread,
					e->kind,    e->flags,	      it[i].text_len};
			h = hash_in(h, f, sizeof(f));
			if (it[i].type == PMT_ITEM_MESSAGE)
				h = hash_in(h, it[i].text, it[i].text_len);
			if (i + 1 < n && it[i].type != PMT_ITEM_EVENT)
				h = hash_in(h, "not last",
					    8); /* a batch ends at its first non-event */
		}
		*items += flat == ALL ? n : 0;
	}
	bool trunc = pmt_source_truncated(s);
	const char *d = pmt_source_detail(s);
	h = hash_in(hash_in(hash_in(h, &r, sizeof(r)), &trunc, sizeof(trunc)), d, strlen(d));
	pmt_source_free(s);
	return h;
}

/* The log at from, decompressed, at to: a raw log whose damage reaches
 * the record decoder rather than zstd's checksum. */
static int decompress_to(const char *from, const char *to)
{
	static char in[1 << 20], out[1 << 16];
	int fd = open(from, O_RDONLY), o = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	ssize_t k = read(fd, in, sizeof(in));
	close(fd);
	ZSTD_DStream *z = ZSTD_createDStream();
	ZSTD_inBuffer ib = {in, k > 0 ? (size_t)k : 0, 0};
	int bad = k <= 0 || o < 0 || !z;
	while (!bad && ib.pos < ib.size) {
		ZSTD_outBuffer ob = {out, sizeof(out), 0};
		bad = ZSTD_isError(ZSTD_decompressStream(z, &ob, &ib)) ||
		      write(o, out, ob.pos) != (ssize_t)ob.pos;
	}
	ZSTD_freeDStream(z);
	close(o);
	return bad ? -1 : 0;
}

/* Batches give what one item at a time gives, on whole, cut and damaged
 * logs alike; and a reader let pass over flat events gives the rest the
 * same, errors included. */
static void test_batches(void)
{
	enum { N = 3000 };
	static struct ev evs[N];
	make_events(evs, N, 50);
	char p[300];
	snprintf(p, sizeof(p), "%s", path_of("b.log.zst"));
	write_log(p, evs, N, 50, 400);
	char raw[300];
	snprintf(raw, sizeof(raw), "%s", path_of("b.log"));
	ok(decompress_to(p, raw) == 0, "decompressed");
	struct stat st, rst;
	stat(p, &st);
	stat(raw, &rst);
	int differ = 0, cases = 0, flat_differ = 0, errors = 0;
	long most = 0;
	for (int i = 0; i < 320; i++) {
		/* compressed: cut, flipped, whole; then raw: cut, flipped */
		bool is_raw = i >= 160;
		const char *from = is_raw ? raw : p;
		off_t size = is_raw ? rst.st_size : st.st_size;
		const char *q = path_of(is_raw ? "bq.log" : "bq.log.zst");
		off_t len = i % 160 < 60 ? (off_t)(tap_rnd() % (uint64_t)size) : size;
		off_t flip = i % 160 < 60 || i == 159 ? -1 : (off_t)(tap_rnd() % (uint64_t)size);
		copy_prefix(from, q, len, flip);
		long n1, nb;
		uint64_t one = read_digest(q, 0, ALL, &n1);
		static const unsigned sizes[] = {1, 7, PMT_SOURCE_BATCH};
		for (unsigned k = 0; k < 3; k++) {
			cases++;
			if (read_digest(q, sizes[k], ALL, &nb) != one || nb != n1)
				differ++;
		}
		if (read_digest(q, 0, NOT_FLAT, &nb) !=
		    read_digest(q, PMT_SOURCE_BATCH, SKIP_FLAT, &nb))
			flat_differ++;
		struct pmt_source *s;
		if (pmt_source_open(q, &s) == 0) {
			struct pmt_item it;
			int r;
			while ((r = pmt_source_next(s, &it)) > 0)
				;
			errors += r < 0 && is_raw;
			pmt_source_free(s);
		}
		if (n1 > most)
			most = n1;
	}
	ok(differ == 0, "batches of 1, 7 and 64 read what single items read (%d of %d differ)",
	   differ, cases);
	ok(flat_differ == 0, "passing over flat events changes nothing else (%d of 320 differ)",
	   flat_differ);
	ok(errors > 5, "raw logs damaged in the records: %d errors of 100 flips", errors);
	ok(most > N, "the whole log was among them (%ld items)", most);
}

int main(void)
{
	if (!mkdtemp(tmpdir))
		return 99;
	test_varint();
	test_roundtrip();
	test_truncation();
	test_corrupt();
	test_batches();
	test_next_code();
	test_alloc_records();
	test_fd_taken(true);
	test_fd_taken(false);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		return 99;
	return done_testing();
}
