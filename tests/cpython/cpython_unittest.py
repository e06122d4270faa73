# SPDX-License-Identifier: MIT
"""Runs one module of CPython's own test package as `python -m unittest
MODULE` does, with regrtest's defaults (no optional resources, quiet), and
also writes each test's outcome to a file, one line per test, so that a run
under pmt_tracer can be compared test by test with a run without it:

    python -m cpython_unittest --record FILE [--timeout S] [--exclude ID]... test.test_x

Record lines, tab-separated: `ok ID`, `skip ID REASON`, `FAIL ID`,
`ERROR ID`, `xfail ID`, `xpass ID`; at exit `hook PROFILE TRACE`, the type
names of sys.getprofile() and sys.gettrace() then in the main thread.
"""
import argparse
import faulthandler
import sys
import unittest

from test import support


class RecordingResult(unittest.TextTestResult):
    record = None

    def _put(self, *fields):
        self.record.write('\t'.join(str(f).replace('\t', ' ').replace('\n', ' ')
                                    for f in fields) + '\n')

    def addSuccess(self, test):
        super().addSuccess(test)
        self._put('ok', test.id())

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._put('FAIL', test.id())

    def addError(self, test, err):
        super().addError(test, err)
        self._put('ERROR', test.id())

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._put('skip', test.id(), reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._put('xfail', test.id())

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._put('xpass', test.id())

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failure = issubclass(err[0], test.failureException)
            self._put('FAIL' if failure else 'ERROR', subtest.id())


def _drop(suite, excluded):
    """The suite without the tests whose id is in `excluded`."""
    kept = unittest.TestSuite()
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            kept.addTest(_drop(t, excluded))
        elif t.id() not in excluded:
            kept.addTest(t)
    return kept


def main():
    p = argparse.ArgumentParser(prog='cpython_unittest')
    p.add_argument('--record', required=True, metavar='FILE')
    p.add_argument('--timeout', type=float, default=0, metavar='S',
                   help='dump every thread\'s traceback and exit 1 after S seconds')
    p.add_argument('--exclude', action='append', default=[], metavar='ID')
    p.add_argument('-u', '--use', default='', metavar='RES,...',
                   help='test.support resources to enable (default: none, as regrtest)')
    p.add_argument('module')
    ns = p.parse_args()

    support.use_resources = [r for r in ns.use.split(',') if r]
    support.verbose = 0
    if ns.timeout > 0:
        faulthandler.dump_traceback_later(ns.timeout, exit=True)

    record = open(ns.record, 'w', buffering=1)
    RecordingResult.record = record
    try:
        loader = unittest.TestLoader()
        suite = _drop(loader.loadTestsFromName(ns.module), set(ns.exclude))
        runner = unittest.TextTestRunner(resultclass=RecordingResult)
        result = runner.run(suite)
        status = 0 if result.wasSuccessful() else 1
    finally:
        record.write('hook\t%s\t%s\n' % (type(sys.getprofile()).__name__,
                                        type(sys.gettrace()).__name__))
        record.close()
    return status


if __name__ == '__main__':
    sys.exit(main())
