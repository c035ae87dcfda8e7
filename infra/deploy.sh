#!/usr/bin/env bash
# make deploy: what is missing first (Rust, python3-venv, then AWS credentials and a
# region), the first run's few questions saved in samconfig.toml, then every function
# built with cargo-lambda and the stack deployed with SAM, as samconfig.toml says (later
# runs ask nothing and override nothing; nothing to change ends with 0). See
# infra/deploy.py.
#
#   ARCH=x86_64 infra/deploy.sh     a first deploy for x86_64 instead of arm64
set -euo pipefail
cd "$(dirname "$0")/.."

python3 infra/deploy.py tools
# shellcheck source=infra/deploy-venv.sh
. infra/deploy-venv.sh
infra/lint-template.sh
exec "$VENV/bin/python" infra/deploy.py deploy
