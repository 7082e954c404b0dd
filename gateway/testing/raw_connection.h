// A plain TCP connection to a loopback port, for HTTP requests no
// well-behaved client library sends (headers without the promised body,
// Expect: 100-continue, oversized chunked bodies) and for reading what the
// server answers to them.
//
//   RawConnection connection(port);
//   connection.Send("POST /v1/images HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n");
//   std::string answer = connection.ReadUntil("}}", absl::Seconds(2));
#ifndef STACHE_GATEWAY_TESTING_RAW_CONNECTION_H_
#define STACHE_GATEWAY_TESTING_RAW_CONNECTION_H_

#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace stache::gateway::testing {

class RawConnection final {
 public:
  explicit RawConnection(int port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  // False when not connected or the peer stopped reading.
  bool Send(absl::string_view data);
  // What was received when `marker` arrived, the peer closed or `timeout`
  // passed.
  std::string ReadUntil(absl::string_view marker, absl::Duration timeout);
  // Everything received until the peer closes the connection (then
  // peer_closed() is true) or `timeout` passes.
  std::string ReadUntilClosed(absl::Duration timeout);
  bool peer_closed() const { return peer_closed_; }

 private:
  const int fd_;
  bool connected_ = false;
  bool peer_closed_ = false;
};

// "POST /v1/images" headers announcing `content_length` bytes of
// `content_type`, and nothing after them.
std::string UploadHeaders(int64_t content_length,
                          absl::string_view content_type = "image/jpeg",
                          absl::string_view extra_headers = "");

}  // namespace stache::gateway::testing

#endif  // STACHE_GATEWAY_TESTING_RAW_CONNECTION_H_
