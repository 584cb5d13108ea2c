"""Prints 200 MB, hoping to exhaust the grader's memory or the teacher's disk."""
line = "x" * 999
for _ in range(200_000):
    print(line)
