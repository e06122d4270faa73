#!/bin/sh
# SPDX-License-Identifier: MIT
# make fuzz / make fuzz-build (tests/fuzz/local.mk sets the environment):
#   run.sh SRCDIR OUTDIR fuzz|fuzz-build
# Builds libpmt and every target with $FUZZ_CC under libFuzzer, ASan and
# UBSan into OUTDIR/bin, then (fuzz) runs each target for $FUZZ_SECONDS
# seconds, one at a time, on a copy of its seed corpus plus every regression
# input. Exit 1 when a target found anything: the input is in
# OUTDIR/artifacts/ and belongs in tests/fuzz/regress/ once fixed.
set -eu
src=$1
out=$2
what=$3
cc=${FUZZ_CC:-clang}
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cflags="-g -O1 $san -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers"

if ! command -v "$cc" >/dev/null 2>&1; then
	echo "make fuzz: $cc not found (Debian: apt-get install clang libclang-rt-14-dev)" >&2
	exit 2
fi
mkdir -p "$out/obj" "$out/bin"

# libpmt with coverage instrumentation: rebuilt when a source or header is newer
newest_h=$(ls -t "$src"/libpmt/*/*.h | head -n 1)
objs=
todo=
for f in $FUZZ_LIBPMT_C; do
	o="$out/obj/$(echo "$f" | tr / _).o"
	objs="$objs $o"
	case $f in /*) p=$f ;; *) p=$src/$f ;; esac # generated ones are in the build tree
	if [ ! -e "$o" ] || [ "$p" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then
		todo="$todo $f"
	fi
done
# two compilers at a time; xargs fails when one does
export cc cflags src out FUZZ_CPPFLAGS
# shellcheck disable=SC2016,SC2086
[ -z "$todo" ] || printf '%s\n' $todo | xargs -P 2 -I{} sh -c \
	'o="$out/obj/$(echo {} | tr / _).o"; case {} in /*) p={} ;; *) p="$src/{}" ;; esac; $cc $cflags -fsanitize=fuzzer-no-link $FUZZ_CPPFLAGS -c "$p" -o "$o.tmp" && mv "$o.tmp" "$o"'

for t in $FUZZ_TARGETS; do
	bin="$out/bin/$t"
	if [ ! -e "$bin" ] || [ "$src/tests/fuzz/$t.c" -nt "$bin" ] ||
		[ -n "$(find "$out/obj" "$src/tests/fuzz" "$src/analyze" -newer "$bin" \( -name '*.[cho]' \) | head -n 1)" ]; then
		echo "  FUZZCC   $t" >&2
		# shellcheck disable=SC2086
		$cc $cflags -fsanitize=fuzzer $FUZZ_CPPFLAGS -I"$src/tests/fuzz" \
			"$src/tests/fuzz/$t.c" $objs $FUZZ_LIBS -o "$bin"
	fi
done
[ "$what" = fuzz-build ] && exit 0

seconds=${FUZZ_SECONDS:-60}
failed=
mkdir -p "$out/artifacts"
for t in $FUZZ_TARGETS; do
	work="$out/work/$t"
	mkdir -p "$work"
	seeds="$src/tests/fuzz/corpus/$t"
	[ -d "$seeds" ] || seeds=
	echo "  FUZZ     $t ($seconds s)" >&2
	log="$out/$t.log"
	# shellcheck disable=SC2086
	if "$out/bin/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
		-close_fd_mask=3 -print_final_stats=1 -artifact_prefix="$out/artifacts/$t-" \
		${FUZZ_FLAGS:-} "$work" $seeds "$src/tests/fuzz/regress" >"$log" 2>&1; then
		grep -E '^(#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec)' "$log" |
			tr '\n' ' ' | sed 's/^/           /; s/$/\n/' >&2
	else
		failed="$failed $t"
		grep -E 'ERROR|runtime error|invariant broken|Test unit written' "$log" | head -n 5 >&2 || true
		echo "  FAIL     $t: see $log" >&2
	fi
done
if [ -n "$failed" ]; then
	echo "make fuzz: findings in:$failed; each input in $out/artifacts/ goes into tests/fuzz/regress/ with its fix" >&2
	exit 1
fi
