"""Rewrites builtins that a check in the kernel would use: isinstance, len, abs, and an
AssertionError that never fires; then a wrong answer."""
import builtins

builtins.isinstance = lambda *args: True
builtins.AssertionError = type("Quiet", (Exception,), {})
builtins.abs = lambda x: 0


def row_sums(eng, a):
    return eng.zeros((a.shape[0],))
