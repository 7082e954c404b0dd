// The gateway's core against fake backends served by real in-process gRPC
// servers, through the real clients and channels.
#include "gateway/gallery.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "gateway/backend_clients.h"
#include "gateway/session.h"
#include "gateway/testing/fake_backends.h"
#include "server/grpc_channel.h"
#include "server/request_context.h"
#include "tests/testing/status_matchers.h"

namespace stache::gateway {
namespace {

// A request context with a fixed id, as the HTTP layer makes one.
server::RequestContext RequestWithId(const char* request_id) {
  return server::RequestContext::FromIncoming(request_id, "");
}

using ::stache::gateway::testing::FakeBackends;
using ::stache::gateway::testing::FakeFace;
using ::stache::gateway::testing::kFakeStorageToken;
using ::stache::gateway::testing::TestJpeg;
using ::stache::gateway::testing::TestPng;
using ::stache::testing::IsOk;
using ::stache::testing::IsOkAndHolds;
using ::stache::testing::StatusIs;
using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

class GalleryTest : public ::testing::Test {
 protected:
  explicit GalleryTest(std::string token = kFakeStorageToken)
      : detector_(detector::v1::DetectorService::NewStub(
                      server::MakeChannel(backends_.detector_address(), 4'000'000)),
                  &metrics_),
        overlay_(overlay::v1::OverlayService::NewStub(
                     server::MakeChannel(backends_.overlay_address(), 4'000'000)),
                 &metrics_),
        storage_(storage::v1::StorageService::NewStub(
                     server::MakeChannel(backends_.storage_address(), 4'000'000)),
                 "gateway", std::move(token), &metrics_),
        gallery_(&detector_, &overlay_, &storage_,
                 {.backend_timeout = absl::Seconds(5), .max_image_bytes = 1'000'000},
                 &metrics_) {}

  absl::StatusOr<UploadResult> UploadJpeg(std::string style = "",
                                          const std::string& owner = kOwner) {
    return gallery_.Upload(
        RequestWithId("req-1"),
        {.image = TestJpeg(), .style = std::move(style), .owner_id = owner});
  }

  static constexpr char kOwner[] = "0123456789abcdef0123456789abcdef";
  static constexpr char kStranger[] = "fedcba9876543210fedcba9876543210";

  FakeBackends backends_;
  GatewayMetrics metrics_;
  DetectorClient detector_;
  OverlayClient overlay_;
  NamespacedStorageClient storage_;
  Gallery gallery_;
};

TEST_F(GalleryTest, UploadStoresOriginalResultAndRecord) {
  backends_.detector().SetFaces({FakeFace(10, 8, 30, 30)});
  absl::StatusOr<UploadResult> upload = UploadJpeg("pencil");
  ASSERT_THAT(upload, IsOk());
  const ImageRecord& record = upload->record;
  EXPECT_TRUE(IsValidImageId(record.id));
  EXPECT_EQ(record.style, "pencil");
  ASSERT_EQ(record.faces.size(), 1u);
  EXPECT_EQ(record.faces[0].bounding_box().x_px(), 10);
  EXPECT_THAT(record.face_styles, ElementsAre("pencil"));
  EXPECT_EQ(record.original.content_type, "image/jpeg");
  EXPECT_EQ(record.original.width_px, 64u);
  EXPECT_EQ(record.original.height_px, 48u);
  EXPECT_EQ(upload->result_image, TestJpeg() + "+stache(pencil)");
  EXPECT_EQ(record.result.size_bytes, upload->result_image.size());
  EXPECT_NE(record.result.sha256_hex, record.original.sha256_hex);
  EXPECT_GT(record.timings.total_ms, 0);
  EXPECT_GE(record.timings.total_ms, record.timings.apply_ms);
  EXPECT_THAT(backends_.storage().Keys(),
              UnorderedElementsAre(OriginalKey(record.id), ResultKey(record.id),
                                   RecordKey(record.id),
                                   OwnerIndexKey(OwnerDigest(kOwner), record.id)));
  EXPECT_THAT(metrics_.registry().RenderText(),
              HasSubstr("stache_gateway_faces_detected_total 1"));
}

TEST_F(GalleryTest, WithoutAStyleTheRecordNamesTheOneTheOverlayDrew) {
  backends_.detector().SetFaces({FakeFace(10, 8, 30, 30), FakeFace(40, 8, 20, 20)});
  absl::StatusOr<UploadResult> upload = UploadJpeg();
  ASSERT_THAT(upload, IsOk());
  EXPECT_EQ(upload->record.style, "handlebar");
  EXPECT_THAT(upload->record.face_styles, ElementsAre("handlebar", "handlebar"));
}

TEST_F(GalleryTest, NoFaceIsNotAnErrorAndTheResultIsTheOriginal) {
  absl::StatusOr<UploadResult> upload = UploadJpeg();
  ASSERT_THAT(upload, IsOk());
  EXPECT_THAT(upload->record.faces, IsEmpty());
  EXPECT_EQ(upload->result_image, TestJpeg());
  EXPECT_EQ(upload->record.result.sha256_hex, upload->record.original.sha256_hex);
  EXPECT_EQ(upload->record.style, "default");
  // The style is still checked, so a bad one fails with or without faces.
  EXPECT_EQ(backends_.overlay().apply_calls(), 1);
  EXPECT_THAT(UploadJpeg("nonexistent"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown style")));
}

TEST_F(GalleryTest, NoFaceButAnotherFormatIsReencoded) {
  absl::StatusOr<UploadResult> upload =
      gallery_.Upload(RequestWithId("req"), {.image = TestJpeg(), .format = "png"});
  ASSERT_THAT(upload, IsOk());
  EXPECT_EQ(upload->record.result.content_type, "image/png");
  EXPECT_NE(upload->result_image, TestJpeg());
}

TEST_F(GalleryTest, RefusesWhatIsNotAnImageBeforeCallingAnyBackend) {
  EXPECT_THAT(gallery_.Upload(RequestWithId("req"), {.image = "hello, world"}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not an image stache can read")));
  EXPECT_EQ(backends_.detector().calls(), 0);
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
}

TEST_F(GalleryTest, RefusesBadFormatsAndStyles) {
  EXPECT_THAT(
      gallery_.Upload(RequestWithId("req"), {.image = TestJpeg(), .format = "gif"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("jpeg, png, webp")));
  EXPECT_THAT(
      gallery_.Upload(RequestWithId("req"), {.image = TestJpeg(), .style = "../x"}),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("style")));
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
}

TEST_F(GalleryTest, AFailedUploadLeavesNothingStored) {
  backends_.detector().SetFaces({FakeFace(10, 8, 30, 30)});
  EXPECT_THAT(UploadJpeg("no-such-style"),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());

  backends_.detector().FailWith(absl::InternalError("model crashed"));
  EXPECT_THAT(UploadJpeg(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("detector Detect")));
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
}

TEST_F(GalleryTest, DetectorDownIsUnavailableQuicklyAndLeavesNothingStored) {
  backends_.StopDetector();
  const absl::Time start = absl::Now();
  EXPECT_THAT(UploadJpeg(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("detector")));
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
}

TEST_F(GalleryTest, StorageFailureIsReported) {
  backends_.storage().FailMethod("Put", absl::UnavailableError("disk gone"));
  EXPECT_THAT(UploadJpeg(),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("storage Put")));
}

TEST_F(GalleryTest, SendsTheRequestIdToBackends) {
  ASSERT_THAT(gallery_.Upload(RequestWithId("abc-123"), {.image = TestJpeg()}), IsOk());
  EXPECT_EQ(backends_.detector().last_request_id(), "abc-123");
}

TEST_F(GalleryTest, ReadsBackRecordAndImages) {
  backends_.detector().SetFaces({FakeFace(10, 8, 30, 30)});
  absl::StatusOr<UploadResult> upload = UploadJpeg("handlebar");
  ASSERT_THAT(upload, IsOk());
  const std::string id = upload->record.id;

  absl::StatusOr<ImageRecord> record = gallery_.GetRecord(RequestWithId("req"), id);
  ASSERT_THAT(record, IsOk());
  EXPECT_EQ(ImageRecordToJson(*record), ImageRecordToJson(upload->record));

  absl::StatusOr<StoredObject> original =
      gallery_.GetImage(RequestWithId("req"), id, ImageVariant::kOriginal);
  ASSERT_THAT(original, IsOk());
  EXPECT_EQ(original->bytes, TestJpeg());
  EXPECT_EQ(original->info.content_type(), "image/jpeg");
  absl::StatusOr<StoredObject> result =
      gallery_.GetImage(RequestWithId("req"), id, ImageVariant::kResult);
  ASSERT_THAT(result, IsOk());
  EXPECT_EQ(result->bytes, upload->result_image);
  absl::StatusOr<storage::v1::ObjectInfo> stat =
      gallery_.StatImage(RequestWithId("req"), id, ImageVariant::kResult);
  ASSERT_THAT(stat, IsOk());
  EXPECT_EQ(stat->sha256_hex(), upload->record.result.sha256_hex);
}

TEST_F(GalleryTest, UnknownAndMalformedIdsAreNotFound) {
  EXPECT_THAT(gallery_.GetRecord(RequestWithId("req"), "0123456789abcdef01234567"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no image")));
  EXPECT_THAT(gallery_.GetImage(RequestWithId("req"), "../../etc/passwd",
                                ImageVariant::kOriginal),
              StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(gallery_.Delete(RequestWithId("req"), "ABC", {.owner_id = kOwner}),
              StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(gallery_.Delete(RequestWithId("req"), "0123456789abcdef01234567",
                              {.owner_id = kOwner}),
              StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_FALSE(IsValidImageId("0123456789ABCDEF01234567"));
  EXPECT_TRUE(IsValidImageId(NewImageId()));
  EXPECT_NE(NewImageId(), NewImageId());
}

TEST_F(GalleryTest, ListsNewestFirstInPages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<UploadResult> upload = UploadJpeg();
    ASSERT_THAT(upload, IsOk());
    ids.push_back(upload->record.id);
  }
  absl::StatusOr<ImagePage> first = gallery_.List(RequestWithId("req"), kOwner, 2, "");
  ASSERT_THAT(first, IsOk());
  ASSERT_EQ(first->images.size(), 2u);
  EXPECT_EQ(first->images[0].id, ids[4]);
  EXPECT_EQ(first->images[1].id, ids[3]);
  EXPECT_FALSE(first->next_page_token.empty());
  absl::StatusOr<ImagePage> second =
      gallery_.List(RequestWithId("req"), kOwner, 2, first->next_page_token);
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(second->images[0].id, ids[2]);
  absl::StatusOr<ImagePage> all = gallery_.List(RequestWithId("req"), kOwner, 0, "");
  ASSERT_THAT(all, IsOk());
  EXPECT_EQ(all->images.size(), 5u);
  EXPECT_TRUE(all->next_page_token.empty());
  EXPECT_THAT(gallery_.List(RequestWithId("req"), kOwner, 101, ""),
              StatusIs(absl::StatusCode::kInvalidArgument, _));
}

TEST_F(GalleryTest, EachOwnerListsOnlyTheirOwnUploads) {
  absl::StatusOr<UploadResult> mine = UploadJpeg("", kOwner);
  absl::StatusOr<UploadResult> theirs = UploadJpeg("", kStranger);
  ASSERT_THAT(mine, IsOk());
  ASSERT_THAT(theirs, IsOk());
  absl::StatusOr<ImagePage> page = gallery_.List(RequestWithId("req"), kOwner, 0, "");
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->images.size(), 1u);
  EXPECT_EQ(page->images[0].id, mine->record.id);
  page = gallery_.List(RequestWithId("req"), kStranger, 0, "");
  ASSERT_THAT(page, IsOk());
  ASSERT_EQ(page->images.size(), 1u);
  EXPECT_EQ(page->images[0].id, theirs->record.id);
  page = gallery_.List(RequestWithId("req"), "", 0, "");
  ASSERT_THAT(page, IsOk());
  EXPECT_THAT(page->images, IsEmpty()) << "no session, no gallery";
  // Anyone with the id may read it: ids are share links.
  EXPECT_THAT(
      gallery_.GetImage(RequestWithId("req"), theirs->record.id, ImageVariant::kResult),
      IsOk());
}

TEST_F(GalleryTest, StorageLearnsNoOwnerIdAndNoDeleteToken) {
  absl::StatusOr<UploadResult> upload = UploadJpeg();
  ASSERT_THAT(upload, IsOk());
  EXPECT_EQ(upload->delete_token.size(), 64u);
  for (const std::string& key : backends_.storage().Keys()) {
    EXPECT_THAT(key, Not(HasSubstr(kOwner)));
    absl::StatusOr<StoredObject> object =
        storage_.Get(CallContext::WithTimeout(absl::Seconds(5)), key, 2'000'000);
    ASSERT_THAT(object, IsOk());
    EXPECT_THAT(object->bytes, Not(HasSubstr(kOwner))) << key;
    EXPECT_THAT(object->bytes, Not(HasSubstr(upload->delete_token))) << key;
    for (const auto& [name, value] : object->info.labels()) {
      EXPECT_THAT(value, Not(HasSubstr(kOwner))) << key << " " << name;
      EXPECT_THAT(value, Not(HasSubstr(upload->delete_token))) << key << " " << name;
    }
  }
}

TEST_F(GalleryTest, OnlyTheOwnerOrTheTokenDeletes) {
  absl::StatusOr<UploadResult> upload = UploadJpeg();
  ASSERT_THAT(upload, IsOk());
  const std::string id = upload->record.id;
  EXPECT_THAT(gallery_.Delete(RequestWithId("req"), id, {}),
              StatusIs(absl::StatusCode::kPermissionDenied, _));
  EXPECT_THAT(gallery_.Delete(RequestWithId("req"), id, {.owner_id = kStranger}),
              StatusIs(absl::StatusCode::kPermissionDenied, _));
  // One hex digit changed (to another digit, whatever the token begins with).
  std::string wrong_token = upload->delete_token;
  wrong_token[0] = wrong_token[0] == '0' ? '1' : '0';
  EXPECT_THAT(gallery_.Delete(RequestWithId("req"), id, {.delete_token = wrong_token}),
              StatusIs(absl::StatusCode::kPermissionDenied, _));
  EXPECT_THAT(gallery_.GetRecord(RequestWithId("req"), id), IsOk())
      << "nothing was deleted";
  EXPECT_THAT(gallery_.GetImage(RequestWithId("req"), id, ImageVariant::kOriginal),
              IsOk());
  EXPECT_THAT(
      gallery_.Delete(RequestWithId("req"), id, {.delete_token = upload->delete_token}),
      IsOk());
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty());
}

TEST_F(GalleryTest, ServesTheTypeItSniffsNeverTheStoredOne) {
  absl::StatusOr<UploadResult> upload = UploadJpeg();
  ASSERT_THAT(upload, IsOk());
  const std::string id = upload->record.id;
  const CallContext call = CallContext::WithTimeout(absl::Seconds(5));
  // A JPEG stored as text/html is served as image/jpeg.
  ASSERT_THAT(storage_.Put(call, OriginalKey(id), "text/html", {}, TestJpeg()), IsOk());
  absl::StatusOr<StoredObject> image =
      gallery_.GetImage(RequestWithId("req"), id, ImageVariant::kOriginal);
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->info.content_type(), "image/jpeg");
  // HTML under an image key is not served at all.
  ASSERT_THAT(storage_.Put(call, ResultKey(id), "text/html", {},
                           "<html><script>alert(document.cookie)</script></html>"),
              IsOk());
  EXPECT_THAT(gallery_.GetImage(RequestWithId("req"), id, ImageVariant::kResult),
              StatusIs(absl::StatusCode::kDataLoss, HasSubstr("not an image")));
  EXPECT_THAT(ServedImageType(TestPng()), IsOkAndHolds(std::string("image/png")));
  EXPECT_FALSE(ServedImageType("GIF89a").ok());
  EXPECT_FALSE(ServedImageType("").ok());
}

TEST_F(GalleryTest, DeleteRemovesEverythingOnce) {
  absl::StatusOr<UploadResult> upload = UploadJpeg();
  ASSERT_THAT(upload, IsOk());
  ASSERT_THAT(
      gallery_.Delete(RequestWithId("req"), upload->record.id, {.owner_id = kOwner}),
      IsOk());
  EXPECT_THAT(backends_.storage().Keys(), IsEmpty()) << "images, record and owner index";
  EXPECT_THAT(
      gallery_.Delete(RequestWithId("req"), upload->record.id, {.owner_id = kOwner}),
      StatusIs(absl::StatusCode::kNotFound, _));
  EXPECT_THAT(
      gallery_.GetImage(RequestWithId("req"), upload->record.id, ImageVariant::kResult),
      StatusIs(absl::StatusCode::kNotFound, _));
}

TEST_F(GalleryTest, ListsStyles) {
  absl::StatusOr<std::vector<StyleSummary>> styles =
      gallery_.ListStyles(RequestWithId("req"));
  ASSERT_THAT(styles, IsOk());
  ASSERT_EQ(styles->size(), 2u);
  EXPECT_EQ((*styles)[0].name, "handlebar");
  EXPECT_EQ((*styles)[0].display_name, "Handlebar");
  EXPECT_FALSE((*styles)[0].preview_png.empty());
}

TEST_F(GalleryTest, RefusesToBufferObjectsOverTheImageLimit) {
  const std::string big = TestPng(1500, 1500);  // flat, so it compresses
  std::string padded = big + std::string(1'100'000, 'x');
  ASSERT_THAT(
      storage_.Put(CallContext::WithTimeout(absl::Seconds(5)),
                   OriginalKey("0123456789abcdef01234567"), "image/png", {}, padded),
      IsOk());
  EXPECT_THAT(gallery_.GetImage(RequestWithId("req"), "0123456789abcdef01234567",
                                ImageVariant::kOriginal),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("limit")));
}

class GalleryWithWrongTokenTest : public GalleryTest {
 protected:
  GalleryWithWrongTokenTest() : GalleryTest("wrong-token") {}
};

TEST_F(GalleryWithWrongTokenTest, RefusedCredentialsAreTheGatewaysFault) {
  // Not UNAUTHENTICATED: that would tell the HTTP client (401) that *it*
  // failed to authenticate.
  EXPECT_THAT(UploadJpeg(),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("credentials")));
}

}  // namespace
}  // namespace stache::gateway
