#!/bin/sh
# SPDX-License-Identifier: MIT
# Remakes the seed corpora (corpus/<target>/) from real logs: a small program
# traced by the built tracer in each mode, cut small, and pymemtrace-format
# logs from tests/bats/helpers/mkpymt.py. Run from a build tree:
#   sh SRCDIR/tests/fuzz/make-corpus.sh SRCDIR BUILDDIR PYTHON
# The result is committed; rerun it when the log format changes.
set -eu
src=$1
b=$2
py=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PYTHONPATH="$b/pylib" PATH="$b/analyze:$PATH"
cd "$tmp"
cat >work.py <<'PY'
import threading, json
def grow(n):
    return [bytearray(4096) for _ in range(n)]
def worker(k):
    x = grow(k)
    return len(json.dumps(list(range(k))))
def main():
    keep = grow(64)
    t = threading.Thread(target=worker, args=(32,), name="w1")
    t.start(); t.join()
    for i in range(5):
        worker(i * 8)
    del keep
main()
PY
t() { "$py" -m pmt_tracer -q -f "$@" work.py; }
t -o prof.log.zst
t -o trace.log.zst --mode trace
t -o drss.log.zst --drss -1 --prev
t -o heap.log.zst --heap=python
t -o heapc.log.zst --heap
t -o proc.log.zst --process-log proc.json --process-interval 0.01
pmt-filter --drss 4096 --prev -o filt.log.zst --force prof.log.zst
for f in *.log.zst; do zstd -dcq "$f" >"${f%.log.zst}.raw"; done
# the end of a log (its trailer) after its start, so a cut seed still ends well
cutlog() { # cutlog RAW BYTES OUT
	head -c "$2" "$1" >"$3"
}
m="$src/tests/bats/helpers/mkpymt.py"
"$py" "$m" p1.pymt --events 40 --message 'opening message'
"$py" "$m" t1.pymt --events 40 --trace --nested --trigger 4096
"$py" "$m" p2.pymt --events 30 --no-eof --nested
# the v0.1 layout: no SOF/HDR/EOF, '#' before the line number
"$py" "$m" v01.pymt --events 12 --seed 3
grep -v '^\(SOF\|HDR:\|EOF\|LAST:\)' v01.pymt |
	sed 's/^FRST: /NEXT: /; s/^\(NEXT: .\{110\}\)  \( *[0-9][0-9]* \)/\1# \2/' >v01b.pymt
head -n 6 proc.json >proc-short.json
{
	echo 'an application log line before the records'
	head -n 3 proc.json
	echo 'ProcessLoggingThread-JSON {"pid": 1, "elapsed_time": 0.5, "memory_info": {"rss": 4096}, "label": {"k": [1, 2]}}'
	echo 'x ProcessLoggingThread-JSON-STOP {"pid": 1, "elapsed_time": 1.5, "memory_info": {"rss": 8192, "vms": 1}, "cpu_times": {"user": 0.1, "system": 0.2}, "label": "end"}'
} >proc-mixed.json

out="$src/tests/fuzz/corpus"
rm -rf "$out"
mkdir -p "$out"
seed() { # seed TARGET NAME FILE
	mkdir -p "$out/$1"
	cp "$3" "$out/$1/$2"
}
for r in prof trace drss heap heapc filt proc; do
	cutlog $r.raw 4000 $r-4k.raw
	cutlog $r.raw 8000 $r-8k.raw
done
for r in prof trace drss heap heapc filt; do
	seed read-pmt $r-4k $r-4k.raw
	seed read-pmt $r-8k $r-8k.raw
done
seed read-pmt filt-whole filt.raw
for r in prof trace heap; do
	zstd -q -19 -c $r-8k.raw >$r-8k.zst
	seed read-pmt-zstd $r-8k $r-8k.zst
done
seed read-pmt-zstd filt-whole filt.log.zst
seed read-pmt-zstd proc-whole proc.log.zst
head -c 900 drss.log.zst >drss-cut.zst
seed read-pmt-zstd drss-cut drss-cut.zst
for p in p1 t1 p2 v01b; do
	seed read-pymemtrace $p $p.pymt
done
seed read-process short proc-short.json
seed read-process mixed proc-mixed.json
for tool in pmt-summarise pmt-prev pmt-filter; do
	for r in prof-4k trace-4k heap-4k heapc-8k drss-4k filt-4k; do
		seed $tool $r $r.raw
	done
	seed $tool p1 p1.pymt
	seed $tool t1 t1.pymt
done
seed pmt-summarise proc proc-mixed.json
for pair in "prof-4k drss-4k" "heap-4k heapc-4k" "p1.pymt t1.pymt" "proc-short.json proc-mixed.json"; do
	set -- $pair
	a=${1%.raw}
	{
		cat "$(ls "$1" "$1.raw" 2>/dev/null | head -n 1)"
		printf '\n--pmt-diff--\n'
		cat "$(ls "$2" "$2.raw" 2>/dev/null | head -n 1)"
	} >diff-$a.in
	seed pmt-diff "$a-$2" diff-$a.in
done
du -sh "$out"
