# Capillary: the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
SWIFT ?= swift
# Release build with @testable imports: numeric code in debug Swift is 10-100x slower,
# which would make the test suite and the demo crawl.
SWIFT_FLAGS ?= -c release -Xswiftc -enable-testing
BIN = $(shell $(SWIFT) build $(SWIFT_FLAGS) --show-bin-path)
DEMO_OUT ?= demo-out

.PHONY: all deps build test demo bench clean

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

clean:
	rm -rf .build $(DEMO_OUT)

# MPI scale-out (issue 15, docs/SCALING.md): Open MPI is installed only for these targets and the test; the
# plain build never needs it. `make mpi` builds capillary-mpi (CAPILLARY_MPI=1 adds its targets to Package.swift).
.PHONY: mpi mpi-deps
mpi-deps:
	@bash scripts/install-deps.sh --mpi
mpi: mpi-deps
	CAPILLARY_MPI=1 $(SWIFT) build $(SWIFT_FLAGS) --product capillary-mpi
test: mpi-deps
