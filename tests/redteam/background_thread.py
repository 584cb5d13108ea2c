"""A thread that keeps printing forged records, guessing keys, while later cells run; and an
answer that returns a wrong vector."""
import secrets
import threading
import time


def forge():
    while True:
        print("nnlib-observation", secrets.token_hex(16), '{"value": null}')
        time.sleep(0.01)


threading.Thread(target=forge, daemon=True).start()


def row_sums(eng, a):
    return eng.zeros((a.shape[0],))
