# Shared by the tests of tests/deploy: paths, failure, validators. Tests run
# from the repository root (ctest's working directory).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
node_bin=$here/node_modules/.bin
fail() { echo "FAIL: $*" >&2; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# need TOOL...: fails (never skips) when a validator is missing; npm tools
# live in tests/deploy/node_modules (scripts/install-deps installs them).
need() {
  for t in "$@"; do
    if [ -x "$node_bin/$t" ]; then continue; fi
    command -v "$t" >/dev/null || fail "validator '$t' is missing: run scripts/install-deps"
  done
}
tool() { if [ -x "$node_bin/$1" ]; then echo "$node_bin/$1"; else command -v "$1"; fi; }
