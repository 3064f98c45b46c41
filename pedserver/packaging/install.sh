#!/bin/sh
# Installs pedserver as docs/operations.md ("1. Install") describes: the binary and the
# seed's name for it, PedServer (a symlink: `PedServer -m start` works as in the Luna
# documentation); the man page; the bash, zsh and fish completions (for both names); the
# systemd unit and the udev rule; the docs that the unit's Documentation= names.
#
#   pedserver/packaging/install.sh [BINARY]      BINARY defaults to target/release/pedserver
#
# DESTDIR stages the files under another root (a package build); PREFIX is /usr (the
# unit's ExecStart names /usr/bin/pedserver). Run as root for a real install.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
binary=${1:-$top/target/release/pedserver}
prefix=${PREFIX:-/usr}
root=${DESTDIR:-}
share=$root$prefix/share
# zsh looks in vendor-completions on Debian and Ubuntu, in site-functions elsewhere.
zsh=site-functions
if [ -d "$prefix/share/zsh/vendor-completions" ]; then zsh=vendor-completions; fi

install -D -m 755 "$binary" "$root$prefix/bin/pedserver"
ln -sfn pedserver "$root$prefix/bin/PedServer"
install -D -m 644 "$here/pedserver.1" "$share/man/man1/pedserver.1"
ln -sfn pedserver.1 "$share/man/man1/PedServer.1"
install -D -m 644 "$here/completions/pedserver.bash" "$share/bash-completion/completions/pedserver"
ln -sfn pedserver "$share/bash-completion/completions/PedServer"
install -D -m 644 "$here/completions/_pedserver" "$share/zsh/$zsh/_pedserver"
install -D -m 644 "$here/completions/pedserver.fish" "$share/fish/vendor_completions.d/pedserver.fish"
ln -sfn pedserver.fish "$share/fish/vendor_completions.d/PedServer.fish"
install -D -m 644 "$here/pedserver.service" "$root/etc/systemd/system/pedserver.service"
install -D -m 644 "$here/60-ped.rules" "$root/etc/udev/rules.d/60-ped.rules"
install -D -m 644 "$top/docs/pedserver.md" "$share/doc/pedserver/pedserver.md"
install -D -m 644 "$top/docs/operations.md" "$share/doc/pedserver/operations.md"
