# Two entry points: `make run` (build and start a node on loopback with data
# in ./data) and `make test` (build and pass the whole suite). Both install
# the Debian packages they need first.

BUILD ?= build
JOBS ?= 2
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PACKAGES := cmake g++ make pkg-config ccache libcaf-dev libre-dev librem-dev \
  liblmdb-dev libcereal-dev libssl-dev libedit-dev catch2 tzdata python3 \
  libhowardhinnant-date-dev libjemalloc-dev sip-tester baresip netcat-openbsd

.PHONY: deps configure build run test clean

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

clean:
	rm -rf $(BUILD)
