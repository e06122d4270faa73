#!/bin/sh
# SPDX-License-Identifier: MIT
# Analyser throughput and memory: pmt-filter --drss 4096 and pmt-summarise on
# a 2 M and a 20 M event log made by the deterministic generator, against
# `zstdcat | awk` running the same query over the same events in pymemtrace's
# text layout, in the same run. Peak RSS must not grow with the log. Then
# parallel decode on a real tracer log against zstd -d (below).
#
#   bench/analysers.sh [BUILDDIR]      (default: the current directory)
# PMT_BENCH_LOG=FILE: the parallel decode part alone, on that tracer log.
# Not a timed test: prints a table for the README.
set -eu
B=$(cd "${1:-.}" && pwd)
MKLOG="$B/tests/bats/helpers/mklog"
FILTER="$B/analyze/pmt-filter"
SUMMARISE="$B/analyze/pmt-summarise"
REPORT="$B/plot/pmt-report"
FLAME="$B/plot/pmt-flamegraph"
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

[ -n "${PMT_BENCH_LOG:-}" ] || printf '%-10s %-34s %10s %8s %14s %10s\n' \
	events tool events_total seconds events_per_s peak_kib
for n in ${PMT_BENCH_LOG:+none} 2000000 20000000; do
	[ "$n" != none ] || break
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

# Parallel decode: a real tracer log of bench/calls.py (about 37 M events),
# read with --threads 1 and the default (one per CPU), against `zstd -d` of
# the same file; medians of interleaved runs, ratios to zstd -d. Needs the
# tracer built (pylib/) and Python; PMT_BENCH_CALLS_SCALE sets its size.
PY=${PYTHON:-python3}
REPS=${BENCH_REPS:-7}
[ "$REPS" -ge 3 ] || REPS=3
log=${PMT_BENCH_LOG:-$W/calls.log.zst}
[ -n "${PMT_BENCH_LOG:-}" ] || PYTHONPATH="$B/pylib" "$PY" -m pmt_tracer -q -f -o "$log" \
	"$(dirname "$0")/calls.py" --scale "${PMT_BENCH_CALLS_SCALE:-1.4}" >/dev/null
events=$("$SUMMARISE" --format csv "$log" | awk -F, 'NR == 2 { print $3; exit }')
cpus=$(getconf _NPROCESSORS_ONLN)
echo
echo "# parallel decode: $events events of ${PMT_BENCH_LOG:-bench/calls.py}, $(stat -c %s "$log") bytes, $cpus CPUs, median of $REPS interleaved runs"
set -- "zstd -d" "zstd -d -c '$log'" \
	"pmt-filter --drss 4096 --threads 1" "'$FILTER' --drss 4096 --threads 1 '$log'" \
	"pmt-filter --drss 4096" "'$FILTER' --drss 4096 '$log'" \
	"pmt-summarise --threads 1" "'$SUMMARISE' --threads 1 '$log'" \
	"pmt-summarise" "'$SUMMARISE' '$log'" \
	"pmt-flamegraph" "'$FLAME' -o '$W/f.svg' '$log'" \
	"pmt-report" "'$REPORT' -o '$W/r.html' '$log'"
: >"$W/runs"
for r in $(seq "$REPS"); do
	i=0
	while [ $i -lt $# ]; do
		eval "name=\${$((i + 1))}; cmd=\${$((i + 2))}"
		/usr/bin/time -f '%e %M' -o "$W/t" sh -c "$cmd >/dev/null"
		echo "$name|$(cat "$W/t")" >>"$W/runs"
		i=$((i + 2))
	done
done
awk -F'|' '
	{ split($2, v, " "); n[$1]++; t[$1, n[$1]] = v[1]; if (v[2] > k[$1]) k[$1] = v[2]
	  if (!($1 in seen)) { seen[$1] = 1; order[++m] = $1 } }
	function median(name,   i, j, c, x) {
		c = n[name]
		for (i = 1; i <= c; i++) x[i] = t[name, i]
		for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (x[j] < x[i]) { y = x[i]; x[i] = x[j]; x[j] = y }
		return (c % 2) ? x[(c + 1) / 2] : (x[c / 2] + x[c / 2 + 1]) / 2
	}
	END {
		z = median("zstd -d")
		printf "%-36s %8s %10s %10s\n", "tool", "seconds", "/ zstd -d", "peak_kib"
		for (i = 1; i <= m; i++) {
			s = median(order[i])
			printf "%-36s %8.2f %10s %10d\n", order[i], s, sprintf("x%.2f", s / z), k[order[i]]
		}
	}' "$W/runs"
