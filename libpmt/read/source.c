/* SPDX-License-Identifier: MIT */
/* The event source: dispatch to the backend of the input's format. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpmt/core/errors.h>
#include <libpmt/read/backend.h>
#include <libpmt/read/symtab.h>

int pmt_source_new(struct pmt_input *in, struct pmt_source **out)
{
	struct pmt_source *s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->in = in;
	s->type = pmt_input_type(in);
	int r;
	switch (s->type) {
	case PMT_INPUT_PMT:
		r = pmt_backend_pmt_init(s);
		break;
	case PMT_INPUT_PYMEMTRACE:
		r = pmt_backend_pymt_init(s);
		break;
	case PMT_INPUT_REFTRACE:
		r = pmt_backend_reftrace_init(s);
		break;
	case PMT_INPUT_EMPTY:
		/* nothing decoded: either really empty, or cut inside its first frame */
		r = pmt_input_truncated(in) ? PMT_E_TRUNCATED : PMT_E_EMPTY;
		break;
	default:
		r = PMT_E_TYPE;
		break;
	}
	if (r < 0) {
		s->in = NULL; /* the caller keeps in on failure */
		pmt_source_free(s);
		return r;
	}
	*out = s;
	return 0;
}

int pmt_source_open(const char *path, struct pmt_source **out)
{
	struct pmt_input *in;
	int r = pmt_input_open(path, &in);
	if (r < 0)
		return r;
	r = pmt_source_new(in, out);
	if (r < 0)
		pmt_input_free(in);
	return r;
}

void pmt_source_free(struct pmt_source *s)
{
	if (!s)
		return;
	if (s->ops && s->ops->free)
		s->ops->free(s->state);
	pmt_symtab_free(&s->syms);
	free(s->argv_store);
	free((void *)s->hdr.argv);
	pmt_input_free(s->in);
	free(s);
}

int pmt_source_next(struct pmt_source *s, struct pmt_item *it) { return s->ops->next(s, it); }

int pmt_source_next_batch(struct pmt_source *s, struct pmt_item *items, unsigned n)
{
	if (s->ops->next_batch)
		return s->ops->next_batch(s, items, n);
	if (n == 0)
		return 0;
	int r = s->ops->next(s, items);
	return r > 0 ? 1 : r;
}

void pmt_source_skip_flat(struct pmt_source *s, bool on) { s->skip_flat = on; }

enum pmt_input_type pmt_source_type(const struct pmt_source *s) { return s->type; }

struct pmt_input *pmt_source_input(struct pmt_source *s) { return s->in; }

const struct pmt_header *pmt_source_header(const struct pmt_source *s) { return &s->hdr; }

const struct pmt_trailer *pmt_source_trailer(const struct pmt_source *s)
{
	return s->has_trailer ? &s->trl : NULL;
}

const struct pmt_code *pmt_source_code(const struct pmt_source *s, uint32_t id)
{
	return pmt_symtab_code(&s->syms, id);
}

uint32_t pmt_source_code_count(const struct pmt_source *s) { return s->syms.ncodes; }

const struct pmt_code *pmt_source_next_code(const struct pmt_source *s, uint32_t id)
{
	return pmt_symtab_next_code(&s->syms, id);
}

const struct pmt_thread *pmt_source_thread(const struct pmt_source *s, uint32_t idx)
{
	return pmt_symtab_thread(&s->syms, idx);
}

uint32_t pmt_source_thread_count(const struct pmt_source *s) { return s->syms.nthreads; }

bool pmt_source_truncated(const struct pmt_source *s)
{
	return s->truncated || pmt_input_truncated(s->in);
}

bool pmt_source_live(const struct pmt_source *s)
{
	return s->type == PMT_INPUT_PMT && !s->has_trailer && pmt_source_truncated(s) &&
	       pmt_input_growing(s->in, s->hdr.pid);
}

uint64_t pmt_source_events(const struct pmt_source *s) { return s->events; }

const char *pmt_source_detail(const struct pmt_source *s) { return s->detail; }
