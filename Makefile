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
# libcurl3-gnutls brings the GnuTLS side's shared libraries that libcurl
# 8.14.1 (GnuTLS) needs from Debian 12, the same as 7.88.1's.
# vsftpd and openssh-server (sshd, sftp-server, ssh-keygen) are the FTP,
# FTPS and SFTP servers of the protocol tests, which run their own on
# 127.0.0.1 with configurations in temporary directories; the services the
# packages install (port 21 and 22) are never used, and tests skip when a
# server is missing.
DEB_PACKAGES := gcc libc6-dev pkg-config libcurl4-openssl-dev libssl-dev libcurl3-gnutls tmux vsftpd openssh-server

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

# The libcurls the suite runs against. system: Debian 12's (7.88.1, OpenSSL).
# openssl and gnutls: Debian's libcurl 8.14.1 from bookworm-backports,
# unpacked into .libcurl/FLAVOR by scripts/libcurl-prefix.sh beside the
# system's, which stays as it is. Go's build cache does not key cgo packages
# on pkg-config's output, so each libcurl gets a GOCACHE of its own (named
# after its libcurl.pc, so that a changed prefix or flag builds afresh), and
# CURLPOLL_TEST_LIBCURL makes the tests fail at once if the libcurl they run
# on is not the one named (see TestMain).
LIBCURL_DIR := $(CURDIR)/.libcurl
GOCACHE_BASE := $(shell go env GOCACHE 2>/dev/null)
libcurl_pc = $(LIBCURL_DIR)/$(1)/usr/lib/x86_64-linux-gnu/pkgconfig
libcurl_env = $(if $(filter system,$(1)),CURLPOLL_TEST_LIBCURL="$$(pkg-config --modversion libcurl) OpenSSL",PKG_CONFIG_PATH=$(call libcurl_pc,$(1)) GOCACHE=$(GOCACHE_BASE)-libcurl-8.14.1-$(1)-$$(cksum <$(call libcurl_pc,$(1))/libcurl.pc | cut -d" " -f1) CURLPOLL_TEST_LIBCURL="8.14.1 $(1)$(if $(filter gnutls,$(1)), h3)")

# LIBCURL picks the libcurl for go-test (system, openssl or gnutls); RACE
# and GOTESTFLAGS add to it: make go-test LIBCURL=gnutls GOTESTFLAGS='-run HTTP3 -v'.
LIBCURL ?= system
RACE ?= -race
GOTESTFLAGS ?=

.PHONY: libcurl8 go-test
libcurl8:
	@scripts/libcurl-prefix.sh openssl $(LIBCURL_DIR)/openssl >/dev/null
	@scripts/libcurl-prefix.sh gnutls $(LIBCURL_DIR)/gnutls >/dev/null

go-test: deps $(if $(filter system,$(LIBCURL)),,libcurl8)
	@echo "== go test $(RACE) on libcurl: $$($(call libcurl_env,$(LIBCURL)) go run ./examples/fetch -version | head -2 | tr -s ' \n' ' ')"
	$(call libcurl_env,$(LIBCURL)) go test $(RACE) -p 1 -count=1 -timeout 12m $(GOTESTFLAGS) ./...

# test runs the whole suite with -race on the system's libcurl and on
# 8.14.1 (OpenSSL), without it on 8.14.1 (GnuTLS, the build with HTTP/3:
# the HTTP/3 tests run there and skip elsewhere), a cgocheck2 run on the
# system's, and the fuzz targets.
test: deps libcurl8
	go vet ./...
	$(MAKE) --no-print-directory go-test LIBCURL=system RACE=-race
	$(MAKE) --no-print-directory go-test LIBCURL=openssl RACE=-race
	$(MAKE) --no-print-directory go-test LIBCURL=gnutls RACE=
	# cgo pointer rules, checked fully (the race detector does not see C)
	GOEXPERIMENT=cgocheck2 $(MAKE) --no-print-directory go-test LIBCURL=system RACE= GOTESTFLAGS=-short
	$(MAKE) --no-print-directory fuzz

# Each fuzz target for FUZZTIME, from the corpus in curlhttp/testdata/fuzz.
fuzz:
	@for f in $(FUZZ_TARGETS); do \
		echo "fuzz $$f for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$f\$$" -fuzztime $(FUZZTIME) ./curlhttp || exit 1; \
	done

soak: deps
	go test -race -count=1 -run '^TestSoak$$' -timeout 0 -soak $(SOAK) -v .

# bench runs the benchmark suite (bench/run.sh, under 15 minutes) and writes
# BENCHMARKS.md.
.PHONY: bench bench-libcurl8
bench: deps
	bench/run.sh

# bench-libcurl8 is bench on 8.14.1 (OpenSSL): BENCHMARKS-libcurl8.md.
bench-libcurl8: deps libcurl8
	$(call libcurl_env,openssl) BENCH_OUT=BENCHMARKS-libcurl8.md bench/run.sh
