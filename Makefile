# The two commands of the README:
#   make run   set up, build (Release) and run the embedded default scenario
#   make test  set up, build and run every test with ctest
PRESET ?= release
BUILD_DIR := build/$(PRESET)
JOBS ?= $(shell nproc)
# CI treats warnings as errors. setup installs Qt6, so the GUI is required here, not AUTO: a
# missing Qt package fails the build instead of silently skipping moesim-gui and its tests.
CMAKE_ARGS ?= -DMOESIM_BUILD_GUI=ON $(if $(CI),-DMOESIM_WERROR=ON,)

.PHONY: setup build run test test-asan test-fuzz clean

setup:
	@bash scripts/setup.sh

build: setup
	cmake --preset $(PRESET) $(CMAKE_ARGS)
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/cli/moesim run

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer (the asan preset, Debug):
# an undefined-behaviour report fails its test, as does a leak outside the system libraries of
# tests/sanitizers/lsan.supp. CI runs it after `make test`.
SANITIZER_ENV := ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  LSAN_OPTIONS=suppressions=$(CURDIR)/tests/sanitizers/lsan.supp:print_suppressions=0
test-asan:
	$(MAKE) build PRESET=asan
	$(SANITIZER_ENV) ctest --test-dir build/asan --output-on-failure -j $(JOBS) --timeout 900

# Every reader's libFuzzer harness (fuzz/, the fuzz preset: Clang 16 with ASan and UBSan) for
# FUZZ_SECONDS each; a crash fails and leaves its input in build/fuzz/fuzz/work/NAME/. CI runs it
# after test-asan; scripts/fuzz-long.sh runs the harnesses long. `make test` replays the seeds
# and every past crash (label fuzz-regressions) without Clang.
FUZZ_SECONDS ?= 30
test-fuzz: setup
	cmake --preset fuzz $(CMAKE_ARGS) -DMOESIM_FUZZ_SECONDS=$(FUZZ_SECONDS)
	cmake --build build/fuzz -j $(JOBS) --target fuzzers
	ctest --test-dir build/fuzz -L fuzz --output-on-failure -j $(JOBS)

clean:
	rm -rf build
