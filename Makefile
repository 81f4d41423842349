# Two entry points: `make run` (build and start a node on loopback with data
# in ./data) and `make test` (build and pass the whole suite). Both install
# the Debian packages they need first. `make fuzz` runs each libFuzzer target
# of tests/fuzz for FUZZ_SECONDS (clang, in its own build directory).

BUILD ?= build
FUZZ_BUILD ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 60
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# The last line is for tests/fuzz: clang, libFuzzer and the sanitizer
# runtimes (libclang-rt-dev), llvm-symbolizer for readable reports (llvm).
PACKAGES := cmake g++ make pkg-config ccache libcaf-dev libre-dev librem-dev \
  liblmdb-dev libcereal-dev libssl-dev libedit-dev catch2 tzdata python3 \
  libhowardhinnant-date-dev libjemalloc-dev sip-tester baresip netcat-openbsd \
  clang libclang-rt-dev llvm

.PHONY: deps configure build run test fuzz clean

deps:
	@if ! dpkg -s $(PACKAGES) >/dev/null 2>&1; then \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    -o DPkg::Lock::Timeout=600 $(PACKAGES); \
	fi

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/engine/actorpbx --data-dir ./data

test: build
	cd $(BUILD) && ctest --output-on-failure --timeout 900

# Stops at the first crash, sanitizer report, leak or hang, keeping the input.
fuzz: deps
	python3 tests/fuzz/run.py --build $(FUZZ_BUILD) --jobs $(JOBS) --seconds $(FUZZ_SECONDS) all

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
