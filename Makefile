# The two commands of the README:
#   make run   set up, build (Release) and run the embedded default scenario
#   make test  set up, build and run every test with ctest
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)
# CI treats warnings as errors.
CMAKE_ARGS ?= $(if $(CI),-DMOESIM_WERROR=ON,)

.PHONY: setup build run test clean

setup:
	@bash scripts/setup.sh

build: setup
	cmake --preset $(PRESET) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/cli/moesim run

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

clean:
	rm -rf build
