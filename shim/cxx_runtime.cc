// What the C++ runtime linked into the preload object refers to without defining.
//
// libstdc++'s vtables name __cxa_pure_virtual weakly, so linking it in statically does not pull
// its definition from the archive: the reference stayed undefined, and the loader looked it up in
// every object of every process the shim started in, in vain (four relocations, about 2 000
// instructions per exec). Defined here, hidden, the linker resolves it. Called only through a
// pure virtual function that was never overridden, which is a bug: stop at once.
extern "C" [[noreturn]] __attribute__((visibility("hidden"))) void __cxa_pure_virtual() {
  __builtin_trap();
}
