# make run   — install missing Debian packages, build, start anchord on its embedded default config
# make test  — install missing Debian packages, build, run every unit and integration test (ctest)
# make build — build only; the daemon lands at build/bin/anchord

JOBS ?= $(shell nproc)
BUILD_DIR := build

.PHONY: all deps build run test bench format clean

all: build

deps:
	@./deploy/install-deps.sh

$(BUILD_DIR)/CMakeCache.txt:
	cmake --preset default

build: deps $(BUILD_DIR)/CMakeCache.txt
	cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	$(BUILD_DIR)/bin/anchord

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300

bench: build
	$(BUILD_DIR)/bin/mix_bench

format:
	git ls-files '*.h' '*.cc' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR)
