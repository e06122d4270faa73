# SPDX-License-Identifier: MIT
"""Runs one unittest file and reports in TAP, one line per test, so that
automake's tap-driver counts them: `python tap_unittest.py tests/python/test_x.py`."""
import importlib.util
import os
import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self, total):
        super().__init__()
        self.n = 0
        print('1..%d' % total, flush=True)

    def _line(self, ok, test, extra=''):
        self.n += 1
        name = test.id().split('.', 1)[-1] if hasattr(test, 'id') else str(test)
        print('%s %d - %s%s' % ('ok' if ok else 'not ok', self.n, name, extra), flush=True)

    def _diag(self, err):
        text = ''.join(traceback.format_exception(*err))
        for line in text.rstrip().splitlines():
            print('# ' + line)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._line(False, test)
        self._diag(err)

    def addError(self, test, err):
        super().addError(test, err)
        self._line(False, test)
        self._diag(err)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, ' # SKIP %s' % reason.replace('\n', ' '))

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test, ' # TODO expected failure')

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, ' # unexpected success')


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def main(argv):
    if len(argv) != 2:
        sys.stderr.write('usage: tap_unittest.py TEST_FILE.py\n')
        return 2
    path = os.path.abspath(argv[1])
    sys.path.insert(0, os.path.dirname(path))
    name = os.path.splitext(os.path.basename(path))[0]
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
        suite = unittest.defaultTestLoader.loadTestsFromModule(mod)
    except Exception:
        print('1..1')
        print('not ok 1 - load %s' % name)
        for line in traceback.format_exc().splitlines():
            print('# ' + line)
        return 1
    tests = list(_flatten(suite))
    result = TapResult(len(tests))
    unittest.TestSuite(tests).run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == '__main__':
    sys.exit(main(sys.argv))
