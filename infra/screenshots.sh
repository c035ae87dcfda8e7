#!/usr/bin/env bash
# The README's pictures of the local page: its browser test (cli/tests/local_page.rs)
# photographs each state into target/screenshots/; they are copied to docs/screenshots/.
# Debian's emoji font is installed first when missing, so that Slack's emoji show.
set -euo pipefail
cd "$(dirname "$0")/.."
if ! fc-list 2>/dev/null | grep -qi "Noto Color Emoji"; then
  echo "screenshots: installing Debian's fonts-noto-color-emoji" >&2
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get install -y -qq fonts-noto-color-emoji >/dev/null
fi
rm -rf target/screenshots
infra/isolated.sh infra/test-servers.sh run \
  cargo test -p crm-cli --locked --offline --test local_page the_local_page_shows_the_crm_moving
mkdir -p docs/screenshots
cp target/screenshots/local-page-*.png docs/screenshots/
ls -l docs/screenshots
