/* SPDX-License-Identifier: MIT */
/* RSS over time, its largest jumps and the messages (see timeline.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/report/timeline.h>

struct bucket {
	struct pmt_tl_point min, max;
};

struct heap {
	struct pmt_tl_jump *v;
	unsigned n, cap;
	int sign; /* +1 rises, -1 falls: the key is sign * drss */
};

struct pmt_timeline {
	struct bucket *b;
	unsigned nb, cap;
	uint64_t per, in_cur, events;
	struct pmt_tl_point *pts;
	size_t npts;
	struct heap rises, falls;
	struct pmt_event last; /* the previous event, for each jump */
	bool have_last, last_in_curve;
	struct pmt_tl_message *msg;
	unsigned nmsg, capmsg, pending; /* pending: messages still without x */
	uint64_t msg_seen;
	uint32_t threads;
	bool (*skip)(void *ctx, uint32_t code);
	void *skip_ctx;
};

void pmt_timeline_skip(struct pmt_timeline *t, bool (*skip)(void *ctx, uint32_t code), void *ctx)
{
	t->skip = skip;
	t->skip_ctx = ctx;
}

int pmt_timeline_new(uint64_t max_points, unsigned top, unsigned max_messages,
		     struct pmt_timeline **out)
{
	struct pmt_timeline *t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->cap = (unsigned)(max_points / 2 > 1
				? (max_points / 2 > (1u << 24) ? 1u << 24 : max_points / 2)
				: 1);
	t->per = 1;
	t->b = calloc(t->cap, sizeof(*t->b));
	t->rises = (struct heap){calloc(top ? top : 1, sizeof(struct pmt_tl_jump)), 0, top, 1};
	t->falls = (struct heap){calloc(top ? top : 1, sizeof(struct pmt_tl_jump)), 0, top, -1};
	t->capmsg = max_messages;
	t->msg = calloc(max_messages ? max_messages : 1, sizeof(*t->msg));
	if (!t->b || !t->rises.v || !t->falls.v || !t->msg) {
		pmt_timeline_free(t);
		return -ENOMEM;
	}
	*out = t;
	return 0;
}

void pmt_timeline_free(struct pmt_timeline *t)
{
	if (!t)
		return;
	for (unsigned i = 0; i < t->nmsg; i++)
		free(t->msg[i].text);
	free(t->msg);
	free(t->b);
	free(t->pts);
	free(t->rises.v);
	free(t->falls.v);
	free(t);
}

static int64_t key(const struct heap *h, const struct pmt_tl_jump *j)
{
	return h->sign * j->ev.drss;
}

static void swap(struct pmt_tl_jump *a, struct pmt_tl_jump *b)
{
	struct pmt_tl_jump t = *a;
	*a = *b;
	*b = t;
}

/* A min-heap on the key holds the largest jumps seen. */
static void heap_push(struct heap *h, const struct pmt_tl_jump *j)
{
	if (!h->cap || key(h, j) <= 0)
		return;
	if (h->n < h->cap) {
		unsigned i = h->n++;
		h->v[i] = *j;
		while (i && key(h, &h->v[(i - 1) / 2]) > key(h, &h->v[i])) {
			swap(&h->v[i], &h->v[(i - 1) / 2]);
			i = (i - 1) / 2;
		}
		return;
	}
	if (key(h, j) <= key(h, &h->v[0]))
		return;
	h->v[0] = *j;
	for (unsigned i = 0;;) {
		unsigned a = 2 * i + 1, b = a + 1, m = i;
		if (a < h->n && key(h, &h->v[a]) < key(h, &h->v[m]))
			m = a;
		if (b < h->n && key(h, &h->v[b]) < key(h, &h->v[m]))
			m = b;
		if (m == i)
			break;
		swap(&h->v[i], &h->v[m]);
		i = m;
	}
}

static void add_point(struct pmt_timeline *t, const struct pmt_tl_point *p)
{
	if (t->in_cur == 0) {
		if (t->nb == t->cap) {
			/* full: halve the resolution, merging neighbours */
			unsigned nb = t->nb;
			for (unsigned i = 0; i < nb / 2; i++) {
				struct bucket m = t->b[2 * i];
				const struct bucket *c = &t->b[2 * i + 1];
				if (c->min.rss < m.min.rss)
					m.min = c->min;
				if (c->max.rss > m.max.rss)
					m.max = c->max;
				t->b[i] = m;
			}
			if (nb % 2)
				t->b[nb / 2] = t->b[nb - 1];
			t->nb = nb / 2 + nb % 2;
			t->per *= 2;
		}
		t->b[t->nb].min = t->b[t->nb].max = *p;
		t->nb++;
	} else {
		struct bucket *c = &t->b[t->nb - 1];
		if (p->rss < c->min.rss)
			c->min = *p;
		if (p->rss > c->max.rss)
			c->max = *p;
	}
	if (++t->in_cur >= t->per)
		t->in_cur = 0;
}

static struct pmt_tl_event tl_event(const struct pmt_event *ev)
{
	return (struct pmt_tl_event){
	    .number = ev->number,
	    .x = (double)ev->time_ns * 1e-9,
	    .rss = ev->rss,
	    .drss = ev->drss,
	    .code = ev->code,
	    .line = ev->line,
	    .thread = ev->thread,
	    .kind = ev->kind,
	    .valid = true,
	};
}

/* Everything but the common case, out of line so that case stays cheap. */
__attribute__((noinline)) static int item_slow(struct pmt_timeline *t, const struct pmt_item *it)
{
	if (it->type == PMT_ITEM_MESSAGE) {
		t->msg_seen++;
		if (t->nmsg == t->capmsg)
			return 0;
		struct pmt_tl_message *m = &t->msg[t->nmsg];
		m->text = strndup(it->text ? it->text : "", it->text ? it->text_len : 0);
		if (!m->text)
			return -ENOMEM;
		m->number = it->ev.number;
		m->thread = it->ev.thread;
		m->x = t->have_last ? (double)t->last.time_ns * 1e-9 : 0;
		t->nmsg++;
		t->pending++;
		return 0;
	}
	if (it->type != PMT_ITEM_EVENT)
		return 0;
	const struct pmt_event *ev = &it->ev;
	if (ev->thread >= t->threads)
		t->threads = ev->thread + 1;
	bool in_curve = !(ev->flags & PMT_EV_PREV);
	struct pmt_tl_event e = tl_event(ev);
	/* a message sits before the next event: it happened at its time */
	for (; t->pending; t->pending--)
		t->msg[t->nmsg - t->pending].x = e.x;
	/* events kept only as the true previous of another are context */
	if (in_curve) {
		struct pmt_tl_point p = {e.x, e.rss, e.thread};
		add_point(t, &p);
		t->events++;
		/* pymemtrace's FRST line and its first event carry the absolute
		 * RSS as dRSS, its LAST line is a snapshot: none is a jump */
		if (!(ev->flags & (PMT_EV_FIRST | PMT_EV_LAST)) && ev->drss != ev->rss &&
		    ev->drss && !(t->skip && t->skip(t->skip_ctx, ev->code))) {
			struct pmt_tl_jump j = {.ev = e};
			if (t->have_last && t->last.number + 1 == e.number)
				j.prev = tl_event(&t->last);
			heap_push(ev->drss > 0 ? &t->rises : &t->falls, &j);
		}
	}
	t->last = *ev;
	t->have_last = true;
	t->last_in_curve = in_curve;
	return 0;
}

/* Most events leave RSS where the previous one, in this bucket, had it:
 * nothing to do but count (and remember the event, which the caller does). */
static inline bool item_fast(struct pmt_timeline *t, const struct pmt_item *it)
{
	const struct pmt_event *ev = &it->ev;
	if (it->type != PMT_ITEM_EVENT || ev->drss || (ev->flags & PMT_EV_PREV) || !t->in_cur ||
	    !t->last_in_curve || t->pending || ev->thread >= t->threads)
		return false;
	t->events++;
	if (++t->in_cur >= t->per)
		t->in_cur = 0;
	return true;
}

int pmt_timeline_item(struct pmt_timeline *t, const struct pmt_item *it)
{
	if (item_fast(t, it)) {
		t->last = it->ev;
		return 0;
	}
	return item_slow(t, it);
}

int pmt_timeline_items(struct pmt_timeline *t, const struct pmt_item *items, unsigned n)
{
	/* item_fast() with the timeline's state in locals, written back (and
	 * the previous event copied) only when item_slow() needs them */
	const struct pmt_event *last = NULL;
	uint64_t in_cur = t->in_cur, counted = 0, per = t->per;
	uint32_t threads = t->last_in_curve && !t->pending ? t->threads : 0;
	for (unsigned i = 0; i < n; i++) {
		const struct pmt_item *it = &items[i];
		if (it->type == PMT_ITEM_EVENT && !it->ev.drss && !(it->ev.flags & PMT_EV_PREV) &&
		    in_cur && it->ev.thread < threads) {
			counted++;
			if (++in_cur >= per)
				in_cur = 0;
			last = &it->ev;
			continue;
		}
		t->in_cur = in_cur;
		t->events += counted;
		counted = 0;
		if (last) {
			t->last = *last;
			last = NULL;
		}
		int r = item_slow(t, it);
		if (r < 0)
			return r;
		in_cur = t->in_cur;
		per = t->per;
		threads = t->last_in_curve && !t->pending ? t->threads : 0;
	}
	t->in_cur = in_cur;
	t->events += counted;
	if (last)
		t->last = *last;
	return 0;
}

int pmt_timeline_flat_items(struct pmt_timeline *t, const struct pmt_item *items, unsigned n)
{
	/* what n turns of pmt_timeline_items()' common case come to */
	if (n && t->in_cur && t->last_in_curve && !t->pending && t->in_cur + n < t->per) {
		t->in_cur += n;
		t->events += n;
		t->last = items[n - 1].ev;
		return 0;
	}
	return pmt_timeline_items(t, items, n);
}

static int cmp_jump(const void *a, const void *b)
{
	const struct pmt_tl_jump *x = a, *y = b;
	int64_t kx = x->ev.drss < 0 ? -x->ev.drss : x->ev.drss;
	int64_t ky = y->ev.drss < 0 ? -y->ev.drss : y->ev.drss;
	if (kx != ky)
		return kx > ky ? -1 : 1;
	return x->ev.number < y->ev.number ? -1 : x->ev.number > y->ev.number;
}

void pmt_timeline_finish(struct pmt_timeline *t)
{
	if (t->rises.n > 1) /* qsort of NULL, 0 is undefined */
		qsort(t->rises.v, t->rises.n, sizeof(*t->rises.v), cmp_jump);
	if (t->falls.n > 1) /* qsort of NULL, 0 is undefined */
		qsort(t->falls.v, t->falls.n, sizeof(*t->falls.v), cmp_jump);
	free(t->pts);
	t->npts = 0;
	t->pts = malloc(((size_t)t->nb * 2 + 1) * sizeof(*t->pts));
	if (!t->pts)
		return;
	for (unsigned i = 0; i < t->nb; i++) {
		const struct bucket *b = &t->b[i];
		const struct pmt_tl_point *a = &b->min, *c = &b->max;
		if (a->x > c->x) {
			a = &b->max;
			c = &b->min;
		}
		t->pts[t->npts++] = *a;
		if (c->x != a->x || c->rss != a->rss)
			t->pts[t->npts++] = *c;
	}
}

uint64_t pmt_timeline_events(const struct pmt_timeline *t) { return t->events; }

size_t pmt_timeline_points(const struct pmt_timeline *t, const struct pmt_tl_point **pts)
{
	*pts = t->pts;
	return t->pts ? t->npts : 0;
}

unsigned pmt_timeline_rises(const struct pmt_timeline *t, const struct pmt_tl_jump **j)
{
	*j = t->rises.v;
	return t->rises.n;
}

unsigned pmt_timeline_falls(const struct pmt_timeline *t, const struct pmt_tl_jump **j)
{
	*j = t->falls.v;
	return t->falls.n;
}

unsigned pmt_timeline_messages(const struct pmt_timeline *t, const struct pmt_tl_message **m)
{
	*m = t->msg;
	return t->nmsg;
}

uint64_t pmt_timeline_messages_seen(const struct pmt_timeline *t) { return t->msg_seen; }

void pmt_timeline_range(const struct pmt_timeline *t, double *x0, double *x1, int64_t *lo,
			int64_t *hi)
{
	*x0 = *x1 = 0;
	*lo = *hi = 0;
	for (size_t i = 0; t->pts && i < t->npts; i++) {
		const struct pmt_tl_point *p = &t->pts[i];
		if (!i || p->x < *x0)
			*x0 = p->x;
		if (!i || p->x > *x1)
			*x1 = p->x;
		if (!i || p->rss < *lo)
			*lo = p->rss;
		if (!i || p->rss > *hi)
			*hi = p->rss;
	}
}

uint32_t pmt_timeline_threads(const struct pmt_timeline *t) { return t->threads; }

void pmt_timeline_spread(double *pos, unsigned n, double gap, double lo, double hi)
{
	if (!n)
		return;
	if (n > 1 && gap * (n - 1) > hi - lo)
		gap = (hi - lo) / (n - 1);
	/* left to right: push each past its left neighbour, then from the
	 * right end back, so the last ones fit too */
	for (unsigned i = 0; i < n; i++) {
		if (pos[i] < lo)
			pos[i] = lo;
		if (i && pos[i] < pos[i - 1] + gap)
			pos[i] = pos[i - 1] + gap;
	}
	if (pos[n - 1] > hi)
		pos[n - 1] = hi;
	for (unsigned i = n - 1; i-- > 0;)
		if (pos[i] > pos[i + 1] - gap)
			pos[i] = pos[i + 1] - gap;
}
