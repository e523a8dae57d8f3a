#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck disable=SC2015  # A && ok || fail is meant
#
# Checks the Debian package that build-deb.sh put in OUTDIR, without installing it:
#
#   tests/system/deb-check.sh OUTDIR
#
#   - lintian --pedantic on the binary build (.changes) and the source package (.dsc): no tag
#     at all, from error to pedantic, that is not overridden with a reason (all are printed);
#   - the files are where they belong (binary, units, sysusers.d, config, man pages,
#     bash completion), /etc/timerbeat/timerbeat.conf is a conffile, the dependencies
#     name the system bus and sysusers, the system unit runs /usr/bin/timerbeat;
#   - both man pages render with man --warnings without a single warning.
#
# Exit status 0 when everything passed, 1 on a failed check, 2 on a setup problem.

set -euo pipefail

[ $# -eq 1 ] || { echo "Usage: $0 OUTDIR" >&2; exit 2; }
OUT=$(cd "$1" && pwd) || exit 2
PASSED=0 FAILED=0
ok() { PASSED=$((PASSED + 1)); printf 'ok %d - %s\n' "$((PASSED + FAILED))" "$*"; }
fail() { FAILED=$((FAILED + 1)); printf 'not ok %d - %s\n' "$((PASSED + FAILED))" "$*"; }
setup_error() { printf 'SETUP ERROR: %s\n' "$*" >&2; exit 2; }

shopt -s nullglob
debs=("$OUT"/timerbeat_*.deb)
changes=("$OUT"/timerbeat_*.changes)
dscs=("$OUT"/timerbeat_*.dsc)
[ ${#debs[@]} = 1 ] && [ ${#changes[@]} = 1 ] || setup_error "expected one timerbeat_*.deb and .changes in $OUT: run build-deb.sh"
DEB=${debs[0]}

need=()
command -v lintian >/dev/null || need+=(lintian)
command -v man >/dev/null || need+=(man-db)
if [ ${#need[@]} -gt 0 ]; then
        [ "$(id -u)" = 0 ] || setup_error "missing: ${need[*]}"
        { apt-get update -q || true; DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"; } \
                >/dev/null 2>&1 || setup_error "apt-get install ${need[*]} failed"
fi

# ---------------------------------------------------------------- lintian
# --pedantic: every tag down to pedantic fails unless it is fixed or overridden with the
# reason (debian/*.lintian-overrides, debian/source/lintian-overrides); overrides (O:) and
# their comments (N:) are shown. The verdict comes from the tags printed, not from --fail-on,
# which in lintian 2.116 (Debian 12) also counts overridden tags when --show-overrides is
# given. Root is fine here (it only reads).
# package-supports-alternative-init-but-no-init.d-script: lintian 2.116 (Debian 12) still asks
# for an init.d script; Debian 13's lintian no longer has the tag, and an override for it would
# be an error there (alien-tag). timerbeat watches the systemd service manager over D-Bus:
# without systemd as init it has nothing to watch, so an init.d script would be of no use.
# out-of-date-standards-version: one source package builds on Debian 12 and 13. It declares
# 4.6.2, the newest Debian 12's lintian knows (declaring 4.7.x there draws
# newer-standards-version); Debian 13's lintian, which knows 4.7.x, reports the older one.
suppress_tags=()
if lintian-explain-tags package-supports-alternative-init-but-no-init.d-script >/dev/null 2>&1; then
        suppress_tags+=(package-supports-alternative-init-but-no-init.d-script)
fi
if lintian-explain-tags out-of-date-standards-version >/dev/null 2>&1 &&
        dpkg --compare-versions "$(lintian --version | cut -d' ' -f2 | sed 's/^v//')" ge 2.117; then
        suppress_tags+=(out-of-date-standards-version)
fi
suppress=()
if [ ${#suppress_tags[@]} -gt 0 ]; then
        suppress=(--suppress-tags "$(IFS=,; echo "${suppress_tags[*]}")")
        log_suppressed="    (suppressed, lintian $(lintian --version | cut -d' ' -f2): ${suppress_tags[*]})"
fi
# spelling-error-in-binary looks for misspelt words in the binary's printable byte runs, machine
# code included ("wtH" for "with" came and went between builds). A "word" that appears in no
# source file is a run of instruction bytes, not text: it is shown as such and not counted; a
# misspelling in our own strings (it is in src/) still fails.
SRCROOT=$(cd "$(dirname "$0")/../.." && pwd)
machine_code_spelling() {
        local line word
        while IFS= read -r line; do
                word=$(sed -n 's/^I: timerbeat: spelling-error-in-binary \([^ ]*\) .* \[usr\/bin\/timerbeat\]$/\1/p' <<<"$line")
                if [ -n "$word" ] && ! grep -rqwF -- "$word" "$SRCROOT/src"; then
                        echo "N: (not counted: '$word' is in no source file, a byte run of the machine code) ${line#I: }"
                else
                        printf '%s\n' "$line"
                fi
        done
}
for f in "${changes[0]}" "${dscs[@]}"; do
        rc=0
        [ -z "${log_suppressed:-}" ] || echo "$log_suppressed"
        tags=$(lintian --pedantic --fail-on none --display-info --show-overrides "${suppress[@]}" "$f" 2>&1) || rc=$?
        tags=$(grep -v '^running with root privileges is not recommended!$' <<<"$tags" || true)
        tags=$(machine_code_spelling <<<"$tags")
        if [ -n "$tags" ]; then printf '    %s\n' "${tags//$'\n'/$'\n    '}"; fi
        found=$(grep -c '^[EWIP]: ' <<<"$tags" || true)
        overridden=$(grep -c '^O: ' <<<"$tags" || true)
        if [ "$rc" = 0 ] && [ "$found" = 0 ]; then
                ok "lintian --pedantic $(basename "$f"): no tags ($overridden overridden with a reason)"
        else
                fail "lintian --pedantic $(basename "$f"): $found tag(s), exit status $rc"
        fi
done

# ---------------------------------------------------------------- contents
missing=()
contents=$(dpkg-deb -c "$DEB" | awk '{print $6}' | sed 's|^\./|/|')
# The system unit: /lib/systemd/system on Debian 12, /usr/lib/systemd/system from Debian 13 on
# (debhelper moves it).
UNIT=/lib/systemd/system/timerbeat.service
grep -qxF /usr/lib/systemd/system/timerbeat.service <<<"$contents" && UNIT=/usr/lib/systemd/system/timerbeat.service
for path in /usr/bin/timerbeat "$UNIT" /usr/lib/systemd/user/timerbeat.service \
            /usr/lib/sysusers.d/timerbeat.conf /etc/timerbeat/timerbeat.conf /etc/timerbeat/conf.d/ \
            /usr/share/man/man8/timerbeat.8.gz /usr/share/man/man5/timerbeat.conf.5.gz \
            /usr/share/bash-completion/completions/timerbeat /usr/share/doc/timerbeat/copyright; do
        grep -qxF -- "$path" <<<"$contents" || missing+=("$path")
done
[ ${#missing[@]} = 0 ] && ok "the package has the binary, both units, sysusers.d, config, man pages, completion" ||
        fail "not in the package: ${missing[*]}"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -e "$DEB" "$tmp/DEBIAN"
dpkg-deb -x "$DEB" "$tmp/root"
grep -qxF /etc/timerbeat/timerbeat.conf "$tmp/DEBIAN/conffiles" &&
        ok "/etc/timerbeat/timerbeat.conf is a conffile" || fail "/etc/timerbeat/timerbeat.conf is not a conffile"
depends=$(dpkg-deb -f "$DEB" Depends)
for want in 'default-dbus-system-bus | dbus-system-bus' 'systemd | systemd-standalone-sysusers' libcurl4 libinih1 libsystemd0; do
        grep -qF -- "$want" <<<"$depends" || fail "Depends lacks '$want': $depends"
done
ok "Depends: $depends"
grep -qx 'ExecStart=/usr/bin/timerbeat run' "$tmp/root$UNIT" &&
        ok "the system unit runs /usr/bin/timerbeat" || fail "the system unit does not run /usr/bin/timerbeat"
grep -q 'systemd-sysusers.*timerbeat.conf' "$tmp/DEBIAN/postinst" &&
        grep -q "deb-systemd-helper enable 'timerbeat.service'" "$tmp/DEBIAN/postinst" &&
        ok "postinst creates the user (systemd-sysusers) and enables the system unit" ||
        fail "postinst lacks systemd-sysusers or enabling timerbeat.service"

# ---------------------------------------------------------------- man pages
for page in "$tmp"/root/usr/share/man/man*/*.gz; do
        name=$(basename "$page" .gz)
        # What lintian does: warnings to stderr, output discarded.
        warnings=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null || true)
        if [ -n "$warnings" ]; then
                fail "man --warnings -l $name: $warnings"
        else
                lines=$(LC_ALL=C.UTF-8 MANWIDTH=80 man -l "$page" 2>/dev/null | wc -l)
                ok "man --warnings -l $name: no warnings ($lines lines)"
        fi
done

printf '%d passed, %d failed\n' "$PASSED" "$FAILED"
[ "$FAILED" = 0 ]
