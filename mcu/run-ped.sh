#!/usr/bin/env bash
# Builds the PED's firmware image (mcu/ped-board) and runs it on QEMU's mps2-an386 with
# its three UARTs on Unix sockets (docs/board.md).
#
# Usage:
#   mcu/run-ped.sh --build-only                 builds; prints the ELF's path on its last line
#   mcu/run-ped.sh USB.sock PERIPH.sock [DEBUG.sock]
#                                               builds, then runs QEMU in the foreground:
#       UART0 (debug console) on DEBUG.sock (default: this terminal),
#       UART1 (USB link: `pedserver -device socket:USB.sock`),
#       UART2 (peripheral link: `ped-sim --board socket:PERIPH.sock`).
#
# The image is built by `mcu/build.sh ped-board` (Debian's rustc-web with -Zbuild-std,
# installed on first use).
# Set PED_BOARD_NO_BUILD=1 to run an image built before.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/mcu}"
elf="$CARGO_TARGET_DIR/$target/release/ped-board"

log() { echo "mcu/run-ped.sh: $*" >&2; }

build() {
    bash "$here/build.sh" ped-board >/dev/null
}

if [ "${1:-}" = "--build-only" ]; then
    build
    echo "$elf"
    exit 0
fi
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    sed -n '2,16p' "$0" >&2
    exit 2
fi
[ "${PED_BOARD_NO_BUILD:-}" = 1 ] || build
command -v qemu-system-arm >/dev/null || { log "qemu-system-arm is missing: run mcu/build.sh once"; exit 1; }
debug=(-serial stdio)
[ $# -eq 3 ] && debug=(-chardev "socket,id=debug,path=$3,server=on,wait=off" -serial chardev:debug)
exec qemu-system-arm -M mps2-an386 -nographic -monitor none \
    -semihosting-config enable=on,target=native \
    "${debug[@]}" \
    -chardev "socket,id=usb,path=$1,server=on,wait=off" -serial chardev:usb \
    -chardev "socket,id=periph,path=$2,server=on,wait=off" -serial chardev:periph \
    -kernel "$elf"
