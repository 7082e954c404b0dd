# A thin layer over scripts/setup.sh, CMake and ctest. See README.md.
BUILD_DIR ?= build
# Release, as the images ship: the suite then proves that the optimised build
# (-O3, where GCC's false positives live) compiles under -Werror and passes.
# BUILD_TYPE=RelWithDebInfo or Debug for a debugger.
BUILD_TYPE ?= Release
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all setup configure build run test clean

all: build

setup:
	scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Every service as a local process on embedded defaults; Ctrl-C stops them.
run: build
	scripts/run_local.sh $(BUILD_DIR)

test: build
	ctest --test-dir $(BUILD_DIR) -j $(JOBS) --output-on-failure $(CTEST_ARGS)

clean:
	rm -rf $(BUILD_DIR)
