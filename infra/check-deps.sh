#!/usr/bin/env bash
# Every Lambda bootstrap carries one HTTP stack, one TLS stack on one crypto provider
# (ring: smaller than aws-lc-rs), and no SQLite: each extra one costs zip size and cold
# start; the report's chart goes only into the function that posts it. Fails naming
# the function and the crate
# that came back (`cargo tree -i <crate> -p <function>` says through what).
#
#   infra/check-deps.sh                 check the functions
#   infra/check-deps.sh FUNCTION...     check these packages instead
set -euo pipefail
cd "$(dirname "$0")/.."

functions=("$@")
[ ${#functions[@]} -gt 0 ] || functions=(lead-intake notion-webhook worker stale-leads redrive "as sam builds them")

failed=0
for f in "${functions[@]}"; do
  # `sam build` builds each function from the root, with the features of the workspace's
  # default members unified (the five functions): checked as a whole too.
  if [ "$f" = "as sam builds them" ]; then select=(); else select=(-p "$f"); fi
  tree=$(cargo tree --locked -q "${select[@]}" -e normal --prefix none | sed 's/ (\*)$//' | sort -u)
  for crate in rustls hyper; do
    n=$(grep -c "^$crate v" <<<"$tree" || true)
    if [ "$n" -ne 1 ]; then
      echo "check-deps: $f has $n versions of $crate: $(grep "^$crate v" <<<"$tree" | tr '\n' ' ')" >&2
      failed=1
    fi
  done
  for crate in rusqlite aws-lc-rs aws-lc-sys openssl native-tls aws-sdk-sso aws-sdk-ssooidc clap toml; do
    if grep -q "^$crate v" <<<"$tree"; then
      echo "check-deps: $f carries $crate" >&2
      failed=1
    fi
  done
  # The report's chart (its renderer and font) is the scheduled function's alone.
  case "$f" in
    stale-leads|"as sam builds them") ;;
    *)
      for crate in crm-chart plotters png ab_glyph; do
        if grep -q "^$crate v" <<<"$tree"; then
          echo "check-deps: $f carries $crate, which only stale-leads needs" >&2
          failed=1
        fi
      done
      ;;
  esac
done
[ "$failed" -eq 0 ] && echo "check-deps: ${functions[*]}: one rustls (on ring), one hyper; no rusqlite, aws-lc, OpenSSL, SSO, clap or TOML; the chart in stale-leads only"
exit "$failed"
