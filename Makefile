# A thin layer over scripts/setup.sh, CMake and ctest. See README.md.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: all setup configure build run test clean

all: build

setup:
	scripts/setup.sh

configure: setup
	cmake -S . -B $(BUILD_DIR) -G Ninja

build: configure
	cmake --build $(BUILD_DIR) -j $(JOBS)

# Every service as a local process on embedded defaults; Ctrl-C stops them.
run: build
	scripts/run_local.sh $(BUILD_DIR)

test: build
	ctest --test-dir $(BUILD_DIR) -j $(JOBS) --output-on-failure $(CTEST_ARGS)

clean:
	rm -rf $(BUILD_DIR)
