#!/usr/bin/env bash
# Sets up the virtual environment .venv for one of the README's commands:
#   tools/setup.sh book   what `make book` needs: Python packages only (requirements-book.txt)
#   tools/setup.sh test   what `make test` and `make lab` need (requirements.txt), after the system
#                         packages of tools/setup-system.sh where apt-get can install them
# PYTHON and VENV may be set (the Makefile passes its own).
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=${VENV:-.venv}

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip

case "${1:-}" in
  book)
    "$venv/bin/pip" install --quiet -r requirements-book.txt
    ;;
  test)
    bash tools/setup-system.sh
    if [ -e /usr/include/clblast_c.h ] || ldconfig -p 2>/dev/null | grep -q libclblast; then
      "$venv/bin/pip" install --quiet -r requirements.txt
    else
      # pyclblast compiles against CLBlast: without it, everything else, and the OpenCL engine
      # says why it cannot start (its tests skip, except in CI, where they fail)
      echo "CLBlast is missing (Debian/Ubuntu: libclblast-dev): installing without pyclblast;" \
           "the OpenCL engine will not start." >&2
      grep -v '^pyclblast==' requirements.txt > "$venv/requirements-without-clblast.txt"
      "$venv/bin/pip" install --quiet -r "$venv/requirements-without-clblast.txt"
    fi
    ;;
  *)
    echo "usage: tools/setup.sh book|test" >&2
    exit 2
    ;;
esac
"$venv/bin/pip" install --quiet --no-deps -e .
