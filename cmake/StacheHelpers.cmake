# Small target helpers in the style of Abseil's absl_cc_library, so that each
# folder's CMakeLists.txt says only what it builds from what.
#
#   stache_cc_library(NAME detector SRCS detector.cc HDRS detector.h
#                     DEPS stache::imaging opencv_objdetect)
#   stache_cc_binary(NAME stache-detector SRCS main.cc DEPS stache::detector)
#   stache_cc_test(NAME detector_test SRCS detector_test.cc
#                  DEPS stache::detector LABELS unit)

set(CMAKE_CXX_STANDARD 20)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS OFF)
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
if(NOT CMAKE_BUILD_TYPE AND NOT CMAKE_CONFIGURATION_TYPES)
  set(CMAKE_BUILD_TYPE RelWithDebInfo CACHE STRING "Build type" FORCE)
endif()

# Warnings and sanitizers for the project's own code only (not generated code).
function(stache_apply_options target)
  # Designated initializers leave members to their defaults on purpose.
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-missing-field-initializers)
  if(STACHE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(STACHE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${STACHE_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${STACHE_SANITIZE})
  endif()
endfunction()

function(stache_cc_library)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;HDRS;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(stache_${ARG_NAME} ${ARG_SRCS} ${ARG_HDRS})
  add_library(stache::${ARG_NAME} ALIAS stache_${ARG_NAME})
  target_include_directories(stache_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(stache_${ARG_NAME} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  stache_apply_options(stache_${ARG_NAME})
endfunction()

function(stache_cc_binary)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS})
  stache_apply_options(${ARG_NAME})
endfunction()

# One executable per *_test.cc, discovered by ctest and labelled so that
# `ctest -L unit` is the fast loop. Labels: unit, integration, docker, browser.
# PROPERTIES are extra ctest properties for every discovered test.
function(stache_cc_test)
  cmake_parse_arguments(ARG "" "NAME;TIMEOUT" "SRCS;DEPS;LABELS;PROPERTIES" ${ARGN})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 120)
  endif()
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} stache::testing GTest::gmock_main)
  stache_apply_options(${ARG_NAME})
  gtest_discover_tests(${ARG_NAME}
    # Binaries a test starts pick free admin ports (their defaults, 9091-9093,
    # would collide between tests running in parallel).
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
               ENVIRONMENT "STACHE_ADMIN_PORT=0" ${ARG_PROPERTIES}
    DISCOVERY_TIMEOUT 60)
endfunction()

function(stache_cc_benchmark)
  cmake_parse_arguments(ARG "" "NAME" "SRCS;DEPS" ${ARGN})
  add_executable(${ARG_NAME} ${ARG_SRCS})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_DEPS} benchmark::benchmark_main)
  stache_apply_options(${ARG_NAME})
endfunction()

# GCC 12 at -O3 (Release) reports -Wrestrict inside std::string's operator+
# where no overlap is possible (GCC bug 105329); GoogleTest's protobuf
# printer reaches it. Off only for the sources named, only on the GCC
# versions with the bug, so -Werror still holds everywhere else.
function(stache_gcc_bug_105329)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
    set_source_files_properties(${ARGN} PROPERTIES COMPILE_OPTIONS -Wno-restrict)
  endif()
endfunction()
