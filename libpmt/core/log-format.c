/* SPDX-License-Identifier: MIT */
/* The one table of event-kind names. */
#include <string.h>
#include <strings.h>

#include <libpmt/core/log-format.h>

static const struct {
	const char *pymt; /* pymemtrace's What column */
	const char *full; /* CPython's PyTrace_* name, without the prefix */
} kind_names[PMT_KIND_COUNT] = {
    [PMT_CALL] = {"CALL", "CALL"},
    [PMT_EXCEPTION] = {"EXCEPT", "EXCEPTION"},
    [PMT_LINE] = {"LINE", "LINE"},
    [PMT_RETURN] = {"RETURN", "RETURN"},
    [PMT_C_CALL] = {"C_CALL", "C_CALL"},
    [PMT_C_EXCEPTION] = {"C_EXCEPT", "C_EXCEPTION"},
    [PMT_C_RETURN] = {"C_RETURN", "C_RETURN"},
    [PMT_OPCODE] = {"OPCODE", "OPCODE"},
};

const char *pmt_kind_name(unsigned kind)
{
	return kind < PMT_KIND_COUNT ? kind_names[kind].pymt : "?";
}

const char *pmt_kind_full_name(unsigned kind)
{
	return kind < PMT_KIND_COUNT ? kind_names[kind].full : "?";
}

int pmt_kind_parse(const char *s, size_t len)
{
	for (unsigned k = 0; k < PMT_KIND_COUNT; k++) {
		const char *a = kind_names[k].pymt, *b = kind_names[k].full;
		if ((strlen(a) == len && !strncasecmp(a, s, len)) ||
		    (strlen(b) == len && !strncasecmp(b, s, len)))
			return (int)k;
	}
	return -1;
}

const char *pmt_alloc_op_name(unsigned op, unsigned domain)
{
	static const char *const libc[] = {
	    [PMT_ALLOC_MALLOC] = "malloc",
	    [PMT_ALLOC_CALLOC] = "calloc",
	    [PMT_ALLOC_REALLOC] = "realloc",
	    [PMT_ALLOC_FREE] = "free",
	    [PMT_ALLOC_FREE_NULL] = "free(NULL)",
	    [PMT_ALLOC_POSIX_MEMALIGN] = "posix_memalign",
	    [PMT_ALLOC_ALIGNED_ALLOC] = "aligned_alloc",
	    [PMT_ALLOC_MEMALIGN] = "memalign",
	    [PMT_ALLOC_VALLOC] = "valloc",
	    [PMT_ALLOC_PVALLOC] = "pvalloc",
	};
	static const char *const py[2][5] = {
	    {"PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc", "PyMem_Free", "PyMem_Free(NULL)"},
	    {"PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc", "PyObject_Free",
	     "PyObject_Free(NULL)"},
	};
	if (op <= PMT_ALLOC_PVALLOC)
		return libc[op];
	if (op >= PMT_ALLOC_PY_MALLOC && op <= PMT_ALLOC_PY_FREE_NULL &&
	    (domain == PMT_DOMAIN_MEM || domain == PMT_DOMAIN_OBJ))
		return py[domain - 1][op - PMT_ALLOC_PY_MALLOC];
	return NULL;
}
