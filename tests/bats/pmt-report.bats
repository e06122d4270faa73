#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# pmt-report: one self-contained page, its figures against the other tools.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
}

# page_ok FILE: a whole HTML page whose pictures are well-formed SVG, and
# nothing outside itself (the browser test loads it for real)
page_ok() {
	"$PY" - "$1" <<'PYEOF' || fail "$1 is not a whole page"
import re, sys
import xml.etree.ElementTree as ET
page = open(sys.argv[1], encoding="utf-8").read()
assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>"), "not a whole page"
svgs = re.findall(r"<svg .*?</svg>", page, re.S)
assert len(svgs) >= 2, "%d pictures" % len(svgs)
for s in svgs:
    ET.fromstring(s)
PYEOF
	! grep -Eq '<(link|img|iframe)|src=|@import|url\(' "$1" || fail "$1 refers to something outside"
	[ "$(grep -o 'https\?://[^"]*' "$1" | sort -u | tr '\n' ' ')" = \
		"http://www.w3.org/1999/xhtml http://www.w3.org/2000/svg " ] || fail "$1 names another address"
}

@test "a generated log: every section, and the flame graph's total is the folded one" {
	mklog_log a.log.zst 300000 5 3
	run -0 --separate-stderr pmt-report a.log.zst -o a.html
	[ -z "$output" ] && [ -z "$stderr" ]
	page_ok a.html
	for id in summary timeline flame functions threads messages; do
		grep -q "id=\"$id\"" a.html || fail "no $id section"
	done
	want=$(pmt-summarise --folded a.log.zst | awk '{ s += $NF } END { print s }')
	grep -q "data-v=\"$want\" data-root=\"1\"" a.html
	# the largest rise of the log, as pmt-prev sees it, is jump 1
	top=$(pmt-filter --format csv a.log.zst | awk -F, 'NR > 1 && $10 > m { m = $10; e = $2 } END { print e }')
	grep -q "<tr id=\"jump-1\"><td class=\"r\">1</td><td class=\"r\" data-v=\"$top\">" a.html
	# and the event before it is the one pmt-prev names
	prev=$((top - 1))
	grep "<tr id=\"jump-1\">" a.html | grep -q "<td>$prev [A-Z_]* "
	# messages: mklog writes one every 100000 events
	[ "$(grep -c '<li value=' a.html)" -eq 2 ]
	# threads: three rows
	[ "$(sed -n '/id="threads"/,/<\/section>/p' a.html | grep -c '<tr><td')" -eq 3 ]
}

@test "a traced program with its process log" {
	cat >prog.py <<'PYEOF'
import time
def grow(n):
    return [bytes(1000) for _ in range(n)]
def main():
    a = grow(20000)
    time.sleep(0.2)
    del a
    return len(grow(5000))
main()
PYEOF
	"$PY" -m pmt_tracer -o t.log.zst prog.py 2>/dev/null
	"$PY" -m pmt_tracer.process -i 0.05 -o p.log -- "$PY" prog.py >/dev/null 2>&1
	run -0 --separate-stderr pmt-report --title 'prog <1>' t.log.zst p.log -o t.html
	page_ok t.html
	grep -q 'id="process"' t.html
	grep -q '<title>prog &lt;1&gt; - pmt report</title>' t.html
	# the comprehension is a frame of its own before CPython 3.12 (PEP 709)
	if "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
		grep -q 'grow (prog.py:2), line 3' t.html
	else
		grep -q 'grow.&lt;locals&gt;.&lt;listcomp&gt; (prog.py:' t.html
	fi
	! grep -q "$BATS_TEST_TMPDIR" t.html || fail "a full path in the page"
	! grep -q '__main__.py' t.html || fail "the tracer's frames in the page"
	run -0 --separate-stderr pmt-report --all-frames --full-path t.log.zst -o f.html
	grep -q "$BATS_TEST_TMPDIR/prog.py" f.html
}

@test "a pymemtrace log" {
	pymt_log p.log --events 3000 --nested --seed 4
	run -0 --separate-stderr pmt-report p.log -o p.html
	page_ok p.html
	grep -q 'CPU clock (s)' p.html
}

@test "bad input: errors, and a page of what was readable" {
	make_bad_inputs
	B="$BATS_TEST_TMPDIR/bad"
	run -0 --separate-stderr pmt-report "$B/truncated.log.zst" -o t.html
	stderr_has "warning: log is truncated"
	page_ok t.html
	run -2 --separate-stderr pmt-report "$B/corrupt.log.zst" -o c.html
	stderr_match "^pmt-report: .*corrupt.log.zst: "
	page_ok c.html
	for f in empty garbage image.png process.log; do
		run -2 --separate-stderr pmt-report "$B/$f" -o x.html
		stderr_match "^pmt-report: .*$f: "
		[ ! -e x.html ] || fail "a page for $f"
	done
	run -2 --separate-stderr pmt-report "$B/good.log.zst" "$B/garbage" -o g.html
	stderr_match "^pmt-report: .*garbage: not a process log"
	run -2 --separate-stderr pmt-report "$B/good.log.zst" "$B/process.log" "$B/process.log"
	stderr_has "Try 'pmt-report --help'"
}
