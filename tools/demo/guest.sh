#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The demo, inside UML.
set -eu
M=$TLSUP_ROOT/build/module/uml-$TLSUP_VERSION-base
echo TLSUP-DEMO-BEGIN
run() { echo "\$ $*"; "$@"; }
run insmod "$M/tlsup.ko"
run genl ctrl get name handshake
run cat /proc/net/tlsup
echo TLSUP-DEMO-END
