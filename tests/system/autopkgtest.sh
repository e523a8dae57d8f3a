#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The package's autopkgtests (debian/tests/control), as Debian's CI runs them, against the
# built .deb installed in a booted Debian SUITE container:
#
#   tests/system/autopkgtest.sh OUTDIR [SUITE]
#
# OUTDIR is what build-deb.sh (or build-deb-in.sh SUITE) left: the .deb and the source package
# (.dsc). The source package is unpacked with dpkg-source -x, and inside a fresh copy of a
# cached SUITE tree that also has autopkgtest and python3 ($TB_DEB_DIR/base-autopkgtest-SUITE,
# debootstrapped once), booted with systemd-nspawn, this runs
#   autopkgtest -B timerbeat_*.deb SRCDIR -- null
# (null: the tests run in that container, which is the testbed; -B: nothing is rebuilt, the
# .deb given is the one installed). Any test that fails or is skipped fails this.
#
# Environment: TB_DEB_DIR (default /var/tmp/tb-deb), TB_MIRROR, TB_KEEP=1.
# Exit status 0 when every autopkgtest passed, 1 otherwise, 2 on a setup problem.

# shellcheck disable=SC2015,SC2016,SC2317  # A && B || C is meant; dpkg-query formats in single quotes; cleanup runs from the trap
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "Usage: $0 OUTDIR [SUITE]" >&2; exit 2; }
OUT=$(cd "$1" && pwd) || exit 2
SUITE=${2:-bookworm}
WORK=${TB_DEB_DIR:-/var/tmp/tb-deb}/autopkgtest-$SUITE
# shellcheck source=tests/system/lib.sh
. "$(dirname "$0")/lib.sh"
BASE=${TB_DEB_DIR:-/var/tmp/tb-deb}/base-autopkgtest-$SUITE
ROOT=$WORK/root

cleanup() {
        local rc=$?
        set +e
        tb_cleanup
        [ "${TB_KEEP:-0}" = 1 ] || [ "$rc" != 0 ] || rm -rf "$ROOT"
        log "Took $(( $(date +%s) - TB_START ))s."
        exit "$rc"
}

shopt -s nullglob
debs=("$OUT"/timerbeat_*.deb)
dscs=("$OUT"/timerbeat_*.dsc)
shopt -u nullglob
[ ${#debs[@]} = 1 ] && [ ${#dscs[@]} = 1 ] || setup_error "expected one timerbeat_*.deb and one .dsc in $OUT: run build-deb.sh"
tb_host_tools
command -v dpkg-source >/dev/null || setup_error "dpkg-source (dpkg-dev) is missing"

mkdir -p "$WORK" "$RUN"
exec 9>"$WORK/lock"
flock -n 9 || setup_error "another autopkgtest.sh is using $WORK"
trap cleanup EXIT

tb_base "$BASE" "$(tb_packages "$SUITE"),autopkgtest,python3" "$SUITE"
rm -rf "$ROOT"
cp -a --reflink=auto "$BASE" "$ROOT"
mkdir -p "$ROOT/var/tmp/apt"
cp "${debs[0]}" "$ROOT/var/tmp/apt/"
# The source package as Debian's CI gets it: the .dsc unpacked (debian/tests from there).
dpkg-source -q -x "${dscs[0]}" "$ROOT/var/tmp/apt/src" >"$RUN/dpkg-source.log" 2>&1 ||
        { cat "$RUN/dpkg-source.log"; setup_error "dpkg-source -x ${dscs[0]} failed"; }
tb_boot "$ROOT" "tb-autopkgtest-$SUITE"

log "autopkgtest $(C dpkg-query -W -f '${Version}' autopkgtest), Debian $(tb_suite_version "$SUITE") ($SUITE), $(C systemctl --version | head -1)"
# The testbed is a booted container, which is what isolation-container asks for. The null
# runner of autopkgtest 5.28 (Debian 12) claims isolation-machine for any host; 5.49 (Debian
# 13) claims nothing, and its --fake-capability isolation-container fails an assertion (the
# scratch directory is the host's). So the restriction is waived, as it is met.
RC=0
C autopkgtest -B --ignore-restrictions=isolation-container --output-dir /var/tmp/apt/results \
        "/var/tmp/apt/$(basename "${debs[0]}")" /var/tmp/apt/src -- null \
        >"$RUN/autopkgtest.log" 2>&1 || RC=$?
sed 's/^/    /' "$RUN/autopkgtest.log"
summary=$ROOT/var/tmp/apt/results/summary
[ -f "$summary" ] || fail "autopkgtest wrote no summary (exit status $RC)"
log "--- summary"
sed 's/^/    /' "$summary"
n=$(wc -l <"$summary")
[ "$n" -ge 2 ] || fail "autopkgtest ran $n test(s), expected those of debian/tests/control"
# 0: all passed. 2: at least one skipped, 4: one failed, 8: none ran, 12/16: errors.
[ "$RC" = 0 ] || fail "autopkgtest exited $RC (2: a test skipped, 4: a test failed, 8: none ran, 12/16: testbed errors)"
if grep -qv ' PASS$' "$summary"; then fail "not every test passed"; fi
while read -r name result; do ok "autopkgtest $name: $result"; done <"$summary"
printf '%d passed, 0 failed\n' "$PASSED"
