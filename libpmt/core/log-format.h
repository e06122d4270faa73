/* SPDX-License-Identifier: MIT */
#pragma once
/* The pmt binary event log: constants and the decoded forms shared by the
 * writer, the readers and every tool. The byte layout is docs/FORMAT.md. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* First bytes of the decompressed stream. */
#define PMT_MAGIC "\x89PMTLOG\n"
#define PMT_MAGIC_LEN 8
#define PMT_FORMAT_VERSION 2
/* The oldest version a reader still reads: version 1 has no heap or object
 * records and otherwise the same layout. */
#define PMT_FORMAT_VERSION_MIN 1

/* Record tags. 0x10..0x17 are EVENT records whose low 3 bits are the kind;
 * every other tag is followed by a varint payload length, so a reader can
 * skip tags it does not know. */
enum pmt_tag {
	PMT_TAG_HEADER = 0x01,
	PMT_TAG_CODE = 0x02,
	PMT_TAG_THREAD = 0x03,
	PMT_TAG_MESSAGE = 0x04,
	PMT_TAG_SKIP = 0x05,
	PMT_TAG_TRAILER = 0x06,
	/* Version 2: the heap and object families (docs/FORMAT.md). */
	PMT_TAG_NAME = 0x07,   /* an interned name: object type names */
	PMT_TAG_SITE = 0x08,   /* thread, code, line of the ALLOC/OBJECT records after it */
	PMT_TAG_EVENT = 0x10,  /* | kind, 0x10..0x17 */
	PMT_TAG_ALLOC = 0x80,  /* | op (enum pmt_alloc_op), 0x80..0x8f, no length prefix */
	PMT_TAG_OBJECT = 0x90, /* | op (enum pmt_object_op), 0x90..0x9f, no length prefix */
};
#define PMT_TAG_IS_EVENT(t) (((t)&0xf8) == PMT_TAG_EVENT)
#define PMT_TAG_IS_ALLOC(t) (((t)&0xf0) == PMT_TAG_ALLOC)
#define PMT_TAG_IS_OBJECT(t) (((t)&0xf0) == PMT_TAG_OBJECT)

/* Allocator calls of an ALLOC record (the low 4 bits of its tag). */
enum pmt_alloc_op {
	PMT_ALLOC_MALLOC = 0,
	PMT_ALLOC_CALLOC = 1,
	PMT_ALLOC_REALLOC = 2,
	PMT_ALLOC_FREE = 3,
	PMT_ALLOC_FREE_NULL = 4, /* free(NULL): counted, no address */
	PMT_ALLOC_POSIX_MEMALIGN = 5,
	PMT_ALLOC_ALIGNED_ALLOC = 6,
	PMT_ALLOC_MEMALIGN = 7,
	PMT_ALLOC_VALLOC = 8,
	PMT_ALLOC_PVALLOC = 9,
	/* --heap=python: Python's allocator domains (PyMem_SetAllocator); the
	 * record carries the domain (enum pmt_alloc_domain). */
	PMT_ALLOC_PY_MALLOC = 10,
	PMT_ALLOC_PY_CALLOC = 11,
	PMT_ALLOC_PY_REALLOC = 12,
	PMT_ALLOC_PY_FREE = 13,
	PMT_ALLOC_PY_FREE_NULL = 14,
	PMT_ALLOC_OP_COUNT = 16, /* 15 is reserved */
};

/* Python allocator domains of the PMT_ALLOC_PY_* records: CPython's
 * PyMemAllocatorDomain numbers (RAW, 0, is not traced: it needs no GIL and
 * is libc malloc underneath, which --heap sees). Libc ops have domain 0. */
enum pmt_alloc_domain {
	PMT_DOMAIN_MEM = 1,
	PMT_DOMAIN_OBJ = 2,
};

/* What an op does to the heap. */
static inline bool pmt_alloc_op_frees(unsigned op)
{
	return op == PMT_ALLOC_FREE || op == PMT_ALLOC_PY_FREE;
}
static inline bool pmt_alloc_op_null_free(unsigned op)
{
	return op == PMT_ALLOC_FREE_NULL || op == PMT_ALLOC_PY_FREE_NULL;
}
static inline bool pmt_alloc_op_reallocs(unsigned op)
{
	return op == PMT_ALLOC_REALLOC || op == PMT_ALLOC_PY_REALLOC;
}
/* The C name of an op ("malloc", "free(NULL)"); domain names the Python
 * ones ("PyMem_Malloc", "PyObject_Free(NULL)"). NULL for an unknown op. */
const char *pmt_alloc_op_name(unsigned op, unsigned domain);

/* Object records (the low 4 bits of an OBJECT tag). */
enum pmt_object_op {
	PMT_OBJECT_NEW = 0,
	PMT_OBJECT_DEL = 1,
};

/* NAME record kinds. */
enum pmt_name_kind { PMT_NAME_TYPE = 0 };

/* Event kinds. The values are CPython's PyTrace_* constants, so the tracer
 * passes `what` through unchanged. */
enum pmt_kind {
	PMT_CALL = 0,
	PMT_EXCEPTION = 1,
	PMT_LINE = 2,
	PMT_RETURN = 3,
	PMT_C_CALL = 4,
	PMT_C_EXCEPTION = 5,
	PMT_C_RETURN = 6,
	PMT_OPCODE = 7,
	PMT_KIND_COUNT = 8,
};

/* Names as pymemtrace prints them in its What column (EXCEPT, C_EXCEPT). */
const char *pmt_kind_name(unsigned kind);
/* CPython's names, PyTrace_* without the prefix (EXCEPTION, C_EXCEPTION). */
const char *pmt_kind_full_name(unsigned kind);
/* Parses either name, in any case ("c_return" as CPython's hooks pass it);
 * returns the kind or -1. */
int pmt_kind_parse(const char *s, size_t len);

enum pmt_mode { PMT_MODE_PROFILE = 0, PMT_MODE_TRACE = 1 };

/* Code definition kinds. */
enum pmt_code_kind { PMT_CODE_PY = 0, PMT_CODE_C = 1 };

/* The header record, decoded. Strings are owned by whoever filled it in:
 * the writer copies what it is given; a reader keeps its own copy alive
 * until it is freed. */
struct pmt_header {
	uint32_t version;
	uint32_t pid, ppid;
	uint32_t page_size;
	const char *python_version;
	uint32_t argc;
	const char *const *argv;
	uint64_t start_wall_ns; /* CLOCK_REALTIME at start */
	uint32_t mode;		/* enum pmt_mode */
	const char *rss_source; /* "statm", ... */
	int64_t drss_trigger;	/* bytes; 0 = every event written */
	uint32_t flags;		/* PMT_HDR_* */
	uint64_t rss_start;	/* pages at start: the base of the first RSS delta */
	/* Appended fields (docs/FORMAT.md); NULL and 0 in logs without them. */
	const char *cwd;	/* working directory at the start */
	const char *stdlib_dir; /* the interpreter's standard library */
	uint32_t nsite;		/* site-packages directories */
	const char *const *site_dirs;
};
#define PMT_HDR_PREV 0x1	 /* true previous events written (--prev) */
#define PMT_HDR_CALC_NONE 0x2	 /* --calculate none: RSS not sampled */
#define PMT_HDR_FILTERED 0x4	 /* written by pmt-filter -o */
#define PMT_HDR_HEAP_LIBC 0x8	 /* --heap: every libc allocator call (ALLOC ops 0..9) */
#define PMT_HDR_HEAP_PYTHON 0x10 /* --heap=python: the MEM and OBJ domains (ops 10..14) */
#define PMT_HDR_OBJECTS 0x20	 /* --objects: OBJECT records (CPython 3.13+) */
#define PMT_HDR_NO_EVENTS 0x40	 /* no hook, no EVENT record: objects or heap alone */

struct pmt_trailer {
	uint64_t total_events;
	uint64_t end_wall_ns;
	uint64_t peak_rss; /* bytes (getrusage) */
	uint32_t flags;	   /* PMT_TRL_* */
	uint32_t signal;   /* PMT_TRL_SIGNAL: the signal the program died of */
};
#define PMT_TRL_CLEAN 0x1      /* closed by stop/exit, not by a signal */
#define PMT_TRL_HOOK_ERROR 0x2 /* the hook failed at least once */
#define PMT_TRL_CUT                                                                                \
	0x4		   /* a write failed: records are missing before the                       \
			    * trailer (a MESSAGE says why) */
#define PMT_TRL_SIGNAL 0x8 /* closed as the program died of a signal */
