# skiff: `make run` sets up this machine, builds, and runs a container from the default
# bundle; `make test` does the same set-up and runs every test; `make bench` compares
# skiff with crun and runc.
SWIFT ?= $(shell command -v swift 2>/dev/null || echo /opt/swift/usr/bin/swift)
RELEASE := .build/release
DEBUG := .build/debug
INIT := .build/skiff-init
# Recursively expanded on purpose: musl-gcc arrives with `deps`, so the choice is made when a
# recipe runs (after `deps`), never when make reads this file on a fresh machine.
INIT_CC = $(shell command -v musl-gcc 2>/dev/null || echo cc)
STATIC_CFLAGS := -static -Os -s -Wall -Wextra -Werror

.PHONY: all deps build init rootfs bundle run test bench clean check-static-helpers

all: build

# Install the Debian packages a fresh machine lacks (only those missing).
deps:
	@scripts/install-deps

# skiff-init is built outside SwiftPM: static, tiny, and linked with nothing else
# (see DESIGN.md). It is installed beside every skiff binary.
$(INIT): CShims/init/skiff-init.c CShims/init/skiff_syscalls.h CShims/include/skiff_plan.h
	@mkdir -p .build
	$(INIT_CC) $(STATIC_CFLAGS) -o $@ CShims/init/skiff-init.c

init: $(INIT)

# The probe `skiff check` runs inside the task: static, no files of the image used.
PROBE := .build/skiff-probe
$(PROBE): probe/skiff-probe.c
	@mkdir -p .build
	$(INIT_CC) $(STATIC_CFLAGS) -o $@ probe/skiff-probe.c

# A fully static executable: no dynamic loading at start-up (half of `skiff run`'s
# instructions went to ld.so relocating libstdc++ and friends).
build: init $(PROBE)
	$(SWIFT) build -c release --static-swift-stdlib -Xswiftc -static-executable --product skiff
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

# A seccomp notify listener for the tests (answers SCMP_ACT_NOTIFY with an errno).
.build/seccomp-listener: tools/seccomp-listener.c
	@mkdir -p .build
	cc -O2 -Wall -Wextra -Werror -o $@ tools/seccomp-listener.c

# The static helpers must build with either libc (a machine without musl-tools falls back
# to cc and glibc): build each with both, so CI catches a header that only one of them has.
STATIC_HELPERS := CShims/init/skiff-init.c probe/skiff-probe.c bench/rss-probe.c
check-static-helpers:
	@mkdir -p .build/helpers-check
	@for compiler in cc musl-gcc; do for source in $(STATIC_HELPERS); do \
	    $$compiler $(STATIC_CFLAGS) -o .build/helpers-check/$$(basename $$source .c)-$$compiler $$source || exit 1; \
	done; done
	@echo "static helpers build with cc (glibc) and musl-gcc"

test: deps check-static-helpers build rootfs .build/seccomp-listener
	$(SWIFT) build --build-tests
	$(SWIFT) build --product tiny-scheduler
	install -m 0755 $(INIT) $(DEBUG)/skiff-init
	$(SWIFT) test --skip-build --disable-xctest

# The benchmark measures each runtime through a tiny static probe (see bench/rss-probe.c).
.build/rss-probe: bench/rss-probe.c
	@mkdir -p .build
	$(INIT_CC) $(STATIC_CFLAGS) -o $@ bench/rss-probe.c

bench: deps build rootfs .build/rss-probe
	$(SWIFT) build -c release --static-swift-stdlib --product skiff-bench
	$(RELEASE)/skiff-bench --skiff $(RELEASE)/skiff --rootfs $(CURDIR)/rootfs --probe .build/rss-probe

clean:
	rm -rf .build config.json
