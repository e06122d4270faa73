#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# pmt-diff: overall and per-function comparison, the --threshold gate.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
}

@test "a log against itself: no change, exit 0 even with --threshold 0" {
	mklog_log a.log.zst 20000 3
	run -0 --separate-stderr pmt-diff --threshold 0 --format csv a.log.zst a.log.zst
	printf '%s\n' "$output" | awk -F, '$1 == "events" && $4 != 0 { exit 1 }'
	printf '%s\n' "$output" | awk -F, 'NF == 10 && $1 != "function" && ($7 != 0 || $10 != 0) { exit 1 }'
}

@test "more growth in NEW: sorted by change, gate trips above the threshold only" {
	cp "$PMT_SRCDIR/tests/bats/helpers/grow.pymt" old.log
	# grow allocates 10 pages more inside append
	sed -e 's/^\(NEXT: 3 .*\)  16384         8192$/\1  57344        49152/' \
	    -e 's/^\(NEXT: [45] .*\)  20480  /\1  61440  /' \
	    -e 's/^\(LAST: .*\)  20480  /\1  61440  /' old.log >new.log
	! diff -q old.log new.log
	run -0 --separate-stderr pmt-diff --format csv old.log new.log
	assert_line 'append,/a.py,1,1,8192,49152,40960,8192,49152,40960'
	assert_line 'grow,/a.py,1,1,4096,4096,0,12288,53248,40960'
	run -0 bash -c "pmt-diff --format csv old.log new.log | grep -A1 '^function,' | tail -1"
	assert_output --regexp '^append,'
	run -1 --separate-stderr pmt-diff --threshold 40000 old.log new.log
	stderr_has "got worse by more than 40000 bytes"
	run -0 --separate-stderr pmt-diff --threshold 40960 old.log new.log
	run -0 --separate-stderr pmt-diff --threshold 0 new.log old.log
}

@test "pmt log against a pymemtrace log, every format" {
	mklog_log a.log.zst 5000 3
	pymt_log p.log --events 500
	for f in text csv markdown rst; do
		run -0 --separate-stderr pmt-diff --format "$f" a.log.zst p.log
	done
	run -0 --separate-stderr pmt-diff --format json a.log.zst p.log
	printf '%s\n' "$output" | "$PY" -m json.tool >/dev/null
}

@test "usage: two event logs needed" {
	mklog_log a.log.zst 100 3
	run -2 --separate-stderr pmt-diff a.log.zst
	stderr_has "Try 'pmt-diff --help'"
	run -2 --separate-stderr pmt-diff a.log.zst a.log.zst a.log.zst
}

@test "process logs: the Summary table across runs" {
	compat_log process_json_linux_psutil594.log
	run -0 --separate-stderr pmt-diff "$f" "$f"
	[ -n "$output" ]
}

@test "golden: two generated runs" {
	mklog_log a.log.zst 20000 5
	mklog_log b.log.zst 20000 6
	run -0 --separate-stderr pmt-diff --top 6 a.log.zst b.log.zst
	golden pmt-diff/mklog-5-6.txt
}
