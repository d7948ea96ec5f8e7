#!/usr/bin/env python3
"""The preload object's dynamic dependencies and exports, read with readelf:

- it needs libc and the dynamic loader only (libdl/libpthread allowed where a glibc still
  splits them): no libstdc++, libgcc_s or libm, whose loading and symbol lookups cost every exec;
- no C++ runtime symbol is left undefined for the loader to look up in every process;
- it exports exactly the functions of shim/symbols.def (plus vfork), so its own C++ and the
  libstdc++ linked into it cannot clash with a program's;
- nothing of libstdc++ is linked in (no exception machinery, personality routine, operator new,
  std::string or demangler): its vtables, version needs and start-up allocation cost every exec,
  and the JSON loader that needed it lives in the rule loader, opened only on demand;
- the rule loader (libsockshim-rules.so) exports its three C functions and nothing else, and
  needs nothing beyond libc either.

Usage: exports_test.py LIBSOCKSHIM SYMBOLS_DEF RULES_LOADER. Exit 0 pass, 1 fail ("got X, want Y")."""
import re
import subprocess
import sys

ALLOWED = {"libc.so.6", "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libdl.so.2", "libpthread.so.0"}


def dynamic(lib):
    """(NEEDED libraries, exported names, undefined names) of an object."""
    dyn = subprocess.run(["readelf", "-d", "-W", lib], capture_output=True, text=True, check=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dyn))
    syms = subprocess.run(["readelf", "--dyn-syms", "-W", lib], capture_output=True, text=True, check=True).stdout
    exported, undefined = set(), set()
    for line in syms.splitlines():
        f = line.split()
        if len(f) >= 8 and f[6] == "UND":
            undefined.add(f[7].split("@")[0])
        # Num: Value Size Type Bind Vis Ndx Name; defined (Ndx not UND), global or weak.
        if len(f) >= 8 and f[4] in ("GLOBAL", "WEAK") and f[6] != "UND" and f[3] in ("FUNC", "OBJECT", "TLS", "IFUNC"):
            exported.add(f[7].split("@")[0])
    return needed, exported, undefined


def check_rules_loader(loader, failures):
    needed, exported, _ = dynamic(loader)
    if not needed <= ALLOWED:
        failures.append(f"{loader}: NEEDED {sorted(needed)}, want a subset of {sorted(ALLOWED)}")
    want = {"sockshim_rules_abi", "sockshim_rules_read", "sockshim_rules_compile"}
    if exported != want:
        failures.append(f"{loader}: exports: extra {sorted(exported - want)}, missing {sorted(want - exported)}")


def main():
    lib, defs, loader = sys.argv[1], sys.argv[2], sys.argv[3]
    failures = []
    needed, exported, undefined = dynamic(lib)
    if not needed or not needed <= ALLOWED:
        failures.append(f"NEEDED: got {sorted(needed)}, want a subset of {sorted(ALLOWED)} with libc")
    if "libc.so.6" not in needed:
        failures.append(f"NEEDED: got {sorted(needed)}, want libc.so.6 among them")
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
    # libstdc++'s pieces by their names: the personality routine and throw (exceptions), the
    # emergency pool, operator new/delete (_Znwm, _ZdlPv...), std:: code (_ZNSt, _ZSt).
    cxx_rt = sorted({m for m in re.findall(
        r"\b(__gxx_personality_v0|__cxa_throw|__cxa_allocate_exception|_Z(?:nw|na|dl|da)\w+|_ZN?St\w+|_ZN9__gnu_cxx\w+)\b",
        allsyms)})
    if cxx_rt:
        failures.append(f"libstdc++ is linked in (exceptions, operator new or std:: code in the preload object?): {cxx_rt[:8]}")
    check_rules_loader(loader, failures)
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
