// The gRPC adapter and the client helper, through a real in-process server
// on a free port, over both backends: every RPC, its errors, and the
// namespace policy.
#include "storage/storage_service.h"

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "absl/strings/str_cat.h"
#include "server/error_reason.h"
#include "server/grpc_server.h"
#include "server/status.h"
#include "server/testing/idle_stream.h"
#include "storage/internal/sha256.h"
#include "storage/storage_client.h"
#include "storage/testing/minio_server.h"
#include "storage/testing/store_helpers.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::storage {
namespace {

using ::stache::server::FromGrpcStatus;
using ::stache::storage::internal::Sha256Hex;
using ::stache::storage::testing::MakeTestStore;
using ::stache::storage::testing::RandomBytes;
using ::stache::testing::IsOk;
using ::stache::testing::StatusIs;
using ::stache::testing::WaitFor;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Le;
using ::testing::SizeIs;

constexpr char kGatewayToken[] = "gateway-token-0000000000";
constexpr char kDetectorToken[] = "detector-token-000000000";
constexpr char kReaderToken[] = "reader-token-00000000000";
constexpr char kPolicy[] = R"({"callers": [
  {"name": "gateway", "token": "gateway-token-0000000000", "read": ["gateway"], "write": ["gateway"]},
  {"name": "detector", "token": "detector-token-000000000", "read": ["detector"], "write": ["detector"]},
  {"name": "reader", "token": "reader-token-00000000000", "read": ["gateway"]}]})";

// Counts finished Puts, so a test can wait for the server to be done with
// an upload whose client gave up.
class ObservedStore final : public BlobStore {
 public:
  explicit ObservedStore(std::unique_ptr<BlobStore> inner)
      : BlobStore(inner->max_object_bytes()), inner_(std::move(inner)) {}
  int started_puts() const { return started_puts_.load(); }
  int finished_puts() const { return finished_puts_.load(); }
  std::string BackendName() const override { return inner_->BackendName(); }
  std::string BackendLocation() const override { return inner_->BackendLocation(); }
  absl::StatusOr<std::map<std::string, NamespaceUsage>> Usage() override {
    return inner_->Usage();
  }

 protected:
  absl::StatusOr<ObjectInfo> DoPut(const ObjectHeader& header,
                                   ChunkSource source) override {
    ++started_puts_;
    absl::StatusOr<ObjectInfo> result = inner_->Put(header, source);
    ++finished_puts_;
    return result;
  }
  absl::Status DoGet(absl::string_view ns, absl::string_view key, InfoSink on_info,
                     ChunkSink on_chunk) override {
    return inner_->Get(ns, key, on_info, on_chunk);
  }
  absl::StatusOr<ObjectInfo> DoStat(absl::string_view ns,
                                    absl::string_view key) override {
    return inner_->Stat(ns, key);
  }
  absl::StatusOr<ListPage> DoList(const ListQuery& query) override {
    return inner_->List(query);
  }
  absl::Status DoDelete(absl::string_view ns, absl::string_view key) override {
    return inner_->Delete(ns, key);
  }

 private:
  std::unique_ptr<BlobStore> inner_;
  std::atomic<int> started_puts_{0};
  std::atomic<int> finished_puts_{0};
};

class StorageServiceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string skip_reason;
    absl::StatusOr<std::unique_ptr<BlobStore>> store =
        MakeTestStore(GetParam(), kDefaultMaxObjectBytes, &skip_reason);
    ASSERT_THAT(store, IsOk());
    if (*store == nullptr) GTEST_SKIP() << skip_reason;
    store_ = std::make_unique<ObservedStore>(*std::move(store));
    absl::StatusOr<NamespacePolicy> policy = NamespacePolicy::FromJson(kPolicy);
    ASSERT_THAT(policy, IsOk());
    policy_ = std::make_unique<NamespacePolicy>(*std::move(policy));
    service_ = std::make_unique<StorageServiceImpl>(store_.get(), policy_.get());
    StartServer({.host = "127.0.0.1", .port = 0});
  }

  void StartServer(const server::ServerConfig& config) {
    server_.reset();
    absl::StatusOr<std::unique_ptr<server::GrpcServer>> server =
        server::GrpcServer::Start(config,
                                  {.service_name = "storage",
                                   .service_names = {"stache.storage.v1.StorageService"}},
                                  {service_.get()});
    ASSERT_THAT(server, IsOk());
    server_ = *std::move(server);
    grpc::ChannelArguments arguments;
    arguments.SetMaxReceiveMessageSize(server::MaxMessageBytes(25'000'000));
    arguments.SetMaxSendMessageSize(server::MaxMessageBytes(25'000'000));
    channel_ = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", server_->port()),
                                         grpc::InsecureChannelCredentials(), arguments);
    stub_ = v1::StorageService::NewStub(channel_);
  }

  StorageClient Client(const std::string& token, size_t chunk_bytes = kChunkBytes) {
    return StorageClient(v1::StorageService::NewStub(channel_),
                         {.token = token, .chunk_bytes = chunk_bytes});
  }

  static void Authorize(grpc::ClientContext& context, const std::string& token) {
    context.AddMetadata("authorization", "Bearer " + token);
  }

  // A raw Put of `messages`, for protocol errors the client never makes.
  absl::Status RawPut(const std::vector<v1::PutRequest>& messages,
                      const std::string& token = kGatewayToken) {
    grpc::ClientContext context;
    if (!token.empty()) Authorize(context, token);
    v1::PutResponse response;
    auto writer = stub_->Put(&context, &response);
    for (const v1::PutRequest& message : messages) {
      if (!writer->Write(message)) break;
    }
    writer->WritesDone();
    return FromGrpcStatus(writer->Finish());
  }

  static v1::PutRequest Header(const std::string& ns, const std::string& key) {
    v1::PutRequest request;
    request.mutable_header()->set_namespace_(ns);
    request.mutable_header()->set_key(key);
    return request;
  }
  static v1::PutRequest Chunk(const std::string& bytes) {
    v1::PutRequest request;
    request.set_chunk(bytes);
    return request;
  }

  std::unique_ptr<ObservedStore> store_;
  std::unique_ptr<NamespacePolicy> policy_;
  std::unique_ptr<StorageServiceImpl> service_;
  std::unique_ptr<server::GrpcServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::StorageService::Stub> stub_;
};

TEST_P(StorageServiceTest, EveryRpcWorksThroughTheClient) {
  StorageClient client = Client(kGatewayToken, 256 * 1024);
  const std::string bytes = RandomBytes(3 * 1024 * 1024 + 17, 3);
  absl::StatusOr<v1::ObjectInfo> put = client.PutObject({.ns = "gateway",
                                                         .key = "originals/1.jpg",
                                                         .content_type = "image/jpeg",
                                                         .labels = {{"source", "test"}}},
                                                        bytes);
  ASSERT_THAT(put, IsOk());
  EXPECT_EQ(put->namespace_(), "gateway");
  EXPECT_EQ(put->key(), "originals/1.jpg");
  EXPECT_EQ(put->content_type(), "image/jpeg");
  EXPECT_EQ(put->size_bytes(), bytes.size());
  EXPECT_EQ(put->sha256_hex(), Sha256Hex(bytes));
  EXPECT_EQ(put->labels().at("source"), "test");
  EXPECT_GT(put->create_time().seconds(), 0);

  absl::StatusOr<StoredObject> got = client.GetObject("gateway", "originals/1.jpg");
  ASSERT_THAT(got, IsOk());
  EXPECT_TRUE(got->bytes == bytes);
  EXPECT_EQ(got->info.SerializeAsString(), put->SerializeAsString());

  absl::StatusOr<v1::ObjectInfo> stat = client.StatObject("gateway", "originals/1.jpg");
  ASSERT_THAT(stat, IsOk());
  EXPECT_EQ(stat->SerializeAsString(), put->SerializeAsString());

  ASSERT_THAT(client.PutObject({.ns = "gateway", .key = "results/1.jpg"}, "result"),
              IsOk());
  absl::StatusOr<v1::ListResponse> list = client.ListObjects("gateway", "", 1);
  ASSERT_THAT(list, IsOk());
  ASSERT_THAT(list->objects(), SizeIs(1));
  EXPECT_EQ(list->objects(0).key(), "results/1.jpg");
  absl::StatusOr<v1::ListResponse> next =
      client.ListObjects("gateway", "", 1, list->next_page_token());
  ASSERT_THAT(next, IsOk());
  ASSERT_THAT(next->objects(), SizeIs(1));
  EXPECT_EQ(next->objects(0).key(), "originals/1.jpg");
  EXPECT_EQ(next->next_page_token(), "");
  absl::StatusOr<v1::ListResponse> prefixed = client.ListObjects("gateway", "results/");
  ASSERT_THAT(prefixed, IsOk());
  EXPECT_THAT(prefixed->objects(), SizeIs(1));

  EXPECT_THAT(client.DeleteObject("gateway", "originals/1.jpg"), IsOk());
  EXPECT_THAT(client.GetObject("gateway", "originals/1.jpg"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("originals/1.jpg")));
}

TEST_P(StorageServiceTest, GetSendsMetadataFirstThenChunksOfAtMostOneMebibyte) {
  const std::string bytes = RandomBytes(5 * kChunkBytes / 2, 4);
  ASSERT_THAT(Client(kGatewayToken).PutObject({.ns = "gateway", .key = "k"}, bytes),
              IsOk());
  grpc::ClientContext context;
  Authorize(context, kGatewayToken);
  v1::GetRequest request;
  request.set_namespace_("gateway");
  request.set_key("k");
  auto reader = stub_->Get(&context, request);
  std::vector<v1::GetResponse> messages;
  v1::GetResponse message;
  while (reader->Read(&message)) messages.push_back(message);
  ASSERT_THAT(FromGrpcStatus(reader->Finish()), IsOk());
  ASSERT_THAT(messages, SizeIs(4));
  EXPECT_TRUE(messages[0].has_object());
  std::vector<size_t> sizes;
  std::string received;
  for (size_t i = 1; i < messages.size(); ++i) {
    EXPECT_EQ(messages[i].part_case(), v1::GetResponse::kChunk);
    sizes.push_back(messages[i].chunk().size());
    received += messages[i].chunk();
  }
  EXPECT_THAT(sizes, Each(Le(kChunkBytes)));
  EXPECT_TRUE(received == bytes);
}

TEST_P(StorageServiceTest, A25MegabyteImageRoundTripsAndLargerIsResourceExhausted) {
  StorageClient client = Client(kGatewayToken);
  const std::string image = RandomBytes(25'000'000, 5);
  ASSERT_THAT(
      client.PutObject({.ns = "gateway", .key = "big.jpg", .content_type = "image/jpeg"},
                       image),
      IsOk());
  absl::StatusOr<StoredObject> got = client.GetObject("gateway", "big.jpg");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->bytes.size(), image.size());
  EXPECT_EQ(got->info.sha256_hex(), Sha256Hex(image));

  EXPECT_THAT(client.PutObject({.ns = "gateway", .key = "too-big"},
                               std::string(kDefaultMaxObjectBytes + 1, 'x')),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit")));
  v1::PutRequest announced = Header("gateway", "too-big");
  announced.mutable_header()->set_expected_size_bytes(kDefaultMaxObjectBytes + 1);
  EXPECT_THAT(RawPut({announced}),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit")));
  EXPECT_THAT(client.StatObject("gateway", "too-big"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("too-big")));
}

TEST_P(StorageServiceTest, MalformedPutStreamsAreInvalidArgument) {
  EXPECT_THAT(RawPut({}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header")));
  EXPECT_THAT(RawPut({Chunk("bytes")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header")));
  EXPECT_THAT(RawPut({Header("gateway", "k"), Chunk("a"), Header("gateway", "k")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("only the first")));
  EXPECT_THAT(RawPut({Header("gateway", "../k"), Chunk("a")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
  v1::PutRequest wrong_digest = Header("gateway", "k");
  wrong_digest.mutable_header()->set_expected_sha256_hex(Sha256Hex("something else"));
  EXPECT_THAT(RawPut({wrong_digest, Chunk("a")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("SHA-256")));
  v1::PutRequest wrong_size = Header("gateway", "k");
  wrong_size.mutable_header()->set_expected_size_bytes(2);
  EXPECT_THAT(RawPut({wrong_size, Chunk("a")}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected")));
  EXPECT_THAT(Client(kGatewayToken).StatObject("gateway", "k"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("k")));
  // A valid raw Put, for contrast: header, then chunks.
  EXPECT_THAT(RawPut({Header("gateway", "k"), Chunk("a"), Chunk("b")}), IsOk());
}

// A newer client's oneof member (here field 3, unknown to this server) must
// not be stored as an empty chunk: the Put fails and nothing is stored.
TEST_P(StorageServiceTest, APartThisServerDoesNotKnowFailsThePut) {
  v1::PutRequest newer;
  newer.GetReflection()->MutableUnknownFields(&newer)->AddLengthDelimited(3,
                                                                          "compressed");
  const absl::Status status = RawPut({Header("gateway", "newer"), Chunk("a"), newer});
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field 3")));
  EXPECT_EQ(server::ReasonOf(status), server::kReasonUnknownOneofMember);
  EXPECT_THAT(RawPut({newer}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("header")));
  EXPECT_EQ(server::ReasonOf(RawPut({newer})), server::kReasonUnknownOneofMember);
  // A message with no part at all is refused too, with the plain reason.
  const absl::Status empty =
      RawPut({Header("gateway", "newer"), Chunk("a"), v1::PutRequest()});
  EXPECT_THAT(empty, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chunk")));
  EXPECT_EQ(server::ReasonOf(empty), "INVALID_ARGUMENT");
  EXPECT_THAT(Client(kGatewayToken).StatObject("gateway", "newer"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("newer")));
}

TEST_P(StorageServiceTest, ErrorsOfTheOtherRpcs) {
  StorageClient client = Client(kGatewayToken);
  EXPECT_THAT(client.GetObject("gateway", "missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing")));
  EXPECT_THAT(client.StatObject("gateway", "missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing")));
  EXPECT_THAT(client.DeleteObject("gateway", "missing"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing")));
  EXPECT_THAT(client.GetObject("gateway", "a//b"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
  EXPECT_THAT(client.StatObject("gateway", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
  EXPECT_THAT(client.DeleteObject("gateway", "/abs"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("key")));
  EXPECT_THAT(client.ListObjects("gateway", "../"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("prefix")));
  EXPECT_THAT(client.ListObjects("gateway", "", 0, "forged"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("page_token")));
  EXPECT_THAT(client.ListObjects("gateway", "", 4'000'000'000u), IsOk());
  EXPECT_THAT(client.ListObjects("bad/namespace", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("namespace")));
}

TEST_P(StorageServiceTest, MissingOrUnknownTokensAreUnauthenticatedForEveryRpc) {
  for (const std::string& token : std::vector<std::string>{"", "not-a-known-token-123"}) {
    SCOPED_TRACE(token);
    StorageClient client = Client(token);
    if (token.empty()) {
      EXPECT_THAT(
          RawPut({Header("gateway", "k"), Chunk("x")}, ""),
          StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("authorization")));
    }
    EXPECT_THAT(client.PutObject({.ns = "gateway", .key = "k"}, "x"),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("")));
    EXPECT_THAT(client.GetObject("gateway", "k"),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("")));
    EXPECT_THAT(client.StatObject("gateway", "k"),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("")));
    EXPECT_THAT(client.ListObjects("gateway", ""),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("")));
    EXPECT_THAT(client.DeleteObject("gateway", "k"),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("")));
  }
  grpc::ClientContext context;
  context.AddMetadata("authorization", std::string("Basic ") + kGatewayToken);
  v1::StatRequest request;
  request.set_namespace_("gateway");
  request.set_key("k");
  v1::StatResponse response;
  EXPECT_THAT(FromGrpcStatus(stub_->Stat(&context, request, &response)),
              StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("Bearer")));
}

// The token is checked before the first message is read: a caller without
// one gets its answer at once and costs no read, no wait (#12).
TEST_P(StorageServiceTest, AWrongTokenIsRefusedBeforeTheFirstMessageIsRead) {
  for (const std::string& token : std::vector<std::string>{"", "not-a-known-token-123"}) {
    SCOPED_TRACE(token);
    grpc::ClientContext context;
    if (!token.empty()) Authorize(context, token);
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
    v1::PutResponse response;
    auto writer = stub_->Put(&context, &response);
    // No message, no half-close: the server must answer without either.
    EXPECT_THAT(FromGrpcStatus(writer->Finish()),
                StatusIs(absl::StatusCode::kUnauthenticated, HasSubstr("")));
  }
  EXPECT_EQ(store_->started_puts(), 0);
}

// Idle unauthenticated Put streams used to hold every thread of the server
// until their clients gave up (#12).
TEST_P(StorageServiceTest, IdleUnauthenticatedPutsDoNotBlockAuthorizedCallers) {
  StartServer({.host = "127.0.0.1",
               .port = 0,
               .max_concurrent_calls = 2,
               .max_concurrent_streams = 2});
  grpc::GenericStub generic(channel_);
  std::vector<std::unique_ptr<server::testing::IdleStream>> idle;
  for (int i = 0; i < 10; ++i) {
    idle.push_back(std::make_unique<server::testing::IdleStream>(
        generic, "/stache.storage.v1.StorageService/Put",
        std::multimap<std::string, std::string>{
            {"authorization", "Bearer not-a-known-token-123"}}));
  }
  // Each is answered at once, without a message: refused for its token, or
  // (arriving together, over the stream limit) for the moment.
  int unauthenticated = 0;
  for (auto& stream : idle) {
    std::optional<grpc::Status> ended = stream->WaitForEnd(absl::Seconds(5));
    ASSERT_TRUE(ended.has_value());
    EXPECT_THAT(ended->error_code(),
                ::testing::AnyOf(grpc::StatusCode::UNAUTHENTICATED,
                                 grpc::StatusCode::RESOURCE_EXHAUSTED));
    if (ended->error_code() == grpc::StatusCode::UNAUTHENTICATED) ++unauthenticated;
  }
  EXPECT_GE(unauthenticated, 1);
  // A server thread returns to the pool just after its call is answered, so
  // on a busy machine the first Put may still meet RESOURCE_EXHAUSTED
  // (backpressure, as documented); the bug held every thread for as long as
  // the idle clients waited. Authorized Puts must get through within 5 s.
  StorageClient client = Client(kGatewayToken);
  absl::Status put;
  for (const absl::Time give_up = absl::Now() + absl::Seconds(5);;
       absl::SleepFor(absl::Milliseconds(50))) {
    put = client.PutObject({.ns = "gateway", .key = "after"}, "bytes").status();
    if (!absl::IsResourceExhausted(put) || absl::Now() > give_up) break;
  }
  ASSERT_THAT(put, IsOk());
  absl::StatusOr<StoredObject> got = client.GetObject("gateway", "after");
  ASSERT_THAT(got, IsOk());
  EXPECT_EQ(got->bytes, "bytes");
}

// Authorized streams that go idle end, and free their slot.
TEST_P(StorageServiceTest, AnIdleAuthorizedPutEndsAfterTheIdleTimeout) {
  StartServer({.host = "127.0.0.1",
               .port = 0,
               .max_concurrent_calls = 2,
               .max_concurrent_streams = 1,
               .stream_idle_timeout = absl::Milliseconds(300)});
  grpc::GenericStub generic(channel_);
  server::testing::IdleStream idle(
      generic, "/stache.storage.v1.StorageService/Put",
      std::multimap<std::string, std::string>{
          {"authorization", std::string("Bearer ") + kGatewayToken}});
  std::optional<grpc::Status> ended = idle.WaitForEnd(absl::Seconds(10));
  ASSERT_TRUE(ended.has_value());
  EXPECT_EQ(ended->error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_THAT(ended->error_message(), HasSubstr("idle"));
  EXPECT_TRUE(WaitFor(
      [&] {
        return Client(kGatewayToken)
            .PutObject({.ns = "gateway", .key = "next"}, "x")
            .ok();
      },
      absl::Seconds(5)));
}

TEST_P(StorageServiceTest, ACallerCannotReadListWriteOrDeleteAnotherNamespace) {
  StorageClient gateway = Client(kGatewayToken);
  StorageClient detector = Client(kDetectorToken);
  ASSERT_THAT(gateway.PutObject({.ns = "gateway", .key = "private"}, "gateway's bytes"),
              IsOk());
  ASSERT_THAT(detector.PutObject({.ns = "detector", .key = "own"}, "detector's bytes"),
              IsOk());

  EXPECT_THAT(detector.GetObject("gateway", "private"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not read")));
  EXPECT_THAT(detector.StatObject("gateway", "private"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not read")));
  EXPECT_THAT(detector.ListObjects("gateway", ""),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not read")));
  EXPECT_THAT(detector.PutObject({.ns = "gateway", .key = "private"}, "overwritten"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not write")));
  EXPECT_THAT(detector.DeleteObject("gateway", "private"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not write")));
  // And the other way round.
  EXPECT_THAT(gateway.GetObject("detector", "own"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("detector")));
  EXPECT_THAT(gateway.ListObjects("detector", ""),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("detector")));
  EXPECT_THAT(gateway.DeleteObject("detector", "own"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("detector")));

  // Nothing changed.
  absl::StatusOr<StoredObject> kept = gateway.GetObject("gateway", "private");
  ASSERT_THAT(kept, IsOk());
  EXPECT_EQ(kept->bytes, "gateway's bytes");
  EXPECT_THAT(detector.GetObject("detector", "own"), IsOk());
  EXPECT_EQ(store_->finished_puts(), 2);  // the denied Put never reached the store
}

TEST_P(StorageServiceTest, AReadOnlyCallerCanReadButNotWrite) {
  ASSERT_THAT(Client(kGatewayToken).PutObject({.ns = "gateway", .key = "k"}, "bytes"),
              IsOk());
  StorageClient reader = Client(kReaderToken);
  EXPECT_THAT(reader.GetObject("gateway", "k"), IsOk());
  EXPECT_THAT(reader.StatObject("gateway", "k"), IsOk());
  EXPECT_THAT(reader.ListObjects("gateway", ""), IsOk());
  EXPECT_THAT(reader.PutObject({.ns = "gateway", .key = "k"}, "x"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not write")));
  EXPECT_THAT(reader.DeleteObject("gateway", "k"),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("may not write")));
}

TEST_P(StorageServiceTest, ACancelledUploadIsNotStored) {
  grpc::ClientContext context;
  Authorize(context, kGatewayToken);
  v1::PutResponse response;
  auto writer = stub_->Put(&context, &response);
  ASSERT_TRUE(writer->Write(Header("gateway", "cancelled")));
  ASSERT_TRUE(writer->Write(Chunk(RandomBytes(100'000, 6))));
  // Cancel mid-upload: once the server is receiving the bytes.
  ASSERT_TRUE(WaitFor([&] { return store_->started_puts() == 1; }, absl::Seconds(10)));
  context.TryCancel();
  EXPECT_THAT(FromGrpcStatus(writer->Finish()),
              StatusIs(absl::StatusCode::kCancelled, HasSubstr("")));
  ASSERT_TRUE(WaitFor([&] { return store_->finished_puts() == 1; }, absl::Seconds(10)));
  EXPECT_THAT(Client(kGatewayToken).StatObject("gateway", "cancelled"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("cancelled")));
}

TEST_P(StorageServiceTest, ManyClientsAtOnce) {
  constexpr int kClients = 8;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      StorageClient client = Client(kGatewayToken, 64 * 1024);
      for (int i = 0; i < 4; ++i) {
        const std::string key = absl::StrCat("client", c, "/", i);
        const std::string bytes = RandomBytes(150'000 + i, c * 10 + i);
        if (!client.PutObject({.ns = "gateway", .key = key}, bytes).ok()) ++failures;
        absl::StatusOr<StoredObject> got = client.GetObject("gateway", key);
        if (!got.ok() || got->bytes != bytes) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  absl::StatusOr<v1::ListResponse> all =
      Client(kGatewayToken).ListObjects("gateway", "", 1000);
  ASSERT_THAT(all, IsOk());
  EXPECT_THAT(all->objects(), SizeIs(kClients * 4));
}

// A store whose backend fails the way files, SQLite and S3 do, with messages
// naming paths and URLs.
class FailingStore final : public BlobStore {
 public:
  FailingStore() : BlobStore(kDefaultMaxObjectBytes) {}
  std::string BackendName() const override { return "failing"; }
  std::string BackendLocation() const override { return "/srv/stache/data"; }
  absl::StatusOr<std::map<std::string, NamespaceUsage>> Usage() override {
    return std::map<std::string, NamespaceUsage>();
  }

 protected:
  absl::StatusOr<ObjectInfo> DoPut(const ObjectHeader&, ChunkSource) override {
    return absl::InternalError(
        "cannot fsync /srv/stache/data/tmp/put-17: Input/output error");
  }
  absl::Status DoGet(absl::string_view, absl::string_view, InfoSink, ChunkSink) override {
    return absl::UnavailableError(
        "S3 GET http://minio.internal.example:9000/stache-prod/objects/gateway/k failed: "
        "Couldn't connect to server");
  }
  absl::StatusOr<ObjectInfo> DoStat(absl::string_view, absl::string_view) override {
    return absl::NotFoundError(
        "cannot open /srv/stache/data/blobs/ab/abcdef: No such file");
  }
  absl::StatusOr<ListPage> DoList(const ListQuery&) override {
    return absl::DataLossError(
        "objects/gateway/k in bucket stache-prod was not written by us");
  }
  absl::Status DoDelete(absl::string_view, absl::string_view) override {
    return absl::FailedPreconditionError(
        "S3 DELETE failed: PreconditionFailed (https://s3.internal.example)");
  }
};

TEST(StorageServiceErrorsTest, BackendFailuresNameNoPathsHostsOrUrls) {
  FailingStore store;
  NamespacePolicy policy = NamespacePolicy::DevelopmentDefault();
  StorageServiceImpl service(&store, &policy);
  auto server = server::GrpcServer::Start({.host = "127.0.0.1", .port = 0},
                                          {.service_name = "storage"}, {&service});
  ASSERT_THAT(server, IsOk());
  StorageClient client(v1::StorageService::NewStub(grpc::CreateChannel(
                           absl::StrCat("127.0.0.1:", (*server)->port()),
                           grpc::InsecureChannelCredentials())),
                       {.token = kDevelopmentToken});
  const std::vector<absl::Status> errors = {
      client.PutObject({.ns = kDevelopmentNamespace, .key = "k"}, "x").status(),
      client.GetObject(kDevelopmentNamespace, "k").status(),
      client.StatObject(kDevelopmentNamespace, "k").status(),
      client.ListObjects(kDevelopmentNamespace, "").status(),
      client.DeleteObject(kDevelopmentNamespace, "k")};
  for (const absl::Status& error : errors) {
    SCOPED_TRACE(error.ToString());
    EXPECT_FALSE(error.ok());
    EXPECT_THAT(error.message(), ::testing::Not(HasSubstr("/srv")));
    EXPECT_THAT(error.message(), ::testing::Not(HasSubstr("http")));
    EXPECT_THAT(error.message(), ::testing::Not(HasSubstr("internal.example")));
    EXPECT_THAT(error.message(), ::testing::Not(HasSubstr("stache-prod")));
  }
  EXPECT_EQ(errors[0].code(), absl::StatusCode::kInternal);
  EXPECT_THAT(errors[0].message(), HasSubstr("request id"));
  EXPECT_EQ(errors[1].code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(errors[1].message(), HasSubstr("try again"));
  EXPECT_EQ(errors[2].code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(errors[2].message(), HasSubstr("\"k\""));
  EXPECT_EQ(errors[3].code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(errors[4].code(), absl::StatusCode::kFailedPrecondition);
}

INSTANTIATE_TEST_SUITE_P(Backends, StorageServiceTest, ::testing::Values("local", "s3"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace stache::storage
