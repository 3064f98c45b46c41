#!/bin/sh
# Installs pedclient as docs/operations.md ("1. Install") describes: the binary and the
# seed's name for it, PedClient (a symlink: `PedClient -m start` works as in the Luna
# documentation); the man page; the bash, zsh and fish completions (for both names); the
# systemd unit and the udev rule; the docs that the unit's Documentation= names.
#
#   pedclient/packaging/install.sh [BINARY]      BINARY defaults to target/release/pedclient
#
# DESTDIR stages the files under another root (a package build); PREFIX is /usr (the
# unit's ExecStart names /usr/bin/pedclient). Run as root for a real install.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
binary=${1:-$top/target/release/pedclient}
prefix=${PREFIX:-/usr}
root=${DESTDIR:-}
share=$root$prefix/share
# zsh looks in vendor-completions on Debian and Ubuntu, in site-functions elsewhere.
zsh=site-functions
if [ -d "$prefix/share/zsh/vendor-completions" ]; then zsh=vendor-completions; fi

install -D -m 755 "$binary" "$root$prefix/bin/pedclient"
ln -sfn pedclient "$root$prefix/bin/PedClient"
install -D -m 644 "$here/pedclient.1" "$share/man/man1/pedclient.1"
ln -sfn pedclient.1 "$share/man/man1/PedClient.1"
install -D -m 644 "$here/completions/pedclient.bash" "$share/bash-completion/completions/pedclient"
ln -sfn pedclient "$share/bash-completion/completions/PedClient"
install -D -m 644 "$here/completions/_pedclient" "$share/zsh/$zsh/_pedclient"
install -D -m 644 "$here/completions/pedclient.fish" "$share/fish/vendor_completions.d/pedclient.fish"
ln -sfn pedclient.fish "$share/fish/vendor_completions.d/PedClient.fish"
install -D -m 644 "$here/pedclient.service" "$root/etc/systemd/system/pedclient.service"
install -D -m 644 "$top/docs/pedclient.md" "$share/doc/pedclient/pedclient.md"
install -D -m 644 "$top/docs/operations.md" "$share/doc/pedclient/operations.md"
