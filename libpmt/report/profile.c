/* SPDX-License-Identifier: MIT */
/* Shadow stacks, per-function growth and the call tree (see profile.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/hash.h>
#include <libpmt/core/log-format.h>
#include <libpmt/report/heap.h>
#include <libpmt/report/objects.h>
#include <libpmt/report/profile.h>

struct node {
	uint32_t parent;
	uint32_t code;
	int64_t w[PMT_WEIGHT_COUNT]; /* per weight, charged to this path */
};

static int64_t rss_amount(const struct pmt_item *it)
{
	return it->ev.drss > 0 && !(it->ev.flags & PMT_EV_LAST) ? it->ev.drss : 0;
}

static int64_t calls_amount(const struct pmt_item *it)
{
	return it->ev.kind == PMT_CALL || it->ev.kind == PMT_C_CALL;
}

const struct pmt_weight_def pmt_weight_defs[PMT_WEIGHT_COUNT] = {
    [PMT_WEIGHT_RSS] = {"rss", "RSS growth", "positive RSS growth (default)", PMT_UNIT_BYTES,
			PMT_CHARGE_RUNNING, PMT_ITEM_EVENT, rss_amount},
    [PMT_WEIGHT_CALLS] = {"calls", "Calls", "calls made", PMT_UNIT_COUNT, PMT_CHARGE_CALLEE,
			  PMT_ITEM_EVENT, calls_amount},
    /* heap logs: computed by the heap statistics (heap.h), which know when
     * a block is freed, so no amount per item */
    [PMT_WEIGHT_ALLOC] = {"alloc", "Heap bytes allocated", "heap bytes allocated (heap logs)",
			  PMT_UNIT_BYTES, PMT_CHARGE_RUNNING, PMT_ITEM_ALLOC, NULL},
    [PMT_WEIGHT_LIVE] = {"live", "Heap bytes live at the peak",
			 "heap bytes live at the peak (heap logs)", PMT_UNIT_BYTES,
			 PMT_CHARGE_RUNNING, PMT_ITEM_ALLOC, NULL},
    [PMT_WEIGHT_LEAKED] = {"leaked", "Heap bytes leaked", "heap bytes never freed (heap logs)",
			   PMT_UNIT_BYTES, PMT_CHARGE_RUNNING, PMT_ITEM_ALLOC, NULL},
    /* object logs: computed by the object statistics (objects.h) */
    [PMT_WEIGHT_OBJECTS] = {"objects", "Objects created", "objects created (object logs)",
			    PMT_UNIT_COUNT, PMT_CHARGE_RUNNING, PMT_ITEM_OBJECT, NULL},
    [PMT_WEIGHT_LIVE_OBJECTS] = {"live-objects", "Objects alive at the end",
				 "objects still alive at the end (object logs)", PMT_UNIT_COUNT,
				 PMT_CHARGE_RUNNING, PMT_ITEM_OBJECT, NULL},
};

/* The weights the heap statistics compute, and theirs for each. */
#define HEAP_WEIGHTS (1u << PMT_WEIGHT_ALLOC | 1u << PMT_WEIGHT_LIVE | 1u << PMT_WEIGHT_LEAKED)
static const enum pmt_heap_weight heap_weight_of[PMT_WEIGHT_COUNT] = {
    [PMT_WEIGHT_ALLOC] = PMT_HEAP_W_ALLOC,
    [PMT_WEIGHT_LIVE] = PMT_HEAP_W_LIVE,
    [PMT_WEIGHT_LEAKED] = PMT_HEAP_W_LEAKED,
};
/* The same for the object statistics. */
#define OBJ_WEIGHTS (1u << PMT_WEIGHT_OBJECTS | 1u << PMT_WEIGHT_LIVE_OBJECTS)
static const enum pmt_objects_weight obj_weight_of[PMT_WEIGHT_COUNT] = {
    [PMT_WEIGHT_OBJECTS] = PMT_OBJECTS_W_CREATED,
    [PMT_WEIGHT_LIVE_OBJECTS] = PMT_OBJECTS_W_LIVE,
};

int pmt_weight_parse(const char *s)
{
	for (int i = 0; i < PMT_WEIGHT_COUNT; i++)
		if (!strcmp(s, pmt_weight_defs[i].name))
			return i;
	return -1;
}

struct frame {
	uint32_t code;
	uint32_t node;
	int64_t rss; /* at the call */
};

struct thread {
	struct frame *frames;
	uint32_t depth, cap;
};

/* Per-thread state in pages of THREAD_PAGE indexes, made when an event of
 * one comes: a log naming thread 2^24 once costs a page, not 2^24 slots. */
#define THREAD_PAGE 64u
struct thread_page {
	struct thread th[THREAD_PAGE];
	struct pmt_tstat ts[THREAD_PAGE];
};

struct pmt_profile {
	uint32_t page;
	unsigned weights;    /* 1u << enum pmt_weight kept per path; 0: no tree */
	unsigned ev_weights; /* those of them that events carry */
	struct pmt_totals tot;
	bool mixed; /* not pmt_profile_batch_flat() */

	struct pmt_fstat *fs; /* fs[code], code 0 = unknown */
	uint32_t *active;     /* frames of code open on any stack */
	uint32_t ncodes, capcodes;

	struct thread_page **tp; /* tp[idx / THREAD_PAGE], NULL until needed */
	uint32_t nthreads, ntp;	 /* nthreads: highest index + 1 */

	/* call tree: node 0 is the root; child lookup by (parent, code) */
	struct node *nodes;
	uint32_t nnodes, capnodes;
	struct pmt_hash children;	/* (parent, code) -> node index + 1 */
	bool seen[PMT_ITEM_OBJECT + 1]; /* item types seen */

	struct pmt_heap *heap;	  /* made at the first ALLOC item */
	struct pmt_objects *objs; /* made at the first OBJECT item */
};

int pmt_profile_new(uint32_t page, unsigned weights, struct pmt_profile **out)
{
	struct pmt_profile *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->page = page ? page : 4096;
	p->weights = weights & ((1u << PMT_WEIGHT_COUNT) - 1);
	for (unsigned w = 0; w < PMT_WEIGHT_COUNT; w++)
		if ((p->weights & (1u << w)) && pmt_weight_defs[w].source == PMT_ITEM_EVENT)
			p->ev_weights |= 1u << w;
	p->capnodes = 1024;
	p->nodes = calloc(p->capnodes, sizeof(*p->nodes));
	if (!p->nodes) {
		pmt_profile_free(p);
		return -ENOMEM;
	}
	p->nnodes = 1;
	*out = p;
	return 0;
}

void pmt_profile_free(struct pmt_profile *p)
{
	if (!p)
		return;
	for (uint32_t i = 0; i < p->ntp; i++) {
		for (uint32_t j = 0; p->tp[i] && j < THREAD_PAGE; j++)
			free(p->tp[i]->th[j].frames);
		free(p->tp[i]);
	}
	free(p->tp);
	free(p->fs);
	free(p->active);
	free(p->nodes);
	pmt_hash_clear(&p->children);
	pmt_heap_free(p->heap);
	pmt_objects_free(p->objs);
	free(p);
}

/* Room for code's statistics. calloc and copy, not realloc and clear: a
 * large calloc is fresh zero pages, so arrays grown to one high id (2^24 at
 * most) cost the pages used, not their size (profile-code-2e24.bin in the
 * fuzz regression inputs took 1.1 GB). 0 or -ENOMEM. */
static int grow_codes(struct pmt_profile *p, uint32_t code)
{
	uint32_t cap = p->capcodes ? p->capcodes : 1024;
	while (cap <= code)
		cap *= 2;
	struct pmt_fstat *fs = calloc(cap, sizeof(*fs));
	uint32_t *a = calloc(cap, sizeof(*a));
	if (!fs || !a) {
		free(fs);
		free(a);
		return -ENOMEM;
	}
	if (p->capcodes) {
		memcpy(fs, p->fs, (size_t)p->capcodes * sizeof(*fs));
		memcpy(a, p->active, (size_t)p->capcodes * sizeof(*a));
	}
	free(p->fs);
	free(p->active);
	p->fs = fs;
	p->active = a;
	p->capcodes = cap;
	return 0;
}

/* The page of thread t, made if needed. 0 or -errno. */
static int grow_threads(struct pmt_profile *p, uint32_t t)
{
	uint32_t pg = t / THREAD_PAGE;
	if (pg >= p->ntp) {
		uint32_t n = p->ntp ? p->ntp : 1;
		while (n <= pg)
			n *= 2;
		struct thread_page **tp = realloc(p->tp, (size_t)n * sizeof(*tp));
		if (!tp)
			return -ENOMEM;
		memset(tp + p->ntp, 0, (size_t)(n - p->ntp) * sizeof(*tp));
		p->tp = tp;
		p->ntp = n;
	}
	if (!p->tp[pg] && !(p->tp[pg] = calloc(1, sizeof(*p->tp[pg]))))
		return -ENOMEM;
	return 0;
}

static inline struct thread *thread_of(const struct pmt_profile *p, uint32_t t)
{
	return &p->tp[t / THREAD_PAGE]->th[t % THREAD_PAGE];
}

/* Thread t has a page: an event of it came. */
static inline bool thread_known(const struct pmt_profile *p, uint32_t t)
{
	return t < p->nthreads && p->tp[t / THREAD_PAGE];
}

/* The node for code called from parent, made on first sight; -errno. */
static int64_t child(struct pmt_profile *p, uint32_t parent, uint32_t code)
{
	uint32_t v = pmt_hash_get(&p->children, parent, code);
	if (v)
		return v - 1;
	if (p->nnodes == p->capnodes) {
		if (p->capnodes >= (1u << 30))
			return -E2BIG;
		struct node *nodes = realloc(p->nodes, (size_t)p->capnodes * 2 * sizeof(*nodes));
		if (!nodes)
			return -ENOMEM;
		p->nodes = nodes;
		p->capnodes *= 2;
	}
	int r = pmt_hash_put(&p->children, parent, code, p->nnodes + 1);
	if (r < 0)
		return r;
	uint32_t id = p->nnodes++;
	p->nodes[id] = (struct node){.parent = parent, .code = code};
	return id;
}

/* The node of the path that the top n frames of t make (n >= 1). Frames
 * get their node only when something is charged to them, so paths that
 * never weigh anything cost nothing. When the tree is full, the deepest
 * path that exists stands for the rest (counted in cut_paths); paths from
 * the root (one per function) are always made. Node or -errno. */
static int64_t path_node(struct pmt_profile *p, struct thread *t, uint32_t n)
{
	uint32_t i = n;
	while (i && !t->frames[i - 1].node)
		i--;
	uint32_t node = i ? t->frames[i - 1].node : 0;
	for (; i < n; i++) {
		uint32_t v = pmt_hash_get(&p->children, node, t->frames[i].code);
		if (!v && node && p->nnodes >= PMT_PROFILE_MAX_PATHS) {
			p->tot.cut_paths++;
			return node;
		}
		int64_t k = v ? (int64_t)v - 1 : child(p, node, t->frames[i].code);
		if (k < 0)
			return k;
		node = (uint32_t)k;
		t->frames[i].node = node;
	}
	return node;
}

/* The node that the running frame's charges go to (*top_node when it has
 * one already): the top of t's path, or at the log's edges (empty stack)
 * the event's own function at the root. Node or -errno. */
static int64_t running_node(struct pmt_profile *p, struct thread *t, uint32_t code,
			    uint32_t *top_node)
{
	if (*top_node)
		return *top_node;
	int64_t n = t->depth ? path_node(p, t, t->depth) : child(p, 0, code);
	if (n >= 0)
		*top_node = (uint32_t)n;
	return n;
}

static inline void pop(struct pmt_profile *p, struct thread *t, int64_t rss, bool counted)
{
	struct frame *f = &t->frames[--t->depth];
	if (--p->active[f->code] == 0 && counted) {
		p->fs[f->code].incl += rss - f->rss;
		p->fs[f->code].incl_calls++;
	}
}

/* The node a heap or object record at site is charged to, when one of
 * the weights mask is kept per path: the path on top of its thread's
 * stack, or the site's function at the root when the stack is empty. 0
 * when none is kept; node or -errno. */
static int64_t site_node(struct pmt_profile *p, const struct pmt_site *site, unsigned mask)
{
	if (!(p->weights & mask))
		return 0;
	uint32_t th = site->thread;
	if (thread_known(p, th) && thread_of(p, th)->depth)
		return path_node(p, thread_of(p, th), thread_of(p, th)->depth);
	return child(p, 0, site->code);
}

/* The items that are not events: heap and object records, messages. */
static int other_item(struct pmt_profile *p, const struct pmt_item *it)
{
	int64_t n;
	int r;
	if ((unsigned)it->type <= PMT_ITEM_OBJECT)
		p->seen[it->type] = true;
	if (it->type == PMT_ITEM_ALLOC) {
		if (!p->heap && (r = pmt_heap_new(&p->heap)) < 0)
			return r;
		if ((n = site_node(p, &it->alloc.site, HEAP_WEIGHTS)) < 0)
			return (int)n;
		return pmt_heap_item(p->heap, it, (uint32_t)n);
	}
	if (it->type == PMT_ITEM_OBJECT) {
		if (!p->objs && (r = pmt_objects_new(&p->objs)) < 0)
			return r;
		/* a DEL takes the object off the path of its NEW */
		n = it->obj.op == PMT_OBJECT_NEW ? site_node(p, &it->obj.site, OBJ_WEIGHTS) : 0;
		if (n < 0)
			return (int)n;
		return pmt_objects_item(p->objs, it, (uint32_t)n);
	}
	if (it->type == PMT_ITEM_MESSAGE)
		p->tot.messages++;
	return 0;
}

/* The first event: the log's start, and room for its code and thread. */
static void first_event(struct pmt_profile *p, const struct pmt_event *ev)
{
	struct pmt_totals *tot = &p->tot;
	tot->any = true;
	p->seen[PMT_ITEM_EVENT] = true;
	tot->first_ns = ev->time_ns;
	tot->rss_start = ev->rss - ev->drss;
	tot->rss_peak = tot->rss_min = tot->rss_start;
}

/* The weights of event amounts other than RSS growth (calls): charged to
 * the running frame, or kept in callee[] for the frame the call enters. */
static int event_weights(struct pmt_profile *p, struct thread *t, const struct pmt_item *it,
			 uint32_t *top_node, int64_t *callee, bool *any_callee)
{
	memset(callee, 0, PMT_WEIGHT_COUNT * sizeof(*callee));
	for (unsigned w = 0; p->ev_weights >> w; w++) {
		const struct pmt_weight_def *def = &pmt_weight_defs[w];
		if (w == PMT_WEIGHT_RSS || !(p->ev_weights & (1u << w)))
			continue;
		int64_t a = def->amount(it);
		if (!a)
			continue;
		if (def->charge == PMT_CHARGE_CALLEE) {
			callee[w] = a;
			*any_callee = true;
			continue;
		}
		int64_t n = running_node(p, t, it->ev.code, top_node);
		if (n < 0)
			return (int)n;
		p->nodes[n].w[w] += a;
	}
	return 0;
}

/* ΔRSS d (not 0) charged to what ran before the event: the top of t's
 * stack, or the event's own function when the stack is empty. */
static int charge_drss(struct pmt_profile *p, struct thread *t, struct pmt_tstat *ts,
		       const struct pmt_event *ev, uint32_t *top_node)
{
	struct pmt_totals *tot = &p->tot;
	int64_t d = ev->drss;
	if (d > 0) {
		tot->positive += d;
		ts->positive += d;
	} else {
		tot->negative += d;
	}
	if ((d < 0 ? -d : d) >= (int64_t)p->page)
		tot->jumps++;
	ts->growth += d;
	p->fs[t->depth ? t->frames[t->depth - 1].code : ev->code].self += d;
	if (d > 0 && (p->ev_weights & (1u << PMT_WEIGHT_RSS))) {
		int64_t n = running_node(p, t, ev->code, top_node);
		if (n < 0)
			return (int)n;
		p->nodes[n].w[PMT_WEIGHT_RSS] += d;
	}
	return 0;
}

static inline int push(struct pmt_profile *p, struct thread *t, struct pmt_tstat *ts,
		       const struct pmt_event *ev, const int64_t *callee)
{
	if (t->depth == t->cap) {
		uint32_t cap = t->cap ? t->cap * 2 : 64;
		if (cap > (1u << 24))
			return -E2BIG;
		struct frame *f = realloc(t->frames, (size_t)cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		t->frames = f;
		t->cap = cap;
	}
	t->frames[t->depth++] = (struct frame){.code = ev->code, .node = 0, .rss = ev->rss};
	if (callee) {
		int64_t n = path_node(p, t, t->depth);
		if (n < 0)
			return (int)n;
		for (unsigned w = 0; w < PMT_WEIGHT_COUNT; w++)
			p->nodes[n].w[w] += callee[w];
	}
	p->active[ev->code]++;
	p->fs[ev->code].calls++;
	ts->calls++;
	return 0;
}

static void unwind(struct pmt_profile *p, struct thread *t, const struct pmt_event *ev)
{
	uint32_t code = ev->code;
	/* a frame whose return was not logged: unwind down to ours if it is
	 * near the top, else the log began inside this call */
	uint32_t i = t->depth, lim = t->depth > 8 ? t->depth - 8 : 0;
	while (i > lim && t->frames[i - 1].code != code)
		i--;
	if (i > lim) {
		while (t->depth > i)
			pop(p, t, ev->rss, false);
		pop(p, t, ev->rss, true);
	} else {
		p->tot.unmatched_returns++;
	}
}

static inline void ret(struct pmt_profile *p, struct thread *t, const struct pmt_event *ev)
{
	if (t->depth && t->frames[t->depth - 1].code == ev->code)
		pop(p, t, ev->rss, true);
	else
		unwind(p, t, ev);
}

/* Room for the event's code and thread. 0 or -errno. */
static int make_room(struct pmt_profile *p, const struct pmt_event *ev)
{
	int r;
	if (ev->code >= p->capcodes && (r = grow_codes(p, ev->code)) < 0)
		return r;
	if (!thread_known(p, ev->thread) && (r = grow_threads(p, ev->thread)) < 0)
		return r;
	if (ev->thread >= p->nthreads)
		p->nthreads = ev->thread + 1;
	if (ev->code >= p->ncodes)
		p->ncodes = ev->code + 1;
	return 0;
}

/* Most events change nothing but counters and the stack: RSS as it was,
 * no weight but RSS growth kept per path, so that path is kept short. */
__attribute__((always_inline)) static inline int item(struct pmt_profile *p,
						      const struct pmt_item *it)
{
	if (it->type != PMT_ITEM_EVENT) {
		p->mixed = true;
		return other_item(p, it);
	}
	const struct pmt_event *ev = &it->ev;
	struct pmt_totals *tot = &p->tot;
	int r;

	if (!tot->any) {
		p->mixed = true;
		first_event(p, ev);
	}
	tot->last_ns = ev->time_ns;
	tot->rss_end = ev->rss;
	if (ev->rss > tot->rss_peak)
		tot->rss_peak = ev->rss;
	if (ev->rss < tot->rss_min)
		tot->rss_min = ev->rss;
	if (ev->flags) {
		p->mixed = true;
		/* pymemtrace's exit snapshot: an RSS reading, not an event */
		if (ev->flags & PMT_EV_LAST)
			return 0;
	}
	tot->written++;
	tot->kinds[ev->kind & 7]++;
	if (ev->code >= p->ncodes || !thread_known(p, ev->thread)) {
		p->mixed = true;
		if ((r = make_room(p, ev)) < 0)
			return r;
	}
	struct thread_page *tp = p->tp[ev->thread / THREAD_PAGE];
	struct thread *t = &tp->th[ev->thread % THREAD_PAGE];
	struct pmt_tstat *ts = &tp->ts[ev->thread % THREAD_PAGE];
	ts->events++;

	/* found when first needed: path_node() starts from the top's node */
	uint32_t top_node = 0;
	int64_t callee[PMT_WEIGHT_COUNT];
	bool any_callee = false;
	if (ev->drss) {
		p->mixed = true;
		if ((r = charge_drss(p, t, ts, ev, &top_node)) < 0)
			return r;
	}
	if ((p->ev_weights & ~(1u << PMT_WEIGHT_RSS)) &&
	    (r = event_weights(p, t, it, &top_node, callee, &any_callee)) < 0)
		return r;

	switch (ev->kind) {
	case PMT_CALL:
	case PMT_C_CALL:
		return push(p, t, ts, ev, any_callee ? callee : NULL);
	case PMT_RETURN:
	case PMT_C_RETURN:
	case PMT_C_EXCEPTION:
		ret(p, t, ev);
		return 0;
	default:
		return 0;
	}
}

int pmt_profile_item(struct pmt_profile *p, const struct pmt_item *it) { return item(p, it); }

/* item() for a run of the most common items: events that leave RSS as it
 * was, of a code and thread that have room, a call with room on its stack,
 * when no weight but RSS growth is kept per path. The totals and arrays
 * are held in locals, which the stores into the statistics cannot alias,
 * and the totals written back once. The index of the first item left to
 * item(). */
static unsigned flat_run(struct pmt_profile *p, const struct pmt_item *items, unsigned i,
			 unsigned n)
{
	struct pmt_totals *tot = &p->tot;
	if (!tot->any || (p->ev_weights & ~(1u << PMT_WEIGHT_RSS)))
		return i;
	uint64_t last_ns = tot->last_ns, written = tot->written, kinds[8];
	int64_t rss_end = tot->rss_end, peak = tot->rss_peak, min = tot->rss_min;
	memcpy(kinds, tot->kinds, sizeof(kinds));
	struct pmt_fstat *fs = p->fs;
	uint32_t *active = p->active;
	struct thread_page **tpages = p->tp;
	const uint32_t ncodes = p->ncodes, nthreads = p->nthreads;
	uint32_t cur = UINT32_MAX; /* the thread of t and ts */
	struct thread *t = NULL;
	struct pmt_tstat *ts = NULL;
	for (; i < n; i++) {
		const struct pmt_event *ev = &items[i].ev;
		uint32_t code = ev->code, th = ev->thread;
		if (items[i].type != PMT_ITEM_EVENT || ev->drss || ev->flags || code >= ncodes)
			break;
		if (th != cur) {
			if (th >= nthreads || !tpages[th / THREAD_PAGE])
				break;
			t = &tpages[th / THREAD_PAGE]->th[th % THREAD_PAGE];
			ts = &tpages[th / THREAD_PAGE]->ts[th % THREAD_PAGE];
			cur = th;
		}
		int64_t rss = ev->rss;
		switch (ev->kind) {
		case PMT_CALL:
		case PMT_C_CALL:
			if (t->depth == t->cap)
				goto out; /* item() grows the stack */
			t->frames[t->depth++] = (struct frame){.code = code, .node = 0, .rss = rss};
			active[code]++;
			fs[code].calls++;
			ts->calls++;
			break;
		case PMT_RETURN:
		case PMT_C_RETURN:
		case PMT_C_EXCEPTION:
			if (t->depth && t->frames[t->depth - 1].code == code)
				pop(p, t, rss, true);
			else
				unwind(p, t, ev);
			break;
		default:
			break;
		}
		ts->events++;
		last_ns = ev->time_ns;
		rss_end = rss;
		peak = rss > peak ? rss : peak;
		min = rss < min ? rss : min;
		written++;
		kinds[ev->kind & 7]++;
	}
out:
	tot->last_ns = last_ns;
	tot->written = written;
	tot->rss_end = rss_end;
	tot->rss_peak = peak;
	tot->rss_min = min;
	memcpy(tot->kinds, kinds, sizeof(kinds));
	return i;
}

int pmt_profile_items(struct pmt_profile *p, const struct pmt_item *items, unsigned n)
{
	p->mixed = false;
	for (unsigned i = 0; i < n;) {
		if ((i = flat_run(p, items, i, n)) == n)
			break;
		int r = item(p, &items[i++]);
		if (r < 0)
			return r;
	}
	return 0;
}

bool pmt_profile_batch_flat(const struct pmt_profile *p) { return !p->mixed; }

void pmt_profile_finish(struct pmt_profile *p)
{
	p->tot.open_calls = 0;
	for (uint32_t i = 0; i < p->ntp; i++)
		for (uint32_t j = 0; p->tp[i] && j < THREAD_PAGE; j++)
			p->tot.open_calls += p->tp[i]->th[j].depth;
	/* the heap and object weights are known only now: into the paths,
	 * beside the others */
	if (p->heap)
		pmt_heap_finish(p->heap);
	if (p->objs)
		pmt_objects_finish(p->objs);
	for (unsigned w = 0; w < PMT_WEIGHT_COUNT; w++) {
		unsigned bit = p->weights & (1u << w);
		for (uint32_t n = 1; (bit & HEAP_WEIGHTS) && p->heap && n < p->nnodes; n++)
			p->nodes[n].w[w] = pmt_heap_node_weight(p->heap, n, heap_weight_of[w]);
		for (uint32_t n = 1; (bit & OBJ_WEIGHTS) && p->objs && n < p->nnodes; n++)
			p->nodes[n].w[w] = pmt_objects_node_weight(p->objs, n, obj_weight_of[w]);
	}
}

const struct pmt_heap *pmt_profile_heap(const struct pmt_profile *p) { return p->heap; }

const struct pmt_objects *pmt_profile_objects(const struct pmt_profile *p) { return p->objs; }

const struct pmt_totals *pmt_profile_totals(const struct pmt_profile *p) { return &p->tot; }

const struct pmt_fstat *pmt_profile_fstat(const struct pmt_profile *p, uint32_t code)
{
	return code < p->ncodes ? &p->fs[code] : NULL;
}

uint32_t pmt_profile_codes(const struct pmt_profile *p) { return p->ncodes; }

const struct pmt_tstat *pmt_profile_tstat(const struct pmt_profile *p, uint32_t thread)
{
	return thread_known(p, thread) ? &p->tp[thread / THREAD_PAGE]->ts[thread % THREAD_PAGE]
				       : NULL;
}

uint32_t pmt_profile_threads(const struct pmt_profile *p) { return p->nthreads; }

uint32_t pmt_profile_nodes(const struct pmt_profile *p) { return p->nnodes; }

void pmt_profile_node(const struct pmt_profile *p, uint32_t n, uint32_t *parent, uint32_t *code,
		      const int64_t **w)
{
	*parent = p->nodes[n].parent;
	*code = p->nodes[n].code;
	*w = p->nodes[n].w;
}

bool pmt_profile_has_weight(const struct pmt_profile *p, enum pmt_weight w)
{
	return (unsigned)w < PMT_WEIGHT_COUNT && p->seen[pmt_weight_defs[w].source];
}
