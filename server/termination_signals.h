// SIGTERM and SIGINT, handled the same way by every stache process: blocked
// in every thread from the top of main, then received by one sigwait.
//
//   BlockTerminationSignals();       // before any thread exists
//   ... start serving ...
//   const int signal = WaitForTerminationSignal();  // then shut down
#ifndef STACHE_SERVER_TERMINATION_SIGNALS_H_
#define STACHE_SERVER_TERMINATION_SIGNALS_H_

namespace stache::server {

// Blocks SIGTERM and SIGINT in the calling thread and every thread it starts
// later, so that WaitForTerminationSignal receives them. Call at the top of
// main, before any threads exist.
void BlockTerminationSignals();

// Waits for SIGTERM or SIGINT (blocked first) and returns which came.
int WaitForTerminationSignal();

}  // namespace stache::server

#endif  // STACHE_SERVER_TERMINATION_SIGNALS_H_
