/* SPDX-License-Identifier: MIT */
/* Flame graph stacks merged by frame names (see flame.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/hash.h>
#include <libpmt/core/log-format.h>
#include <libpmt/report/flame.h>

/* An interned frame: name and file at offsets into the string arena. */
struct frame {
	size_t name, name_len, file, file_len;
	uint32_t line;
	uint8_t kind, cls;
};

struct pmt_flame {
	enum pmt_weight weight;
	char *arena;
	size_t alen, acap;
	struct frame *frames; /* frames[0]: the root's, "all" */
	uint32_t nframes, capframes;
	struct pmt_hash frame_ids; /* (hash, probe) -> frame + 1 */
	struct pmt_flame_node *nodes;
	uint32_t nnodes, capnodes;
	struct pmt_hash children; /* (parent, frame) -> node + 1 */
	int64_t hidden[2];
	uint32_t depth;
	bool finished;
};

int pmt_flame_new(enum pmt_weight w, struct pmt_flame **out)
{
	struct pmt_flame *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->weight = w;
	f->capframes = 256;
	f->frames = calloc(f->capframes, sizeof(*f->frames));
	f->capnodes = 1024;
	f->nodes = calloc(f->capnodes, sizeof(*f->nodes));
	f->acap = 4096;
	f->arena = malloc(f->acap);
	if (!f->frames || !f->nodes || !f->arena) {
		pmt_flame_free(f);
		return -ENOMEM;
	}
	/* frame 0 ("all") and node 0 (the root) */
	memcpy(f->arena, "all", 4);
	f->alen = 4;
	f->frames[0] = (struct frame){.name = 0, .name_len = 3, .file = 3, .cls = PMT_FILE_OTHER};
	f->nframes = 1;
	f->nnodes = 1;
	*out = f;
	return 0;
}

void pmt_flame_free(struct pmt_flame *f)
{
	if (!f)
		return;
	free(f->arena);
	free(f->frames);
	free(f->nodes);
	pmt_hash_clear(&f->frame_ids);
	pmt_hash_clear(&f->children);
	free(f);
}

static int arena_add(struct pmt_flame *f, const char *s, size_t len, size_t *off)
{
	if (f->alen + len + 1 > f->acap) {
		size_t cap = f->acap;
		while (f->alen + len + 1 > cap)
			cap *= 2;
		char *a = realloc(f->arena, cap);
		if (!a)
			return -ENOMEM;
		f->arena = a;
		f->acap = cap;
	}
	*off = f->alen;
	memcpy(f->arena + f->alen, s, len);
	f->arena[f->alen + len] = '\0';
	f->alen += len + 1;
	return 0;
}

static uint64_t fnv(const char *a, size_t an, const char *b, size_t bn)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < an; i++)
		h = (h ^ (uint8_t)a[i]) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (size_t i = 0; i < bn; i++)
		h = (h ^ (uint8_t)b[i]) * 0x100000001b3ull;
	return h;
}

/* The id of frame (name, file), made on first sight. */
static int64_t intern(struct pmt_flame *f, const struct pmt_code *c, const char *file,
		      size_t file_len, enum pmt_file_class cls)
{
	const char *name = c ? c->name : "<unknown>";
	size_t name_len = c ? c->name_len : 9;
	uint64_t h = fnv(name, name_len, file, file_len);
	uint32_t probe = 0, v;
	while ((v = pmt_hash_get(&f->frame_ids, h, probe))) {
		const struct frame *x = &f->frames[v - 1];
		if (x->name_len == name_len && x->file_len == file_len &&
		    !memcmp(f->arena + x->name, name, name_len) &&
		    !memcmp(f->arena + x->file, file, file_len))
			return v - 1;
		probe++; /* a hash collision: the next slot of this hash */
	}
	if (f->nframes == f->capframes) {
		struct frame *fr = realloc(f->frames, (size_t)f->capframes * 2 * sizeof(*fr));
		if (!fr)
			return -ENOMEM;
		f->frames = fr;
		f->capframes *= 2;
	}
	struct frame x = {.name_len = name_len,
			  .file_len = file_len,
			  .line = c ? c->firstline : 0,
			  .kind = c ? c->kind : PMT_CODE_PY,
			  .cls = (uint8_t)cls};
	int r = arena_add(f, name, name_len, &x.name);
	if (!r)
		r = arena_add(f, file, file_len, &x.file);
	if (!r)
		r = pmt_hash_put(&f->frame_ids, h, probe, f->nframes + 1);
	if (r < 0)
		return r;
	f->frames[f->nframes] = x;
	return f->nframes++;
}

static int64_t child(struct pmt_flame *f, uint32_t parent, uint32_t frame)
{
	uint32_t v = pmt_hash_get(&f->children, parent, frame);
	if (v)
		return v - 1;
	if (f->nnodes == f->capnodes) {
		if (f->capnodes >= (1u << 30))
			return -E2BIG;
		struct pmt_flame_node *n = realloc(f->nodes, (size_t)f->capnodes * 2 * sizeof(*n));
		if (!n)
			return -ENOMEM;
		f->nodes = n;
		f->capnodes *= 2;
	}
	int r = pmt_hash_put(&f->children, parent, frame, f->nnodes + 1);
	if (r < 0)
		return r;
	uint32_t depth = f->nodes[parent].depth + 1;
	f->nodes[f->nnodes] =
	    (struct pmt_flame_node){.parent = parent, .frame = frame, .depth = depth};
	if (depth > f->depth)
		f->depth = depth;
	return f->nnodes++;
}

#define PREFIX UINT32_MAX /* a profile path made of the tracer's frames only */
#define UNMAPPED 0

int pmt_flame_add(struct pmt_flame *f, const struct pmt_profile *p, const struct pmt_source *s,
		  struct pmt_names *names, unsigned side, bool all_frames)
{
	uint32_t n = pmt_profile_nodes(p), ncodes = pmt_source_code_count(s) + 1;
	uint32_t *map = malloc((size_t)n * sizeof(*map));
	uint32_t *codes = calloc(ncodes, sizeof(*codes)); /* code -> frame + 1 */
	int r = 0;
	if (!map || !codes) {
		r = -ENOMEM;
		goto out;
	}
	side &= 1;
	map[0] = all_frames ? 0 : PREFIX;
	for (uint32_t i = 1; i < n; i++) {
		uint32_t parent, code;
		const int64_t *w;
		pmt_profile_node(p, i, &parent, &code, &w);
		uint32_t fr = code < ncodes ? codes[code] : UNMAPPED;
		const struct pmt_code *c = code ? pmt_source_code(s, code) : NULL;
		if (fr == UNMAPPED) {
			size_t flen = 0;
			enum pmt_file_class cls = PMT_FILE_OTHER;
			const char *file =
			    c ? pmt_names_file(names, c->file, c->file_len, &flen, &cls) : "";
			int64_t id = intern(f, c, file, flen, cls);
			if (id < 0) {
				r = (int)id;
				goto out;
			}
			fr = (uint32_t)id + 1;
			if (code < ncodes)
				codes[code] = fr;
		}
		uint32_t up = map[parent];
		if (up == PREFIX && c && pmt_names_tracer_file(c->file, c->file_len)) {
			map[i] = PREFIX;
			f->hidden[side] += w[f->weight];
			continue;
		}
		int64_t node = child(f, up == PREFIX ? 0 : up, fr - 1);
		if (node < 0) {
			r = (int)node;
			goto out;
		}
		map[i] = (uint32_t)node;
		f->nodes[node].self[side] += w[f->weight];
	}
	f->finished = false;
out:
	free(map);
	free(codes);
	return r;
}

static int cmp_nodes(const void *a, const void *b, void *ctx)
{
	const struct pmt_flame *f = ctx;
	const struct pmt_flame_node *x = &f->nodes[*(const uint32_t *)a],
				    *y = &f->nodes[*(const uint32_t *)b];
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	const struct frame *fx = &f->frames[x->frame], *fy = &f->frames[y->frame];
	int c = strcmp(f->arena + fx->name, f->arena + fy->name);
	return c ? c : strcmp(f->arena + fx->file, f->arena + fy->file);
}

int pmt_flame_finish(struct pmt_flame *f)
{
	for (uint32_t i = 0; i < f->nnodes; i++) {
		struct pmt_flame_node *x = &f->nodes[i];
		x->total[0] = x->self[0];
		x->total[1] = x->self[1];
		x->first_child = x->next_sibling = 0;
	}
	/* children come after their parent: sum upwards from the end */
	for (uint32_t i = f->nnodes; i-- > 1;) {
		struct pmt_flame_node *x = &f->nodes[i];
		f->nodes[x->parent].total[0] += x->total[0];
		f->nodes[x->parent].total[1] += x->total[1];
	}
	uint32_t *order = malloc((size_t)f->nnodes * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (uint32_t i = 0; i < f->nnodes; i++)
		order[i] = i;
	qsort_r(order + 1, f->nnodes - 1, sizeof(*order), cmp_nodes, f);
	/* sorted by (parent, name): link each run of siblings in that order */
	for (uint32_t k = f->nnodes; k-- > 1;) {
		struct pmt_flame_node *x = &f->nodes[order[k]];
		struct pmt_flame_node *up = &f->nodes[x->parent];
		x->next_sibling = up->first_child;
		up->first_child = order[k];
	}
	free(order);
	f->finished = true;
	return 0;
}

enum pmt_weight pmt_flame_weight(const struct pmt_flame *f) { return f->weight; }
uint32_t pmt_flame_nodes(const struct pmt_flame *f) { return f->nnodes; }
uint32_t pmt_flame_depth(const struct pmt_flame *f) { return f->depth; }

const struct pmt_flame_node *pmt_flame_node(const struct pmt_flame *f, uint32_t n)
{
	return &f->nodes[n];
}

void pmt_flame_frame(const struct pmt_flame *f, uint32_t id, struct pmt_flame_frame *out)
{
	const struct frame *x = &f->frames[id];
	*out = (struct pmt_flame_frame){
	    .name = f->arena + x->name,
	    .name_len = x->name_len,
	    .file = f->arena + x->file,
	    .file_len = x->file_len,
	    .line = x->line,
	    .kind = x->kind,
	    .cls = x->cls,
	};
}

int64_t pmt_flame_hidden(const struct pmt_flame *f, unsigned side) { return f->hidden[side & 1]; }

static void put_clean(FILE *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		fputc(ch == ';' ? ':' : (ch == '\n' || ch == '\r') ? ' ' : ch, out);
	}
}

int pmt_flame_folded(const struct pmt_flame *f, unsigned side, FILE *out)
{
	uint32_t *path = malloc(((size_t)f->depth + 1) * sizeof(*path));
	if (!path)
		return -ENOMEM;
	side &= 1;
	for (uint32_t n = 1; n < f->nnodes; n++) {
		if (f->nodes[n].self[side] <= 0)
			continue;
		size_t depth = 0;
		for (uint32_t k = n; k; k = f->nodes[k].parent)
			path[depth++] = f->nodes[k].frame;
		while (depth--) {
			const struct frame *x = &f->frames[path[depth]];
			put_clean(out, f->arena + x->name, x->name_len);
			if (x->file_len) {
				fputs(" (", out);
				put_clean(out, f->arena + x->file, x->file_len);
				fputc(')', out);
			}
			if (depth)
				fputc(';', out);
		}
		fprintf(out, " %lld\n", (long long)f->nodes[n].self[side]);
	}
	free(path);
	return ferror(out) ? -EIO : 0;
}
