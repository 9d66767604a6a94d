#!/usr/bin/env bash
# The README's two commands, as one script with timed phases:
#   scripts/dev.sh run    set up, then run the main job (kubevents-testenv demo: the exporter on
#                         its embedded SQLite default against a real cluster, then a query)
#   scripts/dev.sh test   set up, then lint, type-check and run the whole test suite
#   scripts/dev.sh bench  set up, then run the benchmarks (bench/run.py; arguments passed on)
#   scripts/dev.sh chaos  set up, then the chaos run (bench/chaos.py; arguments passed on)
#   scripts/dev.sh fuzz   set up, then run the fuzz suite at full size (tests/fuzz; arguments
#                         passed on, e.g. --seed N to reproduce a run)
#   scripts/dev.sh image  set up, then build the OCI image and check it (scripts/build-image.sh)
#   scripts/dev.sh screenshots  set up, then the web UI's browser tests, saving each view's
#                         screenshot into docs/img/ (the README shows them)
# "Set up" = a project venv with the package, its dev tools and the test environment
# (kubevents-testenv from testenv/, both editable), and the real kube-apiserver + etcd binaries
# built from Go modules (cached in ~/.cache/kubevents/testbin, ~5 min cold).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
VENV="${KUBEVENTS_VENV:-.venv}"
T0=$(date +%s)

phase() {
  local name=$1; shift
  local start=$(date +%s)
  echo "==> ${name}"
  "$@"
  local rc=$?
  echo "<== ${name}: $(( $(date +%s) - start ))s"
  return $rc
}

setup_python() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  # Reinstall only when a dependency list changed.
  local stamp="$VENV/.kubevents-installed"
  local want
  want=$(cat pyproject.toml testenv/pyproject.toml | sha256sum | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$VENV/bin/python" -m pip install -q --upgrade pip
    # One resolution for both: kubevents-testenv's dependency on kubevents is this checkout.
    "$VENV/bin/python" -m pip install -q -e ".[dev]" -e ./testenv
    echo "$want" > "$stamp"
  fi
}

build_cluster() {
  "$VENV/bin/python" -c 'from kubevents_testenv import ensure_binaries; b = ensure_binaries(); print(b)'
}

setup_browser() {
  # The web UI's tests drive Debian's chromium through its chromedriver (Selenium); nothing is
  # downloaded at test time. Installed once, from the distribution, when missing.
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    return 0
  fi
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends \
    chromium chromium-driver
}

build_tools() {
  "$VENV/bin/python" -c 'from kubevents_testenv import ensure_helm, ensure_kubectl; print(ensure_kubectl()); print(ensure_helm())'
}

lint() {
  "$VENV/bin/ruff" check .
  "$VENV/bin/ruff" format --check .
  "$VENV/bin/mypy"
  # The layers and the private-module rule ([tool.importlinter] in pyproject.toml).
  "$VENV/bin/lint-imports" --no-logo
}

tests() {
  "$VENV/bin/pytest" -q -p no:cacheprovider "$@"
}

case "${1:-}" in
  run)
    phase "python setup" setup_python
    phase "kube-apiserver + etcd (Go build, cached)" build_cluster
    phase "demo" "$VENV/bin/kubevents-testenv" demo
    ;;
  test)
    shift
    phase "python setup" setup_python
    phase "kube-apiserver + etcd (Go build, cached)" build_cluster
    phase "kubectl + helm for the manifest tests (Go build, cached)" build_tools
    phase "chromium + chromedriver for the web UI tests (apt, once)" setup_browser
    phase "ruff + mypy --strict + import contracts" lint
    phase "pytest" tests "$@"
    ;;
  bench)
    shift
    phase "python setup" setup_python
    phase "kube-apiserver + etcd (Go build, cached)" build_cluster
    phase "benchmarks" "$VENV/bin/python" bench/run.py "$@"
    ;;
  chaos)
    shift
    phase "python setup" setup_python
    phase "kube-apiserver + etcd (Go build, cached)" build_cluster
    phase "chaos" "$VENV/bin/python" bench/chaos.py "$@"
    ;;
  fuzz)
    shift
    phase "python setup" setup_python
    phase "fuzz" env PYTHONPATH=tests "$VENV/bin/python" -m fuzz "$@"
    ;;
  screenshots)
    phase "python setup" setup_python
    phase "chromium + chromedriver for the web UI tests (apt, once)" setup_browser
    phase "screenshots" env KUBEVENTS_SCREENSHOTS=docs/img "$VENV/bin/pytest" -q -p no:cacheprovider \
      tests/ui/test_ui_browser.py
    ;;
  image)
    phase "python setup" setup_python
    phase "kube-apiserver + etcd (Go build, cached)" build_cluster
    phase "image" scripts/build-image.sh
    ;;
  *)
    echo "usage: $0 run|test|bench|chaos|fuzz|image|screenshots [args]" >&2
    exit 2
    ;;
esac
echo "total: $(( $(date +%s) - T0 ))s"
