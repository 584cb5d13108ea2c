"""The grader's sandbox (tools/sandbox.py), probed from inside by one Python process: what a
submission can see, write, reach and start. The notebooks of the red team (tests/redteam/, graded
in tests/test_classroom.py) attack it through a Jupyter kernel; this is the same fence, seen
directly."""

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import sandbox  # noqa: E402

PROBE = r'''
import json, os, socket, threading

def attempt(action):
    try:
        return repr(action())
    except BaseException as error:
        return type(error).__name__

def write(path):
    with open(path, "w") as f:
        f.write("x")
    return "written"

def connect():
    socket.create_connection(("1.1.1.1", 80), timeout=2)

def thread():
    t = threading.Thread(target=lambda: None)
    t.start()
    t.join()
    return "started"

report = {
    "uid": os.getuid(),
    "cwd": os.getcwd(),
    "listing": sorted(os.listdir(".")),
    "seen": {p: os.path.exists(p) for p in PATHS},
    "home": sorted(os.listdir(HOME)) if os.path.isdir(HOME) else None,
    "write": {p: attempt(lambda p=p: write(p)) for p in ("/tmp/x", "x", "/usr/x", NNLIB + "/x")},
    "network": attempt(connect),
    "fork": attempt(os.fork),
    "thread": attempt(thread),
    "memory": attempt(lambda: bytearray(6 * 2**30)),
    "secret": os.environ.get("NNLIB_TEST_SECRET"),
    "nnlib": attempt(lambda: __import__("nnlib").native_float().name),
}
print(json.dumps(report))
'''


@pytest.fixture(scope="module")
def inside(sandboxed, tmp_path_factory):
    import nnlib
    nnlib_dir = os.path.dirname(nnlib.__file__)
    folder = tmp_path_factory.mktemp("probe")
    paths = [str(p) for p in (ROOT / "book", ROOT / "tools", ROOT / "README.md", nnlib_dir,
                              folder)]
    (folder / "probe.py").write_text(f"PATHS = {paths!r}\nNNLIB = {nnlib_dir!r}\n"
                                     f"HOME = {str(Path.home())!r}\n" + PROBE)
    run_dir = tempfile.mkdtemp()
    notebook = folder / "02_engines.ipynb"
    notebook.write_text("{}")
    with open(folder / "filter.bpf", "wb") as f:
        f.write(sandbox.seccomp_filter())
    with open(folder / "filter.bpf", "rb") as bpf:
        command = sandbox.command(sys.executable, ["probe"], run_dir, notebook=notebook,
                                  data=ROOT / "book" / "data", seccomp_fd=bpf.fileno(),
                                  limits=sandbox.Limits(memory_bytes=3 * 2**30))
        # the probe, beside the notebook in the sandbox's working folder
        command[command.index("--chdir"):command.index("--chdir")] = [
            "--ro-bind", str(folder / "probe.py"), f"{sandbox.WORK}/probe.py"]
        environment = dict(os.environ, NNLIB_TEST_SECRET="the teacher's token")
        found = subprocess.run(command, capture_output=True, text=True, timeout=120,
                               pass_fds=(bpf.fileno(),), env=environment)
    assert found.returncode == 0, found.stderr
    return json.loads(found.stdout), str(folder), nnlib_dir


def test_it_sees_its_notebook_and_data_and_nnlib_only(inside):
    report, folder, nnlib_dir = inside
    assert report["uid"] == sandbox.USER and report["cwd"] == sandbox.WORK
    assert report["listing"] == ["02_engines.ipynb", "data", "probe.py"]
    assert report["seen"] == {str(ROOT / "book"): False, str(ROOT / "tools"): False,
                              str(ROOT / "README.md"): False, nnlib_dir: True, folder: False}
    # of the teacher's home, at most the way to Python, where Python lives there (pyenv)
    home = Path.home()
    python = [Path(p) for p in (sys.prefix, sys.base_prefix) if Path(p).is_relative_to(home)]
    assert set(report["home"] or []) <= {p.relative_to(home).parts[0] for p in python}
    assert report["nnlib"] == "'native_float'"


def test_it_writes_only_its_scratch_space(inside):
    writes = inside[0]["write"]
    assert writes["/tmp/x"] == writes["x"] == "'written'"
    assert writes["/usr/x"] == "OSError" or writes["/usr/x"].endswith("Error")
    assert writes["/usr/x"] != "'written'" and writes[inside[2] + "/x"] != "'written'"


def test_it_has_no_network_no_processes_and_a_memory_limit(inside):
    report = inside[0]
    assert report["network"] == "OSError"
    assert report["fork"] == "PermissionError"   # the seccomp filter: no new processes ...
    assert report["thread"] == "'started'"        # ... but threads, which NumPy and Jupyter need
    assert report["memory"] == "MemoryError"
    assert report["secret"] is None               # the teacher's environment stays outside


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_the_seccomp_filter_is_a_whole_program(machine):
    program = sandbox.seccomp_filter(machine)
    assert len(program) % 8 == 0 and 8 < len(program) // 8 < 64
