# The two commands: `make run` and `make test` (see README.md).
BUILD ?= build
JOBS ?= $(shell nproc)
CONFIG ?= config/dev.yml

.PHONY: all deps test-deps build run test check bench image format clean

all: build

deps:
	@scripts/install-deps.sh build

test-deps:
	@scripts/install-deps.sh test

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

run: build
	$(BUILD)/onsen serve $(CONFIG)

test: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j 2 --timeout 900

check: test-deps build
	cd $(BUILD) && ctest --output-on-failure -j 2 -L 'unit|e2e'

bench:
	bench/run.sh

# The container image (FROM scratch, no network needed): see deploy/README.md.
image: build
	scripts/stage-image.sh $(BUILD)/onsen $(BUILD)/image
	docker build -t onsen:latest $(BUILD)/image

format:
	clang-format -i $$(git ls-files 'src/*.cpp' 'src/*.h' 'tests/*.cpp' 'tests/*.h')

clean:
	rm -rf $(BUILD)
