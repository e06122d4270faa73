/* SPDX-License-Identifier: MIT */
#pragma once
/* The pmt log writer: turns records into a stream of zstd frames on a file
 * descriptor (docs/FORMAT.md). Used by the tracer (one writer per traced
 * process) and by pmt-filter -o.
 *
 * Producers append records to raw buffers ("chunks") with no system call
 * and no allocation; compressing and writing them is the consumer's job:
 *   PMT_WRITER_SYNC    the producer compresses and writes a chunk when it
 *                      fills or a frame ends (pmt-filter, tests);
 *   PMT_WRITER_THREAD  a writer thread does, so the producer only encodes.
 *                      Memory is bounded (PMT_WRITER_CHUNKS chunks): a
 *                      producer that gets ahead of the thread waits for a free
 *                      chunk. The thread also ends the frame when data has
 *                      been pending for about 100 ms (first by asking the
 *                      producer to end it at its next event, then by itself
 *                      when none comes), so a program that goes quiet and is
 *                      then killed keeps what it did. Every ended frame is
 *                      written at once: SIGKILL leaves complete frames.
 *
 * Producers and threads. One producer at a time: the writer is not locked
 * unless created with .shared. The tracer appends with the GIL held.
 * With .shared, any thread may append, without the GIL, by holding the
 * writer's lock around each group of records that must stay together:
 *
 *     pmt_writer_lock(w);
 *     the record functions below, or pmt_writer_reserve() + _commit()
 *     for fixed-layout records
 *     pmt_writer_unlock(w);
 *
 * and then every producer must do so, the GIL holder's events included
 * (records land in the stream in lock order, so a record belongs to the
 * event count at its place in the stream). The append calls never allocate
 * and never call back into the caller; a producer that waits for a free
 * chunk holds the lock meanwhile (the thread never takes it). The writer
 * thread allocates (zstd): a heap tracer recognises it with
 * pmt_writer_is_writer_thread().
 *
 * fork: the child has no writer thread. pmt_writer_after_fork_child(), from
 * a pthread_atfork child handler, makes the child's copy inert (appends are
 * dropped, no lock is waited for, nothing is written); pmt_writer_free()
 * then releases it and closes the child's copy of the fd.
 *
 * The fd: checked before every write to still be the log, reopened by path
 * when a program took it (log-sink.h), and cut back to the last complete
 * frame when a write fails, so that a trailer saying so may follow.
 *
 * Ownership: the writer owns the fd it was given and every buffer it
 * allocates; pmt_writer_free() releases them. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpmt/core/log-format.h>
#include <libpmt/core/varint.h>

enum pmt_writer_mode { PMT_WRITER_SYNC = 0, PMT_WRITER_THREAD = 1 };

struct pmt_writer_opts {
	uint32_t frame_events;	   /* end a frame after this many events (0: 1<<20) */
	uint64_t frame_ns;	   /* SYNC: ... or this much event time (0: 100 ms) */
	int level;		   /* zstd level (0: 1) */
	enum pmt_writer_mode mode; /* who compresses and writes */
	bool shared;		   /* producers hold pmt_writer_lock() (above) */
	const char *path;	   /* the fd's file, to reopen it (copied); NULL: cannot */
	/* THREAD: called first on the writer thread (may be NULL): a heap
	 * tracer marks the thread so that zstd's allocations are not traced. */
	void (*thread_start)(void *ctx);
	void *thread_ctx;
};

/* Raw bytes per chunk, and chunks of a threaded writer: 512 KiB, about 8 ms
 * of a busy hook's records, the slack the writer thread has to be scheduled
 * before the hook waits for it on a loaded machine. */
#define PMT_WRITER_CHUNK (64 * 1024)
#define PMT_WRITER_CHUNKS 8

/* The public part is what the inline fast path below touches. */
struct pmt_writer {
	uint8_t *pos;		 /* end of the records appended (published to the thread) */
	uint8_t *end;		 /* end of the current chunk's room */
	uint64_t last_t;	 /* time of the previous EVENT (ns since start) */
	int64_t last_rss;	 /* RSS of the previous EVENT (pages) */
	uint64_t frame_deadline; /* end the frame at the first event at or after this
				  * (the thread sets 0 to ask for it; relaxed atomic) */
	uint32_t frame_left;	 /* events before the frame must end */
	uint64_t events;	 /* EVENT records written (relaxed atomic) */
	uint64_t skipped;	 /* events announced through SKIP records (relaxed atomic) */
	uint64_t allocs;	 /* ALLOC records written (relaxed atomic) */
	uint64_t last_addr;	 /* address of the previous ALLOC: the base of its delta */
	int error;		 /* first error (-errno); sticky */
	struct pmt_writer_priv *priv;
};

/* Room reserved per record by the fast path: tag + four varints. */
#define PMT_EVENT_MAX (1 + 4 * PMT_VARINT_MAX)
/* The most pmt_writer_reserve() gives. */
#define PMT_WRITER_RESERVE_MAX 256

/* Creates a writer on fd (taken over) and writes the magic and the header.
 * Returns 0 or -errno; on failure fd is left open for the caller. */
int pmt_writer_new(int fd, const struct pmt_header *h, const struct pmt_writer_opts *o,
		   struct pmt_writer **out);

/* Hands the current chunk over and starts the next (waiting for a free one
 * in THREAD mode): makes room. Returns the writer's error, if any. */
int pmt_writer_drain(struct pmt_writer *w);
/* Ends the current zstd frame: everything appended so far is written at
 * once (SYNC) or as soon as the thread gets to it (THREAD), and survives a
 * SIGKILL from then on. */
int pmt_writer_end_frame(struct pmt_writer *w, uint64_t t_ns);

/* Records are complete up to p: the writer thread may take them. */
static inline void pmt_writer_publish(struct pmt_writer *w, uint8_t *p)
{
	__atomic_store_n(&w->pos, p, __ATOMIC_RELEASE);
}

/* Room for n bytes (n <= PMT_WRITER_RESERVE_MAX) of fixed-layout records at
 * the returned pointer, or NULL on error (w->error says which). Write the
 * records there, then pmt_writer_commit() their end. No allocation. */
static inline uint8_t *pmt_writer_reserve(struct pmt_writer *w, size_t n)
{
	if (__builtin_expect((size_t)(w->end - w->pos) < n, 0) && pmt_writer_drain(w) < 0)
		return NULL;
	return w->pos;
}
static inline void pmt_writer_commit(struct pmt_writer *w, uint8_t *end)
{
	pmt_writer_publish(w, end);
}

/* One event. t_ns is time since start, rss in pages (absolute: the writer
 * keeps the deltas). code 0 means unknown. Hot path: no allocation, no
 * system call but when a chunk is full. */
static inline int pmt_writer_event(struct pmt_writer *w, unsigned kind, uint32_t code,
				   uint32_t line, uint64_t t_ns, int64_t rss_pages)
{
	if (__builtin_expect(w->end - w->pos < PMT_EVENT_MAX, 0)) {
		int r = pmt_writer_drain(w);
		if (r < 0)
			return r;
	}
	uint8_t *p = w->pos;
	*p++ = (uint8_t)(PMT_TAG_EVENT | (kind & 7));
	p = pmt_varint_put(p, code);
	p = pmt_varint_put(p, line);
	p = pmt_varint_put(p, t_ns - w->last_t);
	p = pmt_varint_put(p, pmt_zigzag(rss_pages - w->last_rss));
	w->last_t = t_ns;
	w->last_rss = rss_pages;
	__atomic_store_n(&w->events, w->events + 1, __ATOMIC_RELAXED);
	pmt_writer_publish(w, p);
	if (__builtin_expect(t_ns >= __atomic_load_n(&w->frame_deadline, __ATOMIC_RELAXED) ||
				 --w->frame_left == 0,
			     0))
		return pmt_writer_end_frame(w, t_ns);
	return 0;
}

/* Room reserved by pmt_writer_alloc(): tag + four varints. */
#define PMT_ALLOC_MAX (1 + 4 * PMT_VARINT_MAX)

/* One allocator call (docs/FORMAT.md, ALLOC): op is enum pmt_alloc_op,
 * domain the Python domain of ops 10..14 (else ignored), addr the block
 * returned or freed (0: the call failed), old the block given to realloc,
 * size the bytes asked for, align for the aligned variants. The call
 * belongs to the current event count and to the last SITE. Hot path: no
 * allocation unless the buffer must be compressed. */
static inline int pmt_writer_alloc(struct pmt_writer *w, unsigned op, unsigned domain,
				   uint64_t addr, uint64_t old, uint64_t size, uint64_t align)
{
	uint8_t *p = pmt_writer_reserve(w, PMT_ALLOC_MAX);
	if (__builtin_expect(!p, 0))
		return w->error;
	*p++ = (uint8_t)(PMT_TAG_ALLOC | (op & 15));
	if (op >= PMT_ALLOC_PY_MALLOC)
		p = pmt_varint_put(p, domain);
	if (op != PMT_ALLOC_FREE_NULL && op != PMT_ALLOC_PY_FREE_NULL) {
		p = pmt_varint_put(p, pmt_zigzag((int64_t)(addr - w->last_addr)));
		w->last_addr = addr;
		if (op == PMT_ALLOC_REALLOC || op == PMT_ALLOC_PY_REALLOC)
			p = pmt_varint_put(p, pmt_zigzag((int64_t)(old - addr)));
		if (op != PMT_ALLOC_FREE && op != PMT_ALLOC_PY_FREE)
			p = pmt_varint_put(p, size);
		if (op >= PMT_ALLOC_POSIX_MEMALIGN && op <= PMT_ALLOC_MEMALIGN)
			p = pmt_varint_put(p, align);
	}
	__atomic_store_n(&w->allocs, w->allocs + 1, __ATOMIC_RELAXED);
	pmt_writer_commit(w, p);
	if (__builtin_expect(__atomic_load_n(&w->frame_deadline, __ATOMIC_RELAXED) == 0 ||
				 --w->frame_left == 0,
			     0))
		return pmt_writer_end_frame(w, w->last_t);
	return 0;
}

/* The following ALLOC (and OBJECT) records happened on thread idx while
 * code/line ran there. name != NULL adds the tail (tid, name) that
 * announces a thread no THREAD record has named (a native thread). */
int pmt_writer_site(struct pmt_writer *w, uint32_t idx, uint32_t code, uint32_t line, uint64_t tid,
		    const char *name);

/* A code definition; must precede the first event that uses id (ids from 1).
 * file and name are bytes (not necessarily NUL-terminated). */
int pmt_writer_code(struct pmt_writer *w, uint32_t id, unsigned kind, uint32_t firstline,
		    const char *file, size_t file_len, const char *name, size_t name_len);
/* Following events belong to thread idx. name (may be NULL) is written the
 * first time a thread is announced; tid is the OS thread id. */
int pmt_writer_thread(struct pmt_writer *w, uint32_t idx, uint64_t tid, const char *name);
/* A user marker at the current event number (the next event). */
int pmt_writer_message(struct pmt_writer *w, const char *text, size_t len);
/* n events were seen and not written. */
int pmt_writer_skip(struct pmt_writer *w, uint64_t n);

/* .shared writers: the producers' lock (no-ops otherwise). */
void pmt_writer_lock(struct pmt_writer *w);
void pmt_writer_unlock(struct pmt_writer *w);
/* The calling thread is the writer's own thread. */
bool pmt_writer_is_writer_thread(const struct pmt_writer *w);

/* Writes the trailer, ends the frame, waits until everything is written
 * and closes the fd. A log cut by a failed write gets a MESSAGE saying why
 * and a trailer with PMT_TRL_CUT after its last complete frame, if that
 * still can be written. The writer must still be freed. */
int pmt_writer_close(struct pmt_writer *w, const struct pmt_trailer *t);

/* From a signal handler (async-signal-safe; THREAD mode): the writer thread
 * writes what was published, then the trailer t, ends the frame and stops.
 * Producers may go on appending; nothing more is written. -EINVAL without
 * a thread. */
int pmt_writer_close_async(struct pmt_writer *w, const struct pmt_trailer *t);
/* Async-signal-safe: nothing more will be written (the thread has finished,
 * after close or close_async). */
bool pmt_writer_done(const struct pmt_writer *w);

/* Before a fork (a pthread_atfork prepare handler, producers excluded):
 * the writer thread writes what was handed over and stops, so that the
 * process has no thread of ours when it forks (CPython 3.12+ warns about a
 * fork in a multi-threaded process). Appends go on; the thread is started
 * again at the next hand-over, at close, or by pmt_writer_resume(). While
 * paused, pmt_writer_close_async() has no thread to ask (-EINVAL). */
int pmt_writer_pause(struct pmt_writer *w);
/* Starts a paused writer's thread again (a producer, under its lock). */
int pmt_writer_resume(struct pmt_writer *w);
/* In a fork child, from a pthread_atfork child handler: see above. */
void pmt_writer_after_fork_child(struct pmt_writer *w);
/* Frees the writer; without pmt_writer_close() nothing more is written
 * (what a fork child does with its parent's log) and the fd, if it is still
 * the log, is closed. */
void pmt_writer_free(struct pmt_writer *w);
/* Compressed bytes written to the fd so far (any thread). */
uint64_t pmt_writer_bytes(const struct pmt_writer *w);

/* What happened to the log's file: read after pmt_writer_close(). */
struct pmt_writer_status {
	int error;	   /* the first write error (-errno), 0 if none */
	bool fd_lost;	   /* the fd was taken and the log could not be reopened:
			    * error says why (-ESTALE: the path names another
			    * file now, or its size is not what was written) */
	bool cut_noted;	   /* the cut is in the log: MESSAGE and trailer flag */
	unsigned reopened; /* times the fd was taken and the log reopened */
	uint64_t taken_at; /* events written when the fd was last found taken */
	uint64_t framed;   /* events in the frames written: all a reader gets */
	uint64_t bytes;	   /* compressed bytes written */
};
void pmt_writer_status(const struct pmt_writer *w, struct pmt_writer_status *st);
