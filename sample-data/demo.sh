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
"$PY" gen_las.py las
du -sh las

step "1. untraced run, process monitor every 0.1 s into LASToHTML.log"
"$PY" lastohtml.py las untraced --log-process 0.1

step "2. traced run: every call and return (python -m pmt_tracer)"
"$PY" -m pmt_tracer -o run.log.zst --force lastohtml.py las traced --log-process 0.1

step "3. traced run, RSS changes of a page or more and the event before each"
"$PY" -m pmt_tracer -o run-drss.log.zst --force --drss -1 --prev lastohtml.py las traced-drss

step "4. traced run on 1.5x the data, to compare"
"$PY" "$S/sample-data/gen_las.py" "las-big" --scale 1.5 >/dev/null
"$PY" -m pmt_tracer -o run-big.log.zst --force lastohtml.py las-big traced-big

step "pmt-summarise run.log.zst"
pmt-summarise --top 15 "run.log.zst" >"summary.txt"
pmt-summarise --top 15 --format rst "run.log.zst" >"summary.rst"
show "summary.txt" 40

step "pmt-summarise --folded (an RSS flame graph's input)"
pmt-summarise --folded "run.log.zst" >"run.folded"
echo "heaviest stacks (bytes of RSS growth, innermost frame last):"
awk '{ print $NF "\t" $0 }' "run.folded" | sort -n -r | cut -f2- | head -n 3 | cut -c1-300

step "pmt-flamegraph: where RSS grew, and where it grew more on 1.5x the data"
pmt-flamegraph run.log.zst -o rss.svg
pmt-flamegraph --diff run.log.zst run-big.log.zst -o rss-diff.svg
ls -l rss.svg rss-diff.svg

step "pmt-report: one HTML page with all of it"
pmt-report run.log.zst traced/LASToHTML.log -o report.html
ls -l report.html

step "pmt-filter --drss 4096 run.log.zst"
pmt-filter --drss 4096 "run.log.zst" >"filter-drss.txt"
show "filter-drss.txt" 12

step "pmt-prev run.log.zst (each RSS jump and the event just before it)"
pmt-prev "run.log.zst" >"prev.txt"
show "prev.txt" 12

step "pmt-summarise run-drss.log.zst (the filtered log keeps exact event counts)"
pmt-summarise --top 5 "run-drss.log.zst" >"summary-drss.txt"
show "summary-drss.txt" 12

step "pmt-diff run.log.zst run-big.log.zst"
status=0
pmt-diff "run.log.zst" "run-big.log.zst" >"diff.txt" || status=$?
[ "$status" -le 1 ] || exit "$status"
show "diff.txt" 25

step "pmt-summarise LASToHTML.log (process monitor: pymemtrace's per-PID table)"
pmt-summarise "untraced/LASToHTML.log" >"process-table.txt"
show "process-table.txt" 15

step "pmt-diff on process logs: the tech note's Summary table"
pmt-diff --format rst "untraced/LASToHTML.log" "traced/LASToHTML.log" \
	>"process-diff.rst" || [ $? -le 1 ]
show "process-diff.rst"

step "pmt-gnuplot: RSS, page faults and CPU over time; RSS over events"
mkdir -p "plots"
cp "untraced/LASToHTML.log" "LASToHTML-untraced.log"
cp "traced/LASToHTML.log" "LASToHTML-traced.log"
pmt-gnuplot "LASToHTML-untraced.log" "plots"
pmt-gnuplot "LASToHTML-traced.log" "plots"
pmt-gnuplot "run.log.zst" "plots"
ls -l "plots"/*.svg

step "done: everything is in $D"
