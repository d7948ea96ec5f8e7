#!/usr/bin/env python3
"""The preload object's dynamic dependencies and exports, read with readelf:

- it needs libc and the dynamic loader only (libdl/libpthread allowed where a glibc still
  splits them): no libstdc++, libgcc_s or libm, whose loading and symbol lookups cost every exec;
- no C++ runtime symbol is left undefined for the loader to look up in every process;
- it exports exactly the functions of shim/symbols.def (plus vfork), so its own C++ and the
  libstdc++ linked into it cannot clash with a program's;
- libstdc++'s demangler (brought by its verbose terminate handler, which shim/cxx_runtime.cc
  replaces) is not linked in: its tables were some 450 relocations in every exec.

Usage: exports_test.py LIBSOCKSHIM SYMBOLS_DEF. Exit 0 pass, 1 fail ("got X, want Y")."""
import re
import subprocess
import sys

ALLOWED = {"libc.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libdl.so.2", "libpthread.so.0"}


def main():
    lib, defs = sys.argv[1], sys.argv[2]
    failures = []
    dyn = subprocess.run(["readelf", "-d", "-W", lib], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn))
    if not needed or not needed <= ALLOWED:
        failures.append(f"NEEDED: got {sorted(needed)}, want a subset of {sorted(ALLOWED)} with libc")
    if "libc.so.6" not in needed:
        failures.append(f"NEEDED: got {sorted(needed)}, want libc.so.6 among them")
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", lib], capture_output=True, text=True, check=True).stdout
    exported = set()
    undefined = set()
    for line in syms.splitlines():
        f = line.split()
        if len(f) >= 8 and f[6] == "UND":
            undefined.add(f[7].split("@")[0])
        f = line.split()
        # Num: Value Size Type Bind Vis Ndx Name; defined (Ndx not UND), global or weak.
        if len(f) >= 8 and f[4] in ("GLOBAL", "WEAK") and f[6] != "UND" and f[3] in ("FUNC", "OBJECT", "TLS", "IFUNC"):
            exported.add(f[7].split("@")[0])
    # Every undefined symbol is a lookup the loader makes in each process; C++ runtime names the
    # object should define itself must not be among them (a miss walks every object).
    # (_ZGTt*: libstdc++'s transactional-memory clones, weak and bound lazily: only if ever called.)
    cxx = sorted(n for n in undefined
                 if (n.startswith("_Z") and not n.startswith("_ZGTt")) or n == "__cxa_pure_virtual")
    if cxx:
        failures.append(f"undefined C++ runtime symbols (looked up in every process): {cxx}")
    # The whole symbol table (.symtab), local symbols included: is the demangler in?
    allsyms = subprocess.run(["readelf", "-s", "-W", lib], capture_output=True, text=True, check=True).stdout
    demangler = sorted({m for m in re.findall(r"\b(__cxa_demangle|cplus_demangle\w*|d_print\w*)\b", allsyms)})
    if demangler:
        failures.append(f"the demangler is linked in (a verbose terminate handler came back?): {demangler[:5]}")
    with open(defs) as fh:
        want = set(re.findall(r"^\s*SHIM_SYMBOL(?:_VA)?\(\s*[^,]+,\s*([A-Za-z_][A-Za-z0-9_]*)", fh.read(), re.M))
    want.add("vfork")
    if exported != want:
        failures.append(f"exports: extra {sorted(exported - want)}, missing {sorted(want - exported)}")
    for f in failures:
        print("FAIL: " + f)
    print(f"NEEDED {sorted(needed)}; {len(exported)} exports")
    sys.exit(1 if failures else 0)


main()
