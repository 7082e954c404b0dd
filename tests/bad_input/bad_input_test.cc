// Bad input against the real suite (issue #7): the four binaries run once for
// the whole suite on free loopback ports, a good photo is stored first, then
// broken images, decompression bombs, malformed and oversized requests,
// header floods, slow clients, traversal keys, bad coordinates, oversized
// gRPC messages and bad credentials are thrown at the gateway (REST) and at
// the backends (gRPC). Each gets its exact status and a message that says
// why; after each case all four processes still run, and the last test reads
// the good photo back byte for byte.
//
// Decisions documented here (and in the README):
//  - The gateway sniffs images by their magic bytes: the declared
//    Content-Type of a part (or of a raw body) must be image/*, multipart or
//    octet-stream, but "image/png" over JPEG bytes is accepted as the JPEG it
//    is. text/plain is refused with 415.
//  - The multipart file name is never used (ids are generated), so invalid
//    UTF-8 in it is harmless and the upload succeeds.
//
// Registered as one ctest test (not one per case), so the processes start
// once and the integrity check runs after every other case.
#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <future>
#include <limits>
#include <memory>
#include <opencv2/core.hpp>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gateway/testing/raw_connection.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "nlohmann/json.hpp"
#include "server/grpc_channel.h"
#include "stache/detector/v1/detector.grpc.pb.h"
#include "stache/overlay/v1/overlay.grpc.pb.h"
#include "stache/storage/v1/storage.grpc.pb.h"
#include "storage/development_token.h"
#include "tests/e2e/service_stack.h"
#include "tests/testing/hostile_images.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

using ::nlohmann::json;
using ::stache::gateway::testing::RawConnection;
using ::stache::gateway::testing::UploadHeaders;
using ::stache::imaging::ImageFormat;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::TestDataPath;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// Small, so that the oversized-body case is cheap.
constexpr int64_t kMaxBodyBytes = 2'000'000;
// A silent client is dropped after this (the gateway's --http_read_timeout).
constexpr int kReadTimeoutSeconds = 2;
constexpr const char* kStorageToken = storage::kDevelopmentToken;
constexpr uint32_t kBombSide = 60000;

// ---------------------------------------------------------------------------
// Bad data, built here from small images OpenCV encodes.

std::string Encode(ImageFormat format, int width = 64, int height = 48) {
  cv::Mat pixels(height, width, CV_8UC3);
  cv::randu(pixels, cv::Scalar::all(0), cv::Scalar::all(255));
  absl::StatusOr<std::string> bytes = imaging::EncodeImage(pixels, format, 90);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : "";
}

// The first `n` bytes.
std::string Truncated(const std::string& bytes, size_t n) { return bytes.substr(0, n); }

void PutBigEndian(std::string& bytes, size_t offset, uint32_t value, int width) {
  for (int i = 0; i < width; ++i) {
    bytes[offset + i] = static_cast<char>((value >> (8 * (width - 1 - i))) & 0xFF);
  }
}

// A JPEG whose SOF0 announces kBombSide x kBombSide pixels.
std::string JpegBomb() {
  std::string jpeg = Encode(ImageFormat::kJpeg);
  const size_t sof = jpeg.find("\xFF\xC0");
  EXPECT_NE(sof, std::string::npos);
  PutBigEndian(jpeg, sof + 5, kBombSide, 2);  // height
  PutBigEndian(jpeg, sof + 7, kBombSide, 2);  // width
  return jpeg;
}

uint32_t Crc32(const std::string& bytes, size_t begin, size_t end) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = begin; i < end; ++i) {
    crc ^= static_cast<unsigned char>(bytes[i]);
    for (int bit = 0; bit < 8; ++bit)
      crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

// A PNG whose IHDR announces kBombSide x kBombSide pixels, with a correct
// CRC so that only the size is wrong.
std::string PngBomb() {
  std::string png = Encode(ImageFormat::kPng);
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), ...
  PutBigEndian(png, 16, kBombSide, 4);
  PutBigEndian(png, 20, kBombSide, 4);
  PutBigEndian(png, 29, Crc32(png, 12, 29), 4);
  return png;
}

// ---------------------------------------------------------------------------
// Checks.

// The gateway's JSON error: {"error": {"code", "status", "message"}}.
void ExpectJsonErrorBody(int status, const std::string& content_type,
                         const std::string& text, int http_status,
                         const std::string& message_part) {
  EXPECT_EQ(status, http_status) << text;
  EXPECT_EQ(content_type, "application/json") << text;
  const json body = json::parse(text, nullptr, /*allow_exceptions=*/false);
  ASSERT_TRUE(body.is_object() && body.contains("error") && body["error"].is_object())
      << text;
  EXPECT_EQ(body["error"]["code"], http_status) << text;
  const std::string message = body["error"].value("message", "");
  EXPECT_THAT(absl::AsciiStrToLower(message),
              HasSubstr(absl::AsciiStrToLower(message_part)))
      << text;
}

void ExpectJsonError(const httplib::Result& result, int http_status,
                     const std::string& message_part) {
  ASSERT_TRUE(result) << "no answer: " << httplib::to_string(result.error());
  ExpectJsonErrorBody(result->status, result->get_header_value("Content-Type"),
                      result->body, http_status, message_part);
}

// The same for an answer read off a raw connection.
void ExpectRawJsonError(const std::string& answer, int http_status,
                        const std::string& message_part) {
  const size_t end_of_headers = answer.find("\r\n\r\n");
  ASSERT_NE(end_of_headers, std::string::npos) << answer;
  const std::string head = answer.substr(0, end_of_headers);
  int status = 0;
  ASSERT_EQ(std::sscanf(head.c_str(), "HTTP/1.1 %d", &status), 1) << answer;
  const std::string content_type =
      head.find("Content-Type: application/json") != std::string::npos
          ? "application/json"
          : head;
  ExpectJsonErrorBody(status, content_type, answer.substr(end_of_headers + 4),
                      http_status, message_part);
}

void ExpectGrpcError(const grpc::Status& status, grpc::StatusCode code,
                     const std::string& message_part) {
  EXPECT_EQ(status.error_code(), code) << status.error_message();
  EXPECT_THAT(absl::AsciiStrToLower(status.error_message()),
              HasSubstr(absl::AsciiStrToLower(message_part)));
}

std::unique_ptr<grpc::ClientContext> Context(const std::string& token = kStorageToken) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  if (!token.empty()) context->AddMetadata("authorization", "Bearer " + token);
  return context;
}

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // A server may close a connection while a large body is still being
    // sent (413); that must fail the send, not kill the test.
    signal(SIGPIPE, SIG_IGN);
    stack_ = new e2e::ServiceStack(
        kMaxBodyBytes, {absl::StrCat("--http_read_timeout=", kReadTimeoutSeconds, "s"),
                        absl::StrCat("--http_write_timeout=", kReadTimeoutSeconds, "s")});
    ASSERT_TRUE(stack_->WaitUntilReady()) << stack_->Logs();
    // Clients may send more than the servers accept, so that the servers'
    // own limits are what is tested.
    constexpr int64_t kClientLimit = 64'000'000;
    detector_ =
        detector::v1::DetectorService::NewStub(
            server::MakeChannel(absl::StrCat("127.0.0.1:", stack_->detector_port()),
                                kClientLimit))
            .release();
    overlay_ = overlay::v1::OverlayService::NewStub(
                   server::MakeChannel(absl::StrCat("127.0.0.1:", stack_->overlay_port()),
                                       kClientLimit))
                   .release();
    storage_ = storage::v1::StorageService::NewStub(
                   server::MakeChannel(absl::StrCat("127.0.0.1:", stack_->storage_port()),
                                       kClientLimit))
                   .release();

    good_photo_ = new std::string(ReadFileOrDie(TestDataPath("grace_hopper.jpg")));
    httplib::Result uploaded = Upload(*good_photo_, "handlebar");
    ASSERT_TRUE(uploaded) << stack_->Logs();
    ASSERT_EQ(uploaded->status, 201) << uploaded->body << stack_->Logs();
    const json record = json::parse(uploaded->body);
    good_id_ = new std::string(record["id"].get<std::string>());
    ASSERT_FALSE(record["faces"].empty());
    good_result_ = new std::string(Fetch("/v1/images/" + *good_id_ + "/result"));
    ASSERT_FALSE(good_result_->empty());
  }

  static void TearDownTestSuite() {
    delete detector_;
    delete overlay_;
    delete storage_;
    delete good_photo_;
    delete good_id_;
    delete good_result_;
    delete stack_;
    stack_ = nullptr;
  }

  void TearDown() override {
    // Whatever the case sent, every process is still serving.
    EXPECT_TRUE(stack_->AllRunning()) << stack_->Logs();
    EXPECT_EQ(stack_->Get("/healthz").first, 200);
  }

  static std::string Fetch(const std::string& path) {
    auto [status, body] = stack_->Get(path);
    EXPECT_EQ(status, 200) << path << ": " << body;
    return body;
  }

  // POST /v1/images, multipart, with the photo in field "image".
  static httplib::Result Upload(const std::string& bytes, const std::string& style = "",
                                const std::string& filename = "photo.jpg",
                                const std::string& content_type = "image/jpeg") {
    httplib::MultipartFormDataItems items = {{"image", bytes, filename, content_type}};
    if (!style.empty()) items.push_back({"style", style, "", ""});
    return stack_->Client()->Post("/v1/images", items);
  }

  // POST /v1/images with a raw body.
  static httplib::Result PostRaw(const std::string& body, const std::string& content_type,
                                 const std::string& path = "/v1/images") {
    return stack_->Client()->Post(path, body, content_type);
  }

  static std::string Multipart(const std::string& boundary,
                               const std::string& parts_body) {
    return absl::StrCat(parts_body, "--", boundary, "--\r\n");
  }
  static std::string Part(const std::string& boundary, const std::string& name,
                          const std::string& value) {
    return absl::StrCat(
        "--", boundary, "\r\nContent-Disposition: form-data; name=\"", name,
        "\"; filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n", value, "\r\n");
  }

  // A face the real detector found on the good photo.
  static detector::v1::Face DetectedFace() {
    detector::v1::DetectRequest request;
    request.set_image(*good_photo_);
    detector::v1::DetectResponse response;
    grpc::Status status = detector_->Detect(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.faces().empty() ? detector::v1::Face() : response.faces(0);
  }

  static overlay::v1::ApplyRequest ApplyWith(const detector::v1::Face& face) {
    overlay::v1::ApplyRequest request;
    request.set_image(*good_photo_);
    *request.add_faces() = face;
    return request;
  }

  static grpc::Status Apply(const overlay::v1::ApplyRequest& request) {
    overlay::v1::ApplyResponse response;
    return overlay_->Apply(Context().get(), request, &response);
  }

  static grpc::Status Stat(const std::string& ns, const std::string& key,
                           const std::string& token = kStorageToken) {
    storage::v1::StatRequest request;
    request.set_namespace_(ns);
    request.set_key(key);
    storage::v1::StatResponse response;
    return storage_->Stat(Context(token).get(), request, &response);
  }

  static grpc::Status Put(const std::string& key, const std::string& bytes,
                          const std::string& token = kStorageToken) {
    auto context = Context(token);
    storage::v1::PutResponse response;
    auto writer = storage_->Put(context.get(), &response);
    storage::v1::PutRequest header;
    header.mutable_header()->set_namespace_("gateway");
    header.mutable_header()->set_key(key);
    writer->Write(header);
    storage::v1::PutRequest chunk;
    chunk.set_chunk(bytes);
    writer->Write(chunk);
    writer->WritesDone();
    return writer->Finish();
  }

  static grpc::Status Get(const std::string& key, std::string* bytes) {
    auto context = Context();
    storage::v1::GetRequest request;
    request.set_namespace_("gateway");
    request.set_key(key);
    auto reader = storage_->Get(context.get(), request);
    storage::v1::GetResponse response;
    while (reader->Read(&response)) {
      if (response.has_chunk()) bytes->append(response.chunk());
    }
    return reader->Finish();
  }

  // Objects in the gateway's namespace under `prefix` (at most 1000).
  static int CountObjects(const std::string& prefix) {
    storage::v1::ListRequest request;
    request.set_namespace_("gateway");
    request.set_key_prefix(prefix);
    request.set_page_size(1000);
    storage::v1::ListResponse response;
    grpc::Status status = storage_->List(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    EXPECT_THAT(response.next_page_token(), IsEmpty());
    return response.objects_size();
  }

  static e2e::ServiceStack* stack_;
  static detector::v1::DetectorService::Stub* detector_;
  static overlay::v1::OverlayService::Stub* overlay_;
  static storage::v1::StorageService::Stub* storage_;
  static std::string* good_photo_;
  static std::string* good_id_;
  static std::string* good_result_;
};

e2e::ServiceStack* BadInputTest::stack_ = nullptr;
detector::v1::DetectorService::Stub* BadInputTest::detector_ = nullptr;
overlay::v1::OverlayService::Stub* BadInputTest::overlay_ = nullptr;
storage::v1::StorageService::Stub* BadInputTest::storage_ = nullptr;
std::string* BadInputTest::good_photo_ = nullptr;
std::string* BadInputTest::good_id_ = nullptr;
std::string* BadInputTest::good_result_ = nullptr;

// ---------------------------------------------------------------------------
// Broken images over REST.

// Breaks an encoded image in a way its decoder cannot paper over.
std::string CorruptStructure(ImageFormat format, std::string bytes) {
  switch (format) {
    case ImageFormat::kJpeg: {
      // The Huffman table's code counts become impossible.
      const size_t dht = bytes.find("\xFF\xC4");
      for (size_t i = dht + 5; i < dht + 21 && i < bytes.size(); ++i) bytes[i] = '\xFF';
      break;
    }
    case ImageFormat::kPng: {
      // The compressed pixels no longer match their CRC.
      const size_t idat = bytes.find("IDAT");
      for (size_t i = idat + 6; i < idat + 40 && i < bytes.size(); ++i) bytes[i] ^= 0x5A;
      break;
    }
    case ImageFormat::kWebp: {
      // The VP8 frame's partition sizes point past the end.
      const size_t vp8 = bytes.find("VP8");
      for (size_t i = vp8 + 8; i < vp8 + 11 && i < bytes.size(); ++i) bytes[i] = '\xFF';
      break;
    }
    case ImageFormat::kBmp:
      // Bits per pixel 7: no such BMP.
      bytes[28] = 7;
      break;
    case ImageFormat::kTiff: {
      // StripOffsets (tag 273) points far past the end. OpenCV writes
      // little-endian TIFF.
      uint32_t ifd = 0;
      for (int i = 3; i >= 0; --i)
        ifd = (ifd << 8) | static_cast<unsigned char>(bytes[4 + i]);
      const size_t entries = static_cast<unsigned char>(bytes[ifd]);
      for (size_t e = 0; e < entries && ifd + 2 + 12 * e + 12 <= bytes.size(); ++e) {
        const size_t entry = ifd + 2 + 12 * e;
        if (bytes[entry] == '\x11' && bytes[entry + 1] == '\x01') {  // 273, little-endian
          PutBigEndian(bytes, entry + 8, 0xF0FFFF7Fu, 4);
        }
      }
      break;
    }
    default:
      break;
  }
  return bytes;
}

struct FormatCase {
  ImageFormat format;
  // A third of the file: header present, pixels cut short.
  int truncated_status;
  std::string truncated_message;
  int corrupt_status;
  std::string corrupt_message;
};

const FormatCase kFormats[] = {
    {ImageFormat::kJpeg, 415, "truncated", 400, "decode"},
    {ImageFormat::kPng, 400, "decode", 400, "decode"},
    {ImageFormat::kWebp, 400, "decode", 400, "decode"},
    {ImageFormat::kBmp, 400, "decode", 400, "bmp image"},
    {ImageFormat::kTiff, 415, "truncated", 400, "decode"},
};

TEST_F(BadInputTest, TruncatedHeadersOfEveryFormatAre415) {
  for (const FormatCase& c : kFormats) {
    SCOPED_TRACE(imaging::ImageFormatName(c.format));
    // A few bytes: the magic number and no more.
    ExpectJsonError(Upload(Truncated(Encode(c.format), 6)), 415,
                    "not an image stache can read");
  }
}

TEST_F(BadInputTest, TruncatedFilesOfEveryFormatAreRefused) {
  for (const FormatCase& c : kFormats) {
    SCOPED_TRACE(imaging::ImageFormatName(c.format));
    const std::string full = Encode(c.format);
    ExpectJsonError(Upload(Truncated(full, full.size() / 3)), c.truncated_status,
                    c.truncated_message);
  }
}

TEST_F(BadInputTest, CorruptFilesOfEveryFormatAreRefused) {
  for (const FormatCase& c : kFormats) {
    SCOPED_TRACE(imaging::ImageFormatName(c.format));
    ExpectJsonError(Upload(CorruptStructure(c.format, Encode(c.format))),
                    c.corrupt_status, c.corrupt_message);
  }
}

// ---------------------------------------------------------------------------
// Sizes.

TEST_F(BadInputTest, JpegDecompressionBombOverRestIsRefusedBeforeDecoding) {
  ExpectJsonError(Upload(JpegBomb()), 429, "pixels");
}

TEST_F(BadInputTest, PngDecompressionBombOverRestIsRefusedBeforeDecoding) {
  ExpectJsonError(Upload(PngBomb(), "", "bomb.png", "image/png"), 429, "pixels");
}

TEST_F(BadInputTest, JpegBombToDetectIsResourceExhausted) {
  detector::v1::DetectRequest request;
  request.set_image(JpegBomb());
  detector::v1::DetectResponse response;
  ExpectGrpcError(detector_->Detect(Context().get(), request, &response),
                  grpc::StatusCode::RESOURCE_EXHAUSTED, "pixels");
}

TEST_F(BadInputTest, PngBombToApplyIsResourceExhausted) {
  overlay::v1::ApplyRequest request = ApplyWith(DetectedFace());
  request.set_image(PngBomb());
  ExpectGrpcError(Apply(request), grpc::StatusCode::RESOURCE_EXHAUSTED, "pixels");
}

// Found by image_header_fuzzer: a second VP8X chunk used to hide the first
// one's 17991 x 57856 canvas from the guard.
TEST_F(BadInputTest, WebpBombBehindASecondVp8xChunkIsResourceExhausted) {
  const std::string webp(
      "RIFF\x16\x00\x00\x00WEBPVP8X\x0a\x00\x00\x00\x00\x00\x00\x00"
      "FF\x00\xff\xe1\x00VP8X\x0a\x00\x00\x50VPW%\x00\x00\x00\x00\x00\x00\x00"
      "\x00\x00\x00\x00\x00\x00",
      48);
  detector::v1::DetectRequest request;
  request.set_image(webp);
  detector::v1::DetectResponse response;
  ExpectGrpcError(detector_->Detect(Context().get(), request, &response),
                  grpc::StatusCode::RESOURCE_EXHAUSTED, "17991 x 57856");
}

// Found by image_header_fuzzer: a WebP libwebp declines, with "DICM" at
// offset 128, reached OpenCV's DICOM decoder, which aborted the process.
TEST_F(BadInputTest, WebpWithADicomSignatureIs400AndTheBackendsSurvive) {
  const std::string encoded = Encode(ImageFormat::kWebp);
  std::string webp = absl::StrCat("RIFF", std::string(4, '\0'), "WEBP", "JUNK",
                                  std::string(4, '\0'), encoded.substr(12));
  webp.replace(128, 4, "DICM");
  ExpectJsonError(Upload(webp, "", "x.webp", "image/webp"), 400, "webp image could not");
  overlay::v1::ApplyRequest request = ApplyWith(DetectedFace());
  request.set_image(webp);
  ExpectGrpcError(Apply(request), grpc::StatusCode::INVALID_ARGUMENT,
                  "webp image could not");
}

// ---------------------------------------------------------------------------
// Hostile images (issue #12): each class of attack that got through, sent
// over REST and to both backends. Bytes reach only the sniffed format's own
// library, and the limits hold on what that library reads.

// A file the attacker wants back, and a URL that would hold a thread.
struct Bait {
  std::string secret_path;
  std::string secret;
  int listener = -1;  // accepts nothing; a connection attempt is a failure
  std::string url;
};

Bait MakeBait() {
  Bait bait;
  bait.secret_path = ::testing::TempDir() + "/stache-bad-input-secret";
  bait.secret = "SECRET-2c9f0e71";
  std::FILE* file = std::fopen(bait.secret_path.c_str(), "w");
  std::fputs(bait.secret.c_str(), file);
  std::fclose(file);
  bait.listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  ::bind(bait.listener, reinterpret_cast<sockaddr*>(&address), sizeof(address));
  ::listen(bait.listener, 8);
  ::getsockname(bait.listener, reinterpret_cast<sockaddr*>(&address), &length);
  bait.url = absl::StrCat("/vsicurl/http://127.0.0.1:", ntohs(address.sin_port), "/x");
  return bait;
}

bool SomeoneConnected(const Bait& bait) {
  const int accepted = ::accept(bait.listener, nullptr, nullptr);
  if (accepted >= 0) ::close(accepted);
  return accepted >= 0;
}

TEST_F(BadInputTest, GdalVrtInFakeWebpsReadsNoFileAndFetchesNoUrl) {
  const Bait bait = MakeBait();
  const int stored_before = CountObjects("images/");
  for (testing::WebpChunk chunk :
       {testing::WebpChunk::kVp8, testing::WebpChunk::kVp8l, testing::WebpChunk::kVp8x}) {
    for (const std::string& source : {bait.secret_path, bait.url}) {
      SCOPED_TRACE(source);
      const std::string bytes = testing::GdalPayloadInFakeWebp(chunk, source);
      // VP8X sizes without NUL bytes are bombs: refused even earlier.
      const bool bomb = chunk == testing::WebpChunk::kVp8x;
      httplib::Result uploaded = Upload(bytes, "", "x.webp", "image/webp");
      ExpectJsonError(uploaded, bomb ? 429 : 400, bomb ? "pixels" : "webp image");
      ASSERT_TRUE(uploaded);
      EXPECT_THAT(uploaded->body, Not(HasSubstr(source)));
      detector::v1::DetectRequest detect;
      detect.set_image(bytes);
      detector::v1::DetectResponse detected;
      grpc::Status status = detector_->Detect(Context().get(), detect, &detected);
      EXPECT_EQ(status.error_code(), bomb ? grpc::StatusCode::RESOURCE_EXHAUSTED
                                          : grpc::StatusCode::INVALID_ARGUMENT);
      EXPECT_THAT(status.error_message(), Not(HasSubstr(source)));
      overlay::v1::ApplyRequest apply = ApplyWith(DetectedFace());
      apply.set_image(bytes);
      status = Apply(apply);
      EXPECT_EQ(status.error_code(), bomb ? grpc::StatusCode::RESOURCE_EXHAUSTED
                                          : grpc::StatusCode::INVALID_ARGUMENT);
    }
  }
  EXPECT_FALSE(SomeoneConnected(bait));
  EXPECT_EQ(CountObjects("images/"), stored_before);  // nothing was stored
  ::close(bait.listener);
}

TEST_F(BadInputTest, BmpWithOtherDecodersSignaturesReachesOnlyTheBmpDecoder) {
  const Bait bait = MakeBait();
  ExpectJsonError(
      Upload(testing::GdalPayloadInBmp(9, bait.secret_path), "", "x.bmp", "image/bmp"),
      400, "bmp image is not supported");
  // A valid header: its pixels are the bytes that follow it, never a file's.
  detector::v1::DetectRequest detect;
  detect.set_image(testing::GdalPayloadInBmp(0, bait.secret_path));
  detector::v1::DetectResponse detected;
  EXPECT_TRUE(detector_->Detect(Context().get(), detect, &detected).ok());
  EXPECT_EQ(detected.image_width_px(), 16);
  EXPECT_EQ(detected.image_height_px(), 16);
  ::close(bait.listener);
}

TEST_F(BadInputTest, DuplicatedTiffSizeTagsCannotHideABomb) {
  const std::string tiff = testing::TiffWithDuplicateSize(kBombSide, kBombSide);
  ExpectJsonError(Upload(tiff, "", "x.tiff", "image/tiff"), 429, "pixels");
  overlay::v1::ApplyRequest apply = ApplyWith(DetectedFace());
  apply.set_image(tiff);
  ExpectGrpcError(Apply(apply), grpc::StatusCode::RESOURCE_EXHAUSTED, "pixels");
}

TEST_F(BadInputTest, DeepImagesAtThePixelCapAreRefusedByTheirDecodedBytes) {
  // 36 and 16 million pixels, under the 40 million cap, but 288 and 192 MB
  // decoded.
  ExpectJsonError(
      Upload(testing::SixteenBitRgbaPngHeader(6000, 6000), "", "x.png", "image/png"), 429,
      "288 MB decoded");
  detector::v1::DetectRequest detect;
  detect.set_image(testing::FloatTiffHeader(4000, 4000));
  detector::v1::DetectResponse detected;
  ExpectGrpcError(detector_->Detect(Context().get(), detect, &detected),
                  grpc::StatusCode::RESOURCE_EXHAUSTED, "192 MB decoded");
}

TEST_F(BadInputTest, ProgressiveJpegsWithThousandsOfScansAreRefused) {
  const std::string many = testing::JpegWithRepeatedScans(20'000);
  ASSERT_LT(many.size(), static_cast<size_t>(kMaxBodyBytes));
  ExpectJsonError(Upload(many), 400, "jpeg image");
  overlay::v1::ApplyRequest apply = ApplyWith(DetectedFace());
  apply.set_image(testing::ProgressiveJpegWithScans(150));
  ExpectGrpcError(Apply(apply), grpc::StatusCode::INVALID_ARGUMENT, "progressive scans");
}

TEST_F(BadInputTest, HostileImagesLeftEveryDecoderUnderItsMemoryBound) {
  // The decoders refused everything above before allocating pixels: the
  // backends' peak stays that of decoding ordinary photos.
  constexpr int64_t kBackendPeakBytes = 600'000'000;
  EXPECT_LT(stack_->detector().PeakResidentBytes(), kBackendPeakBytes);
  EXPECT_LT(stack_->overlay().PeakResidentBytes(), kBackendPeakBytes);
  EXPECT_GT(stack_->detector().PeakResidentBytes(), 0);
}

TEST_F(BadInputTest, ZeroByteRawBodyIs400) {
  ExpectJsonError(PostRaw("", "image/jpeg"), 400, "empty body");
}

TEST_F(BadInputTest, ZeroByteImageFieldIs400) {
  ExpectJsonError(Upload(""), 400, "empty");
}

TEST_F(BadInputTest, OnePixelImageSucceedsWithNoFaces) {
  httplib::Result result =
      Upload(Encode(ImageFormat::kPng, 1, 1), "", "dot.png", "image/png");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 201) << result->body;
  const json record = json::parse(result->body);
  EXPECT_THAT(record["faces"], IsEmpty());
}

TEST_F(BadInputTest, BodyOverMaxBodyBytesIs413BeforeItIsSent) {
  RawConnection connection(stack_->gateway_port());
  ASSERT_TRUE(connection.Send(UploadHeaders(kMaxBodyBytes + 1000, "image/jpeg")));
  ExpectRawJsonError(connection.ReadUntil("}}", absl::Seconds(10)), 413,
                     "larger than the limit");
}

TEST_F(BadInputTest, ChunkedBodyOverMaxBodyBytesIs413) {
  RawConnection connection(stack_->gateway_port());
  ASSERT_TRUE(connection.Send(
      "POST /v1/images HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n"
      "Transfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk(64 * 1024, 'c');
  const std::string framed = absl::StrCat(absl::Hex(chunk.size()), "\r\n", chunk, "\r\n");
  // Until the gateway stops reading (bounded: twice the limit).
  for (int64_t sent = 0; sent < 2 * kMaxBodyBytes && connection.Send(framed);) {
    sent += static_cast<int64_t>(chunk.size());
  }
  ExpectRawJsonError(connection.ReadUntil("}}", absl::Seconds(10)), 413,
                     "larger than the limit");
}

TEST_F(BadInputTest, MessageOverTheGrpcLimitIsResourceExhausted) {
  // The servers' limit fits --max_image_bytes (25 MB by default).
  detector::v1::DetectRequest request;
  request.set_image(std::string(40'000'000, '\0'));
  detector::v1::DetectResponse response;
  ExpectGrpcError(detector_->Detect(Context().get(), request, &response),
                  grpc::StatusCode::RESOURCE_EXHAUSTED, "larger than max");
}

// ---------------------------------------------------------------------------
// Content types and multipart.

TEST_F(BadInputTest, TextPlainIs415) {
  ExpectJsonError(PostRaw("hello", "text/plain"), 415, "is not accepted");
}

TEST_F(BadInputTest, DeclaredPngWithJpegBytesIsSniffedAsJpeg) {
  httplib::Result result = PostRaw(Encode(ImageFormat::kJpeg), "image/png");
  ASSERT_TRUE(result);
  ASSERT_EQ(result->status, 201) << result->body;
  EXPECT_EQ(json::parse(result->body)["original"]["content_type"], "image/jpeg");
}

TEST_F(BadInputTest, MultipartWithTheWrongBoundaryIs400) {
  const std::string body = Multipart("actual", Part("actual", "image", *good_photo_));
  ExpectJsonError(PostRaw(body, "multipart/form-data; boundary=declared"), 400,
                  "multipart");
}

TEST_F(BadInputTest, MultipartWithoutTheClosingBoundaryIs400) {
  const std::string body = Part("b0und", "image", *good_photo_);
  ExpectJsonError(PostRaw(body, "multipart/form-data; boundary=b0und"), 400, "multipart");
}

TEST_F(BadInputTest, MultipartWithoutAnImageFieldIs400) {
  const std::string body = Multipart("b0und", Part("b0und", "style", "handlebar"));
  ExpectJsonError(PostRaw(body, "multipart/form-data; boundary=b0und"), 400,
                  "no 'image' field");
}

TEST_F(BadInputTest, MultipartWithTwoImagesIs400) {
  const std::string body = Multipart("b0und", Part("b0und", "image", *good_photo_) +
                                                  Part("b0und", "image", *good_photo_));
  ExpectJsonError(PostRaw(body, "multipart/form-data; boundary=b0und"), 400,
                  "'image' must appear once");
}

// ---------------------------------------------------------------------------
// Names, styles and ids.

TEST_F(BadInputTest, InvalidUtf8FileNameIsIgnored) {
  httplib::Result result = Upload(Encode(ImageFormat::kJpeg), "", "\xFF\xFE\xC0\xAF.jpg");
  ASSERT_TRUE(result);
  EXPECT_EQ(result->status, 201) << result->body;
  EXPECT_TRUE(json::accept(result->body)) << result->body;
}

TEST_F(BadInputTest, InvalidUtf8StyleIs400) {
  ExpectJsonError(Upload(*good_photo_, "\xFF\xFE\xC0\xAF"), 400, "style");
}

TEST_F(BadInputTest, UnknownStyleIs400) {
  ExpectJsonError(Upload(*good_photo_, "goatee-deluxe"), 400, "style");
}

TEST_F(BadInputTest, UnknownFormatIs400) {
  ExpectJsonError(PostRaw(*good_photo_, "image/jpeg", "/v1/images?format=gif"), 400,
                  "format");
}

TEST_F(BadInputTest, PathTraversalIdsAre404) {
  for (const std::string& path : std::vector<std::string>{
           "/v1/images/..%2F..%2Fetc", "/v1/images/..%2F..%2Fetc%2Fpasswd/original",
           "/v1/images/%2E%2E/result", "/v1/images/" + *good_id_ + "%2F..%2F..",
           "/v1/images/a/b/original"}) {
    SCOPED_TRACE(path);
    ExpectJsonError(stack_->Client()->Get(path), 404, "");
  }
}

TEST_F(BadInputTest, NonNumericPageSizeIs400) {
  ExpectJsonError(stack_->Client()->Get("/v1/images?page_size=-1"), 400, "page_size");
}

// ---------------------------------------------------------------------------
// Connections that misbehave.

TEST_F(BadInputTest, HeaderFloodIs431) {
  auto headers = [](int count) {
    httplib::Headers headers;
    for (int i = 0; i < count; ++i)
      headers.emplace(absl::StrCat("X-Flood-", i), std::string(100, 'f'));
    return headers;
  };
  ExpectJsonError(stack_->Client()->Get("/healthz", headers(500)), 431, "header fields");
  // Many, but not too many, are fine.
  EXPECT_EQ(stack_->Get("/healthz", headers(90)).first, 200);
}

TEST_F(BadInputTest, HugeHeaderIs400) {
  RawConnection connection(stack_->gateway_port());
  ASSERT_TRUE(connection.Send(absl::StrCat("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Huge: ",
                                           std::string(64 * 1024, 'h'), "\r\n\r\n")));
  const std::string answer = connection.ReadUntil("}}", absl::Seconds(10));
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 400")) << answer;
  EXPECT_THAT(answer, HasSubstr("the request was refused")) << answer;
}

TEST_F(BadInputTest, HugeRequestLineIs414) {
  RawConnection connection(stack_->gateway_port());
  ASSERT_TRUE(connection.Send(absl::StrCat("GET /v1/images/", std::string(20000, 'a'),
                                           " HTTP/1.1\r\nHost: x\r\n\r\n")));
  const std::string answer = connection.ReadUntil("}}", absl::Seconds(10));
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 414")) << answer;
}

// Sends `prefix` and then nothing; the gateway must drop the connection at
// its read timeout while others are served promptly meanwhile.
void ExpectSlowClientDropped(e2e::ServiceStack& stack, const std::string& prefix,
                             const std::string& good_id) {
  RawConnection slow(stack.gateway_port());
  ASSERT_TRUE(slow.Send(prefix));
  const absl::Time start = absl::Now();
  std::future<std::string> answer = std::async(std::launch::async, [&] {
    return slow.ReadUntil("never-sent-marker", absl::Seconds(20));
  });
  // Meanwhile a normal request is served at once.
  auto [status, body] = stack.Get("/v1/images/" + good_id);
  EXPECT_EQ(status, 200) << body;
  EXPECT_LT(absl::Now() - start, absl::Seconds(kReadTimeoutSeconds)) << "served late";
  const std::string received = answer.get();
  const absl::Duration held = absl::Now() - start;
  // Dropped at the read timeout, not at the 20 s this side waited.
  EXPECT_GE(held, absl::Seconds(kReadTimeoutSeconds) - absl::Milliseconds(200));
  EXPECT_LT(held, absl::Seconds(kReadTimeoutSeconds + 6)) << received;
}

TEST_F(BadInputTest, SlowLorisBodyIsDroppedAtTheReadTimeout) {
  ExpectSlowClientDropped(*stack_, UploadHeaders(100'000, "image/jpeg") + "\xFF\xD8\xFF",
                          *good_id_);
}

TEST_F(BadInputTest, SlowLorisHeadersAreDroppedAtTheReadTimeout) {
  ExpectSlowClientDropped(
      *stack_, "POST /v1/images HTTP/1.1\r\nHost: x\r\nX-Partial: ", *good_id_);
}

// ---------------------------------------------------------------------------
// gRPC: coordinates, keys and credentials.

TEST_F(BadInputTest, NanCoordinatesToApplyAreInvalidArgument) {
  detector::v1::Face face = DetectedFace();
  face.mutable_landmarks()->mutable_nose_base()->set_x_px(std::nanf(""));
  ExpectGrpcError(Apply(ApplyWith(face)), grpc::StatusCode::INVALID_ARGUMENT, "finite");
}

TEST_F(BadInputTest, InfiniteCoordinatesToApplyAreInvalidArgument) {
  detector::v1::Face face = DetectedFace();
  face.mutable_bounding_box()->set_width_px(std::numeric_limits<float>::infinity());
  face.mutable_landmarks()->mutable_upper_lip_top()->set_y_px(
      -std::numeric_limits<float>::infinity());
  ExpectGrpcError(Apply(ApplyWith(face)), grpc::StatusCode::INVALID_ARGUMENT, "finite");
}

TEST_F(BadInputTest, AbsurdCoordinatesToApplyAreInvalidArgument) {
  detector::v1::Face face = DetectedFace();
  face.mutable_landmarks()->mutable_mouth_left()->set_x_px(3e38f);
  face.mutable_landmarks()->mutable_mouth_right()->set_x_px(-3e38f);
  ExpectGrpcError(Apply(ApplyWith(face)), grpc::StatusCode::INVALID_ARGUMENT,
                  "far outside");
}

TEST_F(BadInputTest, UnknownStyleToApplyIsInvalidArgument) {
  overlay::v1::ApplyRequest request = ApplyWith(DetectedFace());
  request.set_style("../../etc/passwd");
  ExpectGrpcError(Apply(request), grpc::StatusCode::INVALID_ARGUMENT, "unknown style");
}

TEST_F(BadInputTest, TraversalKeysToStorageAreInvalidArgument) {
  ExpectGrpcError(Put("../../../../etc/cron.d/stache", "x"),
                  grpc::StatusCode::INVALID_ARGUMENT, "..");
  ExpectGrpcError(Put("images/../records/x.json", "x"),
                  grpc::StatusCode::INVALID_ARGUMENT, "..");
  std::string bytes;
  ExpectGrpcError(Get("../gateway/images", &bytes), grpc::StatusCode::INVALID_ARGUMENT,
                  "..");
  EXPECT_THAT(bytes, IsEmpty());
}

TEST_F(BadInputTest, AbsoluteEmptySegmentAndLongKeysAreInvalidArgument) {
  ExpectGrpcError(Stat("gateway", "/etc/passwd"), grpc::StatusCode::INVALID_ARGUMENT,
                  "/");
  ExpectGrpcError(Stat("gateway", "images//original"), grpc::StatusCode::INVALID_ARGUMENT,
                  "empty");
  ExpectGrpcError(Stat("gateway", ""), grpc::StatusCode::INVALID_ARGUMENT, "key");
  ExpectGrpcError(Stat("gateway", std::string(600, 'k')),
                  grpc::StatusCode::INVALID_ARGUMENT, "512");
  ExpectGrpcError(Stat("../gateway", "images"), grpc::StatusCode::INVALID_ARGUMENT,
                  "namespace");
}

TEST_F(BadInputTest, MissingStorageCredentialsAreUnauthenticated) {
  ExpectGrpcError(Stat("gateway", "records/x.json", /*token=*/""),
                  grpc::StatusCode::UNAUTHENTICATED, "authorization");
}

TEST_F(BadInputTest, WrongStorageTokenIsUnauthenticated) {
  ExpectGrpcError(Stat("gateway", "records/x.json", "not-the-gateway-token"),
                  grpc::StatusCode::UNAUTHENTICATED, "token");
}

TEST_F(BadInputTest, AnotherNamespaceIsPermissionDenied) {
  ExpectGrpcError(Stat("detector", "records/x.json"), grpc::StatusCode::PERMISSION_DENIED,
                  "detector");
}

TEST_F(BadInputTest, EmptyImageToDetectIsInvalidArgument) {
  detector::v1::DetectRequest request;
  detector::v1::DetectResponse response;
  ExpectGrpcError(detector_->Detect(Context().get(), request, &response),
                  grpc::StatusCode::INVALID_ARGUMENT, "empty");
}

// ---------------------------------------------------------------------------
// Last (tests run in the order they are defined): what was stored before all
// of the above is still there, byte for byte.

TEST_F(BadInputTest, ZzStoredPhotoIsIntactAfterwards) {
  EXPECT_EQ(Fetch("/v1/images/" + *good_id_ + "/original"), *good_photo_);
  EXPECT_EQ(Fetch("/v1/images/" + *good_id_ + "/result"), *good_result_);
  std::string stored;
  ASSERT_TRUE(Get("images/" + *good_id_ + "/original", &stored).ok());
  EXPECT_EQ(stored, *good_photo_);
  const json record = json::parse(Fetch("/v1/images/" + *good_id_));
  EXPECT_EQ(record["id"], *good_id_);
  EXPECT_FALSE(record["faces"].empty());
  // Failed uploads left nothing behind: every stored image pair belongs to
  // a record.
  EXPECT_EQ(CountObjects("images/"), 2 * CountObjects("records/"));
}

}  // namespace
}  // namespace stache
