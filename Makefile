# Tessera — the two commands a newcomer runs: `make run` and `make test`.
SHELL := /bin/bash
BUILD_DIR ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS ?= 2

# Exactly the Debian 12 packages the build, the tests and `make run` need.
DEB_PACKAGES := cmake g++ make pkg-config \
  libpistache-dev libhttp-parser-dev libhiredis-dev librdkafka-dev nlohmann-json3-dev \
  libgtest-dev libgmock-dev libssl-dev libcurl4-openssl-dev libcctz-dev libgoogle-perftools-dev tzdata \
  redis-server redis-tools curl ca-certificates python3 python3-yaml python3-jsonschema docker-compose
# Extra packages for `make bench` (load generator and baselines).
DEB_BENCH_PACKAGES := wrk nginx-light redis-tools python3-matplotlib linux-perf

.PHONY: all deps deps-bench build test test-unit run bench fmt clean

all: build

deps:
	@tools/install-deps.sh $(DEB_PACKAGES)

deps-bench: deps
	@tools/install-deps.sh $(DEB_BENCH_PACKAGES)

build: deps
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE)
	cmake --build $(BUILD_DIR) -j$(JOBS)

test: build
	cd $(BUILD_DIR) && ctest --output-on-failure --timeout 600

# Unit tests only (no processes started): seconds.
test-unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -L unit

run: build
	@tools/run-stack.sh $(BUILD_DIR)

bench: build deps-bench
	@bench/run.sh $(BUILD_DIR)

fmt:
	@command -v clang-format >/dev/null || tools/install-deps.sh clang-format
	git ls-files '*.cpp' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD_DIR) run
