#!/bin/sh
# SPDX-License-Identifier: MIT
# The picture tools against pmt-summarise: wall time and peak RSS of
# pmt-summarise, pmt-summarise --folded, pmt-flamegraph and pmt-report on a
# 2 M and a 30 M event log made by the deterministic generator, and on a
# real log when one is given. Peak RSS must not grow with the log, and the
# SVG's size must not either.
#
#   bench/pictures.sh [BUILDDIR [REAL.log.zst...]]   (REPS=N: best of N, default 3)
# Not a timed test: prints a table for docs/BENCHMARKS.md.
set -eu
B=$(cd "${1:-.}" && pwd)
REPS=${REPS:-3}
MKLOG="$B/tests/bats/helpers/mklog"
[ -x "$MKLOG" ] || (cd "$B" && make -s tests/bats/helpers/mklog)
for p in "$B/analyze/pmt-summarise" "$B/plot/pmt-flamegraph" "$B/plot/pmt-report" /usr/bin/time; do
	[ -x "$p" ] || { echo "pictures.sh: $p missing" >&2; exit 2; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT INT TERM

# least CPU time (user + system) of REPS runs, its wall time and peak RSS
# (KiB): "cpu secs kib" (CPU time: these machines are shared)
best_of() {
	best=""
	i=0
	while [ "$i" -lt "$REPS" ]; do
		/usr/bin/time -f '%U %S %e %M' -o "$W/t" "$@" >/dev/null 2>&1
		r=$(awk '{ printf "%.2f %s %s", $1 + $2, $3, $4 }' "$W/t")
		if [ -z "$best" ] || awk -v a="${r%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
			best=$r
		fi
		i=$((i + 1))
	done
	echo "$best"
}

printf '| %s | %s | %s | %s | %s | %s |\n' log tool "CPU s" "wall s" "peak RSS (KiB)" "output bytes"
printf '|---|---|---:|---:|---:|---:|\n'
run_all() {
	name=$1 log=$2
	for t in summarise folded flamegraph report; do
		case $t in
		summarise) set -- "$B/analyze/pmt-summarise" "$log"; out=/dev/null; what="pmt-summarise" ;;
		folded) set -- "$B/analyze/pmt-summarise" --folded "$log"; out=/dev/null; what="pmt-summarise --folded" ;;
		flamegraph) out="$W/f.svg"; set -- "$B/plot/pmt-flamegraph" "$log" -o "$out"; what="pmt-flamegraph" ;;
		report) out="$W/r.html"; set -- "$B/plot/pmt-report" "$log" -o "$out"; what="pmt-report" ;;
		esac
		r=$(best_of "$@")
		size=$([ "$out" = /dev/null ] && echo "" || stat -c %s "$out")
		set -- $r
		printf '| %s | %s | %s | %s | %s | %s |\n' "$name" "$what" "$1" "$2" "$3" "$size"
	done
}
for n in 2000000 30000000; do
	"$MKLOG" "$W/$n.log.zst" "$n" 1 2
	run_all "mklog, $n events" "$W/$n.log.zst"
	rm -f "$W/$n.log.zst"
done
[ $# -gt 0 ] && shift
for real in "$@"; do
	run_all "$(basename "$real"), $("$B/analyze/pmt-summarise" --format csv "$real" | awk -F, 'NR == 2 { print $3 }') events" "$real"
done
