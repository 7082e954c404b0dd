// The web page in real headless Chromium: tests/e2e/upload_in_browser.py
// (python3-selenium from Debian) drives it against the real services and
// saves screenshots under <build>/tests/e2e/screenshots as test artifacts.
// A second browser profile plays another visitor.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "tests/e2e/service_stack.h"
#include "tests/testing/process.h"

namespace stache {
namespace {

using ::stache::testing::RunCommand;
using ::stache::testing::TestDataPath;
using ::testing::HasSubstr;

bool BrowserToolsInstalled() {
  return std::filesystem::exists("/usr/bin/chromium") &&
         std::filesystem::exists("/usr/bin/chromedriver") &&
         RunCommand({"/usr/bin/python3", "-c", "import selenium"}).exit_code == 0;
}

TEST(BrowserTest, UploadsAPhotoThroughThePageAndSeesTheResultAndTheGallery) {
  if (!BrowserToolsInstalled()) {
    GTEST_SKIP() << "chromium, chromium-driver or python3-selenium is missing: run "
                    "scripts/setup.sh";
  }
  const std::string photo = TestDataPath("grace_hopper.jpg");
  ASSERT_TRUE(std::filesystem::exists(photo))
      << photo << " is missing (scripts/setup.sh extracts the test photos)";
  e2e::ServiceStack stack;
  ASSERT_TRUE(stack.WaitUntilReady()) << stack.Logs();
  const std::string screenshots = STACHE_SCREENSHOT_DIR;
  std::filesystem::remove_all(screenshots);

  stache::testing::CommandResult browser =
      RunCommand({"/usr/bin/python3", STACHE_BROWSER_SCRIPT, "--url", stack.url(),
                  "--photo", photo, "--screenshot-dir", screenshots},
                 absl::Seconds(150));
  EXPECT_EQ(browser.exit_code, 0) << browser.output << stack.Logs();
  EXPECT_THAT(browser.output, HasSubstr("all checks passed"));
  // Two visitors (issue #13): their own photos only, no deleting the other's,
  // share links, and a deleted link gone from the other's cache too.
  EXPECT_THAT(browser.output, HasSubstr("each visitor sees only their own photos"));
  EXPECT_THAT(browser.output, HasSubstr("cannot delete the first one's photo"));
  EXPECT_THAT(browser.output,
              HasSubstr("a shared result link opens in the other profile"));
  EXPECT_THAT(browser.output, HasSubstr("after deletion the shared link is 404"));
  for (const char* name :
       {"stache-desktop.png", "stache-phone.png", "stache-error.png"}) {
    const std::filesystem::path path = std::filesystem::path(screenshots) / name;
    ASSERT_TRUE(std::filesystem::exists(path)) << path;
    EXPECT_GT(std::filesystem::file_size(path), 10'000u) << path;
  }
}

}  // namespace
}  // namespace stache
