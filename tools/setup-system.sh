#!/usr/bin/env bash
# System packages the project needs beyond pip, from Debian's packages where missing:
#   libclblast-dev  CLBlast, which pyclblast (the OpenCL engine's BLAS) compiles against
#   chromium        the headless browser of tests/test_browser.py (optional: the test skips without it)
#   bubblewrap      the sandbox the classroom grader runs each submission in (tools/sandbox.py)
# Where apt-get is missing it says what to install and carries on: tools/setup.sh then installs
# everything but pyclblast, and the tests that need what is missing skip, saying why.
set -euo pipefail

missing=()
if [ ! -e /usr/include/clblast_c.h ] && ! ldconfig -p 2>/dev/null | grep -q libclblast; then
    missing+=(libclblast-dev)
fi
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
    missing+=(chromium)
fi
if ! command -v bwrap >/dev/null; then
    missing+=(bubblewrap)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
    echo "Missing system packages: ${missing[*]}. Install them with your package manager" >&2
    echo "(CLBlast for the OpenCL engine's pyclblast; Chromium for the browser test;" \
         "bubblewrap for the classroom grader's sandbox)." >&2
    exit 0
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "Installing Debian packages: ${missing[*]} ..."
$SUDO apt-get update -qq
if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null; then
    # Chromium is optional; CLBlast and bubblewrap are not
    for needed in libclblast-dev bubblewrap; do
        if [[ " ${missing[*]} " == *" $needed "* ]]; then
            DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$needed" >/dev/null
        fi
    done
    echo "Chromium could not be installed: the browser test will be skipped." >&2
fi
