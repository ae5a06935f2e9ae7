# Two commands a newcomer needs: `make demo` and `make test`. Both set up .venv from the lock file first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint serve lock bench clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# One worker per core, a test file per worker at a time (its module fixtures are built once).
test: $(STAMP)
	$(BIN)/python -m pytest -n auto --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .

serve: $(STAMP)
	$(BIN)/uvicorn serving.app:app --host 127.0.0.1 --port 8000

# Performance goals against their baselines (docs/benchmarks.md); drift and serving install Evidently and MLServer
# into their own venvs under benchmarks/ on first run.
bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline.py
	$(BIN)/python benchmarks/validation.py
	$(BIN)/python benchmarks/bootstrap.py
	$(BIN)/python benchmarks/model_server.py
	$(BIN)/python benchmarks/drift.py

# Re-pin every dependency (run after editing pyproject.toml).
lock:
	$(BIN)/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --extra dev \
		--no-emit-index-url --no-emit-find-links --output-file requirements.txt pyproject.toml

clean:
	rm -rf $(VENV) artifacts registry logs reports/*.json reports/*.md
