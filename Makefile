# The two commands of the README:
#   make run   set up, build (Release) and run the embedded default scenario
#   make test  set up, build and run every test with ctest
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)
# CI treats warnings as errors. setup installs Qt6, so the GUI is required here, not AUTO: a
# missing Qt package fails the build instead of silently skipping moesim-gui and its tests.
CMAKE_ARGS ?= -DMOESIM_BUILD_GUI=ON $(if $(CI),-DMOESIM_WERROR=ON,)

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
