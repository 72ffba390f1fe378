# Two commands set everything up: `make run` and `make test`. Both build on `make install`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test bench clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c requirements.lock -e '.[test]'
	touch $(STAMP)

run: install
	$(BIN)/openpersonalize serve --host 127.0.0.1 --port 8080 --data-dir ./var

# The API-level tests run twice: on SQLite (the whole suite), then with the metadata on PostgreSQL, which
# tests/_postgres.py starts on loopback (installing Debian's postgresql when missing).
POSTGRES_TESTS := tests/api tests/control tests/jobs tests/serving tests/security tests/test_crash.py \
	tests/data/test_metadata.py tests/data/test_migrations.py

test: install
	OPENBLAS_NUM_THREADS=1 $(BIN)/python -m pytest
	OPENBLAS_NUM_THREADS=1 OPENPERSONALIZE_TEST_METADATA=postgresql $(BIN)/python -m pytest $(POSTGRES_TESTS)

bench: install
	$(BIN)/python bench/import.py

clean:
	rm -rf $(VENV) var
