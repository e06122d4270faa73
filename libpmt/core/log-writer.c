/* SPDX-License-Identifier: MIT */
/* The log writer (log-writer.h). Producers append records to chunks; the
 * consumer (the producer itself in SYNC mode, the writer thread in THREAD
 * mode) feeds them to zstd in order, ends frames where asked, and writes
 * the compressed bytes through the sink (log-sink.h).
 *
 * Chunks go round in order. THREAD mode: the producer fills one (FILLING),
 * seals it (SEALED, with its length and flags) and takes the next FREE one;
 * the thread consumes SEALED chunks and frees them. Two semaphores count
 * them (ready, free), so neither side takes a lock. The producer publishes
 * the end of its complete records in w->pos after each one (a release
 * store), so the thread can also take a FILLING chunk's published prefix
 * to end a frame when the producer has gone quiet. */
#include <libpmt/core/log-writer-impl.h>

/* ---- the producer ------------------------------------------------------- */

static int producer_error(struct pmt_writer *w)
{
	if (!w->error)
		w->error = __atomic_load_n(&w->priv->cerr, __ATOMIC_ACQUIRE);
	return w->error;
}

/* The thread has stopped (closed from a signal handler): what comes now is
 * dropped, and no producer waits for a chunk that will never be freed. */
static int stopped(struct pmt_writer *w, struct chunk *c)
{
	__atomic_store_n(&c->state, CH_FILLING, __ATOMIC_RELAXED);
	w->end = c->data + PMT_WRITER_CHUNK;
	pmt_writer_publish(w, c->data);
	if (!w->error)
		w->error = -ECANCELED;
	return w->error;
}

/* Hands the current chunk over, up to end, and starts the next one. */
static int seal(struct pmt_writer *w, unsigned flags, uint8_t *end)
{
	struct pmt_writer_priv *p = w->priv;
	struct chunk *c = &p->ch[p->pi];
	if (p->forked) {
		pmt_writer_publish(w, c->data); /* the child's copy: dropped */
		return w->error;
	}
	if (p->paused) {
		int r = pmt_wr_spawn(w);
		if (r < 0) {
			pmt_wr_fail(p, r);
			return producer_error(w);
		}
	}
	c->len = (size_t)(end - c->data);
	c->flags = flags;
	c->events = w->events + w->skipped;
	p->handed = !(flags & (CH_END | CH_LAST)) && (p->handed || c->len);
	if (!p->threaded) {
		c->state = CH_SEALED;
		pmt_wr_consume_sealed(w);
		c->state = CH_FILLING;
		w->end = c->data + PMT_WRITER_CHUNK;
		pmt_writer_publish(w, c->data);
		return producer_error(w);
	}
	if (__atomic_load_n(&p->done, __ATOMIC_ACQUIRE))
		return stopped(w, c);
	__atomic_store_n(&c->state, CH_SEALED, __ATOMIC_RELEASE);
	sem_post(&p->ready);
	if (flags & CH_LAST)
		return 0;
	while (sem_wait(&p->free_sem) < 0 && errno == EINTR)
		;
	if (__atomic_load_n(&p->done, __ATOMIC_ACQUIRE))
		return stopped(w, c);
	p->pi = (p->pi + 1) % p->nch;
	c = &p->ch[p->pi];
	__atomic_store_n(&c->state, CH_FILLING, __ATOMIC_RELAXED);
	w->end = c->data + PMT_WRITER_CHUNK;
	pmt_writer_publish(w, c->data);
	return producer_error(w);
}

int pmt_writer_drain(struct pmt_writer *w)
{
	if (w->error)
		return w->error;
	return seal(w, 0, w->pos);
}

int pmt_writer_end_frame(struct pmt_writer *w, uint64_t t_ns)
{
	struct pmt_writer_priv *p = w->priv;
	__atomic_store_n(&w->frame_deadline, p->threaded ? NO_DEADLINE : t_ns + p->frame_ns,
			 __ATOMIC_RELAXED);
	w->frame_left = p->frame_events;
	if (w->error)
		return w->error;
	if (p->threaded && w->pos == p->ch[p->pi].data && !p->handed)
		return 0; /* nothing since the last frame end */
	return seal(w, CH_END, w->pos);
}

/* Appends n bytes of a record, across chunks if need be; the caller
 * publishes the record's end. */
static int append(struct pmt_writer *w, uint8_t **q, const void *d, size_t n)
{
	const uint8_t *s = d;
	while (n) {
		size_t room = (size_t)(w->end - *q);
		if (!room) {
			int r = seal(w, CH_CONT, *q);
			if (r < 0)
				return r;
			*q = w->pos;
			continue;
		}
		size_t k = n < room ? n : room;
		memcpy(*q, s, k);
		*q += k;
		s += k;
		n -= k;
	}
	return 0;
}

/* A length-prefixed record made of pieces. */
static int emit(struct pmt_writer *w, unsigned tag, const struct piece *pc, unsigned np)
{
	if (w->error)
		return w->error;
	size_t len = 0;
	for (unsigned i = 0; i < np; i++)
		len += pc[i].n;
	uint8_t head[1 + PMT_VARINT_MAX];
	head[0] = (uint8_t)tag;
	size_t hn = (size_t)(pmt_varint_put(head + 1, len) - head);
	if ((size_t)(w->end - w->pos) < hn + len) {
		/* Rather in the next chunk than across two, when it fits one. */
		if (hn + len <= PMT_WRITER_CHUNK && w->pos != w->priv->ch[w->priv->pi].data) {
			int r = pmt_writer_drain(w);
			if (r < 0)
				return r;
		}
	}
	uint8_t *q = w->pos;
	int r = append(w, &q, head, hn);
	for (unsigned i = 0; r == 0 && i < np; i++)
		r = append(w, &q, pc[i].p, pc[i].n);
	if (r == 0)
		pmt_writer_publish(w, q);
	return r;
}

int pmt_writer_code(struct pmt_writer *w, uint32_t id, unsigned kind, uint32_t firstline,
		    const char *file, size_t file_len, const char *name, size_t name_len)
{
	uint8_t a[4 * PMT_VARINT_MAX], *q = a, b[PMT_VARINT_MAX];
	q = pmt_varint_put(q, id);
	q = pmt_varint_put(q, kind);
	q = pmt_varint_put(q, firstline);
	q = pmt_varint_put(q, file_len);
	size_t bn = (size_t)(pmt_varint_put(b, name_len) - b);
	struct piece pc[] = {{a, (size_t)(q - a)}, {file, file_len}, {b, bn}, {name, name_len}};
	return emit(w, PMT_TAG_CODE, pc, 4);
}

int pmt_writer_thread(struct pmt_writer *w, uint32_t idx, uint64_t tid, const char *name)
{
	uint8_t a[3 * PMT_VARINT_MAX], *q = a;
	q = pmt_varint_put(q, idx);
	q = pmt_varint_put(q, tid);
	size_t nl = name ? strlen(name) : 0;
	if (name)
		q = pmt_varint_put(q, nl);
	struct piece pc[] = {{a, (size_t)(q - a)}, {name, nl}};
	return emit(w, PMT_TAG_THREAD, pc, 2);
}

int pmt_writer_message(struct pmt_writer *w, const char *text, size_t len)
{
	struct piece pc = {text, len};
	return emit(w, PMT_TAG_MESSAGE, &pc, 1);
}

int pmt_writer_skip(struct pmt_writer *w, uint64_t n)
{
	if (!n)
		return 0;
	uint8_t a[PMT_VARINT_MAX];
	struct piece pc = {a, (size_t)(pmt_varint_put(a, n) - a)};
	__atomic_store_n(&w->skipped, w->skipped + n, __ATOMIC_RELAXED);
	return emit(w, PMT_TAG_SKIP, &pc, 1);
}

void pmt_writer_lock(struct pmt_writer *w)
{
	if (w->priv->shared)
		pthread_mutex_lock(&w->priv->lock);
}

void pmt_writer_unlock(struct pmt_writer *w)
{
	if (w->priv->shared)
		pthread_mutex_unlock(&w->priv->lock);
}

bool pmt_writer_is_writer_thread(const struct pmt_writer *w)
{
	return w->priv->running && pthread_equal(pthread_self(), w->priv->thread);
}

/* ---- life cycle --------------------------------------------------------- */

/* The magic and the header, fed to zstd at once (so that zstd's memory is
 * taken now, not at some later event). */
static int write_header(struct pmt_writer_priv *p, const struct pmt_header *h)
{
	size_t n = 256 + (h->python_version ? strlen(h->python_version) : 0) +
		   (h->rss_source ? strlen(h->rss_source) : 0) + (h->cwd ? strlen(h->cwd) : 0) +
		   (h->stdlib_dir ? strlen(h->stdlib_dir) : 0);
	for (uint32_t i = 0; i < h->argc; i++)
		n += PMT_VARINT_MAX + strlen(h->argv[i]);
	for (uint32_t i = 0; i < h->nsite; i++)
		n += PMT_VARINT_MAX + strlen(h->site_dirs[i]);
	uint8_t *buf = malloc(PMT_MAGIC_LEN + 1 + PMT_VARINT_MAX + n), *pl = malloc(n);
	int r = -ENOMEM;
	if (!buf || !pl)
		goto out;
	uint8_t *q = pl;
#define PUT_STR(s)                                                                                 \
	do {                                                                                       \
		size_t l_ = (s) ? strlen(s) : 0;                                                   \
		q = pmt_varint_put(q, l_);                                                         \
		memcpy(q, (s) ? (s) : "", l_);                                                     \
		q += l_;                                                                           \
	} while (0)
	q = pmt_varint_put(q, PMT_FORMAT_VERSION);
	q = pmt_varint_put(q, h->pid);
	q = pmt_varint_put(q, h->ppid);
	q = pmt_varint_put(q, h->page_size);
	PUT_STR(h->python_version);
	q = pmt_varint_put(q, h->argc);
	for (uint32_t i = 0; i < h->argc; i++)
		PUT_STR(h->argv[i]);
	q = pmt_varint_put(q, h->start_wall_ns);
	q = pmt_varint_put(q, h->mode);
	PUT_STR(h->rss_source);
	q = pmt_varint_put(q, pmt_zigzag(h->drss_trigger));
	q = pmt_varint_put(q, h->flags);
	q = pmt_varint_put(q, h->rss_start);
	/* appended fields: where the program ran, for short file names */
	PUT_STR(h->cwd);
	PUT_STR(h->stdlib_dir);
	q = pmt_varint_put(q, h->nsite);
	for (uint32_t i = 0; i < h->nsite; i++)
		PUT_STR(h->site_dirs[i]);
#undef PUT_STR
	memcpy(buf, PMT_MAGIC, PMT_MAGIC_LEN);
	struct piece pc = {pl, (size_t)(q - pl)};
	size_t len = PMT_MAGIC_LEN + record(buf + PMT_MAGIC_LEN, PMT_TAG_HEADER, &pc, 1);
	r = pmt_wr_feed(p, buf, len, false);
out:
	free(buf);
	free(pl);
	return r;
}

static int start_thread(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	if (sem_init(&p->ready, 0, 0) < 0 || sem_init(&p->free_sem, 0, p->nch - 1) < 0)
		return -errno;
	return pmt_wr_spawn(w);
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
	p->threaded = o && o->mode == PMT_WRITER_THREAD;
	p->shared = o && o->shared;
	p->thread_start = o ? o->thread_start : NULL;
	p->thread_ctx = o ? o->thread_ctx : NULL;
	p->nch = p->threaded ? PMT_WRITER_CHUNKS : 1;
	for (unsigned i = 0; i < p->nch; i++) {
		/* touched now: the tracer's buffers are in RSS from the start */
		p->ch[i].data = calloc(1, PMT_WRITER_CHUNK);
		if (!p->ch[i].data)
			goto fail;
	}
	p->out_cap = ZSTD_CStreamOutSize();
	p->out = malloc(p->out_cap);
	p->cctx = ZSTD_createCCtx();
	if (!p->out || !p->cctx)
		goto fail;
	ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_compressionLevel, o && o->level ? o->level : 1);
	ZSTD_CCtx_setParameter(p->cctx, ZSTD_c_checksumFlag, 1);
	p->frame_events = o && o->frame_events ? o->frame_events : DEFAULT_FRAME_EVENTS;
	p->frame_ns = o && o->frame_ns ? o->frame_ns : DEFAULT_FRAME_NS;
	if (p->shared && pthread_mutex_init(&p->lock, NULL) != 0)
		goto fail;
	p->ch[0].state = CH_FILLING;
	w->pos = p->ch[0].data;
	w->end = w->pos + PMT_WRITER_CHUNK;
	w->frame_deadline = p->threaded ? NO_DEADLINE : p->frame_ns;
	w->frame_left = p->frame_events;
	w->last_rss = (int64_t)h->rss_start;

	r = pmt_sink_open(&p->sink, fd, o ? o->path : NULL);
	if (r < 0)
		goto fail;
	r = write_header(p, h);
	if (r == 0 && p->threaded)
		r = start_thread(w);
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

int pmt_writer_site(struct pmt_writer *w, uint32_t idx, uint32_t code, uint32_t line, uint64_t tid,
		    const char *name)
{
	uint8_t a[5 * PMT_VARINT_MAX], *q = a;
	q = pmt_varint_put(q, idx);
	q = pmt_varint_put(q, code);
	q = pmt_varint_put(q, line);
	size_t nl = name ? strlen(name) : 0;
	if (name) {
		q = pmt_varint_put(q, tid);
		q = pmt_varint_put(q, nl);
	}
	struct piece pc[] = {{a, (size_t)(q - a)}, {name, nl}};
	return emit(w, PMT_TAG_SITE, pc, 2);
}

int pmt_writer_close(struct pmt_writer *w, const struct pmt_trailer *t)
{
	struct pmt_writer_priv *p = w->priv;
	if (p->forked)
		return -EBADF;
	if (p->paused) {
		int r = pmt_wr_spawn(w);
		if (r < 0)
			return r; /* no thread to be had: the log stays cut */
	}
	if (p->threaded && !p->running)
		return -EBADF;
	p->trailer = *t;
	seal(w, CH_LAST, w->pos);
	if (p->threaded) {
		pthread_join(p->thread, NULL);
		p->running = false;
	}
	int r = __atomic_load_n(&p->cerr, __ATOMIC_ACQUIRE);
	int r2 = pmt_sink_close(&p->sink);
	if (!w->error)
		w->error = r;
	return r < 0 ? r : r2;
}

int pmt_writer_close_async(struct pmt_writer *w, const struct pmt_trailer *t)
{
	struct pmt_writer_priv *p = w->priv;
	if (!p->threaded || p->forked || p->paused)
		return -EINVAL;
	if (__atomic_load_n(&p->sig, __ATOMIC_ACQUIRE))
		return 0;
	p->sig_trailer = *t;
	__atomic_store_n(&p->sig, 1, __ATOMIC_RELEASE);
	sem_post(&p->ready);
	return 0;
}

bool pmt_writer_done(const struct pmt_writer *w)
{
	return !w->priv->threaded || w->priv->paused ||
	       __atomic_load_n(&w->priv->done, __ATOMIC_ACQUIRE);
}

int pmt_writer_pause(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	if (!p->threaded || !p->running || p->forked)
		return 0;
	__atomic_store_n(&p->pause, 1, __ATOMIC_RELEASE);
	sem_post(&p->ready);
	pthread_join(p->thread, NULL);
	p->running = false;
	p->paused = !__atomic_load_n(&p->done, __ATOMIC_ACQUIRE);
	return 0;
}

int pmt_writer_resume(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	if (!p->paused || p->forked)
		return 0;
	int r = pmt_wr_spawn(w);
	if (r < 0)
		pmt_wr_fail(p, r);
	return r;
}

void pmt_writer_after_fork_child(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	p->forked = true;
	p->running = false; /* the parent's thread is not here */
	p->paused = false;
	w->error = -ECHILD;
	if (p->shared)
		pthread_mutex_init(&p->lock, NULL); /* maybe held by a vanished thread */
}

void pmt_writer_free(struct pmt_writer *w)
{
	if (!w)
		return;
	struct pmt_writer_priv *p = w->priv;
	if (p) {
		if (p->running) {
			__atomic_store_n(&p->abandon, 1, __ATOMIC_RELEASE);
			sem_post(&p->ready);
			pthread_join(p->thread, NULL);
		}
		if (p->threaded && !p->forked) {
			sem_destroy(&p->ready);
			sem_destroy(&p->free_sem);
		}
		if (p->shared && !p->forked)
			pthread_mutex_destroy(&p->lock);
		if (p->sink.fd >= 0 || p->sink.path)
			pmt_sink_close(&p->sink);
		ZSTD_freeCCtx(p->cctx);
		for (unsigned i = 0; i < p->nch; i++)
			free(p->ch[i].data);
		free(p->out);
		free(p);
	}
	free(w);
}

uint64_t pmt_writer_bytes(const struct pmt_writer *w) { return pmt_sink_bytes(&w->priv->sink); }

void pmt_writer_status(const struct pmt_writer *w, struct pmt_writer_status *st)
{
	const struct pmt_writer_priv *p = w->priv;
	*st = (struct pmt_writer_status){
	    .error = __atomic_load_n(&p->cerr, __ATOMIC_ACQUIRE),
	    .fd_lost = p->sink.lost != 0,
	    .cut_noted = p->cut_noted,
	    .reopened = p->sink.reopened,
	    .taken_at = p->taken_at,
	    .framed = p->framed,
	    .bytes = pmt_sink_bytes(&p->sink),
	};
}
