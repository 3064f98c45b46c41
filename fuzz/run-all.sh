#!/bin/sh
# Runs every fuzz target for N seconds each (default 60), one after the other, each
# on its corpus (corpus/<target>/, grown by libFuzzer, not committed) and its committed
# seeds (seeds/<target>/, read only). Prints each target's runs and inputs per second;
# exits 1 if any target found a crash, a hang (an input over 10 s) or failed to start.
# The input that crashed is in artifacts/<target>/, the run's output in
# target/run-all/logs/<target>.log.
#
#   fuzz/run-all.sh 60                 # every target, 60 s each
#   fuzz/run-all.sh 600 record_open    # chosen targets only
#
# Needs the nightly toolchain (rustup) and a C++ compiler (libfuzzer-sys builds
# libFuzzer); not cargo-fuzz. The flags are cargo-fuzz's with `-s none` (the crate
# forbids unsafe), and rustc-wrapper.sh leaves the curve and hash arithmetic
# uninstrumented.
set -eu
cd "$(dirname "$0")"
secs=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-$(ls fuzz_targets | sed 's/\.rs$//')}
host=$(rustc +nightly -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=target/run-all
export RUSTC_WRAPPER="$PWD/rustc-wrapper.sh"
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks \
-Zshare-generics=y"
# An explicit --target keeps the flags off build scripts and proc macros, as cargo-fuzz does.
# -Zshare-generics: the curve code that ped-proto calls (primeorder's generics for
# NistP521) runs from p521's uninstrumented instance instead of one instantiated, and
# instrumented, in ped-proto.
cargo +nightly build --release --target "$host" --bins
mkdir -p "$CARGO_TARGET_DIR/logs"
failed=
printf '%-16s %10s %10s  %s\n' target runs inputs/s result
for t in $targets; do
    mkdir -p "corpus/$t" "artifacts/$t"
    log="$CARGO_TARGET_DIR/logs/$t.log"
    if "$CARGO_TARGET_DIR/$host/release/$t" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
        -artifact_prefix="artifacts/$t/" "corpus/$t" "seeds/$t" >"$log" 2>&1; then
        result=ok
    else
        result="FAILED: see $log"
        failed="$failed $t"
    fi
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    printf '%-16s %10s %10s  %s\n' "$t" "${runs:-0}" "$(( ${runs:-0} / secs ))" "$result"
done
if [ -n "$failed" ]; then
    echo "failed:$failed" >&2
    exit 1
fi
