#!/bin/sh
# Debian's ircd-hybrid package conflicts with ngircd (both claim to be "the" ircd), so the bench unpacks it beside
# ngircd instead of installing it: the binary goes to /opt/ircd-hybrid and its modules are linked to the path the
# binary has compiled in (/usr/lib/ircd-hybrid). Run as root; needs `apt-get update` once before.
set -eu
apt-get install -y libltdl7
tmp=$(mktemp -d)
(cd "$tmp" && apt-get download ircd-hybrid)
dpkg -x "$tmp"/ircd-hybrid_*.deb /opt/ircd-hybrid
rm -rf "$tmp"
[ -e /usr/lib/ircd-hybrid ] || ln -s /opt/ircd-hybrid/usr/lib/ircd-hybrid /usr/lib/ircd-hybrid
/opt/ircd-hybrid/usr/sbin/ircd-hybrid -version || true
