#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# pmt-summarise: totals, kinds, functions, threads, folded stacks.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
}

@test "totals and kinds agree with the events themselves" {
	mklog_log a.log.zst 30000 3 2
	run -0 --separate-stderr pmt-summarise --format csv a.log.zst
	assert_line --index 1 --regexp '^a\.log\.zst,pmt event log,30000,30000,'
	pmt-filter --format csv a.log.zst >ev.csv
	# peak, min, end RSS and page jumps, recomputed from the dump
	want=$(awk -F, 'NR > 1 { if (!s) { peak = min = $9 - $10; s = 1 }
		if ($9 > peak) peak = $9; if ($9 < min) min = $9; end = $9
		d = $10; if (d < 0) d = -d; if (d >= 4096) j++ }
		END { print end, peak, min, j }' ev.csv)
	got=$(printf '%s\n' "$output" | awk -F, 'NR == 2 { print $8, $9, $10, $11 }')
	assert_equal "$got" "$want"
	run -0 --separate-stderr pmt-summarise --format json a.log.zst
	printf '%s\n' "$output" >s.json
	"$PY" - s.json ev.csv <<'PYEOF'
import csv, json, sys
s = json.load(open(sys.argv[1]))
kinds = {}
for row in csv.DictReader(open(sys.argv[2])):
    kinds[row["what"]] = kinds.get(row["what"], 0) + 1
got = {k["kind"]: k["events"] for k in s["kinds"]}
assert got == kinds, (got, kinds)
assert s["logs"][0]["complete"] == "yes"
assert sum(t["events"] for t in s["threads"]) == 30000
PYEOF
}

@test "folded stacks: weights add up to the total positive RSS growth" {
	mklog_log a.log.zst 100000 4 3
	run -0 --separate-stderr pmt-summarise --folded a.log.zst
	printf '%s\n' "$output" >f.txt
	# every line is "frame;frame... weight"
	awk '!/^[^ ;][^;]*(;[^;]+)* [0-9]+$/ { exit 1 }' f.txt
	total=$(awk '{ s += $NF } END { print s }' f.txt)
	want=$(pmt-filter --format csv a.log.zst | awk -F, 'NR > 1 && $10 > 0 { s += $10 } END { print s }')
	[ "$want" -gt 0 ]
	assert_equal "$total" "$want"
}

@test "folded stacks of a pymemtrace log" {
	pymt_log p.log --events 2000
	run -0 --separate-stderr pmt-summarise --folded p.log
	total=$(printf '%s\n' "$output" | awk '{ s += $NF } END { print s }')
	want=$(pmt-filter --format csv p.log | awk -F, 'NR > 1 && $10 > 0 { s += $10 } END { print s }')
	assert_equal "$total" "$want"
	assert_output --partial "main (work.py);"
}

@test "inclusive growth is RSS at return minus RSS at call" {
	# one call that grows by 3 pages inside, in pymemtrace form
	cp "$PMT_SRCDIR/tests/bats/helpers/grow.pymt" p.log
	run -0 --separate-stderr pmt-summarise --format csv p.log
	assert_line 'grow,/a.py,1,4096,12288,12288.0'
	assert_line 'append,/a.py,1,8192,8192,8192.0'
	# main returned without its call in the log: unmatched, charged nothing
	refute_line --regexp '^main,'
	run -0 --separate-stderr pmt-summarise p.log
	assert_output --partial "1 unmatched returns, 0 calls open at the end"
}

@test "several logs: one row each" {
	mklog_log a.log.zst 1000 1
	pymt_log p.log --events 500
	run -0 --separate-stderr pmt-summarise --format csv a.log.zst p.log
	assert_line --index 1 --regexp '^a\.log\.zst,pmt event log,1000,'
	assert_line --index 2 --regexp '^p\.log,pymemtrace log,500,'
}

@test "every table format" {
	mklog_log a.log.zst 2000 6
	for f in text csv json markdown rst; do
		run -0 --separate-stderr pmt-summarise --format "$f" --top 3 a.log.zst
	done
	assert_output --partial "+====="
	run -0 --separate-stderr pmt-summarise --format json a.log.zst
	printf '%s\n' "$output" | "$PY" -m json.tool >/dev/null
	run -2 --separate-stderr pmt-summarise --format xml a.log.zst
}

@test "truncated pmt log: warning, summary of what was readable, exit 0" {
	mklog_log a.log.zst 300000 6 --no-trailer
	run -0 --separate-stderr pmt-summarise --format csv a.log.zst
	stderr_match '^pmt-summarise: a.log.zst: warning: log is truncated'
	assert_line --index 1 --regexp ',truncated$'
}

@test "a log the tracer cut (a write failed) is 'cut', with a warning" {
	mklog_log a.log.zst 3000 6 --cut
	run -0 --separate-stderr pmt-summarise --format csv a.log.zst
	stderr_match '^pmt-summarise: a.log.zst: warning: log is cut: the tracer stopped writing after event 3000 of 4000 \(a write failed\)'
	assert_line --index 1 --regexp ',cut$'
}

@test "process JSON logs get pymemtrace's per-PID table" {
	compat_log process_json_linux_psutil594.log
	run -0 --separate-stderr pmt-summarise "$f"
	[ -n "$output" ]
}

@test "real pymemtrace logs from shared/compat" {
	compat_log profile_trigger_0_py311.log
	run -0 --separate-stderr pmt-summarise --format csv "$f"
	# LAST: 46 closes the count; FRST..NEXT 45 are 46 lines
	assert_line --index 1 --regexp ',pymemtrace log,46,46,'
	compat_log trace_trigger_0_outer_py311.log
	run -0 --separate-stderr pmt-summarise "$f"
	assert_output --partial "EXCEPTION"
}

@test "golden: summary of a generated log" {
	mklog_log a.log.zst 20000 21 2
	run -0 --separate-stderr pmt-summarise --top 8 a.log.zst
	golden pmt-summarise/mklog-20000.txt
	pymt_log p.log --events 300 --nested --seed 9
	run -0 --separate-stderr pmt-summarise --format rst --top 5 p.log
	golden pmt-summarise/pymemtrace.rst
}
