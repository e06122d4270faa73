#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The flame graph and the report in a real browser (headless Chromium through
# playwright-core, tests/browser/check.mjs): loaded with no console error and
# no request outside the file, a frame zoomed, a search highlighted, a table
# sorted, a screenshot that is not blank.

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
}

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
	CHECK="$PMT_BUILDDIR/tests/browser/check.mjs"
	CHROMIUM=${PMT_CHROMIUM:-/usr/bin/chromium}
	command -v node >/dev/null || skip "node is not installed (.ci/setup installs nodejs)"
	[ -x "$CHROMIUM" ] || skip "no Chromium at $CHROMIUM (.ci/setup installs chromium)"
	[ -d "$PMT_BUILDDIR/tests/browser/node_modules/playwright-core" ] ||
		skip "playwright-core is not installed: $(tr '\n' ' ' <"$PMT_BUILDDIR/tests/browser/npm.log" 2>/dev/null)"
	"$CHROMIUM" --headless --no-sandbox --disable-gpu --no-first-run --user-data-dir="$BATS_TEST_TMPDIR/probe" \
		--dump-dom about:blank >/dev/null 2>&1 || skip "Chromium cannot run here"
	SHOTS="$PMT_BUILDDIR/tests/browser/shots"
	mkdir -p "$SHOTS"
}

traced_program() {
	cat >prog.py <<'PYEOF'
import json
def grow(n):
    return [bytes(1000) for _ in range(n)]
def encode():
    return json.dumps([str(i) for i in range(30000)])
def main():
    a = grow(20000)
    return len(encode()) + len(a)
main()
PYEOF
	"$PY" -m pmt_tracer -o t.log.zst prog.py 2>/dev/null
}

@test "the flame graph of a traced program in Chromium" {
	traced_program
	pmt-flamegraph t.log.zst -o t.svg
	run node "$CHECK" flame t.svg "$SHOTS/flamegraph.png" grow
	printf '%s\n' "$output"
	assert_success
	assert_output --partial "ok 3 - clicking"
}

@test "an icicle graph and a differential one in Chromium" {
	mklog_log a.log.zst 50000 4 2
	mklog_log b.log.zst 60000 4 2
	pmt-flamegraph --icicle a.log.zst -o i.svg
	run node "$CHECK" flame i.svg "$SHOTS/icicle.png" func_1
	printf '%s\n' "$output"
	assert_success
	pmt-flamegraph --diff a.log.zst b.log.zst -o d.svg
	run node "$CHECK" flame d.svg "$SHOTS/diff.png" cfunc
	printf '%s\n' "$output"
	assert_success
}

@test "the report of a traced program with its process log in Chromium" {
	traced_program
	"$PY" -m pmt_tracer.process -i 0.05 -o p.log -- "$PY" prog.py >/dev/null 2>&1
	pmt-report t.log.zst p.log -o t.html
	run node "$CHECK" report t.html "$SHOTS/report.png" grow
	printf '%s\n' "$output"
	assert_success
	assert_output --partial "a click on calls sorts largest first"
}
