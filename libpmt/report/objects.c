/* SPDX-License-Identifier: MIT */
/* Object records: counts per type and live objects by creation site. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/hash.h>
#include <libpmt/core/pages.h>
#include <libpmt/report/objects.h>

/* A freed address in the live map (0 would end its probe chains). */
#define NOT_LIVE UINT32_MAX

/* A live object: where it was created. Entries of objects gone are reused,
 * chained from free_obj through site. */
struct live_obj {
	uint32_t site; /* site index; of a free entry: the next free one + 1 */
	uint32_t node; /* call path */
};

struct pmt_objects {
	struct pmt_pages by_id;	    /* struct pmt_obj_type at NAME id - 1 */
	struct pmt_obj_type *types; /* after pmt_objects_finish() */
	uint32_t ntypes;
	struct pmt_obj_site *sites; /* sites[i - 1] */
	uint32_t nsites, capsites;
	struct pmt_hash site_idx; /* (type << 32 | code, line) -> site index */
	struct pmt_hash live;	  /* (address, 0) -> live entry + 1, NOT_LIVE: gone */
	struct live_obj *objs;
	uint32_t nobjs, capobjs, free_obj; /* free_obj: entry + 1, 0: none */
	uint64_t *node_created;		   /* per call path */
	int64_t *node_live;
	uint32_t capnodes;
	uint64_t records;
};

/* Sets (a, b) to val: pmt_hash_put() adds an entry, this replaces it. */
static int hset(struct pmt_hash *t, uint64_t a, uint32_t b, uint32_t val)
{
	if (t->cap) {
		for (size_t i = pmt_hash_index(a, b) & (t->cap - 1); t->s[i].val;
		     i = (i + 1) & (t->cap - 1)) {
			if (t->s[i].a == a && t->s[i].b == b) {
				t->s[i].val = val;
				return 0;
			}
		}
	}
	return pmt_hash_put(t, a, b, val);
}

int pmt_objects_new(struct pmt_objects **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void pmt_objects_free(struct pmt_objects *o)
{
	if (!o)
		return;
	pmt_pages_free(&o->by_id);
	free(o->types);
	free(o->sites);
	pmt_hash_clear(&o->site_idx);
	pmt_hash_clear(&o->live);
	free(o->objs);
	free(o->node_created);
	free(o->node_live);
	free(o);
}

static struct pmt_obj_type *type_of(struct pmt_objects *o, uint32_t id)
{
	if (id == 0 || id > (1u << 24))
		return NULL;
	o->by_id.elem = sizeof(struct pmt_obj_type);
	struct pmt_obj_type *t = pmt_pages_at(&o->by_id, id - 1);
	if (t && !t->type) {
		t->type = id;
		o->ntypes++;
	}
	return t;
}

static int site_of(struct pmt_objects *o, const struct pmt_object *ob, uint32_t *idx)
{
	uint64_t a = (uint64_t)ob->type << 32 | ob->site.code;
	*idx = pmt_hash_get(&o->site_idx, a, ob->site.line);
	if (*idx)
		return 0;
	if (o->nsites == o->capsites) {
		uint32_t cap = o->capsites ? o->capsites * 2 : 256;
		struct pmt_obj_site *s = realloc(o->sites, (size_t)cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		o->sites = s;
		o->capsites = cap;
	}
	o->sites[o->nsites] =
	    (struct pmt_obj_site){.type = ob->type, .code = ob->site.code, .line = ob->site.line};
	*idx = ++o->nsites;
	return pmt_hash_put(&o->site_idx, a, ob->site.line, *idx);
}

/* Room for the weights of call path node. 0 or -errno. */
static int grow_nodes(struct pmt_objects *o, uint32_t node)
{
	if (node < o->capnodes)
		return 0;
	if (node >= (1u << 31))
		return -E2BIG;
	uint32_t cap = o->capnodes ? o->capnodes : 1024;
	while (cap <= node)
		cap *= 2;
	uint64_t *c = realloc(o->node_created, (size_t)cap * sizeof(*c));
	if (!c)
		return -ENOMEM;
	o->node_created = c;
	int64_t *l = realloc(o->node_live, (size_t)cap * sizeof(*l));
	if (!l)
		return -ENOMEM;
	o->node_live = l;
	memset(c + o->capnodes, 0, (size_t)(cap - o->capnodes) * sizeof(*c));
	memset(l + o->capnodes, 0, (size_t)(cap - o->capnodes) * sizeof(*l));
	o->capnodes = cap;
	return 0;
}

/* A live entry for a new object: a free one, or one more. Entry + 1, or
 * 0 when out of memory. */
static uint32_t take_obj(struct pmt_objects *o)
{
	uint32_t e = o->free_obj;
	if (e) {
		o->free_obj = o->objs[e - 1].site;
		return e;
	}
	if (o->nobjs == o->capobjs) {
		if (o->capobjs >= (1u << 30))
			return 0;
		uint32_t cap = o->capobjs ? o->capobjs * 2 : 1024;
		struct live_obj *x = realloc(o->objs, (size_t)cap * sizeof(*x));
		if (!x)
			return 0;
		o->objs = x;
		o->capobjs = cap;
	}
	return ++o->nobjs;
}

/* Object e (entry + 1) is gone: off its site and call path. */
static void drop_obj(struct pmt_objects *o, uint32_t e)
{
	struct live_obj *x = &o->objs[e - 1];
	o->sites[x->site - 1].live--;
	o->node_live[x->node]--;
}

int pmt_objects_item(struct pmt_objects *o, const struct pmt_item *it, uint32_t node)
{
	if (it->type != PMT_ITEM_OBJECT)
		return 0;
	const struct pmt_object *ob = &it->obj;
	struct pmt_obj_type *t = type_of(o, ob->type);
	if (!t)
		return -ENOMEM;
	o->records++;
	uint32_t old = pmt_hash_get(&o->live, ob->addr, 0);
	if (old == NOT_LIVE)
		old = 0;
	if (ob->op != PMT_OBJECT_NEW) {
		t->destroyed++;
		t->live--;
		if (!old)
			return 0;
		drop_obj(o, old);
		o->objs[old - 1].site = o->free_obj;
		o->free_obj = old;
		return hset(&o->live, ob->addr, 0, NOT_LIVE);
	}
	uint32_t s;
	int r;
	if ((r = grow_nodes(o, node)) < 0 || (r = site_of(o, ob, &s)) < 0)
		return r;
	/* a NEW at a live object's address: the old one went without a DEL,
	 * and its entry is the new one's */
	uint32_t e = old ? old : take_obj(o);
	if (!e)
		return -ENOMEM;
	if (old)
		drop_obj(o, old);
	t->created++;
	if (++t->live > t->peak_live)
		t->peak_live = t->live;
	o->objs[e - 1] = (struct live_obj){.site = s, .node = node};
	o->sites[s - 1].live++;
	o->node_created[node]++;
	o->node_live[node]++;
	return old ? 0 : hset(&o->live, ob->addr, 0, e);
}

static int by_created(const void *a, const void *b)
{
	const struct pmt_obj_type *x = a, *y = b;
	if (x->created != y->created)
		return x->created < y->created ? 1 : -1;
	return x->type < y->type ? -1 : x->type > y->type;
}

static int by_live(const void *a, const void *b)
{
	const struct pmt_obj_site *x = a, *y = b;
	if (x->live != y->live)
		return x->live < y->live ? 1 : -1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	if (x->code != y->code)
		return x->code < y->code ? -1 : 1;
	return x->line < y->line ? -1 : x->line > y->line;
}

int pmt_objects_finish(struct pmt_objects *o)
{
	uint32_t n = 0;
	if (o->by_id.npages) {
		/* the types seen, in one array */
		free(o->types);
		if (!(o->types = malloc((size_t)o->ntypes * sizeof(*o->types)))) {
			pmt_pages_free(&o->by_id);
			o->ntypes = 0;
			return -ENOMEM;
		}
		for (uint32_t pg = 0; pg < o->by_id.npages; pg++) {
			const struct pmt_obj_type *t = o->by_id.page[pg];
			for (uint32_t i = 0; t && i < PMT_PAGES_N; i++)
				if (t[i].type)
					o->types[n++] = t[i];
		}
		pmt_pages_free(&o->by_id);
		o->ntypes = n;
		if (n > 1) /* qsort of NULL, 0 is undefined */
			qsort(o->types, n, sizeof(*o->types), by_created);
	}
	n = 0;
	for (uint32_t i = 0; i < o->nsites; i++)
		if (o->sites[i].live > 0)
			o->sites[n++] = o->sites[i];
	o->nsites = n;
	if (n > 1) /* qsort of NULL, 0 is undefined */
		qsort(o->sites, n, sizeof(*o->sites), by_live);
	pmt_hash_clear(&o->site_idx);
	pmt_hash_clear(&o->live);
	free(o->objs);
	o->objs = NULL;
	o->nobjs = o->capobjs = o->free_obj = 0;
	return 0;
}

uint64_t pmt_objects_records(const struct pmt_objects *o) { return o ? o->records : 0; }

const struct pmt_obj_type *pmt_objects_types(const struct pmt_objects *o, uint32_t *n)
{
	*n = o ? o->ntypes : 0;
	return o ? o->types : NULL;
}

const struct pmt_obj_site *pmt_objects_sites(const struct pmt_objects *o, uint32_t *n)
{
	*n = o ? o->nsites : 0;
	return o ? o->sites : NULL;
}

int64_t pmt_objects_node_weight(const struct pmt_objects *o, uint32_t node,
				enum pmt_objects_weight w)
{
	if (!o || node >= o->capnodes)
		return 0;
	return w == PMT_OBJECTS_W_CREATED ? (int64_t)o->node_created[node] : o->node_live[node];
}
