# Two entry points: `make run` (build and start a node on loopback with data
# in ./data) and `make test` (build and pass the whole suite). Both install
# the Debian packages they need first. `make fuzz` runs each libFuzzer target
# of tests/fuzz for FUZZ_SECONDS (clang, in its own build directory).

BUILD ?= build
FUZZ_BUILD ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 60
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# What building and running a node needs.
PACKAGES := cmake g++ make pkg-config ccache libcaf-dev libre-dev librem-dev \
  liblmdb-dev libcereal-dev libssl-dev libedit-dev catch2 tzdata \
  libhowardhinnant-date-dev libjemalloc-dev
# What the tests add: their peers (SIPp, baresip, SIPVicious, fail2ban-regex),
# and for tests/fuzz clang, libFuzzer and the sanitizer runtimes
# (libclang-rt-dev), llvm-symbolizer for readable reports (llvm).
TEST_PACKAGES := python3 sip-tester baresip netcat-openbsd sipvicious fail2ban \
  clang libclang-rt-dev llvm

.PHONY: deps test-deps configure build run test fuzz clean

define install
	@if ! dpkg -s $(1) >/dev/null 2>&1; then \
	  $(SUDO) apt-get update -q && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    -o DPkg::Lock::Timeout=600 $(1); \
	fi
endef

deps:
	$(call install,$(PACKAGES))

test-deps: deps
	$(call install,$(TEST_PACKAGES))

configure: deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: configure
	cmake --build $(BUILD) -j$(JOBS)

run: build
	$(BUILD)/engine/actorpbx --data-dir ./data

test: test-deps build
	cd $(BUILD) && ctest --output-on-failure --timeout 900

# Stops at the first crash, sanitizer report, leak or hang, keeping the input.
fuzz: test-deps
	python3 tests/fuzz/run.py --build $(FUZZ_BUILD) --jobs $(JOBS) --seconds $(FUZZ_SECONDS) all

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD)
