#!/bin/sh
# SPDX-License-Identifier: MIT
# The demo (`make demo`): makes the sample LAS data, runs the sample workload
# untraced and traced, and runs every pmt tool on the results. Everything is
# written under BUILDDIR/demo/.
#
#   sample-data/demo.sh SRCDIR BUILDDIR PYTHON
set -eu
S=$(cd "$1" && pwd)
B=$(cd "$2" && pwd)
PY=$3
D=$B/demo
PYTHONPATH=$B/pylib
PATH=$B/analyze:$B/plot:$PATH
export PYTHONPATH PATH

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { # show FILE [LINES]: the first lines of an output, as a person would look
	sed -n "1,${2:-25}p" "$1"
	n=$(wc -l <"$1")
	[ "$n" -le "${2:-25}" ] || echo "... ($n lines in $1)"
}

rm -rf "$D"
mkdir -p "$D"
# run from the demo directory, as a user runs their own program from theirs
cp "$S/sample-data/lastohtml.py" "$S/sample-data/gen_las.py" "$D"
cd "$D"
step "sample data: LAS well logs"
"$PY" "$S/sample-data/gen_las.py" "$D/las"
du -sh "$D/las"

step "1. untraced run, process monitor every 0.1 s into LASToHTML.log"
"$PY" "$S/sample-data/lastohtml.py" "$D/las" "$D/untraced" --log-process 0.1

step "2. traced run: every call and return (python -m pmt_tracer)"
"$PY" -m pmt_tracer -o run.log.zst --force lastohtml.py las traced --log-process 0.1

step "3. traced run, RSS changes of a page or more and the event before each"
"$PY" -m pmt_tracer -o run-drss.log.zst --force --drss -1 --prev lastohtml.py las traced-drss

step "4. traced run on 1.5x the data, to compare"
"$PY" "$S/sample-data/gen_las.py" "$D/las-big" --scale 1.5 >/dev/null
"$PY" -m pmt_tracer -o run-big.log.zst --force lastohtml.py las-big traced-big

step "pmt-summarise run.log.zst"
pmt-summarise --top 15 "$D/run.log.zst" >"$D/summary.txt"
pmt-summarise --top 15 --format rst "$D/run.log.zst" >"$D/summary.rst"
show "$D/summary.txt" 40

step "pmt-summarise --folded (an RSS flame graph's input)"
pmt-summarise --folded "$D/run.log.zst" >"$D/run.folded"
echo "heaviest stacks (bytes of RSS growth, innermost frame last):"
awk '{ print $NF "\t" $0 }' "$D/run.folded" | sort -n -r | cut -f2- | head -n 3 | cut -c1-300

step "pmt-flamegraph: where RSS grew, and where it grew more on 1.5x the data"
pmt-flamegraph run.log.zst -o rss.svg
pmt-flamegraph --diff run.log.zst run-big.log.zst -o rss-diff.svg
ls -l rss.svg rss-diff.svg

step "pmt-report: one HTML page with all of it"
pmt-report run.log.zst traced/LASToHTML.log -o report.html
ls -l report.html

step "pmt-filter --drss 4096 run.log.zst"
pmt-filter --drss 4096 "$D/run.log.zst" >"$D/filter-drss.txt"
show "$D/filter-drss.txt" 12

step "pmt-prev run.log.zst (each RSS jump and the event just before it)"
pmt-prev "$D/run.log.zst" >"$D/prev.txt"
show "$D/prev.txt" 12

step "pmt-summarise run-drss.log.zst (the filtered log keeps exact event counts)"
pmt-summarise --top 5 "$D/run-drss.log.zst" >"$D/summary-drss.txt"
show "$D/summary-drss.txt" 12

step "pmt-diff run.log.zst run-big.log.zst"
status=0
pmt-diff "$D/run.log.zst" "$D/run-big.log.zst" >"$D/diff.txt" || status=$?
[ "$status" -le 1 ] || exit "$status"
show "$D/diff.txt" 25

step "pmt-summarise LASToHTML.log (process monitor: pymemtrace's per-PID table)"
pmt-summarise "$D/untraced/LASToHTML.log" >"$D/process-table.txt"
show "$D/process-table.txt" 15

step "pmt-diff on process logs: the tech note's Summary table"
pmt-diff --format rst "$D/untraced/LASToHTML.log" "$D/traced/LASToHTML.log" \
	>"$D/process-diff.rst" || [ $? -le 1 ]
show "$D/process-diff.rst"

step "pmt-gnuplot: RSS, page faults and CPU over time; RSS over events"
mkdir -p "$D/plots"
cp "$D/untraced/LASToHTML.log" "$D/LASToHTML-untraced.log"
cp "$D/traced/LASToHTML.log" "$D/LASToHTML-traced.log"
pmt-gnuplot "$D/LASToHTML-untraced.log" "$D/plots"
pmt-gnuplot "$D/LASToHTML-traced.log" "$D/plots"
pmt-gnuplot "$D/run.log.zst" "$D/plots"
ls -l "$D/plots"/*.svg

step "done: everything is in $D"
