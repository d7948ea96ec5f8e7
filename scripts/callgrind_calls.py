#!/usr/bin/env python3
"""Calls and inclusive instructions per called function, from a callgrind output file.

callgrind_annotate shows inclusive costs but not how often a function was called; the call
arcs in the file have both ("calls=COUNT ..." followed by the inclusive cost of those calls).
This sums them per callee (object and name), so that a function's average inclusive cost per
call can be read: scripts/bench-shim.sh uses it for the per-function table (each wrapper's
added instructions per call = its inclusive cost under the shim minus libc's function's own).

Usage: callgrind_calls.py FILE [OBJECT_SUBSTRING]
  Prints one line per callee: calls<TAB>inclusive Ir<TAB>object<TAB>function, only for objects
  whose path contains OBJECT_SUBSTRING when given.
Usage: callgrind_calls.py added PLAIN_FILE SHIM_FILE SYMBOLS_DEF
  For each function of shim/symbols.def that the program called: calls, libc's inclusive Ir per
  call in the plain run, the preload object's in the shim run (which includes libc's), and the
  difference, tab-separated, one line each."""
import re
import sys


# A libc function that callgrind names by another of its aliases (same address, first name).
LIBC_ALIASES = {"fcntl64": ("fcntl", "__libc_fcntl64")}


def arcs(path):
    """{(object, function): (calls, inclusive Ir)} summed over every call arc of the file."""
    names = {"fn": {}, "ob": {}}
    ob = cob = cfn = None
    pending = None   # (object, function, calls) waiting for its cost line
    totals = {}
    compressed = re.compile(r"^\((\d+)\)(?: (.*))?$")

    def name(kind, text):
        m = compressed.match(text)
        if not m:
            return text
        ident, value = m.group(1), m.group(2)
        table = names[kind]
        if value is not None:
            table[ident] = value
        return table.get(ident, "(" + ident + ")")

    with open(path, errors="replace") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if pending is not None:
                fields = line.split()
                if fields:
                    key = pending[:2]
                    calls, incl = totals.get(key, (0, 0))
                    totals[key] = (calls + pending[2], incl + int(fields[-1]))
                pending = None
                cob = None
                continue
            if line.startswith("ob="):
                ob = name("ob", line[3:])
            elif line.startswith("cob="):
                cob = name("ob", line[4:])
            elif line.startswith("fn="):
                name("fn", line[3:])
                cob = None
            elif line.startswith("cfn="):
                cfn = name("fn", line[4:])
            elif line.startswith("calls="):
                count = int(line[6:].split()[0])
                pending = (cob if cob is not None else ob, cfn, count)
    return totals


def per_object(totals, part):
    """{function: (calls, inclusive Ir)} for the objects whose path contains `part`."""
    out = {}
    for (obj, fn), (calls, incl) in totals.items():
        if obj and part in obj:
            c, i = out.get(fn, (0, 0))
            out[fn] = (c + calls, i + incl)
    return out


def added(plain_path, shim_path, symbols_def):
    with open(symbols_def) as fh:
        wrapped = re.findall(r"^\s*SHIM_SYMBOL(?:_VA)?\(\s*[^,]+,\s*([A-Za-z_][A-Za-z0-9_]*)", fh.read(), re.M)
    libc = per_object(arcs(plain_path), "libc.so")
    shim = per_object(arcs(shim_path), "libsockshim")
    for fn in wrapped:
        if fn not in shim or shim[fn][0] == 0:
            continue
        calls, incl = shim[fn]
        base = next((libc[n] for n in (fn,) + LIBC_ALIASES.get(fn, ()) if n in libc and libc[n][0]), None)
        if base is None:
            continue
        plain_per_call = base[1] / base[0]
        print(f"{fn}\t{calls}\t{plain_per_call:.1f}\t{incl / calls:.1f}\t{incl / calls - plain_per_call:.1f}")


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) >= 2 else 2)
    if sys.argv[1] == "added":
        if len(sys.argv) != 5:
            sys.exit("usage: callgrind_calls.py added PLAIN_FILE SHIM_FILE SYMBOLS_DEF")
        added(*sys.argv[2:5])
        return
    want = sys.argv[2] if len(sys.argv) > 2 else None
    for (obj, fn), (calls, incl) in sorted(arcs(sys.argv[1]).items(), key=lambda kv: -kv[1][1]):
        if want and (obj is None or want not in obj):
            continue
        print(f"{calls}\t{incl}\t{obj}\t{fn}")


main()
