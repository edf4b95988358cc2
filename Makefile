# `make run` serves the product; `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HOTLINE := $(VENV)/bin/hotline
STAMP := $(VENV)/.installed

.PHONY: install index run test bench clean chromium

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

# Browser tests drive Debian's Chromium (Playwright cannot download its own browser offline); the CJK font
# makes screenshots legible. Quick no-op when it is there; when it cannot be installed the browser tests skip,
# except in CI, where that is an error.
CHROMIUM_PKGS := chromium fonts-wqy-microhei
chromium:
	@test -x /usr/bin/chromium || apt-get install -y -qq --no-install-recommends $(CHROMIUM_PKGS) \
	  || { apt-get update -qq && apt-get install -y -qq --no-install-recommends $(CHROMIUM_PKGS); } \
	  || { echo "could not install chromium: browser tests will be skipped"; test -z "$$CI"; }

test: index chromium
	$(PY) -m pytest -q

bench: index
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) var
