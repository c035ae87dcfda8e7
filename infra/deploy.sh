#!/usr/bin/env bash
# Builds every function with cargo-lambda and deploys the stack with SAM. The first run
# asks for the stack name, region and parameters (`sam deploy --guided`) and saves them
# in samconfig.toml; later runs reuse them. SAM prints the stack outputs at the end:
# IntakeUrl (for website forms) and WebhookUrl (for the Notion subscription).
#
#   ARCH=x86_64 infra/deploy.sh     build for x86_64 instead of arm64
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${CRM_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/notion-crm/deploy-venv}
export SAM_CLI_TELEMETRY=0

# cargo-lambda brings zig, which SAM's Rust builder needs on PATH: one venv for both,
# at a fixed path (moving zig makes the next build start from scratch).
if [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cargo-lambda" ]; then
  echo "deploy: installing the SAM CLI and cargo-lambda into $VENV" >&2
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check aws-sam-cli cargo-lambda
fi
export PATH="$VENV/bin:$PATH"

ARCH=${ARCH:-arm64}
case "$ARCH" in
  arm64) rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true ;;
  x86_64) ;;
  *) echo "deploy: ARCH must be arm64 or x86_64" >&2; exit 2 ;;
esac

infra/lint-template.sh
sam build --parameter-overrides "Architecture=$ARCH"
if [ -f samconfig.toml ]; then
  sam deploy --parameter-overrides "Architecture=$ARCH"
else
  sam deploy --guided --parameter-overrides "Architecture=$ARCH"
fi
cat <<'NEXT'

Next steps:
  1. Put your Notion token, form signing secrets and Slack webhook URLs into the secret
     named by SecretArn above (JSON; see README "Configuration").
  2. Point website forms at IntakeUrl (or IntakeUrl/tally, /typeform, /formspree).
  3. Create a Notion webhook subscription with WebhookUrl; the verification token is
     stored in the secret automatically. Paste it into Notion's Verify dialog.
NEXT
