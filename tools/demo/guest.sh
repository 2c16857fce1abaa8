#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The demo, inside a guest (Debian's stock 6.1 under qemu by default): a kernel TLS consumer asks tlsup.ko for handshakes,
# tlsupd performs them, and data flows over kTLS. Narrated for a newcomer.
set -eu
M=${TLSUP_MODULES:-$TLSUP_ROOT/build/module/uml-$TLSUP_VERSION-base}
B=$TLSUP_ROOT/build/release
CTL=/sys/kernel/debug/tlsup_testmod/ctl
RESULTS=/sys/kernel/debug/tlsup_testmod/results
# The agent's control socket cannot be bound on a qemu guest's 9p share:
# work on the guest's tmpfs (copied back into $TLSUP_RUN at the end).
W=${TLSUP_WORK:-$TLSUP_RUN}
cd "$W"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
say() { printf '   %s\n' "$*"; }
run() { printf '   \033[2m$ %s\033[0m\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; }
field() { tr ' ' '\n' <<<"$1" | grep "^$2=" | cut -d= -f2-; }

failed=0
echo TLSUP-DEMO-BEGIN
step "1. Load tlsup.ko: the handshake service for a kernel without net/handshake"
run uname -r
# Debian's kernels have kTLS as a module (UML has it built in).
[ -d /sys/module/tls ] || run modprobe tls
run insmod "$M/tlsup.ko"
say "It registered the generic netlink family 'handshake', as upstream Linux does:"
run genl ctrl get name handshake

step "2. Make a throwaway PKI (certtool) and put the kernel's identity in a keyring"
gen() { certtool "$@" >/dev/null 2>&1; }
gen --generate-privkey --key-type=ecdsa --outfile ca.key
printf 'cn = tlsup demo CA\nca\ncert_signing_key\nexpiration_days = 2\n' >ca.tmpl
gen --generate-self-signed --load-privkey ca.key --template ca.tmpl --outfile ca.pem
for n in server client peer; do
	gen --generate-privkey --key-type=ecdsa --outfile $n.key
done
printf 'cn = localhost\ndns_name = localhost\ntls_www_server\nexpiration_days = 2\n' >server.tmpl
printf 'cn = kernel-nfs-client\ntls_www_client\nexpiration_days = 2\n' >client.tmpl
printf 'cn = gnutls-peer\ntls_www_client\nexpiration_days = 2\n' >peer.tmpl
for n in server client peer; do
	gen --generate-certificate --load-privkey $n.key --load-ca-certificate ca.pem \
		--load-ca-privkey ca.key --template $n.tmpl --outfile $n.pem
done
gen --certificate-info --infile client.pem --outder --outfile client.der
gen --key-info --infile client.key --outder --outfile client.key.der
RING=$(keyctl newring demo @u)
CERT=$(keyctl padd user demo-client-cert "$RING" <client.der)
KEY=$(keyctl padd user demo-client-key "$RING" <client.key.der)
say "CA, a server certificate for 'localhost', a client certificate for the kernel."
say "The kernel's certificate and key are keys $CERT and $KEY in keyring $RING;"
say "a consumer passes these serials in struct tls_handshake_args."

step "3. Start tlsupd, the userspace agent"
cat >tlsupd.conf <<EOF
[authenticate.client]
x509.truststore = $W/ca.pem
[authenticate.server]
x509.truststore = $W/ca.pem
x509.certificate = $W/server.pem
x509.private_key = $W/server.key
[agent]
control_socket = $W/tlsupd.sock
EOF
"$B/agent/tlsupd" -c tlsupd.conf >agent.log 2>&1 &
agent=$!
for _ in $(seq 100); do grep -q 'tlsupd running' agent.log && break; sleep 0.05; done
sed 's/^/     /' agent.log
say "It joined the 'tlshd' multicast group and waits for READY notifications."

step "4. A kernel client handshake (tls_client_hello_x509) to a GnuTLS server"
"$B/tests/e2e/tlspeer" server --port 4433 --cert server.pem --key server.key \
	--ca ca.pem --require-client-cert --mode echo >peer1.out 2>&1 &
peer=$!
sleep 0.3
run insmod "$M/tools/testmod/tlsup_testmod.ko"
say "tlsup_testmod is a kernel module using only <net/handshake.h>. It connects a"
say "kernel TCP socket to 127.0.0.1:4433 and calls tls_client_hello_x509():"
cmd="start id=1 role=client port=4433 auth=x509 peername=localhost keyring=$RING cert=$CERT privkey=$KEY timeout=10000 send=65536 recv=65536"
run sh -c "echo '$cmd' >$CTL"
run sh -c "echo 'wait id=1' >$CTL"
wait "$peer" || true
r=$(grep '^group=1 idx=' $RESULTS)
say "tlsup.ko handed the socket to tlsupd, which did the TLS 1.3 handshake,"
say "installed the session keys with setsockopt(SOL_TLS) and answered DONE:"
grep 'handshake done' agent.log | tail -n 1 | sed 's/^/     agent: /'
say "GnuTLS server: $(grep '^conn=' peer1.out)"
say "Then the module sent 64 KiB over kTLS and got them back, byte for byte:"
say "  status=$(field "$r" status)  peer id=$(field "$r" peerid)  sent=$(field "$r" sent)  received=$(field "$r" received)  data records=$(field "$r" rec_data)  session tickets seen=$(field "$r" rec_handshake)"
[ "$(field "$r" status)" = 0 ] && [ "$(field "$r" received)" = 65536 ] || failed=1

step "5. A kernel server handshake (tls_server_hello_x509) from a GnuTLS client"
cmd="start id=2 role=server port=4434 auth=x509 timeout=10000 echo=1 recv=65536"
run sh -c "echo '$cmd' >$CTL"
sleep 0.2
say "A GnuTLS client with its own certificate connects and sends 64 KiB:"
run "$B/tests/e2e/tlspeer" client --port 4434 --cert peer.pem --key peer.key --ca ca.pem \
	--servername localhost --send 65536 --recv 65536
run sh -c "echo 'wait id=2' >$CTL"
r=$(grep '^group=2 idx=' $RESULTS)
peerid=$(field "$r" peerid)
grep 'handshake done' agent.log | tail -n 1 | sed 's/^/     agent: /'
say "The kernel server echoed everything over kTLS:"
say "  status=$(field "$r" status)  peer id=$peerid  received=$(field "$r" received)  echoed=$(field "$r" sent)"
[ "$(field "$r" status)" = 0 ] && [ "$(field "$r" sent)" = 65536 ] || failed=1
say "The peer id is a key holding the verified client certificate:"
run keyctl describe "$peerid"

step "6. What the kernel and the agent counted"
run grep -E '^(submitted|accepted|completed|completed_ok|cancelled|expired|inflight):' /proc/net/tlsup
run "$B/agent/tlsupctl" -s "$W/tlsupd.sock" status

if [ "$failed" = 0 ]; then
	step "Done: two handshakes through the whole upcall, data over kTLS both ways."
else
	step "Something failed above; the agent's log is in $TLSUP_RUN/agent.log"
fi
kill "$agent" 2>/dev/null || true
echo "reset" >$CTL
echo TLSUP-DEMO-END
exit "$failed"
