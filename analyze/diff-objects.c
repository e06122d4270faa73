/* SPDX-License-Identifier: MIT */
/* pmt-diff on two object logs (--objects, pymemtrace ReferenceTracing):
 * objects created, destroyed and alive at the end overall, per type and per
 * creation site (type, function, file, line). Types and sites are matched
 * by name, since NAME and CODE ids differ between logs.
 *
 * Two counts of objects alive at the end: live_end, created minus
 * destroyed (what live_object_counts() says; negative when objects made
 * before the log began were destroyed in it), and live, the objects created
 * in the log and still alive at its end, by creation site (the leak
 * report's count, never negative). The gate and the order (largest
 * increase first) use live. Memory: one row per type and site of a run. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/log-format.h>
#include <libpmt/report/objects.h>

#include "diff.h"

/* A type (func and file "", line 0), or a creation site, of either run. */
struct orow {
	const char *type, *func, *file;
	size_t type_len, func_len, file_len;
	uint32_t line;
	uint64_t created[2], destroyed[2];
	int64_t live_end[2]; /* types */
	int64_t live[2];
};

struct otab {
	struct orow *v;
	size_t n, cap;
	uint32_t *slots; /* index + 1 */
	size_t nslots;
};

static uint64_t mix(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return (h ^ 0xff) * 0x100000001b3ull;
}

static uint64_t okey(const struct orow *k)
{
	uint64_t h = mix(0xcbf29ce484222325ull, k->type, k->type_len);
	h = mix(mix(h, k->func, k->func_len), k->file, k->file_len);
	return (h ^ k->line) * 0x100000001b3ull;
}

static bool same(const struct orow *a, const struct orow *b)
{
	return a->line == b->line && a->type_len == b->type_len && a->func_len == b->func_len &&
	       a->file_len == b->file_len && !memcmp(a->type, b->type, a->type_len) &&
	       !memcmp(a->func, b->func, a->func_len) && !memcmp(a->file, b->file, a->file_len);
}

static int rehash(struct otab *t)
{
	if ((t->n + 1) * 2 <= t->nslots)
		return 0;
	size_t ns = t->nslots ? t->nslots * 2 : 256;
	uint32_t *slots = calloc(ns, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->n; i++) {
		size_t j = okey(&t->v[i]) & (ns - 1);
		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(t->slots);
	t->slots = slots;
	t->nslots = ns;
	return 0;
}

/* The row of key k, added with k's (zero) counts when new; NULL when out
 * of memory. */
static struct orow *otab_get(struct otab *t, const struct orow *k)
{
	if (rehash(t) < 0)
		return NULL;
	size_t j = okey(k) & (t->nslots - 1);
	for (; t->slots[j]; j = (j + 1) & (t->nslots - 1))
		if (same(&t->v[t->slots[j] - 1], k))
			return &t->v[t->slots[j] - 1];
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 128;
		struct orow *v = realloc(t->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		t->v = v;
		t->cap = cap;
	}
	t->v[t->n] = *k;
	t->slots[j] = (uint32_t)++t->n;
	return &t->v[t->n - 1];
}

static struct orow key(const struct pmt_source *src, uint32_t type)
{
	const char *name = pmt_source_name(src, type);
	struct orow k = {.type = name ? name : "?", .func = "", .file = ""};
	k.type_len = strlen(k.type);
	return k;
}

static int fill(struct otab *types, struct otab *sites, const struct run *x, unsigned side)
{
	const struct pmt_objects *ob = pmt_profile_objects(x->prof);
	uint32_t n;
	const struct pmt_obj_type *ty = pmt_objects_types(ob, &n);
	for (uint32_t i = 0; i < n; i++) {
		struct orow k = key(x->src, ty[i].type), *r = otab_get(types, &k);
		if (!r)
			return -ENOMEM;
		r->created[side] += ty[i].created;
		r->destroyed[side] += ty[i].destroyed;
		r->live_end[side] += ty[i].live;
	}
	const struct pmt_obj_site *si = pmt_objects_sites(ob, &n);
	for (uint32_t i = 0; i < n; i++) {
		struct orow k = key(x->src, si[i].type), *r = otab_get(types, &k);
		if (!r)
			return -ENOMEM;
		r->live[side] += si[i].live;
		const struct pmt_code *c = si[i].code ? pmt_source_code(x->src, si[i].code) : NULL;
		k.func = c ? c->name : "<no Python code>";
		k.func_len = c ? c->name_len : strlen(k.func);
		k.file = c ? c->file : "";
		k.file_len = c ? c->file_len : 0;
		k.line = si[i].line;
		if (!(r = otab_get(sites, &k)))
			return -ENOMEM;
		r->live[side] += si[i].live;
	}
	return 0;
}

static int64_t change(const struct orow *r) { return r->live[1] - r->live[0]; }

static int64_t end_change(const struct orow *r) { return r->live_end[1] - r->live_end[0]; }

static int64_t made(const struct orow *r)
{
	int64_t d = (int64_t)r->created[1] - (int64_t)r->created[0];
	return d < 0 ? -d : d;
}

static int strn_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);
	return c ? c : (an > bn) - (an < bn);
}

static int by_change(const void *a, const void *b)
{
	const struct orow *x = a, *y = b;
	if (change(x) != change(y))
		return change(x) > change(y) ? -1 : 1;
	if (end_change(x) != end_change(y))
		return end_change(x) > end_change(y) ? -1 : 1;
	if (made(x) != made(y))
		return made(x) > made(y) ? -1 : 1;
	int c = strn_cmp(x->type, x->type_len, y->type, y->type_len);
	if (!c)
		c = strn_cmp(x->func, x->func_len, y->func, y->func_len);
	if (!c)
		c = strn_cmp(x->file, x->file_len, y->file, y->file_len);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

static int print(struct pmt_table *t, const char *key, const struct diff_opts *o)
{
	if (o->format == PMT_FMT_JSON)
		printf(",\n\"%s\": ", key);
	else
		putchar('\n');
	int r = pmt_table_print(t, o->format | (o->bytes ? PMT_FMT_EXACT : 0), stdout);
	pmt_table_free(t);
	return r;
}

static int overall(const struct run *runs, const struct otab *types, const struct diff_opts *o)
{
	int64_t s[4][2] = {{0}};
	for (size_t i = 0; i < types->n; i++)
		for (unsigned side = 0; side < 2; side++) {
			s[0][side] += (int64_t)types->v[i].created[side];
			s[1][side] += (int64_t)types->v[i].destroyed[side];
			s[2][side] += types->v[i].live_end[side];
			s[3][side] += types->v[i].live[side];
		}
	struct pmt_table *t;
	int r = pmt_table_new("Objects", &t);
	if (r < 0)
		return r;
	pmt_table_column(t, "metric", PMT_ALIGN_LEFT);
	static const char *const cols[] = {"old", "new", "change", "ratio"};
	for (unsigned i = 0; i < 4; i++)
		pmt_table_column(t, cols[i], PMT_ALIGN_RIGHT);
	pmt_table_diff_row(t, "object_records",
			   (int64_t)pmt_objects_records(pmt_profile_objects(runs[0].prof)),
			   (int64_t)pmt_objects_records(pmt_profile_objects(runs[1].prof)), false);
	pmt_table_diff_row(t, "created", s[0][0], s[0][1], false);
	pmt_table_diff_row(t, "destroyed", s[1][0], s[1][1], false);
	pmt_table_diff_row(t, "live_end", s[2][0], s[2][1], false);
	pmt_table_diff_row(t, "live", s[3][0], s[3][1], false);
	return print(t, "objects", o);
}

static int types_table(struct otab *types, const struct diff_opts *o)
{
	struct pmt_table *t;
	int r = pmt_table_new("Types by change in objects alive at the end (new minus old)", &t);
	if (r < 0)
		return r;
	static const char *const cols[] = {"type",	   "created_old",  "created_new",
					   "live_old",	   "live_new",	   "live_change",
					   "live_end_old", "live_end_new", "live_end_change"};
	for (unsigned i = 0; i < 9; i++)
		pmt_table_column(t, cols[i], i ? PMT_ALIGN_RIGHT : PMT_ALIGN_LEFT);
	for (size_t i = 0; i < types->n && (!o->top || i < o->top); i++) {
		const struct orow *x = &types->v[i];
		pmt_table_strn(t, x->type, x->type_len);
		pmt_table_int(t, (int64_t)x->created[0]);
		pmt_table_int(t, (int64_t)x->created[1]);
		pmt_table_int(t, x->live[0]);
		pmt_table_int(t, x->live[1]);
		pmt_table_int(t, change(x));
		pmt_table_int(t, x->live_end[0]);
		pmt_table_int(t, x->live_end[1]);
		pmt_table_int(t, end_change(x));
	}
	return print(t, "object_types", o);
}

static int sites_table(struct otab *sites, const struct diff_opts *o, struct pmt_names *names)
{
	struct pmt_table *t;
	int r = pmt_table_new("Creation sites by change in objects alive at the end "
			      "(new minus old)",
			      &t);
	if (r < 0)
		return r;
	static const char *const cols[] = {"type",     "function", "file",	 "line",
					   "live_old", "live_new", "live_change"};
	for (unsigned i = 0; i < 7; i++)
		pmt_table_column(t, cols[i], i < 3 ? PMT_ALIGN_LEFT : PMT_ALIGN_RIGHT);
	for (size_t i = 0; i < sites->n && (!o->top || i < o->top); i++) {
		const struct orow *x = &sites->v[i];
		size_t flen = 0;
		const char *file =
		    x->file_len ? pmt_names_file(names, x->file, x->file_len, &flen, NULL) : "";
		pmt_table_strn(t, x->type, x->type_len);
		pmt_table_strn(t, x->func, x->func_len);
		pmt_table_strn(t, file, flen);
		pmt_table_int(t, x->line);
		pmt_table_int(t, x->live[0]);
		pmt_table_int(t, x->live[1]);
		pmt_table_int(t, change(x));
	}
	return print(t, "object_sites", o);
}

static void judge(const struct otab *types, const struct diff_opts *o, struct obj_gate *gate)
{
	*gate = (struct obj_gate){0};
	for (size_t i = 0; o->has_obj_threshold && i < types->n; i++) {
		const struct orow *x = &types->v[i];
		if (change(x) <= o->obj_threshold)
			continue;
		if (!gate->types++) { /* sorted: the first is the largest */
			snprintf(gate->worst, sizeof(gate->worst), "%.*s", (int)x->type_len,
				 x->type);
			gate->growth = change(x);
		}
	}
}

bool diff_object_log(const struct run *x)
{
	return pmt_profile_objects(x->prof) || (pmt_source_header(x->src)->flags & PMT_HDR_OBJECTS);
}

int diff_objects(const struct run *runs, const struct diff_opts *o, struct pmt_names *names,
		 struct obj_gate *gate)
{
	struct otab types = {0}, sites = {0};
	int r = 0;
	for (unsigned side = 0; side < 2 && r >= 0; side++)
		r = fill(&types, &sites, &runs[side], side);
	if (r < 0)
		goto out;
	if (types.n > 1) /* qsort of NULL, 0 is undefined */
		qsort(types.v, types.n, sizeof(*types.v), by_change);
	if (sites.n > 1)
		qsort(sites.v, sites.n, sizeof(*sites.v), by_change);
	judge(&types, o, gate);
	if ((r = overall(runs, &types, o)) >= 0 && (r = types_table(&types, o)) >= 0)
		r = sites_table(&sites, o, names);
out:
	free(types.v);
	free(types.slots);
	free(sites.v);
	free(sites.slots);
	return r;
}
