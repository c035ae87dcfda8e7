#!/usr/bin/env bash
# Builds every function for Lambda as `sam build` does (cargo-lambda, release, arm64 by
# default) into target/lambda/<function>/: the bootstrap and the zip a deploy uploads.
# `make bench` reports their sizes.
#
#   infra/lambda-zips.sh
#   ARCH=x86_64 infra/lambda-zips.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=infra/deploy-venv.sh
. infra/deploy-venv.sh

case "$ARCH" in
  arm64) target=(--arm64) ;;
  x86_64) target=(--x86-64) ;;
esac
packages=(-p lead-intake -p notion-webhook -p worker -p stale-leads -p redrive)
# Once as the bootstrap, once as the zip (which cargo-lambda makes from the same build).
cargo lambda build --release "${target[@]}" "${packages[@]}" --lambda-dir target/lambda
cargo lambda build --release "${target[@]}" "${packages[@]}" --lambda-dir target/lambda --output-format zip
echo "lambda-zips: target/lambda/*/bootstrap and bootstrap.zip ($ARCH)"
