#!/bin/sh
# Installs pedserver as docs/operations.md ("1. Install") describes: what every daemon
# installs (ped-daemon/packaging/install-daemon.sh: the binary and the seed's name for it,
# PedServer; the man page; the completions; the systemd unit; the docs), and the udev rule.
#
#   pedserver/packaging/install.sh [BINARY]      BINARY defaults to target/release/pedserver
#
# DESTDIR stages the files under another root; PREFIX is /usr. Run as root for a real install.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
"$here/../../ped-daemon/packaging/install-daemon.sh" pedserver PedServer "$@"
install -D -m 644 "$here/60-ped.rules" "${DESTDIR:-}/etc/udev/rules.d/60-ped.rules"
