/* SPDX-License-Identifier: MIT */
/* Reader of the pmt binary log (docs/FORMAT.md) behind struct pmt_source.
 * Decompressed bytes are pulled in large blocks; a record is decoded only
 * when it is wholly in the buffer, so a record cut by a block boundary is
 * completed by the next refill and one cut by the end of the input is
 * reported as truncation. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/core/varint.h>
#include <libpmt/read/backend.h>

#define BLOCK (256 * 1024)
#define FIRST_BLOCK (16 * 1024) /* the buffer doubles up to BLOCK as the log goes on */
#define MAX_RECORD (64u * 1024 * 1024)
#define MAX_PAGE_SIZE (1u << 30) /* docs/FORMAT.md, "Value ranges" */

struct lr {
	uint8_t *buf;
	size_t cap, pos, len;
	bool eof;
	uint64_t t, byte_off; /* time (ns); bytes consumed before buf[0] */
	int64_t rss_pages;
	int64_t max_pages; /* PMT_MAX_RSS_BYTES / page_size */
	uint32_t page_size;
	uint32_t thread;
	uint64_t pending_skip;
	bool ended;	      /* trailer seen */
	struct pmt_site site; /* the last SITE (version 2) */
	uint64_t last_addr;   /* the base of the next ALLOC's address delta */
	/* the bases of the next OBJECT's deltas: address, time (ns), RSS (pages) */
	uint64_t obj_addr, obj_t;
	int64_t obj_rss;
	int pending; /* an error that comes after the items of a batch */
};

static void lr_free(void *state)
{
	struct lr *r = state;
	if (r)
		free(r->buf);
	free(r);
}

/* Makes at least need bytes available from pos, unless the input ends.
 * Returns 1 when they are there, 0 when the input ended first, -errno. */
static int need_bytes(struct pmt_source *s, struct lr *r, size_t need)
{
	if (r->len - r->pos >= need)
		return 1;
	if (need > r->cap) {
		size_t cap = r->cap;
		while (cap < need)
			cap *= 2;
		uint8_t *b = realloc(r->buf, cap);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap = cap;
	}
	if (r->pos) {
		memmove(r->buf, r->buf + r->pos, r->len - r->pos);
		r->byte_off += r->pos;
		r->len -= r->pos;
		r->pos = 0;
	}
	if (r->cap < BLOCK && r->byte_off >= r->cap) {
		/* a buffer's worth read: a longer log, read in larger blocks */
		uint8_t *b = realloc(r->buf, r->cap * 2);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->cap *= 2;
	}
	while (r->len < need) {
		if (r->eof)
			return 0;
		long k = pmt_input_read(s->in, r->buf + r->len, r->cap - r->len);
		if (k < 0)
			return (int)k;
		if (k == 0)
			r->eof = true;
		r->len += (size_t)k;
	}
	return 1;
}

static int get_u(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	return pmt_varint_get(p, end, v) ? PMT_E_CORRUPT : 0;
}

static int get_u32(const uint8_t **p, const uint8_t *end, uint32_t *v)
{
	uint64_t x;
	if (get_u(p, end, &x) || x > UINT32_MAX)
		return PMT_E_CORRUPT;
	*v = (uint32_t)x;
	return 0;
}

static int get_str(const uint8_t **p, const uint8_t *end, const char **s, size_t *n)
{
	uint64_t len;
	if (get_u(p, end, &len) || len > (uint64_t)(end - *p))
		return PMT_E_CORRUPT;
	*s = (const char *)*p;
	*n = (size_t)len;
	*p += len;
	return 0;
}

static int parse_header(struct pmt_source *s, const uint8_t *p, const uint8_t *end)
{
	struct pmt_header *h = &s->hdr;
	const char *str;
	size_t n;
	uint64_t v;
	int e = 0;
	e |= get_u32(&p, end, &h->version);
	if (e)
		return PMT_E_CORRUPT;
	if (h->version > PMT_FORMAT_VERSION || h->version < PMT_FORMAT_VERSION_MIN)
		return PMT_E_VERSION;
	e |= get_u32(&p, end, &h->pid);
	e |= get_u32(&p, end, &h->ppid);
	e |= get_u32(&p, end, &h->page_size);
	if (e)
		return PMT_E_CORRUPT;
	/* Strings are gathered in one block: python version, argv..., rss source. */
	const uint8_t *strings = p;
	if (get_str(&p, end, &str, &n) || get_u32(&p, end, &h->argc) ||
	    h->argc > (uint64_t)(end - p))
		return PMT_E_CORRUPT;
	for (uint32_t i = 0; i < h->argc; i++)
		if (get_str(&p, end, &str, &n))
			return PMT_E_CORRUPT;
	if (get_u(&p, end, &h->start_wall_ns) || get_u32(&p, end, &h->mode) ||
	    get_str(&p, end, &str, &n) || get_u(&p, end, &v))
		return PMT_E_CORRUPT;
	h->drss_trigger = pmt_unzigzag(v);
	if (get_u32(&p, end, &h->flags) || get_u(&p, end, &h->rss_start))
		return PMT_E_CORRUPT;
	/* Appended fields (cwd, stdlib, site dirs): used only when they are all
	 * there and well formed, since they only make names shorter. */
	const uint8_t *known = p;
	uint32_t nsite = 0;
	bool ext = p < end && !get_str(&p, end, &str, &n) && !get_str(&p, end, &str, &n) &&
		   !get_u32(&p, end, &nsite) && nsite <= (uint64_t)(end - p);
	for (uint32_t i = 0; ext && i < nsite; i++)
		ext = !get_str(&p, end, &str, &n);
	if (!ext) {
		p = known;
		nsite = 0;
	}
	/* Second pass: copy the strings NUL-terminated into one allocation. */
	size_t total = (size_t)(p - strings) + h->argc + 4 + nsite;
	char *store = malloc(total);
	const char **argv = calloc(h->argc + 1 + nsite + 1, sizeof(*argv));
	if (!store || !argv) {
		free(store);
		free(argv);
		return -ENOMEM;
	}
	s->argv_store = store;
	h->argv = argv;
	const uint8_t *q = strings;
	char *o = store;
#define TAKE(dst)                                                                                  \
	do {                                                                                       \
		get_str(&q, end, &str, &n);                                                        \
		memcpy(o, str, n);                                                                 \
		o[n] = '\0';                                                                       \
		(dst) = o;                                                                         \
		o += n + 1;                                                                        \
	} while (0)
	TAKE(h->python_version);
	get_u(&q, end, &v);
	for (uint32_t i = 0; i < h->argc; i++)
		TAKE(argv[i]);
	get_u(&q, end, &v);
	get_u(&q, end, &v);
	TAKE(h->rss_source);
	get_u(&q, end, &v);
	get_u(&q, end, &v);
	get_u(&q, end, &v);
	if (ext) {
		const char **site = argv + h->argc + 1;
		TAKE(h->cwd);
		TAKE(h->stdlib_dir);
		get_u(&q, end, &v);
		for (uint32_t i = 0; i < nsite; i++)
			TAKE(site[i]);
		h->nsite = nsite;
		h->site_dirs = site;
	}
#undef TAKE
	return 0;
}

/* Decodes a length-prefixed record payload [p, end) with tag t. Returns 1
 * when it produced an item, 0 when not, -errno. */
static int payload(struct pmt_source *s, struct lr *r, unsigned t, const uint8_t *p,
		   const uint8_t *end, struct pmt_item *it)
{
	const char *a, *b;
	size_t an, bn;
	uint32_t id, kind, first, idx;
	uint64_t v;
	switch (t) {
	case PMT_TAG_CODE:
		if (get_u32(&p, end, &id) || get_u32(&p, end, &kind) || get_u32(&p, end, &first) ||
		    get_str(&p, end, &a, &an) || get_str(&p, end, &b, &bn))
			return PMT_E_CORRUPT;
		return pmt_symtab_set_code(&s->syms, id, kind, first, a, an, b, bn);
	case PMT_TAG_THREAD:
		if (get_u32(&p, end, &idx) || get_u(&p, end, &v))
			return PMT_E_CORRUPT;
		a = NULL;
		an = 0;
		if (p < end && get_str(&p, end, &a, &an))
			return PMT_E_CORRUPT;
		r->thread = idx;
		return pmt_symtab_set_thread(&s->syms, idx, v, a, an);
	case PMT_TAG_MESSAGE:
		memset(it, 0, sizeof(*it));
		it->type = PMT_ITEM_MESSAGE;
		it->ev.number = s->events;
		it->ev.thread = r->thread;
		it->ev.time_ns = r->t;
		it->text = (const char *)p;
		it->text_len = (size_t)(end - p);
		return 1;
	case PMT_TAG_SKIP:
		if (get_u(&p, end, &v) || v > (1ull << 62))
			return PMT_E_CORRUPT;
		memset(it, 0, sizeof(*it));
		it->type = PMT_ITEM_SKIP;
		it->ev.number = s->events;
		it->ev.delta = v;
		it->ev.thread = r->thread;
		s->events += v;
		r->pending_skip += v;
		return 1;
	case PMT_TAG_SITE:
		if (get_u32(&p, end, &r->site.thread) || get_u32(&p, end, &r->site.code) ||
		    get_u32(&p, end, &r->site.line) || r->site.code > s->syms.ncodes ||
		    r->site.thread > (1u << 24))
			return PMT_E_CORRUPT;
		if (p < end) {
			/* the tail of a thread no THREAD record announced */
			if (get_u(&p, end, &v) || get_str(&p, end, &a, &an))
				return PMT_E_CORRUPT;
			return pmt_symtab_set_thread(&s->syms, r->site.thread, v, a, an);
		}
		return 0;
	case PMT_TAG_NAME:
		if (get_u32(&p, end, &kind) || get_u32(&p, end, &id) || get_str(&p, end, &a, &an))
			return PMT_E_CORRUPT;
		if (kind != PMT_NAME_TYPE)
			return 0; /* a later version's kind of name */
		return pmt_symtab_set_name(&s->syms, id, a, an);
	case PMT_TAG_TRAILER:
		if (get_u(&p, end, &s->trl.total_events) || get_u(&p, end, &s->trl.end_wall_ns) ||
		    get_u(&p, end, &s->trl.peak_rss) || get_u32(&p, end, &s->trl.flags))
			return PMT_E_CORRUPT;
		s->trl.signal = 0;
		if ((s->trl.flags & PMT_TRL_SIGNAL) && get_u32(&p, end, &s->trl.signal))
			return PMT_E_CORRUPT;
		s->has_trailer = true;
		r->ended = true;
		return 0;
	case PMT_TAG_HEADER:
		return PMT_E_CORRUPT; /* only one, first */
	default:
		if (t >= 0x20 && t < 0x80)
			return 0; /* a later version's record: skippable by design */
		return PMT_E_CORRUPT;
	}
}

/* A varint known to lie within the buffer (at least 10 bytes are there):
 * the hot path of every tool. NULL for a varint longer than 10 bytes. */
static inline const uint8_t *fast_uv(const uint8_t *p, uint64_t *v)
{
	/* one to three bytes, nearly every varint of a log, unrolled */
	uint64_t b0 = p[0];
	if (b0 < 0x80) {
		*v = b0;
		return p + 1;
	}
	uint64_t b1 = p[1];
	if (b1 < 0x80) {
		*v = (b0 & 0x7f) | b1 << 7;
		return p + 2;
	}
	uint64_t b2 = p[2];
	if (b2 < 0x80) {
		*v = (b0 & 0x7f) | (b1 & 0x7f) << 7 | b2 << 14;
		return p + 3;
	}
	uint64_t x = (b0 & 0x7f) | (b1 & 0x7f) << 7 | (b2 & 0x7f) << 14;
	p += 3;
	for (unsigned shift = 21; shift < 70; shift += 7) {
		uint64_t b = *p++;
		if (shift == 63 && b > 1)
			return NULL; /* more than 64 bits, as pmt_varint_get() says */
		x |= (b & 0x7f) << shift;
		if (b < 0x80) {
			*v = x;
			return p;
		}
	}
	return NULL;
}

/* An ALLOC record (tag t, fields at p): 1 with the item filled in, 0 when
 * the input ends inside it, PMT_E_CORRUPT. */
static int alloc_record(struct pmt_source *s, struct lr *r, unsigned t, const uint8_t *p,
			const uint8_t *end, struct pmt_item *it)
{
	unsigned op = t & 15;
	uint64_t domain = 0, da = 0, dold = 0, size = 0, align = 0;
	int e = 0;
	_Static_assert(PMT_ALLOC_PVALLOC + 1 == PMT_ALLOC_PY_MALLOC, "ALLOC ops have no gap");
	if (op > PMT_ALLOC_PY_FREE_NULL)
		return PMT_E_CORRUPT;
	if (op >= PMT_ALLOC_PY_MALLOC)
		e = pmt_varint_get(&p, end, &domain);
	if (!e && !pmt_alloc_op_null_free(op)) {
		e = pmt_varint_get(&p, end, &da);
		if (!e && pmt_alloc_op_reallocs(op))
			e = pmt_varint_get(&p, end, &dold);
		if (!e && !pmt_alloc_op_frees(op))
			e = pmt_varint_get(&p, end, &size);
		if (!e && op >= PMT_ALLOC_POSIX_MEMALIGN && op <= PMT_ALLOC_MEMALIGN)
			e = pmt_varint_get(&p, end, &align);
	}
	if (e == -1)
		return 0;
	if (e ||
	    (op >= PMT_ALLOC_PY_MALLOC && domain != PMT_DOMAIN_MEM && domain != PMT_DOMAIN_OBJ))
		return PMT_E_CORRUPT;
	r->pos = (size_t)(p - r->buf);
	memset(it, 0, sizeof(*it));
	it->type = PMT_ITEM_ALLOC;
	it->ev.number = s->events;
	it->ev.thread = r->site.thread;
	it->ev.time_ns = r->t;
	it->ev.rss = r->rss_pages * (int64_t)r->page_size;
	struct pmt_alloc *a = &it->alloc;
	a->op = (uint8_t)op;
	a->domain = (uint8_t)domain;
	a->site = r->site;
	if (!pmt_alloc_op_null_free(op)) {
		a->addr = r->last_addr + (uint64_t)pmt_unzigzag(da);
		r->last_addr = a->addr;
		if (pmt_alloc_op_reallocs(op))
			a->old_addr = a->addr + (uint64_t)pmt_unzigzag(dold);
	}
	a->size = size;
	a->align = align;
	return 1;
}

/* An OBJECT record (tag t, fields at p): 1 with the item filled in, 0 when
 * the input ends inside it, PMT_E_CORRUPT. */
static int object_record(struct pmt_source *s, struct lr *r, unsigned t, const uint8_t *p,
			 const uint8_t *end, struct pmt_item *it)
{
	unsigned op = t & 15;
	uint64_t type = 0, da = 0, dt = 0, dr = 0;
	if (op > PMT_OBJECT_DEL)
		return PMT_E_CORRUPT;
	int e = pmt_varint_get(&p, end, &type);
	if (!e)
		e = pmt_varint_get(&p, end, &da);
	if (!e)
		e = pmt_varint_get(&p, end, &dt);
	if (!e)
		e = pmt_varint_get(&p, end, &dr);
	if (e == -1)
		return 0;
	if (e || type == 0 || type > UINT32_MAX || !pmt_symtab_name(&s->syms, (uint32_t)type))
		return PMT_E_CORRUPT;
	/* the objects' RSS chain keeps to the events' range (docs/FORMAT.md):
	 * out of it either way, the unsigned sum is above max_pages */
	uint64_t np = (uint64_t)r->obj_rss + (uint64_t)pmt_unzigzag(dr);
	if (np > (uint64_t)r->max_pages)
		return PMT_E_CORRUPT;
	r->pos = (size_t)(p - r->buf);
	r->obj_addr += (uint64_t)pmt_unzigzag(da);
	r->obj_t += dt;
	r->obj_rss = (int64_t)np;
	memset(it, 0, sizeof(*it));
	it->type = PMT_ITEM_OBJECT;
	it->ev.number = s->events;
	it->ev.thread = r->site.thread;
	it->ev.time_ns = r->obj_t;
	it->ev.rss = r->obj_rss * (int64_t)r->page_size;
	struct pmt_object *o = &it->obj;
	o->op = (uint8_t)op;
	o->site = r->site;
	o->addr = r->obj_addr;
	o->type = (uint32_t)type;
	o->time_ns = r->obj_t;
	o->rss = r->obj_rss * (int64_t)r->page_size;
	return 1;
}

/* The item of an event with these values. */
static inline void set_event(struct pmt_item *it, uint64_t number, uint64_t delta, uint64_t t,
			     int64_t drss, int64_t rss, uint64_t code, uint64_t line,
			     uint32_t thread, unsigned tag)
{
	struct pmt_event *ev = &it->ev;
	it->type = PMT_ITEM_EVENT;
	it->text = NULL;
	it->text_len = 0;
	ev->number = number;
	ev->delta = delta;
	ev->time_ns = t;
	ev->drss = drss;
	ev->rss = rss;
	ev->code = (uint32_t)code;
	ev->line = (uint32_t)line;
	ev->thread = thread;
	ev->kind = (uint8_t)(tag & 7);
	ev->flags = 0;
}

/* An event record read up to p: the reader's position, clock and RSS move
 * on, and it becomes the item. */
static inline void event_item(struct pmt_source *s, struct lr *r, struct pmt_item *it,
			      const uint8_t *p, unsigned t, uint64_t code, uint64_t line,
			      uint64_t dt, int64_t dpages)
{
	r->pos = (size_t)(p - r->buf);
	r->t += dt;
	r->rss_pages += dpages;
	set_event(it, s->events++, 1 + r->pending_skip, r->t, dpages * (int64_t)r->page_size,
		  r->rss_pages * (int64_t)r->page_size, code, line, r->thread, t);
	r->pending_skip = 0;
}

/* Room for any event record: easy_run() decodes only with this much. */
#define FAST_ROOM (PMT_VARINT_MAX * 4 + 1)
__attribute__((always_inline)) static inline unsigned easy_run(struct pmt_source *s, struct lr *r,
							       struct pmt_item *items, unsigned k,
							       unsigned n, bool flat);

static int lr_next(struct pmt_source *s, struct pmt_item *it)
{
	struct lr *r = s->state;
	if (r->pending) {
		int e = r->pending;
		r->pending = 0;
		return e;
	}
	if (easy_run(s, r, it, 0, 1, false))
		return 1;
	for (;;) {
		/* Fast path: a whole event record is certainly in the buffer. */
		if (r->len - r->pos < PMT_VARINT_MAX * 4 + 1) {
			int k = need_bytes(s, r, PMT_VARINT_MAX * 4 + 1);
			if (k < 0)
				return k;
			if (r->pos == r->len) {
				if (!r->ended)
					s->truncated = true;
				return 0;
			}
		}
		const uint8_t *p = r->buf + r->pos, *end = r->buf + r->len;
		unsigned t = *p++;
		if (PMT_TAG_IS_EVENT(t)) {
			uint64_t code = 0, line = 0, dt = 0, dr = 0;
			int e;
			if (end - p >= 4 * PMT_VARINT_MAX) {
				/* The whole record is in the buffer: no bounds checks. */
				p = fast_uv(p, &code);
				p = p ? fast_uv(p, &line) : NULL;
				p = p ? fast_uv(p, &dt) : NULL;
				p = p ? fast_uv(p, &dr) : NULL;
				e = p ? 0 : -2;
			} else {
				e = pmt_varint_get(&p, end, &code);
				if (!e)
					e = pmt_varint_get(&p, end, &line);
				if (!e)
					e = pmt_varint_get(&p, end, &dt);
				if (!e)
					e = pmt_varint_get(&p, end, &dr);
			}
			if (e == -1) { /* the input ends inside the record */
				s->truncated = true;
				pmt_backend_detail(s, "record cut at byte %llu",
						   (unsigned long long)(r->byte_off + r->pos));
				r->pos = r->len;
				return 0;
			}
			if (e || code > UINT32_MAX || line > UINT32_MAX)
				goto corrupt;
			/* RSS stays in [0, max_pages]: so |drss| <= max_pages too,
			 * and neither sum nor product can overflow. */
			int64_t dpages = pmt_unzigzag(dr);
			if (dpages < -r->rss_pages || dpages > r->max_pages - r->rss_pages) {
				pmt_backend_detail(s, "RSS out of range at byte %llu, event %llu",
						   (unsigned long long)(r->byte_off + r->pos),
						   (unsigned long long)s->events);
				return PMT_E_CORRUPT;
			}
			if (code > s->syms.ncodes) {
				/* a CODE record comes before the events of its id */
				pmt_backend_detail(s, "event of undefined code %llu at byte %llu",
						   (unsigned long long)code,
						   (unsigned long long)(r->byte_off + r->pos));
				return PMT_E_CORRUPT;
			}
			event_item(s, r, it, p, t, code, line, dt, dpages);
			return 1;
		}
		if (PMT_TAG_IS_ALLOC(t) || PMT_TAG_IS_OBJECT(t)) {
			int k = PMT_TAG_IS_ALLOC(t) ? alloc_record(s, r, t, p, end, it)
						    : object_record(s, r, t, p, end, it);
			if (k < 0)
				goto corrupt;
			if (k == 0) {
				s->truncated = true;
				pmt_backend_detail(s, "record cut at byte %llu",
						   (unsigned long long)(r->byte_off + r->pos));
				r->pos = r->len;
				return 0;
			}
			return 1;
		}
		uint64_t plen;
		int e = pmt_varint_get(&p, end, &plen);
		if (e == -2 || (e == 0 && plen > MAX_RECORD))
			goto corrupt;
		size_t head = (size_t)(p - (r->buf + r->pos));
		if (e == -1 || plen > (uint64_t)(end - p)) {
			int k = need_bytes(s, r, e == -1 ? r->len - r->pos + 16 : head + plen);
			if (k < 0)
				return k;
			if (k == 0) {
				s->truncated = true;
				pmt_backend_detail(s, "record cut at byte %llu",
						   (unsigned long long)(r->byte_off + r->pos));
				r->pos = r->len;
				return 0;
			}
			continue;
		}
		r->pos += head + (size_t)plen;
		int k = payload(s, r, t, p, p + plen, it);
		if (k < 0) {
			if (k == PMT_E_CORRUPT)
				goto corrupt;
			return k;
		}
		if (k > 0)
			return 1;
	}
corrupt:
	pmt_backend_detail(s, "corrupt record at byte %llu, after event %llu",
			   (unsigned long long)(r->byte_off + r->pos),
			   (unsigned long long)s->events);
	return PMT_E_CORRUPT;
}

/* The easy events in a row from the buffer into items[k..n): event
 * records wholly in the buffer (FAST_ROOM bytes there) and valid. With
 * flat, events that leave RSS as it was (s->skip_flat) are checked and
 * counted into the next item's delta instead. Anything else is left to
 * lr_next(), which says what is wrong with it. The reader's state is held
 * in locals, which the stores into items cannot alias, and written back
 * once. The new k. */
__attribute__((always_inline)) static inline unsigned easy_run(struct pmt_source *s, struct lr *r,
							       struct pmt_item *items, unsigned k,
							       unsigned n, bool flat)
{
	if (r->len - r->pos < FAST_ROOM)
		return k;
	/* the last position with FAST_ROOM bytes after it */
	const uint8_t *p = r->buf + r->pos, *last = r->buf + (r->len - FAST_ROOM);
	uint64_t t = r->t, events = s->events, skip = r->pending_skip;
	int64_t pages = r->rss_pages, max_pages = r->max_pages, psize = r->page_size;
	uint64_t ncodes = s->syms.ncodes;
	uint32_t thread = r->thread;
	while (k < n && p <= last) {
		const uint8_t *q = p;
		unsigned tag = *q++;
		uint64_t code, line, dt, dr;
		if (!PMT_TAG_IS_EVENT(tag) || !(q = fast_uv(q, &code)) ||
		    !(q = fast_uv(q, &line)) || !(q = fast_uv(q, &dt)) || !(q = fast_uv(q, &dr)) ||
		    code > ncodes || line > UINT32_MAX)
			break;
		if (flat && dr == 0) {
			p = q;
			t += dt;
			events++;
			skip++;
			continue;
		}
		int64_t dpages = pmt_unzigzag(dr);
		/* 0 <= pages + dpages <= max_pages in one comparison: out of
		 * range either way, the unsigned sum is above max_pages */
		uint64_t np = (uint64_t)pages + (uint64_t)dpages;
		if (np > (uint64_t)max_pages)
			break;
		p = q;
		t += dt;
		pages = (int64_t)np;
		set_event(&items[k++], events++, 1 + skip, t, dpages * psize, pages * psize, code,
			  line, thread, tag);
		skip = 0;
	}
	r->pos = (size_t)(p - r->buf);
	r->t = t;
	r->rss_pages = pages;
	r->pending_skip = skip;
	s->events = events;
	return k;
}

/* The events that are easy (easy_run()) in a row, then one item of
 * lr_next() when the batch has room: anything else, or an event near the
 * buffer's end. */
static int lr_next_batch(struct pmt_source *s, struct pmt_item *items, unsigned n)
{
	struct lr *r = s->state;
	unsigned k = 0;
	if (r->pending)
		return lr_next(s, items); /* the error, before any item after it */
	while (k < n) {
		k = s->skip_flat ? easy_run(s, r, items, k, n, true)
				 : easy_run(s, r, items, k, n, false);
		if (k == n)
			break;
		int e = lr_next(s, &items[k]);
		if (e <= 0) {
			if (k && e < 0)
				r->pending = e;
			return k ? (int)k : e;
		}
		if (items[k++].type != PMT_ITEM_EVENT)
			break;
	}
	return (int)k;
}

static const struct pmt_source_ops lr_ops = {
    .next = lr_next,
    .next_batch = lr_next_batch,
    .free = lr_free,
};

int pmt_backend_pmt_init(struct pmt_source *s)
{
	struct lr *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cap = FIRST_BLOCK;
	r->buf = malloc(r->cap);
	if (!r->buf) {
		free(r);
		return -ENOMEM;
	}
	s->ops = &lr_ops;
	s->state = r;
	int k = need_bytes(s, r, PMT_MAGIC_LEN + 2);
	if (k <= 0 || memcmp(r->buf, PMT_MAGIC, PMT_MAGIC_LEN))
		return k < 0 ? k : PMT_E_TYPE;
	r->pos = PMT_MAGIC_LEN;
	const uint8_t *p;
	uint64_t plen = 0;
	if (r->buf[r->pos] != PMT_TAG_HEADER)
		return PMT_E_CORRUPT;
	k = need_bytes(s, r, 1 + PMT_VARINT_MAX);
	if (k < 0)
		return k;
	p = r->buf + r->pos + 1;
	int e = pmt_varint_get(&p, r->buf + r->len, &plen);
	if (e == -1)
		return PMT_E_TRUNCATED;
	if (e || plen > MAX_RECORD)
		return PMT_E_CORRUPT;
	size_t head = (size_t)(p - (r->buf + r->pos));
	k = need_bytes(s, r, head + plen);
	if (k < 0)
		return k;
	if (k == 0)
		return PMT_E_TRUNCATED;
	p = r->buf + r->pos + head;
	k = parse_header(s, p, p + plen);
	if (k < 0)
		return k;
	r->pos += head + (size_t)plen;
	r->page_size = s->hdr.page_size ? s->hdr.page_size : 4096;
	r->max_pages = (int64_t)(PMT_MAX_RSS_BYTES / r->page_size);
	if (s->hdr.page_size > MAX_PAGE_SIZE || s->hdr.rss_start > (uint64_t)r->max_pages) {
		pmt_backend_detail(
		    s, "header: page size %" PRIu32 " or start RSS %" PRIu64 " pages out of range",
		    s->hdr.page_size, s->hdr.rss_start);
		return PMT_E_CORRUPT;
	}
	r->rss_pages = (int64_t)s->hdr.rss_start;
	r->obj_rss = (int64_t)s->hdr.rss_start;
	return 0;
}
