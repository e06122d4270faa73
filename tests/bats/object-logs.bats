#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The analysers on object logs: pymemtrace ReferenceTracing text logs
# (written here line by line in its layout, and the real ones of
# shared/compat), and their bad forms.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
}

# NEW/DEL lines in pymemtrace's 245-character layout.
rt_line() { # op clock addr livecnt type file line function rss drss
	printf '%s %12s %16s %16s %-32s %-80s %4s %-40s %16s %16s\n' "$@"
}

mk_reftrace() {
	{
		echo "a message"
		echo SOF
		printf 'HDR: %12s %16s %16s %-32s %-80s %4s %-40s %16s %16s\n' Clock Address LiveCnt \
			Type File Line Function RSS dRSS
		rt_line NEW: 0.001000 0x7f0000001000 1 Node "/srv/my app/a.py" 10 build 1000000 -140061841682352
		rt_line NEW: 0.002000 0x7f0000002000 2 Node "/srv/my app/a.py" 10 build 1004096 4096
		rt_line NEW: 0.003000 0x7f0000003000 3 Node "/srv/my app/a.py" 11 build 1008192 4096
		rt_line NEW: 0.004000 0x7f0000004000 1 Leaf "/srv/my app/b.py" 20 leaf 1008192 0
		rt_line DEL: 0.005000 0x7f0000002000 2 Node "/srv/my app/a.py" 12 build 1008192 0
		printf 'MSG: %12s # Suspending reference tracing.\n' 0.006000
		printf 'MSG: %12s # Resuming reference tracing.\n' 0.007000
		printf 'MSG: %12s # Resuming reference tracing.\n' 0.007001
		rt_line DEL: 0.008000 0x7f0000001000 1 Node "/srv/my app/a.py" 13 build 1008192 0
		echo EOF
	} >rt.log
}

@test "pmt-summarise: objects by type and leaks by creation site of a ReferenceTracing log" {
	mk_reftrace
	run -0 --separate-stderr pmt-summarise --format json rt.log
	"$PY" - "$output" <<'PYEOF' || fail "wrong figures"
import json, sys
d = json.loads(sys.argv[1])
types = {r['type']: r for r in d['objects']}
assert types['Node'] == dict(type='Node', created=3, destroyed=2, live_end=1, peak_live=3), types
assert types['Leaf']['live_end'] == 1 and types['Leaf']['peak_live'] == 1
leaks = [(r['type'], r['function'], r['file'], r['line'], r['live']) for r in d['object_leaks']]
assert sorted(leaks) == [('Leaf', 'leaf', '/srv/my app/b.py', 20, 1),
                         ('Node', 'build', '/srv/my app/a.py', 11, 1)], leaks
PYEOF
}

@test "pmt-summarise: the object tables in every output format" {
	mk_reftrace
	for f in text markdown rst csv json; do
		run -0 --separate-stderr pmt-summarise --format $f rt.log
		[[ "$output" == *Node* && "$output" == *live_end* && "$output" == *peak_live* ]] ||
			fail "$f: no objects table: $output"
	done
}

@test "pmt-summarise: a zstd-compressed ReferenceTracing log reads the same" {
	mk_reftrace
	zstd -q rt.log -o rt.log.zst
	run -0 --separate-stderr pmt-summarise --format csv rt.log
	plain=$output
	run -0 --separate-stderr pmt-summarise --format csv rt.log.zst
	[ "$(grep -c Node <<<"$output")" = "$(grep -c Node <<<"$plain")" ]
}

@test "ReferenceTracing logs: truncated, corrupt, empty and wrong type" {
	mk_reftrace
	head -c 700 rt.log >cut.log
	run -0 --separate-stderr pmt-summarise cut.log
	stderr_has "truncated"
	sed 's/0x7f0000003000/nothex/' rt.log >bad.log
	run -2 --separate-stderr pmt-summarise bad.log
	stderr_has "bad.log: "
	stderr_has "not a ReferenceTracing line"
	printf 'SOF\nHDR:        Clock          Address          LiveCnt Type\nGARBAGE\nEOF\n' >bad2.log
	run -2 --separate-stderr pmt-summarise bad2.log
	stderr_has "bad2.log: "
	: >empty.log
	run -2 --separate-stderr pmt-summarise empty.log
	stderr_has "empty.log: "
	printf 'SOF\nHDR:        Clock          Address          LiveCnt Type\nEOF\nNEW: x\n' >after.log
	run -2 --separate-stderr pmt-summarise after.log
	stderr_has "after EOF"
}

@test "ReferenceTracing lines: names with spaces, and fields wider than their columns" {
	long_type=a.type.name.longer.than.thirty.two.characters
	long_file=/srv/$(printf 'd%.0s' $(seq 90))/m.py
	{
		echo SOF
		printf 'HDR: %12s %16s %16s %-32s %-80s %4s %-40s %16s %16s\n' Clock Address LiveCnt \
			Type File Line Function RSS dRSS
		rt_line NEW: 0.001000 0x7f0000001000 1 "symtable entry" "<frozen posixpath>" 7 \
			"<generic parameters of SupportsAbs>" 1000000 0
		rt_line NEW: 0.002000 0x7f0000002000 1 "$long_type" "$long_file" 12345 f 1004096 4096
		rt_line DEL: 0.003000 0x7f0000001000 0 "symtable entry" "<frozen posixpath>" 8 \
			"<generic parameters of SupportsAbs>" 1004096 0
		echo EOF
	} >sp.log
	run -0 --separate-stderr pmt-summarise --format json sp.log
	"$PY" - "$output" "$long_type" "$long_file" <<'PYEOF' || fail "wrong figures: $output"
import json, sys
d = json.loads(sys.argv[1])
types = {r['type']: (r['created'], r['destroyed']) for r in d['objects']}
assert types == {'symtable entry': (1, 1), sys.argv[2]: (1, 0)}, types
leaks = [(r['type'], r['function'], r['file'], r['line']) for r in d['object_leaks']]
assert leaks == [(sys.argv[2], 'f', sys.argv[3], 12345)], leaks
PYEOF
	run -0 --separate-stderr pmt-filter --type '^symtable entry$' sp.log
	[ "$(grep -c '<generic parameters of SupportsAbs>' <<<"$output")" = 2 ]
}

@test "real ReferenceTracing logs from shared/compat" {
	compat_log reftrace_outer_py313.log
	run -0 --separate-stderr pmt-summarise --format json "$f"
	"$PY" - "$output" <<'PYEOF' || fail "wrong figures"
import json, sys
d = json.loads(sys.argv[1])
types = {r['type']: r['created'] for r in d['objects']}
assert types == {'BytesWrapper': 2, 'range_iterator': 1, 'cPyMemTrace.ReferenceTracing': 1}, types
PYEOF
	compat_log reftrace_inner_py313.log
	run -0 --separate-stderr pmt-summarise --format json "$f"
	[[ "$output" == *BytesWrapper* ]]
}

@test "pmt-filter --type: pymemtrace's NEW:/DEL: layout, LiveCnt per type" {
	mk_reftrace
	run -0 --separate-stderr pmt-filter --type '^Node$' rt.log
	[ "$(grep -c '^NEW:' <<<"$output")" = 3 ]
	[ "$(grep -c '^DEL:' <<<"$output")" = 2 ]
	! grep -q Leaf <<<"$output"
	# the last DEL leaves one Node alive
	[ "$(grep '^DEL:' <<<"$output" | tail -1 | awk '{print $4}')" = 1 ]
	grep -q '^HDR: .*LiveCnt' <<<"$output"
	run -2 --separate-stderr pmt-filter --type '(' rt.log
	run -1 --separate-stderr pmt-filter --type '^Nothing$' rt.log
}

# ---- pmt-diff ------------------------------------------------------------

# py313: skips the test unless the build's Python traces objects (3.13+).
py313() {
	"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 13))' ||
		skip "object tracing needs CPython 3.13+; this build's Python is $("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
}

# trace_kept N LOG: a real --objects log of a program keeping N instances
# of Kept (line 9 of keep.py) and dropping 50 of Temp through list.clear.
trace_kept() {
	cat >keep.py <<'PYEOF'
import sys
class Kept:
    pass
class Temp:
    pass
kept = []
def make(n):
    for i in range(n):
        kept.append(Kept())
    tmp = [Temp() for i in range(50)]
    tmp.clear()
make(int(sys.argv[1]))
PYEOF
	PYTHONPATH="$PMT_BUILDDIR/pylib" "$PY" -m pmt_tracer -q --objects -o "$2" keep.py "$1" ||
		fail "tracing failed"
}

@test "pmt-diff: real --objects logs, 100 then 300 instances kept: +200 at their site" {
	py313
	trace_kept 100 old.log.zst
	trace_kept 300 new.log.zst
	run -0 --separate-stderr pmt-diff --format json old.log.zst new.log.zst
	"$PY" - "$output" <<'PYEOF' || fail "wrong figures: $output"
import json, sys
d = json.loads(sys.argv[1])
types = {r['type']: r for r in d['object_types']}
k = types['Kept']
assert (k['created_old'], k['created_new'], k['live_old'], k['live_new'], k['live_change'],
        k['live_end_old'], k['live_end_new'], k['live_end_change']) == (
            100, 300, 100, 300, 200, 100, 300, 200), k
t = types['Temp']
assert (t['created_old'], t['created_new'], t['live_change']) == (50, 50, 0), t
top = d['object_sites'][0]
assert (top['type'], top['function'], top['line'], top['live_old'], top['live_new'],
        top['live_change']) == ('Kept', 'make', 9, 100, 300, 200), top
assert top['file'].endswith('/keep.py'), top
assert d['object_types'][0]['type'] == 'Kept'  # the largest increase first
o = {r['metric']: r for r in d['objects']}
assert o['created']['change'] == 200 and o['created']['old'] >= 150, o
PYEOF
	for f in text csv markdown rst; do
		run -0 --separate-stderr pmt-diff --format $f old.log.zst new.log.zst
		[[ "$output" == *Kept*make*keep.py*9*100*300*200* ]] || fail "$f: no Kept site row: $output"
		[[ "$output" == *live_end_change* ]] || fail "$f: no types table"
	done
}

@test "pmt-diff --objects-threshold: exit 1 above the growth of a type, 0 at it" {
	py313
	trace_kept 100 old.log.zst
	trace_kept 300 new.log.zst
	run -1 --separate-stderr pmt-diff --objects-threshold 199 old.log.zst new.log.zst
	stderr_has "objects alive at the end grew by more than 199 for 1 type (Kept: +200)"
	run -0 --separate-stderr pmt-diff --objects-threshold 200 old.log.zst new.log.zst
	[ -z "$stderr" ] || fail "stderr: $stderr"
	# fewer objects in the new run: no gate, whatever the objects made
	# before the log began and destroyed in it (live_end)
	run -0 --separate-stderr pmt-diff --objects-threshold 0 new.log.zst old.log.zst
	# the byte threshold does not look at objects
	run -0 --separate-stderr pmt-diff --threshold 1G old.log.zst new.log.zst
}

@test "pmt-diff: a truncated or corrupt second object log is an error" {
	py313
	trace_kept 100 old.log.zst
	trace_kept 300 new.log.zst
	head -c 40 new.log.zst >cut.log.zst
	run -2 --separate-stderr pmt-diff --objects-threshold 0 old.log.zst cut.log.zst
	stderr_has "cut.log.zst: "
	"$PY" - new.log.zst bad.log.zst <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], 'rb').read())
for i in range(len(b) // 3, len(b) // 3 + 64):
    b[i] ^= 0x5a
open(sys.argv[2], 'wb').write(bytes(b))
PYEOF
	run -2 --separate-stderr pmt-diff --objects-threshold 0 old.log.zst bad.log.zst
	stderr_has "bad.log.zst: "
	[[ "$stderr" != *"grew by more"* ]] || fail "a gate on a corrupt log: $stderr"
}

@test "pmt-diff: ReferenceTracing text logs by type and site, the gate" {
	mk_reftrace
	mv rt.log old.log
	mk_reftrace
	# two more Nodes alive at the end at a new line, one more Leaf at line 20
	sed -i '/^EOF$/d' rt.log
	{
		rt_line NEW: 0.009000 0x7f0000005000 2 Node "/srv/my app/a.py" 14 build 1008192 0
		rt_line NEW: 0.010000 0x7f0000006000 3 Node "/srv/my app/a.py" 14 build 1008192 0
		rt_line NEW: 0.011000 0x7f0000007000 2 Leaf "/srv/my app/b.py" 20 leaf 1008192 0
		echo EOF
	} >>rt.log
	run -0 --separate-stderr pmt-diff --format csv old.log rt.log
	grep -qx 'Node,3,5,1,3,2,1,3,2' <<<"$output" || fail "Node row: $output"
	grep -qx 'Leaf,1,2,1,2,1,1,2,1' <<<"$output" || fail "Leaf row: $output"
	grep -qx 'Node,build,/srv/my app/a.py,14,0,2,2' <<<"$output" || fail "site row: $output"
	grep -qx 'Leaf,leaf,/srv/my app/b.py,20,1,2,1' <<<"$output" || fail "site row: $output"
	grep -qx 'Node,build,/srv/my app/a.py,11,1,1,0' <<<"$output" || fail "site row: $output"
	run -1 --separate-stderr pmt-diff --objects-threshold 1 old.log rt.log
	stderr_has "for 1 type (Node: +2)"
	run -1 --separate-stderr pmt-diff --objects-threshold 0 old.log rt.log
	stderr_has "for 2 types (Node: +2)"
	run -0 --separate-stderr pmt-diff --objects-threshold 2 old.log rt.log
	zstd -q rt.log -o rt.log.zst
	run -0 --separate-stderr pmt-diff --objects-threshold 2 old.log rt.log.zst
}

@test "pmt-diff on object logs: bad second file, a log without objects, directories" {
	mk_reftrace
	sed 's/0x7f0000003000/nothex/' rt.log >bad.log
	run -2 --separate-stderr pmt-diff --objects-threshold 0 rt.log bad.log
	stderr_has "bad.log: "
	stderr_has "not a ReferenceTracing line"
	head -c 700 rt.log >cut.log
	run -0 --separate-stderr pmt-diff rt.log cut.log
	stderr_has "cut.log: warning: log is truncated"
	mklog_log plain.log.zst 200
	run -0 --separate-stderr pmt-diff rt.log plain.log.zst
	stderr_has "plain.log.zst: warning: not an object log"
	run -2 --separate-stderr pmt-diff --objects-threshold 0 rt.log plain.log.zst
	stderr_has "plain.log.zst: no object records"
	run -2 --separate-stderr pmt-diff --objects-threshold 0 plain.log.zst plain.log.zst
	mkdir d
	cp rt.log d/a.log
	run -2 --separate-stderr pmt-diff --objects-threshold 0 d d
	stderr_has "not directories"
	run -2 --separate-stderr pmt-diff --objects-threshold -1 rt.log rt.log
}

@test "pmt-diff: the real ReferenceTracing logs from shared/compat" {
	compat_log reftrace_outer_py313.log
	outer=$f
	compat_log reftrace_inner_py313.log
	run -0 --separate-stderr pmt-diff --format csv "$outer" "$f"
	grep -qx 'BytesWrapper,2,1,2,1,-1,2,1,-1' <<<"$output" || fail "types: $output"
	grep -q '^BytesWrapper,main,.*t3.py,14,2,0,-2$' <<<"$output" || fail "sites: $output"
	run -1 --separate-stderr pmt-diff --objects-threshold 0 "$f" "$outer"
	stderr_has "(BytesWrapper: +1)"
}

# ---- object weights: folded stacks, flame graphs, pprof -----------------

folded_total() {
	awk '{ s += $NF } END { print s + 0 }'
}

# object_totals LOG: "CREATED LIVE" of the tables of pmt-summarise --format
# json: created over the types, live over the leak report's sites.
object_totals() {
	pmt-summarise --format json "$1" | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(t["created"] for t in d["objects"]), sum(s["live"] for s in d["object_leaks"]))'
}

# weights_add_up LOG [OPTION]: the folded stacks' totals of both object
# weights are the tables' totals.
weights_add_up() {
	local created live
	read -r created live < <(object_totals "$1") || fail "no tables for $1"
	[ "$created" -gt 0 ] || fail "$1: no objects created"
	assert_equal "$(pmt-summarise --folded --weight objects "$@" | folded_total)" "$created"
	assert_equal "$(pmt-summarise --folded --weight live-objects "$@" | folded_total)" "$live"
}

# root_value FILE: the exact weight of a flame graph's "all" frame
root_value() {
	sed -n 's/.*data-v="\([0-9]*\)" data-root="1".*/\1/p' "$1"
}

@test "pmt-summarise --folded --weight objects, live-objects: a ReferenceTracing log's paths" {
	mk_reftrace
	# no call events: each object at its creation site's function
	run -0 --separate-stderr pmt-summarise --folded --weight objects rt.log
	assert_equal "$output" "$(printf '%s\n' 'build (a.py) 3' 'leaf (b.py) 1')"
	run -0 --separate-stderr pmt-summarise --folded --weight live-objects rt.log
	assert_equal "$output" "$(printf '%s\n' 'build (a.py) 1' 'leaf (b.py) 1')"
	weights_add_up rt.log
	# a NEW at a live object's address: the old one is gone from its path
	sed -i '/^EOF$/d' rt.log
	{
		rt_line NEW: 0.009000 0x7f0000003000 4 Leaf "/srv/my app/b.py" 20 leaf 1008192 0
		echo EOF
	} >>rt.log
	run -0 --separate-stderr pmt-summarise --folded --weight live-objects rt.log
	assert_equal "$output" "leaf (b.py) 2"
	weights_add_up rt.log
	run -0 --separate-stderr pmt-flamegraph --weight objects rt.log -o o.svg
	assert_equal "$(root_value o.svg)" 5
	grep -q '>rt.log: 5 objects<' o.svg || fail "no total in the subtitle"
}

@test "object weights of the real ReferenceTracing logs from shared/compat" {
	compat_log reftrace_outer_py313.log
	weights_add_up "$f"
	# four created, the range_iterator's address reused without a DEL
	assert_equal "$(pmt-summarise --folded --weight objects "$f")" "main (t3.py) 4"
	assert_equal "$(pmt-summarise --folded --weight live-objects "$f")" "main (t3.py) 3"
	run -0 --separate-stderr pmt-flamegraph --weight live-objects "$f" -o l.svg
	assert_equal "$(root_value l.svg)" 3
	compat_log reftrace_inner_py313.log
	weights_add_up "$f"
}

@test "object weights: a log without object records is refused, exit 2" {
	mklog_log plain.log.zst 200
	"$MKHEAP" heap.log.zst || fail "mkheap failed"
	for w in objects live-objects; do
		for log in plain.log.zst heap.log.zst; do
			run -2 --separate-stderr pmt-summarise --folded --weight $w $log
			assert_equal "$stderr" "pmt-summarise: $log: the log has no object records: --weight $w needs a log of pmt_tracer --objects or of pymemtrace's ReferenceTracing"
			[ -z "$output" ] || fail "output: $output"
			run -2 --separate-stderr pmt-flamegraph --weight $w $log -o x.svg
			stderr_has "$log: the log has no object records: --weight $w needs"
		done
		run -2 --separate-stderr pmt-report --weight $w plain.log.zst -o x.html
		stderr_has "plain.log.zst: the log has no object records"
	done
	# the readable part still comes out: the object log's stacks
	mk_reftrace
	run -2 --separate-stderr pmt-summarise --folded --weight objects rt.log plain.log.zst
	assert_equal "$output" "$(printf '%s\n' 'build (a.py) 3' 'leaf (b.py) 1')"
	stderr_has "plain.log.zst: the log has no object records"
	run -2 --separate-stderr pmt-flamegraph --diff --weight objects plain.log.zst rt.log -o d.svg
	stderr_has "plain.log.zst: the log has no object records"
	# and the heap weights of an object log
	run -2 --separate-stderr pmt-summarise --folded --weight leaked rt.log
	assert_equal "$stderr" "pmt-summarise: rt.log: the log has no heap records: --weight leaked needs a log of pmt_tracer --heap"
	run -2 --separate-stderr pmt-summarise --folded --weight live-object rt.log
	stderr_has "invalid --weight 'live-object' (rss, calls, alloc, live, leaked, objects or live-objects)"
}

# pprof_object_totals FILE: "CREATED LIVE", the sums of the samples'
# objects_created and objects_live_at_end values, decoded by protoc.
pprof_object_totals() {
	zcat "$1" | protoc --decode=perftools.profiles.Profile \
		--proto_path="$PMT_SRCDIR/libpmt/report" profile.proto >dec.txt
	"$PY" - dec.txt <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
strs = re.findall(r'^string_table: "(.*)"$', text, re.M)
types = [strs[int(t)] for t in re.findall(r'^sample_type \{\n  type: (\d+)', text, re.M)]
tot = dict.fromkeys(types, 0)
for s in re.findall(r'^sample \{\n(.*?)^\}', text, re.M | re.S):
    for t, v in zip(types, re.findall(r'^  value: (-?\d+)$', s, re.M)):
        tot[t] += int(v)
print(tot["objects_created"], tot["objects_live_at_end"])
PYEOF
}

@test "pprof of an object log: objects_created and objects_live_at_end" {
	command -v protoc >/dev/null || skip "protoc absent (protobuf-compiler)"
	mk_reftrace
	run -0 --separate-stderr pmt-summarise --format pprof -o rt.pb.gz rt.log
	read -r created live < <(pprof_object_totals rt.pb.gz)
	assert_equal "$created $live" "4 2"
	grep -q 'string_table: "count"' dec.txt
	mklog_log plain.log.zst 200
	pmt-summarise --format pprof -o p.pb.gz plain.log.zst
	zcat p.pb.gz | protoc --decode=perftools.profiles.Profile \
		--proto_path="$PMT_SRCDIR/libpmt/report" profile.proto >dec.txt
	! grep -q 'objects_' dec.txt || fail "object sample types in a log without objects"
}

# trace_keep_drop N M LOG: a real --objects log of keep(), which creates
# and keeps N instances of Kept, and drop(), which creates M of Temp and
# drops them through list.clear (whose frees CPython reports on every 3.13).
trace_keep_drop() {
	cat >kd.py <<'PYEOF'
import sys
class Kept:
    pass
class Temp:
    pass
kept = []
def keep(n):
    while n:
        kept.append(Kept())
        n -= 1
def drop(m):
    tmp = []
    while m:
        tmp.append(Temp())
        m -= 1
    tmp.clear()
keep(int(sys.argv[1]))
drop(int(sys.argv[2]))
PYEOF
	PYTHONPATH="$PMT_BUILDDIR/pylib" "$PY" -m pmt_tracer -q --objects -o "$3" kd.py "$1" "$2" ||
		fail "tracing failed"
}

# path_weight WEIGHT FUNCTION LOG: the folded weight of <module>;FUNCTION
path_weight() {
	pmt-summarise --folded --weight "$1" "$3" |
		awk -v p="<module> (kd.py);$2 (kd.py)" '{ w = $NF; $NF = "" } $0 == p " " { s += w } END { print s + 0 }'
}

@test "object weights of a real --objects run: the keeping path keeps, the dropping one not" {
	py313
	trace_keep_drop 120 300 kd.log.zst
	# every object, the tracer's own frames too, as the tables count them
	weights_add_up kd.log.zst --all-frames
	[ "$(path_weight live-objects keep kd.log.zst)" -ge 120 ]
	[ "$(path_weight objects drop kd.log.zst)" -ge 300 ]
	assert_equal "$(path_weight live-objects drop kd.log.zst)" 0
	# the keeping path's live objects are its site's in the leak report
	pmt-summarise --format json kd.log.zst | "$PY" -c '
import json, sys
d = json.load(sys.stdin)
print(sum(s["live"] for s in d["object_leaks"] if s["function"] == "keep"))' >keep.txt
	assert_equal "$(path_weight live-objects keep kd.log.zst)" "$(cat keep.txt)"
	for w in objects live-objects; do
		run -0 --separate-stderr pmt-flamegraph --weight $w kd.log.zst -o $w.svg
		want=$(pmt-summarise --folded --weight $w kd.log.zst | folded_total)
		[ "$want" -gt 0 ]
		assert_equal "$(root_value $w.svg)" "$want"
	done
	grep -q 'Objects alive at the end' live-objects.svg
	trace_keep_drop 200 300 more.log.zst
	run -0 --separate-stderr pmt-flamegraph --diff --weight live-objects kd.log.zst more.log.zst -o d.svg
	assert_equal "$(root_value d.svg)" "$(pmt-summarise --folded --weight live-objects more.log.zst | folded_total)"
	[ "$(path_weight live-objects keep more.log.zst)" -ge 200 ]
	run -0 --separate-stderr pmt-report --weight live-objects kd.log.zst -o r.html
	grep -q '<h2>Objects alive at the end</h2>' r.html
	if command -v protoc >/dev/null; then
		pmt-summarise --format pprof --all-frames -o kd.pb.gz kd.log.zst
		assert_equal "$(pprof_object_totals kd.pb.gz)" "$(object_totals kd.log.zst)"
	fi
}
