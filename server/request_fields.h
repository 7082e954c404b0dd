// What a request uses beyond the server's plain schema: fields the server
// does not know (sent by a newer client, kept by protobuf as unknown fields)
// and fields the schema marks deprecated. The RPC observer counts both, so a
// person can see a newer client talking to an older server, and when a
// deprecated field is no longer used.
//
//   RequestFieldUsage usage = InspectRequestFields(request);
//   for (const std::string& field : usage.unknown) ...  //
//   "stache.detector.v1.DetectOptions.#9"
#ifndef STACHE_SERVER_REQUEST_FIELDS_H_
#define STACHE_SERVER_REQUEST_FIELDS_H_

#include <google/protobuf/message.h>

#include <string>
#include <vector>

namespace stache::server {

struct RequestFieldUsage {
  // "<message full name>.#<number>" for each unknown field and
  // "<field full name>=<number>" for each enum value the schema does not
  // know, once each; at most 16.
  std::vector<std::string> unknown;
  // The full name of each deprecated field that is set, once each
  // ("stache.overlay.v1.ApplyRequest.quality"); at most 16.
  std::vector<std::string> deprecated;
};

// Walks `message` and every message inside it (repeated and map values
// included). Cost: one visit per set field; bytes fields are not read.
RequestFieldUsage InspectRequestFields(const google::protobuf::Message& message);

}  // namespace stache::server

#endif  // STACHE_SERVER_REQUEST_FIELDS_H_
