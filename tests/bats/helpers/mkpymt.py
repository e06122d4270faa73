# SPDX-License-Identifier: MIT
"""Writes a cPyMemTrace Profile/Trace text log in pymemtrace 0.6's exact
layout (widths, tags, trigger algorithm with its stale PREV lines), from a
deterministic simulated run, so the readers are tested on the format itself
and not only on the few real logs in shared/compat.

usage: mkpymt.py OUT [--trigger N] [--events N] [--trace] [--nested]
                 [--no-eof] [--message TEXT] [--seed N]
"""
import argparse
import random


def event_line(tag, ev, dev, clock, what, file, line, func, rss, drss):
    return (f"{tag}{ev:<12d} +{dev:<6d} {clock:<12.6f} {what:<8s} {file:<80s} "
            f"{line:>4d} {func:<32s} {rss:>12d} {drss:>12d}")


def header():
    return (f"HDR: {'Event':<12s} {'dEvent':<6s}  {'Clock':<12s} {'What':<8s} "
            f"{'File':<80s} {'Line':>4s} {'Function':<32s} {'RSS':>12s} {'dRSS':>12s}")


def msg_line(ev, dev, clock, text):
    return f"MSG:  {ev:<12d} +{dev:<6d} {clock:<12.6f} # {text}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--trigger", type=int, default=0)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--nested", action="store_true")
    ap.add_argument("--no-eof", action="store_true")
    ap.add_argument("--message", default=None)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    trigger = 4096 if a.trigger < 0 else a.trigger
    file = "/srv/app/work.py"
    lib = "/usr/lib/python3.11/json/encoder.py"
    out = []
    if a.message is not None:
        out.append(a.message)
    out.append("SOF")
    out.append(header())
    rss = 14020608
    clock = 0.054555
    out.append(event_line("FRST: ", 0, 0, clock, "LINE", file, 9, "main", rss, rss))

    # pymemtrace's state (facts §1.7)
    state = {"prev_no": 0, "last_rss": 0, "text": ""}
    stack = []
    funcs = [("main", file, 9), ("load", file, 20), ("parse_line", file, 31),
             ("encode", lib, 182), ("iterencode", lib, 205)]
    cfuncs = ["append", "len", "join", "split"]

    def emit(n, what, f, line, name, cur_rss, clk):
        d = cur_rss - state["last_rss"]
        if n > 0 and abs(d) >= trigger:
            if n - state["prev_no"] > 1:
                out.append("PREV: " + state["text"])
            text = event_line("", n, n - state["prev_no"], clk, what, f, line, name,
                              cur_rss, d)
            state["text"] = text
            out.append("NEXT: " + text)
            state["prev_no"] = n
            state["last_rss"] = cur_rss

    n = 1
    nested_at = a.events // 2 if a.nested else -1
    while n < a.events:
        clock += 0.000007 + rnd.random() * 0.00001
        if rnd.random() < 0.08:
            rss += 4096 * rnd.choice([1, 1, 2, 16, 257])
        elif rnd.random() < 0.01:
            rss -= 4096
        if n == nested_at:
            # a nested log takes over for a while: Detaching / Re-attaching
            kind = "trace" if a.trace else "profile"
            dev = n - state["prev_no"]
            out.append(msg_line(n, dev, clock, f"Detaching this {kind} file wrapper. "
                                f"New file:/srv/app/20261121_191438_1_13474_"
                                f"{'T' if a.trace else 'P'}_1_PY3.11.7.log"))
            out.append(msg_line(n, dev, clock + 0.0001, "two line message"))
            out.append("second line of it")
            out.append("raw write_to_log line")
            out.append(msg_line(n, dev, clock + 0.0002, f"Re-attaching this {kind} file wrapper."))
            clock += 0.0003
            rss += 1052672
            nested_at = -1
        if a.trace:
            r = rnd.random()
            if stack and r < 0.25:
                name, f, line = stack.pop()
                emit(n, "RETURN", f, line + 3, name, rss, clock)
            elif r < 0.5 and len(stack) < 12:
                fn = rnd.choice(funcs)
                stack.append(fn)
                emit(n, "CALL", fn[1], fn[2], fn[0], rss, clock)
            elif r < 0.52:
                name, f, line = stack[-1] if stack else funcs[0]
                emit(n, "EXCEPT", f, line + 1, name, rss, clock)
            else:
                name, f, line = stack[-1] if stack else funcs[0]
                emit(n, "LINE", f, line + rnd.randint(1, 5), name, rss, clock)
        else:
            r = rnd.random()
            top = stack[-1] if stack else None
            if top and top[1] == "C":
                stack.pop()
                what = "C_EXCEPT" if rnd.random() < 0.05 else "C_RETURN"
                caller = stack[-1] if stack else funcs[0]
                emit(n, what, caller[1], caller[2] + 2, top[0], rss, clock)
            elif stack and r < 0.3:
                name, f, line = stack.pop()
                emit(n, "RETURN", f, line + 3, name, rss, clock)
            elif r < 0.5 and stack:
                c = rnd.choice(cfuncs)
                caller = stack[-1]
                stack.append((c, "C", 0))
                emit(n, "C_CALL", caller[1], caller[2] + 2, c, rss, clock)
            elif len(stack) < 12:
                fn = rnd.choice(funcs)
                stack.append(fn)
                emit(n, "CALL", fn[1], fn[2], fn[0], rss, clock)
            else:
                name, f, line = stack.pop()
                emit(n, "RETURN", f, line + 3, name, rss, clock)
        if n == 5:
            out.append(msg_line(n + 1, n + 1 - state["prev_no"], clock, "hello message"))
        n += 1
    last_d = rss - state["last_rss"]
    out.append(event_line("LAST: ", n, n - state["prev_no"], clock + 0.00001, "LINE", file,
                          9, "main", rss, last_d))
    if not a.no_eof:
        out.append("EOF")
    with open(a.out, "w", encoding="latin-1") as fh:
        fh.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
