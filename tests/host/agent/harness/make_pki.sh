#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# make_pki.sh DIR: the test PKI, generated fresh with certtool.
#   ca.pem/ca.key              trusted CA
#   server.pem                 server.test + IP 127.0.0.1 and ::1, TLS server
#   server-noip.pem            server.test only (reverse DNS fallback)
#   wronghost.pem              other.test + IP 192.0.2.1
#   expired.pem                server.test, expired in 2020
#   revoked.pem                server.test, listed in crl.pem
#   client.pem                 client.test, TLS client
#   client-ip.pem              Client2.Test + IP 192.0.2.7 and 2001:db8::7, TLS client
#   client-expired.pem         client.test, expired
#   client-revoked.pem         client.test, listed in crl.pem
#   rogue-ca.pem               a CA nobody trusts
#   rogue-server.pem           server.test signed by rogue-ca
#   rogue-client.pem           client.test signed by rogue-ca
#   rsa-client.pem             rsa-client.test, TLS client, RSA 2048
#   server-ed25519.pem         server.test, TLS server, Ed25519
#   client-ed25519.pem         client.test, TLS client, Ed25519
#   crl.pem                    CRL from ca listing revoked.pem and client-revoked.pem
# Every leaf has NAME.key next to it. Keys are ECDSA P-256 but rsa-client's and
# the *-ed25519 ones.
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"

key() { (umask 077 && certtool --generate-privkey --key-type=ecdsa --curve=secp256r1 --no-text --outfile "$1.key" 2>/dev/null); }

ca() { # name cn
	key "$1"
	cat >"$1.tmpl" <<T
cn = "$2"
ca
cert_signing_key
crl_signing_key
expiration_days = 3650
T
	certtool --generate-self-signed --load-privkey "$1.key" --template "$1.tmpl" \
		--outfile "$1.pem" 2>/dev/null
}

leaf() { # name issuer template-lines
	name=$1 issuer=$2
	shift 2
	key "$name"
	printf '%s\n' "$@" >"$name.tmpl"
	certtool --generate-certificate --load-privkey "$name.key" \
		--load-ca-certificate "$issuer.pem" --load-ca-privkey "$issuer.key" \
		--template "$name.tmpl" --outfile "$name.pem" 2>/dev/null
}

ca ca "tlsup test CA"
ca rogue-ca "tlsup rogue CA"

server='tls_www_server
signing_key
encryption_key'
client='tls_www_client
signing_key'
valid='expiration_days = 3650'
expired='activation_date = "2018-01-01 00:00:00"
expiration_date = "2020-01-01 00:00:00"'

leaf server ca 'cn = "server.test"' 'dns_name = "server.test"' 'ip_address = "127.0.0.1"' \
	'ip_address = "::1"' "$server" "$valid" 'serial = 1001'
leaf server-noip ca 'cn = "server.test"' 'dns_name = "server.test"' "$server" "$valid" \
	'serial = 1002'
leaf wronghost ca 'cn = "other.test"' 'dns_name = "other.test"' 'ip_address = "192.0.2.1"' \
	"$server" "$valid" 'serial = 1003'
leaf expired ca 'cn = "server.test"' 'dns_name = "server.test"' 'ip_address = "127.0.0.1"' \
	"$server" "$expired" 'serial = 1004'
leaf revoked ca 'cn = "server.test"' 'dns_name = "server.test"' 'ip_address = "127.0.0.1"' \
	"$server" "$valid" 'serial = 1005'
leaf client ca 'cn = "client.test"' 'dns_name = "client.test"' "$client" "$valid" 'serial = 2001'
leaf client-ip ca 'cn = "client2.test"' 'dns_name = "Client2.Test"' 'ip_address = "192.0.2.7"' \
	'ip_address = "2001:db8::7"' "$client" "$valid" 'serial = 2006'
leaf client-expired ca 'cn = "client.test"' "$client" "$expired" 'serial = 2002'
leaf client-revoked ca 'cn = "client.test"' "$client" "$valid" 'serial = 2003'
leaf rogue-server rogue-ca 'cn = "server.test"' 'dns_name = "server.test"' \
	'ip_address = "127.0.0.1"' "$server" "$valid" 'serial = 3001'
leaf rogue-client rogue-ca 'cn = "client.test"' "$client" "$valid" 'serial = 3002'
# An RSA leaf: the kernel's asymmetric key type parses it without ECDSA.
certtool --generate-privkey --key-type=rsa --bits=2048 --no-text --outfile rsa-client.key 2>/dev/null
printf '%s\n' 'cn = "rsa-client.test"' "$client" "$valid" 'serial = 2004' >rsa-client.tmpl
certtool --generate-certificate --load-privkey rsa-client.key --load-ca-certificate ca.pem \
	--load-ca-privkey ca.key --template rsa-client.tmpl --outfile rsa-client.pem 2>/dev/null

# Ed25519 leaves: the second certificate (x509.pq.*) a peer gets when its
# signature algorithms allow it.
for who in server client; do
	certtool --generate-privkey --key-type=ed25519 --no-text --outfile "$who-ed25519.key" 2>/dev/null
done
printf '%s\n' 'cn = "server.test"' 'dns_name = "server.test"' 'ip_address = "127.0.0.1"' \
	"$server" "$valid" 'serial = 1006' >server-ed25519.tmpl
printf '%s\n' 'cn = "client.test"' "$client" "$valid" 'serial = 2005' >client-ed25519.tmpl
for who in server client; do
	certtool --generate-certificate --load-privkey "$who-ed25519.key" --load-ca-certificate ca.pem \
		--load-ca-privkey ca.key --template "$who-ed25519.tmpl" --outfile "$who-ed25519.pem" 2>/dev/null
done

cat revoked.pem client-revoked.pem >revoked-list.pem
printf 'crl_next_update = 3650\ncrl_number = 1\n' >crl.tmpl
certtool --generate-crl --load-ca-privkey ca.key --load-ca-certificate ca.pem \
	--load-certificate revoked-list.pem --template crl.tmpl --outfile crl.pem 2>/dev/null
touch done
