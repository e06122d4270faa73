#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Runs of several logs: the logs pmt_tracer --follow-children writes for a
# program, a spawn Pool and a subprocess, summarised, compared and drawn as
# one run; and the pprof export, decoded by protoc (and go tool pprof).

setup_file() {
	cd "$BATS_FILE_TMPDIR"
	cat >app.py <<'PYEOF'
import multiprocessing as mp
import subprocess
import sys

# a loop, not a comprehension: the same frames on every CPython (PEP 709)
def fill(n):
    keep = []
    for _ in range(n):
        keep.append(bytes(1000))
    return keep

def work(n):
    return len(fill(n))

def main():
    with mp.get_context('spawn').Pool(2) as p:
        print(sum(p.map(work, [20000, 30000])))
    subprocess.run([sys.executable, '-c', 'x = [bytes(2000) for _ in range(10000)]'], check=True)

if __name__ == '__main__':
    main()
PYEOF
	for d in run1 run2; do
		mkdir "$d"
		TMPDIR="$BATS_FILE_TMPDIR" "${PYTHON:-python3}" -m pmt_tracer -q --follow-children \
			-o "$d/l_%p.log.zst" app.py >/dev/null
	done
}

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
	R="$BATS_FILE_TMPDIR/run1"
	R2="$BATS_FILE_TMPDIR/run2"
}

@test "a run: one row per process, each child under the parent whose log names it" {
	run -0 --separate-stderr pmt-summarise --format json "$R"
	printf '%s\n' "$output" >s.json
	"$PY" - s.json "$R" <<'PYEOF'
import json, os, sys
s = json.load(open(sys.argv[1]))
procs = s["processes"]
logs = sorted(os.listdir(sys.argv[2]))
assert len(procs) == len(logs) == len(s["logs"]), (procs, logs)
top = [p for p in procs if p["parent"] is None]
assert len(top) == 1 and top[0]["program"] == "app.py", top
kids = [p for p in procs if p["parent"] is not None]
# the resource tracker, two pool workers, the subprocess
assert len(kids) == 4, kids
assert all(p["parent"] == top[0]["pid"] and p["how"] == "spawn" for p in kids), kids
assert procs[0] is top[0]  # parents first
assert sum("spawn_main" in p["program"] for p in kids) == 2, kids
assert sum("bytes(2000)" in p["program"] for p in kids) == 1, kids
for p in procs:
    assert p["growth"] == p["rss_end"] - p["rss_start"], p
    assert p["rss_peak"] >= max(p["rss_start"], p["rss_end"]), p
    assert os.path.basename(p["log"]) in logs, p
PYEOF
}

@test "a run: functions and events over all processes are the sums of each log's" {
	run -0 --separate-stderr pmt-summarise --format json --top 0 "$R"
	printf '%s\n' "$output" >all.json
	for f in "$R"/*.log.zst; do
		pmt-summarise --format json --top 0 "$f" >"$(basename "$f").json" 2>/dev/null
	done
	"$PY" - all.json l_*.json <<'PYEOF'
import json, sys
run = json.load(open(sys.argv[1]))
want, kinds, procs = {}, {}, {}
for p in sys.argv[2:]:
    one = json.load(open(p))
    for k in one["kinds"]:
        kinds[k["kind"]] = kinds.get(k["kind"], 0) + k["events"]
    for f in one["functions"]:
        key = (f["function"], f["file"])
        c, s, i = want.get(key, (0, 0, 0))
        want[key] = (c + f["calls"], s + f["self_bytes"], i + f["inclusive_bytes"])
        procs.setdefault(key, set()).add(p)
got = {}
for f in run["functions"]:
    key = (f["function"], f["file"])
    c, s, i = got.get(key, (0, 0, 0))
    got[key] = (c + f["calls"], s + f["self_bytes"], i + f["inclusive_bytes"])
assert got == want, set(got.items()) ^ set(want.items())
assert {k["kind"]: k["events"] for k in run["kinds"]} == kinds
lc = [f for f in run["functions"] if f["function"] == "fill"]
# the pool's two tasks ran in one worker or in both
assert len(lc) == 1 and lc[0]["calls"] == 2 and 1 <= lc[0]["processes"] <= 2, lc
assert lc[0]["self_bytes"] >= 40 * 1000 * 1000, lc
PYEOF
}

@test "a run: an exec'd image under the image it replaced, a child that fails under its parent" {
	cat >e.py <<'PYEOF'
import os, subprocess, sys
subprocess.run([sys.executable, '-c', 'import sys; x = bytes(1 << 22); sys.exit(3)'])
os.execv(sys.executable, [sys.executable, '-c', 'y = [bytes(100) for _ in range(1000)]'])
PYEOF
	mkdir l
	TMPDIR="$BATS_TEST_TMPDIR" "$PY" -m pmt_tracer -q --follow-children -o 'l/%p.log.zst' e.py
	run -0 --separate-stderr pmt-summarise --format json l
	printf '%s\n' "$output" >e.json
	"$PY" - e.json <<'PYEOF'
import json, sys
procs = json.load(open(sys.argv[1]))["processes"]
assert len(procs) == 3, procs
top = [p for p in procs if p["parent"] is None]
assert len(top) == 1 and top[0]["program"] == "e.py", procs
ex = [p for p in procs if p["how"] == "exec"]
assert len(ex) == 1 and ex[0]["pid"] == ex[0]["parent"] == top[0]["pid"], procs
assert ex[0]["log"].endswith("-2.log.zst"), ex
sp = [p for p in procs if p["how"] == "spawn"]
assert len(sp) == 1 and sp[0]["parent"] == top[0]["pid"] and "sys.exit(3)" in sp[0]["program"], procs
PYEOF
}

@test "a run in every table format; several files are a run too" {
	for f in text csv json markdown rst; do
		run -0 --separate-stderr pmt-summarise --format "$f" "$R"
		assert_output --partial "spawn"
	done
	run -0 --separate-stderr pmt-summarise --format rst "$R"
	assert_output --partial "+====="
	run -0 --separate-stderr pmt-summarise --format json "$R"
	printf '%s\n' "$output" | "$PY" -m json.tool >/dev/null
	run -0 --separate-stderr pmt-summarise "$R"/*.log.zst
	assert_output --partial "Processes (5;"
	assert_output --partial "Top functions by RSS growth over all 5 processes"
	# the interpreter by its name, not where it is installed
	assert_output --partial " python3 -B -c from multiprocessing.spawn import spawn_main"
	refute_output --partial "/bin/python3 -B"
	# -o FILE: the same as standard output
	pmt-summarise --format csv -o out.csv "$R" 2>/dev/null
	assert_equal "$(cat out.csv)" "$(pmt-summarise --format csv "$R" 2>/dev/null)"
	run -2 --separate-stderr pmt-summarise -o no/such/dir/out.csv "$R"
	stderr_match "^pmt-summarise: no/such/dir/out\.csv: no such file or directory"
	# --each: each log's own tables too
	run -0 --separate-stderr pmt-summarise --each "$R"
	[ "$(grep -c ': Events by kind$' <<<"$output")" -eq 5 ]
}

@test "a bad log among good ones: reported, the others summarised, exit 2" {
	cp -r "$R" r
	printf 'not a log at all\n' >r/bad.log.zst
	: >r/empty.log
	run -2 --separate-stderr pmt-summarise --format csv r
	stderr_match "pmt-summarise: r/bad\.log\.zst: "
	stderr_match "pmt-summarise: r/empty\.log: "
	[ "$(grep -c '^l_\|,spawn,' <<<"$output")" -ge 4 ]
	assert_line "pid,parent,how,events,duration_s,rss_start,rss_peak,rss_end,growth,complete,program,log"
	[ "$(grep -c ',spawn,.*,r/l_' <<<"$output")" -eq 4 ]
	run -2 --separate-stderr pmt-flamegraph r -o f.svg
	stderr_match "pmt-flamegraph: r/bad\.log\.zst: "
	xmllint --noout f.svg
	run -2 --separate-stderr pmt-diff r "$R2"
	stderr_match "pmt-diff: r/bad\.log\.zst: "
	assert_output --partial "Processes, matched by command line"
	run -2 --separate-stderr pmt-summarise --format pprof -o p.pb.gz r
	stderr_match "pmt-summarise: r/bad\.log\.zst: "
	gzip -t p.pb.gz
	mkdir none
	run -2 --separate-stderr pmt-summarise none
	stderr_match "pmt-summarise: none: .*no logs"
}

@test "folded stacks of a run: the merged stacks of every log" {
	run -0 --separate-stderr pmt-summarise --folded "$R"
	total=$(printf '%s\n' "$output" | awk '{ s += $NF } END { print s }')
	want=0
	for f in "$R"/*.log.zst; do
		t=$(pmt-summarise --folded "$f" 2>/dev/null | awk '{ s += $NF } END { print s + 0 }')
		want=$((want + t))
	done
	[ "$want" -gt 40000000 ]
	assert_equal "$total" "$want"
	assert_line --regexp '^<module> \(app\.py\);main \(app\.py\) [0-9]+$|^<module> \(app\.py\);main \(app\.py\);'
}

@test "pmt-diff of two runs: processes matched by command line, functions over all" {
	run -0 --separate-stderr pmt-diff --format json --top 0 "$R" "$R2"
	printf '%s\n' "$output" >d.json
	"$PY" - d.json <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
ov = {r["metric"]: r for r in d["overall"]}
assert ov["processes"]["old"] == ov["processes"]["new"] == 5, ov
# every process of one run has its counterpart in the other
assert len(d["processes"]) == 5, d["processes"]
assert all(p["pid_old"] and p["pid_new"] for p in d["processes"]), d["processes"]
f = [x for x in d["functions"] if x["function"] == "fill"]
assert len(f) == 1 and f[0]["calls_old"] == f[0]["calls_new"] == 2, f
PYEOF
	# a run against itself: no change, and no function grew past the threshold
	run -0 --separate-stderr pmt-diff --format csv --threshold 0 "$R" "$R"
	printf '%s\n' "$output" >same.csv
	# growth_change of every process row, and the functions' changes: all 0
	[ "$(awk -F, '$1 ~ /^[0-9]+$/ && $2 ~ /^[0-9]+$/ && NF >= 8 && $7 != 0' same.csv | wc -l)" -eq 0 ]
	[ "$(grep -c '^[0-9]*,[0-9]*,' same.csv)" -eq 5 ]
	# one run against a single log of it: processes of one side unmatched
	run -1 --separate-stderr pmt-diff --threshold 4096 "$R"/"$(ls "$R" | head -1)" "$R2"
	stderr_has "RSS growth got worse"
}

@test "pmt-flamegraph of a run and of two runs" {
	run -0 --separate-stderr pmt-flamegraph "$R" -o f.svg
	xmllint --noout f.svg
	grep -q '<title>fill$' f.svg
	run -0 --separate-stderr pmt-flamegraph --diff "$R" "$R2" -o d.svg
	xmllint --noout d.svg
}

# The sums of the values of each sample type in protoc's text form.
pprof_totals() {
	zcat "$1" | protoc --decode=perftools.profiles.Profile \
		--proto_path="$PMT_SRCDIR/libpmt/report" profile.proto >dec.txt
	"$PY" - dec.txt <<'PYEOF'
import re, sys
tot, k, pids, nsamples = {}, 0, set(), 0
lines = open(sys.argv[1]).read().splitlines()
for l in lines:
    if l == "sample {":
        k = 0
        nsamples += 1
    m = re.match(r"  value: (-?\d+)$", l)
    if m:
        tot[k] = tot.get(k, 0) + int(m.group(1))
        k += 1
    m = re.match(r"    num: (\d+)$", l)
    if m:
        pids.add(int(m.group(1)))
print(tot.get(0, 0), tot.get(1, 0), len(pids), nsamples)
PYEOF
}

@test "pprof: sample totals are the folded stacks' totals, over every process" {
	command -v protoc >/dev/null || skip "protoc absent (protobuf-compiler)"
	run -0 --separate-stderr pmt-summarise --format pprof -o run.pb.gz "$R"
	[ -z "$output" ]
	gzip -t run.pb.gz
	read -r rss calls npids nsamples < <(pprof_totals run.pb.gz)
	want_rss=$(pmt-summarise --folded "$R" 2>/dev/null | awk '{ s += $NF } END { print s }')
	want_calls=$(pmt-summarise --folded --weight calls "$R" 2>/dev/null | awk '{ s += $NF } END { print s }')
	assert_equal "$rss" "$want_rss"
	assert_equal "$calls" "$want_calls"
	assert_equal "$npids" 5
	[ "$nsamples" -gt 100 ]
	grep -q 'string_table: "rss_growth"' dec.txt
	grep -q 'string_table: "fill"' dec.txt
	grep -q 'string_table: "app.py"' dec.txt
	# one log; standard output when it is not a terminal
	f=$(ls "$R"/*.log.zst | head -1)
	pmt-summarise --format pprof "$f" >one.pb.gz
	read -r rss calls npids nsamples < <(pprof_totals one.pb.gz)
	assert_equal "$rss" "$(pmt-summarise --folded "$f" 2>/dev/null | awk '{ s += $NF } END { print s }')"
	assert_equal "$npids" 1
	run -2 --separate-stderr pmt-summarise --format pprof --folded -o x "$f"
}

@test "pprof of a heap log has the heap weights" {
	command -v protoc >/dev/null || skip "protoc absent (protobuf-compiler)"
	"$MKHEAP" h.log.zst
	pmt-summarise --format pprof -o h.pb.gz h.log.zst
	zcat h.pb.gz | protoc --decode=perftools.profiles.Profile \
		--proto_path="$PMT_SRCDIR/libpmt/report" profile.proto >dec.txt
	grep -q 'string_table: "heap_alloc"' dec.txt
	grep -q 'string_table: "heap_leaked"' dec.txt
	n=$(grep -c '^sample_type {' dec.txt)
	[ "$n" -eq 5 ]
}

@test "go tool pprof reads the profile" {
	command -v go >/dev/null || skip "go absent"
	pmt-summarise --format pprof -o run.pb.gz "$R"
	run -0 --separate-stderr env HOME="$BATS_TEST_TMPDIR" GOCACHE="$BATS_TEST_TMPDIR/gocache" \
		go tool pprof -top -sample_index=rss_growth run.pb.gz
	assert_output --partial "Type: rss_growth"
	assert_line --regexp ' fill$'
	run -0 --separate-stderr env HOME="$BATS_TEST_TMPDIR" GOCACHE="$BATS_TEST_TMPDIR/gocache" \
		go tool pprof -top -sample_index=calls run.pb.gz
	assert_output --partial "Type: calls"
}
