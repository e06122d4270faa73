#!/usr/bin/env bats
# Every tool: --help, --version, a bad option, and a man page that names
# every long option of --help.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
	TOOLS="pmt-filter pmt-prev pmt-summarise pmt-diff"
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
