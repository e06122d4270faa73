#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# pmt-flamegraph: the SVG's numbers against the folded stacks, merged logs,
# the differential graph, the tracer's frames, a bounded size.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
}

# svg_ok FILE: valid XML, renders, refers to nothing outside itself
svg_ok() {
	xmllint --noout "$1" || fail "$1 is not valid XML"
	rsvg-convert "$1" -o "$1.png" || fail "$1 does not render"
	! grep -Eq '(xlink:)?href=|<image|src=|@import|url\(' "$1" || fail "$1 refers to something outside"
	[ "$(grep -o 'http[s]*://[^"]*' "$1" | sort -u | tr '\n' ' ')" = \
		"http://www.w3.org/1999/xhtml http://www.w3.org/2000/svg " ] || fail "$1 names another address"
}

# root_value FILE: the exact weight of the "all" frame
root_value() {
	sed -n 's/.*data-v="\([0-9]*\)" data-root="1".*/\1/p' "$1"
}

folded_total() {
	awk '{ s += $NF } END { print s + 0 }'
}

@test "the graph's total is the folded stacks' total, for each weight" {
	mklog_log a.log.zst 100000 4 3
	run -0 --separate-stderr pmt-flamegraph a.log.zst -o a.svg
	[ -z "$output" ]
	svg_ok a.svg
	want=$(pmt-summarise --folded a.log.zst | folded_total)
	[ "$want" -gt 0 ]
	assert_equal "$(root_value a.svg)" "$want"
	# and the total positive RSS growth of the events themselves
	assert_equal "$want" "$(pmt-filter --format csv a.log.zst | awk -F, 'NR > 1 && $10 > 0 { s += $10 } END { print s }')"
	run -0 --separate-stderr pmt-flamegraph --weight calls a.log.zst -o c.svg
	assert_equal "$(root_value c.svg)" "$(pmt-summarise --folded --weight calls a.log.zst | folded_total)"
	assert_equal "$(root_value c.svg)" "$(pmt-filter --format csv a.log.zst | awk -F, '$5 == "CALL" || $5 == "C_CALL"' | wc -l)"
	run -2 --separate-stderr pmt-flamegraph --weight heap a.log.zst
	stderr_has "invalid --weight 'heap'"
}

@test "frame widths are proportional to their weights and nest inside their parents" {
	mklog_log a.log.zst 50000 7 2
	pmt-flamegraph --width 1000 a.log.zst -o a.svg
	"$PY" - a.svg <<'PYEOF'
import re, sys
import xml.etree.ElementTree as ET
ns = {"s": "http://www.w3.org/2000/svg"}
root = ET.parse(sys.argv[1]).getroot()
frames = []
for g in root.iter("{http://www.w3.org/2000/svg}g"):
    if g.get("class") != "f":
        continue
    r = g.find("s:rect", ns)
    frames.append((float(r.get("x")), float(r.get("width")), float(r.get("y")), int(g.get("data-v"))))
total = max(frames, key=lambda f: f[1])
scale = total[1] / total[3]
assert abs(total[1] - 980) < 0.01, total
for x, w, y, v in frames:
    assert abs(w - v * scale) < 0.011, (x, w, v)
# every frame lies within one frame of the row below it (its parent)
rows = {}
for f in frames:
    rows.setdefault(f[2], []).append(f)
for x, w, y, v in frames:
    if y == total[2]:
        continue
    below = rows[y + 16]
    assert any(px - 0.02 <= x and x + w <= px + pw + 0.02 for px, pw, _, _ in below), (x, w, y)
PYEOF
}

@test "several logs: their stacks merged, the total their sum" {
	mklog_log a.log.zst 30000 1
	mklog_log b.log.zst 20000 1
	pymt_log p.log --events 2000
	run -0 --separate-stderr pmt-flamegraph a.log.zst b.log.zst p.log -o m.svg
	svg_ok m.svg
	want=$(( $(pmt-summarise --folded a.log.zst | folded_total) + $(pmt-summarise --folded b.log.zst | folded_total) + $(pmt-summarise --folded p.log | folded_total) ))
	assert_equal "$(root_value m.svg)" "$want"
	assert_equal "$(pmt-summarise --folded a.log.zst b.log.zst p.log | folded_total)" "$want"
	# a stack both logs have is one line, not one per log
	[ "$(pmt-summarise --folded a.log.zst b.log.zst | sed 's/ [0-9]*$//' | sort | uniq -d | wc -l)" -eq 0 ]
	[ "$(cat <(pmt-summarise --folded a.log.zst) <(pmt-summarise --folded b.log.zst) | sed 's/ [0-9]*$//' | sort | uniq -d | wc -l)" -gt 0 ]
}

@test "--diff: widths from NEW, red where a frame grew more, blue where less" {
	cp "$PMT_SRCDIR/tests/bats/helpers/grow.pymt" old.log
	# grow allocates 10 pages more inside append
	sed -e 's/^\(NEXT: 3 .*\)  16384         8192$/\1  57344        49152/' \
	    -e 's/^\(NEXT: [45] .*\)  20480  /\1  61440  /' \
	    -e 's/^\(LAST: .*\)  20480  /\1  61440  /' old.log >new.log
	run -0 --separate-stderr pmt-flamegraph --diff old.log new.log -o d.svg
	svg_ok d.svg
	assert_equal "$(root_value d.svg)" "$(pmt-summarise --folded new.log | folded_total)"
	grep -A3 '<title>append$' d.svg | grep -q 'fill="rgb(255,' || fail "append is not red"
	grep -A2 '<title>append$' d.svg | grep -q 'new 48.0 KiB.*old 8.0 KiB' || fail "append lacks both figures"
	run -0 --separate-stderr pmt-flamegraph --diff new.log old.log -o r.svg
	grep -A3 '<title>append$' r.svg | grep -q 'fill="rgb([0-9]*,[0-9]*,255)' || fail "append is not blue"
	run -2 --separate-stderr pmt-flamegraph --diff old.log
	stderr_has "--diff compares two logs"
}

@test "a traced program: <module> is the root, short file names, the tracer's frames apart" {
	cat >prog.py <<'PYEOF'
import json
def grow(n):
    return [bytes(1000) for _ in range(n)]
def main():
    a = grow(20000)
    return len(json.dumps([str(i) for i in range(30000)])) + len(a)
main()
PYEOF
	"$PY" -m pmt_tracer -o t.log.zst prog.py 2>/dev/null
	run -0 --separate-stderr pmt-summarise --folded t.log.zst
	refute_output --regexp '__main__\.py|runpy'
	refute_output --partial "$BATS_TEST_TMPDIR"
	assert_line --regexp '^<module> \(prog\.py\);main \(prog\.py\);grow \(prog\.py\)'
	assert_output --partial '(<stdlib>/json/encoder.py)'
	pmt-flamegraph t.log.zst -o t.svg
	svg_ok t.svg
	! grep -q '__main__.py' t.svg
	run -0 --separate-stderr pmt-summarise --folded --all-frames --full-path t.log.zst
	assert_output --partial "pmt_tracer/__main__.py"
	assert_output --partial "$BATS_TEST_TMPDIR/prog.py"
	pmt-flamegraph --all-frames --icicle --title 'T <&>' t.log.zst -o a.svg
	svg_ok a.svg
	grep -q '__main__.py' a.svg
	[ "$(root_value a.svg)" -ge "$(root_value t.svg)" ]
	grep -q 'T &lt;&amp;&gt;' a.svg
	# the same in the tables
	run -0 --separate-stderr pmt-summarise --top 0 t.log.zst
	refute_output --partial "__main__.py"
	# the comprehension is a frame of its own before CPython 3.12 (PEP 709)
	if "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
		assert_line --regexp '^grow +prog\.py +[0-9]+ +[0-9.]+ MiB'
	else
		assert_line --regexp '^grow.<locals>.<listcomp> +prog\.py +1 +[0-9.]+ MiB'
	fi
	run -0 --separate-stderr pmt-summarise --top 0 --format csv t.log.zst
	assert_output --partial "$BATS_TEST_TMPDIR/prog.py"
}

@test "the SVG's size is bounded by --min-width, not by the log" {
	mklog_log s.log.zst 20000 9 2
	mklog_log l.log.zst 1000000 9 2
	for f in s l; do
		pmt-flamegraph --min-width 4 --width 800 "$f.log.zst" -o "$f.svg"
		# no row holds more frames than fit at 4 pixels each
		grep -o '<rect x="[0-9.]*" y="[0-9.]*"' "$f.svg" | sed 's/.*y=//' | sort | uniq -c |
			awk '$1 > 195 { exit 1 }' || fail "$f: a row has too many frames"
	done
	[ "$(stat -c %s l.svg)" -lt 400000 ]
}

@test "bad input: what was readable is drawn, errors say so" {
	make_bad_inputs
	B="$BATS_TEST_TMPDIR/bad"
	run -0 --separate-stderr pmt-flamegraph "$B/truncated.log.zst" -o t.svg
	stderr_has "warning: log is truncated"
	svg_ok t.svg
	run -2 --separate-stderr pmt-flamegraph "$B/corrupt.log.zst" -o c.svg
	stderr_match "^pmt-flamegraph: .*corrupt.log.zst: "
	svg_ok c.svg
	for f in empty garbage image.png process.log; do
		run -2 --separate-stderr pmt-flamegraph "$B/$f" -o x.svg
		stderr_match "^pmt-flamegraph: .*$f: "
		[ ! -e x.svg ] || fail "an SVG for $f"
	done
	run -2 --separate-stderr pmt-flamegraph "$B"
	run -2 --separate-stderr pmt-flamegraph "$B/good.log.zst" -o /nonexistent/dir/x.svg
	stderr_match "^pmt-flamegraph: /nonexistent/dir/x.svg: "
	run -2 --separate-stderr pmt-flamegraph --min-width -1 "$B/good.log.zst"
	run -2 --separate-stderr pmt-flamegraph
	stderr_has "Try 'pmt-flamegraph --help'"
}

@test "past the call tree's limit: said, and the totals still exact" {
	# mklog's random stacks make a new call path every few hundred events
	mklog_log big.log.zst 2000000 1 2
	run -0 --separate-stderr pmt-flamegraph big.log.zst -o big.svg
	stderr_has "note: more than 131072 call paths: the rarest are drawn as their callers"
	want=$(pmt-filter --format csv big.log.zst | awk -F, 'NR > 1 && $10 > 0 { s += $10 } END { print s }')
	assert_equal "$(root_value big.svg)" "$want"
	assert_equal "$(pmt-summarise --folded big.log.zst 2>/dev/null | folded_total)" "$want"
}
