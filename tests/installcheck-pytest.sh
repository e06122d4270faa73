#!/bin/sh
# SPDX-License-Identifier: MIT
# make installcheck: the installed pmt_tracer, found by pytest through its
# pytest11 entry point alone, fails a test over its limit_rss and names the
# function that grew, read by the installed pmt-summarise.
#   installcheck-pytest.sh PYTHON PYEXECDIR BINDIR
set -eu
python=$1 site=$2 bin=$3
if ! "$python" -c 'import pytest' 2>/dev/null; then
	echo "installcheck-pytest: pytest is not installed for $python: skipped"
	exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/test_installed.py" <<'PY'
import pytest

def make_big():
    return bytearray(16 << 20)

@pytest.mark.limit_rss("4 MiB")
def test_over():
    make_big.keep = make_big()

def test_fine():
    pass
PY
status=0
(cd "$tmp" && PYTHONPATH="$site" PATH="$bin:$PATH" PYTHONDONTWRITEBYTECODE=1 \
	"$python" -m pytest -q -p no:cacheprovider --pmt test_installed.py >out.txt 2>&1) || status=$?
fail() {
	echo "installcheck-pytest: $1" >&2
	cat "$tmp/out.txt" >&2
	exit 1
}
[ "$status" -eq 1 ] || fail "pytest exited $status, not 1"
grep -q 'more than its limit_rss of 4.0 MiB' "$tmp/out.txt" || fail "no limit_rss failure"
grep -q 'MiB  make_big (' "$tmp/out.txt" || fail "the function that grew is not named"
grep -q '1 failed, 1 passed' "$tmp/out.txt" || fail "wrong outcome"
echo "installcheck-pytest: ok"
