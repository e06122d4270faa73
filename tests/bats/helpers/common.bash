# SPDX-License-Identifier: MIT
# Shared set-up for the analysers' Bats tests.
bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

export LC_ALL=C
MKLOG="$PMT_BUILDDIR/tests/bats/helpers/mklog"
MKHEAP="$PMT_BUILDDIR/tests/bats/helpers/mkheap"
MKPYMT="$PMT_SRCDIR/tests/bats/helpers/mkpymt.py"
GOLDEN="$PMT_SRCDIR/tests/golden"
PY="${PYTHON:-python3}"

# A pmt log of N events (seed, threads): mklog_log FILE N [SEED [THREADS]] [--no-trailer]
mklog_log() {
	"$MKLOG" "$@" || fail "mklog failed"
}

# A pymemtrace text log: pymt_log FILE [mkpymt options]
pymt_log() {
	"$PY" "$MKPYMT" "$@" || fail "mkpymt failed"
}

# The bad inputs every reader must survive, made in $BATS_TEST_TMPDIR/bad.
make_bad_inputs() {
	local d="$BATS_TEST_TMPDIR/bad"
	mkdir -p "$d"
	: >"$d/empty"
	mklog_log "$d/good.log.zst" 50000 3 2
	local size
	size=$(stat -c %s "$d/good.log.zst")
	head -c $((size / 2)) "$d/good.log.zst" >"$d/truncated.log.zst"
	# flip bytes in the middle of the compressed stream
	"$PY" - "$d/good.log.zst" "$d/corrupt.log.zst" <<'PYEOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
for i in range(len(b) // 3, len(b) // 3 + 64):
    b[i] ^= 0x5a
open(sys.argv[2], "wb").write(bytes(b))
PYEOF
	# binary garbage, fixed seed
	"$PY" -c 'import random,sys; r=random.Random(42); sys.stdout.buffer.write(bytes(r.randrange(256) for _ in range(4096)))' >"$d/garbage"
	# a PNG signature and header
	printf '\211PNG\r\n\032\n\000\000\000\rIHDR\000\000\000\001\000\000\000\001\010\006\000\000\000\037\025\304\211' >"$d/image.png"
	# a zstd-compressed pymemtrace log cut in the middle
	pymt_log "$d/p.log" --events 3000
	zstd -q -19 -f "$d/p.log" -o "$d/p.log.zst"
	size=$(stat -c %s "$d/p.log.zst")
	head -c $((size / 2)) "$d/p.log.zst" >"$d/ptrunc.log.zst"
	# a process JSON log
	printf '2024-01-01 00:00:00,000 INFO ProcessLoggingThread-JSON-START {"timestamp": "2024-01-01 00:00:00.000000", "memory_info": {"rss": 1000, "vms": 2000}, "cpu_times": {"user": 0.1, "system": 0.0}, "elapsed_time": 0.1, "pid": 7}\n' >"$d/process.log"
}

# Compares $output with tests/golden/TOOL/NAME after normalising the temporary
# directory; PMT_UPDATE_GOLDEN=1 rewrites the file instead.
golden() {
	local file="$GOLDEN/$1"
	local got
	got=$(printf '%s\n' "$output" | sed "s|$BATS_TEST_TMPDIR|TMP|g")
	if [ -n "${PMT_UPDATE_GOLDEN:-}" ]; then
		mkdir -p "$(dirname "$file")"
		printf '%s\n' "$got" >"$file"
		return 0
	fi
	[ -f "$file" ] || fail "no golden file $1 (run with PMT_UPDATE_GOLDEN=1)"
	diff -u "$file" <(printf '%s\n' "$got") || fail "output differs from golden $1"
}

# compat_log NAME: sets f to a real pymemtrace log from ../shared/compat, or
# skips the test. Not in $(...): skip must run in the test's own shell.
compat_log() {
	f="$PMT_SHARED/compat/$1"
	[ -f "$f" ] || skip "shared compat log $1 absent"
}

# bats-assert 2.1 has no assert_stderr: the same on $stderr.
stderr_has() {
	[[ "$stderr" == *"$1"* ]] || fail "stderr lacks '$1': $stderr"
}
stderr_match() {
	[[ "$stderr" =~ $1 ]] || fail "stderr does not match '$1': $stderr"
}
