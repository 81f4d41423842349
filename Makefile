# Two entry points: `make run` (build and start a node on loopback with data
# in ./data) and `make test` (build and pass the whole suite). Both install
# the Debian packages they need first. `make fuzz` runs each libFuzzer target
# of tests/fuzz for FUZZ_SECONDS (clang, in its own build directory).
# `make test-asan` passes the same suite built with AddressSanitizer,
# LeakSanitizer and UBSan (in build-asan).

BUILD ?= build
FUZZ_BUILD ?= $(BUILD)-fuzz
FUZZ_SECONDS ?= 60
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
# What building and running a node needs.
PACKAGES := cmake g++ make pkg-config ccache libcaf-dev libre-dev librem-dev \
  liblmdb-dev libcereal-dev libssl-dev libedit-dev libmicrohttpd-dev nlohmann-json3-dev catch2 tzdata \
  libhowardhinnant-date-dev libjemalloc-dev espeak-ng sox
# What the tests add: their peers (SIPp, baresip, SIPVicious, fail2ban-regex,
# Kamailio as the trunk tests' carrier, etcd for the cluster tests, which start their own),
# Python's YAML, JSON Schema and Prometheus parsers for the REST API's tests,
# and for tests/fuzz clang, libFuzzer and the sanitizer runtimes
# (libclang-rt-dev), llvm-symbolizer for readable reports (llvm).
TEST_PACKAGES := python3 python3-yaml python3-jsonschema python3-prometheus-client \
  sip-tester baresip netcat-openbsd sipvicious fail2ban kamailio etcd-server \
  clang libclang-rt-dev llvm

ASAN_BUILD ?= build-asan
SANITIZERS := $(CURDIR)/tests/sanitizers

.PHONY: deps test-deps configure build run test test-asan fuzz clean

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

# Any report fails: ASan and UBSan end the process at the first error (exit
# 1), LSan fails a process at its exit (23), and the e2e harness fails a test
# whose node printed a report (its stderr is a file, so no log_path here).
# Exported for the build too: catch_discover_tests runs the test binaries.
test-asan: export ASAN_OPTIONS = detect_leaks=1:halt_on_error=1:abort_on_error=0:check_initialization_order=1:strict_init_order=1:detect_stack_use_after_return=1:color=never
test-asan: export LSAN_OPTIONS = suppressions=$(SANITIZERS)/lsan.supp:print_suppressions=0
test-asan: export UBSAN_OPTIONS = halt_on_error=1:print_stacktrace=1:report_error_type=1:color=never:suppressions=$(SANITIZERS)/ubsan.supp
test-asan: export ACTORPBX_TIME_FACTOR = 3
test-asan: export ACTORPBX_MEMORY_FACTOR = 3
# The fuzz tests build their clang targets apart from this build: share make test's.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DACTORPBX_SANITIZE=ON \
	  -DACTORPBX_FUZZ_BUILD=$(abspath $(FUZZ_BUILD))
	cmake --build $(ASAN_BUILD) -j$(JOBS)
	cd $(ASAN_BUILD) && ctest --output-on-failure --timeout 1800

clean:
	rm -rf $(BUILD) $(FUZZ_BUILD) $(ASAN_BUILD)
