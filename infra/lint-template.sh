#!/usr/bin/env bash
# Checks template.yaml the three ways that together catch what a first deploy would
# trip on: `sam validate --lint`, cfn-lint on the template, and cfn-lint on the template
# as SAM expands it (offline); then that the stack it makes is watched
# (infra/check-template.py). Installs the SAM CLI into a venv when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${CRM_SAM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/notion-crm/sam-venv}
export SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=us-east-1

# The pinned versions (infra/requirements-sam.txt); other pins reinstall.
wanted=$(cat infra/requirements-sam.txt)
if [ ! -x "$VENV/bin/sam" ] || [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$wanted" ]; then
  echo "lint-template: installing the SAM CLI into $VENV" >&2
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r infra/requirements-sam.txt
  printf '%s' "$wanted" > "$VENV/.pins"
fi

"$VENV/bin/sam" validate --lint --region us-east-1 --template template.yaml
"$VENV/bin/cfn-lint" template.yaml
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
AWS_DEFAULT_REGION=us-east-1 "$VENV/bin/python" infra/transform-template.py template.yaml "$out/transformed.json"
"$VENV/bin/cfn-lint" "$out/transformed.json"
"$VENV/bin/python" infra/check-template.py --self-test "$out/transformed.json"
# The first deploy's questions and the samconfig.toml they write, read back by SAM's own
# reader (this venv's).
"$VENV/bin/python" infra/test_deploy.py 2> "$out/test_deploy.log" || { cat "$out/test_deploy.log" >&2; exit 1; }
echo "lint-template: template.yaml passes sam validate --lint, cfn-lint, cfn-lint after the SAM transform, every alarm reaches a person, each role grants exactly what its function calls, and a first deploy rehearsed from answers writes the samconfig.toml SAM reads"
