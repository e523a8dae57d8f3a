#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds and checks the Debian package inside a Debian SUITE container, with that release's
# own toolchain and libraries (issue 17: Debian 13 "trixie"):
#
#   tests/system/build-deb-in.sh SUITE SRCDIR OUTDIR
#
# A tree with SUITE's build dependencies, lintian and man-db is debootstrapped once into
# $TB_DEB_DIR/build-base-SUITE (a few minutes, reused while its package list is unchanged);
# each run copies it, puts a clean copy of SRCDIR there (for a git checkout: tracked and
# untracked files, not ignored ones) and runs, in a non-booted systemd-nspawn container,
# build-deb.sh (dpkg-buildpackage -us -uc -b, the package's own tests included) and then
# deb-check.sh (lintian of SUITE, contents, man pages). The results go to OUTDIR.
#
# Environment: TB_DEB_DIR (default /var/tmp/tb-deb), TB_MIRROR, TB_KEEP=1 (keep the copy).
# Exit status 0 when both passed, 1 if one failed, 2 on a setup problem.

# shellcheck disable=SC2016,SC2317  # dpkg-query formats in single quotes; cleanup runs from the trap
set -euo pipefail

[ $# -eq 3 ] || { echo "Usage: $0 SUITE SRCDIR OUTDIR" >&2; exit 2; }
SUITE=$1
SRC=$(cd "$2" && pwd) || exit 2
OUT=$3
WORK=${TB_DEB_DIR:-/var/tmp/tb-deb}/build-$SUITE
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"
BASE=${TB_DEB_DIR:-/var/tmp/tb-deb}/build-base-$SUITE
ROOT=$WORK/root

tb_host_tools
mkdir -p "$WORK" "$RUN"
exec 9>"$WORK/lock"
flock -w 1800 9 || setup_error "another build-deb-in.sh holds $WORK/lock"
rm -rf "$OUT"
mkdir -p "$OUT"

tb_base "$BASE" "$(tb_packages "$SUITE"),$(tb_build_packages "$SUITE")" "$SUITE"
rm -rf "$ROOT"
cp -a --reflink=auto "$BASE" "$ROOT"
cleanup() {
        local rc=$?
        [ "${TB_KEEP:-0}" = 1 ] || rm -rf "$ROOT"
        log "Took $(( $(date +%s) - TB_START ))s."
        exit "$rc"
}
trap cleanup EXIT

# The clean copy, as build-deb.sh makes it on the host (the container has no git).
mkdir -p "$ROOT/root/src"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$SRC" ls-files -z --cached --others --exclude-standard |
                (cd "$SRC" && while IFS= read -r -d '' f; do
                        if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
                done) |
                tar -C "$SRC" --null -T - -cf - | tar -C "$ROOT/root/src" -xf -
else
        tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$ROOT/root/src" -xf -
fi

inside() {
        systemd-nspawn -q -D "$ROOT" --register=no --keep-unit --pipe \
                -E TB_DEB_DIR=/var/tmp/tb-deb -E DEBIAN_FRONTEND=noninteractive -E LANG=C.UTF-8 "$@"
}
log "Debian $(tb_suite_version "$SUITE") ($SUITE): $(inside dpkg-query -W -f '${Package} ${Version}, ' gcc-"$(inside gcc -dumpversion)" libsystemd-dev libcurl4-openssl-dev debhelper meson lintian 2>/dev/null | sed 's/, $//')"
RC=0
inside /bin/bash /root/src/tests/system/build-deb.sh /root/src /var/tmp/out || RC=$?
[ "$RC" = 2 ] && setup_error "build-deb.sh could not run in the $SUITE container"
cp -a "$ROOT"/var/tmp/out/. "$OUT/" 2>/dev/null || true
ls "$OUT"/timerbeat_*.deb >/dev/null 2>&1 || { echo "FAIL: no .deb was built in the $SUITE container"; exit 1; }
inside /bin/bash /root/src/tests/system/deb-check.sh /var/tmp/out || RC=1
[ "$RC" = 0 ] && echo "Built and checked in Debian $(tb_suite_version "$SUITE") ($SUITE): $(cd "$OUT" && ls -- *.deb)"
exit "$RC"
