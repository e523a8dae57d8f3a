#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Builds the fuzz targets with clang, libFuzzer, ASan and UBSan in a build directory of their own
# and fuzzes each for a bounded time, starting from the seeds in tests/data. Fails if any target
# finds a crash, a sanitizer report, a broken invariant, a leak, a timeout or runs out of memory.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      (default: 60 seconds each, every target)
#
# Environment: FUZZ_BUILD_DIR (default /var/tmp/timerbeat-fuzz), FUZZ_JOBS (ninja -j),
# FUZZ_RESULTS (a file to append one JSON line per target to, in meson's testlog.json format).
# A finding is saved as $FUZZ_BUILD_DIR/artifacts/TARGET/crash-…: reproduce it with
# "$FUZZ_BUILD_DIR/tests/fuzz/TARGET FILE", fix it, and add the file to tests/data/fuzz/<dir>/,
# where every build runs it as a regression test.
set -u
src="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-60}"
shift || true
build="${FUZZ_BUILD_DIR:-/var/tmp/timerbeat-fuzz}"
jobs="${FUZZ_JOBS:-2}"

all_targets=(fuzz-config-parse fuzz-config-load fuzz-retry fuzz-url fuzz-timespan fuzz-unit-name)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")

seeds() {
        local d="$src/tests/data"
        case "$1" in
        fuzz-config-parse) echo "$d/good $d/bad $d/fuzz/config-parse" ;;
        fuzz-config-load) echo "$d/fuzz/config-load $d/good $d/bad" ;;
        *) echo "$d/fuzz/${1#fuzz-}" ;;
        esac
}

if ! command -v clang >/dev/null; then
        echo "run.sh: clang is missing (apt-get install clang)" >&2
        exit 1
fi

# Coverage for the whole library (fuzzer-no-link), the fuzzer runtime for the targets only.
if [ -f "$build/build.ninja" ]; then
        setup=(meson setup --reconfigure)
else
        setup=(meson setup)
fi
if ! CC=clang "${setup[@]}" "$build" "$src" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dc_args=-fsanitize=fuzzer-no-link -Dintegration-tests=disabled -Dman=disabled >"$build.setup.log" 2>&1; then
        cat "$build.setup.log" >&2
        exit 1
fi
ninja_targets=()
for t in "${targets[@]}"; do
        ninja_targets+=("tests/fuzz/$t")
done
if ! ninja -C "$build" -j "$jobs" "${ninja_targets[@]}" >"$build/fuzz-build.log" 2>&1; then
        cat "$build/fuzz-build.log" >&2
        exit 1
fi

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}"

failed=0
for t in "${targets[@]}"; do
        corpus="$build/corpus/$t"
        artifacts="$build/artifacts/$t"
        mkdir -p "$corpus" "$artifacts"
        rm -f "$artifacts"/*
        log="$build/$t.log"
        start=$(date +%s)
        # The first directory collects what the fuzzer finds (kept between runs); the seeds are
        # read only. -timeout: one input may take 10 s at most (a hang is a finding too).
        # shellcheck disable=SC2046
        "$build/tests/fuzz/$t" "$corpus" $(seeds "$t") \
                -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
                -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
        status=$?
        took=$(($(date +%s) - start))
        found=$(ls "$artifacts" 2>/dev/null | head -5)
        if [ $status -eq 0 ] && [ -z "$found" ]; then
                result=OK
                echo "OK   $t: $(grep -m1 -o 'stat::number_of_executed_units: [0-9]*' "$log" | grep -o '[0-9]*$') runs in ${took}s"
        else
                result=FAIL
                failed=$((failed + 1))
                echo "FAIL $t (exit $status), log $log, inputs:"
                for f in $found; do
                        echo "       $artifacts/$f"
                done
                grep -E -m5 'ERROR: |runtime error|invariant broken|SUMMARY' "$log" | sed 's/^/       /'
        fi
        if [ -n "${FUZZ_RESULTS:-}" ]; then
                printf '{"name": "fuzzrun-%s", "result": "%s", "duration": %s}\n' "$t" "$result" "$took" >>"$FUZZ_RESULTS"
        fi
done

echo "$(( ${#targets[@]} - failed )) of ${#targets[@]} fuzz targets clean after ${seconds}s each"
[ $failed -eq 0 ]
