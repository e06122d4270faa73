/* SPDX-License-Identifier: MIT */
/* A run of several logs, one per process (see run.h). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libpmt/core/errors.h>
#include <libpmt/core/log-format.h>
#include <libpmt/report/names.h>
#include <libpmt/report/run.h>

/* ---- arguments ------------------------------------------------------------ */

static bool log_name(const char *s)
{
	size_t n = strlen(s);
	static const char *const ends[] = {".log.zst", ".log", ".zst"};
	if (s[0] == '.')
		return false;
	for (unsigned i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		size_t k = strlen(ends[i]);
		if (n > k && !strcmp(s + n - k, ends[i]))
			return true;
	}
	return false;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct entries {
	struct pmt_run_entry *v;
	size_t n, cap;
};

static int push(struct entries *e, char *path, int err)
{
	if (!path)
		return -ENOMEM;
	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct pmt_run_entry *v = realloc(e->v, cap * sizeof(*v));
		if (!v) {
			free(path);
			return -ENOMEM;
		}
		e->v = v;
		e->cap = cap;
	}
	e->v[e->n++] = (struct pmt_run_entry){path, err};
	return 0;
}

/* The logs in directory d, sorted by name. */
static int list_dir(struct entries *e, const char *d)
{
	DIR *dir = opendir(d);
	if (!dir)
		return push(e, strdup(d), -errno);
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;
	struct dirent *de;
	size_t dl = strlen(d);
	bool slash = dl && d[dl - 1] == '/';
	while ((de = readdir(dir))) {
		if (!log_name(de->d_name))
			continue;
		size_t len = dl + 1 + strlen(de->d_name) + 1;
		char *p = malloc(len);
		if (!p) {
			r = -ENOMEM;
			break;
		}
		snprintf(p, len, "%s%s%s", d, slash ? "" : "/", de->d_name);
		struct stat st;
		if (stat(p, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(p);
			continue;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			char **v = realloc(names, cap * sizeof(*v));
			if (!v) {
				free(p);
				r = -ENOMEM;
				break;
			}
			names = v;
		}
		names[n++] = p;
	}
	closedir(dir);
	if (r >= 0) {
		if (n) /* qsort's base may not be NULL, even for no element */
			qsort(names, n, sizeof(*names), cmp_str);
		else
			r = push(e, strdup(d), PMT_E_EMPTY);
	}
	size_t i = 0;
	for (; r >= 0 && i < n; i++)
		r = push(e, names[i], 0);
	for (; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int pmt_run_expand(char *const *args, unsigned n, struct pmt_run_entry **out, size_t *count,
		   unsigned *dirs)
{
	struct entries e = {0};
	int r = 0;
	*dirs = 0;
	for (unsigned i = 0; r >= 0 && i < n; i++) {
		struct stat st;
		if (strcmp(args[i], "-") && stat(args[i], &st) == 0 && S_ISDIR(st.st_mode)) {
			(*dirs)++;
			r = list_dir(&e, args[i]);
		} else {
			r = push(&e, strdup(args[i]), 0);
		}
	}
	if (r < 0) {
		pmt_run_entries_free(e.v, e.n);
		return r;
	}
	*out = e.v;
	*count = e.n;
	return 0;
}

void pmt_run_entries_free(struct pmt_run_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}

/* ---- the run -------------------------------------------------------------- */

/* A MESSAGE naming a child: "pmt: child pid=N how=H log=PATH"; or, in the
 * log of an exec'd image, the log of the image before it: "pmt: exec of pid
 * N; this image continues PATH" (cont: log is the parent's, parent the
 * index of the process that said it). */
struct child {
	size_t parent; /* index of the process whose log said it */
	uint32_t pid;
	char how[8];
	char *log; /* basename of the child's log */
	bool found, cont;
};

struct pmt_run {
	struct pmt_run_opts o;
	struct pmt_run_proc *procs;
	size_t nprocs, capprocs;
	struct child *children;
	size_t nchildren, capchildren;
	struct pmt_run_func *funcs;
	size_t nfuncs, capfuncs;
	uint32_t *slots; /* index + 1 */
	size_t nslots;
	uint64_t kinds[8], written;
	/* the process pmt_run_add() adds a function to, so each counts once */
	uint32_t *seen_in; /* per function: process index + 1 */
};

int pmt_run_new(const struct pmt_run_opts *o, struct pmt_run **out)
{
	struct pmt_run *run = calloc(1, sizeof(*run));
	if (!run)
		return -ENOMEM;
	run->o = *o;
	*out = run;
	return 0;
}

void pmt_run_free(struct pmt_run *run)
{
	if (!run)
		return;
	for (size_t i = 0; i < run->nprocs; i++) {
		free(run->procs[i].log);
		free(run->procs[i].program);
		free(run->procs[i].key);
	}
	for (size_t i = 0; i < run->nchildren; i++)
		free(run->children[i].log);
	for (size_t i = 0; i < run->nfuncs; i++) {
		free((char *)run->funcs[i].name);
		free((char *)run->funcs[i].file);
		free((char *)run->funcs[i].shown);
	}
	free(run->procs);
	free(run->children);
	free(run->funcs);
	free(run->seen_in);
	free(run->slots);
	free(run);
}

static const char *base(const char *p, size_t *len)
{
	const char *s = p;
	for (size_t i = 0; i < *len; i++)
		if (p[i] == '/')
			s = p + i + 1;
	*len -= (size_t)(s - p);
	return s;
}

/* Notes "pmt: child pid=N how=H log=PATH" (not "... not traced: why"). */
static int note_child(struct pmt_run *run, const char *t, size_t len)
{
	static const char pre[] = "pmt: child pid=", pre_exec[] = "pmt: exec of pid ";
	bool cont = len >= sizeof(pre_exec) && !memcmp(t, pre_exec, sizeof(pre_exec) - 1);
	if (!cont && (len < sizeof(pre) || memcmp(t, pre, sizeof(pre) - 1)))
		return 0;
	char buf[4096];
	if (len >= sizeof(buf))
		return 0;
	memcpy(buf, t, len);
	buf[len] = 0;
	unsigned long pid;
	char how[8] = "exec";
	int at = 0;
	if (cont
		? sscanf(buf + sizeof(pre_exec) - 1, "%lu; this image continues %n", &pid, &at) != 1
		: sscanf(buf + sizeof(pre) - 1, "%lu how=%7s log=%n", &pid, how, &at) != 2)
		return 0;
	if (!at)
		return 0;
	const char *path = buf + (cont ? sizeof(pre_exec) : sizeof(pre)) - 1 + at;
	size_t plen = strlen(path);
	const char *b = base(path, &plen);
	if (run->nchildren == run->capchildren) {
		size_t cap = run->capchildren ? run->capchildren * 2 : 16;
		struct child *v = realloc(run->children, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		run->children = v;
		run->capchildren = cap;
	}
	struct child *c = &run->children[run->nchildren];
	*c = (struct child){
	    .parent = run->nprocs, .pid = (uint32_t)pid, .log = strndup(b, plen), .cont = cont};
	if (!c->log)
		return -ENOMEM;
	memcpy(c->how, how, sizeof(how));
	run->nchildren++;
	return 0;
}

int pmt_run_read(struct pmt_run *run, struct pmt_source *src, unsigned weights,
		 struct pmt_profile **prof)
{
	int r = pmt_profile_new(pmt_source_header(src)->page_size, weights, prof);
	if (r < 0)
		return r;
	struct pmt_item it[PMT_SOURCE_BATCH];
	int n;
	while ((r = n = pmt_source_next_batch(src, it, PMT_SOURCE_BATCH)) > 0) {
		/* a message is the last item of its batch */
		const struct pmt_item *last = &it[n - 1];
		if (run && last->type == PMT_ITEM_MESSAGE &&
		    (r = note_child(run, last->text, last->text_len)) < 0)
			break;
		if ((r = pmt_profile_items(*prof, it, (unsigned)n)) < 0)
			break;
	}
	pmt_profile_finish(*prof);
	return r < 0 ? r : 0;
}

static uint64_t fkey(const char *a, size_t an, const char *b, size_t bn, uint32_t line)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < an; i++)
		h = (h ^ (uint8_t)a[i]) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (size_t i = 0; i < bn; i++)
		h = (h ^ (uint8_t)b[i]) * 0x100000001b3ull;
	return (h ^ line) * 0x100000001b3ull;
}

static int grow_slots(struct pmt_run *run)
{
	size_t ns = run->nslots ? run->nslots * 2 : 1024;
	uint32_t *slots = calloc(ns, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < run->nfuncs; i++) {
		const struct pmt_run_func *f = &run->funcs[i];
		size_t j = fkey(f->file, f->file_len, f->name, f->name_len, f->line) & (ns - 1);
		while (slots[j])
			j = (j + 1) & (ns - 1);
		slots[j] = (uint32_t)i + 1;
	}
	free(run->slots);
	run->slots = slots;
	run->nslots = ns;
	return 0;
}

static char *dup(const char *s, size_t n)
{
	char *d = malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static int add_func(struct pmt_run *run, const struct pmt_code *c, const struct pmt_fstat *st,
		    struct pmt_names *names)
{
	int r;
	if ((run->nfuncs + 1) * 2 > run->nslots && (r = grow_slots(run)) < 0)
		return r;
	size_t j =
	    fkey(c->file, c->file_len, c->name, c->name_len, c->firstline) & (run->nslots - 1);
	struct pmt_run_func *f = NULL;
	for (; run->slots[j]; j = (j + 1) & (run->nslots - 1)) {
		struct pmt_run_func *g = &run->funcs[run->slots[j] - 1];
		if (g->line == c->firstline && g->file_len == c->file_len &&
		    g->name_len == c->name_len && !memcmp(g->file, c->file, c->file_len) &&
		    !memcmp(g->name, c->name, c->name_len)) {
			f = g;
			break;
		}
	}
	if (!f) {
		if (run->nfuncs == run->capfuncs) {
			size_t cap = run->capfuncs ? run->capfuncs * 2 : 256;
			struct pmt_run_func *v = realloc(run->funcs, cap * sizeof(*v));
			uint32_t *s = realloc(run->seen_in, cap * sizeof(*s));
			if (s)
				run->seen_in = s;
			if (v)
				run->funcs = v;
			if (!v || !s)
				return -ENOMEM;
			run->capfuncs = cap;
		}
		size_t slen;
		const char *shown = pmt_names_file(names, c->file, c->file_len, &slen, NULL);
		f = &run->funcs[run->nfuncs];
		*f = (struct pmt_run_func){
		    .name = dup(c->name, c->name_len),
		    .file = dup(c->file, c->file_len),
		    .shown = dup(shown, slen),
		    .name_len = c->name_len,
		    .file_len = c->file_len,
		    .shown_len = slen,
		    .line = c->firstline,
		};
		if (!f->name || !f->file || !f->shown) {
			free((char *)f->name);
			free((char *)f->file);
			free((char *)f->shown);
			return -ENOMEM;
		}
		run->seen_in[run->nfuncs] = 0;
		run->slots[j] = (uint32_t)++run->nfuncs;
	}
	size_t idx = (size_t)(f - run->funcs);
	if (run->seen_in[idx] != run->nprocs + 1) {
		run->seen_in[idx] = (uint32_t)run->nprocs + 1;
		f->processes++;
	}
	f->st.calls += st->calls;
	f->st.self += st->self;
	f->st.incl += st->incl;
	f->st.incl_calls += st->incl_calls;
	return 0;
}

/* argv joined by spaces; argv[0] by its base name unless full. */
static char *join_argv(const struct pmt_header *h, bool full)
{
	size_t len = 1;
	for (uint32_t i = 0; i < h->argc; i++)
		len += strlen(h->argv[i]) + 1;
	char *s = malloc(len), *p = s;
	if (!s)
		return NULL;
	*p = 0;
	for (uint32_t i = 0; i < h->argc; i++) {
		const char *a = h->argv[i];
		size_t n = strlen(a);
		if (!i && !full && n && a[n - 1] != '/')
			a = base(a, &n);
		if (i)
			*p++ = ' ';
		memcpy(p, a, n);
		p += n;
		*p = 0;
	}
	return s;
}

static bool was_cut(const struct pmt_source *s)
{
	const struct pmt_trailer *t = pmt_source_trailer(s);
	return t && (t->flags & (PMT_TRL_CUT | PMT_TRL_HOOK_ERROR));
}

int pmt_run_add(struct pmt_run *run, const char *name, struct pmt_source *src,
		const struct pmt_profile *prof, int err)
{
	if (run->nprocs == run->capprocs) {
		size_t cap = run->capprocs ? run->capprocs * 2 : 16;
		struct pmt_run_proc *v = realloc(run->procs, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		run->procs = v;
		run->capprocs = cap;
	}
	const struct pmt_header *h = pmt_source_header(src);
	const struct pmt_trailer *trl = pmt_source_trailer(src);
	const struct pmt_totals *tot = pmt_profile_totals(prof);
	struct pmt_run_proc *p = &run->procs[run->nprocs];
	*p = (struct pmt_run_proc){
	    .log = strdup(name),
	    .program = join_argv(h, run->o.full_path),
	    .key = join_argv(h, true),
	    .how = "",
	    .pid = h->pid,
	    .ppid = h->ppid,
	    .events = pmt_source_events(src),
	    .duration_ns = tot->last_ns - tot->first_ns,
	    .rss = tot->any,
	    .rss_start = tot->rss_start,
	    .rss_peak = tot->rss_peak,
	    .rss_end = tot->rss_end,
	    .complete = err			    ? "error"
			: pmt_source_truncated(src) ? "truncated"
			: was_cut(src)		    ? "cut"
						    : "yes",
	};
	if (!p->log || !p->program || !p->key) {
		free(p->log);
		free(p->program);
		free(p->key);
		return -ENOMEM;
	}
	/* the trailer knows when the program stopped, not just the last event */
	if (trl && h->start_wall_ns && trl->end_wall_ns > h->start_wall_ns)
		p->duration_ns = trl->end_wall_ns - h->start_wall_ns;
	const struct pmt_heap *hp = pmt_profile_heap(prof);
	if (hp) {
		const struct pmt_heap_totals *ht = pmt_heap_totals(hp);
		p->heap = true;
		p->heap_allocated = ht->allocated;
		p->heap_peak = ht->peak;
		p->heap_live = ht->live;
	}
	for (unsigned k = 0; k < 8; k++)
		run->kinds[k] += tot->kinds[k];
	run->written += tot->written;

	struct pmt_names *names = NULL;
	int r = pmt_names_new(src, run->o.full_path, &names);
	/* the defined codes only: ids need not be dense */
	for (const struct pmt_code *c = pmt_source_next_code(src, 0); r >= 0 && c;
	     c = pmt_source_next_code(src, c->id)) {
		const struct pmt_fstat *st =
		    c->id < pmt_profile_codes(prof) ? pmt_profile_fstat(prof, c->id) : NULL;
		if (!st || !(st->calls || st->self || st->incl))
			continue;
		if (!run->o.all_frames && pmt_names_tracer_file(c->file, c->file_len))
			continue;
		r = add_func(run, c, st, names);
	}
	pmt_names_free(names);
	run->nprocs++; /* the row stays, even when a function could not be added */
	return r < 0 ? r : 0;
}

unsigned pmt_run_finish(struct pmt_run *run)
{
	unsigned missing = 0;
	/* an exec'd image names the log it continues */
	for (size_t i = 0; i < run->nchildren; i++) {
		struct child *c = &run->children[i];
		struct pmt_run_proc *self = &run->procs[c->parent];
		for (size_t k = 0; c->cont && k < run->nprocs && !c->found; k++) {
			size_t len = strlen(run->procs[k].log);
			const char *b = base(run->procs[k].log, &len);
			if (k != c->parent && !self->parent && !strcmp(b, c->log)) {
				self->parent = (uint32_t)k + 1;
				self->how = "exec";
				c->found = true;
			}
		}
		c->found |= c->cont; /* not given: not a child log missing */
	}
	/* by the log's name first: an exec keeps its pid, not its log */
	for (size_t i = 0; i < run->nchildren; i++) {
		struct child *c = &run->children[i];
		for (size_t k = 0; k < run->nprocs && !c->found; k++) {
			struct pmt_run_proc *p = &run->procs[k];
			size_t len = strlen(p->log);
			const char *b = base(p->log, &len);
			if (k != c->parent && !p->parent && !strcmp(b, c->log)) {
				p->parent = (uint32_t)c->parent + 1;
				p->how = c->how;
				c->found = true;
			}
		}
	}
	/* logs renamed since: by pid */
	for (size_t i = 0; i < run->nchildren; i++) {
		struct child *c = &run->children[i];
		for (size_t k = 0; k < run->nprocs && !c->found; k++) {
			struct pmt_run_proc *p = &run->procs[k];
			if (k != c->parent && !p->parent && p->pid == c->pid) {
				p->parent = (uint32_t)c->parent + 1;
				p->how = c->how;
				c->found = true;
			}
		}
		missing += !c->found;
	}
	return missing;
}

size_t pmt_run_procs(const struct pmt_run *run) { return run->nprocs; }

const struct pmt_run_proc *pmt_run_proc(const struct pmt_run *run, size_t i)
{
	return i < run->nprocs ? &run->procs[i] : NULL;
}

const struct pmt_run_func *pmt_run_funcs(const struct pmt_run *run, size_t *n)
{
	*n = run->nfuncs;
	return run->funcs;
}

const uint64_t *pmt_run_kinds(const struct pmt_run *run, uint64_t *written)
{
	*written = run->written;
	return run->kinds;
}

/* ---- tables --------------------------------------------------------------- */

/* Parents before their children, depth first, each level in log order; a
 * cycle (two logs naming each other) cannot loop: each process is placed
 * once, and what is left goes last. */
static size_t tree_order(const struct pmt_run *run, size_t *order, uint32_t *depth)
{
	size_t n = 0, nprocs = run->nprocs;
	bool *placed = calloc(nprocs ? nprocs : 1, sizeof(*placed));
	size_t *stack = malloc((nprocs ? nprocs : 1) * sizeof(*stack));
	if (!placed || !stack) {
		free(placed);
		free(stack);
		for (size_t i = 0; i < nprocs; i++)
			order[i] = i, depth[i] = 0;
		return nprocs;
	}
	for (size_t root = 0; root < nprocs; root++) {
		if (placed[root] || run->procs[root].parent)
			continue;
		size_t sp = 0;
		stack[sp++] = root;
		placed[root] = true;
		depth[root] = 0;
		while (sp) {
			size_t i = stack[--sp];
			order[n++] = i;
			/* children pushed last first, so they come out in log order */
			for (size_t k = nprocs; k-- > 0;)
				if (!placed[k] && run->procs[k].parent == i + 1) {
					placed[k] = true;
					depth[k] = depth[i] + 1;
					stack[sp++] = k;
				}
		}
	}
	for (size_t i = 0; i < nprocs; i++)
		if (!placed[i])
			order[n++] = i, depth[i] = 0;
	free(placed);
	free(stack);
	return n;
}

int pmt_run_processes_table(const struct pmt_run *run, const char *title, struct pmt_table **out)
{
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0)
		return r;
	bool heap = false;
	for (size_t i = 0; i < run->nprocs; i++)
		heap |= run->procs[i].heap;
	static const struct {
		const char *name;
		enum pmt_align a;
	} cols[] = {
	    {"pid", PMT_ALIGN_RIGHT},	     {"parent", PMT_ALIGN_RIGHT},
	    {"how", PMT_ALIGN_LEFT},	     {"events", PMT_ALIGN_RIGHT},
	    {"duration_s", PMT_ALIGN_RIGHT}, {"rss_start", PMT_ALIGN_RIGHT},
	    {"rss_peak", PMT_ALIGN_RIGHT},   {"rss_end", PMT_ALIGN_RIGHT},
	    {"growth", PMT_ALIGN_RIGHT},     {"complete", PMT_ALIGN_LEFT},
	};
	for (unsigned i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
		pmt_table_column(t, cols[i].name, cols[i].a);
	if (heap) {
		pmt_table_column(t, "heap_allocated", PMT_ALIGN_RIGHT);
		pmt_table_column(t, "heap_peak", PMT_ALIGN_RIGHT);
		pmt_table_column(t, "heap_live_at_exit", PMT_ALIGN_RIGHT);
	}
	pmt_table_column(t, "program", PMT_ALIGN_LEFT);
	pmt_table_column(t, "log", PMT_ALIGN_LEFT);
	size_t nn = run->nprocs ? run->nprocs : 1;
	size_t *order = malloc(nn * sizeof(*order));
	uint32_t *depth = malloc(nn * sizeof(*depth));
	if (!order || !depth) {
		free(order);
		free(depth);
		pmt_table_free(t);
		return -ENOMEM;
	}
	size_t n = tree_order(run, order, depth);
	for (size_t k = 0; k < n; k++) {
		const struct pmt_run_proc *p = &run->procs[order[k]];
		if (p->pid)
			pmt_table_int(t, p->pid);
		else
			pmt_table_null(t);
		if (p->parent && run->procs[p->parent - 1].pid)
			pmt_table_int(t, run->procs[p->parent - 1].pid);
		else
			pmt_table_null(t);
		pmt_table_str(t, p->how);
		pmt_table_int(t, (int64_t)p->events);
		pmt_table_num(t, (double)p->duration_ns / 1e9, 6);
		if (p->rss) {
			pmt_table_bytes(t, p->rss_start);
			pmt_table_bytes(t, p->rss_peak);
			pmt_table_bytes(t, p->rss_end);
			pmt_table_bytes(t, p->rss_end - p->rss_start);
		} else {
			for (int i = 0; i < 4; i++)
				pmt_table_null(t);
		}
		pmt_table_str(t, p->complete);
		if (heap && p->heap) {
			pmt_table_bytes(t, (int64_t)p->heap_allocated);
			pmt_table_bytes(t, p->heap_peak);
			pmt_table_bytes(t, p->heap_live);
		} else if (heap) {
			for (int i = 0; i < 3; i++)
				pmt_table_null(t);
		}
		/* the tree as indentation, two spaces a level */
		size_t plen = strlen(p->program),
		       ind = 2 * (depth[order[k]] < 16 ? depth[order[k]] : 16);
		char *s = malloc(plen + ind + 1);
		if (!s) {
			r = -ENOMEM;
			break;
		}
		memset(s, ' ', ind);
		memcpy(s + ind, p->program, plen + 1);
		pmt_table_str(t, s);
		free(s);
		pmt_table_str(t, p->log);
	}
	free(order);
	free(depth);
	if (r < 0) {
		pmt_table_free(t);
		return r;
	}
	*out = t;
	return 0;
}

int pmt_run_kinds_table(const struct pmt_run *run, const char *title, struct pmt_table **out)
{
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0)
		return r;
	pmt_table_column(t, "kind", PMT_ALIGN_LEFT);
	pmt_table_column(t, "events", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "percent", PMT_ALIGN_RIGHT);
	for (unsigned k = 0; k < 8; k++) {
		if (!run->kinds[k])
			continue;
		pmt_table_str(t, pmt_kind_full_name(k));
		pmt_table_int(t, (int64_t)run->kinds[k]);
		pmt_table_num(t, 100.0 * (double)run->kinds[k] / (double)run->written, 2);
	}
	*out = t;
	return 0;
}

static int64_t sort_key(const struct pmt_run_func *f, int sort)
{
	return sort == 1 ? f->st.incl : sort == 2 ? (int64_t)f->st.calls : f->st.self;
}

static int cmp_funcs(const void *a, const void *b, void *ctx)
{
	const struct pmt_run_func *x = *(const struct pmt_run_func *const *)a,
				  *y = *(const struct pmt_run_func *const *)b;
	int sort = *(const int *)ctx;
	int64_t kx = sort_key(x, sort), ky = sort_key(y, sort);
	if (kx != ky)
		return kx > ky ? -1 : 1;
	int c = strcmp(x->name, y->name);
	if (!c)
		c = strcmp(x->file, y->file);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

int pmt_run_functions_table(const struct pmt_run *run, int sort, unsigned top, const char *title,
			    struct pmt_table **out)
{
	size_t n = run->nfuncs;
	const struct pmt_run_func **v = malloc((n ? n : 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = &run->funcs[i];
	qsort_r(v, n, sizeof(*v), cmp_funcs, &sort);
	struct pmt_table *t;
	int r = pmt_table_new(title, &t);
	if (r < 0) {
		free(v);
		return r;
	}
	pmt_table_column(t, "function", PMT_ALIGN_LEFT);
	pmt_table_column(t, "file", PMT_ALIGN_LEFT);
	pmt_table_column(t, "processes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "calls", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "self_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "inclusive_bytes", PMT_ALIGN_RIGHT);
	pmt_table_column(t, "inclusive_per_call", PMT_ALIGN_RIGHT);
	for (size_t i = 0; i < n && (!top || i < top); i++) {
		const struct pmt_run_func *f = v[i];
		pmt_table_strn(t, f->name, f->name_len);
		pmt_table_strn(t, f->shown, f->shown_len);
		pmt_table_int(t, f->processes);
		pmt_table_int(t, (int64_t)f->st.calls);
		pmt_table_bytes(t, f->st.self);
		pmt_table_bytes(t, f->st.incl);
		if (f->st.incl_calls)
			pmt_table_bytes_num(t, (double)f->st.incl / (double)f->st.incl_calls, 1);
		else
			pmt_table_null(t);
	}
	free(v);
	*out = t;
	return 0;
}
