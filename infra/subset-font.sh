#!/usr/bin/env bash
# Makes shared/chart/fonts/DejaVuSans-subset.ttf, the one font the report's chart draws
# with: DejaVu Sans (Debian's fonts-dejavu-core) cut to the characters a chart shows —
# printable ASCII, the currency symbols of Notion's number formats, and a few marks —
# so the function that embeds it grows by tens of kilobytes, not 760. The result is
# checked in; run this only to change the character set. Needs python3 (fonttools is
# installed into a throwaway venv) and the DejaVu font.
set -euo pipefail
cd "$(dirname "$0")/.."
src=${1:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
out=shared/chart/fonts/DejaVuSans-subset.ttf
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet 'fonttools==4.55.3'
"$venv/bin/pyftsubset" "$src" \
  --unicodes='U+0020-007E,U+00A0,U+00A3,U+00A5,U+00B7,U+00D7,U+2013,U+2014,U+2018,U+2019,U+201C,U+201D,U+2026,U+20A9,U+20AC,U+20B9,U+20BD,U+2192' \
  --layout-features='kern' --no-hinting --desubroutinize \
  --output-file="$out"
ls -l "$out"
