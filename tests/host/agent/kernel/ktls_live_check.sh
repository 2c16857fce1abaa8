#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# ktls_live_check.sh BUILD_DIR: runs tlsupd_ktls_live_test (real kTLS) in a
# User-Mode Linux guest that has the "tls" ULP, e.g.
#   tools/uml/run.sh -t 300 -- tests/host/agent/kernel/ktls_live_check.sh build/release
set -eu
bin=$(find "$1" -name tlsupd_ktls_live_test -type f | head -n 1)
[ -x "$bin" ] || { echo "tlsupd_ktls_live_test not built under $1"; exit 1; }
modprobe tls 2>/dev/null || true
ip link set lo up 2>/dev/null || true
exec "$bin"
