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

// The object is linked without the compiler's start files (-nostartfiles, shim/meson.build):
// crtbeginS.o's only use here was weak references to the transactional-memory clone tables and
// __gmon_start__, which the loader looked up in every object of every process, in vain, and a
// __cxa_finalize at unload that this never-unloaded object does not need (its constructor runs
// from .init_array, which the loader walks without them). What it defined that the object still
// uses: __dso_handle, the identity pthread_atfork registers the fork handler under.
extern "C" {
__attribute__((visibility("hidden"))) void* __dso_handle = &__dso_handle;
}
