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
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#include <libpmt/core/log-sink.h>
#include <libpmt/core/log-writer.h>

#define DEFAULT_FRAME_EVENTS (1u << 20)
#define DEFAULT_FRAME_NS (100ull * 1000 * 1000)
/* The thread looks at pending data this often; data older than two looks
 * gets its frame ended (asked of the producer first). */
#define TICK_NS (50ull * 1000 * 1000)
#define NO_DEADLINE UINT64_MAX

enum { CH_FREE, CH_FILLING, CH_SEALED };
#define CH_END 1u  /* end the frame after this chunk */
#define CH_CONT 2u /* ends inside a record: no frame may end there */
#define CH_LAST 4u /* the trailer follows; then close */

struct chunk {
	uint8_t *data; /* PMT_WRITER_CHUNK bytes */
	size_t len;    /* at seal */
	unsigned flags;
	uint64_t events; /* events + skipped at seal */
	int state;	 /* CH_*, atomic */
};

struct pmt_writer_priv {
	struct pmt_sink sink;
	ZSTD_CCtx *cctx;
	uint8_t *out;
	size_t out_cap, out_len;
	uint32_t frame_events;
	uint64_t frame_ns;
	bool threaded, shared;
	void (*thread_start)(void *ctx);
	void *thread_ctx;

	/* producer side */
	struct chunk ch[PMT_WRITER_CHUNKS];
	unsigned nch, pi;
	bool handed; /* data sealed since the last frame end */
	struct pmt_trailer trailer;

	/* consumer side */
	unsigned ci;	     /* chunk being consumed */
	size_t ci_done;	     /* its bytes fed to zstd */
	uint64_t lin_base;   /* stream offset of chunk ci */
	uint64_t lin_framed; /* stream offset of the last frame end */
	uint64_t tick_pub;   /* stream offset published at the previous look */
	bool mid_record;     /* what was fed ends inside a record */
	bool in_frame;	     /* fed since the last frame end */
	bool frame_asked;    /* the producer was asked to end the frame */
	uint64_t at_events;  /* events + skipped at the fed position */
	uint64_t framed;     /* ... at the last frame written */
	uint64_t taken_at;
	int cerr; /* the consumer's first error (atomic) */
	bool cut_noted;

	/* the thread */
	pthread_t thread;
	bool running, forked, paused;
	sem_t ready, free_sem;
	pthread_mutex_t lock;
	int abandon, sig, done, pause; /* atomic */
	struct pmt_trailer sig_trailer;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- the consumer ------------------------------------------------------- */

/* Feeds n raw bytes to zstd, and ends the frame after them if end; writes
 * the output when zstd's buffer is full and at the frame's end. */
static int feed(struct pmt_writer_priv *p, const uint8_t *d, size_t n, bool end)
{
	if (!n && (!end || !p->in_frame))
		return 0;
	ZSTD_inBuffer in = {d, n, 0};
	ZSTD_EndDirective mode = end ? ZSTD_e_end : ZSTD_e_continue;
	for (;;) {
		ZSTD_outBuffer out = {p->out, p->out_cap, p->out_len};
		size_t rem = ZSTD_compressStream2(p->cctx, &out, &in, mode);
		if (ZSTD_isError(rem))
			return -EIO;
		p->out_len = out.pos;
		bool done = end ? rem == 0 : in.pos == in.size;
		if (p->out_len == p->out_cap || (done && end)) {
			int r = pmt_sink_write(&p->sink, p->out, p->out_len);
			if (r < 0)
				return r;
			p->out_len = 0;
		}
		if (done)
			break;
	}
	p->in_frame = !end;
	if (end)
		pmt_sink_frame_end(&p->sink);
	return 0;
}

/* A length-prefixed record from pieces, into buf (at least 1 + VARINT_MAX +
 * their total): returns its length. */
struct piece {
	const void *p;
	size_t n;
};
static size_t record(uint8_t *buf, unsigned tag, const struct piece *pc, unsigned np)
{
	size_t len = 0;
	for (unsigned i = 0; i < np; i++)
		len += pc[i].n;
	buf[0] = (uint8_t)tag;
	uint8_t *q = pmt_varint_put(buf + 1, len);
	for (unsigned i = 0; i < np; i++) {
		memcpy(q, pc[i].p, pc[i].n);
		q += pc[i].n;
	}
	return (size_t)(q - buf);
}

/* A write failed: stop feeding, and drop what was written of the frame in
 * progress so that the file ends with a complete frame (and a trailer may
 * still follow). */
static void fail(struct pmt_writer_priv *p, int err)
{
	if (!__atomic_load_n(&p->cerr, __ATOMIC_RELAXED))
		__atomic_store_n(&p->cerr, err, __ATOMIC_RELEASE);
	if (!p->sink.lost)
		pmt_sink_cut(&p->sink);
	ZSTD_CCtx_reset(p->cctx, ZSTD_reset_session_only);
	p->out_len = 0;
	p->in_frame = false;
}

/* The MESSAGE saying the fd was taken and the log reopened, at a record
 * boundary. */
static int note_reopened(struct pmt_writer_priv *p)
{
	char text[128];
	p->taken_at = p->at_events;
	int n = snprintf(text, sizeof(text),
			 "pmt: log fd taken by the program at event %llu; reopened by path",
			 (unsigned long long)p->at_events);
	uint8_t buf[1 + PMT_VARINT_MAX + sizeof(text)];
	struct piece pc = {text, (size_t)n};
	return feed(p, buf, record(buf, PMT_TAG_MESSAGE, &pc, 1), false);
}

/* Feeds chunk ci up to byte upto; cont: that is inside a record; end: end
 * the frame there; events: the count there. */
static void take(struct pmt_writer *w, size_t upto, bool cont, bool end, uint64_t events)
{
	struct pmt_writer_priv *p = w->priv;
	struct chunk *c = &p->ch[p->ci];
	size_t from = p->ci_done;
	p->ci_done = upto;
	p->mid_record = cont;
	p->at_events = events;
	if (__atomic_load_n(&p->cerr, __ATOMIC_RELAXED))
		return; /* cut or lost: dropped */
	int r = feed(p, c->data + from, upto - from, end && !cont);
	if (r == 0 && end && !cont) {
		p->framed = events;
		p->lin_framed = p->lin_base + upto;
		p->frame_asked = false;
	}
	if (r == 0 && !cont && pmt_sink_reopened(&p->sink))
		r = note_reopened(p);
	if (r < 0)
		fail(p, r);
}

/* The last frame: the trailer (and when the log was cut, a MESSAGE saying
 * why and the CUT flag, after the last complete frame). */
static void finish(struct pmt_writer_priv *p, const struct pmt_trailer *t)
{
	uint8_t f[5 * PMT_VARINT_MAX], *q = f;
	struct pmt_trailer tr = *t;
	int err = __atomic_load_n(&p->cerr, __ATOMIC_RELAXED);
	for (int attempt = 0; attempt < 2; attempt++) {
		if (err && (p->sink.lost || p->sink.broken))
			return; /* nothing more can be written */
		char text[160];
		uint8_t buf[2 * (1 + PMT_VARINT_MAX) + sizeof(text) + sizeof(f)];
		size_t n = 0;
		if (err) {
			tr.flags |= PMT_TRL_CUT;
			int k = snprintf(text, sizeof(text), "pmt: log cut: %s", strerror(-err));
			struct piece pc = {text, (size_t)k};
			n = record(buf, PMT_TAG_MESSAGE, &pc, 1);
		}
		q = f;
		q = pmt_varint_put(q, tr.total_events);
		q = pmt_varint_put(q, tr.end_wall_ns);
		q = pmt_varint_put(q, tr.peak_rss);
		q = pmt_varint_put(q, tr.flags);
		if (tr.flags & PMT_TRL_SIGNAL)
			q = pmt_varint_put(q, tr.signal);
		struct piece pc = {f, (size_t)(q - f)};
		n += record(buf + n, PMT_TAG_TRAILER, &pc, 1);
		int r = feed(p, buf, n, true);
		if (r == 0) {
			p->cut_noted = err != 0;
			if (!err)
				p->framed = p->at_events;
			return;
		}
		fail(p, r);
		err = __atomic_load_n(&p->cerr, __ATOMIC_RELAXED);
	}
	pmt_sink_cut(&p->sink);
}

/* Consumes the sealed chunks in order; true once the last one is done. */
static bool consume_sealed(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	for (;;) {
		struct chunk *c = &p->ch[p->ci];
		if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != CH_SEALED)
			return false;
		bool last = c->flags & CH_LAST;
		/* the last frame ends after the trailer */
		take(w, c->len, c->flags & CH_CONT, (c->flags & CH_END) && !last, c->events);
		if (last)
			finish(p, &p->trailer);
		p->lin_base += c->len;
		p->ci_done = 0;
		p->ci = (p->ci + 1) % p->nch;
		if (p->threaded) {
			__atomic_store_n(&c->state, CH_FREE, __ATOMIC_RELEASE);
			sem_post(&p->free_sem);
		} else {
			c->state = CH_FREE; /* the producer takes it again */
		}
		if (last)
			return true;
	}
}

/* The published end of the producer's chunk, if the consumer is on it. */
static uint8_t *published(struct pmt_writer *w, const struct chunk *c)
{
	uint8_t *pos = __atomic_load_n(&w->pos, __ATOMIC_ACQUIRE);
	if (pos < c->data || pos > c->data + PMT_WRITER_CHUNK)
		return NULL;
	return pos;
}

/* The events count at the published position: exact unless the producer is
 * between two stores of an event this very moment, which is why this is
 * asked only of a producer that did not answer for a whole tick. */
static bool quiet_position(struct pmt_writer *w, const struct chunk *c, uint8_t **pos,
			   uint64_t *events)
{
	uint8_t *p1 = published(w, c);
	*events = __atomic_load_n(&w->events, __ATOMIC_RELAXED) +
		  __atomic_load_n(&w->skipped, __ATOMIC_RELAXED);
	uint8_t *p2 = published(w, c);
	*pos = p1;
	return p1 && p1 == p2 && __atomic_load_n(&c->state, __ATOMIC_ACQUIRE) == CH_FILLING;
}

/* Every TICK_NS: data published before the previous tick and not yet in an
 * ended frame gets its frame ended: by the producer at its next event if it
 * is busy, else here. */
static void tick(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	struct chunk *c = &p->ch[p->ci];
	if (__atomic_load_n(&c->state, __ATOMIC_ACQUIRE) != CH_FILLING)
		return;
	uint8_t *pos = published(w, c);
	if (!pos)
		return;
	uint64_t pub = p->lin_base + (uint64_t)(pos - c->data);
	if (p->lin_framed < p->tick_pub) {
		uint64_t events;
		if (!p->frame_asked) {
			__atomic_store_n(&w->frame_deadline, 0, __ATOMIC_RELAXED);
			p->frame_asked = true;
		} else if (quiet_position(w, c, &pos, &events)) {
			size_t upto = (size_t)(pos - c->data);
			if (upto > p->ci_done || (p->in_frame && !p->mid_record)) {
				take(w, upto, false, true, events);
				__atomic_store_n(&w->frame_deadline, NO_DEADLINE, __ATOMIC_RELAXED);
			}
		}
	}
	p->tick_pub = pub;
}

/* close_async: what was published, then the trailer. */
static void signal_finish(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	if (consume_sealed(w))
		return; /* closed normally meanwhile */
	struct chunk *c = &p->ch[p->ci];
	uint8_t *pos;
	uint64_t events;
	quiet_position(w, c, &pos, &events);
	if (pos && (size_t)(pos - c->data) > p->ci_done)
		take(w, (size_t)(pos - c->data), false, false, events);
	if (!p->mid_record)
		finish(p, &p->sig_trailer);
}

static void *writer_main(void *arg)
{
	struct pmt_writer *w = arg;
	struct pmt_writer_priv *p = w->priv;
	if (p->thread_start)
		p->thread_start(p->thread_ctx);
	uint64_t next = mono_ns() + TICK_NS;
	for (;;) {
		struct timespec ts = {(time_t)(next / 1000000000u), (long)(next % 1000000000u)};
		sem_clockwait(&p->ready, CLOCK_MONOTONIC, &ts);
		if (__atomic_load_n(&p->abandon, __ATOMIC_ACQUIRE))
			break;
		if (__atomic_load_n(&p->pause, __ATOMIC_ACQUIRE)) {
			if (consume_sealed(w))
				break; /* closed meanwhile */
			__atomic_store_n(&p->pause, 0, __ATOMIC_RELAXED);
			return NULL; /* pmt_writer_pause: started again later */
		}
		if (__atomic_load_n(&p->sig, __ATOMIC_ACQUIRE)) {
			signal_finish(w);
			break;
		}
		if (consume_sealed(w))
			break;
		uint64_t now = mono_ns();
		if (now >= next) {
			tick(w);
			next = now + TICK_NS;
		}
	}
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	sem_post(&p->free_sem); /* a producer waiting for a chunk sees it */
	return NULL;
}

/* Starts the writer thread (again, after pmt_writer_pause). */
static int spawn(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	/* No signal is ever handled on the writer thread: a handler that
	 * closes the log (close_async) waits for this thread. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int r = pthread_create(&p->thread, NULL, writer_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	p->running = true;
	p->paused = false;
	return 0;
}

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
		int r = spawn(w);
		if (r < 0) {
			fail(p, r);
			return producer_error(w);
		}
	}
	c->len = (size_t)(end - c->data);
	c->flags = flags;
	c->events = w->events + w->skipped;
	p->handed = !(flags & (CH_END | CH_LAST)) && (p->handed || c->len);
	if (!p->threaded) {
		c->state = CH_SEALED;
		consume_sealed(w);
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
	r = feed(p, buf, len, false);
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
	return spawn(w);
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
	if (p->paused) {
		int r = spawn(w);
		if (r < 0)
			return r; /* no thread to be had: the log stays cut */
	}
	if (p->forked || (p->threaded && !p->running))
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
	int r = spawn(w);
	if (r < 0)
		fail(p, r);
	return r;
}

void pmt_writer_after_fork_child(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	p->forked = true;
	p->running = false; /* the parent's thread is not here */
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
