// The real stache-overlay binary, driven with grpcurl the way the README
// shows: ListStyles, Apply with a base64 image and a face, a bad request,
// a bad flag, and a clean exit on SIGTERM.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "imaging/image_decoder.h"
#include "nlohmann/json.hpp"
#include "overlay/testing/mustache_measure.h"
#include "tests/testing/process.h"
#include "tests/testing/status_matchers.h"

namespace stache::overlay {
namespace {

using ::stache::overlay::testing::GraceHopperFace;
using ::stache::testing::BinaryPath;
using ::stache::testing::ChildProcess;
using ::stache::testing::CommandResult;
using ::stache::testing::IsOk;
using ::stache::testing::PickUnusedPort;
using ::stache::testing::PortAcceptsConnections;
using ::stache::testing::ReadFileOrDie;
using ::stache::testing::RunCommand;
using ::stache::testing::TestDataPath;
using ::stache::testing::WaitFor;
using ::testing::HasSubstr;

nlohmann::json PointJson(cv::Point2d p) { return {{"x_px", p.x}, {"y_px", p.y}}; }

// An ApplyRequest in the JSON that grpcurl reads, with the face as the
// detector returns it.
nlohmann::json ApplyRequestJson(const std::string& image, const std::string& style) {
  const Face face = GraceHopperFace();
  const FaceLandmarks& l = face.landmarks;
  return {{"image", absl::Base64Escape(image)},
          {"style", style},
          {"faces",
           {{{"bounding_box",
              {{"x_px", 180}, {"y_px", 140}, {"width_px", 170}, {"height_px", 190}}},
             {"confidence", 0.98},
             {"roll_degrees", face.roll_degrees},
             {"landmarks",
              {{"left_eye_center", PointJson(l.left_eye_center)},
               {"right_eye_center", PointJson(l.right_eye_center)},
               {"nose_base", PointJson(l.nose_base)},
               {"upper_lip_top", PointJson(l.upper_lip_top)},
               {"mouth_left", PointJson(l.mouth_left)},
               {"mouth_right", PointJson(l.mouth_right)}}}}}}};
}

// grpcurl prints proto field names or their JSON names depending on version.
const nlohmann::json& Field(const nlohmann::json& object, const std::string& proto_name,
                            const std::string& json_name) {
  return object.contains(proto_name) ? object.at(proto_name) : object.at(json_name);
}

class OverlayBinaryTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> extra_flags = {}) {
    port_ = PickUnusedPort();
    std::vector<std::string> argv = {BinaryPath("stache-overlay"), "--host=127.0.0.1",
                                     absl::StrCat("--port=", port_)};
    argv.insert(argv.end(), extra_flags.begin(), extra_flags.end());
    server_ = std::make_unique<ChildProcess>(argv);
    ASSERT_TRUE(WaitFor([&] { return PortAcceptsConnections(port_); }, absl::Seconds(20)))
        << server_->Output();
  }

  CommandResult Grpcurl(const std::string& method,
                        const std::string& request_json = "{}") {
    return RunCommand({STACHE_GRPCURL, "-plaintext", "-max-msg-sz", "67108864", "-d", "@",
                       absl::StrCat("127.0.0.1:", port_), method},
                      absl::Seconds(30), request_json);
  }

  int port_ = 0;
  std::unique_ptr<ChildProcess> server_;
};

TEST_F(OverlayBinaryTest, ListStylesAndApplyThroughGrpcurl) {
  Start({"--default_style=walrus", "--default_quality=80"});

  CommandResult styles = Grpcurl("stache.overlay.v1.OverlayService/ListStyles");
  ASSERT_EQ(styles.exit_code, 0) << styles.output;
  const nlohmann::json listed = nlohmann::json::parse(styles.output);
  ASSERT_GE(listed.at("styles").size(), 4u);
  for (const nlohmann::json& style : listed.at("styles")) {
    std::string png;
    ASSERT_TRUE(absl::Base64Unescape(
        Field(style, "preview_png", "previewPng").get<std::string>(), &png));
    EXPECT_THAT(imaging::ReadImageHeader(png), IsOk()) << style.dump();
  }

  const std::string photo = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));
  CommandResult applied = Grpcurl("stache.overlay.v1.OverlayService/Apply",
                                  ApplyRequestJson(photo, "").dump());
  ASSERT_EQ(applied.exit_code, 0) << applied.output.substr(0, 2000);
  const nlohmann::json response = nlohmann::json::parse(applied.output);
  EXPECT_EQ(Field(response, "styles_applied", "stylesApplied"),
            nlohmann::json({"walrus"}));
  EXPECT_EQ(Field(response, "content_type", "contentType"), "image/jpeg");
  std::string image;
  ASSERT_TRUE(absl::Base64Unescape(response.at("image").get<std::string>(), &image));
  absl::StatusOr<imaging::ImageHeader> header = imaging::ReadImageHeader(image);
  ASSERT_THAT(header, IsOk());
  EXPECT_EQ(header->format, imaging::ImageFormat::kJpeg);
  EXPECT_EQ(header->width, 512);
  EXPECT_EQ(header->height, 600);

  CommandResult bad = Grpcurl("stache.overlay.v1.OverlayService/Apply",
                              ApplyRequestJson(photo, "goatee").dump());
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("InvalidArgument"));
  EXPECT_THAT(bad.output, HasSubstr("unknown style \"goatee\""));

  server_->Signal(SIGTERM);
  EXPECT_EQ(server_->Wait(absl::Seconds(10)), 0) << server_->Output();
}

TEST_F(OverlayBinaryTest, MaxPixelsFlagRefusesLargerPhotos) {
  Start({"--max_pixels=100000"});
  const std::string photo = ReadFileOrDie(TestDataPath("grace_hopper.jpg"));  // 307200 px
  CommandResult refused = Grpcurl("stache.overlay.v1.OverlayService/Apply",
                                  ApplyRequestJson(photo, "").dump());
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("ResourceExhausted"));
}

TEST_F(OverlayBinaryTest, FailsFastOnABadFlag) {
  for (const std::string& flag :
       {std::string("--default_style=goatee"), std::string("--default_quality=0"),
        std::string("--max_pixels=-5")}) {
    ChildProcess server({BinaryPath("stache-overlay"), "--host=127.0.0.1",
                         absl::StrCat("--port=", PickUnusedPort()), flag});
    EXPECT_EQ(server.Wait(absl::Seconds(10)), 1) << flag;
    const std::string name = flag.substr(0, flag.find('='));
    EXPECT_THAT(server.Output(), HasSubstr(name)) << flag;
  }
}

}  // namespace
}  // namespace stache::overlay
