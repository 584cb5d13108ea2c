"""The grader's sandbox: a Jupyter kernel that sees its own folder and nothing else.

Each submission runs in a kernel of its own, started under bubblewrap (``bwrap``, the sandbox
that Flatpak uses; Debian's package ``bubblewrap``), which gives it:

- its own root file system: the system's libraries, Python and its packages, and nnlib, all
  read-only; a private home holding a copy of its notebook and the book's data; a small /tmp.
  The repository (the masters, with their solutions), the autograder, the other students' folders
  and the teacher's home are not there at all;
- its own (empty) network, process, IPC and host-name namespaces, under an unprivileged user;
- no new processes: a seccomp filter lets the kernel start threads but fails ``fork``,
  ``vfork`` and ``clone`` of a process with EPERM, so a fork bomb or a shell command goes nowhere;
- limits on memory (address space), CPU time, the size of the files it writes and of its
  scratch space; the grader adds a wall-clock limit and a cap on the output it reads back;
- no terminal: the kernel's own stdout and stderr go nowhere, so ``os.write(1, ...)`` cannot
  reach the teacher's screen.

The kernel talks to the grader over Unix sockets in a folder that only the two of them share
(Jupyter's ``ipc`` transport), since it has no network. OpenCL is hidden (the grader grades on
NumPy, as the book's checks allow), and OpenBLAS gets one thread, so that grading jobs running
side by side do not fight over the cores.
"""

import functools
import json
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

ROOT = Path(__file__).resolve().parent.parent
HOME = "/home/student"            # the submission's home inside the sandbox
WORK = f"{HOME}/work"             # its working folder: its notebook and data/
USER = 65534                      # nobody


@dataclass(frozen=True)
class Limits:
    """What one submission may use. The defaults fit every chapter of the book with room to spare
    (the slowest, chapter 11, takes about 15 s and 1 GB)."""
    wall_seconds: float = 600          # the whole notebook, start-up included
    cell_seconds: float = 120          # one cell (longer ones are interrupted)
    interrupt_seconds: float = 10      # an interrupted cell's time to stop, before the end
    cpu_seconds: int = 900
    memory_bytes: int = 4 * 2**30      # address space of the kernel
    output_bytes: int = 16 * 2**20     # everything the notebook prints or displays
    file_bytes: int = 256 * 2**20      # the largest file it may write; /tmp holds as much


# ---- seccomp: threads yes, processes no -----------------------------------------------------

_ARCHES = {   # machine: (AUDIT_ARCH_*, {syscall: number})
    "x86_64": (0xC000003E, {"clone": 56, "fork": 57, "vfork": 58, "clone3": 435}),
    "aarch64": (0xC00000B7, {"clone": 220, "clone3": 435}),
}
_CLONE_THREAD = 0x00010000
_EPERM, _ENOSYS = 1, 38
_ALLOW, _KILL = 0x7FFF0000, 0x80000000
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06


def seccomp_filter(machine=None):
    """The classic-BPF program bwrap installs (``--seccomp FD``): on this architecture, ``clone``
    of a thread is allowed, ``clone`` of a process, ``fork`` and ``vfork`` fail with EPERM, and
    ``clone3`` with ENOSYS (its flags cannot be read by BPF; the C library then falls back to
    ``clone``). Any other architecture's system calls (x32, 32-bit) kill the process."""
    arch, calls = _ARCHES[machine or platform.machine()]
    errno = lambda code: 0x00050000 | code   # noqa: E731  SECCOMP_RET_ERRNO
    program = []

    def op(code, k, jt=0, jf=0):
        program.append((code, jt, jf, k))

    op(_LD_ABS, 4)                      # seccomp_data.arch
    op(_JEQ, arch, 1, 0)
    op(_RET, _KILL)
    op(_LD_ABS, 0)                      # seccomp_data.nr
    if arch == _ARCHES["x86_64"][0]:
        op(_JGE, 0x40000000, 0, 1)      # the x32 ABI's numbers
        op(_RET, _KILL)
    for name in ("fork", "vfork"):
        if name in calls:
            op(_JEQ, calls[name], 0, 1)
            op(_RET, errno(_EPERM))
    op(_JEQ, calls["clone3"], 0, 1)
    op(_RET, errno(_ENOSYS))
    op(_JEQ, calls["clone"], 0, 3)
    op(_LD_ABS, 16)                     # the low half of args[0]: clone's flags
    op(_JSET, _CLONE_THREAD, 1, 0)
    op(_RET, errno(_EPERM))
    op(_RET, _ALLOW)
    return b"".join(struct.pack("<HBBI", *instruction) for instruction in program)


# ---- what the sandbox can see ---------------------------------------------------------------

@functools.lru_cache(maxsize=None)   # one probe per Python, not one per notebook
def _python_paths(python, nnlib=True):
    """The folders ``python`` imports from, and nnlib's own folder (an editable install points
    into the repository: only nnlib/ is bound, never the repository itself); without nnlib's
    folder where ``nnlib`` is False."""
    where = "nnlib.__path__[0]" if nnlib else "sys.prefix"
    probe = (f"import json, sys, nnlib; print(json.dumps([sys.prefix, sys.base_prefix, "
             f"{where}] + [p for p in sys.path if p]))")
    found = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd="/",
                           env={"PATH": os.defpath}, timeout=60)
    if found.returncode != 0:
        raise RuntimeError(f"{python} cannot import nnlib: {found.stderr.strip()[-300:]}")
    paths = [Path(p) for p in json.loads(found.stdout)]
    private = (ROOT / "book", ROOT / "tools", ROOT / "tests", ROOT / "_build")
    kept = []
    for path in dict.fromkeys(paths):
        if not path.exists():
            continue
        if path == ROOT or any(p == path or p.is_relative_to(path) for p in private):
            continue   # a path that would show the repository: nnlib's own folder covers it
        kept.append(path)
    return kept


_SYSTEM = ["/usr", "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/fonts",
           "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf", "/etc/mime.types"]


PACKAGES = "/opt/packages"   # where ``packages`` appears inside the sandbox


def command(python, argv, run_dir, notebook=None, data=None, limits=Limits(), seccomp_fd=None,
            packages=None):
    """The bwrap command line that runs ``[python, *argv]`` in a sandbox.

    ``run_dir`` (a host folder) is shared with the grader at the same path: the kernel's
    connection file and sockets live there. ``notebook`` (a file) and ``data`` (a folder) are
    copied in read-only, to ``~/work/`` and ``~/work/data/``. ``packages``, a folder holding a
    package ``nnlib`` of the student's own (the rebuild track), replaces the installed nnlib:
    it is bound read-only at PACKAGES, first on the path, and the book's nnlib is not there."""
    args = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
            "--uid", str(USER), "--gid", str(USER), "--hostname", "sandbox"]
    for path in _SYSTEM:
        args += ["--ro-bind-try", path, path]
    for link in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    # scratch space first: what is bound below stays visible above it, even a Python that
    # lives in /tmp (a clone there, in CI)
    args += ["--proc", "/proc", "--dev", "/dev",
             "--size", str(limits.file_bytes), "--tmpfs", "/tmp",
             "--size", str(limits.file_bytes), "--tmpfs", HOME, "--dir", WORK]
    for path in _python_paths(str(python), nnlib=packages is None):
        args += ["--ro-bind", str(path), str(path)]
    if packages is not None:
        args += ["--ro-bind", str(packages), PACKAGES]
    args += ["--bind", str(run_dir), str(run_dir), "--chdir", WORK]
    if notebook is not None:
        args += ["--ro-bind", str(notebook), f"{WORK}/{Path(notebook).name}"]
    if data is not None and Path(data).is_dir():
        args += ["--ro-bind", str(data), f"{WORK}/data"]
    environment = {"HOME": HOME, "USER": "student", "LANG": "C.UTF-8", "TMPDIR": "/tmp",
                   "PATH": f"{Path(python).parent}:/usr/bin:/bin", "MPLCONFIGDIR": "/tmp/mpl",
                   "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   "OCL_ICD_VENDORS": "/nonexistent", "PYDEVD_DISABLE_FILE_VALIDATION": "1",
                   "PYTHONDONTWRITEBYTECODE": "1"}
    if packages is not None:
        environment["PYTHONPATH"] = PACKAGES
    args.append("--clearenv")
    for name, value in environment.items():
        args += ["--setenv", name, value]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    return args + ["--", str(python), "-c", _LIMITED.format(limits=_rlimits(limits))] + argv


def _rlimits(limits):
    return [("RLIMIT_AS", limits.memory_bytes), ("RLIMIT_CPU", limits.cpu_seconds),
            ("RLIMIT_FSIZE", limits.file_bytes), ("RLIMIT_CORE", 0)]


# Python inside the sandbox: set the limits (soft = hard, so they cannot be raised again), then
# run what follows on the command line as ``python -m`` would.
_LIMITED = """\
import resource, runpy, sys
for name, value in {limits}:
    resource.setrlimit(getattr(resource, name), (value, value))
sys.argv = sys.argv[1:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def unavailable(python=sys.executable):
    """Why this machine cannot run the sandbox (bwrap missing, or unable to start here), or None."""
    if shutil.which("bwrap") is None:
        return ("bubblewrap (bwrap) is not installed: apt-get install bubblewrap (Debian, "
                "Ubuntu), dnf install bubblewrap (Fedora)")
    with tempfile.TemporaryDirectory(prefix="nnlib-sandbox-") as run_dir:
        try:
            trial = subprocess.run(command(python, ["platform"], run_dir), capture_output=True,
                                   text=True, timeout=60)
        except (OSError, subprocess.SubprocessError) as error:
            return f"bwrap cannot start here: {error}"
    if trial.returncode != 0:
        last = (trial.stderr.strip().splitlines() or ["no message"])[-1]
        hint = ("; it needs unprivileged user namespaces (sysctl "
                "kernel.unprivileged_userns_clone=1, or on Ubuntu 24.04 "
                "kernel.apparmor_restrict_unprivileged_userns=0)"
                if "namespace" in last or "ermission" in last else "")
        return f"bwrap cannot start a sandbox here ({last}){hint}"
    return None


# ---- a Jupyter kernel in the sandbox --------------------------------------------------------

class SandboxedKernelManager(AsyncKernelManager):
    """Starts ipykernel inside the sandbox, talking over Unix sockets in a private run folder.
    ``notebook``, ``data`` and ``limits`` are as for :func:`command`."""

    def __init__(self, notebook=None, data=None, limits=Limits(), python=sys.executable, **kw):
        self._run_dir = tempfile.mkdtemp(prefix="nnlib-kernel-")
        os.chmod(self._run_dir, 0o777)   # the kernel's unprivileged user makes its sockets here
        super().__init__(kernel_name="python3", transport="ipc",
                         ip=os.path.join(self._run_dir, "kernel"),
                         connection_file=os.path.join(self._run_dir, "connection.json"), **kw)
        self._sandbox = dict(notebook=notebook, data=data, limits=limits, python=python)
        self._filter = None

    def format_kernel_cmd(self, extra_arguments=None):
        options = dict(self._sandbox)
        python = options.pop("python")
        return command(python, ["ipykernel_launcher", "-f", self.connection_file],
                       self._run_dir, seccomp_fd=self._filter.fileno(), **options)

    async def _async_pre_start_kernel(self, **kw):
        self._filter = tempfile.TemporaryFile()
        self._filter.write(seccomp_filter())
        self._filter.seek(0)
        kw.update(pass_fds=(self._filter.fileno(),), stdin=subprocess.DEVNULL)
        return await super()._async_pre_start_kernel(**kw)

    def write_connection_file(self, **kw):
        super().write_connection_file(**kw)
        os.chmod(self.connection_file, 0o644)

    async def _async_cleanup_resources(self, restart=False):
        await super()._async_cleanup_resources(restart)
        if self._filter is not None:
            self._filter.close()
        shutil.rmtree(self._run_dir, ignore_errors=True)
