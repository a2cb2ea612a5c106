# Two commands, both from a fresh clone:
#   make lab    set everything up, then open the course in JupyterLab
#   make test   set everything up, then run the unit tests and every notebook (smoke profile) under nbval
#
# Setup = a virtual environment in .venv with the exact package versions CI tested
# (requirements/constraints.txt), coursekit installed editable, and a check that torchvision's
# compiled operators work (a torch/torchvision mismatch is the most common broken install).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.coursekit-installed
PIP    := $(BIN)/python -m pip
LAB_DIR ?= notebooks

.PHONY: lab test test-browser test-classroom setup check-env unit notebooks clean-venv lock

setup: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	@$(PYTHON) -c 'import sys; v = sys.version_info; sys.exit(0 if v >= (3, 11, 4) else "coursekit needs Python >= 3.11.4 (found %d.%d.%d); set PYTHON=python3.11" % v[:3])'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c requirements/constraints.txt -e ".[test]"
	$(MAKE) --no-print-directory check-env
	@touch $(STAMP)

check-env:
	$(BIN)/python -c "import torch, torchvision; from torchvision.ops import nms; k = nms(torch.tensor([[0., 0, 10, 10], [1, 1, 10, 10]]), torch.tensor([.9, .8]), .5); assert k.tolist() == [0], k; print('torch', torch.__version__, '| torchvision', torchvision.__version__, '| torchvision.ops.nms ok')"

lab: setup
	$(BIN)/coursekit doctor || true
	$(BIN)/jupyter lab --notebook-dir=$(LAB_DIR) $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# COURSEKIT_OFFLINE=1: the same run with or without internet (a cached dataset is still used).
# .ci/make-test.xml: every test's time (tools/measure_budgets.py turns it into the notebooks' measured budgets).
# TEST_WORKERS: pytest-xdist processes (2 = the CI machine's cores), each with one torch/OpenMP thread; notebooks
# 03 -> 05 run in order on one of them (tests/conftest.py), the other notebooks and the unit tests as workers free up.
# TEST_WORKERS=0 runs everything in one process, as before.
TEST_WORKERS ?= 2
test: setup
	COURSEKIT_PROFILE=smoke COURSEKIT_OFFLINE=1 MPLBACKEND=Agg $(if $(filter 0,$(TEST_WORKERS)),,OMP_NUM_THREADS=1) \
		$(BIN)/python -m pytest tests coursekit notebooks -m "not browser and not classroom" \
		$(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS)) --doctest-modules --nbval-lax --nbval-current-env --nbval-cell-timeout=900 -p no:cacheprovider --durations=30 \
		--junitxml=.ci/make-test.xml

# JupyterLab in headless Chromium (Debian's chromium + chromium-driver; .ci/run installs them): notebook 01's first
# cells run through the UI, a screenshot lands in .ci/artifacts/.
test-browser: setup
	$(BIN)/python -m pytest tests/browser -m browser -p no:cacheprovider -v

# The classroom server (classroom/README.md): JupyterHub on localhost with two throw-away system users (as root:
# it runs useradd/userdel). Installs the `classroom` extra (jupyterhub) and the proxy (npm, pinned by
# classroom/package-lock.json). CLASSROOM_PYTHON_BIN: a Python the test users may execute, if .venv's is not.
test-classroom: setup
	$(PIP) install --quiet -c requirements/constraints.txt -e ".[test,classroom]"
	npm ci --silent --prefix classroom
	COURSEKIT_OFFLINE=1 $(BIN)/python -m pytest tests/test_classroom.py -m classroom -p no:cacheprovider -v -s

unit: setup
	MPLBACKEND=Agg $(BIN)/python -m pytest tests coursekit --doctest-modules -m "not browser and not classroom" -p no:cacheprovider

notebooks: setup
	COURSEKIT_PROFILE=smoke $(BIN)/python -m pytest notebooks --nbval-lax --nbval-current-env -p no:cacheprovider

# Maintainers: refresh the pinned set after changing dependencies (then run `make test` and commit).
# The classroom extra (jupyterhub, for the instructor's server) is installed first so its pins stay in the set.
lock: $(STAMP)
	$(PIP) install --quiet -e ".[test,classroom]"
	{ grep "^#" requirements/constraints.txt; $(PIP) freeze --exclude-editable | sed -E 's/\+[A-Za-z0-9.]+$$//'; } > requirements/constraints.txt.new
	mv requirements/constraints.txt.new requirements/constraints.txt

clean-venv:
	rm -rf $(VENV)
