# Capillary: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
# Release build with @testable imports: numeric code in debug Swift is 10-100x slower,
# which would make the test suite and the demo crawl.
SWIFT_FLAGS ?= -c release -Xswiftc -enable-testing
BIN = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)
DEMO_OUT ?= demo-out

.PHONY: all deps build test demo bench soak fuzz sanitize clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

test: deps
	$(SWIFT) build $(SWIFT_FLAGS) --build-tests
	$(SWIFT) test $(SWIFT_FLAGS) --skip-build
	bash scripts/test-clients.sh

demo: build
	@bash scripts/demo.sh "$(BIN)" "$(DEMO_OUT)"

bench: build
	@bash scripts/bench.sh "$(BIN)"

# Soak (not in make test; test-clients.sh runs a 0.5-minute smoke): SOAK_CLIENTS clients for SOAK_MINUTES
# mixing stage/attribute/explain with cancels and disconnects; JSON in bench-out/soak.json.
SOAK_MINUTES ?= 10
SOAK_CLIENTS ?= 64
soak: build
	python3 clients/testing/soak.py "$(BIN)" --minutes $(SOAK_MINUTES) --clients $(SOAK_CLIENTS) --out bench-out/soak.json

# libFuzzer targets (framing + JSON-RPC, PNG/BMP, safetensors), FUZZ_SECONDS each, built in .build-fuzz.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

# The whole test suite under AddressSanitizer, the RPC and Daemon tests under ThreadSanitizer (own scratch
# paths; each is a full rebuild, so this is not part of make test).
SANITIZE_FLAGS = -c release -Xswiftc -enable-testing
sanitize: deps
	$(SWIFT) build $(SANITIZE_FLAGS) --build-tests --sanitize=address --scratch-path .build-asan
	ASAN_OPTIONS=detect_leaks=0 $(SWIFT) test $(SANITIZE_FLAGS) --skip-build --sanitize=address --scratch-path .build-asan
	$(SWIFT) build $(SANITIZE_FLAGS) --build-tests --sanitize=thread --scratch-path .build-tsan
	TSAN_OPTIONS=halt_on_error=0 $(SWIFT) test $(SANITIZE_FLAGS) --skip-build --sanitize=thread --scratch-path .build-tsan \
		--filter 'RPCTests|DaemonTests'

clean:
	rm -rf .build .build-asan .build-tsan .build-fuzz $(DEMO_OUT)

# MPI scale-out (issue 15, docs/SCALING.md): Open MPI is installed only for these targets and the test; the
# plain build never needs it. `make mpi` builds capillary-mpi (CAPILLARY_MPI=1 adds its targets to Package.swift).
.PHONY: mpi mpi-deps
mpi-deps:
	@bash scripts/install-deps.sh --mpi
mpi: mpi-deps
	CAPILLARY_MPI=1 $(SWIFT) build $(SWIFT_FLAGS) --product capillary-mpi
test: mpi-deps
