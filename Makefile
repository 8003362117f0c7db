# The two commands: `make run` and `make test` (see README.md).
BUILD ?= build
JOBS ?= $(shell nproc)
CONFIG ?= config/dev.yml
FUZZ_SECONDS ?= 45

.PHONY: all deps test-deps build server run test check sanitize fuzz bench image redis-image format clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONSEN_TESTS=ON >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

# Only the server, with only the build packages: the tests are neither configured (GoogleTest
# comes with the test packages) nor compiled; `make build`, `make test`, `make check` turn them on.
server: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DONSEN_TESTS=OFF >/dev/null
	@cmake --build $(BUILD) -j $(JOBS) --target onsen

run: server
	$(BUILD)/onsen serve $(CONFIG)

# ctest (unit, e2e, interop, deploy), then the e2e suite against an ASan/UBSan server, then the
# fuzz targets (bounded: FUZZ_SECONDS per target). Each stage fails the run.
test: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 900
	@$(MAKE) --no-print-directory sanitize fuzz

check: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j 2 -L 'unit|e2e'

# The whole e2e suite against onsen built with -DONSEN_SANITIZE=ON ($(BUILD)/asan).
sanitize: test-deps build
	SANITIZE_BUILD_DIR=$(BUILD)/asan scripts/sanitize-e2e.sh $(BUILD)/tests/e2e_tests

# libFuzzer targets of tests/fuzz, clang + ASan/UBSan ($(BUILD)/fuzz), two at a time.
fuzz: test-deps
	FUZZ_BUILD_DIR=$(BUILD)/fuzz FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh

bench:
	bench/run.sh

# The container image (FROM scratch, no network needed): see deploy/README.md.
image: server
	scripts/stage-image.sh $(BUILD)/onsen $(BUILD)/image
	docker build -t onsen:latest $(BUILD)/image

# Redis for the scaled-out stack, from Debian's redis-server (FROM scratch, no network needed).
redis-image:
	scripts/stage-redis-image.sh $(BUILD)/redis-image
	docker build -t onsen-redis:latest $(BUILD)/redis-image

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h')

clean:
	rm -rf $(BUILD)
