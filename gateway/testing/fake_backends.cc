#include "gateway/testing/fake_backends.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <functional>
#include <opencv2/core.hpp>
#include <stdexcept>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "imaging/image_decoder.h"
#include "imaging/image_encoder.h"
#include "server/grpc_metadata.h"
#include "server/status.h"
#include "storage/internal/sha256.h"

namespace stache::gateway::testing {
namespace {

using ::grpc::ServerContext;
using ::grpc::Status;
using ::grpc::StatusCode;

std::string Metadata(const ServerContext* context, const std::string& name) {
  return server::MetadataValue(context->client_metadata(), name);
}

std::string TestImage(imaging::ImageFormat format, int width, int height) {
  cv::Mat pixels(height, width, CV_8UC3, cv::Scalar(40, 120, 200));
  return *imaging::EncodeImage(pixels, format, 90);
}

}  // namespace

detector::v1::Face FakeFace(float x, float y, float width, float height) {
  detector::v1::Face face;
  face.mutable_bounding_box()->set_x_px(x);
  face.mutable_bounding_box()->set_y_px(y);
  face.mutable_bounding_box()->set_width_px(width);
  face.mutable_bounding_box()->set_height_px(height);
  face.set_confidence(0.9f);
  auto point = [&](detector::v1::Point* p, float fx, float fy) {
    p->set_x_px(x + fx * width);
    p->set_y_px(y + fy * height);
  };
  detector::v1::FaceLandmarks* landmarks = face.mutable_landmarks();
  point(landmarks->mutable_left_eye_center(), 0.3f, 0.4f);
  point(landmarks->mutable_right_eye_center(), 0.7f, 0.4f);
  point(landmarks->mutable_nose_base(), 0.5f, 0.62f);
  point(landmarks->mutable_upper_lip_top(), 0.5f, 0.7f);
  point(landmarks->mutable_mouth_left(), 0.35f, 0.78f);
  point(landmarks->mutable_mouth_right(), 0.65f, 0.78f);
  face.set_landmark_source(detector::v1::LANDMARK_SOURCE_CASCADE_GEOMETRY);
  return face;
}

Status FakeDetector::Detect(ServerContext* context,
                            const detector::v1::DetectRequest* request,
                            detector::v1::DetectResponse* response) {
  ++calls_;
  if (throw_)
    throw std::runtime_error("fake detector failure reading /var/lib/stache/secret");
  bool block = false;
  {
    absl::MutexLock lock(&mutex_);
    last_request_id_ = Metadata(context, "x-request-id");
    last_traceparent_ = Metadata(context, "traceparent");
    if (!failure_.ok()) return server::ToGrpcStatus(failure_);
    block = block_;
    for (const auto& face : faces_) *response->add_faces() = face;
  }
  if (block) {
    if (!entered_.HasBeenNotified()) entered_.Notify();
    release_.WaitForNotificationWithTimeout(absl::Seconds(10));
  }
  absl::StatusOr<imaging::ImageHeader> header =
      imaging::ReadImageHeader(request->image());
  if (!header.ok()) return server::ToGrpcStatus(header.status());
  response->set_image_width_px(static_cast<uint32_t>(header->width));
  response->set_image_height_px(static_cast<uint32_t>(header->height));
  response->set_detect_duration_ms(1.5);
  return Status::OK;
}

void FakeDetector::SetFaces(std::vector<detector::v1::Face> faces) {
  absl::MutexLock lock(&mutex_);
  faces_ = std::move(faces);
}

void FakeDetector::FailWith(absl::Status status) {
  absl::MutexLock lock(&mutex_);
  failure_ = std::move(status);
}

void FakeDetector::BlockCalls() {
  absl::MutexLock lock(&mutex_);
  block_ = true;
}

void FakeDetector::Release() {
  absl::MutexLock lock(&mutex_);
  if (!release_.HasBeenNotified()) release_.Notify();
}

std::string FakeDetector::last_traceparent() const {
  absl::MutexLock lock(&mutex_);
  return last_traceparent_;
}

std::string FakeDetector::last_request_id() const {
  absl::MutexLock lock(&mutex_);
  return last_request_id_;
}

Status FakeOverlay::Apply(ServerContext*, const overlay::v1::ApplyRequest* request,
                          overlay::v1::ApplyResponse* response) {
  ++apply_calls_;
  const std::string style = request->style().empty() ? "handlebar" : request->style();
  if (style != "handlebar" && style != "pencil" && style != "random") {
    return Status(StatusCode::INVALID_ARGUMENT,
                  absl::StrCat("unknown style '", style, "'"));
  }
  absl::StatusOr<imaging::ImageHeader> header =
      imaging::ReadImageHeader(request->image());
  if (!header.ok()) return server::ToGrpcStatus(header.status());
  switch (request->output_format()) {
    case overlay::v1::IMAGE_FORMAT_PNG:
      response->set_format(overlay::v1::IMAGE_FORMAT_PNG);
      response->set_content_type("image/png");
      break;
    case overlay::v1::IMAGE_FORMAT_WEBP:
      response->set_format(overlay::v1::IMAGE_FORMAT_WEBP);
      response->set_content_type("image/webp");
      break;
    case overlay::v1::IMAGE_FORMAT_UNSPECIFIED:
      if (header->format == imaging::ImageFormat::kPng) {
        response->set_format(overlay::v1::IMAGE_FORMAT_PNG);
        response->set_content_type("image/png");
        break;
      }
      [[fallthrough]];
    default:
      response->set_format(overlay::v1::IMAGE_FORMAT_JPEG);
      response->set_content_type("image/jpeg");
  }
  response->set_image(absl::StrCat(request->image(), "+stache(", style, ")"));
  response->set_width_px(static_cast<uint32_t>(header->width));
  response->set_height_px(static_cast<uint32_t>(header->height));
  for (int i = 0; i < request->faces_size(); ++i) response->add_styles_applied(style);
  return Status::OK;
}

Status FakeOverlay::ListStyles(ServerContext*, const overlay::v1::ListStylesRequest*,
                               overlay::v1::ListStylesResponse* response) {
  auto* handlebar = response->add_styles();
  handlebar->set_name("handlebar");
  handlebar->set_display_name("Handlebar");
  handlebar->set_preview_png(TestImage(imaging::ImageFormat::kPng, 8, 4));
  auto* pencil = response->add_styles();
  pencil->set_name("pencil");
  pencil->set_display_name("Pencil");
  pencil->set_preview_png(TestImage(imaging::ImageFormat::kPng, 8, 2));
  return Status::OK;
}

Status FakeStorage::Check(ServerContext* context, const std::string& method,
                          const std::string& storage_namespace) {
  absl::MutexLock lock(&mutex_);
  if (auto it = failures_.find(method); it != failures_.end()) {
    return server::ToGrpcStatus(it->second);
  }
  if (Metadata(context, "authorization") != absl::StrCat("Bearer ", kFakeStorageToken)) {
    return Status(StatusCode::UNAUTHENTICATED, "missing or wrong bearer token");
  }
  if (storage_namespace != "gateway") {
    return Status(
        StatusCode::PERMISSION_DENIED,
        absl::StrCat("the token does not grant namespace '", storage_namespace, "'"));
  }
  return Status::OK;
}

Status FakeStorage::Put(ServerContext* context,
                        grpc::ServerReader<storage::v1::PutRequest>* reader,
                        storage::v1::PutResponse* response) {
  storage::v1::PutRequest part;
  if (!reader->Read(&part) || !part.has_header()) {
    return Status(StatusCode::INVALID_ARGUMENT, "the first message must be the header");
  }
  const storage::v1::PutHeader header = part.header();
  if (Status status = Check(context, "Put", header.namespace_()); !status.ok())
    return status;
  std::string bytes;
  while (reader->Read(&part)) {
    if (part.has_header()) return Status(StatusCode::INVALID_ARGUMENT, "second header");
    bytes += part.chunk();
  }
  if (header.expected_size_bytes() != 0 && header.expected_size_bytes() != bytes.size()) {
    return Status(StatusCode::INVALID_ARGUMENT, "size mismatch");
  }
  Object object;
  object.info.set_namespace_(header.namespace_());
  object.info.set_key(header.key());
  object.info.set_content_type(header.content_type());
  object.info.set_size_bytes(bytes.size());
  object.info.set_sha256_hex(storage::internal::Sha256Hex(bytes));
  object.info.mutable_labels()->insert(header.labels().begin(), header.labels().end());
  const absl::Duration now = absl::Now() - absl::UnixEpoch();
  object.info.mutable_create_time()->set_seconds(absl::ToInt64Seconds(now));
  object.bytes = std::move(bytes);
  absl::MutexLock lock(&mutex_);
  object.sequence = next_sequence_++;
  *response->mutable_object() = object.info;
  objects_[absl::StrCat(header.namespace_(), "/", header.key())] = std::move(object);
  return Status::OK;
}

Status FakeStorage::Get(ServerContext* context, const storage::v1::GetRequest* request,
                        grpc::ServerWriter<storage::v1::GetResponse>* writer) {
  if (Status status = Check(context, "Get", request->namespace_()); !status.ok())
    return status;
  Object object;
  {
    absl::MutexLock lock(&mutex_);
    auto it = objects_.find(absl::StrCat(request->namespace_(), "/", request->key()));
    if (it == objects_.end()) {
      return Status(StatusCode::NOT_FOUND, absl::StrCat("no object ", request->key()));
    }
    object = it->second;
  }
  storage::v1::GetResponse header;
  *header.mutable_object() = object.info;
  writer->Write(header);
  // Small chunks, to exercise reassembly.
  for (size_t offset = 0; offset < object.bytes.size(); offset += 1000) {
    storage::v1::GetResponse chunk;
    chunk.set_chunk(object.bytes.substr(offset, 1000));
    writer->Write(chunk);
  }
  return Status::OK;
}

Status FakeStorage::Stat(ServerContext* context, const storage::v1::StatRequest* request,
                         storage::v1::StatResponse* response) {
  if (Status status = Check(context, "Stat", request->namespace_()); !status.ok())
    return status;
  absl::MutexLock lock(&mutex_);
  auto it = objects_.find(absl::StrCat(request->namespace_(), "/", request->key()));
  if (it == objects_.end()) {
    return Status(StatusCode::NOT_FOUND, absl::StrCat("no object ", request->key()));
  }
  *response->mutable_object() = it->second.info;
  return Status::OK;
}

Status FakeStorage::List(ServerContext* context, const storage::v1::ListRequest* request,
                         storage::v1::ListResponse* response) {
  if (Status status = Check(context, "List", request->namespace_()); !status.ok())
    return status;
  size_t offset = 0;
  if (!request->page_token().empty() &&
      !absl::SimpleAtoi(request->page_token(), &offset)) {
    return Status(StatusCode::INVALID_ARGUMENT, "bad page token");
  }
  const size_t page_size = request->page_size() == 0 ? 100 : request->page_size();
  std::vector<const Object*> matches;
  absl::MutexLock lock(&mutex_);
  for (const auto& [key, object] : objects_) {
    if (object.info.namespace_() == request->namespace_() &&
        absl::StartsWith(object.info.key(), request->key_prefix())) {
      matches.push_back(&object);
    }
  }
  std::sort(matches.begin(), matches.end(),
            [](const Object* a, const Object* b) { return a->sequence > b->sequence; });
  for (size_t i = offset; i < matches.size() && i < offset + page_size; ++i) {
    *response->add_objects() = matches[i]->info;
  }
  if (offset + page_size < matches.size()) {
    response->set_next_page_token(absl::StrCat(offset + page_size));
  }
  return Status::OK;
}

Status FakeStorage::Delete(ServerContext* context,
                           const storage::v1::DeleteRequest* request,
                           storage::v1::DeleteResponse*) {
  if (Status status = Check(context, "Delete", request->namespace_()); !status.ok()) {
    return status;
  }
  absl::MutexLock lock(&mutex_);
  if (objects_.erase(absl::StrCat(request->namespace_(), "/", request->key())) == 0) {
    return Status(StatusCode::NOT_FOUND, absl::StrCat("no object ", request->key()));
  }
  return Status::OK;
}

std::vector<std::string> FakeStorage::Keys() const {
  absl::MutexLock lock(&mutex_);
  std::vector<std::string> keys;
  for (const auto& [key, object] : objects_) {
    if (object.info.namespace_() == "gateway") keys.push_back(object.info.key());
  }
  return keys;
}

bool FakeStorage::Contains(const std::string& key) const {
  absl::MutexLock lock(&mutex_);
  return objects_.count(absl::StrCat("gateway/", key)) > 0;
}

void FakeStorage::FailMethod(const std::string& method, absl::Status status) {
  absl::MutexLock lock(&mutex_);
  failures_[method] = std::move(status);
}

FakeBackends::FakeBackends() {
  auto start = [](grpc::Service* service, const char* name, const char* full_name) {
    server::ServerConfig config{
        .host = "127.0.0.1", .port = 0, .max_image_bytes = 25'000'000};
    auto server = server::GrpcServer::Start(
        config, {.service_name = name, .service_names = {full_name}}, {service});
    if (!server.ok()) {
      std::fprintf(stderr, "cannot start fake %s: %s\n", name,
                   server.status().ToString().c_str());
      std::abort();
    }
    return *std::move(server);
  };
  detector_server_ = start(&detector_, "detector", "stache.detector.v1.DetectorService");
  overlay_server_ = start(&overlay_, "overlay", "stache.overlay.v1.OverlayService");
  storage_server_ = start(&storage_, "storage", "stache.storage.v1.StorageService");
  detector_port_ = detector_server_->port();
}

FakeBackends::~FakeBackends() {
  // Release a blocked Detect so that the server can stop.
  detector_.Release();
}

std::string FakeBackends::detector_address() const {
  return absl::StrCat("127.0.0.1:", detector_port_);
}
std::string FakeBackends::overlay_address() const {
  return absl::StrCat("127.0.0.1:", overlay_server_->port());
}
std::string FakeBackends::storage_address() const {
  return absl::StrCat("127.0.0.1:", storage_server_->port());
}

void FakeBackends::StopDetector() {
  detector_.Release();
  detector_server_->Shutdown(absl::ZeroDuration());
}

GatewayConfig FakeBackends::GatewayConfigForTest() const {
  return GatewayConfig{.http = {.host = "127.0.0.1",
                                .port = 0,
                                .max_body_bytes = 1'000'000,
                                .threads = 8,
                                .read_timeout = absl::Seconds(5),
                                .write_timeout = absl::Seconds(5),
                                .keep_alive_timeout = absl::Seconds(1)},
                       .grace_period = absl::Seconds(5),
                       .detector_address = detector_address(),
                       .overlay_address = overlay_address(),
                       .storage_address = storage_address(),
                       .max_image_bytes = 2'000'000,
                       .storage_namespace = "gateway",
                       .storage_token = kFakeStorageToken,
                       .backend_timeout = absl::Seconds(5),
                       .probe_timeout = absl::Seconds(1)};
}

std::string TestJpeg(int width, int height) {
  return TestImage(imaging::ImageFormat::kJpeg, width, height);
}
std::string TestPng(int width, int height) {
  return TestImage(imaging::ImageFormat::kPng, width, height);
}

}  // namespace stache::gateway::testing
