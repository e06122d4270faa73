#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# pmt-filter: selection, layouts, -o round trip, pymemtrace input.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
}

@test "no criteria prints every event in pymemtrace's layout" {
	mklog_log a.log.zst 2000 5 2
	run -0 --separate-stderr pmt-filter a.log.zst
	assert_line --index 0 --regexp '^HDR: Event        dEvent  Clock        What     File {77}Line Function {34}RSS {9}dRSS$'
	# header + 2000 events + EOF
	[ "${#lines[@]}" -eq 2002 ]
	assert_line --index 2001 'EOF'
	# every event line is exactly 193 characters, as pymemtrace's
	run bash -c "pmt-filter a.log.zst | awk '/^NEXT: / && length(\$0) != 193' | wc -l"
	assert_output 0
}

@test "--drss N keeps events N bytes away from the last kept one" {
	mklog_log a.log.zst 20000 5
	run -0 --separate-stderr pmt-filter --format csv a.log.zst
	# recompute the trigger from the full dump, independently
	printf '%s\n' "$output" | awk -F, 'NR > 1 && $1 == "NEXT" {
		if (!started) { ref = $9 - $10; started = 1 }
		d = $9 - ref; if (d < 0) d = -d
		if (d >= 8192) { print $2; ref = $9 } }' >want
	[ -s want ]
	run -0 --separate-stderr pmt-filter --drss 8k --format csv a.log.zst
	printf '%s\n' "$output" | awk -F, 'NR > 1 { print $2 }' >got
	diff -u want got
	# and the printed dRSS is against the previous kept event
	printf '%s\n' "$output" | awk -F, 'NR > 1 { d = $10; if (d < 0) d = -d; if (d < 8192) exit 1 }'
}

@test "--drss -1 is one page of the log" {
	mklog_log a.log.zst 5000 2
	run -0 --separate-stderr pmt-filter --drss -1 a.log.zst
	a="$output"
	run -0 --separate-stderr pmt-filter --drss 4096 a.log.zst
	[ "$a" = "$output" ]
}

@test "--drss alone passes over events that leave RSS as it was: the same result" {
	# --drss alone lets the reader pass over flat events (pmt_source_skip_flat);
	# --event with every kind selects the same events the long way
	all=CALL,RETURN,C_CALL,C_RETURN,C_EXCEPTION,LINE,EXCEPTION,OPCODE
	mklog_log a.log.zst 250000 7 3
	mklog_log cut.log.zst 30000 3 2 --no-trailer
	"$MKHEAP" h.log.zst 20 || fail "mkheap failed"
	cat >prog.py <<-'EOF'
		import threading
		keep = []
		def grow(n):
		    for i in range(n):
		        keep.append(bytearray(1000))
		t = threading.Thread(target=grow, args=(3000,))
		t.start(); grow(5000); t.join()
	EOF
	PYTHONPATH="$PMT_BUILDDIR/pylib" "$PY" -m pmt_tracer -q -o t.log.zst prog.py ||
		fail "tracer failed"
	for log in a.log.zst cut.log.zst h.log.zst t.log.zst; do
		for args in "--drss 4096" "--drss 1" "--drss 64k --format csv" \
			"--drss 4096 --format json" "--drss 8k --to 20000"; do
			run --separate-stderr pmt-filter $args "$log"
			got="$status|$output|$stderr"
			run --separate-stderr pmt-filter $args --event "$all" "$log"
			assert_equal "$got" "$status|$output|$stderr"
		done
		run -0 --separate-stderr pmt-filter --drss 4096 -o f.log.zst "$log"
		run -0 --separate-stderr pmt-filter --drss 4096 --event "$all" -o g.log.zst "$log"
		run -0 --separate-stderr pmt-filter --format csv f.log.zst
		want="$output"
		run -0 --separate-stderr pmt-filter --format csv g.log.zst
		assert_equal "$output" "$want"
		rm -f f.log.zst g.log.zst
	done
	# and there was something to keep in each
	run -0 bash -c "pmt-filter --drss 4096 --format csv t.log.zst | wc -l"
	[ "$output" -gt 10 ]
}

@test "--prev=K prints the K events before each kept one, once" {
	mklog_log a.log.zst 20000 5
	run -0 --separate-stderr pmt-filter --drss 4096 --prev=3 --format csv a.log.zst
	printf '%s\n' "$output" >out.csv
	# numbers strictly increase (no event printed twice)
	awk -F, 'NR > 1 { if ($2 <= last) exit 1; last = $2 }' out.csv
	# every PREV is followed, within 3 lines, by a NEXT, and directly precedes it in number
	awk -F, 'NR > 1 { tag[NR] = $1; num[NR] = $2 } END {
		for (i = 2; i <= NR; i++) if (tag[i] == "PREV") {
			j = i; while (tag[j] == "PREV") j++
			if (j - i > 3) exit 1
			if (num[j] - num[j - 1] != 1) exit 2 } }' out.csv
	run -0 bash -c "grep -c '^PREV' out.csv"
	[ "$output" -gt 10 ]
}

@test "--match and --file use PCRE2 on names, --event on kinds" {
	mklog_log a.log.zst 5000 5
	run -0 --separate-stderr pmt-filter --match '^cfunc_1[0-9]$' --format csv a.log.zst
	printf '%s\n' "$output" | awk -F, 'NR > 1 && $8 !~ /^cfunc_1[0-9]$/ { exit 1 }'
	[ "${#lines[@]}" -gt 10 ]
	run -0 --separate-stderr pmt-filter --file 'mod2\.py$' --event C_CALL,C_RETURN --format csv a.log.zst
	printf '%s\n' "$output" | awk -F, 'NR > 1 && ($6 !~ /mod2\.py$/ || $5 !~ /^C_/) { exit 1 }'
	[ "${#lines[@]}" -gt 10 ]
	run -2 --separate-stderr pmt-filter --match '(' a.log.zst
	stderr_has "pmt-filter: --match: missing closing parenthesis"
	run -2 --separate-stderr pmt-filter --event FOO a.log.zst
	stderr_has "unknown event kind 'FOO'"
}

@test "--thread by index and by name, --from/--to by event number" {
	mklog_log a.log.zst 10000 5 3
	run -0 --separate-stderr pmt-filter --thread 1 --format csv a.log.zst
	printf '%s\n' "$output" | awk -F, 'NR > 1 && $11 != 1 { exit 1 }'
	n1=${#lines[@]}
	run -0 --separate-stderr pmt-filter --thread worker-1 --format csv a.log.zst
	[ "${#lines[@]}" -eq "$n1" ]
	run -0 --separate-stderr pmt-filter --from 100 --to 199 --format csv a.log.zst
	[ "${#lines[@]}" -eq 101 ]
	assert_line --index 1 --regexp '^NEXT,100,'
	assert_line --index 100 --regexp '^NEXT,199,'
}

@test "nothing matched: exit 1" {
	mklog_log a.log.zst 1000 5
	run -1 --separate-stderr pmt-filter --match 'no_such_function' a.log.zst
	run -1 --separate-stderr pmt-filter --drss 1G a.log.zst
}

@test "json output is one valid object per line" {
	mklog_log a.log.zst 3000 5
	run -0 --separate-stderr pmt-filter --drss 4096 --format json a.log.zst
	printf '%s\n' "$output" | "$PY" -c '
import json, sys
n = 0
for line in sys.stdin:
    o = json.loads(line)
    assert o["tag"] == "NEXT" and abs(o["drss"]) >= 4096, o
    n += 1
assert n > 10
'
}

@test "-o writes a pmt log with the same totals; it reads back in every tool" {
	mklog_log a.log.zst 50000 9 2
	run -0 --separate-stderr pmt-filter --drss 4096 --prev -o f.log.zst a.log.zst
	run -0 --separate-stderr pmt-summarise --format csv a.log.zst
	orig=$(printf '%s\n' "$output" | awk -F, 'NR == 2 { print $3, $5, $7, $8, $9 }')
	run -0 --separate-stderr pmt-summarise --format csv f.log.zst
	filt=$(printf '%s\n' "$output" | awk -F, 'NR == 2 { print $3, $5, $7, $8, $9 }')
	[ -n "$orig" ]
	assert_equal "$filt" "$orig"
	# the kept events are the same, with the same numbers and RSS
	run -0 --separate-stderr pmt-filter --drss 4096 --format csv a.log.zst
	want="$output"
	run -0 --separate-stderr pmt-filter --drss 4096 --format csv f.log.zst
	assert_equal "$output" "$want"
	run -0 --separate-stderr pmt-prev f.log.zst
	run -0 --separate-stderr pmt-diff a.log.zst f.log.zst
	# no overwrite without --force
	run -2 --separate-stderr pmt-filter -o f.log.zst a.log.zst
	stderr_has "pmt-filter: f.log.zst:"
	run -0 --separate-stderr pmt-filter --force -o f.log.zst a.log.zst
}

@test "pymemtrace log: events reproduced column for column" {
	pymt_log p.log --events 400 --nested --message "Start message"
	run -0 --separate-stderr pmt-filter p.log
	# every FRST/NEXT/LAST line as in the input, except dRSS (recomputed)
	grep -E '^(FRST|NEXT|LAST): ' p.log | sed 's/ *-\{0,1\}[0-9]*$//' >want
	printf '%s\n' "$output" | grep -E '^(FRST|NEXT|LAST): ' | sed 's/ *-\{0,1\}[0-9]*$//' >got
	diff -u want got
	assert_line --partial "# Detaching this profile file wrapper. New file:/srv/app/"
	assert_line --partial "# Re-attaching this profile file wrapper."
	assert_line --partial "# second line of it"
	assert_line --partial "# raw write_to_log line"
	assert_line --partial "# Start message"
	assert_line --partial "# hello message"
	assert_line --index -1 "EOF"
}

@test "pymemtrace log, zstd-compressed, from stdin" {
	pymt_log p.log --events 400
	zstd -q p.log -o p.log.zst
	run -0 --separate-stderr pmt-filter p.log
	want="$output"
	run -0 --separate-stderr bash -c 'pmt-filter - <p.log.zst'
	assert_equal "$output" "$want"
}

@test "pymemtrace log without EOF: warning, everything printed, exit 0" {
	pymt_log p.log --events 400 --no-eof
	run -0 --separate-stderr pmt-filter p.log
	stderr_match '^pmt-filter: p.log: warning: log is truncated'
	run -0 bash -c "pmt-filter p.log 2>/dev/null | grep -c '^NEXT'"
	[ "$output" -eq 399 ]
}

@test "real pymemtrace logs from shared/compat" {
	compat_log profile_trigger_0_py311.log
	run -0 --separate-stderr pmt-filter "$f"
	grep -E '^(FRST|NEXT|LAST): ' "$f" | sed 's/ *-\{0,1\}[0-9]*$//' >want
	printf '%s\n' "$output" | grep -E '^(FRST|NEXT|LAST): ' | sed 's/ *-\{0,1\}[0-9]*$//' >got
	diff -u want got
	compat_log trace_trigger_0_outer_py311.log
	run -0 --separate-stderr pmt-filter --event EXCEPTION "$f"
	assert_line --index 1 --regexp '^NEXT: [0-9]+ +\+[0-9]+ +[0-9.]+ +EXCEPT '
}

@test "golden: drss and prev view of a generated log" {
	mklog_log a.log.zst 3000 11 2
	run -0 --separate-stderr pmt-filter --drss 12k --prev a.log.zst
	golden pmt-filter/drss12k-prev.txt
	pymt_log p.log --events 200 --trace --nested --seed 4
	run -0 --separate-stderr pmt-filter --format csv p.log
	golden pmt-filter/pymemtrace-trace.csv
}
