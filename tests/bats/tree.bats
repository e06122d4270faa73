#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The source tree's own rules: formatting, licence lines, file sizes, the
# layers of libpmt, and an extension that carries nothing but the log core.

setup() {
	load helpers/common
	cd "$PMT_SRCDIR"
	C_FILES=$(find libpmt tracer analyze plot tests -name '*.[ch]' | sort)
}

@test "every C file is clang-formatted (.clang-format)" {
	command -v clang-format >/dev/null || fail "clang-format is not installed"
	run --separate-stderr clang-format --dry-run --Werror $C_FILES
	[ "$status" -eq 0 ] || fail "not formatted: $(printf '%s\n' "$stderr" | grep -o '^[^:]*:' | sort -u | tr '\n' ' ')"
}

@test "every source file starts with an SPDX licence line" {
	local missing=
	for f in $C_FILES $(find libpmt tracer analyze plot tests bench sample-data docs .ci \
		\( -name '*.py' -o -name '*.sh' -o -name '*.bats' -o -name '*.mk' -o -name '*.1' \) | sort) \
		Makefile.am configure.ac; do
		head -n 3 "$f" | grep -q 'SPDX-License-Identifier: MIT' || missing="$missing $f"
	done
	[ -z "$missing" ] || fail "no SPDX line:$missing"
}

@test "no C file over 800 lines" {
	local big
	big=$(wc -l $C_FILES | awk '$2 != "total" && $1 > 800 { print $2 " (" $1 ")" }')
	[ -z "$big" ] || fail "too long: $big"
}

@test "libpmt layers: core includes only core, read nothing of report" {
	run grep -ln 'libpmt/\(read\|report\)/' libpmt/core/*.[ch]
	[ -z "$output" ] || fail "core includes upper layers: $output"
	run grep -ln 'libpmt/report/' libpmt/read/*.[ch]
	[ -z "$output" ] || fail "read includes report: $output"
	# backends fill the source in; they never call back into source.c
	run grep -n 'pmt_source_[a-z_]*(' libpmt/read/backend-*.c
	[ -z "$output" ] || fail "a backend calls source.c: $output"
}

@test "the tracer extension exports PyInit_* only and links neither PCRE2 nor jansson" {
	local so="$PMT_BUILDDIR/tracer/.libs/_pmt_tracer.so"
	[ -f "$so" ] || fail "$so not built"
	run nm -D --defined-only "$so"
	assert_success
	local others
	others=$(printf '%s\n' "$output" | awk '$2 ~ /^[TDBRV]$/ && $3 !~ /^PyInit_/ { print $3 }')
	[ -z "$others" ] || fail "exported: $others"
	printf '%s\n' "$output" | grep -q ' T PyInit__pmt_tracer$' || fail "no PyInit__pmt_tracer"
	run ldd "$so"
	assert_success
	refute_output --partial pcre2
	refute_output --partial jansson
}

@test "libpmt_heap.so exports the interposed allocator and pmt_heap_abi only" {
	local so="$PMT_BUILDDIR/tracer/.libs/libpmt_heap.so"
	[ -f "$so" ] || fail "$so not built"
	run nm -D --defined-only "$so"
	assert_success
	local got
	got=$(printf '%s\n' "$output" | awk '$2 ~ /^[TDBRVW]$/ { print $3 }' | sort | tr '\n' ' ')
	[ "$got" = "aligned_alloc calloc free malloc memalign pmt_heap_abi posix_memalign pvalloc realloc reallocarray valloc " ] ||
		fail "exported: $got"
	run ldd "$so"
	assert_success
	refute_output --partial zstd
	refute_output --partial python
	refute_output --partial asan
}

@test "a tool's fuzz target includes every C file of the tool" {
	local missing= t src f
	for t in tests/fuzz/pmt-*.c; do
		src=$(basename "$t" .c | tr - _)
		# analyze_pmt_diff_SOURCES = analyze/pmt-diff.c ... (continued lines)
		for f in $(awk -v v="analyze_${src}_SOURCES" '
			$1 == v { on = 1 } on { for (i = 1; i <= NF; i++) if ($i ~ /\.c$/) print $i
				if ($NF != "\\") on = 0 }' analyze/local.mk); do
			grep -q "#include <$f>" "$t" || missing="$missing $t:$f"
		done
	done
	[ -z "$missing" ] || fail "not in the fuzz target:$missing"
}
