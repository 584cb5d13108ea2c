#!/usr/bin/env bash
# System packages the Python requirements need: CLBlast, which pyclblast (the OpenCL engine's BLAS)
# compiles against. Installed from Debian's packages where missing; everything else comes from pip.
set -euo pipefail

if [ -e /usr/include/clblast_c.h ] || ldconfig -p 2>/dev/null | grep -q libclblast; then
    exit 0
fi
if ! command -v apt-get >/dev/null; then
    echo "CLBlast is missing: install it with your system's package manager (e.g. libclblast-dev)," >&2
    echo "then run make again. It is needed to build pyclblast for the OpenCL engine." >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "Installing Debian's libclblast-dev (CLBlast, for the OpenCL engine)..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libclblast-dev >/dev/null
