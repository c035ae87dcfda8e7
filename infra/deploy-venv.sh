# Sourced by deploy.sh and deploy-check.sh: the SAM CLI and cargo-lambda, pinned, in one
# venv at a fixed path, first on PATH. cargo-lambda brings zig, which SAM's Rust builder
# needs to cross-compile for arm64; moving zig makes the next build start from scratch.
VENV=${CRM_DEPLOY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/notion-crm/deploy-venv}
export SAM_CLI_TELEMETRY=0
CARGO_LAMBDA=cargo-lambda==1.9.2
# The pins this venv was made with: another set (an upgrade in the repository) reinstalls.
wanted="$(cat "$(dirname "${BASH_SOURCE[0]}")/requirements-sam.txt") $CARGO_LAMBDA"
if [ ! -x "$VENV/bin/sam" ] || [ ! -x "$VENV/bin/cargo-lambda" ] || [ "$(cat "$VENV/.pins" 2>/dev/null)" != "$wanted" ]; then
  echo "installing the SAM CLI and cargo-lambda into $VENV" >&2
  python3 -m venv "$VENV" || { echo "deploy: install python3-venv (Debian/Ubuntu: sudo apt install python3-venv)" >&2; exit 1; }
  "$VENV/bin/pip" install -q --disable-pip-version-check \
    -r "$(dirname "${BASH_SOURCE[0]}")/requirements-sam.txt" "$CARGO_LAMBDA"
  printf '%s' "$wanted" > "$VENV/.pins"
fi
export PATH="$VENV/bin:$PATH"

ARCH=${ARCH:-arm64}
case "$ARCH" in
  arm64) rustup target add aarch64-unknown-linux-gnu >/dev/null 2>&1 || true ;;
  # Position-dependent, as .cargo/config.toml builds arm64 (see there). Set here, not
  # there: a host-target setting would reach build scripts and proc macros too.
  x86_64) export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="-C relocation-model=static" ;;
  *) echo "ARCH must be arm64 or x86_64" >&2; exit 2 ;;
esac
