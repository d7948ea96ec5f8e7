// SHIM_ONCE: code that runs once per process (the constructor, the fork handler, the exit
// handler and what only they call), placed in .text.startup beside the constructor, where the
// compiler puts it anyway. A process, and a fork child (whose text mappings fork does not copy),
// then faults in one window of the object's text for all of it instead of one per function's
// page (docs/performance.md, "Start-up and exec-heavy jobs").
#pragma once

#define SHIM_ONCE __attribute__((section(".text.startup")))
