#include "gateway/testing/raw_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace stache::gateway::testing {

RawConnection::RawConnection(int port) : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
}

RawConnection::~RawConnection() { close(fd_); }

bool RawConnection::Send(absl::string_view data) {
  size_t sent = 0;
  while (connected_ && sent < data.size()) {
    const ssize_t n = send(fd_, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return connected_;
}

std::string RawConnection::ReadUntil(absl::string_view marker, absl::Duration timeout) {
  std::string received;
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline &&
         (marker.empty() || !absl::StrContains(received, marker))) {
    pollfd poll_fd{.fd = fd_, .events = POLLIN};
    if (poll(&poll_fd, 1, 50) <= 0) continue;
    char buffer[4096];
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) {
      peer_closed_ = true;
      break;
    }
    received.append(buffer, static_cast<size_t>(n));
  }
  return received;
}

std::string RawConnection::ReadUntilClosed(absl::Duration timeout) {
  return ReadUntil("", timeout);
}

std::string UploadHeaders(int64_t content_length, absl::string_view content_type,
                          absl::string_view extra_headers) {
  return absl::StrCat(
      "POST /v1/images HTTP/1.1\r\nHost: localhost\r\nContent-Type: ", content_type,
      "\r\n", extra_headers, "Content-Length: ", content_length, "\r\n\r\n");
}

}  // namespace stache::gateway::testing
