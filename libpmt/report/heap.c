/* SPDX-License-Identifier: MIT */
/* The live heap, its peak and per-function and per-path weights (heap.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/hash.h>
#include <libpmt/report/heap.h>

/* A live block. addr 0 marks an empty slot: no call returns block 0. */
struct block {
	uint64_t addr;
	uint64_t size;
	uint32_t code, line;
	uint32_t node;
};

/* Live bytes per key (code or call path) with their values at the peak.
 * Taking a snapshot at every new peak would cost the number of keys each
 * time; only the keys changed since the last one are copied, and each is
 * listed once, so memory stays one entry per key. */
struct track {
	int64_t *live, *at_peak;
	uint8_t *dirty;
	uint32_t *list;
	uint32_t nlist, cap;
};

struct pmt_heap {
	struct pmt_heap_totals tot;

	struct block *map;
	size_t map_cap, map_n; /* cap: a power of two, or 0 */

	struct pmt_heap_fstat *fs;
	uint32_t ncodes, capcodes;
	struct track codes;

	uint64_t *node_alloc;
	uint32_t capnodes;
	struct track nodes;

	struct pmt_heap_site *sites;
	uint32_t nsites;
};

/* ---- tracks ---------------------------------------------------------------- */

static int track_grow(struct track *t, uint32_t cap)
{
	if (cap <= t->cap)
		return 0;
	int64_t *l = realloc(t->live, (size_t)cap * sizeof(*l));
	if (!l)
		return -ENOMEM;
	t->live = l;
	int64_t *p = realloc(t->at_peak, (size_t)cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	t->at_peak = p;
	uint8_t *d = realloc(t->dirty, cap);
	if (!d)
		return -ENOMEM;
	t->dirty = d;
	uint32_t *ls = realloc(t->list, (size_t)cap * sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	t->list = ls;
	size_t n = cap - t->cap;
	memset(l + t->cap, 0, n * sizeof(*l));
	memset(p + t->cap, 0, n * sizeof(*p));
	memset(d + t->cap, 0, n);
	t->cap = cap;
	return 0;
}

static inline void track_add(struct track *t, uint32_t key, int64_t d)
{
	t->live[key] += d;
	if (!t->dirty[key]) {
		t->dirty[key] = 1;
		t->list[t->nlist++] = key;
	}
}

static void track_snapshot(struct track *t)
{
	for (uint32_t i = 0; i < t->nlist; i++) {
		uint32_t k = t->list[i];
		t->at_peak[k] = t->live[k];
		t->dirty[k] = 0;
	}
	t->nlist = 0;
}

static void track_free(struct track *t)
{
	free(t->live);
	free(t->at_peak);
	free(t->dirty);
	free(t->list);
}

static uint32_t next_cap(uint32_t cap, uint32_t need)
{
	cap = cap ? cap : 256;
	while (cap <= need)
		cap *= 2;
	return cap;
}

static int grow_codes(struct pmt_heap *h, uint32_t code)
{
	if (code < h->capcodes)
		return 0;
	if (code >= (1u << 31))
		return -E2BIG;
	uint32_t cap = next_cap(h->capcodes, code);
	struct pmt_heap_fstat *fs = realloc(h->fs, (size_t)cap * sizeof(*fs));
	if (!fs)
		return -ENOMEM;
	memset(fs + h->capcodes, 0, (size_t)(cap - h->capcodes) * sizeof(*fs));
	h->fs = fs;
	h->capcodes = cap;
	return track_grow(&h->codes, cap);
}

static int grow_nodes(struct pmt_heap *h, uint32_t node)
{
	if (node < h->capnodes)
		return 0;
	if (node >= (1u << 31))
		return -E2BIG;
	uint32_t cap = next_cap(h->capnodes, node);
	uint64_t *na = realloc(h->node_alloc, (size_t)cap * sizeof(*na));
	if (!na)
		return -ENOMEM;
	memset(na + h->capnodes, 0, (size_t)(cap - h->capnodes) * sizeof(*na));
	h->node_alloc = na;
	h->capnodes = cap;
	return track_grow(&h->nodes, cap);
}

/* ---- the live-block map: open addressing, linear probing --------------------- */

static inline size_t slot_of(const struct pmt_heap *h, uint64_t addr)
{
	uint64_t x = addr * 0x9E3779B97F4A7C15ull;
	return (size_t)(x ^ (x >> 31)) & (h->map_cap - 1);
}

static int map_grow(struct pmt_heap *h)
{
	size_t cap = h->map_cap ? h->map_cap * 2 : 4096;
	struct block *old = h->map;
	size_t ocap = h->map_cap;
	struct block *m = calloc(cap, sizeof(*m));
	if (!m)
		return -ENOMEM;
	h->map = m;
	h->map_cap = cap;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].addr)
			continue;
		size_t j = slot_of(h, old[i].addr);
		while (m[j].addr)
			j = (j + 1) & (cap - 1);
		m[j] = old[i];
	}
	free(old);
	return 0;
}

/* 0 marks an empty slot: no block has address 0 (a free or realloc of
 * address 0 in a crafted log must not find, and remove, an empty slot). */
static struct block *map_find(struct pmt_heap *h, uint64_t addr)
{
	if (!h->map_cap || !addr)
		return NULL;
	for (size_t i = slot_of(h, addr);; i = (i + 1) & (h->map_cap - 1)) {
		if (h->map[i].addr == addr)
			return &h->map[i];
		if (!h->map[i].addr)
			return NULL;
	}
}

/* Removes the block at b, shifting later entries of its probe run back
 * (no tombstones, so lookups stay short whatever the churn). */
static void map_remove(struct pmt_heap *h, struct block *b)
{
	size_t mask = h->map_cap - 1, i = (size_t)(b - h->map), j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (!h->map[j].addr)
			break;
		size_t k = slot_of(h, h->map[j].addr);
		/* move j back to i unless its home k lies cyclically in (i, j] */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i && k > j))) {
			h->map[i] = h->map[j];
			i = j;
		}
	}
	h->map[i].addr = 0;
	h->map_n--;
}

static int map_insert(struct pmt_heap *h, const struct block *b)
{
	if ((h->map_n + 1) * 4 > h->map_cap * 3) {
		int r = map_grow(h);
		if (r < 0)
			return r;
	}
	size_t i = slot_of(h, b->addr);
	while (h->map[i].addr)
		i = (i + 1) & (h->map_cap - 1);
	h->map[i] = *b;
	h->map_n++;
	return 0;
}

/* ---- records ------------------------------------------------------------------ */

int pmt_heap_new(struct pmt_heap **out)
{
	struct pmt_heap *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	*out = h;
	return 0;
}

void pmt_heap_free(struct pmt_heap *h)
{
	if (!h)
		return;
	free(h->map);
	free(h->fs);
	track_free(&h->codes);
	free(h->node_alloc);
	track_free(&h->nodes);
	free(h->sites);
	free(h);
}

/* A block leaves the heap; running: the function running when it did. */
static void release(struct pmt_heap *h, struct block *b, uint32_t running)
{
	int64_t sz = (int64_t)b->size;
	track_add(&h->codes, b->code, -sz);
	h->fs[b->code].live_blocks--;
	track_add(&h->nodes, b->node, -sz);
	h->fs[running].net -= sz;
	h->tot.live -= sz;
	h->tot.live_blocks--;
	map_remove(h, b);
}

static int acquire(struct pmt_heap *h, const struct pmt_item *it, uint64_t addr, uint64_t size,
		   uint32_t node)
{
	const struct pmt_site *s = &it->alloc.site;
	struct block *dup = map_find(h, addr);
	if (dup) {
		/* handed out again without a free we saw (freed by the tracer
		 * itself, or before a fork): the old block is gone */
		h->tot.unknown_frees++;
		release(h, dup, s->code);
	}
	struct block b = {addr, size, s->code, s->line, node};
	int r = map_insert(h, &b);
	if (r < 0)
		return r;
	int64_t sz = (int64_t)size;
	struct pmt_heap_fstat *f = &h->fs[s->code];
	f->allocs++;
	f->alloc_bytes += size;
	f->net += sz;
	f->live_blocks++;
	track_add(&h->codes, s->code, sz);
	h->node_alloc[node] += size;
	track_add(&h->nodes, node, sz);
	h->tot.live += sz;
	h->tot.live_blocks++;
	h->tot.allocated += size;
	if (h->tot.live > h->tot.peak) {
		h->tot.peak = h->tot.live;
		h->tot.peak_event = it->ev.number;
		h->tot.peak_time_ns = it->ev.time_ns;
		track_snapshot(&h->codes);
		track_snapshot(&h->nodes);
	}
	return 0;
}

int pmt_heap_item(struct pmt_heap *h, const struct pmt_item *it, uint32_t node)
{
	if (it->type != PMT_ITEM_ALLOC)
		return 0;
	const struct pmt_alloc *a = &it->alloc;
	unsigned op = a->op & 15, dom = op >= PMT_ALLOC_PY_MALLOC ? a->domain : 0;
	if (dom > 2)
		dom = 0;
	uint32_t code = a->site.code;
	int r;
	if ((r = grow_codes(h, code)) < 0 || (r = grow_nodes(h, node)) < 0)
		return r;
	if (code >= h->ncodes)
		h->ncodes = code + 1;
	struct pmt_heap_totals *tot = &h->tot;
	struct pmt_heap_call *c = &tot->calls[dom][op];
	tot->any = true;
	tot->records++;
	c->count++;
	if (pmt_alloc_op_null_free(op))
		return 0;
	if (pmt_alloc_op_frees(op)) {
		struct block *b = map_find(h, a->addr);
		if (!b) {
			tot->unknown_frees++;
			return 0;
		}
		c->bytes += b->size;
		release(h, b, code);
		return 0;
	}
	if (pmt_alloc_op_reallocs(op)) {
		if (!a->addr && a->size) {
			tot->failed++; /* the old block is still there */
			return 0;
		}
		if (a->old_addr) {
			struct block *b = map_find(h, a->old_addr);
			if (b)
				release(h, b, code);
			else
				tot->unknown_frees++;
		}
		if (!a->addr)
			return 0;
	} else if (!a->addr) {
		tot->failed++;
		return 0;
	}
	c->bytes += a->size;
	return acquire(h, it, a->addr, a->size, node);
}

static int cmp_sites(const void *x, const void *y)
{
	const struct pmt_heap_site *a = x, *b = y;
	if (a->bytes != b->bytes)
		return a->bytes > b->bytes ? -1 : 1;
	if (a->code != b->code)
		return a->code < b->code ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

int pmt_heap_finish(struct pmt_heap *h)
{
	for (uint32_t c = 0; c < h->ncodes; c++) {
		h->fs[c].live = h->codes.live[c];
		h->fs[c].live_at_peak = h->codes.at_peak[c];
	}
	free(h->sites);
	h->sites = NULL;
	h->nsites = 0;
	struct pmt_hash idx = {0};
	uint32_t cap = 0;
	int r = 0;
	for (size_t i = 0; i < h->map_cap; i++) {
		const struct block *b = &h->map[i];
		if (!b->addr)
			continue;
		uint32_t k = pmt_hash_get(&idx, b->code, b->line);
		if (!k) {
			if (h->nsites == cap) {
				cap = cap ? cap * 2 : 64;
				struct pmt_heap_site *s = realloc(h->sites, cap * sizeof(*s));
				if (!s) {
					r = -ENOMEM;
					goto out;
				}
				h->sites = s;
			}
			h->sites[h->nsites] = (struct pmt_heap_site){b->code, b->line, 0, 0};
			k = ++h->nsites;
			if ((r = pmt_hash_put(&idx, b->code, b->line, k)) < 0)
				goto out;
		}
		h->sites[k - 1].blocks++;
		h->sites[k - 1].bytes += b->size;
	}
	if (h->nsites)
		qsort(h->sites, h->nsites, sizeof(*h->sites), cmp_sites);
out:
	pmt_hash_clear(&idx);
	return r;
}

const struct pmt_heap_totals *pmt_heap_totals(const struct pmt_heap *h) { return &h->tot; }

const struct pmt_heap_fstat *pmt_heap_fstat(const struct pmt_heap *h, uint32_t code)
{
	return code < h->ncodes ? &h->fs[code] : NULL;
}

uint32_t pmt_heap_codes(const struct pmt_heap *h) { return h->ncodes; }

const struct pmt_heap_site *pmt_heap_leaks(const struct pmt_heap *h, uint32_t *n)
{
	*n = h->nsites;
	return h->sites;
}

int64_t pmt_heap_node_weight(const struct pmt_heap *h, uint32_t node, enum pmt_heap_weight w)
{
	if (node >= h->capnodes)
		return 0;
	switch (w) {
	case PMT_HEAP_W_ALLOC:
		return (int64_t)h->node_alloc[node];
	case PMT_HEAP_W_LIVE:
		return h->nodes.at_peak[node];
	case PMT_HEAP_W_LEAKED:
		return h->nodes.live[node];
	}
	return 0;
}
