# skiff: `make run` sets up this machine, builds, and runs a container from the default
# bundle; `make test` does the same set-up and runs every test (`unit`, `integration`, `vm`
# for one tier); `make check-format` checks the formatting; `make bench` compares skiff with
# crun and runc.
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
RELEASE := .build/release
DEBUG := .build/debug
# Recursively expanded on purpose: musl-gcc arrives with `deps`, so the choice is made when a
# recipe runs (after `deps`), never when make reads this file on a fresh machine.
INIT_CC = $(shell command -v musl-gcc 2>/dev/null || echo cc)
STATIC_CFLAGS := -static -Os -s -Wall -Wextra -Werror

.PHONY: all deps build init rootfs bundle run test test-build unit integration vm bench clean check-static-helpers format check-format layout

all: build

# Install the Debian packages a fresh machine lacks (only those missing).
deps:
	@scripts/install-deps

# The static C programs: skiff-init (between clone and execve) and skiff-probe (what `skiff
# check` runs in the task), both shipped beside skiff from programs/, and the bench's
# rss-probe. Built outside SwiftPM — static, tiny, linked with nothing else (DESIGN.md) — by
# one rule.
INIT := .build/skiff-init
PROBE := .build/skiff-probe
STATIC_HELPERS := $(INIT) $(PROBE) .build/rss-probe .build/shim-update
$(INIT): programs/skiff-init.c programs/skiff_syscalls.h CShims/include/skiff_plan.h
$(PROBE): programs/skiff-probe.c
.build/rss-probe: bench/rss-probe.c
# containerd's Task.Update sent to a shim, for the systemd VM (its ctr has no `update`).
.build/shim-update: Tests/IntegrationTests/helpers/shim-update.c
$(STATIC_HELPERS):
	@mkdir -p .build
	$(INIT_CC) $(STATIC_CFLAGS) -o $@ $<

init: $(INIT)

# A fully static executable: no dynamic loading at start-up (half of `skiff run`'s
# instructions went to ld.so relocating libstdc++ and friends). Linked by lld with link-time
# optimisation (which gives every function and datum a section of its own) in the order of
# layout/skiff.order: what a command touches lies together, so the kernel's fault-around maps
# ~2 MB less of the binary into each skiff process (docs/benchmarks.md).
RELEASE_FLAGS = -c release --static-swift-stdlib --experimental-lto-mode=full -Xswiftc -static-executable \
	-Xswiftc -use-ld=lld -Xlinker --symbol-ordering-file=$(CURDIR)/layout/skiff.order -Xlinker --no-warn-symbol-ordering
build: init $(PROBE)
	$(SWIFT) build $(RELEASE_FLAGS) --product skiff
	install -m 0755 $(INIT) $(RELEASE)/skiff-init
	install -m 0755 $(PROBE) $(RELEASE)/skiff-probe

# The default root filesystem: Debian's busybox-static and its applets (never committed).
rootfs: rootfs/bin/busybox

rootfs/bin/busybox: /bin/busybox
	scripts/build-rootfs rootfs

# The default bundle is this directory: config.json from `skiff spec` + rootfs/.
config.json: | build
	$(RELEASE)/skiff spec --bundle .

bundle: rootfs config.json

run: deps build bundle
	printf 'echo "hello from $$(hostname), pid $$$$"; id; ls /; ps\n' | $(RELEASE)/skiff run --bundle . skiff-demo-$$$$

# A seccomp notify listener for the integration tests (answers SCMP_ACT_NOTIFY with an errno).
.build/seccomp-listener: Tests/IntegrationTests/helpers/seccomp-listener.c
	@mkdir -p .build
	cc -O2 -Wall -Wextra -Werror -o $@ $<

# The static helpers must build with either libc (a machine without musl-tools falls back
# to cc and glibc): build each with both, so CI catches a header that only one of them has.
STATIC_SOURCES := programs/skiff-init.c programs/skiff-probe.c bench/rss-probe.c
check-static-helpers:
	@mkdir -p .build/helpers-check
	@for compiler in cc musl-gcc; do for source in $(STATIC_SOURCES); do \
	    $$compiler $(STATIC_CFLAGS) -o .build/helpers-check/$$(basename $$source .c)-$$compiler $$source || exit 1; \
	done; done
	@echo "static helpers build with cc (glibc) and musl-gcc"

# The test tiers: `unit` (pure code, and each module against its own kernel interface),
# `integration` (the skiff binary, and podman, containerd and runc, driving real containers),
# `vm` (cgroup v2 and AppArmor in Debian's kernel booted in qemu). `make test` runs them all.
UNIT_TARGETS := SkiffSystemTests|SkiffSpecTests|SkiffCgroupsTests|SkiffSeccompTests|SkiffNetworkTests|SkiffCheckTests|SkiffCNITests|SkiffRuntimeTests
# Line-buffered: a CI log (a file, not a terminal) then shows how far a run got even if it
# is killed, instead of losing the last block of output.
SWIFT_TEST = stdbuf -oL -eL $(SWIFT) test --skip-build --disable-xctest

test-build: deps check-static-helpers build rootfs .build/seccomp-listener .build/shim-update .build/rss-probe
	$(SWIFT) build --build-tests
	$(SWIFT) build --product tiny-scheduler
	$(SWIFT) build --product library-soak
	install -m 0755 $(INIT) $(DEBUG)/skiff-init

# The unit tier needs no release binary, rootfs or helpers: the test targets in debug, then
# the pure code and each module against its own kernel interface (well under a minute).
unit: deps
	$(SWIFT) build --build-tests
	$(SWIFT_TEST) --filter '^($(UNIT_TARGETS))\.'

integration: test-build
	$(SWIFT_TEST) --filter '^IntegrationTests\.'

vm: test-build
	$(SWIFT_TEST) --filter '^VMTests\.'

test: test-build
	$(SWIFT_TEST)

# Formatting: swift-format (with the toolchain; .swift-format) and clang-format (.clang-format).
# `make format` rewrites; `make check-format` fails on any difference (CI runs it).
C_SOURCES = $(shell git ls-files '*.c' '*.h')
format:
	$(SWIFT) format format -i -r Sources Tests Examples
	clang-format -i $(C_SOURCES)

check-format: deps
	$(SWIFT) format lint --strict -r Sources Tests Examples
	clang-format --dry-run --Werror $(C_SOURCES)
	scripts/check-licence-headers
	@echo "formatting: clean"

# The benchmark measures each runtime through a tiny static probe (see bench/rss-probe.c).
bench: deps build rootfs .build/rss-probe
	$(SWIFT) build $(RELEASE_FLAGS) --product skiff-bench
	$(RELEASE)/skiff-bench --skiff $(RELEASE)/skiff --rootfs $(CURDIR)/rootfs --probe .build/rss-probe
	@echo "\nthe systemd cgroup drivers, in the systemd VM (vm/systemd, qemu TCG: absolute times are the emulator's):"
	@vm/systemd/run $(RELEASE)/skiff $(RELEASE)/skiff-init rootfs bench.sh | grep '^BENCH' | sed 's/^BENCH //' 

# Rewrites layout/skiff.order from what the commands of the release binary touch (valgrind,
# then native runs under perf, relinking between rounds),
# then relinks with it (SwiftPM does not see the file change: the binary is removed first).
layout: build rootfs
	scripts/profile-layout $(RELEASE)/skiff rootfs layout/skiff.order "$(MAKE) build"
	rm -f $(RELEASE)/skiff
	$(MAKE) build

clean:
	rm -rf .build config.json
