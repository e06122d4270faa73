# SPDX-License-Identifier: MIT
"""CPython's own test suite as a tracer workload.

Runs each module of the interpreter's `test` package untraced, then under
`python -m pmt_tracer` in every configuration (profile and trace; on 3.12+
also with --hook legacy for the modules in LEGACY), and requires of every
traced run:

* the program's result as untraced: exit status, "Ran N tests", the
  OK/FAILED line, and the outcome of every single test, in order;
* a log that decodes completely: pmt-summarise exits 0 with nothing on
  stderr (a truncated or corrupt log is a warning or an error there), says
  complete=yes, counts as many events as the tracer's exit line reported
  (the trailer's total: both are the tracer's event count at close), all of
  them written (no --drss), and only the kinds of the mode.

pmt-summarise is the check because it is the one reader that prints the count
it decoded, and it costs about 20 ns per event (well under the traced run).

Output is TAP, one line per (module, configuration), then a summary of the
times; exit status 1 when anything differs. `make check-cpython` runs it for
the configured Python; `.ci/setup test` for 3.11 and 3.13.

    python cpython_suite.py [--modules test_json,test_re] [--configs untraced,trace]
                            [--timeout S] [--workdir DIR] [--keep]
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PY312 = sys.version_info >= (3, 12)

# The modules, in the order they run: the core language (generators,
# coroutines, exceptions, recursion, closures, descriptors), the C-heavy
# libraries (json, re, bytes, itertools, functools, decimal), the memory
# machinery (weakref, gc, tracemalloc), frames and tracebacks, threads, and
# the hooks' own tests.
MODULES = [
    'test_generators', 'test_coroutines', 'test_asyncgen', 'test_contextlib',
    'test_contextlib_async', 'test_context', 'test_exceptions', 'test_raise', 'test_with',
    'test_scope', 'test_class', 'test_descr', 'test_dict', 'test_bytes', 'test_json',
    'test_re', 'test_itertools', 'test_functools', 'test_decimal', 'test_weakref',
    'test_gc', 'test_tracemalloc', 'test_traceback', 'test_sys', 'test_thread',
    'test_threading', 'test_threading_local', 'test_sys_setprofile', 'test_sys_settrace',
]

# On 3.12+ the default hook is sys.monitoring; these also run with the legacy
# hook (PyEval_SetProfile/SetTrace): the ones that change the hooks
# themselves, start threads (threading.setprofile/settrace) or exercise
# every kind of frame entry and exit. The others would double the time.
LEGACY = {
    'test_generators', 'test_coroutines', 'test_asyncgen', 'test_contextlib',
    'test_exceptions', 'test_scope', 'test_descr', 'test_thread', 'test_threading',
    'test_threading_local',
    'test_sys_setprofile', 'test_sys_settrace',
}

# Left out of every run of the module, untraced and traced alike (so the
# runs still compare), with why.
EXCLUDED = [
    # (module, since, test id, why)
    ('test_json', (3, 12),
     'test.test_json.test_recursion.TestPyRecursion.test_highly_nested_objects_encoding',
     'the pure-Python encoder nests 5000 generators (support.infinite_recursion(5000), 75 '
     'before 3.12) and yields every chunk through all of them: 100 million events, '
     '60-95 s traced for a 1.5 s test; TestCRecursion still runs it'),
]

# Tests whose traced result legitimately differs: the traced outcome they
# must have (exactly, so a change in CPython shows), with why. A predicate
# on (mode, hook) says in which configurations.
ALLOWED = [
    # (module, since, until, test id regex, applies(mode, hook), outcome, why)
    ('test_tracemalloc', (3, 12), None,
     r'\.TestTracemallocEnabled\.test_get_traced_memory$',
     lambda mode, hook: mode == 'profile', 'FAIL',
     'from 3.12 CPython allocates an int for the instruction offset it passes to every '
     'CALL/C_RETURN callback past offset 256 (sys.monitoring, and so sys.setprofile too): '
     'tracemalloc sees 28-32 bytes after clear_traces(); the trace mode runs it'),
]

KINDS = {
    'profile': {'CALL', 'RETURN', 'C_CALL', 'C_RETURN', 'C_EXCEPTION'},
    'trace': {'CALL', 'RETURN', 'LINE', 'EXCEPTION'},
}

WROTE = re.compile(r'^pmt_tracer: wrote (.*): (\d+) events, (\d+) bytes')
# The guard's line at exit when the program's own profiler or tracer took
# the hook for a while: an announcement, as asked, not a difference.
DISPLACED = re.compile(r'^pmt_tracer: the hook was displaced (\d+) times? ')
RAN = re.compile(r'^Ran (\d+) tests? in ')
RESULT = re.compile(r'^(OK|FAILED|NO TESTS RAN)( \(.*\))?$')
# faulthandler.dump_traceback_later, maybe after unittest's dots
TIMEOUT = re.compile(r'Timeout \(\d+:\d\d:\d\d\)!$')


class Config:
    def __init__(self, name):
        self.name = name
        self.mode, _, hook = name.partition('-')
        self.traced = self.mode != 'untraced'
        self.explicit_hook = hook or None
        self.hook = hook or ('monitoring' if PY312 else 'legacy')

    def args(self):
        if not self.traced:
            return []
        a = ['-m', 'pmt_tracer', '--mode', self.mode]
        if self.explicit_hook:
            a += ['--hook', self.explicit_hook]
        return a


def configs_for(module, wanted):
    names = ['untraced', 'profile', 'trace']
    if PY312 and module in LEGACY:
        names += ['profile-legacy', 'trace-legacy']
    return [Config(n) for n in names if wanted is None or n in wanted]


class Run:
    """One run of a module: what it printed, did and recorded."""
    def __init__(self):
        self.status = None
        self.timed_out = False    # the runner's faulthandler timeout, or
        self.killed = False       # ours, a minute later
        self.seconds = 0.0
        self.ran = None
        self.line = None
        self.records = []
        self.hook_at_exit = None
        self.wrote = None
        self.displaced = 0
        self.tracer_lines = []
        self.tail = []


def run_module(py, module, cfg, cwd, timeout, env):
    r = Run()
    rec = os.path.join(cwd, 'record.txt')
    out = os.path.join(cwd, 'output.txt')
    cmd = [py] + cfg.args()
    if cfg.traced:
        cmd += ['-o', os.path.join(cwd, 'run.log.zst')]
    cmd += ['-m', 'cpython_unittest', '--record', rec, '--timeout', str(timeout)]
    for mod, since, test_id, _ in EXCLUDED:
        if mod == module and sys.version_info >= since:
            cmd += ['--exclude', test_id]
    cmd.append('test.' + module)
    t0 = time.monotonic()
    with open(out, 'wb') as f:
        # SIGINT as a terminal gives it, whatever the suite was started with:
        # a shell started in the background gives its jobs SIGINT ignored,
        # and test_threading's interrupt_main tests then wait forever.
        p = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=f,
                             stderr=subprocess.STDOUT, start_new_session=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        try:
            r.status = p.wait(timeout + 60)   # the runner's own timeout comes first
        except subprocess.TimeoutExpired:
            r.timed_out = r.killed = True
        # Whatever the tests left running in their session goes with them.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except OSError:
            pass
        if r.timed_out:
            r.status = p.wait()
    r.seconds = time.monotonic() - t0
    with open(out, 'rb') as f:
        text = f.read().decode('utf-8', 'replace')
    lines = text.splitlines()
    r.tail = lines[-15:]
    for i, line in enumerate(lines):
        m = RAN.match(line)
        if m:
            r.ran = int(m.group(1))
            r.line = None
            for nxt in lines[i + 1:i + 4]:
                if RESULT.match(nxt):
                    r.line = nxt
                    break
        if TIMEOUT.search(line):
            r.timed_out = True
            r.tail = lines[i:i + 25]
        m = WROTE.match(line)
        d = DISPLACED.match(line)
        if m:
            r.wrote = (m.group(1), int(m.group(2)))
        elif d:
            r.displaced = int(d.group(1))
        elif line.startswith('pmt_tracer:'):
            r.tracer_lines.append(line)
    if os.path.exists(rec):
        with open(rec, encoding='utf-8', errors='replace') as f:
            for line in f:
                fields = line.rstrip('\n').split('\t')
                if fields[0] == 'hook':
                    r.hook_at_exit = fields[1:]
                else:
                    r.records.append(tuple(fields))
    return r


def summary_line(records):
    """unittest's last line for these outcomes."""
    n = {}
    for rec in records:
        n[rec[0]] = n.get(rec[0], 0) + 1
    parts = []
    for key, label in (('FAIL', 'failures'), ('ERROR', 'errors'), ('skip', 'skipped'),
                       ('xfail', 'expected failures'), ('xpass', 'unexpected successes')):
        if n.get(key):
            parts.append('%s=%d' % (label, n[key]))
    ok = not (n.get('FAIL') or n.get('ERROR') or n.get('xpass'))
    return ('OK' if ok else 'FAILED') + (' (%s)' % ', '.join(parts) if parts else '')


def expected_traced(module, cfg, ref):
    """The untraced records with the ALLOWED outcomes put in (as (outcome,
    id): the reason of a skip is CPython's), whether any changed, and the ids
    the rules matched."""
    rules = [(re.compile(rx), outcome, why)
             for mod, since, until, rx, applies, outcome, why in ALLOWED
             if mod == module and sys.version_info >= since
             and (until is None or sys.version_info < until) and applies(cfg.mode, cfg.hook)]
    out, changed, matched = [], [], set()
    for rec in ref.records:
        for rx, outcome, why in rules:
            if rx.search(rec[1]):
                if rec[0] != outcome:
                    changed.append('%s: %s, not %s: %s' % (rec[1], outcome, rec[0], why))
                matched.add(rec[1])
                rec = (outcome, rec[1])
                break
        out.append(rec)
    return out, changed, matched


def diff_records(want, got, limit=12):
    lines = []
    w = {r[1]: r for r in want}
    g = {r[1]: r for r in got}
    for test_id in list(w) + [t for t in g if t not in w]:
        a, b = w.get(test_id), g.get(test_id)
        if a == b:
            continue
        if len(lines) == limit:
            lines.append('...')
            break
        fmt = lambda r: ' '.join(r[:1] + r[2:]) if r else 'absent'
        lines.append('%s: untraced %s, traced %s' % (test_id, fmt(a), fmt(b)))
    if not lines and want != got:
        lines.append('same outcomes in another order')
    return lines


def check_traced(module, cfg, ref, got, summarise):
    """Problems with a traced run, as text lines ([] when it matches), and
    the allowed differences that applied."""
    problems = []
    if got.timed_out:
        return [timed_out(got)] + ['  ' + line for line in got.tail], []
    want, changed, matched = expected_traced(module, cfg, ref)
    got_records = [rec[:2] if rec[1] in matched else rec for rec in got.records]
    want_status = ref.status
    want_line = ref.line
    if changed:
        if summary_line(ref.records) != ref.line:
            problems.append('cannot apply the allowed differences: untraced %r is not %r'
                            % (ref.line, summary_line(ref.records)))
        want_line = summary_line(want)
        want_status = 0 if want_line.startswith('OK') else 1
    if got.status != want_status:
        problems.append('exit status %s, untraced %s%s' % (
            got.status, ref.status, ' (allowed: %s)' % want_status if changed else ''))
    # 3.12.0-3.12.1's unittest leaves tests skipped by a decorator out of
    # "Ran N": the allowed skips may lower it by their number.
    skipped = sum(1 for rec, old in zip(want, ref.records) if rec[0] == 'skip' != old[0])
    if got.ran != ref.ran and not (skipped and got.ran == ref.ran - skipped):
        problems.append('Ran %s tests, untraced %s' % (got.ran, ref.ran))
    if got.line != want_line:
        problems.append('result %r, expected %r' % (got.line, want_line))
    if got_records != want:
        problems.append('test outcomes differ:')
        problems += ['  ' + d for d in diff_records(want, got_records)]
    problems += ['tracer said: ' + line for line in got.tracer_lines]
    if got.wrote is None:
        problems.append('no "pmt_tracer: wrote" line')
    else:
        problems += check_log(cfg, got.wrote[0], got.wrote[1], summarise)
    if problems:
        problems += ['output ends:'] + ['  ' + line for line in got.tail]
    return problems, changed


def check_log(cfg, path, events, summarise):
    try:
        p = subprocess.run([summarise, '--format', 'json', '--top', '1', path],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as e:
        return ['pmt-summarise: %s' % e]
    problems = []
    err = p.stderr.decode('utf-8', 'replace').strip()
    if p.returncode != 0 or err:
        problems.append('pmt-summarise exit %d: %s' % (p.returncode, err))
    try:
        doc = json.loads(p.stdout.decode('utf-8'))
        row = doc['logs'][0]
        kinds = {k['kind'] for k in doc['kinds']}
    except (ValueError, KeyError, IndexError) as e:
        return problems + ['pmt-summarise output unreadable: %s' % e]
    if row['complete'] != 'yes':
        problems.append('log complete=%s' % row['complete'])
    if row['events'] != events:
        problems.append('log has %d events, the tracer counted %d' % (row['events'], events))
    if row['written'] != row['events']:
        problems.append('%d of %d events written' % (row['written'], row['events']))
    if not events:
        problems.append('no events')
    if not kinds <= KINDS[cfg.mode]:
        problems.append('kinds %s in a %s log' % (sorted(kinds - KINDS[cfg.mode]), cfg.mode))
    return problems


def describe(r):
    if r.ran is None or r.line is None:
        return 'no result'
    return 'Ran %s tests, %s' % (r.ran, r.line)


def timed_out(r):
    if r.killed:
        return 'hung: killed after %.0f s (no faulthandler dump)' % r.seconds
    return 'timed out after %.0f s: faulthandler dumped every thread' % r.seconds


def main(argv):
    ap = argparse.ArgumentParser(prog='cpython_suite.py',
                                 description='CPython test modules untraced and traced.')
    ap.add_argument('--python', default=os.environ.get('PYTHON') or sys.executable)
    ap.add_argument('--modules', default=os.environ.get('PMT_CPYTHON_MODULES'),
                    help='comma list (default: $PMT_CPYTHON_MODULES or %s)' % ','.join(MODULES))
    ap.add_argument('--configs', default=os.environ.get('PMT_CPYTHON_CONFIGS'),
                    help='comma list of untraced, profile, trace, profile-legacy, '
                         'trace-legacy (default: $PMT_CPYTHON_CONFIGS or all that apply)')
    ap.add_argument('--timeout', type=float,
                    default=float(os.environ.get('PMT_CPYTHON_TIMEOUT', '300')),
                    help='seconds per run (default: $PMT_CPYTHON_TIMEOUT or 300)')
    ap.add_argument('--workdir', default=os.path.join('tests', 'cpython', 'work'))
    ap.add_argument('--summarise', default=shutil.which('pmt-summarise') or 'pmt-summarise')
    ap.add_argument('--keep', action='store_true', help='keep every run\'s directory')
    ns = ap.parse_args(argv)

    modules = ns.modules.split(',') if ns.modules else MODULES
    wanted = set(ns.configs.split(',')) if ns.configs else None
    if wanted is not None and 'untraced' not in wanted:
        wanted.add('untraced')   # the reference
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([HERE] + [p for p in env.get('PYTHONPATH', '').split(
        os.pathsep) if p])
    env['PYTHONDONTWRITEBYTECODE'] = '1'
    # Under ASan (a sanitizer build preloads it) an impossible malloc aborts;
    # CPython's tests ask for them on purpose and expect MemoryError.
    env['ASAN_OPTIONS'] = ':'.join(o for o in (env.get('ASAN_OPTIONS'),
                                               'allocator_may_return_null=1') if o)

    # A Python without its test package (Debian's, without
    # libpython3-testsuite) would give only import errors, untraced and traced.
    probe = subprocess.run(
        [ns.python, '-c', 'import importlib.util, sys\n'
         'for m in sys.argv[1:]:\n'
         '    print(m, importlib.util.find_spec("test." + m) is not None)\n'] + modules,
        stdout=subprocess.PIPE, universal_newlines=True, env=env)
    present = {line.split()[0] for line in probe.stdout.splitlines() if line.endswith(' True')}

    plan = [(m, c) for m in modules for c in configs_for(m, wanted)]
    print('1..%d' % len(plan), flush=True)
    print('# %s, %d modules, %d runs, timeout %g s per run' % (
        ' '.join(sys.version.split()[:1]), len(modules), len(plan), ns.timeout), flush=True)
    n = 0
    failed = []
    times = {}
    notes = []
    t_all = time.monotonic()
    ref = None
    for module, cfg in plan:
        n += 1
        name = '%s %s' % (module, cfg.name)
        cwd = os.path.join(ns.workdir, '%s-%s' % (module, cfg.name))
        shutil.rmtree(cwd, ignore_errors=True)
        os.makedirs(cwd)
        cwd = os.path.abspath(cwd)
        if module not in present:
            failed.append(name)
            print('not ok %d - %s: no module test.%s in %s' % (n, name, module, ns.python),
                  flush=True)
            ref = None
            continue
        if cfg.traced and ref is None:
            failed.append(name)
            print('not ok %d - %s: not run, no untraced result to compare with' % (n, name),
                  flush=True)
            shutil.rmtree(cwd, ignore_errors=True)
            continue
        r = run_module(ns.python, module, cfg, cwd, ns.timeout, env)
        times[(module, cfg.name)] = r.seconds
        problems, allowed = [], []
        todo = ''
        if not cfg.traced:
            ref = r
            if r.timed_out or r.ran is None or r.line is None or r.status not in (0, 1):
                problems = [timed_out(r) if r.timed_out else
                            'no result (exit status %s)' % r.status]
                problems += ['output ends:'] + ['  ' + line for line in r.tail]
                ref = None
            elif r.status:
                bad = [rec[1] for rec in r.records if rec[0] in ('FAIL', 'ERROR', 'xpass')]
                todo = ' # TODO fails without the tracer too: %s' % ', '.join(bad)
                notes.append('%s fails without the tracer: %s' % (module, ', '.join(bad)))
            desc = describe(r)
        else:
            problems, allowed = check_traced(module, cfg, ref, r, ns.summarise)
            desc = describe(r)
            if not problems:
                desc += ' as untraced%s; %d events, log complete' % (
                    ' but %d allowed' % len(allowed) if allowed else '', r.wrote[1])
            if r.displaced:
                notes.append('%s: the program\'s own profiler or tracer displaced the hook '
                             '%d times: said in the log and at exit, re-armed after' % (
                                 name, r.displaced))
        ok = not problems and not todo
        print('%s %d - %s: %s; %.1f s%s' % ('ok' if ok else 'not ok', n, name,
                                            'differs from untraced' if problems and cfg.traced
                                            else desc, r.seconds, todo), flush=True)
        for p in problems:
            print('#   ' + p)
        for a in allowed:
            print('#   allowed: ' + a)
        if problems:
            failed.append(name)
            print('#   kept: %s' % cwd, flush=True)
        elif not ns.keep:
            shutil.rmtree(cwd, ignore_errors=True)

    # Summary: seconds per module and configuration.
    names = []
    for _, c in plan:
        if c.name not in names:
            names.append(c.name)
    print('#')
    print('# %-22s' % 'seconds' + ''.join('%15s' % c for c in names))
    for module in modules:
        print('# %-22s' % module + ''.join(
            '%15s' % ('%.1f' % times[(module, c)] if (module, c) in times else '-')
            for c in names))
    print('# %-22s' % 'total' + ''.join(
        '%15.1f' % sum(times.get((m, c), 0) for m in modules) for c in names))
    for note in notes:
        print('# note: ' + note)
    print('# %d runs in %.0f s: %s' % (
        len(plan), time.monotonic() - t_all,
        'all as untraced' if not failed else '%d differ: %s' % (len(failed),
                                                               ', '.join(failed))))
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
