# `make run` serves the product; `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOTLINE := $(VENV)/bin/hotline
STAMP := $(VENV)/.installed

.PHONY: install index run test bench clean

$(STAMP): setup.cfg pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	# the CPU build of torch first: a plain `torch` requirement would pull a multi-GB CUDA build
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

index: install
	$(HOTLINE) index --if-stale

run: index
	$(HOTLINE) serve

test: index
	$(PY) -m pytest -q

bench: index
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) var
