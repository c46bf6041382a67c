# The book's two commands: `make book` and `make test`. Both create .venv on first use.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Any Sphinx warning fails the build; --nitpick also reports every unresolved reference.
JB_FLAGS := --warningiserror --nitpick --keep-going
# One thread per numerical library: the build and the two test workers share two cores, and
# OpenMP/OpenBLAS threads competing for them made single fits 10-40x slower on a busy machine.
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1
# One seed per page, from seed_everything(), which reads MLBOOK_SEED. The site is built with
# BOOK_SEED; the nbval pass of `make test` executes every page again under TEST_SEED, so each
# hidden assertion must hold for two draws, not one lucky one (tools/seeds.py tries more).
BOOK_SEED := 0
TEST_SEED ?= 1
# The kernels read their configuration from here (tools/ipython_kernel_config.py, copied).
export IPYTHONDIR := $(CURDIR)/_build/ipython
KERNEL_CONFIG := $(IPYTHONDIR)/profile_default/ipython_kernel_config.py
# Pages executed at once when the site is built (tools/execute.py): one per core.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
# The pages run offline; make sure nothing tries to phone home.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1

# make test builds the PDF and EPUB before the page tests, which check them (tests/test_formats.py).
.PHONY: help venv book pdf epub notebooks colab test test-unit test-service test-pages bench-service serve-pins clean distclean print-jb-flags print-seeds

help:
	@echo "make book   - create .venv if needed, execute every page, build the site in _build/html"
	@echo "make test   - unit tests, site build, every page through nbval, output and timing checks"
	@echo "make pdf    - the whole book as one PDF in _build/pdf (after make book)"
	@echo "make epub   - the whole book as an EPUB in _build/epub"
	@echo "make clean  - remove _build (make distclean also removes .venv)"

# The service's pinned closure is a constraint too: the libraries the book and the service share
# (and their dependencies, which requirements.txt leaves free) are then the same versions.
$(STAMP): requirements.txt pyproject.toml deploy/requirements-serve.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "The book is pinned for Python 3.11; got " + sys.version.split()[0] + ". Run: make PYTHON=/path/to/python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@echo "Installing the pinned requirements into $(VENV) (first time: a few minutes)"
	@$(BIN)/python -m pip install --quiet --progress-bar off -r requirements.txt -c deploy/requirements-serve.txt 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
	@$(BIN)/python -m pip install --quiet --progress-bar off --no-deps --editable .
	@$(BIN)/python -m pip check
	@touch $(STAMP)

venv: $(STAMP)

# MathJax from the pinned PyPI copy, copied into the site (only the parts a page loads: 2.4 MB).
MATHJAX := _build/site-extra/mathjax/tex-mml-chtml.js
$(MATHJAX): $(STAMP)
	@$(BIN)/python -c 'import mathjax, pathlib, shutil, sys; \
	src = pathlib.Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"; \
	dst = pathlib.Path(sys.argv[1]).parent; shutil.rmtree(dst, ignore_errors=True); \
	[shutil.copytree(src / d, dst / d) for d in ("output/chtml/fonts/woff-v2", "input/tex/extensions")]; \
	shutil.copy(src / "tex-mml-chtml.js", dst)' $@

# myst-nb's execution cache is keyed on a page's code cells only, but outputs also depend on
# mlbook_utils and on the files in deploy/ that the Chapter 8 pages read: when any of them
# changes, drop the cache so that no page shows outputs of the old code.
CACHE_DEPS = mlbook_utils/*.py .dockerignore deploy/Dockerfile deploy/*.yaml deploy/*.txt deploy/k8s/*.yaml

# The fingerprint lives inside the cache folder, so a CI cache restores both together.
CACHE_STAMP := _build/.jupyter_cache/mlbook-deps.sha256

$(KERNEL_CONFIG): tools/ipython_kernel_config.py
	@mkdir -p $(@D) && cp $< $@

book: venv $(MATHJAX) $(KERNEL_CONFIG)
	@deps=$$(cat $(CACHE_DEPS) | sha256sum | cut -c1-16); \
	if [ "$$(cat $(CACHE_STAMP) 2>/dev/null)" != "$$deps" ]; then \
	  [ -d _build/.jupyter_cache ] && echo "mlbook_utils or deploy/ changed: executing every page again"; \
	  rm -rf _build/.jupyter_cache _build/.doctrees; mkdir -p _build/.jupyter_cache; echo "$$deps" > $(CACHE_STAMP); \
	else echo "execution cache: reusing $$(ls _build/.jupyter_cache/executed 2>/dev/null | wc -l) executed pages"; \
	fi
	@start=$$(date +%s); \
	MLBOOK_SEED=$(BOOK_SEED) $(BIN)/python -m tools.execute --jobs $(JOBS); \
	MLBOOK_SEED=$(BOOK_SEED) $(BIN)/jupyter-book build $(JB_FLAGS) . ; \
	echo "Built in $$(( $$(date +%s) - start )) s. Open file://$(CURDIR)/_build/html/index.html"

# The whole book as one PDF (the single-page build printed by headless Chromium, MathJax
# typeset, with bookmarks and internal links) and as an EPUB (Sphinx's builder, math as MathML).
# Both reuse the execution cache of `make book`, so no page runs again.
PDF  := _build/pdf/ml-crash-course.pdf
EPUB := _build/epub/ml-crash-course.epub

pdf: book
	@MLBOOK_SEED=$(BOOK_SEED) $(BIN)/jupyter-book build $(JB_FLAGS) --builder singlehtml . >_build/singlehtml.log 2>&1 \
	  || { cat _build/singlehtml.log; exit 1; }
	@$(BIN)/python -m tools.pdf _build/singlehtml $(PDF)

epub: book
	@rm -f _build/epub/index.html  # Jupyter Book's redirect from the last build: not an EPUB file
	@MLBOOK_SEED=$(BOOK_SEED) $(BIN)/jupyter-book build $(JB_FLAGS) --builder custom --custom-builder epub . \
	  >_build/epub.log 2>&1 || { cat _build/epub.log; exit 1; }
	@echo "wrote $(EPUB) ($$(du -h $(EPUB) | cut -f1))"

notebooks: venv
	@$(BIN)/python -m tools.notebooks _build/notebooks

# The notebooks the Colab and Binder buttons open, generated beside the pages from the pages
# and the last build (commit them; make test fails when they are out of date).
colab: book
	@$(BIN)/python -m tools.colab

test-unit: venv
	$(BIN)/python -m pytest tests/unit --doctest-modules mlbook_utils -q

# The pages as notebooks through nbval (2 workers, one notebook per worker at a time, one BLAS
# thread each so they do not fight over the two cores), the
# built site's checks and the safety-net tests, in one pytest run.
test-pages: venv notebooks $(KERNEL_CONFIG)
	MLBOOK_SEED=$(TEST_SEED) $(BIN)/python -m pytest -n 2 --dist loadscope \
	  --nbval-lax --nbval-current-env --nbval-cell-timeout=60 \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg \
	  _build/notebooks tests/test_pages.py tests/test_site.py tests/test_safety_nets.py \
	  tests/test_colab.py tests/test_binder.py tests/test_browser.py tests/test_formats.py

# The prediction service against a real uvicorn process (hostile requests, a load test) and the
# deployment files (Kubernetes schemas, Dockerfile, a venv built like the image). Run on their
# own, before the pages, so that the load test cannot slow down the page timings.
test-service: venv
	$(BIN)/python -m pytest tests/test_service.py tests/test_deploy.py -q -p no:cacheprovider
	@cat _build/load-test.txt

test: test-unit test-service book pdf epub test-pages

# The service's speed, the scikit-learn path beside the ONNX path, with one and two uvicorn
# workers: requests/s, p50 and p99 of /predict at concurrency 32, rows/s of 100-row batches.
# A benchmark, not a test (a few minutes; the figures depend on what else runs on the machine).
bench-service: venv
	$(BIN)/python -m tools.bench_service

# Regenerate deploy/requirements-serve.txt from the venv after changing a pin the service uses.
serve-pins: venv
	$(BIN)/python -m tools.serve_pins

print-jb-flags:
	@echo $(JB_FLAGS)

print-seeds:
	@echo $(BOOK_SEED) $(TEST_SEED)

clean:
	rm -rf _build

distclean: clean
	rm -rf $(VENV)
