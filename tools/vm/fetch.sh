#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Fetch (or reuse) one of Debian's own kernels for tools/vm/run.sh.
#
#   tools/vm/fetch.sh NAME        NAME from tools/vm/images.conf (stock-6.1, ...)
#
# Downloads linux-image-RELEASE and its headers (linux-headers-RELEASE and
# the -common and linux-kbuild packages it depends on) at the pinned
# version with apt-get download, unpacks them with dpkg-deb -x into
# $TLSUP_CACHE/vm/RELEASE_VERSION/root (nothing is installed on the host),
# runs depmod there, and builds a small initramfs from the image's own
# modules: the ones the 9p root needs, plus tools/vm/init. Prints the
# directory; in it: vmlinuz, initrd, root/lib/modules/RELEASE, and
# headers (the tree DKMS would build against, like
# /lib/modules/RELEASE/build), debs/ (the headers' packages).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${TLSUP_CACHE:-$HOME/.cache/tlsup}
name=${1:?usage: fetch.sh NAME (see tools/vm/images.conf)}

log() { echo "fetch.sh: $*" >&2; }

read -r release version < <(awk -v n="$name" '$1 == n { print $2, $3 }' "$here/images.conf")
if [ -z "${release:-}" ]; then
	log "no image '$name' in $here/images.conf (have: $(awk '/^[a-z]/ { printf "%s ", $1 }' "$here/images.conf"))"
	exit 2
fi

# Bump when the unpacking recipe changes (the initramfs has its own stamp).
recipe=2
dir=$cache/vm/${release}_$version
stamp_want=$(echo "$release $version $recipe" | sha256sum | cut -c1-16)
initrd_want=$(cat "$here/init.c" "$0" | sha256sum | cut -c1-16)

mkdir -p "$cache/vm"
exec 9>"$cache/vm/.lock-$release"
flock 9

# make_initrd DIR: init and the modules for a 9p root over virtio-pci, in
# the order modprobe would load them (built-in ones are skipped); overlay
# for tools/vm/boot.sh.
make_initrd() {
	local d=$1 ird=$1/initramfs n=0 verb path out
	rm -rf "$ird"
	mkdir -p "$ird/lib"
	gcc -static -O2 -Wall -o "$ird/init" "$here/init.c"
	: >"$ird/modules"
	while read -r verb path _; do
		[ "$verb" = insmod ] || continue
		n=$((n + 1))
		out=$(printf 'lib/%02d-%s' "$n" "$(basename "${path%.xz}")")
		case $path in
		*.xz) xz -dc "$path" >"$ird/$out" ;;
		*.zst) zstd -qdc "$path" >"$ird/$out" ;;
		*) cp "$path" "$ird/$out" ;;
		esac
		echo "/$out" >>"$ird/modules"
	done < <(modprobe -d "$d/root" -S "$release" -a --show-depends virtio_pci 9pnet_virtio 9p overlay |
		awk '!seen[$2]++')
	log "initramfs: $n modules"
	(cd "$ird" && find . | sort | cpio -o -H newc --quiet) | gzip -1 >"$d/initrd.tmp"
	rm -rf "$ird"
	mv "$d/initrd.tmp" "$d/initrd"
	echo "$initrd_want" >"$d/.stamp-initrd"
}

if [ -d "$dir/root" ] && [ "$(cat "$dir/.stamp" 2>/dev/null)" = "$stamp_want" ]; then
	if [ ! -f "$dir/initrd" ] || [ "$(cat "$dir/.stamp-initrd" 2>/dev/null)" != "$initrd_want" ]; then
		make_initrd "$dir"
	fi
	echo "$dir"
	exit 0
fi

tmp=$dir.tmp
rm -rf "$tmp"
mkdir -p "$tmp/debs" "$tmp/root"

# The headers package names its -common and kbuild packages.
deps_of() {
	apt-cache show "$1=$version" 2>/dev/null | sed -n 's/^Depends: //p' | head -n 1 |
		tr ',' '\n' | sed -n 's/^ *\(linux-\(headers\|kbuild\)-[^ ]*\).*/\1/p'
}
if ! apt-cache show "linux-image-$release=$version" >/dev/null 2>&1; then
	log "no linux-image-$release=$version in the package lists; running apt-get update"
	apt-get update -qq >&2 || true
fi
pkgs=("linux-image-$release" "linux-headers-$release")
mapfile -t more < <(deps_of "linux-headers-$release")
[ "${#more[@]}" -ge 2 ] || { log "cannot read the dependencies of linux-headers-$release=$version"; exit 1; }
pkgs+=("${more[@]}")
log "downloading ${pkgs[*]} ($version)"
# As root, apt would rather download as _apt, which cannot write the cache.
if ! (cd "$tmp/debs" && apt-get download -q -o APT::Sandbox::User=root \
	"${pkgs[@]/%/=$version}" >&2); then
	log "apt-get download failed: the archive may have dropped version $version of one"
	log "of ${pkgs[*]}; move the pin in $here/images.conf (see the comment there)"
	exit 1
fi
for deb in "$tmp"/debs/*.deb; do
	dpkg-deb -x "$deb" "$tmp/root"
done
# The headers' packages stay (a booted guest installs them for DKMS:
# tests/systemd); the image's does not.
rm -f "$tmp"/debs/linux-image-*.deb

vmlinuz=$tmp/root/boot/vmlinuz-$release
[ -f "$vmlinuz" ] || { log "no $vmlinuz in the image package"; exit 1; }
ln -s "root/boot/vmlinuz-$release" "$tmp/vmlinuz"
moddir=$tmp/root/lib/modules/$release
[ -d "$moddir" ] || { log "no $moddir"; exit 1; }

# The headers' Makefile includes the -common tree by its absolute path
# under /usr/src: point it at the unpacked one.
hdr=$tmp/root/usr/src/linux-headers-$release
[ -f "$hdr/Makefile" ] || { log "no $hdr/Makefile"; exit 1; }
sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" "$hdr/Makefile"
ln -s "root/usr/src/linux-headers-$release" "$tmp/headers"
ln -sfn "$dir/root/usr/src/linux-headers-$release" "$moddir/build"

depmod -b "$tmp/root" "$release"

echo "$stamp_want" >"$tmp/.stamp"
rm -rf "$dir"
mv "$tmp" "$dir"
# Links made before the move point at $dir already; modprobe's paths too.
make_initrd "$dir"
log "ready: $dir"
echo "$dir"
