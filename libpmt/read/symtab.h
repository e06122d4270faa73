/* SPDX-License-Identifier: MIT */
#pragma once
/* The code and thread tables of an event source: what every backend fills
 * in (by id for pmt logs, by name for text formats) and every tool looks up.
 * Ownership: the table owns copies of all strings; pmt_symtab_free() frees
 * them (the struct itself belongs to the caller). */
#include <stddef.h>
#include <stdint.h>

#include <libpmt/core/pages.h>

#include <libpmt/read/source.h>

/* The largest CODE id (docs/FORMAT.md, "Value ranges"): tables indexed by
 * id stay bounded whatever the log says. */
#define PMT_MAX_CODE_ID (1u << 24)

#define PMT_CODE_PAGE 1024u
struct pmt_symtab {
	/* code id is pages[(id - 1) / PMT_CODE_PAGE][(id - 1) % PMT_CODE_PAGE]
	 * (pages of undefined ids are NULL; an undefined id has .id == 0), so a
	 * log defining a few high ids costs a few pages, not an array up to them */
	struct pmt_code **pages;
	uint32_t ncodes, npages;
	struct code_hash *intern; /* (kind, file, name) -> id, for text formats */

	/* thread idx in tpages[idx / PMT_CODE_PAGE][idx % PMT_CODE_PAGE], the
	 * same way (an undefined one has a NULL name) */
	struct pmt_thread **tpages;
	uint32_t nthreads, ntpages;

	/* names (char *) at id - 1: interned names (object types), NULL when
	 * undefined; nnames: the highest id defined */
	struct pmt_pages names;
	uint32_t nnames;
};

void pmt_symtab_free(struct pmt_symtab *t);

/* Defines code id (ids need not be dense; gaps stay undefined). Copies the
 * strings; redefining an id replaces it. 0, PMT_E_CORRUPT for an id out of
 * range, or -ENOMEM. */
int pmt_symtab_set_code(struct pmt_symtab *t, uint32_t id, unsigned kind, uint32_t firstline,
			const char *file, size_t file_len, const char *name, size_t name_len);
/* Finds or makes the id of (kind, file, name), for formats that carry names
 * instead of ids; firstline is kept from the first sight. 0 or -errno. */
int pmt_symtab_intern_code(struct pmt_symtab *t, unsigned kind, uint32_t firstline,
			   const char *file, size_t file_len, const char *name, size_t name_len,
			   uint32_t *id);
/* Defines or renames thread idx (name NULL keeps the old one). 0 or -errno. */
int pmt_symtab_set_thread(struct pmt_symtab *t, uint32_t idx, uint64_t tid, const char *name,
			  size_t name_len);

/* Defines name id (>= 1), copying the bytes. 0, PMT_E_CORRUPT, -ENOMEM
 * (symtab-names.c). */
int pmt_symtab_set_name(struct pmt_symtab *t, uint32_t id, const char *name, size_t len);
/* The id of name, made on first sight (text formats). 0 or -errno. */
int pmt_symtab_intern_name(struct pmt_symtab *t, const char *name, size_t len, uint32_t *id);
const char *pmt_symtab_name(const struct pmt_symtab *t, uint32_t id);
void pmt_symtab_free_names(struct pmt_symtab *t);

const struct pmt_code *pmt_symtab_code(const struct pmt_symtab *t, uint32_t id);
/* The defined code with the smallest id above id (0: the first), or NULL:
 * a walk over the defined codes costs their pages, not the highest id. */
const struct pmt_code *pmt_symtab_next_code(const struct pmt_symtab *t, uint32_t id);
const struct pmt_thread *pmt_symtab_thread(const struct pmt_symtab *t, uint32_t idx);
