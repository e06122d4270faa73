/* SPDX-License-Identifier: MIT */
/* The log writer's consumer (log-writer.h, log-writer-impl.h): chunks fed
 * to zstd in order, frames ended where asked or when the producer has gone
 * quiet, the trailer; in THREAD mode on the writer thread, which this file
 * also starts and runs. */
#include <libpmt/core/log-writer-impl.h>

/* ---- the consumer ------------------------------------------------------- */

/* Feeds n raw bytes to zstd, and ends the frame after them if end; writes
 * the output when zstd's buffer is full and at the frame's end. */
int pmt_wr_feed(struct pmt_writer_priv *p, const uint8_t *d, size_t n, bool end)
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

/* A write failed: stop feeding, and drop what was written of the frame in
 * progress so that the file ends with a complete frame (and a trailer may
 * still follow). */
void pmt_wr_fail(struct pmt_writer_priv *p, int err)
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
	return pmt_wr_feed(p, buf, record(buf, PMT_TAG_MESSAGE, &pc, 1), false);
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
	int r = pmt_wr_feed(p, c->data + from, upto - from, end && !cont);
	if (r == 0 && end && !cont) {
		p->framed = events;
		p->lin_framed = p->lin_base + upto;
		p->frame_asked = false;
	}
	if (r == 0 && !cont && pmt_sink_reopened(&p->sink))
		r = note_reopened(p);
	if (r < 0)
		pmt_wr_fail(p, r);
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
		int r = pmt_wr_feed(p, buf, n, true);
		if (r == 0) {
			p->cut_noted = err != 0;
			if (!err)
				p->framed = p->at_events;
			return;
		}
		pmt_wr_fail(p, r);
		err = __atomic_load_n(&p->cerr, __ATOMIC_RELAXED);
	}
	pmt_sink_cut(&p->sink);
}

/* Consumes the sealed chunks in order; true once the last one is done. */
bool pmt_wr_consume_sealed(struct pmt_writer *w)
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

/* pmt_writer_pause: the producer waits for this thread (in fork), so what
 * it published is complete: it goes into an ended frame now, not when the
 * thread runs again (which a parent blocked in waitpid may not do soon). */
static void end_quiet_frame(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	struct chunk *c = &p->ch[p->ci];
	uint8_t *pos;
	uint64_t events;
	if (!quiet_position(w, c, &pos, &events))
		return;
	size_t upto = (size_t)(pos - c->data);
	if (upto > p->ci_done || (p->in_frame && !p->mid_record)) {
		take(w, upto, false, true, events);
		__atomic_store_n(&w->frame_deadline, NO_DEADLINE, __ATOMIC_RELAXED);
	}
}

/* close_async: what was published, then the trailer. */
static void signal_finish(struct pmt_writer *w)
{
	struct pmt_writer_priv *p = w->priv;
	if (pmt_wr_consume_sealed(w))
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
			if (pmt_wr_consume_sealed(w))
				break; /* closed meanwhile */
			end_quiet_frame(w);
			__atomic_store_n(&p->pause, 0, __ATOMIC_RELAXED);
			return NULL; /* pmt_writer_pause: started again later */
		}
		if (__atomic_load_n(&p->sig, __ATOMIC_ACQUIRE)) {
			signal_finish(w);
			break;
		}
		if (pmt_wr_consume_sealed(w))
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
int pmt_wr_spawn(struct pmt_writer *w)
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
