// Put and Get throughput of the local backend for 100 KB and 5 MB objects:
// on the store itself, and through gRPC (in-process server, loopback, the
// StorageClient helper). Every Put stores new bytes (no deduplication
// shortcut) and is fsync'ed; Gets read from the page cache.
//
//   build/bin/storage_benchmark --benchmark_counters_tabular=true
#include <benchmark/benchmark.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "server/grpc_server.h"
#include "server/log.h"
#include "storage/local_blob_store.h"
#include "storage/storage_client.h"
#include "storage/storage_service.h"
#include "storage/testing/store_helpers.h"

namespace stache::storage {
namespace {

using testing::BytesSource;
using testing::RandomBytes;

// Keys are reused so that replaced objects free their blobs and the disk
// use stays bounded.
constexpr int kKeys = 8;

class TempDir {
 public:
  TempDir()
      : path_(absl::StrCat(std::filesystem::temp_directory_path().string(),
                           "/stache-storage-benchmark-", getpid())) {
    std::filesystem::remove_all(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::unique_ptr<LocalBlobStore> OpenStore(const TempDir& dir) {
  absl::StatusOr<std::unique_ptr<LocalBlobStore>> store =
      LocalBlobStore::Open({.data_dir = dir.path() + "/storage"});
  if (!store.ok()) std::abort();
  return *std::move(store);
}

// Makes `bytes` new content for iteration `i`.
void Stamp(std::string& bytes, int64_t i) { std::memcpy(bytes.data(), &i, sizeof(i)); }

void BM_LocalPut(benchmark::State& state) {
  TempDir dir;
  std::unique_ptr<LocalBlobStore> store = OpenStore(dir);
  std::string bytes = RandomBytes(static_cast<size_t>(state.range(0)), 1);
  int64_t i = 0;
  for (auto _ : state) {
    Stamp(bytes, ++i);
    BytesSource source(bytes, kChunkBytes);
    if (!store->Put({.ns = "bench", .key = absl::StrCat("k", i % kKeys)}, source).ok()) {
      state.SkipWithError("Put failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// Several clients at once: the receiving and fsync of their bytes overlap,
// only the commits are serialized. One store for all threads.
TempDir* shared_dir = nullptr;
LocalBlobStore* shared_store = nullptr;

void OpenSharedStore(const benchmark::State&) {
  shared_dir = new TempDir;
  shared_store = OpenStore(*shared_dir).release();
}

void CloseSharedStore(const benchmark::State&) {
  delete shared_store;
  delete shared_dir;
}

void BM_LocalPutConcurrent(benchmark::State& state) {
  std::string bytes = RandomBytes(static_cast<size_t>(state.range(0)), 5);
  int64_t i = static_cast<int64_t>(state.thread_index()) << 32;
  for (auto _ : state) {
    Stamp(bytes, ++i);
    BytesSource source(bytes, kChunkBytes);
    const std::string key = absl::StrCat("t", state.thread_index(), "-k", i % kKeys);
    if (!shared_store->Put({.ns = "bench", .key = key}, source).ok()) {
      state.SkipWithError("Put failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_LocalGet(benchmark::State& state) {
  TempDir dir;
  std::unique_ptr<LocalBlobStore> store = OpenStore(dir);
  const std::string bytes = RandomBytes(static_cast<size_t>(state.range(0)), 2);
  BytesSource source(bytes, kChunkBytes);
  if (!store->Put({.ns = "bench", .key = "k"}, source).ok()) std::abort();
  for (auto _ : state) {
    size_t received = 0;
    absl::Status status = store->Get(
        "bench", "k", [](const ObjectInfo&) { return absl::OkStatus(); },
        [&](absl::string_view chunk) {
          received += chunk.size();
          return absl::OkStatus();
        });
    if (!status.ok() || received != bytes.size()) {
      state.SkipWithError("Get failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// The store behind a real gRPC server on a loopback port, and a client.
struct GrpcFixture {
  explicit GrpcFixture(const TempDir& dir)
      : store(OpenStore(dir)),
        policy(NamespacePolicy::DevelopmentDefault()),
        service(store.get(), &policy) {
    server::SetLogLevel(server::LogLevel::kWarning);  // no "serving" line per run
    absl::StatusOr<std::unique_ptr<server::GrpcServer>> started =
        server::GrpcServer::Start({.host = "127.0.0.1", .port = 0},
                                  {.service_name = "storage",
                                   .service_names = {"stache.storage.v1.StorageService"}},
                                  {&service});
    if (!started.ok()) std::abort();
    grpc_server = *std::move(started);
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(server::MaxMessageBytes(25'000'000));
    arguments.SetMaxSendMessageSize(server::MaxMessageBytes(25'000'000));
    client = std::make_unique<StorageClient>(v1::StorageService::NewStub(
        grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", grpc_server->port()),
                                  grpc::InsecureChannelCredentials(), arguments)));
  }

  std::unique_ptr<LocalBlobStore> store;
  NamespacePolicy policy;
  StorageServiceImpl service;
  std::unique_ptr<server::GrpcServer> grpc_server;
  std::unique_ptr<StorageClient> client;
};

void BM_GrpcPut(benchmark::State& state) {
  TempDir dir;
  GrpcFixture fixture(dir);
  std::string bytes = RandomBytes(static_cast<size_t>(state.range(0)), 3);
  int64_t i = 0;
  for (auto _ : state) {
    Stamp(bytes, ++i);
    if (!fixture.client
             ->PutObject(
                 {.ns = kDevelopmentNamespace, .key = absl::StrCat("k", i % kKeys)},
                 bytes)
             .ok()) {
      state.SkipWithError("PutObject failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

void BM_GrpcGet(benchmark::State& state) {
  TempDir dir;
  GrpcFixture fixture(dir);
  const std::string bytes = RandomBytes(static_cast<size_t>(state.range(0)), 4);
  if (!fixture.client->PutObject({.ns = kDevelopmentNamespace, .key = "k"}, bytes).ok())
    std::abort();
  for (auto _ : state) {
    absl::StatusOr<StoredObject> object =
        fixture.client->GetObject(kDevelopmentNamespace, "k");
    if (!object.ok() || object->bytes.size() != bytes.size()) {
      state.SkipWithError("GetObject failed");
      break;
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

constexpr int64_t k100Kb = 100'000;
constexpr int64_t k5Mb = 5'000'000;

BENCHMARK(BM_LocalPut)
    ->Arg(k100Kb)
    ->Arg(k5Mb)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LocalPutConcurrent)
    ->Arg(k100Kb)
    ->Arg(k5Mb)
    ->Threads(4)
    ->Setup(OpenSharedStore)
    ->Teardown(CloseSharedStore)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_LocalGet)
    ->Arg(k100Kb)
    ->Arg(k5Mb)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GrpcPut)
    ->Arg(k100Kb)
    ->Arg(k5Mb)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_GrpcGet)
    ->Arg(k100Kb)
    ->Arg(k5Mb)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace stache::storage
