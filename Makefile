# curlpoll: set-up, demo and tests on Debian (12 or newer).
#
#   make demo   install what is missing, then fetch from an embedded local server
#   make test   install what is missing, then go vet, the race-enabled tests
#               and a short fuzz run (FUZZTIME per target, 100000 inputs)
#   make fuzz   only the fuzz run
#   make soak   minutes of mixed load with faults (SOAK=2m); figures in SOAK.md

SHELL := /bin/bash

# Go is at /usr/local/go on our machines; use it when go is not on PATH.
ifeq ($(shell command -v go 2>/dev/null),)
export PATH := /usr/local/go/bin:$(PATH)
endif

# What cgo needs to build against libcurl: a C compiler, the C library's
# headers, pkg-config, libcurl's headers with OpenSSL, and OpenSSL's own
# (the Transport reads TLS state from libcurl's OpenSSL handles); tmux for
# the terminal test of examples/parallel's progress bars.
DEB_PACKAGES := gcc libc6-dev pkg-config libcurl4-openssl-dev libssl-dev tmux

# sudo only when not root.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: deps demo test fuzz soak

# A count, not a duration: with a duration, Go 1.26's fuzzing coordinator
# can report "context deadline exceeded" as a failure when the time runs out
# while a worker is mid-input (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 100000x
FUZZ_TARGETS := FuzzStatusLine FuzzHeaderLines FuzzRequest
SOAK ?= 2m

# deps installs the Debian packages that are missing (apt-get update only
# then), and as root gives the tests a host name for libcurl's threaded
# resolver: 127.0.0.1 curlpoll.test in /etc/hosts.
deps:
	@command -v go >/dev/null || { echo "Go 1.26 is needed: not in PATH nor in /usr/local/go/bin" >&2; exit 1; }
	@missing=""; \
	for p in $(DEB_PACKAGES); do \
		dpkg -s "$$p" 2>/dev/null | grep -q '^Status: install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@if [ "$$(id -u)" = 0 ] && [ -w /etc/hosts ] && \
	    ! grep -qE '^127\.0\.0\.1[[:space:]]+(.*[[:space:]])?curlpoll\.test([[:space:]]|$$)' /etc/hosts; then \
		echo '127.0.0.1 curlpoll.test' >> /etc/hosts; \
	fi

demo: deps
	go run ./examples/fetch -demo

test: deps
	go vet ./...
	go test -race -count=1 -timeout 12m ./...
	# cgo pointer rules, checked fully (the race detector does not see C)
	GOEXPERIMENT=cgocheck2 go test -short -count=1 -timeout 5m ./...
	$(MAKE) --no-print-directory fuzz

# Each fuzz target for FUZZTIME, from the corpus in testdata/fuzz.
fuzz:
	@for f in $(FUZZ_TARGETS); do \
		echo "fuzz $$f for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) . || exit 1; \
	done

soak: deps
	go test -race -count=1 -run '^TestSoak$$' -timeout 0 -soak $(SOAK) -v .

# bench runs the benchmark suite (bench/run.sh, under 15 minutes) and writes
# BENCHMARKS.md.
.PHONY: bench
bench: deps
	bench/run.sh
