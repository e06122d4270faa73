#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# A log read while the tracer is still writing it: a real program calls
# phase_one() N times, then blocks on a fifo until the test lets it go. The
# readers, run meanwhile, read every complete frame (the events they print
# are the finished log's first ones), say in one line that the log is still
# being written, and exit as for a cut log; a copy of it is a cut log; once
# the program is let go, the finished log reads completely.

N=20000

setup() {
	load helpers/common
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	D="$BATS_TEST_TMPDIR"
	mkfifo "$D/go"
	cat >"$D/prog.py" <<PYEOF
import sys
def phase_one(i):
    return [i] * (i % 64)
def phase_two(i):
    return (i, i)
for i in range($N):
    phase_one(i)
with open(sys.argv[1]) as f:  # blocks until the test writes
    f.read()
for i in range(1000):
    phase_two(i)
PYEOF
	PYTHONPATH="$PMT_BUILDDIR/pylib" "$PY" -m pmt_tracer -q -o "$D/live.log.zst" \
		"$D/prog.py" "$D/go" >/dev/null 2>"$D/tracer.err" &
	TRACER=$!
	# until the frame holding the last phase_one() is on disk (the writer
	# ends a frame 100 ms after its last event)
	local n=0 i
	for i in $(seq 1200); do
		n=$(pmt-filter --match '^phase_one$' --event CALL --format csv \
			"$D/live.log.zst" 2>/dev/null | grep -c ',phase_one,' || true)
		[ "$n" = "$N" ] && break
		kill -0 "$TRACER" 2>/dev/null || break
		sleep 0.05
	done
	[ "$n" = "$N" ] || fail "the live log never showed $N calls of phase_one (saw $n): $(cat "$D/tracer.err")"
}

teardown() {
	# let the program go if a test failed before it did
	if kill -0 "$TRACER" 2>/dev/null; then
		echo >"$D/go" || true
		wait "$TRACER" || true
	fi
}

# release: lets the program finish and waits for the tracer (its status 0).
release() {
	echo go >"$D/go"
	wait "$TRACER" || fail "the tracer exited $?: $(cat "$D/tracer.err")"
}

@test "pmt-filter on a live log: every complete frame, one line saying it is live, exit 0" {
	local t
	for t in 1 4; do
		run --separate-stderr pmt-filter --threads "$t" --format csv "$D/live.log.zst"
		assert_success
		# one line on stderr, and no corruption report
		[ "$(printf '%s\n' "$stderr" | wc -l)" = 1 ] || fail "stderr: $stderr"
		[[ $stderr =~ ^pmt-filter:\ .*live.log.zst:\ warning:\ log\ is\ still\ being\ written\ \(no\ trailer\ yet\):\ read\ [0-9]+\ events\ up\ to\ its\ last\ complete\ frame$ ]] ||
			fail "stderr: $stderr"
		[ "$(printf '%s\n' "$output" | grep -c ',phase_one,')" -ge "$N" ] || fail "phase_one calls missing"
		printf '%s\n' "$output" >"$D/live.$t.csv"
	done
	cmp "$D/live.1.csv" "$D/live.4.csv"
	release
	run --separate-stderr pmt-filter --format csv "$D/live.log.zst"
	assert_success
	[ -z "$stderr" ] || fail "the finished log: $stderr"
	printf '%s\n' "$output" >"$D/final.csv"
	# what was read live is the finished log's beginning, event for event
	local k
	k=$(wc -l <"$D/live.1.csv")
	head -n "$k" "$D/final.csv" | cmp - "$D/live.1.csv"
	[ "$(wc -l <"$D/final.csv")" -gt "$k" ]
	[ "$(grep -c ',phase_two,' "$D/final.csv")" -ge 1000 ]
}

@test "pmt-summarise and pmt-prev on a live log: read up to the last frame, said once, exit as for a cut log" {
	run --separate-stderr pmt-summarise --format csv "$D/live.log.zst"
	assert_success
	[[ $stderr =~ ^pmt-summarise:\ .*live.log.zst:\ warning:\ log\ is\ still\ being\ written\ \(no\ trailer\ yet\):\ read\ [0-9]+\ events\ up\ to\ its\ last\ complete\ frame$ ]] ||
		fail "stderr: $stderr"
	[[ $output == *",live"* ]] || fail "the complete column does not say live: $output"
	run --separate-stderr pmt-prev --drss 0 --context 0 "$D/live.log.zst"
	assert_success
	[ "$(printf '%s\n' "$stderr" | grep -c 'still being written')" = 1 ] || fail "stderr: $stderr"
	[[ $stderr != *corrupt* && $stderr != *truncated* ]] || fail "stderr: $stderr"
	release
	run --separate-stderr pmt-summarise --format csv "$D/live.log.zst"
	assert_success
	[ -z "$stderr" ] || fail "the finished log: $stderr"
	[[ $output == *",yes"* ]] || fail "the finished log is not complete: $output"
}

@test "a copy of a live log is a cut log, not a live one" {
	cp "$D/live.log.zst" "$D/copy.log.zst"
	run --separate-stderr pmt-filter --format csv "$D/copy.log.zst"
	assert_success
	[[ $stderr == *"copy.log.zst: warning: log is truncated"* ]] || fail "stderr: $stderr"
	[[ $stderr != *"still being written"* ]] || fail "stderr: $stderr"
	run --separate-stderr pmt-summarise --format csv "$D/copy.log.zst"
	[[ $output == *",truncated"* ]] || fail "complete column: $output"
	release
}
