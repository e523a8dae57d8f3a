#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Builds the Debian package from a copy of the source tree, the way a Debian 12 machine would:
#
#   tests/system/build-deb.sh SRCDIR OUTDIR
#
# SRCDIR's files (for a git checkout: tracked and untracked, not ignored; no build
# directories) are copied to $TB_DEB_DIR/src/timerbeat (default /var/tmp/tb-deb), so that
# SRCDIR gets no build products. Missing build dependencies (debian/control) are installed
# with apt-get build-dep when running as root. Then dpkg-buildpackage -us -uc -b; the .deb,
# .buildinfo and .changes are copied to OUTDIR (emptied first), with a source package
# (.dsc, .debian.tar.xz and an orig tarball of the tree without debian/) for lintian.
# If only the package's own tests (dh_auto_test) fail, this fails, but the package is built
# once more with DEB_BUILD_OPTIONS=nocheck and left in OUTDIR for the other system tests.
#
# Environment: TB_DEB_DIR (work directory), DEB_BUILD_OPTIONS (passed on, e.g. nocheck).
# Exit status 0 on success, 1 if the build failed, 2 on a setup problem.

set -euo pipefail

START=$(date +%s)
[ $# -eq 2 ] || { echo "Usage: $0 SRCDIR OUTDIR" >&2; exit 2; }
SRC=$(cd "$1" && pwd) || exit 2
OUT=$2
WORK=${TB_DEB_DIR:-/var/tmp/tb-deb}
TREE=$WORK/src/timerbeat

setup_error() { printf 'SETUP ERROR: %s\n' "$*" >&2; exit 2; }
[ -f "$SRC/debian/control" ] || setup_error "$SRC/debian/control missing"

mkdir -p "$WORK"
exec 9>"$WORK/build.lock"
flock -w 1800 9 || setup_error "another build-deb.sh holds $WORK/build.lock"
# Nothing from an earlier build may pass for this one's.
rm -rf "$OUT"
mkdir -p "$OUT"

# ---------------------------------------------------------------- 1. a clean copy
rm -rf "$WORK/src"
mkdir -p "$TREE"
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        # Files that exist: tracked ones may have been deleted in the work tree.
        git -C "$SRC" ls-files -z --cached --others --exclude-standard |
                (cd "$SRC" && while IFS= read -r -d '' f; do
                        if [ -e "$f" ] || [ -L "$f" ]; then printf '%s\0' "$f"; fi
                done) |
                tar -C "$SRC" --null -T - -cf - | tar -C "$TREE" -xf -
else
        tar -C "$SRC" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$TREE" -xf -
fi
echo "Copied $SRC to $TREE ($(find "$TREE" -type f | wc -l) files)"

# ---------------------------------------------------------------- 2. build dependencies
cd "$TREE"
if ! command -v dpkg-checkbuilddeps >/dev/null || ! dpkg-checkbuilddeps >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || { dpkg-checkbuilddeps || true; setup_error "build dependencies missing (run as root to install them)"; }
        echo "Installing the build dependencies"
        export DEBIAN_FRONTEND=noninteractive
        { apt-get update -q || true; } >"$WORK/apt.log" 2>&1
        if ! { apt-get install -y -q --no-install-recommends dpkg-dev build-essential fakeroot &&
               apt-get build-dep -y -q "$TREE"; } >>"$WORK/apt.log" 2>&1; then
                tail -30 "$WORK/apt.log"
                setup_error "installing the build dependencies failed (log: $WORK/apt.log)"
        fi
        dpkg-checkbuilddeps || setup_error "build dependencies still missing"
fi

# ---------------------------------------------------------------- 3. the source package
# Only for lintian's source checks (the .deb is built with -b below): an orig tarball of the
# tree without debian/, as an upstream release would be, and dpkg-source -b on it.
VERSION=$(dpkg-parsechangelog -S Version)
UPSTREAM=${VERSION%-*}
tar -C "$WORK/src" --exclude=timerbeat/debian --transform "s,^timerbeat,timerbeat-$UPSTREAM," \
        -czf "$WORK/src/timerbeat_$UPSTREAM.orig.tar.gz" timerbeat
if ! (cd "$WORK/src" && dpkg-source -b timerbeat) >"$WORK/source.log" 2>&1; then
        cat "$WORK/source.log"
        echo "FAIL: dpkg-source -b failed"
        exit 1
fi

# ---------------------------------------------------------------- 4. dpkg-buildpackage
# In a clean environment, as a build daemon would: nothing of the caller's (a test setup's
# TIMERBEAT_WRAPPER, a PATH with other interpreters) reaches the package's own tests.
buildpackage() { # DEB_BUILD_OPTIONS LOG
        env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME="$WORK" LANG=C.UTF-8 \
                ${1:+DEB_BUILD_OPTIONS="$1"} dpkg-buildpackage -us -uc -b >"$2" 2>&1
}
echo "dpkg-buildpackage -us -uc -b in $TREE (log: $WORK/build.log)"
RC=0
if ! buildpackage "${DEB_BUILD_OPTIONS:-}" "$WORK/build.log"; then
        tail -60 "$WORK/build.log"
        if ! grep -q '^dh_auto_test: error' "$WORK/build.log"; then
                echo "FAIL: dpkg-buildpackage failed (log: $WORK/build.log)"
                exit 1
        fi
        # This test fails; the package is built once more without its tests, so that the
        # other system tests still check it rather than fail for the same reason.
        echo "FAIL: the package's own tests (dh_auto_test) failed (log: $WORK/build.log)"
        echo "Building once more with DEB_BUILD_OPTIONS=nocheck for deb-check and deb-install"
        if ! buildpackage "${DEB_BUILD_OPTIONS:+$DEB_BUILD_OPTIONS }nocheck" "$WORK/build-nocheck.log"; then
                tail -30 "$WORK/build-nocheck.log"
                echo "FAIL: dpkg-buildpackage failed with nocheck too (log: $WORK/build-nocheck.log)"
                exit 1
        fi
        RC=1
fi
grep -E '^ *(Ok|Fail|Skipped|Timeout|Unexpected Pass|Expected Fail): ' "$WORK/build.log" | tail -n 6 | sed 's/^/    dh_auto_test: /' || true

ARCH=$(dpkg-architecture -qDEB_HOST_ARCH)
for f in "$WORK/src/timerbeat_${VERSION}_${ARCH}.deb" "$WORK/src/timerbeat_${VERSION}_${ARCH}.buildinfo" \
         "$WORK/src/timerbeat_${VERSION}_${ARCH}.changes" "$WORK"/src/timerbeat-dbgsym_"${VERSION}"_"${ARCH}".*deb \
         "$WORK/src/timerbeat_${VERSION}.dsc" "$WORK/src/timerbeat_${VERSION}.debian.tar.xz" \
         "$WORK/src/timerbeat_${UPSTREAM}.orig.tar.gz"; do
        [ -e "$f" ] && cp "$f" "$OUT/"
done
[ -f "$OUT/timerbeat_${VERSION}_${ARCH}.deb" ] || { echo "FAIL: no timerbeat_${VERSION}_${ARCH}.deb was built"; exit 1; }
echo "Built:"
(cd "$OUT" && ls -l -- *)
echo "Took $(( $(date +%s) - START ))s."
exit "$RC"
