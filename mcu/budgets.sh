#!/usr/bin/env bash
# Checks the MCU bench's figures against the PED's budgets (issue 13) and fails,
# naming each figure over its budget, its value and the budget.
#
# Usage: mcu/budgets.sh                 runs mcu/bench.sh (building first), then checks
#        mcu/budgets.sh FIGURES...      checks `<name> <value>` lines read from files
#                                       (e.g. a saved bench output)
# MCU_BOARD_FIGURES=FILE adds lines from the board image's debug console (its
# `heap_peak_bytes` and `stack_peak_bytes` after a ceremony, as tests/tests/mcu_ped.rs
# prints them); they are checked beside the PED's peaks in the bench
# (`bench_ped_heap_peak_bytes`, `bench_ped_stack_peak_bytes`). MCU_PED_IMAGE=ELF makes
# `flash_bytes` that image's (mcu/bench.sh). Exit status: 0 all within budget, 1 a budget
# exceeded or a figure missing, 2 the bench itself failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
figures="$(mktemp)"
trap 'rm -f "$figures"' EXIT
if (($#)); then
    cat "$@" >"$figures"
else
    bash "$here/bench.sh" >"$figures" || { echo "mcu/budgets.sh: the bench failed" >&2; exit 2; }
    cat "$figures"
fi
if [ -n "${MCU_BOARD_FIGURES:-}" ]; then
    grep -E '^[A-Za-z0-9_]+ [0-9]+$' "$MCU_BOARD_FIGURES" >>"$figures" || true
fi

value() { awk -v n="$1" '$1 == n { v = $2 } END { if (v != "") print v }' "$figures"; }

failed=0
# check NAME VALUE BUDGET [WHAT]
check() {
    local name="$1" v="$2" budget="$3" what="${4:-$1}"
    if [ -z "$v" ]; then
        echo "mcu/budgets.sh: MISSING $what: no figure (budget $budget)" >&2
        failed=1
    elif ((v > budget)); then
        echo "mcu/budgets.sh: OVER BUDGET $what = $v > $budget (by $((v - budget)))" >&2
        failed=1
    else
        echo "mcu/budgets.sh: ok $what = $v <= $budget" >&2
    fi
}

M=1000000
KiB=1024
check ped_side_c2e2s_warm "$(value ped_side_c2e2s_warm)" $((45 * M))
check ped_side_c2e2s_cold "$(value ped_side_c2e2s_cold)" $((120 * M))
# The strictest reading of "first contact": a brand-new PED, no certificate link cached.
check ped_side_c2e2s_first_hsm "$(value ped_side_c2e2s_first_hsm)" $((120 * M))
check pin_unlock_32B "$(value pin_unlock_32B)" $((20 * M))
check pin_unlock_orange "$(value pin_unlock_orange)" $((20 * M))
seal="$(value record_16k_seal)"
open="$(value record_16k_open)"
check record_16k "${seal:+${open:+$((seal + open))}}" $((12 * M)) "record_16k_seal + record_16k_open"
check flash_bytes "$(value flash_bytes)" $((256 * KiB))
# Both peaks twice: the board image's after a real ceremony (MCU_BOARD_FIGURES), and the
# PED's in the bench, whose operations include the worst case (a 16 KiB record).
for peak in heap stack; do
    [ "$peak" = heap ] && budget=$((48 * KiB)) || budget=$((24 * KiB))
    check "bench_ped_${peak}_peak_bytes" "$(value "bench_ped_${peak}_peak_bytes")" "$budget"
    if [ -n "${MCU_BOARD_FIGURES:-}" ]; then
        check "${peak}_peak_bytes" "$(value "${peak}_peak_bytes")" "$budget" "${peak}_peak_bytes (the board image)"
    fi
done
if ((failed)); then
    echo "mcu/budgets.sh: FAILED: a PED budget is exceeded or a figure is missing (budgets: issue 13, mcu/README.md)" >&2
    exit 1
fi
echo "mcu/budgets.sh: every PED budget is met" >&2
