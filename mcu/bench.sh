#!/usr/bin/env bash
# Runs the MCU bench image under QEMU (mps2-an386, Cortex-M4F) with -icount shift=0
# and prints one `<name> <instructions>` line per operation, the PED's heap and stack
# peaks in the bench (`bench_ped_*`), the bench image's sizes, then `flash_bytes` and
# `static_ram_bytes` of the PED image. Notes (calibration, DWT probe) go to stderr.
# Exits non-zero if the image panics, faults or hangs. mcu/budgets.sh checks the
# figures against the budgets of issue 13.
#
# Usage: mcu/bench.sh [IMAGE]     without IMAGE, builds it first with mcu/build.sh
# Method and calibration: mcu/README.md.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if (($#)); then
    image="$1"
else
    image="$(bash "$here/build.sh" | tail -n1)"
fi
[ -f "$image" ] || { echo "mcu/bench.sh: no image at $image" >&2; exit 1; }

# The bench runs ~0.1 G guest instructions: well under a second of QEMU on one core.
# The timeout only catches a hung image (a fault loop, a lost semihosting exit).
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
status=0
timeout "${MCU_BENCH_TIMEOUT:-300}" qemu-system-arm \
    -M mps2-an386 -icount shift=0 -nographic \
    -semihosting-config enable=on,target=native \
    -monitor none -serial none \
    -kernel "$image" >"$out" 2>&1 </dev/null || status=$?

grep -E '^#' "$out" >&2 || true
grep -vE '^#' "$out" | grep -vE '^[A-Za-z0-9_]+ [0-9]+$' >&2 || true
if [ "$status" != 0 ]; then
    echo "mcu/bench.sh: the image failed (QEMU exit status $status; 124 is the timeout)" >&2
    exit 1
fi
grep -E '^[A-Za-z0-9_]+ [0-9]+$' "$out"

# Sizes (Berkeley format: text = vectors + code + rodata; static RAM = data + bss).
size_tool="$(command -v arm-none-eabi-size || command -v llvm-size || true)"
sizes() { "$size_tool" -B "$1" | tail -n1; }
if [ -n "$size_tool" ]; then
    read -r text data bss _ < <(sizes "$image")
    echo "bench_image_flash_bytes $((text + data))"
    echo "bench_image_static_ram_bytes $((data + bss))"
    # The PED image: the board's when MCU_PED_IMAGE names it, else the stand-in built
    # beside the bench (src/bin/ped-image.rs: the whole ped-firmware core, linked as a
    # PED links it, with a 64 KiB heap).
    ped_image="${MCU_PED_IMAGE:-$(dirname "$image")/ped-image}"
    if [ -f "$ped_image" ]; then
        echo "# PED image measured for flash_bytes and static_ram_bytes: $ped_image" >&2
        read -r text data bss _ < <(sizes "$ped_image")
        echo "flash_bytes $((text + data))"
        echo "static_ram_bytes $((data + bss))"
    else
        echo "mcu/bench.sh: no PED image at $ped_image: flash_bytes and static_ram_bytes skipped" >&2
    fi
else
    echo "mcu/bench.sh: no arm-none-eabi-size (binutils-arm-none-eabi) or llvm-size: sizes skipped" >&2
fi
