#include "gateway/internal/http_transport.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <deque>
#include <exception>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "server/log.h"

namespace stache::gateway::internal {
namespace {

namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace net = boost::asio;
using tcp = boost::asio::ip::tcp;

// A refused body may still be on its way; this much of it is read and
// dropped (for at most kDrainTime) before the close, so that the client
// sees the answer rather than a reset.
constexpr size_t kMaxDrainBytes = 1 << 20;
constexpr auto kDrainTime = std::chrono::seconds(1);
// Reads of a body (and of a refused body being drained) are at most this
// large.
constexpr size_t kReadChunkBytes = 64 * 1024;
// A connection's buffer starts this small, which fits the head of most
// requests: idle, slow and silent connections cost about this much, not a
// body-sized buffer each.
constexpr size_t kFirstReadBytes = 1024;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";

std::chrono::steady_clock::duration ToChrono(absl::Duration duration) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      absl::ToChronoNanoseconds(duration));
}

// A body the transport feeds to an UploadBodyReader as it arrives.
struct UploadSinkBody {
  using value_type = UploadBodyReader*;

  class reader {
   public:
    template <bool isRequest, class Fields>
    reader(http::header<isRequest, Fields>&, value_type& sink) : sink_(sink) {}

    void init(const boost::optional<std::uint64_t>& length, beast::error_code& ec) {
      ec = {};
      if (!sink_->Begin(length ? std::optional<uint64_t>(*length) : std::nullopt)) {
        ec = net::error::operation_aborted;
      }
    }

    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, beast::error_code& ec) {
      ec = {};
      std::size_t used = 0;
      for (net::const_buffer buffer : beast::buffers_range_ref(buffers)) {
        if (!sink_->Write(absl::string_view(static_cast<const char*>(buffer.data()),
                                            buffer.size()))) {
          ec = net::error::operation_aborted;
          return used;
        }
        used += buffer.size();
      }
      return used;
    }

    void finish(beast::error_code& ec) { ec = {}; }

   private:
    // The parser makes its reader before the body's value is set; read it
    // when the body starts.
    value_type& sink_;
  };
};

// Runs handlers; a bounded queue of complete requests in front. Thread-safe.
class WorkerPool final {
 public:
  WorkerPool(int threads, size_t max_waiting, server::Gauge& waiting)
      : max_waiting_(max_waiting), waiting_(waiting) {
    for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { Run(); });
  }
  ~WorkerPool() { Shutdown(); }

  // False when the pool stopped, or no thread is idle and the queue is full.
  bool TrySubmit(absl::AnyInvocable<void() &&> task) {
    absl::MutexLock lock(&mutex_);
    if (stopped_ || queue_.size() >= max_waiting_ + idle_) return false;
    queue_.push_back(std::move(task));
    waiting_.Add({}, 1);
    return true;
  }

  // Runs what is queued, then joins.
  void Shutdown() {
    {
      absl::MutexLock lock(&mutex_);
      if (stopped_) return;
      stopped_ = true;
    }
    for (std::thread& thread : threads_) thread.join();
  }

 private:
  void Run() {
    while (true) {
      absl::AnyInvocable<void() &&> task;
      {
        absl::MutexLock lock(&mutex_);
        ++idle_;
        mutex_.Await(absl::Condition(
            +[](WorkerPool* pool) ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool->mutex_) {
              return pool->stopped_ || !pool->queue_.empty();
            },
            this));
        --idle_;
        if (queue_.empty()) return;  // stopped
        task = std::move(queue_.front());
        queue_.pop_front();
        waiting_.Add({}, -1);
      }
      std::move(task)();
    }
  }

  const size_t max_waiting_;
  server::Gauge& waiting_;
  absl::Mutex mutex_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mutex_);
  bool stopped_ ABSL_GUARDED_BY(mutex_) = false;
  size_t idle_ ABSL_GUARDED_BY(mutex_) = 0;  // threads waiting for a task
  std::vector<std::thread> threads_;
};

// Which limit a head that outgrew kMaxHeaderBytes broke: the request line
// (414), one field (400) or all of them together (431). `target` is empty
// when the request line did not end; else `fields` is what is buffered of
// the header fields (Beast has consumed the request line).
HttpRefusal ClassifyOversizedHead(absl::string_view target, absl::string_view fields) {
  if (target.empty() || target.size() > kMaxRequestLineBytes) {
    return {414,
            absl::InvalidArgumentError(absl::StrCat("the request line is longer than ",
                                                    kMaxRequestLineBytes, " bytes"))};
  }
  const absl::string_view head = fields;
  size_t start = 0;
  while (start < head.size()) {
    size_t end = head.find('\n', start);
    if (end == absl::string_view::npos) end = head.size();
    if (end - start > kMaxHeaderFieldBytes) {
      return {400, absl::InvalidArgumentError(absl::StrCat(
                       "the request was refused: a header field is longer than ",
                       kMaxHeaderFieldBytes, " bytes"))};
    }
    start = end + 1;
  }
  return {431, absl::InvalidArgumentError(
                   absl::StrCat("the request's header fields are larger than ",
                                kMaxHeaderBytes, " bytes together"))};
}

}  // namespace

class Session;

// Everything the transport shares between its sessions. The I/O thread
// owns the acceptor, the session set and the counters marked so.
class HttpTransportImpl final {
 public:
  HttpTransportImpl(const HttpTransportOptions& options, HttpRoutes* routes,
                    GatewayMetrics* metrics)
      : options_(options),
        routes_(routes),
        metrics_(metrics),
        budget_(options.body_memory_bytes),
        acceptor_(io_),
        retry_timer_(io_),
        cap_timer_(io_),
        workers_(options.worker_threads,
                 static_cast<size_t>(options.max_waiting_requests),
                 metrics->http_connections_waiting()) {}

  absl::Status Bind();
  void Run();
  void Shutdown();
  int port() const { return port_; }

  const HttpTransportOptions& options() const { return options_; }
  HttpRoutes& routes() { return *routes_; }
  BodyMemoryBudget& budget() { return budget_; }
  WorkerPool& workers() { return workers_; }
  net::io_context& io() { return io_; }
  bool stopping() const { return stopping_; }

  // I/O thread only.
  void Opened(Session* session);
  void Closed(Session* session);

 private:
  void Accept();
  // At the cap: when a connection waits in the backlog, closes the longest
  // waiting evictable one to make room.
  void AwaitConnectionAtCap();

  const HttpTransportOptions options_;
  HttpRoutes* const routes_;
  GatewayMetrics* const metrics_;
  BodyMemoryBudget budget_;
  net::io_context io_{1};
  // Keeps io_.run() going while no operation is pending (every connection
  // waiting for its handler, accepting paused).
  net::executor_work_guard<net::io_context::executor_type> work_ =
      net::make_work_guard(io_);
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  net::steady_timer cap_timer_;
  int port_ = 0;
  std::thread io_thread_;
  // I/O thread only:
  std::set<Session*> sessions_;
  bool accept_paused_ = false;
  bool awaiting_at_cap_ = false;
  bool stopping_ = false;
  absl::Notification all_closed_;
  bool shut_down_ = false;  // Shutdown's caller only
  WorkerPool workers_;      // last: its threads stop before the rest goes
};

class Session final : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, HttpTransportImpl* transport)
      : stream_(std::move(socket)),
        transport_(transport),
        options_(transport->options()),
        buffer_(kMaxHeaderBytes + 1024) {
    beast::error_code ec;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_addr_ = peer.address().to_string();
  }

  ~Session() { transport_->Closed(this); }

  void Start() {
    transport_->Opened(this);
    ReadRequest();
  }

  // Shutdown: a connection between requests, or whose request has not
  // even sent its head, closes now; others after their response.
  void OnShutdown() {
    if (Evictable()) Close();
  }

  // Whether closing it loses no work: idle between requests, or its head
  // not complete yet (a slow or silent client).
  bool Evictable() const {
    return state_ == State::kIdle ||
           (state_ == State::kReading && head_parser_ && !head_parser_->is_header_done());
  }
  // Since when it has been idle or reading its head.
  std::chrono::steady_clock::time_point waiting_since() const { return since_; }
  void Evict() { Close(); }

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kClosing };

  // Waits (at most the keep-alive timeout) for the next request's first
  // byte, unless it is already buffered (pipelining).
  void AwaitNextRequest() {
    if (buffer_.size() > 0) {
      ReadRequest();
      return;
    }
    if (transport_->stopping()) {
      Close();
      return;
    }
    buffer_.shrink_to_fit();
    state_ = State::kIdle;
    since_ = std::chrono::steady_clock::now();
    stream_.expires_after(ToChrono(options_.keep_alive_timeout));
    stream_.async_read_some(
        buffer_.prepare(kFirstReadBytes),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          if (self->state_ != State::kIdle) return;
          self->buffer_.commit(n);
          if (ec) {
            self->Close();
            return;
          }
          self->ReadRequest();
        });
  }

  void ReadRequest() {
    state_ = State::kReading;
    since_ = std::chrono::steady_clock::now();
    request_ = HttpRequest();
    request_.remote_addr = remote_addr_;
    reader_.reset();
    body_parser_.reset();
    body_unread_ = false;
    // Beast reads as much as the buffer has room for (at least 512 bytes),
    // and grows it only for heads that need more.
    if (buffer_.capacity() < kFirstReadBytes) buffer_.reserve(kFirstReadBytes);
    head_parser_.emplace();
    head_parser_->header_limit(static_cast<std::uint32_t>(kMaxHeaderBytes));
    // The body is judged once the head is known (OnHead).
    head_parser_->body_limit(boost::none);
    // One deadline for the whole request, head and body: not renewed by
    // each read, so a client trickling bytes gains nothing.
    stream_.expires_after(ToChrono(options_.request_timeout));
    http::async_read_header(stream_, buffer_, *head_parser_,
                            [self = shared_from_this()](
                                beast::error_code ec, std::size_t) { self->OnHead(ec); });
  }

  void OnHead(beast::error_code ec) {
    if (ec == http::error::header_limit || ec == http::error::buffer_overflow) {
      const std::string fields = beast::buffers_to_string(buffer_.data());
      const auto& partial = head_parser_->get();
      request_.method = std::string(partial.method_string());
      request_.target = std::string(partial.target());
      Refuse(ClassifyOversizedHead(request_.target, fields));
      return;
    }
    if (ec == http::error::end_of_stream || ec == beast::error::timeout ||
        ec == net::error::eof || ec == net::error::operation_aborted ||
        ec == http::error::partial_message || ec == net::error::connection_reset) {
      // Gone, or too slow: the deadline closed the socket.
      Close();
      return;
    }
    if (ec) {
      body_unread_ = true;
      Refuse({400, absl::InvalidArgumentError(
                       absl::StrCat("the request was refused: it is not valid HTTP/1.1 (",
                                    ec.message(), ")"))});
      return;
    }
    const auto& head = head_parser_->get();
    request_.method = std::string(head.method_string());
    request_.target = std::string(head.target());
    request_.version = head.version();
    size_t fields = 0;
    for (const auto& field : head) {
      ++fields;
      if (request_.headers.size() < kMaxHeaderFields + 1) {
        request_.headers.emplace_back(std::string(field.name_string()),
                                      std::string(field.value()));
      }
    }
    ParseTarget(request_);
    const bool has_body =
        head_parser_->chunked() || head_parser_->content_length().value_or(0) > 0;
    body_unread_ = has_body;
    if (std::optional<HttpRefusal> refusal = CheckHead(fields, has_body);
        refusal.has_value()) {
      Refuse(*std::move(refusal));
      return;
    }
    if (!HttpRoutes::IsUpload(request_)) {
      // No other route reads a body: answer, and close if one was sent.
      Dispatch(/*upload=*/false);
      return;
    }
    std::optional<uint64_t> content_length;
    if (head_parser_->content_length()) content_length = *head_parser_->content_length();
    if (std::optional<HttpRefusal> refusal =
            CheckUploadHeaders({.content_type = request_.HeaderValue("Content-Type"),
                                .content_length = content_length,
                                .chunked = head_parser_->chunked()},
                               options_.max_body_bytes);
        refusal.has_value()) {
      Refuse(*std::move(refusal));
      return;
    }
    // The rate limit and the CSRF rule, before a byte of the body is read.
    if (std::optional<HttpRefusal> refusal = transport_->routes().AdmitUpload(request_);
        refusal.has_value()) {
      Refuse(*std::move(refusal));
      return;
    }
    reader_ = std::make_unique<UploadBodyReader>(request_.HeaderValue("Content-Type"),
                                                 options_.max_body_bytes,
                                                 &transport_->budget());
    if (absl::EqualsIgnoreCase(request_.HeaderValue("Expect"), "100-continue")) {
      // The client waits for this before it sends the body.
      net::async_write(stream_, net::buffer(kContinue, sizeof(kContinue) - 1),
                       [self = shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec) {
                           self->Close();
                           return;
                         }
                         self->ReadBody();
                       });
      return;
    }
    ReadBody();
  }

  // What the head alone refuses: sizes, counts, encodings of a body.
  std::optional<HttpRefusal> CheckHead(size_t fields, bool has_body) const {
    if (request_.target.size() > kMaxRequestLineBytes) {
      return HttpRefusal{
          414, absl::InvalidArgumentError(absl::StrCat("the request line is longer than ",
                                                       kMaxRequestLineBytes, " bytes"))};
    }
    if (fields > kMaxHeaderFields) {
      return HttpRefusal{431, absl::InvalidArgumentError(absl::StrCat(
                                  "the request has ", fields, " header fields; at most ",
                                  kMaxHeaderFields, " are accepted"))};
    }
    for (const auto& [name, value] : request_.headers) {
      if (name.size() + value.size() + 2 > kMaxHeaderFieldBytes) {
        return HttpRefusal{400, absl::InvalidArgumentError(absl::StrCat(
                                    "the request was refused: a header field is longer "
                                    "than ",
                                    kMaxHeaderFieldBytes, " bytes"))};
      }
    }
    const std::string encoding = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(request_.HeaderValue("Content-Encoding")));
    if (has_body && !encoding.empty() && encoding != "identity") {
      // An encoded body is whatever size it inflates to; none is accepted.
      return HttpRefusal{415, absl::InvalidArgumentError(absl::StrCat(
                                  "request bodies with Content-Encoding '", encoding,
                                  "' are not accepted: send the photo as it is"))};
    }
    const std::string transfer = absl::AsciiStrToLower(
        absl::StripAsciiWhitespace(request_.HeaderValue("Transfer-Encoding")));
    if (!transfer.empty() && transfer != "chunked") {
      return HttpRefusal{
          415, absl::InvalidArgumentError(
                   absl::StrCat("Transfer-Encoding '", transfer,
                                "' is not accepted: send the body as it is or chunked"))};
    }
    return std::nullopt;
  }

  void ReadBody() {
    buffer_.reserve(kReadChunkBytes);  // bodies come in large reads
    body_parser_.emplace(std::move(*head_parser_));
    head_parser_.reset();
    body_parser_->body_limit(static_cast<std::uint64_t>(options_.max_body_bytes));
    body_parser_->get().body() = reader_.get();
    http::async_read(stream_, buffer_, *body_parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) {
                       self->OnBody(ec);
                     });
  }

  void OnBody(beast::error_code ec) {
    if (reader_->refusal().has_value()) {
      Refuse(*reader_->refusal());
      return;
    }
    if (ec == http::error::body_limit) {
      Refuse(BodyTooLarge(options_.max_body_bytes));
      return;
    }
    if (ec) {
      // Gone, too slow (the deadline closed the socket) or broken framing:
      // nobody is listening for an answer, or the stream is out of step.
      if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension) {
        Refuse({400, absl::InvalidArgumentError(
                         absl::StrCat("the request body's chunked framing is malformed (",
                                      ec.message(), ")"))});
        return;
      }
      Close();
      return;
    }
    body_unread_ = false;
    Dispatch(/*upload=*/true);
  }

  // Hands the complete request to a worker; the answer comes back to the
  // I/O thread to be written.
  void Dispatch(bool upload) {
    state_ = State::kHandling;
    // No deadline while the handler runs: it has its own (backend calls).
    stream_.expires_never();
    std::optional<UploadForm> form;
    if (upload) {
      absl::StatusOr<UploadForm> read = reader_->Finish();
      if (!read.ok()) {
        Refuse(*reader_->refusal());
        return;
      }
      form = *std::move(read);
    }
    const bool submitted = transport_->workers().TrySubmit(
        [self = shared_from_this(), form = std::move(form)]() mutable {
          HttpResponse response;
          try {
            response = self->transport_->routes().Handle(self->request_,
                                                         form ? &*form : nullptr);
          } catch (...) {
            // Handle catches; this is the last line should that ever fail.
            response = self->transport_->routes().Refuse(
                self->request_, {500, absl::InternalError("unexpected exception")});
          }
          form.reset();
          // Moved, so that the last reference (and the session's end) is
          // the I/O thread's; io is read before the move.
          net::io_context& io = self->transport_->io();
          net::post(io,
                    [self = std::move(self), response = std::move(response)]() mutable {
                      self->Write(std::move(response));
                    });
        });
    if (!submitted) {
      Refuse({503, absl::UnavailableError(
                       "the gateway has too many requests waiting; retry shortly")});
    }
  }

  void Refuse(HttpRefusal refusal) {
    // Whatever the client still sends is drained before the close, so
    // that it reads the refusal rather than a reset.
    body_unread_ = true;
    Write(transport_->routes().Refuse(request_, refusal));
  }

  void Write(HttpResponse answer) {
    reader_.reset();  // releases the body's memory
    if (state_ == State::kClosing) return;
    state_ = State::kWriting;
    const bool head_only = request_.method == "HEAD";
    auto response = std::make_unique<http::response<http::string_body>>();
    // The highest version we speak, whatever the client's (RFC 9110 2.5).
    response->version(11);
    response->result(static_cast<unsigned>(answer.status));
    for (auto& [name, value] : answer.headers) response->insert(name, value);
    const size_t length = answer.body.size();
    response->body() = head_only ? std::string() : std::move(answer.body);
    if (answer.status != 204 && answer.status != 304) response->content_length(length);
    const bool keep_alive = !answer.close && !body_unread_ && !transport_->stopping() &&
                            (head_parser_   ? head_parser_->keep_alive()
                             : body_parser_ ? body_parser_->keep_alive()
                                            : false);
    response->keep_alive(keep_alive);
    // An HTTP/1.0 client keeps the connection only when told so.
    if (keep_alive && request_.version == 10)
      response->set(http::field::connection, "keep-alive");
    response_ = std::move(response);
    stream_.expires_after(ToChrono(options_.write_timeout));
    http::async_write(
        stream_, *response_,
        [self = shared_from_this(), keep_alive](beast::error_code ec, std::size_t) {
          self->response_.reset();
          if (ec) {
            self->Close();
          } else if (!keep_alive) {
            self->CloseAfterDrain();
          } else {
            self->AwaitNextRequest();
          }
        });
  }

  // Sends FIN, then reads and drops what the client still sends (a body
  // that was refused) for a short while, so that closing does not reset
  // the connection before the client has read the answer.
  void CloseAfterDrain() {
    state_ = State::kClosing;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    if (!body_unread_) {
      Close();
      return;
    }
    stream_.expires_after(kDrainTime);
    Drain();
  }

  void Drain() {
    buffer_.clear();
    stream_.async_read_some(
        buffer_.prepare(kReadChunkBytes),
        [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          self->drained_ += n;
          if (ec || self->drained_ > kMaxDrainBytes) {
            self->Close();
            return;
          }
          self->Drain();
        });
  }

  void Close() {
    state_ = State::kClosing;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  HttpTransportImpl* const transport_;
  const HttpTransportOptions& options_;
  beast::flat_buffer buffer_;
  std::string remote_addr_;
  State state_ = State::kReading;
  HttpRequest request_;
  std::optional<http::request_parser<http::empty_body>> head_parser_;
  std::optional<http::request_parser<UploadSinkBody>> body_parser_;
  std::unique_ptr<UploadBodyReader> reader_;
  std::unique_ptr<http::response<http::string_body>> response_;
  bool body_unread_ = false;  // a body was sent and not (all) read
  size_t drained_ = 0;
  std::chrono::steady_clock::time_point since_ = std::chrono::steady_clock::now();
};

absl::Status HttpTransportImpl::Bind() {
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(options_.host, ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("--host ", options_.host, " is not an IP address"));
  }
  const tcp::endpoint endpoint(address, static_cast<unsigned short>(options_.port));
  acceptor_.open(endpoint.protocol(), ec);
  // SO_REUSEADDR only (TIME_WAIT), never SO_REUSEPORT: a second gateway on
  // a busy port must fail, not silently share its traffic.
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", options_.host, ":",
                                               options_.port, ": ", ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  return absl::OkStatus();
}

void HttpTransportImpl::Run() {
  net::post(io_, [this] { Accept(); });
  io_thread_ = std::thread([this] {
    // A handler of ours that throws is a bug; keep serving the others.
    while (true) {
      try {
        io_.run();
        return;
      } catch (const std::exception& e) {
        server::LogError("http i/o thread caught an exception", {{"error", e.what()}});
      } catch (...) {
        server::LogError("http i/o thread caught an exception of unknown type");
      }
    }
  });
}

void HttpTransportImpl::Accept() {
  if (stopping_) return;
  if (static_cast<int>(sessions_.size()) >= options_.max_connections) {
    // Resumed by Closed(); meanwhile the kernel's backlog holds new ones.
    accept_paused_ = true;
    AwaitConnectionAtCap();
    return;
  }
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (stopping_) return;
    if (ec) {
      // Out of descriptors, typically: wait a little rather than spin.
      server::LogWarning("http accept failed", {{"error", ec.message()}});
      retry_timer_.expires_after(std::chrono::milliseconds(100));
      retry_timer_.async_wait([this](beast::error_code) { Accept(); });
      return;
    }
    beast::error_code ignored;
    // Without it a response on a keep-alive connection waits for the
    // client's delayed ACK, about 40 ms, before its last segment goes.
    socket.set_option(tcp::no_delay(true), ignored);
    std::make_shared<Session>(std::move(socket), this)->Start();
    Accept();
  });
}

void HttpTransportImpl::AwaitConnectionAtCap() {
  if (awaiting_at_cap_ || stopping_) return;
  awaiting_at_cap_ = true;
  acceptor_.async_wait(tcp::acceptor::wait_read, [this](beast::error_code ec) {
    awaiting_at_cap_ = false;
    if (ec || stopping_ || !accept_paused_) return;
    // A connection is waiting in the backlog. A full house of clients that
    // send nothing (or trickle their head) must not lock everyone else
    // out: the one idle or waiting for its head the longest makes room,
    // as nginx reuses idle connections. Connections with work in progress
    // are never closed for this; when all have some, new ones wait.
    Session* oldest = nullptr;
    for (Session* session : sessions_) {
      if (session->Evictable() &&
          (oldest == nullptr || session->waiting_since() < oldest->waiting_since())) {
        oldest = session;
      }
    }
    if (oldest != nullptr) {
      metrics_->http_connections_evicted().Increment({});
      oldest->Evict();  // its close resumes accepting
      return;
    }
    // All busy: look again shortly (the backlog stays readable meanwhile).
    cap_timer_.expires_after(std::chrono::milliseconds(100));
    cap_timer_.async_wait([this](beast::error_code timer_ec) {
      if (!timer_ec && accept_paused_) AwaitConnectionAtCap();
    });
  });
}

void HttpTransportImpl::Opened(Session* session) {
  sessions_.insert(session);
  metrics_->http_connections_open().Set({}, static_cast<double>(sessions_.size()));
}

void HttpTransportImpl::Closed(Session* session) {
  sessions_.erase(session);
  metrics_->http_connections_open().Set({}, static_cast<double>(sessions_.size()));
  if (stopping_) {
    if (sessions_.empty()) all_closed_.Notify();
    return;
  }
  if (accept_paused_) {
    accept_paused_ = false;
    Accept();
  }
}

void HttpTransportImpl::Shutdown() {
  if (shut_down_) return;
  shut_down_ = true;
  net::post(io_, [this] {
    stopping_ = true;
    beast::error_code ignored;
    acceptor_.close(ignored);
    retry_timer_.cancel();
    cap_timer_.cancel();
    // Copy: closing may end sessions, which erase themselves.
    const std::vector<Session*> sessions(sessions_.begin(), sessions_.end());
    for (Session* session : sessions) session->OnShutdown();
    if (sessions_.empty()) all_closed_.Notify();
  });
  all_closed_.WaitForNotification();
  work_.reset();
  io_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  workers_.Shutdown();
}

absl::StatusOr<std::unique_ptr<HttpTransport>> HttpTransport::Start(
    const HttpTransportOptions& options, HttpRoutes* routes, GatewayMetrics* metrics) {
  auto impl = std::make_unique<HttpTransportImpl>(options, routes, metrics);
  if (absl::Status status = impl->Bind(); !status.ok()) return status;
  impl->Run();
  return std::unique_ptr<HttpTransport>(new HttpTransport(std::move(impl)));
}

HttpTransport::HttpTransport(std::unique_ptr<HttpTransportImpl> impl)
    : impl_(std::move(impl)) {}

HttpTransport::~HttpTransport() { Shutdown(); }

int HttpTransport::port() const { return impl_->port(); }

void HttpTransport::Shutdown() { impl_->Shutdown(); }

}  // namespace stache::gateway::internal
