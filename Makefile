# The README's commands: `make book` builds the book, `make test` runs every test, and
# `make lab` opens the chapters in JupyterLab to run them yourself. Each sets up .venv on first use
# (tools/setup.sh), and again when what it installs changes. `make book` needs Python only; the
# others first install CLBlast and Chromium with apt-get where they are missing and apt-get exists.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP = PYTHON=$(PYTHON) VENV=$(VENV) bash tools/setup.sh

.PHONY: book test lab export requirements clean
.PHONY: grade-package rebuild-edition classroom grade

book: $(VENV)/.book-installed
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: $(VENV)/.installed
	$(BIN)/python -m pytest

# JupyterLab refuses to run as root unless told to (containers and CI machines often are root)
lab: $(VENV)/.installed
	$(BIN)/jupyter lab --notebook-dir=book $(if $(filter 0,$(shell id -u)),--allow-root)

export: $(VENV)/.installed
	$(BIN)/python tools/export.py

# The rebuild-nnlib track (tools/rebuild.py): `make rebuild-edition` writes the student edition of
# the package chapters (stubs to fill in) to _build/classroom/rebuild/; `make grade-package
# CHAPTER=4 SUBMISSION=DIR` grades one chapter (all five without CHAPTER) with the book's checks,
# in the grader's sandbox (UNSAFE=1 grades trusted chapters without it).
REBUILD_EDITION := _build/classroom/rebuild
SUBMISSION ?= $(REBUILD_EDITION)

rebuild-edition: $(VENV)/.installed
	$(BIN)/python tools/rebuild.py build $(REBUILD_EDITION)

grade-package: $(VENV)/.installed
	$(BIN)/python tools/rebuild.py grade $(CHAPTER) --submission $(SUBMISSION) \
	    $(if $(UNSAFE),--unsafe)

# The classroom edition (tools/classroom.py): `make classroom` writes the student edition of the
# chapters (solutions removed) to _build/classroom/student/ and what the grader reads besides its
# judges (tools/judges/) to _build/classroom/autograder/; `make grade SUBMISSIONS=DIR` grades every
# notebook in DIR and its folders, JOBS at a time (default: one per core), each in its own
# sandbox (bubblewrap; UNSAFE=1 grades trusted notebooks without it), writes
# _build/classroom/grades.csv and puts the written answers to read in _build/classroom/written/.
CLASSROOM := _build/classroom
SUBMISSIONS ?= $(CLASSROOM)/student
JOBS ?= 0

classroom: $(VENV)/.installed
	$(BIN)/python tools/classroom.py build $(CLASSROOM)

grade: classroom
	$(BIN)/python tools/classroom.py grade $(SUBMISSIONS) --autograder $(CLASSROOM)/autograder \
	    --table $(CLASSROOM)/grades.csv --jobs $(JOBS) $(if $(UNSAFE),--unsafe)

# Re-pin requirements*.txt from pyproject.toml's extras (the "# via" lines say why each pin is
# there); existing pins are kept where they still fit, `UPGRADE=1` takes the newest.
requirements: $(VENV)/.installed
	$(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile $(if $(UPGRADE),--upgrade) pyproject.toml -o requirements.txt \
	    --extra opencl --extra book --extra docs --extra test --extra lab
	$(BIN)/uv pip compile pyproject.toml -o requirements-book.txt -c requirements.txt \
	    --extra book --extra docs

$(VENV)/.book-installed: requirements-book.txt pyproject.toml tools/setup.sh
	$(SETUP) book
	touch $@

$(VENV)/.installed: requirements.txt pyproject.toml tools/setup.sh tools/setup-system.sh
	$(SETUP) test
	touch $@ $(VENV)/.book-installed

clean:
	rm -rf _build $(VENV)
