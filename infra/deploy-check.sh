#!/usr/bin/env bash
# A deploy rehearsal without an AWS account: everything `sam deploy` would check first.
# Lints the template (sam validate --lint, cfn-lint before and after the SAM transform,
# the watch and least-privilege checks), runs plain `sam validate` (it catches policy
# parameters the linter misses), builds every function as `sam build` does (cargo-lambda,
# arm64 by default), zips each bootstrap as `sam deploy` uploads it and checks it against
# Lambda's limits and this project's budget, then lists the parameters a first deploy
# asks for.
#
#   infra/deploy-check.sh             arm64
#   ARCH=x86_64 infra/deploy-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=infra/deploy-venv.sh
. infra/deploy-venv.sh

# The budget for one function's zip: what a cold start downloads.
BUDGET=${ZIP_BUDGET_BYTES:-2500000}
# Lambda's own limits for a zip uploaded through S3: 250 MB unzipped.
UNZIPPED_LIMIT=262144000

infra/lint-template.sh
sam validate --region us-east-1 --template template.yaml
sam build --parameter-overrides "Architecture=$ARCH"

# Zipped as SAM packages a function (Python's zipfile, deflated).
failed=0
python3 - "$ARCH" "$BUDGET" "$UNZIPPED_LIMIT" <<'PY' || failed=1
import io, os, sys, zipfile
arch, budget, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
build = ".aws-sam/build"
print(f"\n{'function (' + arch + ')':24} {'bootstrap':>12} {'zip':>12}")
failed = False
for fn in sorted(d for d in os.listdir(build) if d.endswith("Function")):
    root = os.path.join(build, fn)
    buf, raw = io.BytesIO(), 0
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for dirpath, _, files in os.walk(root):
            for f in files:
                path = os.path.join(dirpath, f)
                raw += os.path.getsize(path)
                z.write(path, os.path.relpath(path, root))
    zipped = len(buf.getvalue())
    print(f"{fn:24} {raw / 1e6:9.2f} MB {zipped / 1e6:9.2f} MB")
    if raw > limit:
        print(f"deploy-check: {fn} is over Lambda's 250 MB unzipped limit", file=sys.stderr)
        failed = True
    if zipped > budget:
        print(f"deploy-check: {fn}'s zip is over the budget of {budget / 1e6:.1f} MB", file=sys.stderr)
        failed = True
sys.exit(1 if failed else 0)
PY

echo
echo "A first deploy (make deploy) asks for the ones marked required (infra/deploy.py); the rest keep their defaults:"
python3 - <<'PY'
import re
text = open("template.yaml").read()
block = text.split("\nParameters:\n", 1)[1].split("\nConditions:\n", 1)[0]
for name, body in re.findall(r"(?m)^  (\w+):\n((?:    .*\n?)*)", block):
    default = re.search(r"(?m)^    Default: ?(.*)$", body)
    value = "(required)" if default is None else (default.group(1).strip().strip('"') or '""')
    print(f"  {name:24} {value}")
PY
exit "$failed"
