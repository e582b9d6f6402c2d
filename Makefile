# Zīme: the two commands a newcomer needs (see README.md).
#   make run   set up .venv and start the bot (console frontend when no token is configured)
#   make test  set up .venv and run lint, types and tests
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.zime-installed
CONFIG ?= config.toml
# The pinned torch wheel: on this CPU machine pip takes the small CPU build from local disk;
# on a GPU server the same pin resolves to PyPI's CUDA build.
TORCH  ?= torch==2.13.0

.PHONY: run test setup lint clean locale

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(CONFIG):
	cp config.example.toml $(CONFIG)

run: $(STAMP) $(CONFIG)
	$(PY) -m bot --config $(CONFIG) $(ARGS)

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/hadolint Dockerfile

test: lint
	$(PY) -m pytest -q

# Re-extract the bot's texts into bot/locale/zime.pot and merge them into every catalog
# (then translate the new empty msgstr entries). A new language: see README.
locale: $(STAMP)
	$(VENV)/bin/pybabel extract -F babel.cfg -k t:2 -k N_ --no-default-keywords --no-location \
		--omit-header --sort-output -o bot/locale/zime.pot .
	$(VENV)/bin/pybabel update -i bot/locale/zime.pot -d bot/locale -D zime --no-fuzzy-matching

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
