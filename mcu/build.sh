#!/usr/bin/env bash
# Builds an image for thumbv7em-none-eabihf (Cortex-M4F, QEMU mps2-an386) with
# -Zbuild-std, installing what is missing from Debian first: the MCU bench
# (mcu/ped-mcu-bench, the default) or the PED's firmware image (mcu/ped-board).
#
# Usage: mcu/build.sh [ped-mcu-bench | ped-board]
#                                prints the path of the ELF image on its last line
#
# Why Debian's compiler: rustup's toolchain here has neither rust-src nor the thumbv7em
# target and cannot download them. Debian's rustc-web + rust-web-src (rustc 1.96) carry
# the library sources in that rustc's sysroot, so Debian's cargo can build core and
# alloc for the target (-Zbuild-std, allowed by RUSTC_BOOTSTRAP=1). rustup's cargo and
# rustc stay first on PATH; Debian's are named by full path. On a laptop with rustup,
# `rustup target add thumbv7em-none-eabihf` and a plain `cargo build --release --target
# thumbv7em-none-eabihf` in mcu/ped-mcu-bench do the same (see mcu/README.md).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
name="${1:-ped-mcu-bench}"
case "$name" in
ped-mcu-bench | ped-board) ;;
*) echo "mcu/build.sh: no image named $name (ped-mcu-bench or ped-board)" >&2; exit 2 ;;
esac
crate="$here/$name"
target=thumbv7em-none-eabihf
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$repo/target/mcu}"

log() { echo "mcu/build.sh: $*" >&2; }

# 1. Debian packages: the compiler, its library sources, QEMU, size(1) for ARM.
packages=(rustc-web cargo-web rust-web-src qemu-system-arm binutils-arm-none-eabi)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    sudo_=""
    [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# 2. Debian's rustc and cargo, by full path (rustup's stay first on PATH).
deb_rustc="$(dpkg -L rustc-web | grep -E '/bin/rustc$' | head -n1)"
deb_cargo="$(dpkg -L cargo-web | grep -E '/bin/cargo$' | head -n1)"
[ -x "$deb_rustc" ] || { log "no rustc in package rustc-web"; exit 1; }
[ -x "$deb_cargo" ] || { log "no cargo in package cargo-web"; exit 1; }
sysroot="$("$deb_rustc" --print sysroot)"
[ -f "$sysroot/lib/rustlib/src/rust/library/core/Cargo.toml" ] || {
    log "Debian's rustc ($deb_rustc) has no library sources under $sysroot/lib/rustlib/src/rust (package rust-web-src)"
    exit 1
}

# 3. A linker: rustup's rust-lld if the active toolchain has one, else Debian's lld.
linker=""
if command -v rustc >/dev/null 2>&1; then
    for l in "$(rustc --print sysroot)"/lib/rustlib/*/bin/rust-lld; do
        [ -x "$l" ] && { linker="$l"; break; }
    done
fi
if [ -z "$linker" ]; then
    for l in rust-lld ld.lld "$(ls /usr/bin/ld.lld-* 2>/dev/null | sort -V | tail -n1)"; do
        if [ -n "$l" ] && command -v "$l" >/dev/null 2>&1; then linker="$(command -v "$l")"; break; fi
    done
fi
if [ -z "$linker" ]; then
    log "no rust-lld in rustup's toolchain: installing Debian's lld"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends lld >&2
    linker="$(command -v ld.lld)"
fi

# 4. Build.
log "rustc $("$deb_rustc" --version | cut -d' ' -f2), linker $linker, target dir $CARGO_TARGET_DIR"
cd "$crate"
RUSTC="$deb_rustc" RUSTC_BOOTSTRAP=1 \
CARGO_TARGET_THUMBV7EM_NONE_EABIHF_LINKER="$linker" \
    "$deb_cargo" build --release --target "$target" \
    -Zbuild-std=core,alloc -Zbuild-std-features=compiler-builtins-mem >&2

echo "$CARGO_TARGET_DIR/$target/release/$name"
