#!/bin/sh
# SPDX-License-Identifier: MIT
# Analyser throughput and memory: pmt-filter --drss 4096 and pmt-summarise on
# a 2 M and a 20 M event log made by the deterministic generator, against
# `zstdcat | awk` running the same query over the same events in pymemtrace's
# text layout, in the same run. Peak RSS must not grow with the log.
#
#   bench/analysers.sh [BUILDDIR]      (default: the current directory)
# Not a timed test: prints a table for the README.
set -eu
B=$(cd "${1:-.}" && pwd)
MKLOG="$B/tests/bats/helpers/mklog"
FILTER="$B/analyze/pmt-filter"
SUMMARISE="$B/analyze/pmt-summarise"
[ -x "$MKLOG" ] || (cd "$B" && make -s tests/bats/helpers/mklog)
for p in "$FILTER" "$SUMMARISE" /usr/bin/time zstd awk; do
	command -v "$p" >/dev/null || { echo "analysers.sh: $p missing" >&2; exit 2; }
done
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT INT TERM

# seconds and peak RSS (KiB) of a command: "secs kib"
measure() {
	/usr/bin/time -f '%e %M' -o "$W/t" "$@" >/dev/null
	cat "$W/t"
}

best_of() {
	# best wall time of 3 runs (these machines are noisy); RSS of that run
	n=$1
	shift
	best=""
	for _ in 1 2 3; do
		r=$(measure "$@")
		if [ -z "$best" ] || awk -v a="${r% *}" -v b="${best% *}" 'BEGIN { exit !(a < b) }'; then
			best=$r
		fi
	done
	echo "$best"
}

# The query in awk over pymemtrace's layout: |RSS - RSS at last kept| >= 4096.
AWK_DRSS='$1 == "NEXT:" { r = $(NF - 1); if (!s) { ref = r - $NF; s = 1 }
	d = r - ref; if (d < 0) d = -d; if (d >= 4096) { n++; ref = r } } END { print n }'

printf '%-10s %-34s %10s %8s %14s %10s\n' events tool events_total seconds events_per_s peak_kib
for n in 2000000 20000000; do
	log="$W/$n.log.zst"
	"$MKLOG" "$log" "$n" 1 2
	txt="$W/$n.txt.zst"
	"$FILTER" "$log" | zstd -q -1 -T0 -o "$txt"
	for t in filter summarise awk; do
		case $t in
		filter) r=$(best_of "$n" "$FILTER" --drss 4096 "$log"); what="pmt-filter --drss 4096" ;;
		summarise) r=$(best_of "$n" "$SUMMARISE" "$log"); what="pmt-summarise" ;;
		awk) r=$(best_of "$n" sh -c "zstdcat '$txt' | awk '$AWK_DRSS'"); what="zstdcat | awk (same query)" ;;
		esac
		s=${r% *}
		k=${r#* }
		eps=$(awk -v n="$n" -v s="$s" 'BEGIN { printf "%.0f", (s > 0) ? (n / s) : 0 }')
		printf '%-10s %-34s %10s %8s %14s %10s\n' "$n" "$what" "$n" "$s" "$eps" "$k"
	done
	# the two answers agree
	a=$("$FILTER" --drss 4096 --format csv "$log" | tail -n +2 | wc -l)
	w=$(zstdcat "$txt" | awk "$AWK_DRSS")
	[ "$a" = "$w" ] || echo "analysers.sh: pmt-filter kept $a events, awk $w" >&2
	echo "# $n events: pmt log $(stat -c %s "$log") bytes, text $(stat -c %s "$txt") bytes (zstd -1); $a kept"
	rm -f "$log" "$txt"
done
