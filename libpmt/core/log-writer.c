/* SPDX-License-Identifier: MIT */
/* The log writer: records are appended to a raw buffer, compressed with zstd
 * (streaming, ZSTD_e_continue) as the buffer fills, and a frame is ended
 * (ZSTD_e_end) every N events / T ns and at close. Frames are written to the
 * fd as soon as they end, so a killed process leaves every ended frame. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include <libpmt/core/log-writer.h>

#define RAW_CAP (128 * 1024)
#define DEFAULT_FRAME_EVENTS (1u << 20)
#define DEFAULT_FRAME_NS (100ull * 1000 * 1000)

struct pmt_writer_priv {
	struct sink {
		int fd;	    /* -1: none (closed, or not ours any more) */
		char *path; /* absolute, to reopen; NULL: cannot */
		dev_t dev;  /* identity of the file at open */
		ino_t ino;
		bool regular; /* a regular file: its size can be checked */
		off_t base;   /* its offset when the writer took it */
		unsigned reopened;
		uint64_t taken_at; /* events when the fd was last found taken */
		int lost;	   /* the fd was taken and the log not reopened: why */
	} sink;
	ZSTD_CCtx *cctx;
	uint8_t *raw;
	uint8_t *out;
	size_t out_cap, out_len;
	uint64_t bytes;
	uint64_t framed; /* events in the frames written */
	uint32_t frame_events;
	uint64_t frame_ns;
	bool in_frame;	   /* something was compressed since the last frame end */
	bool note_pending; /* the fd was taken and the log reopened: say so in it */
	uint8_t *scratch;
	size_t scratch_cap;
};

/* ---- the log's file descriptor ------------------------------------------
 *
 * A program may close the descriptors it does not know (closerange, as
 * daemons and subprocess children do) and open a file that gets the log's
 * number, or dup2() onto it. Before every write the fd must still be the
 * file the writer opened (same device and inode); if it is not, the fd is
 * the program's now: it is never written, read or closed again. The log is
 * reopened by its path, in append mode, and used only if it is still the
 * same file with exactly the bytes written so far, so the stream stays a
 * valid sequence of zstd frames with nothing lost or doubled. */

/* Well above the descriptors a program normally uses, so that collisions
 * are rare; the identity check is what makes them harmless. */
static int high_fd_floor(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= 2048)
		return 1024;
	return (int)(rl.rlim_cur / 2);
}

/* A close-on-exec copy of fd at high_fd_floor() or above, or -1. */
static int dup_high(int fd)
{
	int floor = high_fd_floor();
	if (fd >= floor || floor < 3)
		return -1;
	return fcntl(fd, F_DUPFD_CLOEXEC, floor);
}

/* Moves fd up (see dup_high); returns the fd to use. */
static int move_high(int fd)
{
	int hi = dup_high(fd);
	if (hi < 0)
		return fd;
	close(fd);
	return hi;
}

static bool same_file(const struct sink *k, const struct stat *st)
{
	return st->st_dev == k->dev && st->st_ino == k->ino;
}

/* The fd is still the log. */
static bool sink_ours(const struct sink *k)
{
	struct stat st;
	return k->fd >= 0 && fstat(k->fd, &st) == 0 && same_file(k, &st);
}

/* Takes fd over (on success); path may be NULL or relative. */
static int sink_open(struct sink *k, int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	k->regular = S_ISREG(st.st_mode);
	if (k->regular) {
		off_t at = lseek(fd, 0, SEEK_CUR);
		k->base = at > 0 ? at : 0;
	}
	if (path && path[0] != '/') {
		char cwd[PATH_MAX];
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		size_t n = strlen(cwd) + strlen(path) + 2;
		k->path = malloc(n);
		if (k->path)
			snprintf(k->path, n, "%s/%s", cwd, path);
	} else if (path) {
		k->path = strdup(path);
	}
	if (path && !k->path)
		return -ENOMEM;
	int hi = dup_high(fd);
	k->fd = hi >= 0 ? hi : fd;
	return 0;
}

/* The fd of the log, if it is still ours, is closed. */
static int sink_close(struct sink *k)
{
	int r = 0;
	if (k->fd >= 0 && sink_ours(k) && close(k->fd) < 0)
		r = -errno;
	k->fd = -1;
	return r;
}

/* The fd is not the log any more: forget it (it is the program's now) and
 * open the log again by its path. written: bytes of this log in the file. */
static int sink_reopen(struct sink *k, uint64_t written, uint64_t events)
{
	k->fd = -1;
	k->taken_at = events;
	if (!k->path)
		return k->lost = -EBADF;
	int fd = open(k->path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return k->lost = -errno;
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (!same_file(k, &st) || (k->regular && st.st_size != k->base + (off_t)written))
		r = -ESTALE; /* replaced, truncated or written by someone else */
	if (r < 0) {
		close(fd);
		return k->lost = r;
	}
	k->fd = move_high(fd);
	k->reopened++;
	return 0;
}

static int write_all(struct pmt_writer *w, const uint8_t *p, size_t n)
{
	struct sink *k = &w->priv->sink;
	uint64_t events = w->events + w->skipped;
	if (k->fd < 0)
		return k->lost ? k->lost : -EBADF;
	if (!sink_ours(k)) {
		int r = sink_reopen(k, w->priv->bytes, events);
		if (r < 0)
			return r;
		w->priv->note_pending = true;
	}
	while (n) {
		ssize_t c = write(k->fd, p, n);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			/* Closed between the check and the write: the same as taken. */
			if (errno == EBADF) {
				int r = sink_reopen(k, w->priv->bytes, events);
				if (r < 0)
					return r;
				w->priv->note_pending = true;
				continue;
			}
			return -errno;
		}
		p += c;
		n -= (size_t)c;
		w->priv->bytes += (uint64_t)c;
	}
	return 0;
}

static int flush_out(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	int r = write_all(w, p->out, p->out_len);
	if (r < 0)
		return r;
	p->out_len = 0;
	return 0;
}

/* Feeds the raw buffer to zstd with the given directive until zstd has taken
 * it all (and, for ZSTD_e_end, finished the frame). */
static int compress(struct pmt_writer *w, ZSTD_EndDirective mode)
{
	struct pmt_writer_priv *p = w->priv;
	ZSTD_inBuffer in = {p->raw, (size_t)(w->pos - p->raw), 0};
	for (;;) {
		ZSTD_outBuffer out = {p->out, p->out_cap, p->out_len};
		size_t rem = ZSTD_compressStream2(p->cctx, &out, &in, mode);
		if (ZSTD_isError(rem))
			return -EIO;
		p->out_len = out.pos;
		bool done = mode == ZSTD_e_continue ? in.pos == in.size : rem == 0;
		if (p->out_len == p->out_cap || (done && mode == ZSTD_e_end)) {
			int r = flush_out(w);
			if (r < 0)
				return r;
		}
		if (done)
			break;
	}
	if (in.size)
		p->in_frame = true;
	w->pos = p->raw;
	w->end = p->raw + RAW_CAP;
	return 0;
}

static int drain(struct pmt_writer *w)
{
	if (w->error)
		return w->error;
	int r = compress(w, ZSTD_e_continue);
	if (r < 0)
		w->error = r;
	return r;
}

static int append(struct pmt_writer *w, const uint8_t *d, size_t n);

/* At a record boundary: the MESSAGE that says the log was reopened. */
static int note(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	if (!p->note_pending || w->error)
		return w->error;
	p->note_pending = false;
	char text[128];
	int n = snprintf(text, sizeof(text),
			 "pmt: log fd taken by the program at event %llu; reopened by path",
			 (unsigned long long)p->sink.taken_at);
	uint8_t head[1 + PMT_VARINT_MAX];
	head[0] = PMT_TAG_MESSAGE;
	size_t hn = (size_t)(pmt_varint_put(head + 1, (uint64_t)n) - head);
	int r = append(w, head, hn);
	if (r == 0)
		r = append(w, (const uint8_t *)text, (size_t)n);
	return r;
}

int pmt_writer_drain(struct pmt_writer *w)
{
	int r = drain(w);
	return r < 0 ? r : note(w);
}

int pmt_writer_end_frame(struct pmt_writer *w, uint64_t t_ns)
{
	struct pmt_writer_priv *p = w->priv;
	if (w->error)
		return w->error;
	p->frame_ns = p->frame_ns ? p->frame_ns : DEFAULT_FRAME_NS;
	w->frame_deadline = t_ns + p->frame_ns;
	w->frame_left = p->frame_events;
	if (w->pos == p->raw && !p->in_frame)
		return 0;
	int r = compress(w, ZSTD_e_end);
	if (r < 0)
		return w->error = r;
	p->in_frame = false;
	p->framed = w->events + w->skipped;
	return note(w);
}

/* Appends bytes to the raw buffer, draining it as often as needed. */
static int append(struct pmt_writer *w, const uint8_t *d, size_t n)
{
	while (n) {
		size_t room = (size_t)(w->end - w->pos);
		if (!room) {
			int r = drain(w); /* maybe inside a record: no note here */
			if (r < 0)
				return r;
			continue;
		}
		size_t k = n < room ? n : room;
		memcpy(w->pos, d, k);
		w->pos += k;
		d += k;
		n -= k;
	}
	return 0;
}

/* Payload builder for length-prefixed records. */
struct rec {
	struct pmt_writer *w;
	size_t len;
	int err;
};

static void rec_room(struct rec *b, size_t n)
{
	struct pmt_writer_priv *p = b->w->priv;
	if (b->err || b->len + n <= p->scratch_cap)
		return;
	size_t cap = p->scratch_cap ? p->scratch_cap : 256;
	while (cap < b->len + n)
		cap *= 2;
	uint8_t *s = realloc(p->scratch, cap);
	if (!s) {
		b->err = -ENOMEM;
		return;
	}
	p->scratch = s;
	p->scratch_cap = cap;
}

static void rec_u(struct rec *b, uint64_t v)
{
	rec_room(b, PMT_VARINT_MAX);
	if (!b->err)
		b->len =
		    (size_t)(pmt_varint_put(b->w->priv->scratch + b->len, v) - b->w->priv->scratch);
}

static void rec_bytes(struct rec *b, const void *d, size_t n)
{
	rec_room(b, n);
	if (!b->err && n) {
		memcpy(b->w->priv->scratch + b->len, d, n);
		b->len += n;
	}
}

static void rec_str(struct rec *b, const char *s, size_t n)
{
	rec_u(b, n);
	rec_bytes(b, s, n);
}

static int rec_emit(struct rec *b, enum pmt_tag tag)
{
	uint8_t head[1 + PMT_VARINT_MAX];
	if (b->err)
		return b->w->error = b->err;
	int r = note(b->w);
	if (r < 0)
		return r;
	head[0] = (uint8_t)tag;
	size_t hn = (size_t)(pmt_varint_put(head + 1, b->len) - head);
	r = append(b->w, head, hn);
	if (r == 0)
		r = append(b->w, b->w->priv->scratch, b->len);
	return r;
}

int pmt_writer_new(int fd, const struct pmt_header *h, const struct pmt_writer_opts *o,
		   struct pmt_writer **out)
{
	int r = -ENOMEM;
	struct pmt_writer *w = calloc(1, sizeof(*w));
	struct pmt_writer_priv *p = calloc(1, sizeof(*p));
	if (!w || !p)
		goto fail;
	w->priv = p;
	p->sink.fd = -1;
	r = sink_open(&p->sink, fd, o ? o->path : NULL);
	if (r < 0)
		goto fail;
	r = -ENOMEM;
	p->out_cap = ZSTD_CStreamOutSize();
	p->raw = malloc(RAW_CAP);
	p->out = malloc(p->out_cap);
	p->cctx = ZSTD_createCCtx();
	if (!p->raw || !p->out || !p->cctx)
		goto fail;
	int level = o && o->level ? o->level : 1;
	ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_compressionLevel, level);
	ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_checksumFlag, 1);
	p->frame_events = o && o->frame_events ? o->frame_events : DEFAULT_FRAME_EVENTS;
	p->frame_ns = o && o->frame_ns ? o->frame_ns : DEFAULT_FRAME_NS;
	w->pos = p->raw;
	w->end = p->raw + RAW_CAP;
	w->frame_deadline = p->frame_ns;
	w->frame_left = p->frame_events;
	w->last_rss = (int64_t)h->rss_start;

	r = append(w, (const uint8_t *)PMT_MAGIC, PMT_MAGIC_LEN);
	if (r < 0)
		goto fail;
	struct rec b = {w, 0, 0};
	rec_u(&b, PMT_FORMAT_VERSION);
	rec_u(&b, h->pid);
	rec_u(&b, h->ppid);
	rec_u(&b, h->page_size);
	rec_str(&b, h->python_version ? h->python_version : "",
		h->python_version ? strlen(h->python_version) : 0);
	rec_u(&b, h->argc);
	for (uint32_t i = 0; i < h->argc; i++)
		rec_str(&b, h->argv[i], strlen(h->argv[i]));
	rec_u(&b, h->start_wall_ns);
	rec_u(&b, h->mode);
	rec_str(&b, h->rss_source ? h->rss_source : "", h->rss_source ? strlen(h->rss_source) : 0);
	rec_u(&b, pmt_zigzag(h->drss_trigger));
	rec_u(&b, h->flags);
	rec_u(&b, h->rss_start);
	r = rec_emit(&b, PMT_TAG_HEADER);
	if (r < 0)
		goto fail;
	if (p->sink.fd != fd)
		close(fd); /* moved up */
	*out = w;
	return 0;
fail:
	if (w && p) {
		/* the caller still owns fd on failure */
		if (p->sink.fd == fd)
			p->sink.fd = -1;
		pmt_writer_free(w);
	} else {
		free(w);
		free(p);
	}
	return r;
}

int pmt_writer_code(struct pmt_writer *w, uint32_t id, unsigned kind, uint32_t firstline,
		    const char *file, size_t file_len, const char *name, size_t name_len)
{
	struct rec b = {w, 0, 0};
	rec_u(&b, id);
	rec_u(&b, kind);
	rec_u(&b, firstline);
	rec_str(&b, file, file_len);
	rec_str(&b, name, name_len);
	return rec_emit(&b, PMT_TAG_CODE);
}

int pmt_writer_thread(struct pmt_writer *w, uint32_t idx, uint64_t tid, const char *name)
{
	struct rec b = {w, 0, 0};
	rec_u(&b, idx);
	rec_u(&b, tid);
	if (name)
		rec_str(&b, name, strlen(name));
	return rec_emit(&b, PMT_TAG_THREAD);
}

int pmt_writer_site(struct pmt_writer *w, uint32_t idx, uint32_t code, uint32_t line, uint64_t tid,
		    const char *name)
{
	struct rec b = {w, 0, 0};
	rec_u(&b, idx);
	rec_u(&b, code);
	rec_u(&b, line);
	if (name) {
		rec_u(&b, tid);
		rec_str(&b, name, strlen(name));
	}
	return rec_emit(&b, PMT_TAG_SITE);
}

int pmt_writer_message(struct pmt_writer *w, const char *text, size_t len)
{
	struct rec b = {w, 0, 0};
	rec_bytes(&b, text, len);
	return rec_emit(&b, PMT_TAG_MESSAGE);
}

int pmt_writer_skip(struct pmt_writer *w, uint64_t n)
{
	if (!n)
		return 0;
	struct rec b = {w, 0, 0};
	rec_u(&b, n);
	w->skipped += n;
	return rec_emit(&b, PMT_TAG_SKIP);
}

int pmt_writer_close(struct pmt_writer *w, const struct pmt_trailer *t)
{
	struct pmt_writer_priv *p = w->priv;
	if (p->sink.fd < 0)
		return w->error ? w->error : -EBADF;
	struct rec b = {w, 0, 0};
	rec_u(&b, t->total_events);
	rec_u(&b, t->end_wall_ns);
	rec_u(&b, t->peak_rss);
	rec_u(&b, t->flags);
	int r = rec_emit(&b, PMT_TAG_TRAILER);
	if (r == 0)
		r = pmt_writer_end_frame(w, w->last_t);
	int r2 = sink_close(&p->sink);
	return r < 0 ? r : r2;
}

void pmt_writer_free(struct pmt_writer *w)
{
	if (!w)
		return;
	struct pmt_writer_priv *p = w->priv;
	if (p) {
		sink_close(&p->sink);
		free(p->sink.path);
		ZSTD_freeCCtx(p->cctx);
		free(p->raw);
		free(p->out);
		free(p->scratch);
		free(p);
	}
	free(w);
}

uint64_t pmt_writer_bytes(const struct pmt_writer *w) { return w->priv->bytes; }

void pmt_writer_status(const struct pmt_writer *w, struct pmt_writer_status *st)
{
	const struct pmt_writer_priv *p = w->priv;
	*st = (struct pmt_writer_status){
	    .error = w->error,
	    .fd_lost = p->sink.lost != 0,
	    .reopened = p->sink.reopened,
	    .taken_at = p->sink.taken_at,
	    .framed = p->framed,
	    .bytes = p->bytes,
	};
}
