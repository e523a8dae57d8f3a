#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs a shell test (argv[1:], e.g. bash SCRIPT ARGS...) as it is. meson runs every test
# through the test setup's exe_wrapper: `meson test --setup valgrind` (tests/valgrind/
# exe-wrapper) runs Python as it is but anything else under valgrind, which would check bash
# itself and fail on bash's own leaks. Started from Python, shell tests stay unwrapped.
import os
import sys

os.execvp(sys.argv[1], sys.argv[1:])
