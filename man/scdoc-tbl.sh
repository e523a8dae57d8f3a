#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# scdoc, plus two lines man(1) wants on Debian 13 (groff 1.23): the first tells it to run tbl
# (the pages have tables; without it lintian reports groff-message), and ".ad l" after .TH
# sets ragged-right text, so that narrow table cells with long words (URLs, key names) are
# not reported as "cannot adjust line".
set -e
printf '%s\n' "'\\\" t"
"$1" | sed '/^\.TH /a .ad l'
