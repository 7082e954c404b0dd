#include "tests/testing/process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace stache::testing {
namespace {

sockaddr_in Loopback(int port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

std::string TempRoot() {
  const char* dir = std::getenv("TEST_TMPDIR");
  return dir != nullptr ? dir : std::filesystem::temp_directory_path().string();
}

}  // namespace

namespace {

// The first port the kernel hands out to outgoing connections.
int FirstEphemeralPort() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  in >> low;
  return low;
}

bool CanBind(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(port);
  const bool bound =
      bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return bound;
}

}  // namespace

int PickUnusedPort() {
  // Below the ephemeral range: a port the kernel gives to some other test's
  // outgoing connection between this pick and the server's bind (the
  // hostile tests open thousands) made "Address already in use" flakes.
  // Random, so that parallel tests rarely pick the same one.
  const int high = FirstEphemeralPort() - 1;
  const int low = std::min(20000, high - 1000);
  static std::atomic<uint64_t> sequence{0};
  std::mt19937 random(std::random_device{}() ^ static_cast<uint32_t>(getpid()) ^
                      static_cast<uint32_t>(sequence++));
  std::uniform_int_distribution<int> ports(low, high);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int port = ports(random);
    if (CanBind(port)) return port;
  }
  // Everything tried was taken: let the kernel choose.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(0);
  bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  socklen_t length = sizeof(address);
  getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  close(fd);
  return ntohs(address.sin_port);
}

bool PortAcceptsConnections(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address = Loopback(port);
  const bool connected =
      connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  close(fd);
  return connected;
}

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    if (condition()) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(20));
  }
}

std::string BinaryPath(const std::string& name) {
  return absl::StrCat(STACHE_BINARY_DIR, "/", name);
}

std::string TestDataPath(const std::string& name) {
  const char* dir = std::getenv("STACHE_TESTDATA_DIR");
  return absl::StrCat(dir != nullptr ? dir : STACHE_TESTDATA_DIR, "/", name);
}

std::string ReadFileOrDie(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path
                         << " (scripts/setup.sh extracts the test photos)";
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::string MakeTempDir() {
  static std::atomic<int> counter{0};
  std::string dir = absl::StrCat(TempRoot(), "/stache-test-", getpid(), "-", counter++);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

CommandResult RunCommand(const std::vector<std::string>& argv, absl::Duration timeout,
                         const std::string& stdin_data) {
  const std::string dir = MakeTempDir();
  const std::string input_path = dir + "/stdin";
  std::ofstream(input_path, std::ios::binary) << stdin_data;
  ChildProcess child(argv, {{"STACHE_TEST_STDIN", input_path}});
  CommandResult result;
  std::optional<int> code = child.Wait(timeout);
  if (!code.has_value()) child.Signal(SIGKILL);
  result.exit_code = code.has_value() && *code >= 0 ? *code : -1;
  result.output = child.Output();
  std::filesystem::remove_all(dir);
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& extra_env) {
  output_path_ = MakeTempDir() + "/output.log";
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_ = fork();
  if (pid_ == 0) {
    // Child: fresh signal mask (the test may block signals), own output file.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    const int out = open(output_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(out, STDERR_FILENO);
    const char* stdin_path = "/dev/null";
    auto it = extra_env.find("STACHE_TEST_STDIN");
    if (it != extra_env.end()) stdin_path = it->second.c_str();
    const int in = open(stdin_path, O_RDONLY);
    dup2(in, STDIN_FILENO);
    for (const auto& [name, value] : extra_env) {
      if (name != "STACHE_TEST_STDIN") setenv(name.c_str(), value.c_str(), 1);
    }
    execvp(args[0], args.data());  // argv[0] may be a bare tool name
    dprintf(out, "cannot exec %s: %s\n", args[0], strerror(errno));
    _exit(127);
  }
}

ChildProcess::~ChildProcess() {
  if (Running()) {
    Signal(SIGKILL);
    Wait(absl::Seconds(10));
  }
}

void ChildProcess::Signal(int signal_number) {
  if (pid_ > 0 && !exit_status_.has_value()) kill(pid_, signal_number);
}

bool ChildProcess::Running() {
  if (exit_status_.has_value() || pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    return false;
  }
  return true;
}

std::optional<int> ChildProcess::Wait(absl::Duration timeout) {
  WaitFor([this] { return !Running(); }, timeout);
  return exit_status_;
}

std::string ChildProcess::Output() const {
  std::ifstream in(output_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

namespace {

// A "Name:   1234 kB" line of /proc/PID/status, in bytes.
int64_t StatusKilobytes(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name + ":", 0) == 0)
      return std::stoll(line.substr(name.size() + 1)) * 1024;
  }
  return 0;
}

}  // namespace

int64_t ChildProcess::ResidentBytes() const { return StatusKilobytes(pid_, "VmRSS"); }
int64_t ChildProcess::PeakResidentBytes() const { return StatusKilobytes(pid_, "VmHWM"); }

}  // namespace stache::testing
