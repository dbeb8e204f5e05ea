# Shared by .ci/test and .ci/app: install what is missing, pick a target folder.
# Sourced, not run.

SEGUE_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SEGUE_CACHE=${SEGUE_CACHE:-/var/cache/segue}

# Debian packages the build, the tests and the app need.
SEGUE_APT_PACKAGES=(
  build-essential pkg-config curl ca-certificates
  libwebkit2gtk-4.1-dev libasound2-dev
  xvfb xauth webkit2gtk-driver imagemagick fonts-dejavu-core
  mesa-vulkan-drivers
)

log() { printf '\033[1m[segue]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root to run: $*"; return 1; fi
}

install_system_packages() {
  local missing=()
  for package in "${SEGUE_APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    log "installing Node.js and npm"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
  fi
  if ! command -v cargo >/dev/null; then
    log "cargo is missing: install Rust 1.95 or newer with rustup (https://rustup.rs) and run this again"
    return 1
  fi
}

# A cache folder outside the clone, so that a warm machine rebuilds only what changed.
use_cache_dirs() {
  if mkdir -p "$SEGUE_CACHE" 2>/dev/null && [ -w "$SEGUE_CACHE" ]; then
    export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SEGUE_CACHE/target}
    export npm_config_cache=${npm_config_cache:-$SEGUE_CACHE/npm}
  fi
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$SEGUE_ROOT/target}
  log "cargo target folder: $CARGO_TARGET_DIR"
}

install_ui_packages() {
  # package-lock.json pins every package; `npm ci` is skipped only when the
  # installed tree was made from this very lock file.
  local stamp="$SEGUE_ROOT/ui/node_modules/.segue-lock-sha256"
  local want
  want=$(sha256sum "$SEGUE_ROOT/ui/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing UI packages (npm ci)"
    (cd "$SEGUE_ROOT/ui" && npm ci --no-audit --no-fund --prefer-offline >/dev/null)
    echo "$want" > "$stamp"
  fi
}

build_ui() {
  log "building the UI"
  (cd "$SEGUE_ROOT/ui" && npm run --silent build >/dev/null)
}
