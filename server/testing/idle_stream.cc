#include "server/testing/idle_stream.h"

#include "absl/time/clock.h"

namespace stache::server::testing {
namespace {

// Completion queue tags.
char kStarted;
char kWritten;
char kFinished;

}  // namespace

IdleStream::IdleStream(grpc::GenericStub& stub, const std::string& method,
                       const std::multimap<std::string, std::string>& metadata) {
  for (const auto& [key, value] : metadata) context_.AddMetadata(key, value);
  call_ = stub.PrepareCall(&context_, method, &queue_);
  call_->StartCall(&kStarted);
  // Completes when the server ends the stream (or on cancellation).
  call_->Finish(&status_, &kFinished);
  Next(&kStarted, absl::Seconds(10));
}

IdleStream::~IdleStream() {
  context_.TryCancel();
  while (!finished_ || write_pending_) {
    void* tag = nullptr;
    bool ok = false;
    if (!queue_.Next(&tag, &ok)) break;
    if (tag == &kFinished) finished_ = true;
    if (tag == &kWritten) write_pending_ = false;
  }
  queue_.Shutdown();
  void* tag = nullptr;
  bool ok = false;
  while (queue_.Next(&tag, &ok)) {
  }
}

bool IdleStream::Next(void* want, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    void* tag = nullptr;
    bool ok = false;
    const auto result = queue_.AsyncNext(&tag, &ok, absl::ToChronoTime(deadline));
    if (result != grpc::CompletionQueue::GOT_EVENT) return false;
    if (tag == &kFinished) finished_ = true;
    if (tag == &kWritten) write_pending_ = false;
    if (tag == want) return ok;
  }
}

bool IdleStream::Write(const std::string& bytes) {
  if (finished_) return false;
  grpc::Slice slice(bytes);
  grpc::ByteBuffer buffer(&slice, 1);
  write_pending_ = true;
  call_->Write(buffer, &kWritten);
  return Next(&kWritten, absl::Seconds(10));
}

std::optional<grpc::Status> IdleStream::WaitForEnd(absl::Duration timeout) {
  if (!finished_) Next(&kFinished, timeout);
  if (!finished_) return std::nullopt;
  return status_;
}

}  // namespace stache::server::testing
