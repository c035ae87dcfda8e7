# Every target is safe to re-run: installs skip what is already there.
SHELL := bash
CARGO ?= cargo

.PHONY: help test test-servers fmt lint check clean-test-servers

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-20s %s\n", $$1, $$2}'

test: test-servers ## install what the tests need, check format and lints, run every test
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings
	# Build with the registries reachable; the tests then run offline in a private
	# network namespace with DynamoDB Local and moto_server on its loopback.
	$(CARGO) test --workspace --locked --no-run
	infra/isolated.sh infra/test-servers.sh run $(CARGO) test --workspace --locked --offline

test-servers: ## install DynamoDB Local and moto_server if missing
	infra/test-servers.sh install

fmt: ## format the code
	$(CARGO) fmt --all

lint: ## clippy, warnings as errors
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: ## type-check everything quickly
	$(CARGO) check --workspace --all-targets
