#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# --threads: a pmt log's frames decoded ahead on other threads give the same
# output, stderr and exit status as the reading thread alone, on a real
# tracer log of many frames, on that log cut in a frame, and with a frame in
# the middle corrupted (in its data, and in its header).

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	local d="$BATS_FILE_TMPDIR"
	# a real program, long enough for many 100 ms frames
	PYTHONPATH="$PMT_BUILDDIR/pylib" "${PYTHON:-python3}" -m pmt_tracer -q -o "$d/real.log.zst" \
		"$PMT_SRCDIR/bench/calls.py" --scale 0.2 >/dev/null
	"${PYTHON:-python3}" - "$d" <<'PYEOF'
import os, sys
d = sys.argv[1]
b = open(os.path.join(d, 'real.log.zst'), 'rb').read()
# frame starts: the zstd magic where a frame could begin (a chance match
# inside compressed data only moves which frame is hit)
magic = b'\x28\xb5\x2f\xfd'
starts = [i for i in range(len(b)) if b.startswith(magic, i)]
open(os.path.join(d, 'frames'), 'w').write('%d\n' % len(starts))
open(os.path.join(d, 'cut.log.zst'), 'wb').write(b[:len(b) * 3 // 5])
mid = starts[len(starts) // 2]
data = bytearray(b)
for i in range(mid + 200, mid + 264):
    data[i] ^= 0x5a
open(os.path.join(d, 'corrupt.log.zst'), 'wb').write(bytes(data))
head = bytearray(b)
for i in range(mid + 4, mid + 12):
    head[i] ^= 0xff
open(os.path.join(d, 'badheader.log.zst'), 'wb').write(bytes(head))
PYEOF
}

setup() {
	load helpers/common
	D="$BATS_FILE_TMPDIR"
}

# same LOG TOOL [ARGS]: the tool's stdout, stderr and status with --threads 1
# and 4 (and the default) are identical; $status is the status.
same() {
	local log=$1
	shift
	local t
	for t in 1 4 0; do
		local opt=(--threads "$t")
		[ "$t" = 0 ] && opt=()
		local rc=0
		"$@" "${opt[@]}" "$log" >"$BATS_TEST_TMPDIR/out.$t" 2>"$BATS_TEST_TMPDIR/err.$t" || rc=$?
		echo "$rc" >"$BATS_TEST_TMPDIR/rc.$t"
		[ "$rc" -lt 128 ] || fail "$* $log: --threads $t crashed ($rc)"
	done
	for t in 4 0; do
		cmp "$BATS_TEST_TMPDIR/out.1" "$BATS_TEST_TMPDIR/out.$t" ||
			fail "$* $log: stdout differs between --threads 1 and ${t/#0/the default}"
		cmp "$BATS_TEST_TMPDIR/err.1" "$BATS_TEST_TMPDIR/err.$t" ||
			fail "$* $log: stderr differs: $(cat "$BATS_TEST_TMPDIR/err.1") / $(cat "$BATS_TEST_TMPDIR/err.$t")"
		cmp -s "$BATS_TEST_TMPDIR/rc.1" "$BATS_TEST_TMPDIR/rc.$t" ||
			fail "$* $log: exit status differs"
	done
	status=$(cat "$BATS_TEST_TMPDIR/rc.1")
}

@test "a real log of many frames: every tool's output is the same for every --threads" {
	[ "$(cat "$D/frames")" -ge 6 ] || fail "only $(cat "$D/frames") frames"
	same "$D/real.log.zst" pmt-filter
	[ "$status" -eq 0 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out.1")" -gt 100000 ]
	same "$D/real.log.zst" pmt-filter --drss 4096 --format csv
	same "$D/real.log.zst" pmt-summarise --format json
	[ "$status" -eq 0 ]
	same "$D/real.log.zst" pmt-prev --drss -1
	same "$D/real.log.zst" pmt-flamegraph --weight calls
	same "$D/real.log.zst" pmt-summarise --folded
	same "$D/real.log.zst" pmt-filter --match fib -o - --force
	[ -s "$BATS_TEST_TMPDIR/out.1" ]
}

@test "a log cut in a frame: the same warning and the same events" {
	same "$D/cut.log.zst" pmt-filter
	[ "$status" -eq 0 ]
	grep -q truncated "$BATS_TEST_TMPDIR/err.1"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out.1")" -gt 1000 ]
	same "$D/cut.log.zst" pmt-summarise
}

@test "a corrupt frame in the middle: the same error, the same output up to it" {
	same "$D/corrupt.log.zst" pmt-filter
	[ "$status" -eq 2 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out.1")" -gt 1000 ]
	[ -s "$BATS_TEST_TMPDIR/err.1" ]
	same "$D/corrupt.log.zst" pmt-summarise
	[ "$status" -eq 2 ]
	same "$D/badheader.log.zst" pmt-filter
	[ "$status" -eq 2 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out.1")" -gt 1000 ]
	same "$D/badheader.log.zst" pmt-summarise --format csv
}

@test "--threads takes 1 to 256" {
	run -2 --separate-stderr pmt-filter --threads 0 "$D/real.log.zst"
	[[ "$stderr" == *"invalid --threads '0'"* ]]
	run -2 --separate-stderr pmt-summarise --threads x "$D/real.log.zst"
	[[ "$stderr" == *"invalid --threads 'x'"* ]]
}
