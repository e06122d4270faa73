/* SPDX-License-Identifier: MIT */
/* Object records: counts per type and live objects by creation site. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/hash.h>
#include <libpmt/report/objects.h>

/* A freed address in the live map (0 would end its probe chains). */
#define NOT_LIVE UINT32_MAX

struct pmt_objects {
	struct pmt_obj_type *types; /* by NAME id - 1 */
	uint32_t ntypes, captypes;
	struct pmt_obj_site *sites; /* sites[i - 1] */
	uint32_t nsites, capsites;
	struct pmt_hash site_idx; /* (type << 32 | code, line) -> site index */
	struct pmt_hash live;	  /* (address, 0) -> site index, 0: not live */
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
	free(o->types);
	free(o->sites);
	pmt_hash_clear(&o->site_idx);
	pmt_hash_clear(&o->live);
	free(o);
}

static struct pmt_obj_type *type_of(struct pmt_objects *o, uint32_t id)
{
	if (id == 0 || id > (1u << 24))
		return NULL;
	if (id > o->captypes) {
		uint32_t cap = o->captypes ? o->captypes : 64;
		while (cap < id)
			cap *= 2;
		struct pmt_obj_type *t = realloc(o->types, (size_t)cap * sizeof(*t));
		if (!t)
			return NULL;
		memset(t + o->captypes, 0, (size_t)(cap - o->captypes) * sizeof(*t));
		o->types = t;
		o->captypes = cap;
	}
	if (id > o->ntypes)
		o->ntypes = id;
	o->types[id - 1].type = id;
	return &o->types[id - 1];
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

int pmt_objects_item(struct pmt_objects *o, const struct pmt_item *it)
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
	if (old)
		o->sites[old - 1].live--; /* gone: by its DEL, or without one */
	if (ob->op == PMT_OBJECT_NEW) {
		t->created++;
		if (++t->live > t->peak_live)
			t->peak_live = t->live;
		uint32_t s;
		int r = site_of(o, ob, &s);
		if (r < 0)
			return r;
		o->sites[s - 1].live++;
		return hset(&o->live, ob->addr, 0, s);
	}
	t->destroyed++;
	t->live--;
	return old ? hset(&o->live, ob->addr, 0, NOT_LIVE) : 0;
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
	for (uint32_t i = 0; i < o->ntypes; i++)
		if (o->types[i].type)
			o->types[n++] = o->types[i];
	o->ntypes = n;
	if (n > 1) /* qsort of NULL, 0 is undefined */
		qsort(o->types, n, sizeof(*o->types), by_created);
	n = 0;
	for (uint32_t i = 0; i < o->nsites; i++)
		if (o->sites[i].live > 0)
			o->sites[n++] = o->sites[i];
	o->nsites = n;
	if (n > 1) /* qsort of NULL, 0 is undefined */
		qsort(o->sites, n, sizeof(*o->sites), by_live);
	pmt_hash_clear(&o->site_idx);
	pmt_hash_clear(&o->live);
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
