// A test hook for the fault tests: with MECHLAB_FAULT="<point>:<n>:<signal>" in the environment the
// process raises <signal> (SIGKILL, SIGTERM, SIGINT, SIGHUP or a number) the n-th time it passes the
// named point, so a test interrupts a run in exactly the phase it means instead of guessing with timers.
// Points: startup, step, eval, dump, analysis, checkpoint, atomic_write (a file complete but not yet renamed into
// place), summary. Without the variable fault_point() does nothing.
#pragma once

namespace mechlab {

void fault_point(const char* point);

}  // namespace mechlab
