#!/bin/sh
# RUSTC_WRAPPER for run-all.sh: compiles the curve and hash arithmetic without the
# coverage instrumentation and without debug assertions and overflow checks, as it
# ships. Those crates have no decoders and their constant-time code gives the fuzzer no
# useful edges, while the counters and comparison hooks made every P-521 operation
# several times slower, and the overflow checks (in every limb operation) half as slow
# again. Everything else (ped-*, der, x509-cert, spki, sec1) stays instrumented and
# checked.
rustc=$1
shift
crate=
prev=
for arg in "$@"; do
    [ "$prev" = --crate-name ] && crate=$arg
    prev=$arg
done
case $crate in
    p521 | primeorder | primefield | crypto_bigint | elliptic_curve | ecdsa | rfc6979 | hash2curve | sha2 | hmac | \
        digest | block_buffer | aes | ctr | cipher | aes_kw | pbkdf2 | subtle | zeroize | ff | group | wnaf | \
        cpufeatures | hybrid_array | rand_chacha | ppv_lite86 | chacha20)
        ;;
    *) exec "$rustc" "$@" ;;
esac
for arg in "$@"; do
    shift
    case $arg in
        -Cpasses=sancov-module | -Cllvm-args=-sanitizer-coverage-* | -Cdebug-assertions | -Coverflow-checks) ;;
        *) set -- "$@" "$arg" ;;
    esac
done
exec "$rustc" "$@"
