// Helpers for tests that run the real binaries: free loopback ports, child
// processes with captured output, polling with a deadline, and the paths of
// built binaries, tools and test photos.
//
//   int port = PickUnusedPort();
//   ChildProcess detector({BinaryPath("stache-detector"), "--port=" + ...});
//   ASSERT_TRUE(WaitFor([&] { return PortAcceptsConnections(port); },
//   absl::Seconds(10))); detector.Signal(SIGTERM);
//   EXPECT_EQ(detector.Wait(absl::Seconds(10)), 0);
#ifndef STACHE_TESTS_TESTING_PROCESS_H_
#define STACHE_TESTS_TESTING_PROCESS_H_

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"

namespace stache::testing {

// A TCP port on 127.0.0.1 that was free a moment ago, below the range the
// kernel gives outgoing connections.
int PickUnusedPort();

// True when something accepts TCP connections on 127.0.0.1:port.
bool PortAcceptsConnections(int port);

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout);

// Path of a binary built by this CMake tree, e.g. "stache-detector".
std::string BinaryPath(const std::string& name);
// Path of a photo extracted by scripts/setup.sh, e.g. "grace_hopper.jpg".
std::string TestDataPath(const std::string& name);
// Reads a whole file; fails the test (and returns "") when it cannot.
std::string ReadFileOrDie(const std::string& path);
// A fresh directory under the test's temp dir.
std::string MakeTempDir();

struct CommandResult {
  int exit_code = -1;  // -1 when killed by a signal or timed out.
  std::string output;  // stdout and stderr interleaved.
};
// Runs argv to completion (killed after `timeout`), with `stdin_data` on its
// standard input.
CommandResult RunCommand(const std::vector<std::string>& argv,
                         absl::Duration timeout = absl::Seconds(30),
                         const std::string& stdin_data = "");

// A child process (argv[0] found on PATH like a shell would) whose stdout
// and stderr go to a temp file. Killed with
// SIGKILL on destruction if still running.
class ChildProcess final {
 public:
  explicit ChildProcess(const std::vector<std::string>& argv,
                        const std::map<std::string, std::string>& extra_env = {});
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal_number);
  bool Running();
  // Exit code, or -signal when killed by a signal, or nullopt on timeout.
  std::optional<int> Wait(absl::Duration timeout);
  // Everything the process printed so far.
  std::string Output() const;
  // Resident memory now and at its peak (VmRSS, VmHWM of /proc/PID/status),
  // in bytes; 0 when the process is gone.
  int64_t ResidentBytes() const;
  int64_t PeakResidentBytes() const;

 private:
  pid_t pid_ = -1;
  std::string output_path_;
  std::optional<int> exit_status_;
};

}  // namespace stache::testing

#endif  // STACHE_TESTS_TESTING_PROCESS_H_
