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
	if (id > t->capnames) {
		uint32_t cap = t->capnames ? t->capnames : 64;
		while (cap < id)
			cap *= 2;
		char **n = realloc(t->names, (size_t)cap * sizeof(*n));
		if (!n)
			return -ENOMEM;
		memset(n + t->capnames, 0, (size_t)(cap - t->capnames) * sizeof(*n));
		t->names = n;
		t->capnames = cap;
	}
	char *c = malloc(len + 1);
	if (!c)
		return -ENOMEM;
	memcpy(c, name, len);
	c[len] = '\0';
	free(t->names[id - 1]);
	t->names[id - 1] = c;
	if (id > t->nnames)
		t->nnames = id;
	return 0;
}

int pmt_symtab_intern_name(struct pmt_symtab *t, const char *name, size_t len, uint32_t *id)
{
	/* few distinct types: a linear look from the most recent is enough */
	for (uint32_t i = t->nnames; i-- > 0;) {
		const char *n = t->names[i];
		if (n && strlen(n) == len && !memcmp(n, name, len)) {
			*id = i + 1;
			return 0;
		}
	}
	*id = t->nnames + 1;
	return pmt_symtab_set_name(t, *id, name, len);
}

const char *pmt_symtab_name(const struct pmt_symtab *t, uint32_t id)
{
	return id && id <= t->nnames ? t->names[id - 1] : NULL;
}

void pmt_symtab_free_names(struct pmt_symtab *t)
{
	for (uint32_t i = 0; i < t->nnames; i++)
		free(t->names[i]);
	free(t->names);
	t->names = NULL;
	t->nnames = t->capnames = 0;
}

const char *pmt_source_name(const struct pmt_source *s, uint32_t id)
{
	return pmt_symtab_name(&s->syms, id);
}
