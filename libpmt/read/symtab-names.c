/* SPDX-License-Identifier: MIT */
/* The interned names of an event source (object type names): by id for pmt
 * logs (NAME records), by text for pymemtrace's ReferenceTracing logs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/backend.h>
#include <libpmt/read/symtab.h>

#define MAX_NAMES (1u << 24)

int pmt_symtab_set_name(struct pmt_symtab *t, uint32_t id, const char *name, size_t len)
{
	if (id == 0 || id > MAX_NAMES || len > 4096)
		return PMT_E_CORRUPT;
	t->names.elem = sizeof(char *);
	char **slot = pmt_pages_at(&t->names, id - 1);
	char *c = slot ? malloc(len + 1) : NULL;
	if (!c)
		return -ENOMEM;
	memcpy(c, name, len);
	c[len] = '\0';
	free(*slot);
	*slot = c;
	if (id > t->nnames)
		t->nnames = id;
	return 0;
}

int pmt_symtab_intern_name(struct pmt_symtab *t, const char *name, size_t len, uint32_t *id)
{
	/* few distinct types: a linear look from the most recent is enough */
	for (uint32_t i = t->nnames; i > 0; i--) {
		const char *n = pmt_symtab_name(t, i);
		if (n && strlen(n) == len && !memcmp(n, name, len)) {
			*id = i;
			return 0;
		}
	}
	*id = t->nnames + 1;
	return pmt_symtab_set_name(t, *id, name, len);
}

const char *pmt_symtab_name(const struct pmt_symtab *t, uint32_t id)
{
	char **n = id ? pmt_pages_get(&t->names, id - 1) : NULL;
	return n ? *n : NULL;
}

void pmt_symtab_free_names(struct pmt_symtab *t)
{
	for (uint32_t pg = 0; pg < t->names.npages; pg++)
		for (uint32_t i = 0; t->names.page[pg] && i < PMT_PAGES_N; i++)
			free(((char **)t->names.page[pg])[i]);
	pmt_pages_free(&t->names);
	t->nnames = 0;
}

const char *pmt_source_name(const struct pmt_source *s, uint32_t id)
{
	return pmt_symtab_name(&s->syms, id);
}
