/* SPDX-License-Identifier: MIT */
/* Code and thread tables of an event source (see symtab.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/symtab.h>

/* Open-addressing table (kind, file, name) -> id for text formats. */
struct code_hash {
	uint32_t *slots; /* id, 0 = empty */
	uint32_t cap;	 /* power of two */
	uint32_t used;
};

static uint64_t hash_bytes(uint64_t h, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)p[i]) * 0x100000001b3ull; /* FNV-1a */
	return h;
}

static uint64_t code_key(unsigned kind, const char *file, size_t flen, const char *name,
			 size_t nlen)
{
	uint64_t h = 0xcbf29ce484222325ull ^ kind;
	h = hash_bytes(h, file, flen);
	h = hash_bytes(h ^ 0xff, name, nlen);
	return h ^ (h >> 29);
}

static char *dup_bytes(const char *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

int pmt_symtab_set_code(struct pmt_symtab *s, uint32_t id, unsigned kind, uint32_t firstline,
			const char *file, size_t file_len, const char *name, size_t name_len)
{
	if (id == 0 || id > PMT_MAX_CODE_ID)
		return PMT_E_CORRUPT;
	uint32_t pg = (id - 1) / PMT_CODE_PAGE;
	if (pg >= s->npages) {
		uint32_t n = s->npages ? s->npages : 8;
		while (n <= pg)
			n *= 2;
		struct pmt_code **p = realloc(s->pages, (size_t)n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + s->npages, 0, (size_t)(n - s->npages) * sizeof(*p));
		s->pages = p;
		s->npages = n;
	}
	if (!s->pages[pg] && !(s->pages[pg] = calloc(PMT_CODE_PAGE, sizeof(struct pmt_code))))
		return -ENOMEM;
	struct pmt_code *c = &s->pages[pg][(id - 1) % PMT_CODE_PAGE];
	char *f = dup_bytes(file, file_len), *n = dup_bytes(name, name_len);
	if (!f || !n) {
		free(f);
		free(n);
		return -ENOMEM;
	}
	free((char *)c->file);
	free((char *)c->name);
	*c = (struct pmt_code){id, (uint8_t)kind, firstline, f, file_len, n, name_len};
	if (id > s->ncodes)
		s->ncodes = id;
	return 0;
}

static int intern_grow(struct pmt_symtab *s)
{
	struct code_hash *h = s->intern;
	uint32_t cap = h->cap ? h->cap * 2 : 1024;
	uint32_t *slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < h->cap; i++) {
		uint32_t id = h->slots[i];
		if (!id)
			continue;
		const struct pmt_code *c = pmt_symtab_code(s, id);
		uint64_t k = code_key(c->kind, c->file, c->file_len, c->name, c->name_len);
		uint32_t j = (uint32_t)k & (cap - 1);
		while (slots[j])
			j = (j + 1) & (cap - 1);
		slots[j] = id;
	}
	free(h->slots);
	h->slots = slots;
	h->cap = cap;
	return 0;
}

int pmt_symtab_intern_code(struct pmt_symtab *s, unsigned kind, uint32_t firstline,
			   const char *file, size_t file_len, const char *name, size_t name_len,
			   uint32_t *id)
{
	if (!s->intern) {
		s->intern = calloc(1, sizeof(*s->intern));
		if (!s->intern)
			return -ENOMEM;
	}
	struct code_hash *h = s->intern;
	if ((h->used + 1) * 4 > h->cap * 3) {
		int r = intern_grow(s);
		if (r < 0)
			return r;
	}
	uint64_t k = code_key(kind, file, file_len, name, name_len);
	uint32_t j = (uint32_t)k & (h->cap - 1);
	for (; h->slots[j]; j = (j + 1) & (h->cap - 1)) {
		const struct pmt_code *c = pmt_symtab_code(s, h->slots[j]);
		if (c->kind == kind && c->file_len == file_len && c->name_len == name_len &&
		    !memcmp(c->file, file, file_len) && !memcmp(c->name, name, name_len)) {
			*id = c->id;
			return 0;
		}
	}
	uint32_t nid = s->ncodes + 1;
	int r = pmt_symtab_set_code(s, nid, kind, firstline, file, file_len, name, name_len);
	if (r < 0)
		return r;
	h->slots[j] = nid;
	h->used++;
	*id = nid;
	return 0;
}

int pmt_symtab_set_thread(struct pmt_symtab *s, uint32_t idx, uint64_t tid, const char *name,
			  size_t name_len)
{
	if (idx > (1u << 24))
		return PMT_E_CORRUPT;
	uint32_t pg = idx / PMT_CODE_PAGE;
	if (pg >= s->ntpages) {
		uint32_t n = s->ntpages ? s->ntpages : 1;
		while (n <= pg)
			n *= 2;
		struct pmt_thread **p = realloc(s->tpages, (size_t)n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memset(p + s->ntpages, 0, (size_t)(n - s->ntpages) * sizeof(*p));
		s->tpages = p;
		s->ntpages = n;
	}
	if (!s->tpages[pg] && !(s->tpages[pg] = calloc(PMT_CODE_PAGE, sizeof(struct pmt_thread))))
		return -ENOMEM;
	struct pmt_thread *t = &s->tpages[pg][idx % PMT_CODE_PAGE];
	if (name || !t->name) {
		char *n = dup_bytes(name ? name : "", name ? name_len : 0);
		if (!n)
			return -ENOMEM;
		free((char *)t->name);
		t->name = n;
	}
	t->idx = idx;
	if (tid)
		t->tid = tid;
	if (idx >= s->nthreads)
		s->nthreads = idx + 1;
	return 0;
}

void pmt_symtab_free(struct pmt_symtab *s)
{
	/* ids need not be dense: only the slots that were set hold strings */
	for (uint32_t p = 0; p < s->npages; p++) {
		for (uint32_t i = 0; s->pages[p] && i < PMT_CODE_PAGE; i++) {
			if (!s->pages[p][i].id)
				continue;
			free((char *)s->pages[p][i].file);
			free((char *)s->pages[p][i].name);
		}
		free(s->pages[p]);
	}
	free(s->pages);
	if (s->intern)
		free(s->intern->slots);
	free(s->intern);
	for (uint32_t p = 0; p < s->ntpages; p++) {
		for (uint32_t i = 0; s->tpages[p] && i < PMT_CODE_PAGE; i++)
			if (s->tpages[p][i].name) /* free(NULL) costs a stack trace in ASan */
				free((char *)s->tpages[p][i].name);
		free(s->tpages[p]);
	}
	free(s->tpages);
	pmt_symtab_free_names(s);
	*s = (struct pmt_symtab){0};
}

const struct pmt_code *pmt_symtab_code(const struct pmt_symtab *s, uint32_t id)
{
	if (id == 0 || id > s->ncodes)
		return NULL;
	const struct pmt_code *p = s->pages[(id - 1) / PMT_CODE_PAGE];
	if (!p || !p[(id - 1) % PMT_CODE_PAGE].id)
		return NULL;
	return &p[(id - 1) % PMT_CODE_PAGE];
}

const struct pmt_code *pmt_symtab_next_code(const struct pmt_symtab *s, uint32_t id)
{
	while (id < s->ncodes) {
		const struct pmt_code *p = s->pages[id / PMT_CODE_PAGE];
		if (!p) {
			id = (id / PMT_CODE_PAGE + 1) * PMT_CODE_PAGE; /* a page of none */
			continue;
		}
		if (p[id % PMT_CODE_PAGE].id)
			return &p[id % PMT_CODE_PAGE];
		id++;
	}
	return NULL;
}

const struct pmt_thread *pmt_symtab_thread(const struct pmt_symtab *s, uint32_t idx)
{
	if (idx >= s->nthreads)
		return NULL;
	const struct pmt_thread *p = s->tpages[idx / PMT_CODE_PAGE];
	if (!p || !p[idx % PMT_CODE_PAGE].name)
		return NULL;
	return &p[idx % PMT_CODE_PAGE];
}
