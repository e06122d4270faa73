/* SPDX-License-Identifier: MIT */
/* The log writer: records are appended to a raw buffer, compressed with zstd
 * (streaming, ZSTD_e_continue) as the buffer fills, and a frame is ended
 * (ZSTD_e_end) every N events / T ns and at close. Frames are written to the
 * fd as soon as they end, so a killed process leaves every ended frame. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include <libpmt/core/log-writer.h>

#define RAW_CAP (128 * 1024)
#define DEFAULT_FRAME_EVENTS (1u << 20)
#define DEFAULT_FRAME_NS (100ull * 1000 * 1000)

struct pmt_writer_priv {
	int fd;
	ZSTD_CCtx *cctx;
	uint8_t *raw;
	uint8_t *out;
	size_t out_cap, out_len;
	uint64_t bytes;
	uint32_t frame_events;
	uint64_t frame_ns;
	bool in_frame; /* something was compressed since the last frame end */
	uint8_t *scratch;
	size_t scratch_cap;
};

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int flush_out(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	int r = write_all(p->fd, p->out, p->out_len);
	if (r < 0)
		return r;
	p->bytes += p->out_len;
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

int pmt_writer_drain(struct pmt_writer *w)
{
	if (w->error)
		return w->error;
	int r = compress(w, ZSTD_e_continue);
	if (r < 0)
		w->error = r;
	return r;
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
	return 0;
}

/* Appends bytes to the raw buffer, draining it as often as needed. */
static int append(struct pmt_writer *w, const uint8_t *d, size_t n)
{
	while (n) {
		size_t room = (size_t)(w->end - w->pos);
		if (!room) {
			int r = pmt_writer_drain(w);
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
	if (b->w->error)
		return b->w->error;
	head[0] = (uint8_t)tag;
	size_t hn = (size_t)(pmt_varint_put(head + 1, b->len) - head);
	int r = append(b->w, head, hn);
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
	p->fd = fd;
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
	/* appended fields: where the program ran, for short file names */
	rec_str(&b, h->cwd ? h->cwd : "", h->cwd ? strlen(h->cwd) : 0);
	rec_str(&b, h->stdlib_dir ? h->stdlib_dir : "", h->stdlib_dir ? strlen(h->stdlib_dir) : 0);
	rec_u(&b, h->nsite);
	for (uint32_t i = 0; i < h->nsite; i++)
		rec_str(&b, h->site_dirs[i], strlen(h->site_dirs[i]));
	r = rec_emit(&b, PMT_TAG_HEADER);
	if (r < 0)
		goto fail;
	*out = w;
	return 0;
fail:
	if (w && p) {
		p->fd = -1; /* the caller still owns fd on failure */
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
	if (p->fd < 0)
		return -EBADF;
	struct rec b = {w, 0, 0};
	rec_u(&b, t->total_events);
	rec_u(&b, t->end_wall_ns);
	rec_u(&b, t->peak_rss);
	rec_u(&b, t->flags);
	int r = rec_emit(&b, PMT_TAG_TRAILER);
	if (r == 0)
		r = pmt_writer_end_frame(w, w->last_t);
	if (close(p->fd) < 0 && r == 0)
		r = -errno;
	p->fd = -1;
	return r;
}

void pmt_writer_free(struct pmt_writer *w)
{
	if (!w)
		return;
	struct pmt_writer_priv *p = w->priv;
	if (p) {
		if (p->fd >= 0)
			close(p->fd);
		ZSTD_freeCCtx(p->cctx);
		free(p->raw);
		free(p->out);
		free(p->scratch);
		free(p);
	}
	free(w);
}

uint64_t pmt_writer_bytes(const struct pmt_writer *w) { return w->priv->bytes; }
