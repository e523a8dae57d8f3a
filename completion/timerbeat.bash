# SPDX-License-Identifier: LGPL-2.1-or-later
# bash completion for timerbeat(8). Installed as "timerbeat" in bash-completion's
# completionsdir, where bash-completion loads it the first time "timerbeat <TAB>" is typed.
#
# Data-driven: a new command or option is one entry in the tables at the top of _timerbeat.

# Completes a value of kind $1 (file, dir, level, event, code, timer) for the word $2.
# $3...: the options on the command line that select the service manager (--user, --system).
_timerbeat_complete_value() {
        local kind=$1 cur=$2
        shift 2
        case $kind in
        file) _filedir ;;
        dir) _filedir -d ;;
        level) mapfile -t COMPREPLY < <(compgen -W 'err warning notice info debug' -- "$cur") ;;
        event) mapfile -t COMPREPLY < <(compgen -W 'success start failure log' -- "$cur") ;;
        code) mapfile -t COMPREPLY < <(compgen -W '1 2 3 124 137' -- "$cur") ;;
        timer)
                # The timers of the service manager timerbeat would use: installed and loaded ones
                # (templates, name@.timer, are not units one can ping).
                local manager=--system units a
                for a; do [[ $a == --user || $a == --system ]] && manager=$a; done # the last one wins
                units=$({
                        systemctl "$manager" list-unit-files --no-legend --no-pager --plain '*.timer'
                        systemctl "$manager" list-units --all --no-legend --no-pager --plain '*.timer'
                } 2>/dev/null | awk '$1 ~ /\.timer$/ && $1 !~ /@\.timer$/ { print $1 }' | sort -u)
                mapfile -t COMPREPLY < <(compgen -W "$units" -- "$cur")
                ;;
        *) COMPREPLY=() ;;
        esac
}

_timerbeat() {
        # Commands (one per command line).
        local -a commands=(run check list ping reload sync)
        # Options without a value.
        local -a flags=(-h --help --version --user --system --json --dry-run --show-secrets --last-run --prune)
        # Options with a value, and the kind of value (see _timerbeat_complete_value).
        local -A values=(
                [-c]=file
                [--config]=file
                [--state-dir]=dir
                [--log-level]=level
                [--event]=event
                [--exit-code]=code
        )
        # Options of some commands only (space-separated), offered once one is on the line.
        local -A command_of=(
                [--json]=list
                [--event]=ping
                [--exit-code]=ping
                [--last-run]=ping
                [--dry-run]="ping sync"
                [--show-secrets]=ping
                [--prune]=sync
        )
        # Commands that take arguments: the kind of each (one a word).
        local -A command_args=(
                [ping]=timer
                [sync]=timer
        )
        # Commands that take any number of them.
        local -a command_args_many=(sync)
        # Options after which nothing else makes sense.
        local -a final=(-h --help --version)

        local cur prev words cword split
        _init_completion -s || return

        # The value of an option: "--config FILE", "--config=FILE", "-c FILE".
        if [[ -n $prev && -n ${values[$prev]+set} ]]; then
                _timerbeat_complete_value "${values[$prev]}" "$cur"
                return
        fi
        $split && return

        # What the words before this one already say.
        local i w command=
        local -a args=() managers=()
        for ((i = 1; i < cword; i++)); do
                w=${words[i]}
                if [[ -n $w && -n ${values[$w]+set} ]]; then
                        ((i++)) # the option's value
                        continue
                fi
                [[ " ${final[*]} " == *" $w "* ]] && return
                [[ $w == --user || $w == --system ]] && managers+=("$w")
                if [[ $w != -* ]]; then
                        if [[ -z $command ]]; then command=$w; else args+=("$w"); fi
                fi
        done

        if [[ $cur == -* ]]; then
                local -a opts=()
                local o
                for o in "${flags[@]}" "${!values[@]}"; do
                        [[ -n ${command_of[$o]+set} && " ${command_of[$o]} " != *" $command "* ]] && continue
                        # Long options that take a value are offered as "--option=".
                        if [[ $o == --* && -n ${values[$o]+set} ]]; then opts+=("$o="); else opts+=("$o"); fi
                done
                mapfile -t COMPREPLY < <(compgen -W "${opts[*]}" -- "$cur")
                # No space after "--option=": its value follows.
                [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *= ]] && compopt -o nospace
        elif [[ -z $command ]]; then
                mapfile -t COMPREPLY < <(compgen -W "${commands[*]}" -- "$cur")
        elif [[ -n ${command_args[$command]+set} ]] &&
                [[ ${#args[@]} -eq 0 || " ${command_args_many[*]} " == *" $command "* ]]; then
                _timerbeat_complete_value "${command_args[$command]}" "$cur" "${managers[@]}"
        fi
} &&
        complete -F _timerbeat timerbeat

# ex: filetype=sh
