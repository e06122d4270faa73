#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# pmt-prev: true previous events only.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
}

@test "full pmt log: each NEXT is a page jump and each PREV the event just before" {
	mklog_log a.log.zst 20000 3
	run -0 --separate-stderr pmt-prev --format csv a.log.zst
	stderr_has "every event is in the log"
	printf '%s\n' "$output" >p.csv
	pmt-filter --format csv a.log.zst >all.csv
	# the jumps, computed from the full dump (event 0 has nothing before it)
	awk -F, 'NR > 2 { d = $10; if (d < 0) d = -d; if (d >= 4096) print $2 }' all.csv >want
	awk -F, '$1 == "NEXT" { print $2 }' p.csv >got
	diff -u want got
	# each PREV line is the dump's line of that event, apart from the tag and dEvent
	awk -F, 'NR == FNR { if ($1 == "NEXT") line[$2] = $4 FS $5 FS $6 FS $7 FS $8 FS $9; next }
		$1 == "PREV" { if (line[$2] != $4 FS $5 FS $6 FS $7 FS $8 FS $9) exit 1; n++ }
		END { if (!n) exit 2 }' all.csv p.csv
}

@test "--context K shows up to K consecutive events" {
	mklog_log a.log.zst 20000 3
	run -0 --separate-stderr pmt-prev --context 4 --format csv a.log.zst
	printf '%s\n' "$output" | awk -F, 'NR > 1 { if ($2 <= last) exit 1; last = $2 }'
	run -0 bash -c "pmt-prev --context 4 --format csv a.log.zst 2>/dev/null | grep -c '^PREV'"
	many=$output
	run -0 bash -c "pmt-prev --format csv a.log.zst 2>/dev/null | grep -c '^PREV'"
	[ "$many" -gt "$output" ]
}

@test "pymemtrace trigger log: its stale PREV lines are never shown" {
	pymt_log p.log --events 3000 --trigger 4096
	grep -q '^PREV: ' p.log
	run -0 --separate-stderr pmt-prev p.log
	stderr_has "its own PREV: lines repeat the last logged line"
	stderr_match "note: [0-9]+ of [0-9]+ RSS changes have no previous event in the log"
	assert_line --index 1 --partial "pymemtrace log"
	# the stale lines of the input do not come out as PREV lines
	grep '^PREV: ' p.log | cut -c7- | sort -u >stale
	printf '%s\n' "$output" | grep '^PREV: ' | cut -c7- | sort -u >shown || true
	run comm -12 stale shown
	assert_output ""
}

@test "pymemtrace log with every event: true PREV lines" {
	pymt_log p.log --events 2000
	run -0 --separate-stderr pmt-prev --format csv p.log
	printf '%s\n' "$output" | awk -F, '$1 == "PREV" { p = $2 } $1 == "NEXT" { if (p != "" && p != $2 - 1) exit 1; p = "" }'
	run -0 bash -c "pmt-prev --format csv p.log 2>/dev/null | grep -c '^PREV'"
	[ "$output" -gt 5 ]
}

@test "filtered pmt log: says the previous events are not in the log" {
	mklog_log a.log.zst 20000 3
	pmt-filter --drss 4096 -o f.log.zst a.log.zst
	run -0 --separate-stderr pmt-prev f.log.zst
	stderr_has "events before the jumps are not in the log"
	run -0 --separate-stderr pmt-filter --drss 4096 --prev -o g.log.zst a.log.zst
	run -0 --separate-stderr pmt-prev --format csv g.log.zst
	stderr_has "and --prev: the event before each kept one is in the log"
}

@test "real pymemtrace log from shared/compat" {
	compat_log trace_trigger_0_outer_py311.log
	run -0 --separate-stderr pmt-prev "$f"
	assert_line --regexp '^NEXT: 7 +\+6 '
	assert_line --regexp '^PREV: 6 +\+5 '
}

@test "golden: prev view" {
	mklog_log a.log.zst 4000 13
	run -0 --separate-stderr pmt-prev --drss 8k --context 2 a.log.zst
	golden pmt-prev/mklog-8k-context2.txt
}
