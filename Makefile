# The front door: `make site` builds everything, `make test` checks everything.
# Both set themselves up on a fresh machine (virtualenv, Python and npm dependencies).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Byte-stable figures and no GUI backend, for every demo the build runs.
export SOURCE_DATE_EPOCH := 0
export MPLBACKEND := agg
export NO_MKDOCS_2_WARNING := 1

.PHONY: all figures site serve present test preflight pdf clean

all: site

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

figures: $(VENV)/.installed
	$(PY) -m handson figures

site: figures node_modules/.installed
	$(VENV)/bin/mkdocs build

serve: figures node_modules/.installed
	$(VENV)/bin/mkdocs serve

# The site on 127.0.0.1 with live demos (R reruns a slide's demo, K its knobs); PORT=8765 by default.
present: $(VENV)/.installed node_modules/.installed
	$(PY) -m handson present $(if $(PORT),--port $(PORT))

# Every slide of every deck and talk, at 16:9 and 4:3, fits and reads (headless Chromium).
preflight: site
	$(PY) -m handson preflight

# site/<deck>/<deck>.pdf and <deck>-notes.pdf for every deck and talk, linked from the reader page.
pdf: site
	$(PY) -m handson pdf

# One pytest worker per core (at most 4), each taking whole test files (their fixtures stay shared).
test: site
	$(PY) -m pytest -n auto --maxprocesses 4 --dist loadfile
	$(PY) -m handson preflight

clean:
	rm -rf site build slides/_generated
