# The front door: `make site` builds everything, `make test` checks everything.
# Both set themselves up on a fresh machine (virtualenv, Python and npm dependencies).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# Byte-stable figures and no GUI backend, for every demo the build runs.
export SOURCE_DATE_EPOCH := 0
export MPLBACKEND := agg
export NO_MKDOCS_2_WARNING := 1

.PHONY: all figures site serve test clean

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

test: site
	$(PY) -m pytest

clean:
	rm -rf site build slides/_generated
