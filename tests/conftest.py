"""Shared fixtures: every engine that starts on this machine, and the book, built once a session."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import nnlib as nn
from nnlib.engines import ENGINES

_started = {}


# CI installs CLBlast and PoCL (tools/setup.sh), so there an OpenCL engine that cannot start is a
# broken set-up, not a machine without OpenCL: the test fails instead of skipping.
MUST_START = {"opencl_float"} if os.environ.get("CI") else set()


def engine(name):
    """The engine ``name``, started once; skips the test with the reason where it cannot start
    (fails instead in CI for the engines CI must have)."""
    if name not in _started:
        try:
            _started[name] = ENGINES[name]()
        except nn.EngineUnavailable as reason:
            _started[name] = reason
    if isinstance(_started[name], nn.EngineUnavailable):
        if name in MUST_START:
            pytest.fail(f"CI must run the {name} engine: {_started[name]}")
        pytest.skip(str(_started[name]))
    return _started[name]


@pytest.fixture(params=list(ENGINES))
def any_engine(request):
    return engine(request.param)


@pytest.fixture(params=["native_float", "opencl_float", "cuda_float"])
def float_engine(request):
    return engine(request.param)


ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def sandboxed():
    """The classroom grader's sandbox (tools/sandbox.py) runs here; a test that needs it skips
    where it cannot, saying why (in CI, which installs bubblewrap, it fails instead)."""
    sys.path.insert(0, str(ROOT / "tools"))
    import sandbox

    reason = sandbox.unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the grader's sandbox: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory):
    """Build the book once (warnings are errors); return (build output, HTML folder)."""
    return build_book(tmp_path_factory.mktemp("book"))


def build_book(out, env=None):
    """Build the book into ``out`` as ``make book`` does; return (build output, HTML folder)."""
    jb = Path(sys.executable).with_name("jupyter-book")
    result = subprocess.run([str(jb), "build", str(ROOT), "--path-output", str(out),
                             "-W", "-n", "--keep-going"],
                            capture_output=True, text=True, timeout=600, env=env)
    return result, Path(out) / "_build" / "html"
