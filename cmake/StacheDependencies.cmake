# Every third-party dependency, found once. README.md#dependencies says why
# each one is here. All come from Debian bookworm packages (scripts/setup.sh).
find_package(Threads REQUIRED)
find_package(Protobuf REQUIRED)            # 3.21: module mode, no CMake config
find_package(gRPC CONFIG REQUIRED)         # 1.51
find_package(absl CONFIG REQUIRED)         # 20220623
find_package(GTest CONFIG REQUIRED)
find_package(benchmark CONFIG REQUIRED)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs objdetect)
find_package(nlohmann_json CONFIG REQUIRED)
find_package(CURL REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(OpenSSL REQUIRED)             # SHA-256 (libssl-dev; libcurl uses it too)
find_package(pugixml CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(DLIB REQUIRED IMPORTED_TARGET dlib-1)
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
# The image decoder calls each format's own library (imaging/internal/).
pkg_check_modules(LIBJPEG REQUIRED IMPORTED_TARGET libjpeg)     # libjpeg-turbo 2.1
pkg_check_modules(LIBPNG REQUIRED IMPORTED_TARGET libpng16)     # 1.6
pkg_check_modules(LIBWEBP REQUIRED IMPORTED_TARGET libwebp libwebpdemux)  # 1.2
pkg_check_modules(LIBTIFF REQUIRED IMPORTED_TARGET libtiff-4)   # 4.5

include(GoogleTest)

# Tools the tests drive for real (installed by scripts/setup.sh).
find_program(STACHE_BUF buf PATHS /usr/local/bin)
find_program(STACHE_GRPCURL grpcurl PATHS /usr/local/bin)
find_program(STACHE_MINIO minio PATHS /usr/local/bin)  # S3 server for the storage tests
find_program(STACHE_GHZ ghz PATHS /usr/local/bin)      # gRPC load (scripts/load_test.sh)
find_program(STACHE_WRK wrk)                           # HTTP load (Debian's wrk)
