#!/usr/bin/env bats
# SPDX-License-Identifier: MIT
# The analysers on object logs: pymemtrace ReferenceTracing text logs
# (written here line by line in its layout, and the real ones of
# shared/compat), and their bad forms.

setup() {
	load helpers/common
	cd "$BATS_TEST_TMPDIR"
}

# NEW/DEL lines in pymemtrace's 245-character layout.
rt_line() { # op clock addr livecnt type file line function rss drss
	printf '%s %12s %16s %16s %-32s %-80s %4s %-40s %16s %16s\n' "$@"
}

mk_reftrace() {
	{
		echo "a message"
		echo SOF
		printf 'HDR: %12s %16s %16s %-32s %-80s %4s %-40s %16s %16s\n' Clock Address LiveCnt \
			Type File Line Function RSS dRSS
		rt_line NEW: 0.001000 0x7f0000001000 1 Node "/srv/my app/a.py" 10 build 1000000 -140061841682352
		rt_line NEW: 0.002000 0x7f0000002000 2 Node "/srv/my app/a.py" 10 build 1004096 4096
		rt_line NEW: 0.003000 0x7f0000003000 3 Node "/srv/my app/a.py" 11 build 1008192 4096
		rt_line NEW: 0.004000 0x7f0000004000 1 Leaf "/srv/my app/b.py" 20 leaf 1008192 0
		rt_line DEL: 0.005000 0x7f0000002000 2 Node "/srv/my app/a.py" 12 build 1008192 0
		printf 'MSG: %12s # Suspending reference tracing.\n' 0.006000
		printf 'MSG: %12s # Resuming reference tracing.\n' 0.007000
		printf 'MSG: %12s # Resuming reference tracing.\n' 0.007001
		rt_line DEL: 0.008000 0x7f0000001000 1 Node "/srv/my app/a.py" 13 build 1008192 0
		echo EOF
	} >rt.log
}

@test "pmt-summarise: objects by type and leaks by creation site of a ReferenceTracing log" {
	mk_reftrace
	run -0 --separate-stderr pmt-summarise --format json rt.log
	"$PY" - "$output" <<'PYEOF' || fail "wrong figures"
import json, sys
d = json.loads(sys.argv[1])
types = {r['type']: r for r in d['objects']}
assert types['Node'] == dict(type='Node', created=3, destroyed=2, live_end=1, peak_live=3), types
assert types['Leaf']['live_end'] == 1 and types['Leaf']['peak_live'] == 1
leaks = [(r['type'], r['function'], r['file'], r['line'], r['live']) for r in d['object_leaks']]
assert sorted(leaks) == [('Leaf', 'leaf', '/srv/my app/b.py', 20, 1),
                         ('Node', 'build', '/srv/my app/a.py', 11, 1)], leaks
PYEOF
}

@test "pmt-summarise: the object tables in every output format" {
	mk_reftrace
	for f in text markdown rst csv json; do
		run -0 --separate-stderr pmt-summarise --format $f rt.log
		[[ "$output" == *Node* && "$output" == *live_end* && "$output" == *peak_live* ]] ||
			fail "$f: no objects table: $output"
	done
}

@test "pmt-summarise: a zstd-compressed ReferenceTracing log reads the same" {
	mk_reftrace
	zstd -q rt.log -o rt.log.zst
	run -0 --separate-stderr pmt-summarise --format csv rt.log
	plain=$output
	run -0 --separate-stderr pmt-summarise --format csv rt.log.zst
	[ "$(grep -c Node <<<"$output")" = "$(grep -c Node <<<"$plain")" ]
}

@test "ReferenceTracing logs: truncated, corrupt, empty and wrong type" {
	mk_reftrace
	head -c 700 rt.log >cut.log
	run -0 --separate-stderr pmt-summarise cut.log
	stderr_has "truncated"
	sed 's/0x7f0000003000/nothex/' rt.log >bad.log
	run -2 --separate-stderr pmt-summarise bad.log
	stderr_has "bad.log: "
	stderr_has "not a ReferenceTracing line"
	printf 'SOF\nHDR:        Clock          Address          LiveCnt Type\nGARBAGE\nEOF\n' >bad2.log
	run -2 --separate-stderr pmt-summarise bad2.log
	stderr_has "bad2.log: "
	: >empty.log
	run -2 --separate-stderr pmt-summarise empty.log
	stderr_has "empty.log: "
	printf 'SOF\nHDR:        Clock          Address          LiveCnt Type\nEOF\nNEW: x\n' >after.log
	run -2 --separate-stderr pmt-summarise after.log
	stderr_has "after EOF"
}

@test "ReferenceTracing lines: names with spaces, and fields wider than their columns" {
	long_type=a.type.name.longer.than.thirty.two.characters
	long_file=/srv/$(printf 'd%.0s' $(seq 90))/m.py
	{
		echo SOF
		printf 'HDR: %12s %16s %16s %-32s %-80s %4s %-40s %16s %16s\n' Clock Address LiveCnt \
			Type File Line Function RSS dRSS
		rt_line NEW: 0.001000 0x7f0000001000 1 "symtable entry" "<frozen posixpath>" 7 \
			"<generic parameters of SupportsAbs>" 1000000 0
		rt_line NEW: 0.002000 0x7f0000002000 1 "$long_type" "$long_file" 12345 f 1004096 4096
		rt_line DEL: 0.003000 0x7f0000001000 0 "symtable entry" "<frozen posixpath>" 8 \
			"<generic parameters of SupportsAbs>" 1004096 0
		echo EOF
	} >sp.log
	run -0 --separate-stderr pmt-summarise --format json sp.log
	"$PY" - "$output" "$long_type" "$long_file" <<'PYEOF' || fail "wrong figures: $output"
import json, sys
d = json.loads(sys.argv[1])
types = {r['type']: (r['created'], r['destroyed']) for r in d['objects']}
assert types == {'symtable entry': (1, 1), sys.argv[2]: (1, 0)}, types
leaks = [(r['type'], r['function'], r['file'], r['line']) for r in d['object_leaks']]
assert leaks == [(sys.argv[2], 'f', sys.argv[3], 12345)], leaks
PYEOF
	run -0 --separate-stderr pmt-filter --type '^symtable entry$' sp.log
	[ "$(grep -c '<generic parameters of SupportsAbs>' <<<"$output")" = 2 ]
}

@test "real ReferenceTracing logs from shared/compat" {
	compat_log reftrace_outer_py313.log
	run -0 --separate-stderr pmt-summarise --format json "$f"
	"$PY" - "$output" <<'PYEOF' || fail "wrong figures"
import json, sys
d = json.loads(sys.argv[1])
types = {r['type']: r['created'] for r in d['objects']}
assert types == {'BytesWrapper': 2, 'range_iterator': 1, 'cPyMemTrace.ReferenceTracing': 1}, types
PYEOF
	compat_log reftrace_inner_py313.log
	run -0 --separate-stderr pmt-summarise --format json "$f"
	[[ "$output" == *BytesWrapper* ]]
}

@test "pmt-filter --type: pymemtrace's NEW:/DEL: layout, LiveCnt per type" {
	mk_reftrace
	run -0 --separate-stderr pmt-filter --type '^Node$' rt.log
	[ "$(grep -c '^NEW:' <<<"$output")" = 3 ]
	[ "$(grep -c '^DEL:' <<<"$output")" = 2 ]
	! grep -q Leaf <<<"$output"
	# the last DEL leaves one Node alive
	[ "$(grep '^DEL:' <<<"$output" | tail -1 | awk '{print $4}')" = 1 ]
	grep -q '^HDR: .*LiveCnt' <<<"$output"
	run -2 --separate-stderr pmt-filter --type '(' rt.log
	run -1 --separate-stderr pmt-filter --type '^Nothing$' rt.log
}
