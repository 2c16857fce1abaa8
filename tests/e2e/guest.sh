#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The end-to-end suite, inside a guest (tools/target.sh run): tlsup.ko + tlsupd + the test consumer
# (tools/testmod) + GnuTLS peers. Prints TAP. Cases to run can be narrowed
# with E2E_ONLY="regex" in the environment.
#
# On a kernel with its own net/handshake (Debian's 6.12, UML "upstream") there
# is no tlsup.ko: the same agent and the same consumer module, built
# against the kernel's <net/handshake.h>, run against upstream's service.
set -u
M=${TLSUP_MODULES:-$TLSUP_ROOT/build/module/uml-$TLSUP_VERSION-$TLSUP_FLAVOUR}
# A kernel with its own net/handshake has the family before anything is
# loaded (UML "upstream", Debian's 6.12).
UPSTREAM=0
genl ctrl get name handshake >/dev/null 2>&1 && UPSTREAM=1
# shellcheck source=tests/e2e/lib.sh
. "$TLSUP_ROOT/tests/e2e/lib.sh"
cd "$WORK" || exit 1
MiB=1048576

# ---- test PKI and keys, made at test time ----
pki() {
	local t=$WORK/pki
	mkdir -p "$t"
	gen_key() { (umask 077 && certtool --generate-privkey --key-type=ecdsa --outfile "$t/$1.key" 2>/dev/null); }
	gen_ca() {
		gen_key "$1"
		printf 'cn = %s\nca\ncert_signing_key\ncrl_signing_key\nexpiration_days = 30\n' "$1" >"$t/$1.tmpl"
		certtool --generate-self-signed --load-privkey "$t/$1.key" --template "$t/$1.tmpl" \
			--outfile "$t/$1.pem" 2>/dev/null
	}
	# gen_cert NAME CA TEMPLATE-LINES...
	gen_cert() {
		local name=$1 ca=$2
		shift 2
		gen_key "$name"
		printf '%s\n' "$@" >"$t/$name.tmpl"
		certtool --generate-certificate --load-privkey "$t/$name.key" \
			--load-ca-certificate "$t/$ca.pem" --load-ca-privkey "$t/$ca.key" \
			--template "$t/$name.tmpl" --outfile "$t/$name.pem" 2>/dev/null
	}
	gen_ca ca
	gen_ca otherca
	gen_cert server ca 'cn = localhost' 'dns_name = localhost' 'ip_address = 127.0.0.1' \
		'ip_address = ::1' 'tls_www_server' 'expiration_days = 30'
	gen_cert wronghost ca 'cn = elsewhere.example' 'dns_name = elsewhere.example' \
		'tls_www_server' 'expiration_days = 30'
	gen_cert untrusted otherca 'cn = localhost' 'dns_name = localhost' 'tls_www_server' \
		'expiration_days = 30'
	gen_cert revoked ca 'cn = localhost' 'dns_name = localhost' 'tls_www_server' \
		'expiration_days = 30' 'serial = 0x7e57'
	gen_cert client ca 'cn = kernel-client' 'tls_www_client' 'expiration_days = 30'
	gen_cert peerclient ca 'cn = peer-client' 'tls_www_client' 'expiration_days = 30'
	# Expired: valid yesterday only.
	gen_key expired
	printf 'cn = localhost\ndns_name = localhost\ntls_www_server\nactivation_date = "2020-01-01 00:00:00 UTC"\nexpiration_date = "2020-06-01 00:00:00 UTC"\n' >"$t/expired.tmpl"
	certtool --generate-certificate --load-privkey "$t/expired.key" \
		--load-ca-certificate "$t/ca.pem" --load-ca-privkey "$t/ca.key" \
		--template "$t/expired.tmpl" --outfile "$t/expired.pem" 2>/dev/null
	# The CRL revokes "revoked".
	printf 'crl_next_update = 30\ncrl_number = 1\n' >"$t/crl.tmpl"
	certtool --generate-crl --load-ca-privkey "$t/ca.key" --load-ca-certificate "$t/ca.pem" \
		--load-certificate "$t/revoked.pem" --template "$t/crl.tmpl" --outfile "$t/crl.pem" 2>/dev/null
	for n in client server; do
		certtool --certificate-info --infile "$t/$n.pem" --outder --outfile "$t/$n.der" 2>/dev/null
		certtool --key-info --infile "$t/$n.key" --outder --outfile "$t/$n.key.der" 2>/dev/null
	done
	[ -s "$t/crl.pem" ] && [ -s "$t/expired.pem" ] && [ -s "$t/client.key.der" ]
}

keys() {
	RING=$(keyctl newring tlsup-e2e @u)
	CERT=$(keyctl padd user tlsup-e2e-client-cert "$RING" <"$WORK/pki/client.der")
	PRIVKEY=$(keyctl padd user tlsup-e2e-client-key "$RING" <"$WORK/pki/client.key.der")
	SCERT=$(keyctl padd user tlsup-e2e-server-cert "$RING" <"$WORK/pki/server.der")
	SPRIVKEY=$(keyctl padd user tlsup-e2e-server-key "$RING" <"$WORK/pki/server.key.der")
	PSK_HEX=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	PSK2_HEX=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	unhex() { printf "$(echo "$1" | sed "s/../\\\\x&/g")"; }
	unhex "$PSK_HEX" >"$WORK/psk1.bin"
	unhex "$PSK2_HEX" >"$WORK/psk2.bin"
	PSK1=$(keyctl padd user e2e-identity-1 "$RING" <"$WORK/psk1.bin")
	PSK2=$(keyctl padd user e2e-identity-2 "$RING" <"$WORK/psk2.bin")
	keyctl setperm "$RING" 0x3f3f0000 >/dev/null
	# Two consumers' own keyrings, named for PSKs but not configured: each
	# is searched only for its consumer's requests.
	RING_A=$(keyctl newring tlsup-e2e-a @u)
	RING_B=$(keyctl newring tlsup-e2e-b @u)
	PSKA_HEX=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
	unhex "$PSKA_HEX" >"$WORK/pska.bin"
	PSKA=$(keyctl padd user e2e-consumer-a "$RING_A" <"$WORK/pska.bin")
	# A "psk" key too where the kernel has the type (the NVMe keyring).
	PSKT=$(keyctl padd psk e2e-consumer-a-psk "$RING_A" <"$WORK/pska.bin" 2>/dev/null)
	keyctl setperm "$RING_A" 0x3f3f0000 >/dev/null
	keyctl setperm "$RING_B" 0x3f3f0000 >/dev/null
	[ -n "$PSK2" ] && [ -n "$PRIVKEY" ] && [ -n "$PSKA" ] && [ -n "$RING_B" ]
}

agent_conf() {
	cat >"$WORK/tlsupd.conf" <<EOF
[authenticate]
keyrings = tlsup-e2e
# Their "user" keys are server PSKs too (6.1 has no "psk" key type).
psk_keyrings = tlsup-e2e;tlsup-e2e-a;tlsup-e2e-b

[authenticate.client]
x509.truststore = $WORK/pki/ca.pem
x509.crl = $WORK/pki/crl.pem
x509.certificate = $WORK/pki/client.pem
x509.private_key = $WORK/pki/client.key

[authenticate.server]
x509.truststore = $WORK/pki/ca.pem
x509.certificate = $WORK/pki/server.pem
x509.private_key = $WORK/pki/server.key

[agent]
workers = 2
default_timeout_ms = $((10000 * TIME_SCALE))
control_socket = $WORK/tlsupd.sock
EOF
}

# ---- cases ----
. "$TLSUP_ROOT/tests/e2e/cases.sh"

# ---- main ----
echo "TAP version 13"
if [ "$UPSTREAM" = 1 ]; then
	genl ctrl get name handshake >/dev/null 2>&1 ||
		{ echo "Bail out! this kernel has no in-tree handshake family"; exit 1; }
	echo "# upstream net/handshake: $(uname -r), no tlsup.ko"
else
	# Distribution kernels have kTLS as a module (built into UML).
	grep -qw tls /proc/sys/net/ipv4/tcp_available_ulp 2>/dev/null || modprobe tls || { echo "Bail out! modprobe tls"; exit 1; }
	insmod "$M/tlsup.ko" || { echo "Bail out! insmod tlsup.ko"; exit 1; }
	echo "# tlsup.ko on $(uname -r), $(nproc) CPUs"
fi
insmod "$M/tools/testmod/tlsup_testmod.ko" || { echo "Bail out! insmod tlsup_testmod.ko"; exit 1; }
pki || { echo "Bail out! test PKI"; exit 1; }
keys || { echo "Bail out! test keys"; exit 1; }
agent_conf
agent_start || { echo "Bail out! tlsupd did not start"; exit 1; }

# A guest.sh that dies mid-suite (set -u on an unset variable, a killed
# shell) says so in TAP: without it the host saw only the results so far.
trap 'echo "Bail out! guest.sh exited ($?) during case $case_no: $BASH_COMMAND"' EXIT
for c in "${CASES[@]}"; do
	name=${c%%|*}
	fn=${c#*|}
	if [ -n "${E2E_ONLY:-}" ] && ! [[ $name =~ $E2E_ONLY ]]; then
		continue
	fi
	# Cases that pin behaviour only tlsup.ko has (its kernel deadline; an
	# agent started before the module is loaded).
	if [ "$UPSTREAM" = 1 ] && [[ $fn =~ $TLSUP_ONLY ]]; then
		echo "ok $((case_no += 1)) - $name # SKIP needs tlsup.ko (its kernel deadline, or unloading it)"
		continue
	fi
	run_case "$name" "$fn"
done
trap - EXIT
echo "1..$case_no"
agent_stop
ctl reset
rmmod tlsup_testmod || { echo "# rmmod tlsup_testmod failed"; cases_failed=$((cases_failed + 1)); }
if [ "$UPSTREAM" = 0 ]; then
	# Each live request holds a module reference: wait out TCP closing
	# orphaned sockets first (bounded; tests/stress/live_wait.sh).
	tlsup_wait_gone $((5 * TIME_SCALE)) $((60 * TIME_SCALE)) | sed 's/^tlsup_wait_gone: /# /'
	rmmod tlsup || { echo "# rmmod tlsup failed"; cases_failed=$((cases_failed + 1)); }
fi
echo "# e2e: $cases_passed passed, $cases_failed failed"
dmesg >"$WORK/dmesg"
cp "$WORK/agent.log" "$WORK/agent.log.final" 2>/dev/null
[ "$cases_failed" = 0 ]
