#!/bin/sh
# Installs pedclient as docs/operations.md ("1. Install") describes
# (ped-daemon/packaging/install-daemon.sh: the binary and the seed's name for it,
# PedClient; the man page; the completions; the systemd unit; the docs).
#
#   pedclient/packaging/install.sh [BINARY]      BINARY defaults to target/release/pedclient
#
# DESTDIR stages the files under another root; PREFIX is /usr. Run as root for a real install.
set -eu
exec "$(cd "$(dirname "$0")" && pwd)/../../ped-daemon/packaging/install-daemon.sh" pedclient PedClient "$@"
