#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# pmt-gnuplot: per-PID process plots and event-log RSS plots. Every SVG made
# here is checked to be valid XML and to render to PNG.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

setup() {
	export LC_ALL=C
	cd "$BATS_TEST_TMPDIR"
	COMPAT="${PMT_SHARED:-/nonexistent}/compat"
}

# rec PID T RSS PFAULTS USER [LABEL-JSON] [PREFIX-SUFFIX]
rec() {
	local pf="" label=""
	[ "$4" = "-" ] || pf=", \"pfaults\": $4"
	[ -z "$6" ] || label=", \"label\": $6"
	printf '2026-01-01 00:00:00,000 - process.py#1 - 1 - (ProcMon   ) - INFO     - ProcessLoggingThread-JSON%s {"timestamp": "2026-01-01 00:00:01.000000", "memory_info": {"rss": %s%s}, "cpu_times": {"user": %s}, "elapsed_time": %s, "pid": %s%s}\n' \
		"$7" "$3" "$pf" "$5" "$2" "$1" "$label"
}

svg_ok() {
	local f
	for f in "$@"; do
		[ -s "$f" ] || fail "no picture $f"
		xmllint --noout "$f" || fail "$f is not valid XML"
		rsvg-convert "$f" -o "${f%.svg}.render.png" || fail "$f does not render"
		[ -s "${f%.svg}.render.png" ] || fail "$f rendered to nothing"
	done
}

two_pid_log() {
	{
		echo "app: starting"
		rec 100 0.5 10485760 1000 0.1 "" -START
		rec 200 0.4 20971520 2000 0.2 '"child \"one\""' -START
		echo "2026-01-01 other.logger INFO something happened"
		rec 100 1.0 52428800 14000 0.6 '"loaded 40 MB"'
		rec 200 1.1 31457280 2500 0.9
		rec 100 1.5 12582912 14100 1.0 "" -STOP
		rec 200 1.6 20971520 2600 1.3 "" -STOP
	} >two.log
}

@test "compat logs from pymemtrace (macOS, Linux psutil, TotalDepth) plot" {
	[ -d "$COMPAT" ] || skip "no compat logs"
	for log in pymemtrace_examples_process.log process_json_linux_psutil594.log \
		process_oracle_example.log; do
		run -0 --separate-stderr pmt-gnuplot "$COMPAT/$log" out
		[ -z "$stderr" ] || fail "stderr: $stderr"
	done
	svg_ok out/pymemtrace_examples_process.log_25676.svg \
		out/process_json_linux_psutil594.log_13507.svg out/process_oracle_example.log_24098.svg
	# pymemtrace's .dat layout: header comment, padded columns, no final newline
	head -c 5 out/process_oracle_example.log_24098.dat | grep -qx '#t(s)'
	[ "$(tail -c 1 out/process_oracle_example.log_24098.dat | od -An -c | tr -d ' ')" != '\n' ]
	grep -q '^0.2                28475392        43974.9 ' out/process_oracle_example.log_24098.dat
	# Linux psutil records have no pfaults: NaN in the .dat, no fault series
	grep -q ' NaN ' out/process_json_linux_psutil594.log_13507.dat
	run ! grep -q 'using 1:(\$3' out/process_json_linux_psutil594.log_13507.plt
	# the 8 labels of the macOS example become arrows and rotated labels
	[ "$(grep -c '^set arrow' out/pymemtrace_examples_process.log_25676.plt)" -eq 8 ]
	grep -q "^set label 'String of 305.000 MB' at 0.747189998626709," \
		out/pymemtrace_examples_process.log_25676.plt
	grep -q 'String of 305.000 MB' out/pymemtrace_examples_process.log_25676.svg
}

@test "several PIDs: one plot each, with only its own labels" {
	two_pid_log
	run -0 --separate-stderr pmt-gnuplot two.log out
	assert_line "out/two.log_100.svg"
	assert_line "out/two.log_200.svg"
	svg_ok out/two.log_100.svg out/two.log_200.svg
	for ext in dat plt; do
		[ -s out/two.log_100.$ext ] && [ -s out/two.log_200.$ext ]
	done
	grep -q "loaded 40 MB" out/two.log_100.plt
	run ! grep -q "child" out/two.log_100.plt
	grep -q "child \"one\"" out/two.log_200.plt
	run ! grep -q "loaded" out/two.log_200.plt
	# the other logger's line is not data
	[ "$(grep -vc '^#' out/two.log_100.dat)" -eq 3 ]
	# RSS in the .dat is the record's
	grep -q '^1.0 *52428800 ' out/two.log_100.dat
}

@test "labels with quotes, backslashes and shell or gnuplot syntax are plain text" {
	{
		rec 7 0.5 1048576 10 0.1
		rec 7 1.0 2097152 20 0.2 '"it'"'"'s \"quoted\" \\ back`touch pwned` $(touch pwned2) @macro <b>&amp;</b> caf\u00e9 \t tab"'
		rec 7 1.5 1048576 30 0.3 '"\u0001ctl and \\\\n"'
	} >labels.log
	run -0 --separate-stderr pmt-gnuplot labels.log out
	svg_ok out/labels.log_7.svg
	[ ! -e pwned ] && [ ! -e out/pwned ] && [ ! -e out/pwned2 ] && [ ! -e pwned2 ]
	# the text reaches the picture intact (XML-escaped by gnuplot)
	grep -q 'it&apos;s\|it'"'"'s' out/labels.log_7.svg
	grep -q '\\ back`touch pwned`' out/labels.log_7.svg
	grep -q '&lt;b>&amp;amp;&lt;/b>' out/labels.log_7.svg
	grep -q 'café' out/labels.log_7.svg
}

@test "a broken JSON line is reported with its line number and skipped" {
	two_pid_log
	sed -i '4a x ProcessLoggingThread-JSON {"pid": 100, "elapsed_time": ' two.log
	run -0 --separate-stderr pmt-gnuplot two.log out
	assert_equal "$stderr" "pmt-gnuplot: two.log: warning: line 5: broken json record (skipped)"
	svg_ok out/two.log_100.svg out/two.log_200.svg
}

@test "zero time delta and missing pfaults do not break the plot" {
	{
		rec 3 1.0 1048576 - 0.5
		rec 3 1.0 2097152 - 0.5 '"same time"'
		rec 3 2.0 1048576 - 0.7
	} >zero.log
	run -0 --separate-stderr pmt-gnuplot zero.log out
	svg_ok out/zero.log_3.svg
	grep -q 'NaN' out/zero.log_3.dat
}

@test "--size and --png" {
	two_pid_log
	run -0 --separate-stderr pmt-gnuplot --size 640,480 --png two.log out
	assert_line "out/two.log_100.png"
	svg_ok out/two.log_100.svg
	grep -q 'width="640"' out/two.log_100.svg
	grep -q 'height="480"' out/two.log_100.svg
	[ "$(head -c 4 out/two.log_100.png | tail -c 3)" = "PNG" ]
	run -2 --separate-stderr pmt-gnuplot --size 640 two.log out
	assert_output ""
	[[ "$stderr" == *"invalid size"* ]]
}

@test "compressed process log" {
	two_pid_log
	zstd -q two.log -o two.log.zst
	run -0 --separate-stderr pmt-gnuplot two.log.zst out
	svg_ok out/two.log.zst_100.svg
}

@test "without gnuplot the .dat and .plt are still written, and the error is clear" {
	two_pid_log
	GNUPLOT=/nonexistent/gnuplot run -2 --separate-stderr pmt-gnuplot two.log out
	[[ "$stderr" == "pmt-gnuplot: cannot run gnuplot '/nonexistent/gnuplot': no such file or directory"* ]]
	[ "$(echo "$stderr" | wc -l)" -eq 1 ]
	[ -s out/two.log_100.dat ] && [ -s out/two.log_100.plt ]
	[ -s out/two.log_200.dat ] && [ -s out/two.log_200.plt ]
	[ ! -e out/two.log_100.svg ]
	# the written script works once gnuplot is there
	(cd out && gnuplot two.log_100.plt)
	svg_ok out/two.log_100.svg
}

@test "a failing gnuplot: status checked, its stderr in the message" {
	two_pid_log
	printf '#!/bin/sh\necho "line 3: undefined variable: oops" >&2\nexit 1\n' >fake
	chmod +x fake
	GNUPLOT="$PWD/fake" run -2 --separate-stderr pmt-gnuplot two.log out
	assert_output ""
	[[ "$stderr" == *"out/two.log_100.plt: gnuplot failed (exit status 1): line 3: undefined variable: oops"* ]]
}

@test "empty, wrong-type, corrupt and truncated inputs" {
	: >empty.log
	run -2 --separate-stderr pmt-gnuplot empty.log out
	assert_equal "$stderr" "pmt-gnuplot: empty.log: empty input"
	printf 'hello\nworld\n' >text.log
	run -2 --separate-stderr pmt-gnuplot text.log out
	[[ "$stderr" == "pmt-gnuplot: text.log: no process records"* ]]
	printf 'a ProcessLoggingThread-JSON {broken\n' >bad.log
	run -2 --separate-stderr pmt-gnuplot bad.log out
	[[ "$stderr" == *"line 1: broken json record (skipped)"* ]]
	[[ "$stderr" == *"no readable process record"* ]]
	# corrupt zstd after the magic
	printf '\x28\xb5\x2f\xfd\xff\xff\xff\xff\xff\xff\xff\xff' >corrupt.zst
	run -2 --separate-stderr pmt-gnuplot corrupt.zst out
	[[ "$stderr" == "pmt-gnuplot: corrupt.zst: "* ]]
	# a zstd process log cut short: what was readable is plotted, and warned
	# (several zstd blocks: varied numbers that do not compress away)
	for i in $(seq 3000); do rec 100 "$i.$RANDOM" "$RANDOM$RANDOM" "$RANDOM" "0.$RANDOM"; done >many.log
	zstd -q many.log -o full.zst
	head -c $(($(stat -c %s full.zst) - 20)) full.zst >cut.zst
	run -0 --separate-stderr pmt-gnuplot cut.zst out
	[[ "$stderr" == *"pmt-gnuplot: cut.zst: warning: truncated zstd frame at the end"* ]]
	svg_ok out/cut.zst_100.svg
	[ "$(grep -vc '^#' out/cut.zst_100.dat)" -gt 1000 ]
	# a directory as log, an unusable OUTDIR
	run -2 --separate-stderr pmt-gnuplot . out
	[[ "$stderr" == "pmt-gnuplot: .: "* ]]
	touch afile
	run -2 --separate-stderr pmt-gnuplot many.log afile
	[[ "$stderr" == "pmt-gnuplot: afile: "* ]]
}

@test "event log: RSS over time with the largest rises and falls named" {
	[ -f "$COMPAT/profile_trigger_0_py311.log" ] || skip "no compat logs"
	run -0 --separate-stderr pmt-gnuplot --top 3 "$COMPAT/profile_trigger_0_py311.log" out
	plt=out/profile_trigger_0_py311.log.plt
	svg_ok out/profile_trigger_0_py311.log.svg
	# numbered marks on the curve, their names in a legend beside the plot
	grep -q "^set label '[0-9]*  -2.00 MiB  len (event 41)' at screen 0.70," "$plt"
	[ "$(grep -c "^set label '[0-9]*  +" "$plt")" -ge 1 ]
	[ "$(grep -c "^set label '[0-9]*  [-+]" "$plt")" -le 6 ]
	grep -q '^set xrange \[' "$plt"
	grep -q 'new_str' out/profile_trigger_0_py311.log.svg
}

@test "event log: number labels never overlap, messages drawn, a colour per thread" {
	mklog="$PMT_BUILDDIR/tests/bats/helpers/mklog"
	[ -x "$mklog" ] || skip "mklog not built"
	"$mklog" ev.log.zst 300000 4 3
	run -0 --separate-stderr pmt-gnuplot --top 8 ev.log.zst out
	plt=out/ev.log.zst_4242.plt
	svg_ok out/ev.log.zst_4242.svg
	# the number row: 16 labels at least 0.035 of the width apart
	grep '^set label "[0-9]*" at graph' "$plt" | sed 's/.* at graph \([0-9.]*\),.*/\1/' | sort -n |
		awk 'NR > 1 && $1 - p < 0.0349 { exit 1 } { p = $1 } END { exit NR != 16 }'
	# two messages: dashed lines and legend entries
	[ "$(grep -c '^set arrow from first .* graph 0 to first .* graph 1 nohead dt 3' "$plt")" -eq 2 ]
	grep -q "^set label 'M1  marker 100000'" "$plt"
	# three threads: one series each
	[ "$(grep -c "title 'thread " "$plt")" -eq 3 ]
	grep -q 'thread worker-2' out/ev.log.zst_4242.svg
}

@test "pmt event log, decimated to --max-points" {
	mklog="$PMT_BUILDDIR/tests/bats/helpers/mklog"
	[ -x "$mklog" ] || skip "mklog not built"
	"$mklog" ev.log.zst 200000
	run -0 --separate-stderr pmt-gnuplot --max-points 1000 ev.log.zst out
	svg=$(echo "$output" | head -1)
	svg_ok "$svg"
	dat="${svg%.svg}.dat"
	n=$(grep -vc '^#' "$dat")
	[ "$n" -le 1000 ] && [ "$n" -ge 250 ]
}

@test "--help, --version, bad option, missing operands" {
	run -0 pmt-gnuplot --help
	assert_line --partial "Usage: pmt-gnuplot [OPTION]... LOG OUTDIR"
	run -0 pmt-gnuplot --version
	assert_output --regexp '^pmt-gnuplot \(pmt\) [0-9]'
	run -2 --separate-stderr pmt-gnuplot --bogus x y
	assert_equal "$(echo "$stderr" | tail -1)" "Try 'pmt-gnuplot --help' for more information."
	run -2 --separate-stderr pmt-gnuplot onlyone
	[[ "$stderr" == *"missing LOG or OUTDIR"* ]]
}

@test "every long option in --help is in the man page" {
	man="$PMT_SRCDIR/docs/pmt-gnuplot.1"
	[ -f "$man" ]
	for opt in $(pmt-gnuplot --help | grep -o -- '--[a-z][a-z-]*' | sort -u); do
		grep -q -- "${opt//-/\\\\-}" "$man" || fail "$opt missing from the man page"
	done
}
