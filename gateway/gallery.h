// The gateway's core: what happens to a photo. An upload is stored, its faces
// detected, mustaches drawn and the result stored, all through the backends
// (gateway/backends.h; gRPC clients in production); stored photos are read, listed newest
// first and deleted. No HTTP here: callers get plain structs and absl::Status (gRPC
// codes), which the HTTP adapter maps to responses.
//
// Uploads belong to who made them: each is listed only for its owner, and
// deleted only by its owner or with its delete token; anyone with the
// (unguessable) id may read it, so that links can be shared.
//
// Storage layout, in the gateway's own namespace:
//   images/<id>/original   the uploaded bytes
//   images/<id>/result     the mustached photo
//   records/<id>.json      the ImageRecord as JSON; its labels carry the
//                          summary and who may delete it (digests only,
//                          see ownership.h)
//   owners/<owner digest>/<id>
//                          the owner's index: one small object per upload
//                          whose labels carry the listing summary, so that
//                          listing an owner's uploads is one List by prefix
//                          and no reads. Records without one (uploaded
//                          before owners were recorded) are listed for
//                          nobody.
//
//   Gallery gallery(&detector, &overlay, &storage,
//                   {.backend_timeout = absl::Seconds(10)});
//   STACHE_ASSIGN_OR_RETURN(
//       UploadResult upload,
//       gallery.Upload(request_context, {.image = bytes, .owner_id = owner}));
#ifndef STACHE_GATEWAY_GALLERY_H_
#define STACHE_GATEWAY_GALLERY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "gateway/backends.h"
#include "gateway/image_record.h"
#include "gateway/metrics.h"
#include "gateway/ownership.h"
#include "server/request_context.h"

namespace stache::gateway {

struct UploadRequest {
  // The encoded photo as uploaded.
  std::string image;
  // A style from ListStyles, "random", or "" for the overlay's default.
  std::string style;
  // "jpeg", "png", "webp", or "" to keep the uploaded format.
  std::string format;
  // The uploader's session (Session::owner_id); empty: nobody's, deletable
  // only with the delete token.
  std::string owner_id;
};

struct UploadResult {
  ImageRecord record;
  // The result image bytes (so that a caller asking for the image need not
  // read it back from storage).
  std::string result_image;
  // The secret that deletes this upload; only its digest is stored, so it
  // is in this answer and nowhere else.
  std::string delete_token;
};

struct ImagePage {
  std::vector<ImageSummary> images;
  // Empty on the last page.
  std::string next_page_token;
};

struct StyleSummary {
  std::string name;
  std::string display_name;
  std::string preview_png;
};

// Which stored image of an upload.
enum class ImageVariant { kOriginal, kResult };

struct GalleryOptions {
  // Deadline of each backend call.
  absl::Duration backend_timeout = absl::Seconds(10);
  // Largest image read back from storage.
  int64_t max_image_bytes = 25'000'000;
};

inline constexpr uint32_t kDefaultPageSize = 20;
inline constexpr uint32_t kMaxPageSize = 100;

// Thread-safe; the backends must outlive it.
class Gallery final {
 public:
  Gallery(DetectorBackend* detector, OverlayBackend* overlay, StorageBackend* storage,
          GalleryOptions options, GatewayMetrics* metrics = nullptr);

  // Stores the original, detects faces, draws and stores the result. A photo
  // without faces is not an error: no faces, and the result is the original
  // (re-encoded only when another format was asked for). INVALID_ARGUMENT
  // for data that is not an image, a bad format or style; backend errors as
  // they came (UNAVAILABLE, DEADLINE_EXCEEDED, ...). Nothing is left stored
  // when it fails.
  absl::StatusOr<UploadResult> Upload(const server::RequestContext& request_context,
                                      UploadRequest request);

  // NOT_FOUND for unknown (or malformed) ids.
  absl::StatusOr<ImageRecord> GetRecord(const server::RequestContext& request_context,
                                        const std::string& id);
  // Metadata only (size, sha256), for conditional requests.
  absl::StatusOr<storage::v1::ObjectInfo> StatImage(
      const server::RequestContext& request_context, const std::string& id,
      ImageVariant variant);
  // The image with its content type as sniffed from its bytes (see
  // ServedImageType), never the type it was stored with; DATA_LOSS when the
  // bytes are no image, so that nothing else is ever served from here.
  absl::StatusOr<StoredObject> GetImage(const server::RequestContext& request_context,
                                        const std::string& id, ImageVariant variant);

  // The uploads of `owner_id`, newest first; none for an empty owner.
  // `page_size` 0 means kDefaultPageSize; over kMaxPageSize is
  // INVALID_ARGUMENT. `page_token` comes from a previous page.
  absl::StatusOr<ImagePage> List(const server::RequestContext& request_context,
                                 const std::string& owner_id, uint32_t page_size,
                                 const std::string& page_token);

  // Deletes the record, both images and the owner's index entry. NOT_FOUND
  // when there is no record; PERMISSION_DENIED unless `credentials` name
  // the owner or carry the delete token (see CheckMayDelete).
  absl::Status Delete(const server::RequestContext& request_context,
                      const std::string& id, const DeleteCredentials& credentials);

  absl::StatusOr<std::vector<StyleSummary>> ListStyles(
      const server::RequestContext& request_context);

 private:
  CallContext Call(const server::RequestContext& request_context) const;
  // Best effort: used to undo a half-finished upload.
  void DeleteQuietly(const server::RequestContext& request_context,
                     const std::vector<std::string>& keys);

  DetectorBackend* const detector_;
  OverlayBackend* const overlay_;
  StorageBackend* const storage_;
  const GalleryOptions options_;
  GatewayMetrics* const metrics_;
};

// A new random image id: 24 lower-case hex digits (96 bits from a CSPRNG:
// ids are share links, so they must not be guessable).
std::string NewImageId();
// True for ids NewImageId can return; anything else is never looked up.
bool IsValidImageId(absl::string_view id);

// Storage keys of an image.
std::string OriginalKey(absl::string_view id);
std::string ResultKey(absl::string_view id);
std::string RecordKey(absl::string_view id);
std::string OwnerIndexKey(absl::string_view owner_digest, absl::string_view id);

// The media type to serve `bytes` as, sniffed from them: image/jpeg,
// image/png, image/webp (and image/bmp, image/tiff, which uploads may be);
// DATA_LOSS for anything else.
absl::StatusOr<std::string> ServedImageType(absl::string_view bytes);

}  // namespace stache::gateway

#endif  // STACHE_GATEWAY_GALLERY_H_
