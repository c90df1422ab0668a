#!/usr/bin/env bash
# libcurl-prefix.sh FLAVOR DIR: unpack libcurl 8.14.1 from Debian's
# bookworm-backports into DIR, beside the system's libcurl and without
# touching it, and print the directory to put first in PKG_CONFIG_PATH.
#
#   FLAVOR  openssl  libcurl4 + libcurl4-openssl-dev (OpenSSL, HTTP/2)
#           gnutls   libcurl3-gnutls + libcurl4-gnutls-dev, with ngtcp2 and
#                    nghttp3 (GnuTLS, HTTP/2 and HTTP/3)
#
# The packages are fetched with apt-get download against a sources list and
# package lists of this script's own (under DIR/apt), so the system's apt
# state is neither read nor changed, and unpacked with dpkg -x: nothing is
# installed. The libcurl.pc found there points at DIR and carries an rpath,
# so a program built against it runs against that libcurl with no
# LD_LIBRARY_PATH. The libraries these packages need beyond their own
# (OpenSSL or GnuTLS, nghttp2, libssh2, ...) are Debian 12's, which
# make deps installs.
#
# Go's build cache does not key cgo packages on pkg-config's output: build
# against DIR with a GOCACHE of its own (the Makefile does).
set -euo pipefail

flavor=${1:?usage: libcurl-prefix.sh openssl|gnutls DIR}
dir=${2:?usage: libcurl-prefix.sh openssl|gnutls DIR}
version=8.14.1
suite=bookworm-backports
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}

case $flavor in
openssl) pkgs="libcurl4 libcurl4-openssl-dev" ;;
gnutls) pkgs="libcurl3-gnutls libcurl4-gnutls-dev libngtcp2-16 libngtcp2-crypto-gnutls8 libnghttp3-9" ;;
*) echo "libcurl-prefix.sh: unknown flavor $flavor (openssl or gnutls)" >&2; exit 2 ;;
esac

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pcdir=$dir/usr/lib/x86_64-linux-gnu/pkgconfig
libdir=$dir/usr/lib/x86_64-linux-gnu
# .complete holds the checksum of the script that unpacked the prefix: a
# changed script unpacks it again.
stamp=$(cksum <"$0" | cut -d" " -f1)
if [ "$(cat "$dir/.complete" 2>/dev/null)" = "$stamp" ]; then
	echo "$pcdir"
	exit 0
fi
rm -rf "$dir/usr" "$dir/apt"

apt=$dir/apt
mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
echo "deb $mirror $suite main" >"$apt/sources.list"
aptopts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Debug::NoLocking=1 -o APT::Sandbox::User=root)
apt-get -qq "${aptopts[@]}" update >&2

# Only the backports versions: the libraries Debian 12 already has come
# from the system.
want=()
for p in $pkgs; do
	v=$(apt-cache "${aptopts[@]}" policy "$p" | awk '/Candidate:/ {print $2}')
	case $p:$v in
	libcurl*:$version-*) ;;
	libcurl*:*) echo "libcurl-prefix.sh: $suite has $p $v, not $version" >&2; exit 1 ;;
	esac
	want+=("$p=$v")
done
(cd "$apt/debs" && apt-get -qq "${aptopts[@]}" download "${want[@]}" >&2)
for deb in "$apt/debs"/*.deb; do
	dpkg -x "$deb" "$dir"
done

# The .pc file: our prefix, an rpath, and no Requires.private (the
# development packages of curl's own dependencies are not needed to build
# against a shared libcurl).
for pc in "$pcdir"/libcurl.pc; do
	sed -i \
		-e "s|^prefix=.*|prefix=$dir/usr|" \
		-e "s|^libdir=.*|libdir=$libdir|" \
		-e "s|^includedir=.*|includedir=$dir/usr/include/x86_64-linux-gnu|" \
		-e "s|^Libs: .*|Libs: -L$libdir -Wl,--disable-new-dtags -Wl,-rpath,$libdir -lcurl|" \
		-e "/^Requires.private:/d" \
		"$pc"
done
# The -dev package's libcurl.so symlink is absolute or relative; either way
# it must resolve inside the prefix.
if [ "$flavor" = gnutls ]; then
	ln -sf libcurl-gnutls.so.4 "$libdir/libcurl.so"
else
	ln -sf libcurl.so.4 "$libdir/libcurl.so"
fi
echo "$stamp" >"$dir/.complete"
echo "$pcdir"
