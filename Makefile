# Two commands for a fresh Debian bookworm machine (see README.md):
#   make run    install what is missing to build and run (no test servers, browser, fuzzing
#               toolchain or Node), build the engine and plugins, run it on its defaults
#   make test   install what is missing, build everything, run every test
BUILD    ?= build
JOBS     ?= $(shell nproc)
CMAKE_FLAGS ?=
SANITIZE_BUILD ?= build-asan

.PHONY: run test deps deps-run build build-run sanitize bench docs clean

run: build-run
	$(BUILD)/bin/switchyard run -c config/switchyard.yaml

test: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD) -G Ninja -DSWITCHYARD_TESTS=ON -DSWITCHYARD_BENCH=ON $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# What running needs: the compiler and the libraries (install-deps.sh --build), without the
# tests and benchmarks, which need packages of their own (tests/e2e/make_run.test.mjs).
deps-run:
	@bash scripts/install-deps.sh --build

build-run: deps-run
	@cmake -S . -B $(BUILD) -G Ninja -DSWITCHYARD_TESTS=OFF -DSWITCHYARD_BENCH=OFF $(CMAKE_FLAGS) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

# The whole suite under AddressSanitizer and UndefinedBehaviorSanitizer.
sanitize: deps
	@cmake -S . -B $(SANITIZE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	  -DSWITCHYARD_SANITIZE=address,undefined -DSWITCHYARD_BENCH=OFF >/dev/null
	cmake --build $(SANITIZE_BUILD) -j $(JOBS)
	ctest --test-dir $(SANITIZE_BUILD) --output-on-failure -j $(JOBS)

bench: build
	$(BUILD)/bin/core_path_bench

# Regenerates docs/reference.md from the components' declarations.
docs: build
	$(BUILD)/bin/switchyard plugins docs > docs/reference.md

clean:
	rm -rf $(BUILD) $(SANITIZE_BUILD)
