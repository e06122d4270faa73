#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The analysers on heap logs (version 2: ALLOC and SITE records): one file
# for the heap features of every tool, on mkheap's log whose figures are
# known (tests/bats/helpers/mkheap.c says what it holds); and a version-1
# log read exactly as the version-1 tools read it.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
	"$MKHEAP" heap.log.zst || fail "mkheap failed"
}

@test "pmt-summarise: the heap tables of a known log (golden)" {
	run -0 --separate-stderr pmt-summarise heap.log.zst
	if [ -n "${PMT_UPDATE_GOLDEN:-}" ]; then
		printf '%s\n' "$output" >"$GOLDEN/pmt-summarise/mkheap.txt"
	fi
	diff -u "$GOLDEN/pmt-summarise/mkheap.txt" <(printf '%s\n' "$output")
}

@test "pmt-summarise: allocator calls, peak, leaks and readings" {
	run -0 --separate-stderr pmt-summarise --format json heap.log.zst
	"$PY" - "$output" <<'PYEOF' || fail "wrong figures"
import json, sys
js = json.loads(sys.argv[1])
calls = {r["call"]: (r["count"], r["bytes"]) for r in js["allocator_calls"]}
assert calls["malloc"] == (111, 100000 + 50000 + 777), calls
assert calls["calloc"] == (1, 1000) and calls["realloc"] == (3, 600), calls
# frees of known blocks count their sizes; the unknown one counts, 0 bytes
assert calls["free"] == (103, 100000 + 300 + 1000), calls
assert calls["free(NULL)"] == (2, 0) and calls["posix_memalign"] == (1, 4096), calls
h = js["heap"][0]
assert h["peak_live_bytes"] == 100000 and h["peak_event"] == 2, h
assert h["live_at_exit_bytes"] == 50000 + 4096 + 777 and h["live_blocks_at_exit"] == 12, h
assert h["unknown_frees"] == 1 and h["rss_growth_bytes"] == 409600, h
assert h["reading"].startswith("RSS grew more than the heap"), h
leaks = [(l["function"], l["line"], l["blocks"], l["bytes"]) for l in js["leaks"]]
assert leaks == [("leaker", 21, 10, 50000), ("leaker", 25, 1, 4096),
                 ("<no Python code>", 0, 1, 777)], leaks
f = {r["function"]: r for r in js["heap_functions_alloc"]}
assert f["churn"]["alloc_bytes"] == 100000 and f["churn"]["live_at_peak_bytes"] == 100000
assert f["churn"]["live_at_exit_bytes"] == 0 and f["churn"]["heap_net_bytes"] == 0
assert f["leaker"]["live_at_exit_bytes"] == 54096 and f["leaker"]["reading"] == "heap>rss", f
m = {r["function"]: r for r in js["functions"]}
assert m["mapper"]["self_bytes"] == 409600
r = js["heap_functions_rss"]
assert [(x["function"], x["rss_self_bytes"], x["heap_net_bytes"], x["reading"]) for x in r] == \
    [("mapper", 409600, 0, "rss>heap")], r
PYEOF
}

@test "pmt-summarise --folded --weight: heap weights add up to the tables'" {
	run -0 --separate-stderr pmt-summarise --folded --weight leaked heap.log.zst
	assert_line "main (a.py);leaker (b.py) 54096"
	assert_line "<unknown> 777"
	run -0 --separate-stderr pmt-summarise --folded --weight alloc heap.log.zst
	assert_line "main (a.py);churn (a.py) 100000"
	run -0 --separate-stderr pmt-summarise --folded --weight live heap.log.zst
	assert_output "main (a.py);churn (a.py) 100000"
	run -0 --separate-stderr pmt-summarise --folded --weight rss heap.log.zst
	assert_output "main (a.py);mapper (b.py) 409600"
	run -2 --separate-stderr pmt-summarise --folded --weight bytes heap.log.zst
	assert_equal "${stderr_lines[0]}" "pmt-summarise: invalid --weight 'bytes' (rss, calls, alloc, live, leaked, objects or live-objects)"
}

@test "pmt-filter --size-min: the calls that asked for that much, at their sites" {
	run -0 --separate-stderr pmt-filter --size-min 4096 heap.log.zst
	assert_equal "${#lines[@]}" 13 # header, 10 + 1 leaked blocks, EOF
	assert_line --index 1 --regexp '^HEAP: 4 +0\.000004 +malloc +5000 0x200000 +- +0 +21 leaker /srv/b.py$'
	assert_line --index 11 --regexp '^HEAP: 4 .* posix_memalign +4096 0x330000 .* 25 leaker /srv/b.py$'
	run -0 --separate-stderr pmt-filter --size-min 0 --match '^leaker$' --format csv heap.log.zst
	assert_line --index 0 "tag,event,clock,call,size,addr,old_addr,align,thread,file,line,function"
	assert_line "HEAP,4,0.000004,realloc,300,0x310000,0x300000,0,0,/srv/b.py,22,leaker"
	assert_line "HEAP,4,0.000004,free(NULL),,0x0,,0,0,/srv/b.py,24,leaker"
	run -0 --separate-stderr pmt-filter --size-min 700 --thread 1 --format json heap.log.zst
	assert_output --partial '"call": "malloc", "size": 777, "addr": 4194304'
	run -1 --separate-stderr pmt-filter --size-min 1M heap.log.zst
	run -2 --separate-stderr pmt-filter --size-min 1k --drss 4096 heap.log.zst
	assert_output ""
}

@test "pmt-filter --size-min -o: a heap log every tool reads, events still counted" {
	run -0 --separate-stderr pmt-filter --size-min 1000 -o big.log.zst heap.log.zst
	run -0 --separate-stderr pmt-summarise --format json big.log.zst
	"$PY" - "$output" <<'PYEOF' || fail "wrong copy"
import json, sys
js = json.loads(sys.argv[1])
assert js["logs"][0]["events"] == 8, js["logs"]
calls = {r["call"]: r["count"] for r in js["allocator_calls"]}
assert calls["malloc"] == 110 and calls["calloc"] == 1 and calls["free"] == 0, calls
assert [(l["function"], l["bytes"]) for l in js["leaks"]][:1] == [("churn", 100000)]
PYEOF
}

@test "pmt-diff: heap tables, and --threshold on leaked bytes gates" {
	"$MKHEAP" more.log.zst 30
	# exact bytes and paths, so the figures read as the log has them
	run -0 --separate-stderr pmt-diff --bytes --full-path heap.log.zst heap.log.zst
	assert_line --regexp '^live_at_exit_bytes +54873 +54873 +0 +1\.000$'
	run -1 --separate-stderr pmt-diff --bytes --full-path --threshold 50k heap.log.zst more.log.zst
	assert_line --regexp '^leaker +/srv/b\.py +15 +35 +55696 +155696 +100000 +54096 +154096 +100000$'
	assert_line --regexp '^live_at_exit_bytes +54873 +154873 +100000 +2\.822$'
	[[ "$stderr" == *"bytes live at exit (leaked) grew by more than 51200 bytes"* ]] || fail "$stderr"
	run -0 --separate-stderr pmt-diff --threshold 100k heap.log.zst more.log.zst
	run -0 --separate-stderr pmt-diff --threshold 1 more.log.zst heap.log.zst
}

@test "pmt-gnuplot: live heap and RSS on one plot" {
	command -v gnuplot >/dev/null || skip "gnuplot not installed"
	run -0 --separate-stderr pmt-gnuplot heap.log.zst plots
	[ -s plots/heap.log.zst_4343.svg ] || fail "no svg"
	run grep -c 'index 1 using 1:(\$2 / 1024\*\*2) axes x1y2 title "live heap (MiB)"' plots/heap.log.zst_4343.plt
	assert_output 1
	# the second data set: the live heap at each call, peak 100000 bytes
	run awk 'BEGIN { set = 0 } /^# time .*live heap/ { set = 1; next } set && NF == 2 && $2 > max { max = $2 } END { print max }' plots/heap.log.zst_4343.dat
	assert_output 100000
}

@test "heap logs cut or corrupt: what was readable, then the error" {
	"$MKHEAP" cut.log.zst 10 --no-trailer
	run -0 --separate-stderr pmt-summarise cut.log.zst
	[[ "$stderr" == *"truncated"* ]] || fail "$stderr"
	assert_output --partial "Allocator calls"
	local size
	size=$(stat -c %s heap.log.zst)
	head -c $((size - 20)) heap.log.zst >half.log.zst
	run --separate-stderr pmt-filter --size-min 0 half.log.zst
	[ "$status" -le 2 ] || fail "status $status"
	[[ "$stderr" == pmt-filter:\ *half.log.zst:* ]] || fail "$stderr"
	# an ALLOC with the unassigned op 15 inside a valid frame
	"$PY" - heap.log.zst bad.log.zst <<'PYEOF'
import subprocess, sys
raw = subprocess.run(["zstd", "-dcq", sys.argv[1]], stdout=subprocess.PIPE).stdout
site = b"\x08\x03\x00\x01\x02"   # SITE thread 0, main, line 2; then free's tag
i = raw.index(site + b"\x83") + len(site)
bad = raw[:i] + b"\x8f" + raw[i + 1:]
open(sys.argv[2], "wb").write(subprocess.run(["zstd", "-q", "-c"], input=bad,
                                              stdout=subprocess.PIPE).stdout)
PYEOF
	run -2 --separate-stderr pmt-summarise bad.log.zst
	[[ "$stderr" == "pmt-summarise: bad.log.zst: corrupt"* ]] || fail "$stderr"
	run -2 --separate-stderr pmt-filter --size-min 0 bad.log.zst
}

@test "a version-1 log is read exactly as the version-1 tools read it" {
	cd "$PMT_SRCDIR"
	# (the version-1 tools showed exact bytes and full paths)
	run -0 --separate-stderr pmt-summarise --top 3 --bytes --full-path tests/fixtures/v1-mklog-300.log.zst
	diff -u "$GOLDEN/pmt-summarise/v1-mklog-300.txt" <(printf '%s\n' "$output")
	zstd -dcq tests/fixtures/v1-mklog-300.log.zst | head -c 11 | od -An -tx1 | grep -q '01 32 01' ||
		fail "the fixture is not a version-1 log"
}
