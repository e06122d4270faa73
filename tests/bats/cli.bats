#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# Every tool: --help, --version, a bad option, and a man page that names
# every long option of --help.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
	TOOLS="pmt-filter pmt-prev pmt-summarise pmt-diff pmt-flamegraph pmt-report"
	if [ -x "$PMT_BUILDDIR/plot/pmt-gnuplot" ]; then
		TOOLS="$TOOLS pmt-gnuplot"
	fi
}

@test "--help on stdout, exit 0" {
	for t in $TOOLS; do
		run -0 --separate-stderr "$t" --help
		assert_line --index 0 --regexp "^Usage: $t "
		[ -z "$stderr" ] || fail "$t --help wrote to stderr"
	done
}

@test "--version on stdout, exit 0" {
	for t in $TOOLS; do
		run -0 --separate-stderr "$t" --version
		assert_output --regexp "^$t \(pmt\) [0-9]+\.[0-9]+"
	done
}

@test "a bad option: one line, a hint, exit 2" {
	for t in $TOOLS; do
		run -2 --separate-stderr "$t" --no-such-option
		[ -z "$output" ] || fail "$t wrote to stdout"
		[[ "$stderr" == *"Try '$t --help' for more information."* ]] || fail "$t: $stderr"
		[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 2 ] || fail "$t: $stderr"
	done
}

@test "a missing file: prog: file: message, exit 2" {
	for t in pmt-filter pmt-prev pmt-summarise; do
		run -2 --separate-stderr "$t" no-such.log
		assert_equal "$stderr" "$t: no-such.log: no such file or directory"
	done
}

@test "every long option of --help is in the man page" {
	for t in $TOOLS; do
		page="$PMT_SRCDIR/docs/$t.1"
		[ -f "$page" ] || fail "no man page for $t"
		text=$(man -l "$page" 2>/dev/null || sed 's/\\-/-/g; s/\\f[BIR]//g' "$page")
		for o in $("$t" --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
			[[ "$text" == *"$o"* ]] || fail "$t: $o missing from $page"
		done
	done
}

@test "progress on a terminal for a large input, never into a file or a pipe" {
	command -v script >/dev/null || skip "script(1) not installed"
	mklog_log big.log.zst 1000000
	for t in pmt-filter pmt-summarise pmt-prev; do
		# script(1) gives the tool a terminal; the threshold is lowered to
		# this log's size (a few MiB) so the test stays small
		PMT_PROGRESS_MIN=1 script -qec "$t big.log.zst >/dev/null" /dev/null >tty.out
		grep -q "$t: big.log.zst: [0-9]*%" tty.out || fail "$t showed no progress: $(od -c tty.out | head)"
		grep -q "$(printf '\033\[K')" tty.out || fail "$t did not clear its progress line"
		PMT_PROGRESS_MIN=1 "$t" big.log.zst >/dev/null 2>err.out || true
		! grep -q '%' err.out || fail "$t wrote progress into a file"
	done
}
