# The two commands of the README: `make book` builds the book, `make test` runs every test.
# Both set up .venv on first use (and again when requirements.txt or pyproject.toml change).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: book test export clean

book: $(VENV)/.installed
	$(BIN)/jupyter-book build . -W -n --keep-going
	@echo "The book is at $(CURDIR)/_build/html/index.html"

test: $(VENV)/.installed
	$(BIN)/python -m pytest

export: $(VENV)/.installed
	$(BIN)/python tools/export.py

$(VENV)/.installed: requirements.txt pyproject.toml tools/setup-system.sh
	bash tools/setup-system.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

clean:
	rm -rf _build $(VENV)
