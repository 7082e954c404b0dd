#include "storage/aws_shared_credentials.h"

#include <boost/property_tree/ini_parser.hpp>
#include <boost/property_tree/ptree.hpp>

#include "absl/strings/str_cat.h"

namespace stache::storage {

absl::StatusOr<S3Credentials> ReadSharedCredentialsFile(const std::string& path,
                                                        const std::string& profile) {
  boost::property_tree::ptree ini;
  try {
    boost::property_tree::read_ini(path, ini);
  } catch (const boost::property_tree::ini_parser_error& error) {
    // The parser's message can quote a line of the file: a secret.
    return absl::InvalidArgumentError(absl::StrCat(
        "AWS_SHARED_CREDENTIALS_FILE cannot be read as an AWS credentials file (line ",
        error.line(), ")"));
  }
  const auto section = ini.get_child_optional(profile);
  if (!section) {
    return absl::InvalidArgumentError(
        absl::StrCat("AWS_SHARED_CREDENTIALS_FILE has no profile [", profile, "]"));
  }
  S3Credentials credentials{
      .access_key_id = section->get<std::string>("aws_access_key_id", ""),
      .secret_access_key = section->get<std::string>("aws_secret_access_key", ""),
      .session_token = section->get<std::string>("aws_session_token", "")};
  if (credentials.access_key_id.empty() || credentials.secret_access_key.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("profile [", profile,
                     "] of AWS_SHARED_CREDENTIALS_FILE needs aws_access_key_id and "
                     "aws_secret_access_key"));
  }
  return credentials;
}

}  // namespace stache::storage
