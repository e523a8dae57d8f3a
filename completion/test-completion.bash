#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# Tests completion/timerbeat.bash with the real bash-completion library:
#   test-completion.bash BASH_COMPLETION_LIBRARY COMPLETION_FILE
# Each case is a command line with the cursor at its end and the expected candidates.
set -u

lib=$1
file=$2
# shellcheck source=/dev/null
. "$lib" || { echo "cannot load $lib"; exit 1; }
# shellcheck source=/dev/null
. "$file" || { echo "cannot load $file"; exit 1; }

# Outside a real completion, compopt fails; record what it was asked instead.
NOSPACE=0
compopt() { [[ " $* " == *" -o nospace "* ]] && NOSPACE=1; return 0; }
# The service manager's timers; which manager was asked goes to $tmp/systemctl (this runs in
# a command substitution's subshell).
systemctl() {
        printf '%s ' "$1" >>"$tmp/systemctl"
        case "$1 $2" in
        "--system list-unit-files") printf '%s\n' 'backup.timer enabled enabled' 'apt-daily.timer enabled enabled' 'pg_dump@.timer disabled enabled' ;;
        "--system list-units") printf '%s\n' 'run-r1234.timer loaded active waiting /bin/true' 'backup.timer loaded active waiting Backup' 'pg_dump@main.timer loaded active waiting Dump' ;;
        "--user list-unit-files") printf '%s\n' 'mail-sync.timer enabled enabled' ;;
        esac
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
mkdir states
touch a.conf b.ini

failed=0 n=0
# complete LINE -> sets COMPREPLY as bash would for LINE with the cursor at its end. Words are
# split at blanks and, as COMP_WORDBREAKS does, at "=" (which becomes a word of its own).
complete_line() {
        local line=$1 p
        local -a parts words=()
        read -ra parts <<<"$line"
        for p in "${parts[@]}"; do
                while [[ $p == *=* ]]; do
                        [[ -n ${p%%=*} ]] && words+=("${p%%=*}")
                        words+=("=")
                        p=${p#*=}
                done
                [[ -n $p ]] && words+=("$p")
        done
        [[ $line == *" " ]] && words+=("")
        COMP_WORDS=("${words[@]}")
        COMP_CWORD=$((${#words[@]} - 1))
        COMP_LINE=$line
        COMP_POINT=${#line}
        COMPREPLY=()
        NOSPACE=0
        _timerbeat timerbeat "${words[COMP_CWORD]}" "${words[COMP_CWORD - 1]}"
}

# expect LINE EXPECTED [nospace]: the candidates, sorted and space-separated.
expect() {
        local got
        n=$((n + 1))
        complete_line "$1"
        got=$(printf '%s\n' "${COMPREPLY[@]}" | sed '/^$/d' | sort | tr '\n' ' ' | sed 's/ $//')
        if [[ $got != "$2" ]]; then
                printf 'not ok %d - "%s": expected "%s", got "%s"\n' "$n" "$1" "$2" "$got"
                failed=$((failed + 1))
        elif [[ ${3:-} == nospace && $NOSPACE != 1 ]]; then
                printf 'not ok %d - "%s": expected no space after the candidate\n' "$n" "$1"
                failed=$((failed + 1))
        else
                printf 'ok %d - "%s" -> "%s"\n' "$n" "$1" "$got"
        fi
}

all_options='--config= --help --log-level= --state-dir= --system --user --version -c -h'
expect 'timerbeat ' 'check list ping reload run sync'
expect 'timerbeat c' 'check'
expect 'timerbeat -' "$all_options"
expect 'timerbeat check -' "$all_options"
expect 'timerbeat run --' "${all_options% -c -h}"
expect 'timerbeat list --' "--config= --help --json --log-level= --state-dir= --system --user --version"
expect 'timerbeat ping --' "--config= --dry-run --event= --exit-code= --help --last-run --log-level= --show-secrets --state-dir= --system --user --version"
expect 'timerbeat sync --' "--config= --dry-run --help --log-level= --prune --state-dir= --system --user --version"
expect 'timerbeat sync --p' '--prune'
expect 'timerbeat ping --p' ''
expect 'timerbeat check --j' ''
expect 'timerbeat --log-l' '--log-level=' nospace
expect 'timerbeat --st' '--state-dir=' nospace
expect 'timerbeat ping --ev' '--event=' nospace
expect 'timerbeat --log-level ' 'debug err info notice warning'
expect 'timerbeat --log-level=' 'debug err info notice warning'
expect 'timerbeat --log-level=w' 'warning'
expect 'timerbeat run --log-level d' 'debug'
expect 'timerbeat ping --event=' 'failure log start success'
expect 'timerbeat ping --event s' 'start success'
expect 'timerbeat --config ' 'a.conf b.ini states'
expect 'timerbeat --config=a' 'a.conf'
expect 'timerbeat -c ' 'a.conf b.ini states'
expect 'timerbeat --state-dir ' 'states'
expect 'timerbeat --state-dir=s' 'states'
expect 'timerbeat --config a.conf ' 'check list ping reload run sync'
expect 'timerbeat --user ch' 'check'
expect 'timerbeat check ' ''
expect 'timerbeat run c' ''
expect 'timerbeat list ' ''
asked() { # EXPECTED: what systemctl was asked since the last call
        n=$((n + 1))
        local got
        got=$(cat "$tmp/systemctl" 2>/dev/null)
        rm -f "$tmp/systemctl"
        if [[ $got == "$1" ]]; then
                printf 'ok %d - systemctl asked with "%s"\n' "$n" "$got"
        else
                printf 'not ok %d - systemctl asked with "%s", expected "%s"\n' "$n" "$got" "$1"
                failed=$((failed + 1))
        fi
}
expect 'timerbeat ping ' 'apt-daily.timer backup.timer pg_dump@main.timer run-r1234.timer'
asked '--system --system '
expect 'timerbeat ping --dry-run b' 'backup.timer'
rm -f "$tmp/systemctl"
expect 'timerbeat --user ping ' 'mail-sync.timer'
asked '--user --user '
expect 'timerbeat --user ping --system ' 'apt-daily.timer backup.timer pg_dump@main.timer run-r1234.timer'
expect 'timerbeat ping backup.timer ' ''
expect 'timerbeat sync --dry-run b' 'backup.timer'
expect 'timerbeat sync backup.timer a' 'apt-daily.timer'
expect 'timerbeat --help ' ''
expect 'timerbeat --version -' ''

echo "$((n - failed)) passed, $failed failed"
[[ $failed == 0 ]]
