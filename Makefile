# The two commands a newcomer needs:
#   make lab    install everything into .venv and open the course in JupyterLab
#   make test   install everything (with test tools) into .venv and run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: lab test install doctor bench clean mutate

# Jupyter refuses to run as root unless told; containers often run as root.
AS_ROOT := $(if $(filter 0,$(shell id -u 2>/dev/null)),--allow-root)

lab: $(VENV)/.installed
	$(BIN)/jupyter lab $(AS_ROOT) notebooks/00-start-here.ipynb

test: $(VENV)/.installed
	$(BIN)/python -m pytest $(PYTEST_ARGS)

doctor: $(VENV)/.installed
	$(BIN)/streamlab doctor

bench: $(VENV)/.installed
	$(BIN)/python -m streamlab.bench

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
