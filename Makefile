# Every target is safe to re-run: installs skip what is already there.
SHELL := bash
CARGO ?= cargo

SDK_CHECK := testing/notion-emulator/tests/sdk

.PHONY: help test test-deps lint-template deploy deploy-check local screenshots bench fuzz soak fmt lint check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

test: test-deps ## install what the tests need, check format and lints, run every test
	infra/lint-template.sh
	infra/check-deps.sh
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	# Build with the registries reachable; the tests then run offline in a private
	# network namespace with DynamoDB Local and moto_server on its loopback.
	$(CARGO) test --workspace --locked --no-run
	# Notion does not document whether text filters ignore case: the product's tests run
	# again with the emulator switched to the other answer. The load run (2,000 leads) is
	# left out of that second pass: it takes six minutes there, and `make soak` runs it in
	# both.
	infra/isolated.sh infra/test-servers.sh run bash -c '$(CARGO) test --workspace --locked --offline && NOTION_EMULATOR_TEXT_CASE=insensitive $(CARGO) test -p crm-app --locked --offline -- --skip two_thousand_leads'

test-deps: ## install DynamoDB Local, moto_server, headless Chromium + chromedriver and the official Notion SDK if missing
	infra/test-servers.sh install
	@if [ -d $(SDK_CHECK)/node_modules/@notionhq/client ]; then \
	  echo "test-deps: Notion SDK already installed in $(SDK_CHECK)"; \
	else \
	  npm ci --no-audit --no-fund --prefix $(SDK_CHECK); \
	fi

lint-template: ## sam validate --lint and cfn-lint (also after the SAM transform) on template.yaml
	infra/lint-template.sh

bench: test-deps ## measure latency, throughput, Notion calls, burst drain, cold start, memory and size; prints a table
	$(CARGO) build --release -p lead-intake -p notion-webhook -p worker -p stale-leads -p redrive
	infra/lambda-zips.sh
	$(CARGO) build --profile measure -p crm-bench
	infra/isolated.sh infra/test-servers.sh run env CARGO_TARGET_DIR=target target/measure/crm-bench

soak: test-deps ## the load run with case-insensitive text filters, then the soak at five times make test's size (1,000 leads, 200 addresses, 500 webhook events) under random faults, SOAK_RUNS=3 times
	$(CARGO) test -p crm-app --test soak --locked --no-run
	# Fresh servers for each run: DynamoDB Local keeps every earlier run's table in memory.
	NOTION_EMULATOR_TEXT_CASE=insensitive infra/isolated.sh infra/test-servers.sh run $(CARGO) test -p crm-app --test load --locked --offline
	for i in $$(seq $${SOAK_RUNS:-3}); do \
	  infra/isolated.sh infra/test-servers.sh run env CRM_SOAK=large $(CARGO) test -p crm-app --test soak --locked --offline -- --nocapture || exit 1; \
	done

fuzz: ## fuzz every signature verifier, payload parser, the Notion event and both HTTP handlers (FUZZ_SECONDS=60 per target)
	infra/fuzz.sh

local: ## run everything on 127.0.0.1 with a page at http://127.0.0.1:3000/: Notion emulator with demo data, SQLite store, Slack on the page and the console (CONFIG=crm.local.toml for real services)
	$(CARGO) run -q -p crm-cli -- serve $(if $(CONFIG),--config $(CONFIG),)

screenshots: test-deps ## the README's pictures of the local page, taken by its browser test (with an emoji font, so Slack's emoji show)
	infra/screenshots.sh

deploy: ## build every function (arm64) with cargo-lambda and deploy with SAM (guided the first time)
	infra/deploy.sh

deploy-check: ## rehearse a deploy without an account: lint, sam validate, sam build (arm64), zip sizes, first-deploy parameters
	infra/deploy-check.sh

fmt: ## format the code
	$(CARGO) fmt --all

lint: ## clippy, warnings as errors
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: ## type-check everything quickly
	$(CARGO) check --workspace --all-targets
