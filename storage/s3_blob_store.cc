#include "storage/s3_blob_store.h"

#include <openssl/rand.h>

#include <array>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "nlohmann/json.hpp"
#include "server/status_macros.h"
#include "storage/internal/page_token.h"
#include "storage/internal/s3_client.h"
#include "storage/internal/sha256.h"
#include "storage/internal/spooled_blob.h"
#include "storage/object_key.h"

namespace stache::storage {
namespace {

using internal::S3Client;
using internal::SpooledBlob;

// Index entries sort newest first because their names start with
// kTimeCeiling - (creation time in µs), zero-padded; good until the year 5138.
constexpr int64_t kTimeCeiling = 99'999'999'999'999'999;
constexpr size_t kTimeDigits = 17;
constexpr size_t kRandomHexDigits = 16;
constexpr size_t kEntryIdBytes = kTimeDigits + 1 + kRandomHexDigits;
// User metadata names on data objects.
constexpr char kEntryMetadata[] = "stache-entry";
constexpr char kSha256Metadata[] = "stache-sha256";
// A List reads at most this many index entries before returning a (possibly
// short) page with a token, so a selective prefix cannot make one call scan
// a whole namespace.
constexpr int kMaxEntriesScannedPerList = 5000;
// Reads retry when the object is replaced under them, this many times.
constexpr int kAttempts = 5;

std::string DataKey(absl::string_view ns, absl::string_view key) {
  return absl::StrCat("objects/", ns, "/", key);
}

std::string IndexPrefix(absl::string_view ns) { return absl::StrCat("index/", ns, "/"); }

std::string IndexKey(absl::string_view ns, absl::string_view entry,
                     absl::string_view key) {
  return absl::StrCat(IndexPrefix(ns), entry, "/", key);
}

std::string NewEntryId(absl::Time create_time) {
  std::array<unsigned char, kRandomHexDigits / 2> random{};
  RAND_bytes(random.data(), static_cast<int>(random.size()));
  return absl::StrFormat(
      "%017d-%s", kTimeCeiling - absl::ToUnixMicros(create_time),
      absl::BytesToHexString(absl::string_view(
          reinterpret_cast<const char*>(random.data()), random.size())));
}

bool IsEntryId(absl::string_view entry) {
  if (entry.size() != kEntryIdBytes || entry[kTimeDigits] != '-') return false;
  for (size_t i = 0; i < entry.size(); ++i) {
    const char c = entry[i];
    if (i == kTimeDigits) continue;
    const bool ok = i < kTimeDigits ? absl::ascii_isdigit(static_cast<unsigned char>(c))
                                    : absl::ascii_isxdigit(static_cast<unsigned char>(c));
    if (!ok) return false;
  }
  return true;
}

// "<entry>/<key>" (an index key without its namespace prefix) split in two.
bool ParseIndexSuffix(absl::string_view suffix, absl::string_view* entry,
                      absl::string_view* key) {
  if (suffix.size() <= kEntryIdBytes + 1 || suffix[kEntryIdBytes] != '/') return false;
  *entry = suffix.substr(0, kEntryIdBytes);
  *key = suffix.substr(kEntryIdBytes + 1);
  return IsEntryId(*entry) && ValidateObjectKey(*key).ok();
}

std::string IndexEntryJson(const ObjectInfo& info) {
  return nlohmann::json{{"content_type", info.content_type},
                        {"size_bytes", info.size_bytes},
                        {"sha256_hex", info.sha256_hex},
                        {"create_time_us", absl::ToUnixMicros(info.create_time)},
                        {"labels", info.labels}}
      .dump();
}

absl::StatusOr<ObjectInfo> ParseIndexEntry(absl::string_view ns, absl::string_view key,
                                           const std::string& json) {
  try {
    const nlohmann::json entry = nlohmann::json::parse(json);
    return ObjectInfo{
        .ns = std::string(ns),
        .key = std::string(key),
        .content_type = entry.at("content_type").get<std::string>(),
        .size_bytes = entry.at("size_bytes").get<uint64_t>(),
        .sha256_hex = entry.at("sha256_hex").get<std::string>(),
        .create_time = absl::FromUnixMicros(entry.at("create_time_us").get<int64_t>()),
        .labels = entry.at("labels").get<std::map<std::string, std::string>>()};
  } catch (const nlohmann::json::exception& error) {
    return absl::DataLossError(absl::StrCat("index entry of \"", key,
                                            "\" in namespace \"", ns,
                                            "\" is unreadable: ", error.what()));
  }
}

absl::Status ReplacedTooOften(absl::string_view key) {
  return absl::AbortedError(
      absl::StrCat("\"", key, "\" was replaced repeatedly while being read; retry"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<S3BlobStore>> S3BlobStore::Open(
    const S3BlobStoreOptions& options) {
  if (options.bucket.empty())
    return absl::InvalidArgumentError("the S3 backend needs a bucket");
  STACHE_ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client,
                          S3Client::Create({.endpoint = options.endpoint,
                                            .region = options.region,
                                            .credentials = options.credentials,
                                            .connect_timeout = options.connect_timeout}));
  if (absl::Status status = client->HeadBucket(options.bucket); !status.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot use S3 bucket ", options.bucket, " at ", options.endpoint,
                     ": ", status.message()));
  }
  STACHE_RETURN_IF_ERROR(internal::EnsureDirectory(options.spool_dir));
  return std::unique_ptr<S3BlobStore>(new S3BlobStore(options, std::move(client)));
}

S3BlobStore::S3BlobStore(const S3BlobStoreOptions& options,
                         std::unique_ptr<S3Client> client)
    : BlobStore(options.max_object_bytes),
      bucket_(options.bucket),
      spool_dir_(options.spool_dir),
      client_(std::move(client)) {}

S3BlobStore::~S3BlobStore() = default;

std::string S3BlobStore::BackendLocation() const {
  return absl::StrCat(client_->options().endpoint, "/", bucket_);
}

absl::StatusOr<std::map<std::string, NamespaceUsage>> S3BlobStore::Usage() {
  // The data objects are the current objects: each Put's commit point.
  constexpr absl::string_view kPrefix = "objects/";
  std::map<std::string, NamespaceUsage> usage;
  std::string continuation;
  while (true) {
    STACHE_ASSIGN_OR_RETURN(
        const internal::S3ListResult listing,
        client_->ListObjects(bucket_, kPrefix, "", continuation, kMaxPageSize));
    for (size_t i = 0; i < listing.keys.size(); ++i) {
      const absl::string_view path =
          absl::string_view(listing.keys[i]).substr(kPrefix.size());
      const size_t slash = path.find('/');
      if (slash == absl::string_view::npos) continue;  // not ours
      NamespaceUsage& entry = usage[std::string(path.substr(0, slash))];
      ++entry.objects;
      entry.bytes += listing.sizes[i];
    }
    if (!listing.truncated) return usage;
    continuation = listing.next_continuation_token;
  }
}

absl::StatusOr<ObjectInfo> S3BlobStore::DoPut(const ObjectHeader& header,
                                              ChunkSource source) {
  STACHE_ASSIGN_OR_RETURN(
      SpooledBlob blob,
      SpooledBlob::Receive(spool_dir_, source,
                           internal::LimitsFor(header, max_object_bytes()),
                           SpooledBlob::kAnonymous));
  ObjectInfo info{.ns = header.ns,
                  .key = header.key,
                  .content_type = header.content_type,
                  .size_bytes = blob.size_bytes(),
                  .sha256_hex = blob.sha256_hex(),
                  .create_time = absl::FromUnixMicros(absl::ToUnixMicros(absl::Now())),
                  .labels = header.labels};
  const std::string data_key = DataKey(info.ns, info.key);

  // The entry of the object being replaced, retired after the commit.
  std::string previous_entry;
  absl::StatusOr<internal::S3ObjectHead> previous =
      client_->HeadObject(bucket_, data_key);
  if (previous.ok()) {
    previous_entry = previous->metadata[kEntryMetadata];
  } else if (!absl::IsNotFound(previous.status())) {
    return previous.status();
  }

  const std::string entry = NewEntryId(info.create_time);
  const std::string index_key = IndexKey(info.ns, entry, info.key);
  const std::string index_json = IndexEntryJson(info);
  STACHE_RETURN_IF_ERROR(
      client_->PutObject(bucket_, index_key,
                         {.bytes = index_json,
                          .size_bytes = index_json.size(),
                          .sha256_hex = internal::Sha256Hex(index_json)},
                         "application/json", {}));
  // The commit point: from here on the object names its entry.
  absl::Status committed = client_->PutObject(
      bucket_, data_key,
      {.fd = blob.fd(), .size_bytes = blob.size_bytes(), .sha256_hex = blob.sha256_hex()},
      info.content_type, {{kEntryMetadata, entry}, {kSha256Metadata, info.sha256_hex}});
  if (!committed.ok()) {
    (void)client_->DeleteObject(bucket_, index_key);  // best effort; List skips it anyway
    return committed;
  }
  if (IsEntryId(previous_entry) && previous_entry != entry) {
    (void)client_->DeleteObject(bucket_, IndexKey(info.ns, previous_entry, info.key));
  }
  return info;
}

absl::StatusOr<ObjectInfo> S3BlobStore::ReadIndexEntry(
    absl::string_view ns, absl::string_view key, const internal::S3ObjectHead& head) {
  auto it = head.metadata.find(kEntryMetadata);
  if (it == head.metadata.end() || !IsEntryId(it->second)) {
    return absl::DataLossError(absl::StrCat(DataKey(ns, key), " in bucket ", bucket_,
                                            " was not written by stache-storage"));
  }
  STACHE_ASSIGN_OR_RETURN(
      const std::string json,
      client_->GetObjectBytes(bucket_, IndexKey(ns, it->second, key)));
  return ParseIndexEntry(ns, key, json);
}

absl::StatusOr<ObjectInfo> S3BlobStore::DoStat(absl::string_view ns,
                                               absl::string_view key) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    absl::StatusOr<internal::S3ObjectHead> head =
        client_->HeadObject(bucket_, DataKey(ns, key));
    if (absl::IsNotFound(head.status())) return ObjectNotFoundError(ns, key);
    if (!head.ok()) return head.status();
    absl::StatusOr<ObjectInfo> info = ReadIndexEntry(ns, key, *head);
    // A missing entry: the object was replaced or deleted since the HEAD
    // (its Put retired the entry); look again.
    if (!absl::IsNotFound(info.status())) return info;
  }
  return ReplacedTooOften(key);
}

absl::Status S3BlobStore::DoGet(absl::string_view ns, absl::string_view key,
                                InfoSink on_info, ChunkSink on_chunk) {
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    bool replaced = false;
    ObjectInfo info;
    internal::Sha256 hash;
    uint64_t received = 0;
    std::string pending;  // libcurl delivers small pieces; callers get kChunkBytes
    // One GET: its headers name the index entry, read before any byte is
    // passed on, so the metadata always describes the bytes that follow.
    absl::Status status = client_->GetObject(
        bucket_, DataKey(ns, key),
        [&](const internal::S3ObjectHead& head) -> absl::Status {
          absl::StatusOr<ObjectInfo> entry = ReadIndexEntry(ns, key, head);
          if (absl::IsNotFound(entry.status())) {
            replaced = true;
            return entry.status();
          }
          if (!entry.ok()) return entry.status();
          info = *std::move(entry);
          return on_info(info);
        },
        [&](absl::string_view piece) -> absl::Status {
          hash.Update(piece);
          received += piece.size();
          pending.append(piece.data(), piece.size());
          while (pending.size() >= kChunkBytes) {
            STACHE_RETURN_IF_ERROR(
                on_chunk(absl::string_view(pending).substr(0, kChunkBytes)));
            pending.erase(0, kChunkBytes);
          }
          return absl::OkStatus();
        });
    if (replaced) continue;
    if (absl::IsNotFound(status)) return ObjectNotFoundError(ns, key);
    STACHE_RETURN_IF_ERROR(status);
    if (!pending.empty()) STACHE_RETURN_IF_ERROR(on_chunk(pending));
    if (received != info.size_bytes || hash.HexDigest() != info.sha256_hex) {
      return absl::DataLossError(absl::StrCat("the bytes of \"", key,
                                              "\" in namespace \"", ns,
                                              "\" no longer match their SHA-256"));
    }
    return absl::OkStatus();
  }
  return ReplacedTooOften(key);
}

absl::StatusOr<ListPage> S3BlobStore::DoList(const ListQuery& query) {
  STACHE_ASSIGN_OR_RETURN(const std::string after, internal::DecodePageToken(query));
  const std::string prefix = IndexPrefix(query.ns);
  // `after` is only ever compared with key names, so any value is harmless.
  const std::string start_after = after.empty() ? "" : prefix + after;

  ListPage page;
  int scanned = 0;
  std::string continuation;
  while (true) {
    STACHE_ASSIGN_OR_RETURN(
        const internal::S3ListResult listing,
        client_->ListObjects(bucket_, prefix, start_after, continuation, kMaxPageSize));
    for (size_t i = 0; i < listing.keys.size(); ++i) {
      const absl::string_view suffix =
          absl::string_view(listing.keys[i]).substr(prefix.size());
      const bool last_listed = i + 1 == listing.keys.size() && !listing.truncated;
      ++scanned;
      absl::string_view entry, key;
      if (!ParseIndexSuffix(suffix, &entry, &key) ||
          !absl::StartsWith(key, query.key_prefix)) {
        continue;
      }
      // Current only if the object names this entry; else it is left over
      // from a replaced, deleted or failed Put.
      absl::StatusOr<internal::S3ObjectHead> head =
          client_->HeadObject(bucket_, DataKey(query.ns, key));
      if (absl::IsNotFound(head.status())) continue;
      if (!head.ok()) return head.status();
      if (head->metadata[kEntryMetadata] != entry) continue;
      absl::StatusOr<std::string> json =
          client_->GetObjectBytes(bucket_, listing.keys[i]);
      if (absl::IsNotFound(json.status())) continue;  // deleted meanwhile
      if (!json.ok()) return json.status();
      STACHE_ASSIGN_OR_RETURN(ObjectInfo info, ParseIndexEntry(query.ns, key, *json));
      page.objects.push_back(std::move(info));
      if (page.objects.size() == static_cast<size_t>(query.page_size)) {
        if (!last_listed) page.next_page_token = internal::EncodePageToken(query, suffix);
        return page;
      }
    }
    if (!listing.truncated) return page;
    if (scanned >= kMaxEntriesScannedPerList) {
      const std::string& last = listing.keys.back();
      page.next_page_token = internal::EncodePageToken(query, last.substr(prefix.size()));
      return page;
    }
    continuation = listing.next_continuation_token;
  }
}

absl::Status S3BlobStore::DoDelete(absl::string_view ns, absl::string_view key) {
  absl::StatusOr<internal::S3ObjectHead> head =
      client_->HeadObject(bucket_, DataKey(ns, key));
  if (absl::IsNotFound(head.status())) return ObjectNotFoundError(ns, key);
  if (!head.ok()) return head.status();
  STACHE_RETURN_IF_ERROR(client_->DeleteObject(bucket_, DataKey(ns, key)));
  const std::string entry = head->metadata[kEntryMetadata];
  // Best effort: once the object is gone, List skips its entry anyway.
  if (IsEntryId(entry)) (void)client_->DeleteObject(bucket_, IndexKey(ns, entry, key));
  return absl::OkStatus();
}

}  // namespace stache::storage
