"""Engines: one per device family, all behind the interface in :mod:`nnlib.engines.base`.

``native_float()`` / ``native_double()`` (NumPy) always work. ``opencl_float()`` needs pyopencl,
pyclblast and an OpenCL device (PoCL gives one on any CPU); ``cuda_float()`` needs CuPy and an
NVIDIA GPU. Those two raise :class:`EngineUnavailable`, saying why, where they cannot start.
"""

from .base import Engine, EngineUnavailable
from .native import NativeEngine, native_double, native_float

__all__ = ["Engine", "EngineUnavailable", "NativeEngine", "native_float", "native_double",
           "opencl_float", "cuda_float", "available_engines"]


def opencl_float(device=None):
    """The OpenCL engine in float32 (pyopencl + CLBlast). ``device`` picks one by index or name."""
    from .opencl import opencl_float as make
    return make(device)


def cuda_float():
    """The CUDA engine in float32 (CuPy + cuBLAS), on the current GPU."""
    from .cuda import cuda_float as make
    return make()


ENGINES = {"native_float": native_float, "native_double": native_double,
           "opencl_float": opencl_float, "cuda_float": cuda_float}


def available_engines():
    """``{name: reason}`` for every engine: ``None`` where it starts here, else why it cannot.

    Each engine is started once to find out, and released straight away.
    """
    status = {}
    for name, make in ENGINES.items():
        try:
            make().close()
            status[name] = None
        except EngineUnavailable as e:
            status[name] = str(e)
    return status
