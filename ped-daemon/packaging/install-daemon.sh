#!/bin/sh
# Installs daemon NAME (pedserver or pedclient) as docs/operations.md ("1. Install")
# describes: the binary and the seed's name SEED_NAME for it (a symlink: `PedServer -m
# start` works as in the Luna documentation); the man page; the bash, zsh and fish
# completions (for both names); the systemd unit; the docs that the unit's
# Documentation= names. Each daemon's packaging/install.sh calls this with its names.
#
#   install-daemon.sh NAME SEED_NAME [BINARY]     BINARY defaults to target/release/NAME
#
# DESTDIR stages the files under another root (a package build); PREFIX is /usr (the
# units' ExecStart names /usr/bin/NAME). Run as root for a real install.
set -eu
name=$1
seed=$2
top=$(cd "$(dirname "$0")/../.." && pwd)
here=$top/$name/packaging
binary=${3:-$top/target/release/$name}
prefix=${PREFIX:-/usr}
root=${DESTDIR:-}
share=$root$prefix/share
# zsh looks in vendor-completions on Debian and Ubuntu, in site-functions elsewhere.
zsh=site-functions
if [ -d "$prefix/share/zsh/vendor-completions" ]; then zsh=vendor-completions; fi

install -D -m 755 "$binary" "$root$prefix/bin/$name"
ln -sfn "$name" "$root$prefix/bin/$seed"
install -D -m 644 "$here/$name.1" "$share/man/man1/$name.1"
ln -sfn "$name.1" "$share/man/man1/$seed.1"
install -D -m 644 "$here/completions/$name.bash" "$share/bash-completion/completions/$name"
ln -sfn "$name" "$share/bash-completion/completions/$seed"
install -D -m 644 "$here/completions/_$name" "$share/zsh/$zsh/_$name"
install -D -m 644 "$here/completions/$name.fish" "$share/fish/vendor_completions.d/$name.fish"
ln -sfn "$name.fish" "$share/fish/vendor_completions.d/$seed.fish"
install -D -m 644 "$here/$name.service" "$root/etc/systemd/system/$name.service"
install -D -m 644 "$top/docs/$name.md" "$share/doc/$name/$name.md"
install -D -m 644 "$top/docs/operations.md" "$share/doc/$name/operations.md"
