"""Sleeps for a day, ignoring interrupts, hoping to hang the run."""
import signal
import time

signal.signal(signal.SIGINT, signal.SIG_IGN)
time.sleep(86400)
