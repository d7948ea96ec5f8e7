// What compiled C++ may refer to without the C++ runtime, which the preload object does not link
// (shim/meson.build: built without exceptions, -nodefaultlibs; tests/shim/exports_test.py keeps
// libstdc++ out).
//
// A class with a pure virtual function puts __cxa_pure_virtual in its vtable; libstdc++ would
// define it. Defined here, hidden, so such a class links, and the loader never looks the name up
// in every object of every process the shim starts in. Called only through a pure virtual
// function that was never overridden, which is a bug: stop at once.
extern "C" [[noreturn]] __attribute__((visibility("hidden"))) void __cxa_pure_virtual() {
  __builtin_trap();
}
