#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Every analyser on empty, truncated, corrupt, garbage and wrong-type input:
# a message, exit 2 (a truncated log: a warning and exit 0), no crash, and
# what was readable still printed.

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
}

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
	make_bad_inputs
	B="$BATS_TEST_TMPDIR/bad"
}

# run_tool TOOL FILE: the tool with the arguments it needs for one input
run_tool() {
	local want=$1 t=$2 f=$3
	case $t in
	pmt-diff) run "-$want" --separate-stderr pmt-diff "$B/good.log.zst" "$f" ;;
	*) run "-$want" --separate-stderr "$t" "$f" ;;
	esac
	# a crash is a signal status, never 2
	[ "$status" -lt 128 ]
}

@test "empty input" {
	for t in pmt-filter pmt-prev pmt-summarise pmt-diff; do
		run_tool 2 "$t" "$B/empty"
		stderr_match "^$t: .*empty: (empty input|.*empty)"
	done
}

@test "truncated pmt log: warning, the events before the cut, exit 0" {
	run -0 --separate-stderr pmt-filter --format csv "$B/truncated.log.zst"
	stderr_match "^pmt-filter: .*truncated.log.zst: warning: log is truncated"
	n=${#lines[@]}
	[ "$n" -gt 1000 ] && [ "$n" -lt 50001 ]
	# the events printed are the first ones of the good log, exactly
	pmt-filter --format csv "$B/good.log.zst" | head -n "$n" >want
	diff -u want <(printf '%s\n' "$output")
	for t in pmt-prev pmt-summarise pmt-diff; do
		run_tool 0 "$t" "$B/truncated.log.zst"
		stderr_has "warning: log is truncated"
	done
}

@test "truncated zstd pymemtrace log: warning, partial output, exit 0" {
	for t in pmt-filter pmt-summarise pmt-prev; do
		run_tool 0 "$t" "$B/ptrunc.log.zst"
		stderr_has "warning: log is truncated"
		[ -n "$output" ]
	done
}

@test "corrupt zstd data: error after what was readable" {
	run -2 --separate-stderr pmt-filter --format csv "$B/corrupt.log.zst"
	stderr_match "^pmt-filter: .*corrupt.log.zst: "
	[ "${#lines[@]}" -gt 100 ]
	for t in pmt-prev pmt-summarise pmt-diff; do
		run_tool 2 "$t" "$B/corrupt.log.zst"
		stderr_match "^$t: .*corrupt.log.zst: "
	done
}

@test "binary garbage" {
	for t in pmt-filter pmt-prev pmt-summarise pmt-diff; do
		run_tool 2 "$t" "$B/garbage"
		stderr_match "^$t: .*garbage: "
	done
}

@test "wrong type: a PNG, a directory, a process log where events are needed" {
	for t in pmt-filter pmt-prev pmt-summarise pmt-diff; do
		run_tool 2 "$t" "$B/image.png"
		stderr_match "^$t: .*image.png: "
		run_tool 2 "$t" "$B"
	done
	run -2 --separate-stderr pmt-filter "$B/process.log"
	stderr_match "^pmt-filter: .*process.log: "
	run -2 --separate-stderr pmt-prev "$B/process.log"
}

@test "damaged pymemtrace text: bad lines are an error after the good ones" {
	pymt_log p.log --events 500
	awk 'NR == 300 { print "NEXT: 12x  +1 garbage" ; next } { print }' p.log >bad.log
	run -2 --separate-stderr pmt-filter --format csv bad.log
	stderr_match "^pmt-filter: bad.log: .*line 300"
	[ "${#lines[@]}" -gt 250 ]
	run -2 --separate-stderr pmt-summarise bad.log
	assert_output --partial "error"
}

@test "RSS out of range (tests/fixtures/log-reader-rss-overflow.bin): corrupt, exit 2" {
	# a 64-byte raw log whose RSS delta is huge: once signed overflow (UBSan)
	local f="$PMT_SRCDIR/tests/fixtures/log-reader-rss-overflow.bin"
	for t in pmt-filter pmt-prev pmt-summarise pmt-diff; do
		run_tool 2 "$t" "$f"
		stderr_match "^$t: .*log-reader-rss-overflow.bin: corrupt log record: RSS out of range at byte 52"
	done
}

@test "every fuzz finding (tests/fuzz/regress/): a clean exit 0, 1 or 2 from every tool" {
	local n=0
	for f in "$PMT_SRCDIR"/tests/fuzz/regress/*; do
		n=$((n + 1))
		for t in pmt-filter pmt-prev pmt-summarise pmt-diff; do
			run --separate-stderr "$t" "$f"
			[ "$status" -le 2 ] || fail "$t $f: exit $status: $stderr"
			if [ "$status" -eq 2 ]; then
				stderr_match "^$t: "
			fi
		done
		run --separate-stderr pmt-summarise --folded --weight calls "$f"
		[ "$status" -le 2 ] || fail "pmt-summarise --folded $f: exit $status: $stderr"
	done
	[ "$n" -ge 2 ]
}

@test "ids far apart (tests/fuzz/regress/*-2e24.bin): memory as for a small log" {
	# A log naming thread or code 2^24 once: pages of state, not 2^24 slots
	# (profile-thread-2e24.bin took 1.5 GB, profile-code-2e24.bin 2.4 GB,
	# object-type-2e24.bin 0.8 GB in pmt-summarise, 1.5 GB in pmt-diff; 512 MiB
	# leaves room for ASan, whose shadow of a large calloc is written).
	for f in "$PMT_SRCDIR"/tests/fuzz/regress/*-2e24.bin; do
		for t in pmt-summarise pmt-diff "pmt-filter --objects" pmt-prev; do
			args=("$f" "$f")
			[ "${t% *}" = pmt-summarise ] || [ "${t% *}" = pmt-diff ] || args=("$f")
			run /usr/bin/time -f '%M' -o rss $t "${args[@]}"
			[ "$status" -le 2 ] || fail "$t $f: exit $status"
			[ "$(tail -n 1 rss)" -lt 524288 ] || fail "$t $f: peak RSS $(tail -n 1 rss) KiB"
		done
	done
}

@test "output to a closed pipe: silent, killed by SIGPIPE as grep is" {
	# a reader gone (head -1) is not an error to report
	for t in pmt-filter pmt-prev; do
		run bash -c "trap - PIPE; $t --format csv $([ $t = pmt-prev ] && echo --drss 0) '$B/good.log.zst' 2>err | head -n 1 >/dev/null; echo \${PIPESTATUS[0]}"
		[ "$output" = 141 ] || fail "$t: exit $output, not by SIGPIPE (141)"
		! grep -Eqi "error|broken pipe|write" err || fail "$t said: $(cat err)"
	done
}
