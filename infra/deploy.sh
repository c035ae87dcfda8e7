#!/usr/bin/env bash
# Builds every function with cargo-lambda and deploys the stack with SAM. The first run
# asks for the stack name, region and parameters (`sam deploy --guided`) and saves them
# in samconfig.toml; later runs reuse them. SAM prints the stack outputs at the end:
# IntakeUrl (for website forms) and WebhookUrl (for the Notion subscription).
#
#   ARCH=x86_64 infra/deploy.sh     build for x86_64 instead of arm64
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=infra/deploy-venv.sh
. infra/deploy-venv.sh

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
