# SPDX-License-Identifier: GPL-2.0
#
# tlsup: top-level targets. The module itself is built by Kbuild (see Kbuild);
# userspace (tlsupd, tlsupctl, host tests) by CMake; kernel-side tests run on
# Debian's own kernels under qemu (tools/vm, fetched into $(TLSUP_CACHE)), an
# x86-64 debug kernel and User-Mode Linux (tools/uml); tools/target.sh names
# each kernel ("make targets" lists them).
#
#   make deps     install Debian packages the build and tests need
#   make vm       fetch Debian's stock kernels and build the x86-64 debug kernel
#   make uml      build (or reuse) the UML kernels, base and debug flavours
#   make modules-TARGET  tlsup.ko and the test consumer for one kernel target
#                 into build/module/TARGET (make modules-stock-6.1)
#   make module   tlsup.ko against the UML tree and Debian's x86_64 headers
#   make agent    tlsupd and tlsupctl
#   make style    checkpatch on the shims, clang-format on the C++
#   make check    all of the above, then every test suite; ends with
#                 "N passed, N failed"
#   make demo     all set-up, then a kernel consumer's handshakes on Debian's
#                 own 6.1 kernel under qemu
#   make bench    every benchmark (tools/bench/all.sh), storms included
#   make bench-storm  the reconnect storms alone
#   make stress   the long fuzzing and load/unload runs
#   make mutate   every planted bug of tests/mutate/catalogue.toml, each
#                 caught by a test (or shown equivalent); prints the score
#   make deb      Debian packages tlsup-dkms and tlsupd in build/deb/
#   make dkms-install  the module's sources to /usr/src, added to DKMS
#   make install  tlsupd, tlsupctl, man pages and the systemd unit
#   make clean

SHELL := /bin/bash
ROOT := $(CURDIR)
BUILD := $(ROOT)/build
export TLSUP_CACHE ?= $(HOME)/.cache/tlsup
JOBS ?= $(shell nproc)

UML_VERSION ?= 6.1
# A kernel with the in-tree net/handshake, to test tlsupd and the consumer
# module against upstream's service.
UPSTREAM_VERSION ?= 6.12
# A kernel newer than 6.1 built without net/handshake: tlsup.ko there too.
NOHS_VERSION ?= 6.12
UML := tools/uml/kernel.sh
DISTRO_KDIR ?= $(shell ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)

# Debian packages: build tools, kernel sources, userspace libraries, test peers.
DEPS := build-essential flex bison bc libelf-dev libssl-dev ccache xz-utils cpio \
	kmod pahole dwarves linux-source-$(UML_VERSION) linux-source-$(UPSTREAM_VERSION) \
	linux-headers-amd64 qemu-system-x86 \
	python3 iproute2 keyutils gnutls-bin procps psmisc \
	libgnutls28-dev libnl-3-dev libnl-genl-3-dev libkeyutils-dev \
	cmake pkg-config googletest libgtest-dev clang clang-format libclang-rt-14-dev jq \
	dkms util-linux python3-docutils \
	libglib2.0-dev libsystemd-dev softhsm2 \
	debhelper dh-dkms lintian fakeroot debootstrap devscripts \
	nvme-cli nfs-common nfs-kernel-server

.PHONY: dkms-sources dkms-install dkms-uninstall dkms-check install deb
.PHONY: uml-upstream module-uml-upstream uml-nohs module-uml-nohs stress mutate vm targets
.PHONY: agent-bin guest-tools
.PHONY: all deps uml uml-base uml-debug module module-uml module-uml-debug module-distro \
	agent host-tests style check check-run demo bench bench-storm clean

all: module agent

deps:
	@missing=$$(for p in $(DEPS); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	done); \
	if [ -n "$$missing" ]; then \
		echo "deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			--no-install-recommends $$missing >/dev/null; \
	else echo "deps: all installed"; fi

vm:
	@tools/vm/fetch.sh stock-6.1 >/dev/null
	@tools/vm/fetch.sh stock-6.12 >/dev/null
	@tools/vm/kernel.sh debug >/dev/null

targets:
	@tools/target.sh list

modules-%:
	tools/target.sh modules $*

uml: uml-base uml-debug uml-upstream uml-nohs
uml-nohs:
	@$(UML) base $(NOHS_VERSION) >/dev/null
uml-base:
	@$(UML) base $(UML_VERSION) >/dev/null
uml-debug:
	@$(UML) debug $(UML_VERSION) >/dev/null
uml-upstream:
	@$(UML) upstream $(UPSTREAM_VERSION) >/dev/null

# Kbuild of 6.1 builds in the source directory: each target kernel gets its
# own symlink farm under build/module/ so the builds do not overwrite each
# other's objects.
define module_farm
	@mkdir -p $(1)
	@for f in Kbuild kernel include scripts tests tools; do cp -rsf $(ROOT)/$$f $(1)/; done
endef

module: module-uml module-uml-debug module-distro

# tlsup.ko, the KUnit modules and the test consumer, for a UML flavour.
define module_uml
	$(call module_farm,$(BUILD)/module/uml-$(UML_VERSION)-$(1))
	$(MAKE) -C $$($(UML) $(1) $(UML_VERSION)) M=$(BUILD)/module/uml-$(UML_VERSION)-$(1) \
		ARCH=um SUBARCH=x86_64 TLSUP_TESTS=1 modules
endef

module-uml: uml-base
	$(call module_uml,base)

module-uml-debug: uml-debug
	$(call module_uml,debug)

# tlsup.ko, KUnit and the test consumer on 6.12 without net/handshake.
module-uml-nohs: uml-nohs
	$(call module_farm,$(BUILD)/module/uml-$(NOHS_VERSION)-base)
	$(MAKE) -C $$($(UML) base $(NOHS_VERSION)) M=$(BUILD)/module/uml-$(NOHS_VERSION)-base \
		ARCH=um SUBARCH=x86_64 TLSUP_TESTS=1 modules

# Only the test consumer: the tree has its own service, and tlsup.ko's
# Kbuild refuses it.
module-uml-upstream: uml-upstream
	$(call module_farm,$(BUILD)/module/uml-$(UPSTREAM_VERSION)-upstream)
	$(MAKE) -C $$($(UML) upstream $(UPSTREAM_VERSION)) \
		M=$(BUILD)/module/uml-$(UPSTREAM_VERSION)-upstream/tools/testmod \
		ARCH=um SUBARCH=x86_64 modules

module-distro:
	@test -n "$(DISTRO_KDIR)" || { echo "module: no /usr/src/linux-headers-*-amd64 (make deps)"; exit 1; }
	$(call module_farm,$(BUILD)/module/distro)
	$(MAKE) -C $(DISTRO_KDIR) M=$(BUILD)/module/distro modules

agent:
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD)/release -j$(JOBS)

# Only what is installed, and what the guests run (make demo, the kernel
# suites): the release tree without the host tests, which the sanitizer
# trees build and run.
agent-bin:
	cmake -S . -B $(BUILD)/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	cmake --build $(BUILD)/release -j$(JOBS) --target tlsupd tlsupctl
guest-tools: agent-bin
	cmake --build $(BUILD)/release -j$(JOBS) --target tlspeer genl_fuzz tlsupd_ktls_live_test
	$(MAKE) -C $(BUILD)/release/tools/bench -j$(JOBS)

style:
	@scripts/check-style

check: deps
	@scripts/check-all

demo: deps guest-tools
	@tools/demo/demo.sh

# The upcall benchmark on 6.1 (tlsup.ko) in UML and on Debian's stock 6.1
# under qemu, then the reconnect storms of the kernel's own consumers on
# 6.12 (tools/bench/storm.sh).
# Everything: the host's CPU and system-call figures, strace in stock 6.1,
# the full path on stock 6.1 (1 and 2 vCPUs), the storms on stock 6.12
# (tools/bench/all.sh; BENCH_UML=1 adds the UML tables).
bench: deps agent modules-stock-6.1
	@tools/bench/all.sh

bench-storm: deps agent
	@tools/bench/storm.sh full

# The long runs: a million netlink messages, 200 load/unload cycles, the
# explorer with 3 preemptions, and the core fuzzer for 10 minutes.
stress: deps agent
	@scripts/stress

# The mutation catalogue: host lane (unit tests, the explorer) and kernel
# lane (KUnit on the debug kernel). scripts/mutate --help for the options.
mutate: deps uml-debug
	@scripts/mutate

# The module's sources as DKMS wants them: /usr/src/tlsup-VERSION. The same
# list goes into the tlsup-dkms package (debian/rules calls dkms-sources).
DKMS_VERSION := $(shell sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' dkms.conf)
DKMS_SRC := $(DESTDIR)/usr/src/tlsup-$(DKMS_VERSION)
MODULE_SOURCES := Kbuild dkms.conf LICENSE kernel include scripts/check-cxx-object \
	packaging/dkms/save-symvers

dkms-sources:
	rm -rf $(DKMS_SRC) && mkdir -p $(DKMS_SRC)
	cp -r --parents $(MODULE_SOURCES) $(DKMS_SRC)/

dkms-install: dkms-sources
	dkms add -m tlsup -v $(DKMS_VERSION)
	dkms autoinstall

dkms-uninstall:
	-dkms remove -m tlsup -v $(DKMS_VERSION) --all
	rm -rf $(DKMS_SRC)

# DKMS builds the module for Debian's x86_64 kernel from the sources as
# dkms-sources installs them, in a throwaway DKMS tree (tests/deb/dkms-build:
# signature, Module.symvers, BUILD_EXCLUSIVE_CONFIG); the host's DKMS state
# is not touched. tests/deb/run does the same from the packaged sources.
dkms-check:
	$(MAKE) --no-print-directory dkms-sources DESTDIR=$(BUILD)/dkms-sources
	tests/deb/dkms-build $(BUILD)/dkms-sources/usr/src

# Debian packages tlsup-dkms and tlsupd into build/deb/, built from a copy
# of the checkout's files (tracked and untracked, minus .gitignore's) so
# the checkout itself stays clean; compiled through ccache (the kernels'
# cache in TLSUP_CACHE) when it is installed.
DEB_DIR := $(BUILD)/deb
DEB_SRC := $(DEB_DIR)/tlsup-$(DKMS_VERSION)
deb:
	rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	if git -C $(ROOT) rev-parse --git-dir >/dev/null 2>&1; then \
		git -C $(ROOT) ls-files -z --cached --others --exclude-standard | \
			tar -C $(ROOT) --null -T - --ignore-failed-read -cf - 2>/dev/null; \
	else tar -C $(ROOT) --exclude=./build --exclude=./.git -cf - .; fi | tar -C $(DEB_SRC) -xf -
	cd $(DEB_SRC) && DEB_BUILD_OPTIONS="parallel=$(JOBS) $(DEB_BUILD_OPTIONS)" \
		TLSUP_CCACHE_DIR=$$(command -v ccache >/dev/null && echo $(TLSUP_CACHE)/ccache) \
		dpkg-buildpackage -us -uc -b >$(DEB_DIR)/build.log 2>&1 || \
		{ tail -n 40 $(DEB_DIR)/build.log; echo "deb: full log in $(DEB_DIR)/build.log"; exit 1; }
	rm -rf $(DEB_SRC)
	@ls $(DEB_DIR)/*.deb

# tlsupd, tlsupctl, man pages, the systemd unit where systemd looks for an
# administrator's units under PREFIX (/usr/local/lib/systemd/system; with
# PREFIX=/usr, /usr/lib/systemd/system), and the configuration unless it
# exists. The unit's ExecStart/ExecReload follow PREFIX.
PREFIX ?= /usr/local
UNITDIR ?= $(PREFIX)/lib/systemd/system
install: agent-bin
	install -D -m 0755 $(BUILD)/release/agent/tlsupd $(DESTDIR)$(PREFIX)/sbin/tlsupd
	install -D -m 0755 $(BUILD)/release/agent/tlsupctl $(DESTDIR)$(PREFIX)/sbin/tlsupctl
	install -d $(DESTDIR)$(UNITDIR)
	sed 's|/usr/sbin/|$(PREFIX)/sbin/|g' packaging/systemd/tlsupd.service \
		>$(DESTDIR)$(UNITDIR)/tlsupd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/tlsupd.service
	for m in Documentation/man/*.[0-9]; do \
		install -D -m 0644 $$m $(DESTDIR)$(PREFIX)/share/man/man$${m##*.}/$$(basename $$m); done
	test -e $(DESTDIR)/etc/tlsupd/tlsupd.conf || \
		install -D -m 0644 agent/tlsupd.conf.example $(DESTDIR)/etc/tlsupd/tlsupd.conf

clean:
	rm -rf $(BUILD)
	find . -name '*.o' -o -name '*.ko' -o -name '.*.cmd' -o -name '*.mod' \
		-o -name '*.mod.c' -o -name 'modules.order' -o -name 'Module.symvers' | \
		grep -v '^./.git/' | xargs -r rm -f
