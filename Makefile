# POS机解除停用助手 — every target sets itself up from a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := models/posbot.tar.gz
TRAINING_INPUTS := config.yml domain.yml bot/text.py $(shell find data bot/nlu -type f -not -name '*.pyc' 2>/dev/null)

# Merchants' data stays here: no telemetry, no crash reports to the vendor.
export RASA_TELEMETRY_ENABLED := false
export SQLALCHEMY_SILENCE_UBER_WARNING := 1
export TF_CPP_MIN_LOG_LEVEL := 2

.PHONY: help run shell test lint validate test-unit test-stories db clean eval bench bench-detail load \
	load-prod run-prod stop-prod docs-figures bench-net

help:
	@echo "make run    set up, train if needed, start the bot (REST :5005, actions :5055)"
	@echo "make shell  set up, chat in the terminal"
	@echo "make test   set up, then lint, unit, NLU gate, story and end-to-end tests"
	@echo "make run-prod   production profile: nginx :8080, 2 Rasa + 2 action servers, PostgreSQL, Redis"
	@echo "make stop-prod  stop it"

$(STAMP): pyproject.toml
	@PY=$$(scripts/find-python310.sh) || exit 1; \
	if [ ! -x $(BIN)/python ] || ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))'; then \
		rm -rf $(VENV); echo "creating $(VENV) with $$PY"; $$PY -m venv $(VENV) || exit 1; \
	fi
	$(BIN)/python -m pip install --quiet --upgrade "pip>=23" "setuptools>=68" wheel
	$(BIN)/python -m pip install --quiet -e ".[actions,bot,dev]"
	@touch $(STAMP)

$(MODEL): $(STAMP) $(TRAINING_INPUTS)
	$(BIN)/rasa train --fixed-model-name posbot --out models
	@touch $(MODEL)

db: $(STAMP)
	$(BIN)/posbot db setup

run: $(STAMP) db $(MODEL)
	$(BIN)/posbot serve --model $(MODEL)

shell: $(STAMP) db $(MODEL)
	$(BIN)/posbot serve --shell --model $(MODEL)

# Production profile (docs/production.md): POSBOT_DB_URL, POSBOT_TRACKER_URL and
# POSBOT_REDIS_URL from the environment; ports PROD_PORT (nginx) to PROD_PORT+12.
PROD_PORT ?= 8080
run-prod: $(STAMP) $(MODEL)
	$(BIN)/posbot prod start --base-port $(PROD_PORT) --model $(MODEL)

stop-prod: $(STAMP)
	$(BIN)/posbot prod stop --base-port $(PROD_PORT)

# Style (ruff), types (mypy over bot/ and actions/) and which way imports go (import-linter's
# contracts); all three configured in pyproject.toml.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

validate: $(STAMP)
	$(BIN)/rasa data validate --fail-on-warnings

test-unit: $(STAMP) $(MODEL)
	$(BIN)/python -m pytest -q

test-stories: $(STAMP) $(MODEL)
	$(BIN)/rasa test core --model $(MODEL) --stories tests/stories \
		--fail-on-prediction-errors --out reports/stories
	@# The same stories through the Rasa server's own command, with its speed fixes applied.
	$(BIN)/python -m bot.cli.rasa_server test core --model $(MODEL) --stories tests/stories \
		--fail-on-prediction-errors --out reports/stories-server

test: lint validate test-unit test-stories

clean:
	rm -rf models reports results .rasa .pytest_cache .ruff_cache .mypy_cache

NLU_TRAIN ?= data/nlu
NLU_TEST ?= tests/nlu/test_nlu.yml
EVAL_OUT ?= reports/eval

# Quality side by side: ours vs Rasa's stock config vs BM25 on one split (not part of `test`).
# Public text for the out-of-scope false-accept rate: SMP2017's requests to a general assistant
# (read in place, never copied here); skipped when absent or when NLU_TRAIN has no out_of_scope.
PUBLIC_OOS ?= $(wildcard ../shared/benchmarks/smp2017/train.yml ../shared/benchmarks/smp2017/test.yml)
# Public phrasing set (issue 10): real merchant questions and real look-alikes, never trained on;
# the same trained models parse it (in-domain accuracy, look-alike false-accept).
PHRASING ?= $(wildcard tests/nlu/public/test_public_nlu.yml)
# The figures in docs/ (docs/evaluation.md) are then rewritten from the report, but only for the
# project's own split (the default NLU_TRAIN, NLU_TEST and EVAL_OUT), never for another corpus.
DOCS_EVAL := $(and $(filter data/nlu,$(NLU_TRAIN)),$(filter tests/nlu/test_nlu.yml,$(NLU_TEST)),$(filter reports/eval,$(EVAL_OUT)))
eval: $(STAMP)
	$(BIN)/python -m bot.quality.evaluate --train $(NLU_TRAIN) --test $(NLU_TEST) --out $(EVAL_OUT) \
		--public-oos $(PUBLIC_OOS) $(if $(PHRASING),--phrasing $(PHRASING))
	$(if $(DOCS_EVAL),$(BIN)/python -m bot.quality.docs_figures eval --eval $(EVAL_OUT)/summary.md)

# Rewrites every figures block in README.md and docs/ from the reports that exist
# (reports/eval, reports/bench, load/results).
docs-figures: $(STAMP)
	$(BIN)/python -m bot.quality.docs_figures

# Both profiles under the same load script, side by side, and the cost of a turn as one
# conversation grows (not part of `test`; a few minutes). The single process of `make run`
# and the production profile (nginx on 127.0.0.1:5470, its own PostgreSQL database
# posbot_bench, recreated and dropped, Redis db 11; skipped with the reason when PostgreSQL,
# Redis or nginx is unavailable). Writes reports/bench/summary.md, chart.svg, bench.json.
# Then the content store's NLG against the previous generator on the single process
# (load/bench_nlg.py; reports/bench/nlg.md, p95 within 10 %).
BENCH_ARGS ?=
bench: $(STAMP) $(MODEL)
	$(BIN)/python -m load.bench --out reports/bench $(BENCH_ARGS)
	$(BIN)/python -m load.bench_nlg --out reports/bench
	$(BIN)/python -m load.bench_console --out reports/bench/console.md
	$(BIN)/python -m bot.quality.docs_figures bench bench_targets

# In-process detail (not part of `test`; ~10 min): NLU parse, one Rasa process at 1/10/50
# concurrent, memory, case look-up up to 10^6 rows, training, a py-spy profile.
bench-detail: $(STAMP) $(MODEL)
	$(BIN)/python -m bot.quality.bench --out reports/bench/detail

# The production profile's tiers as separate hosts (network namespaces, veth links, a bridge)
# at 0, 0.5 and 2 ms round trip: turn latency and DB/Redis round trips per turn. Needs root;
# writes why it is skipped where namespaces are not allowed. Not part of `test`.
NETSIM_ARGS ?=
bench-net: $(STAMP) $(MODEL)
	$(BIN)/python -m bot.quality.netsim --out reports/bench/netsim.md $(NETSIM_ARGS)

# Load test (not part of `test`): locust headless on 127.0.0.1, bounded in users, time and
# requests; writes load/results/default.md (committed) and the table in docs/benchmarks.md.
# Starts and stops its own servers (ports 5500/5501, SQLite store in var/load/).
LOAD_ARGS ?= --users 50 --spawn-rate 5 --run-time 60 --max-requests 3000
load: $(STAMP) $(MODEL)
	$(BIN)/python -m load.run default $(LOAD_ARGS) --out load/results/default.md
	$(BIN)/python -m bot.quality.docs_figures load

# The same against the production profile: starts `posbot prod start` (nginx on 127.0.0.1:5510)
# with its own PostgreSQL database posbot_load (recreated) and Redis db 9; writes
# load/results/prod.md. To load a profile already running instead:
# make load-prod PROD_URL=http://127.0.0.1:8080 PROD_DB_URL=postgresql://…
PROD_URL ?=
PROD_DB_URL ?= postgresql://postgres@127.0.0.1:5432/test
load-prod: $(STAMP) $(MODEL)
	$(BIN)/python -m load.run prod $(LOAD_ARGS) --out load/results/prod.md \
		$(if $(PROD_URL),--url $(PROD_URL) --case-db-url $(PROD_DB_URL) --tracker-db-url $(PROD_DB_URL))
	$(BIN)/python -m bot.quality.docs_figures load
