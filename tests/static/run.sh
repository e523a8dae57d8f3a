#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Static analysis: cppcheck, clang-tidy (.clang-tidy) and clang-format (.clang-format), each a
# pass/fail step. clang-tidy needs a clang build's compile_commands.json; this script sets one
# up in its own directory.
#
#   tests/static/run.sh [STEP...]        steps: cppcheck clang-tidy clang-format (default: all)
#
# Environment: STATIC_BUILD_DIR (default /var/tmp/timerbeat-static), STATIC_RESULTS (a file to
# append one JSON line per step to, in meson's testlog.json format).
#
# clang-format is enforced on the files listed in tests/static/formatted (those that follow
# .clang-format exactly); for everything else in src/ it prints how many lines it would change,
# as information, until src/ is reformatted and added to that list.
set -u
src="$(cd "$(dirname "$0")/../.." && pwd)"
build="${STATIC_BUILD_DIR:-/var/tmp/timerbeat-static}"
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(cppcheck clang-tidy clang-format)
failed=0

result() { # NAME OK|FAIL SECONDS
        echo "$2 static-$1 ($3s)"
        if [ -n "${STATIC_RESULTS:-}" ]; then
                printf '{"name": "static-%s", "result": "%s", "duration": %s}\n' "$1" "$2" "$3" >>"$STATIC_RESULTS"
        fi
        [ "$2" = OK ] || failed=$((failed + 1))
}

setup_clang_build() {
        [ -f "$build/compile_commands.json" ] && meson setup --reconfigure "$build" "$src" >/dev/null 2>&1 && return 0
        rm -rf "$build"
        CC=clang meson setup "$build" "$src" -Dintegration-tests=disabled -Dman=disabled >"$build.setup.log" 2>&1 ||
                { cat "$build.setup.log"; return 1; }
        # (build-config.h, the only generated header, is written by meson setup itself.)
}

run_cppcheck() {
        cppcheck --project="$build/compile_commands.json" --enable=warning,portability --error-exitcode=1 \
                --inline-suppr --suppress=missingIncludeSystem --suppressions-list="$src/tests/static/cppcheck.supp" \
                -q "-i$build"
}

run_clang_tidy() {
        local files
        # shellcheck disable=SC2207
        files=($(cd "$src" && ls src/*.c tests/fuzz/*.c))
        (cd "$src" && clang-tidy -p "$build" --quiet "${files[@]}") 2>&1 | grep -v -E '^[0-9]+ warnings? generated|^Suppressed [0-9]+ warnings'
        return "${PIPESTATUS[0]}"
}

run_clang_format() {
        local f bad=0 total=0 n
        while read -r pattern; do
                case "$pattern" in '#'* | '') continue ;; esac
                for f in $(cd "$src" && ls $pattern); do
                        if ! clang-format --dry-run --Werror "$src/$f" 2>/dev/null; then
                                echo "$f: not formatted as .clang-format says; run: clang-format -i $f"
                                bad=1
                        fi
                done
        done <"$src/tests/static/formatted"
        for f in "$src"/src/*.[ch]; do
                n=$(clang-format "$f" | diff "$f" - | grep -c '^<')
                total=$((total + n))
        done
        echo "note: clang-format would change $total of $(cat "$src"/src/*.[ch] | wc -l) lines in src/ (not enforced yet)"
        return $bad
}

for step in "${steps[@]}"; do
        start=$(date +%s)
        case "$step" in
        cppcheck | clang-tidy)
                tool=$step
                if ! command -v "$tool" >/dev/null; then
                        echo "$tool is missing (apt-get install $tool)"
                        result "$step" FAIL 0
                        continue
                fi
                if ! setup_clang_build; then
                        result "$step" FAIL 0
                        continue
                fi
                if [ "$step" = cppcheck ]; then run_cppcheck; else run_clang_tidy; fi
                ;;
        clang-format)
                command -v clang-format >/dev/null || { echo "clang-format is missing"; false; } && run_clang_format
                ;;
        *)
                echo "unknown step $step"
                false
                ;;
        esac
        status=$?
        result "$step" "$([ $status -eq 0 ] && echo OK || echo FAIL)" $(($(date +%s) - start))
done
[ $failed -eq 0 ]
