/* SPDX-License-Identifier: MIT */
/* pprof export (see pprof.h): a tree of call paths per process, written
 * through protoc-c's generated code into a gzip stream. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include <libpmt/core/hash.h>
#include <libpmt/report/flame.h>
#include <libpmt/report/pprof.h>
#include <libpmt/report/profile.pb-c.h>

/* A call path of one process: node 0 is unused, a process's root has no
 * location, every other node one location below its parent. */
struct node {
	uint32_t parent, loc, pid;
	int64_t v[PMT_WEIGHT_COUNT];
};

struct func {
	uint32_t name, file; /* string indices */
	uint32_t line;
};

struct pmt_pprof {
	char **strs;
	uint32_t nstrs, capstrs;
	struct pmt_hash str_ids; /* (hash, probe) -> string index + 1 */
	struct func *funcs;	 /* function id i + 1 at funcs[i]; its location too */
	uint32_t nfuncs, capfuncs;
	struct pmt_hash func_ids; /* (name << 32 | file, line) -> id */
	struct node *nodes;
	uint32_t nnodes, capnodes;
	struct pmt_hash children; /* (parent, loc) -> node; roots (pid | 1 << 63, 0) */
	bool used[PMT_WEIGHT_COUNT];
	int64_t total[PMT_WEIGHT_COUNT];
	uint64_t start_ns, end_ns;
	uint32_t processes;
};

static uint64_t str_hash(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

/* The index of string s[0..n) in the table, added when new; -ENOMEM. */
static int64_t intern(struct pmt_pprof *pp, const char *s, size_t n)
{
	uint64_t h = str_hash(s, n);
	uint32_t probe = 0, v;
	while ((v = pmt_hash_get(&pp->str_ids, h, probe))) {
		const char *t = pp->strs[v - 1];
		if (strlen(t) == n && !memcmp(t, s, n))
			return v - 1;
		probe++;
	}
	if (pp->nstrs == pp->capstrs) {
		uint32_t cap = pp->capstrs ? pp->capstrs * 2 : 256;
		char **a = realloc(pp->strs, cap * sizeof(*a));
		if (!a)
			return -ENOMEM;
		pp->strs = a;
		pp->capstrs = cap;
	}
	char *d = malloc(n + 1);
	if (!d)
		return -ENOMEM;
	memcpy(d, s, n);
	d[n] = 0;
	if (pmt_hash_put(&pp->str_ids, h, probe, pp->nstrs + 1) < 0) {
		free(d);
		return -ENOMEM;
	}
	pp->strs[pp->nstrs] = d;
	return pp->nstrs++;
}

int pmt_pprof_new(struct pmt_pprof **out)
{
	struct pmt_pprof *pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	pp->nnodes = 1;
	pp->capnodes = 1024;
	pp->nodes = calloc(pp->capnodes, sizeof(*pp->nodes));
	if (!pp->nodes || intern(pp, "", 0) != 0) { /* string_table[0] is "" */
		pmt_pprof_free(pp);
		return -ENOMEM;
	}
	*out = pp;
	return 0;
}

void pmt_pprof_free(struct pmt_pprof *pp)
{
	if (!pp)
		return;
	for (uint32_t i = 0; i < pp->nstrs; i++)
		free(pp->strs[i]);
	free(pp->strs);
	free(pp->funcs);
	free(pp->nodes);
	pmt_hash_clear(&pp->str_ids);
	pmt_hash_clear(&pp->func_ids);
	pmt_hash_clear(&pp->children);
	free(pp);
}

int64_t pmt_pprof_total(const struct pmt_pprof *pp, enum pmt_weight w)
{
	return (unsigned)w < PMT_WEIGHT_COUNT ? pp->total[w] : 0;
}

/* The function (and location) id of a flame frame; -ENOMEM. */
static int64_t func_id(struct pmt_pprof *pp, const struct pmt_flame_frame *fr)
{
	int64_t name = intern(pp, fr->name, fr->name_len);
	int64_t file = name < 0 ? name : intern(pp, fr->file, fr->file_len);
	if (file < 0)
		return file;
	uint64_t a = (uint64_t)name << 32 | (uint64_t)file;
	uint32_t v = pmt_hash_get(&pp->func_ids, a, fr->line);
	if (v)
		return v;
	if (pp->nfuncs == pp->capfuncs) {
		uint32_t cap = pp->capfuncs ? pp->capfuncs * 2 : 256;
		struct func *f = realloc(pp->funcs, cap * sizeof(*f));
		if (!f)
			return -ENOMEM;
		pp->funcs = f;
		pp->capfuncs = cap;
	}
	if (pmt_hash_put(&pp->func_ids, a, fr->line, pp->nfuncs + 1) < 0)
		return -ENOMEM;
	pp->funcs[pp->nfuncs] = (struct func){(uint32_t)name, (uint32_t)file, fr->line};
	return ++pp->nfuncs;
}

/* The node below parent for location loc (a root: parent 0, loc 0). */
static int64_t node(struct pmt_pprof *pp, uint32_t parent, uint32_t loc, uint32_t pid)
{
	uint64_t a = parent ? parent : (1ull << 63) | pid;
	uint32_t v = pmt_hash_get(&pp->children, a, loc);
	if (v)
		return v;
	if (pp->nnodes == pp->capnodes) {
		uint32_t cap = pp->capnodes * 2;
		struct node *n = realloc(pp->nodes, cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		pp->nodes = n;
		pp->capnodes = cap;
	}
	if (pmt_hash_put(&pp->children, a, loc, pp->nnodes) < 0)
		return -ENOMEM;
	pp->nodes[pp->nnodes] = (struct node){.parent = parent, .loc = loc, .pid = pid};
	return pp->nnodes++;
}

/* The flame graph of weight w of one log, merged into the process's tree:
 * a flame node maps to a tree node through its parent's, which comes
 * first (flame nodes are numbered parents first). */
static int add_weight(struct pmt_pprof *pp, const struct pmt_flame *f, enum pmt_weight w,
		      uint32_t root, uint32_t pid)
{
	uint32_t n = pmt_flame_nodes(f);
	uint32_t *map = malloc((n ? n : 1) * sizeof(*map));
	if (!map)
		return -ENOMEM;
	int r = 0;
	map[0] = root;
	for (uint32_t i = 1; i < n; i++) {
		const struct pmt_flame_node *fn = pmt_flame_node(f, i);
		struct pmt_flame_frame fr;
		pmt_flame_frame(f, fn->frame, &fr);
		int64_t loc = func_id(pp, &fr), t;
		if (loc < 0 || (t = node(pp, map[fn->parent], (uint32_t)loc, pid)) < 0) {
			r = -ENOMEM;
			break;
		}
		map[i] = (uint32_t)t;
		/* the paths --folded prints: positive weights only */
		if (fn->self[0] > 0) {
			pp->nodes[t].v[w] += fn->self[0];
			pp->total[w] += fn->self[0];
		}
	}
	free(map);
	return r;
}

int pmt_pprof_add(struct pmt_pprof *pp, const struct pmt_profile *prof,
		  const struct pmt_source *src, struct pmt_names *names, bool all_frames)
{
	const struct pmt_header *h = pmt_source_header(src);
	const struct pmt_trailer *trl = pmt_source_trailer(src);
	uint32_t pid = h->pid;
	int64_t root = node(pp, 0, 0, pid);
	if (root < 0)
		return (int)root;
	if (h->start_wall_ns && (!pp->start_ns || h->start_wall_ns < pp->start_ns))
		pp->start_ns = h->start_wall_ns;
	uint64_t end = trl && trl->end_wall_ns
			   ? trl->end_wall_ns
			   : h->start_wall_ns + pmt_profile_totals(prof)->last_ns;
	if (h->start_wall_ns && end > pp->end_ns)
		pp->end_ns = end;
	pp->processes++;
	for (unsigned w = 0; w < PMT_WEIGHT_COUNT; w++) {
		if (!pmt_profile_has_weight(prof, (enum pmt_weight)w))
			continue;
		struct pmt_flame *f;
		int r = pmt_flame_new((enum pmt_weight)w, &f);
		if (r >= 0)
			r = pmt_flame_add(f, prof, src, names, 0, all_frames);
		if (r >= 0)
			r = pmt_flame_finish(f);
		if (r >= 0)
			r = add_weight(pp, f, (enum pmt_weight)w, (uint32_t)root, pid);
		pmt_flame_free(f);
		if (r < 0)
			return r;
		pp->used[w] = true;
	}
	return 0;
}

/* ---- writing -------------------------------------------------------------- */

/* protobuf-c's output buffer, deflating into a gzip stream as it goes. */
struct gz_sink {
	ProtobufCBuffer base;
	z_stream z;
	FILE *out;
	int err;
};

static void gz_put(struct gz_sink *g, const uint8_t *p, size_t len, int flush)
{
	uint8_t buf[1 << 15];
	g->z.next_in = (Bytef *)p;
	g->z.avail_in = (uInt)len;
	do {
		g->z.next_out = buf;
		g->z.avail_out = sizeof(buf);
		int z = deflate(&g->z, flush);
		if (z == Z_STREAM_ERROR) {
			g->err = -EIO;
			return;
		}
		size_t have = sizeof(buf) - g->z.avail_out;
		if (have && fwrite(buf, 1, have, g->out) != have)
			g->err = -EIO;
	} while (!g->err && (g->z.avail_out == 0 || (flush == Z_FINISH && g->z.avail_in)));
}

static void gz_append(ProtobufCBuffer *b, size_t len, const uint8_t *data)
{
	struct gz_sink *g = (struct gz_sink *)b;
	/* zlib takes at most 4 GiB at a time */
	while (!g->err && len) {
		size_t k = len > (1u << 30) ? (1u << 30) : len;
		gz_put(g, data, k, Z_NO_FLUSH);
		data += k;
		len -= k;
	}
}

static const struct {
	const char *type, *unit;
} sample_types[PMT_WEIGHT_COUNT] = {
    [PMT_WEIGHT_RSS] = {"rss_growth", "bytes"},
    [PMT_WEIGHT_CALLS] = {"calls", "count"},
    [PMT_WEIGHT_ALLOC] = {"heap_alloc", "bytes"},
    [PMT_WEIGHT_LIVE] = {"heap_live_at_peak", "bytes"},
    [PMT_WEIGHT_LEAKED] = {"heap_leaked", "bytes"},
    [PMT_WEIGHT_OBJECTS] = {"objects_created", "count"},
    [PMT_WEIGHT_LIVE_OBJECTS] = {"objects_live_at_end", "count"},
};

int pmt_pprof_write(struct pmt_pprof *pp, FILE *out)
{
	Perftools__Profiles__Profile prof = PERFTOOLS__PROFILES__PROFILE__INIT;
	Perftools__Profiles__ValueType vt[PMT_WEIGHT_COUNT], *vtp[PMT_WEIGHT_COUNT];
	unsigned types[PMT_WEIGHT_COUNT], nt = 0;
	int r = -ENOMEM;
	pp->used[PMT_WEIGHT_RSS] = pp->used[PMT_WEIGHT_CALLS] = true; /* always there */
	int64_t pid_key = intern(pp, "pid", 3), comment;
	char text[128];
	snprintf(text, sizeof(text), "pmt: %u process%s", pp->processes,
		 pp->processes == 1 ? "" : "es");
	comment = intern(pp, text, strlen(text));
	for (unsigned w = 0; w < PMT_WEIGHT_COUNT; w++) {
		if (!pp->used[w])
			continue;
		int64_t t = intern(pp, sample_types[w].type, strlen(sample_types[w].type));
		int64_t u = intern(pp, sample_types[w].unit, strlen(sample_types[w].unit));
		if (t < 0 || u < 0)
			return -ENOMEM;
		perftools__profiles__value_type__init(&vt[nt]);
		vt[nt].type = t;
		vt[nt].unit = u;
		vtp[nt] = &vt[nt];
		types[nt++] = w;
	}
	if (pid_key < 0 || comment < 0)
		return -ENOMEM;

	/* samples: every node with a weight; its stack, leaf first */
	size_t ns = 0, nlocs = 0;
	for (uint32_t i = 1; i < pp->nnodes; i++) {
		bool any = false;
		for (unsigned k = 0; k < nt; k++)
			any |= pp->nodes[i].v[types[k]] != 0;
		if (!any || !pp->nodes[i].loc)
			continue;
		ns++;
		for (uint32_t k = i; pp->nodes[k].loc; k = pp->nodes[k].parent)
			nlocs++;
	}
	size_t nf = pp->nfuncs;
	Perftools__Profiles__Sample *samples = calloc(ns ? ns : 1, sizeof(*samples));
	Perftools__Profiles__Sample **sp = calloc(ns ? ns : 1, sizeof(*sp));
	Perftools__Profiles__Label *labels = calloc(ns ? ns : 1, sizeof(*labels));
	Perftools__Profiles__Label **lp = calloc(ns ? ns : 1, sizeof(*lp));
	uint64_t *locs = malloc((nlocs ? nlocs : 1) * sizeof(*locs));
	int64_t *vals = malloc(((ns ? ns : 1) * nt + 1) * sizeof(*vals));
	Perftools__Profiles__Function *fs = calloc(nf ? nf : 1, sizeof(*fs));
	Perftools__Profiles__Function **fp = calloc(nf ? nf : 1, sizeof(*fp));
	Perftools__Profiles__Location *ls = calloc(nf ? nf : 1, sizeof(*ls));
	Perftools__Profiles__Location **lsp = calloc(nf ? nf : 1, sizeof(*lsp));
	Perftools__Profiles__Line *lines = calloc(nf ? nf : 1, sizeof(*lines));
	Perftools__Profiles__Line **linep = calloc(nf ? nf : 1, sizeof(*linep));
	if (!samples || !sp || !labels || !lp || !locs || !vals || !fs || !fp || !ls || !lsp ||
	    !lines || !linep)
		goto out;
	size_t s = 0, l = 0;
	for (uint32_t i = 1; i < pp->nnodes; i++) {
		const struct node *n = &pp->nodes[i];
		bool any = false;
		for (unsigned k = 0; k < nt; k++)
			any |= n->v[types[k]] != 0;
		if (!any || !n->loc)
			continue;
		perftools__profiles__sample__init(&samples[s]);
		perftools__profiles__label__init(&labels[s]);
		samples[s].location_id = &locs[l];
		for (uint32_t k = i; pp->nodes[k].loc; k = pp->nodes[k].parent)
			locs[l++] = pp->nodes[k].loc;
		samples[s].n_location_id = (size_t)(&locs[l] - samples[s].location_id);
		samples[s].value = &vals[s * nt];
		samples[s].n_value = nt;
		for (unsigned k = 0; k < nt; k++)
			vals[s * nt + k] = n->v[types[k]];
		labels[s].key = pid_key;
		labels[s].num = n->pid;
		lp[s] = &labels[s];
		samples[s].label = &lp[s];
		samples[s].n_label = 1;
		sp[s] = &samples[s];
		s++;
	}
	for (size_t i = 0; i < nf; i++) {
		perftools__profiles__function__init(&fs[i]);
		fs[i].id = i + 1;
		fs[i].name = fs[i].system_name = pp->funcs[i].name;
		fs[i].filename = pp->funcs[i].file;
		fs[i].start_line = pp->funcs[i].line;
		fp[i] = &fs[i];
		perftools__profiles__line__init(&lines[i]);
		lines[i].function_id = i + 1;
		lines[i].line = pp->funcs[i].line;
		linep[i] = &lines[i];
		perftools__profiles__location__init(&ls[i]);
		ls[i].id = i + 1;
		ls[i].line = &linep[i];
		ls[i].n_line = 1;
		lsp[i] = &ls[i];
	}
	prof.sample_type = vtp;
	prof.n_sample_type = nt;
	prof.sample = sp;
	prof.n_sample = ns;
	prof.location = lsp;
	prof.n_location = nf;
	prof.function = fp;
	prof.n_function = nf;
	prof.string_table = pp->strs;
	prof.n_string_table = pp->nstrs;
	prof.time_nanos = (int64_t)pp->start_ns;
	if (pp->end_ns > pp->start_ns)
		prof.duration_nanos = (int64_t)(pp->end_ns - pp->start_ns);
	prof.comment = &comment;
	prof.n_comment = 1;
	prof.default_sample_type = vt[0].type;

	struct gz_sink g = {.base = {.append = gz_append}, .out = out};
	/* windowBits 15 + 16: a gzip header and trailer, as pprof files have */
	if (deflateInit2(&g.z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
	    Z_OK)
		goto out;
	perftools__profiles__profile__pack_to_buffer(&prof, &g.base);
	if (!g.err)
		gz_put(&g, NULL, 0, Z_FINISH);
	deflateEnd(&g.z);
	r = g.err ? g.err : ferror(out) ? -EIO : 0;
out:
	free(samples);
	free(sp);
	free(labels);
	free(lp);
	free(locs);
	free(vals);
	free(fs);
	free(fp);
	free(ls);
	free(lsp);
	free(lines);
	free(linep);
	return r;
}
