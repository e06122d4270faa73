#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# python -m pmt_tracer.process (the monitor CLI), the tracer's --process-log,
# and the reports on what they write: pmt-summarise, pmt-diff, pmt-gnuplot.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert

setup() {
	export LC_ALL=C
	cd "$BATS_TEST_TMPDIR"
	COMPAT="${PMT_SHARED:-/nonexistent}/compat"
}

kinds() {
	grep -o 'ProcessLoggingThread-JSON[-A-Z]*' "$1"
}

# wait_for_line FILE TEXT: until FILE has TEXT (at most 30 s)
wait_for_line() {
	local i
	for i in $(seq 300); do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	fail "$1: no '$2' after 30 s"
}

@test "-- CMD: monitors the command until it exits, with its exit status" {
	run -3 --separate-stderr "$PYTHON" -m pmt_tracer.process -i 0.05 -o run.log -- \
		"$PYTHON" -c 'import time; b = bytearray(30 << 20); time.sleep(0.5); raise SystemExit(3)'
	[ "$(kinds run.log | head -1)" = "ProcessLoggingThread-JSON-START" ]
	[ "$(kinds run.log | tail -1)" = "ProcessLoggingThread-JSON-STOP" ]
	[ "$(kinds run.log | grep -c -- -STOP)" -eq 1 ]
	[ "$(kinds run.log | wc -l)" -ge 5 ]
	# the records are about the child, not the monitor
	pids=$(grep -o '"pid": [0-9]*' run.log | sort -u | wc -l)
	[ "$pids" -eq 1 ]
	run -0 --separate-stderr pmt-summarise run.log
	assert_line --regexp '^PID [0-9]+: [0-9]+ records, 0 labels, duration [0-9.]+ s, peak RSS [0-9]+ bytes'
	peak=$(echo "$output" | sed -n 's/.*peak RSS \([0-9]*\) bytes.*/\1/p')
	[ "$peak" -gt $((30 << 20)) ]
	run -0 --separate-stderr pmt-gnuplot run.log plots
	xmllint --noout plots/run.log_*.svg
	rsvg-convert plots/run.log_*.svg -o plot.png
}

@test "-- CMD: signals and missing commands" {
	run -137 --separate-stderr "$PYTHON" -m pmt_tracer.process -i 0.05 -o k.log -- sh -c 'sleep 0.3; kill -9 $$'
	[ "$(kinds k.log | tail -1)" = "ProcessLoggingThread-JSON-STOP" ]
	run -127 --separate-stderr "$PYTHON" -m pmt_tracer.process -o n.log -- /nonexistent/cmd
	[[ "$stderr" == *"/nonexistent/cmd"* ]]
}

@test "-p PID: ends by itself with a STOP record when the process ends" {
	# The watched process lives until the monitor has written its START
	# record, so a slow interpreter start (a loaded machine, a sanitizer
	# build) cannot find it gone already.
	sleep 60 &
	pid=$!
	timeout 30 "$PYTHON" -m pmt_tracer.process -p $pid -i 0.1 -o p.log 2>p.err &
	mon=$!
	wait_for_line p.log ProcessLoggingThread-JSON-START
	kill $pid
	local st=0
	wait $mon || st=$?
	[ "$st" -eq 0 ] || fail "the monitor exited with $st"
	[ "$(kinds p.log | tail -1)" = "ProcessLoggingThread-JSON-STOP" ]
	grep -q "\"pid\": $pid}" p.log
	# to stderr by default
	sleep 60 &
	pid=$!
	timeout 30 "$PYTHON" -m pmt_tracer.process -p $pid -i 0.1 >out 2>err &
	mon=$!
	wait_for_line err ProcessLoggingThread-JSON-START
	kill $pid
	local st=0
	wait $mon || st=$?
	[ "$st" -eq 0 ] || fail "the monitor exited with $st"
	[ ! -s out ]
	grep -q "ProcessLoggingThread-JSON-START {" err
	grep -q "ProcessLoggingThread-JSON-STOP {" err
}

@test "bad usage" {
	run -2 --separate-stderr "$PYTHON" -m pmt_tracer.process -p 99999999 -o x.log
	[[ "$stderr" == "pmt_tracer.process: "* ]]
	run -2 --separate-stderr "$PYTHON" -m pmt_tracer.process -i 1
	run -2 --separate-stderr "$PYTHON" -m pmt_tracer.process -p 1 -- true
	run -2 --separate-stderr "$PYTHON" -m pmt_tracer.process -i 0 -- true
}

@test "the tracer's --process-log" {
	printf 'import time\nb = bytearray(20 << 20)\ntime.sleep(0.3)\n' >app.py
	run -0 --separate-stderr "$PYTHON" -m pmt_tracer --process-log proc.log --process-interval 0.05 \
		-o trace.log.zst app.py
	[ "$(kinds proc.log | head -1)" = "ProcessLoggingThread-JSON-START" ]
	[ "$(kinds proc.log | tail -1)" = "ProcessLoggingThread-JSON-STOP" ]
	run -0 --separate-stderr pmt-summarise proc.log
	assert_line --partial "records, 0 labels"
}

@test "pmt-summarise reproduces pymemtrace's table for its oracle log" {
	[ -f "$COMPAT/process_oracle_example.expected" ] || skip "no compat logs"
	run -0 --separate-stderr pmt-summarise --format text "$COMPAT/process_oracle_example.log"
	n=$(wc -l <"$COMPAT/process_oracle_example.expected")
	diff -u "$COMPAT/process_oracle_example.expected" <(echo "$output" | head -n "$n")
	assert_line "PID 24098: 6 records, 0 labels, duration 5.3 s, peak RSS 56565760 bytes (53.9 MiB), mean CPU 99.4%, effective time 5.3 s"
}

@test "pmt-summarise on Linux psutil logs (no pfaults), formats, bad inputs" {
	[ -d "$COMPAT" ] || skip "no compat logs"
	run -0 --separate-stderr pmt-summarise "$COMPAT/process_json_linux_psutil594.log"
	assert_line --partial "no page faults recorded"
	assert_line --regexp '^0\.6 +68182016 {23}0\.1 +10\.6% +0\.0% 2026-11-21T19:14:39\.965075  13507 # String of 50\.000 MB$'
	for f in csv json markdown rst; do
		run -0 --separate-stderr pmt-summarise --format $f "$COMPAT/pymemtrace_examples_process.log"
		[[ "$output" == *"String of 305.000 MB"* ]]
	done
	pmt-summarise --format json "$COMPAT/pymemtrace_examples_process.log" | "$PYTHON" -c 'import json, sys; d = json.load(sys.stdin); assert len(d["records"]) == 28 and d["summary"][0]["PID"] == 25676'
	: >empty.log
	run -2 --separate-stderr pmt-summarise empty.log
	printf 'x ProcessLoggingThread-JSON {"pid": 1,\n' >bad.log
	run -2 --separate-stderr pmt-summarise bad.log
}

@test "pmt-diff: the Summary table for a baseline and runs" {
	[ -d "$COMPAT" ] || skip "no compat logs"
	run -0 --separate-stderr pmt-diff --format csv "$COMPAT/process_oracle_example.log" \
		"$COMPAT/pymemtrace_examples_process.log" "$COMPAT/process_json_linux_psutil594.log"
	assert_line --index 0 "Run,PIDs,Records,Time (s),Ratio,Peak RSS,Peak RSS (MiB),Mean CPU%,Effective (s)"
	assert_line --partial "process_oracle_example.log,1,6,5.3,x1.00,56565760,53.9,99.4,5.3"
	# 13.5 / 5.3028600215911865 = 2.54
	assert_line --partial "pymemtrace_examples_process.log,1,28,13.5,x2.54,394448896,376.2,"
	for f in text json markdown rst; do
		run -0 --separate-stderr pmt-diff --format $f "$COMPAT/process_oracle_example.log" \
			"$COMPAT/pymemtrace_examples_process.log"
		[[ "$output" == *"x2.54"* ]]
	done
}
