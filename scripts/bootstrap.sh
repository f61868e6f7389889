#!/usr/bin/env bash
# Install what `make demo` and `make test` need on a fresh Debian/Ubuntu machine: uv and the locked Python
# environment, redis-server and Java 17 (Spark). As root, system packages are installed with apt-get; otherwise a
# one-line message names the packages to install, and the script exits non-zero.
#
# uv: the one on PATH (or in ~/.local/bin, where uv's own installer puts it) when there is one; otherwise it is
# installed from PyPI into its own virtual environment under ${XDG_DATA_HOME:-~/.local/share}/featurekit/uv. The
# system Python is never modified: Debian 12+ and Ubuntu 23.04+ mark it externally managed (PEP 668), so
# `pip install --user` fails there, and --break-system-packages is not an option. Creating that virtual environment
# needs the python3 and python3-venv packages (Debian splits ensurepip out of python3).
set -euo pipefail
cd "$(dirname "$0")/.."

data_home="${XDG_DATA_HOME:-$HOME/.local/share}"
uv_env="$data_home/featurekit/uv"

find_uv() {
  if [ -x "$uv_env/bin/uv" ]; then
    echo "$uv_env/bin/uv"
  elif command -v uv >/dev/null 2>&1; then
    command -v uv
  elif [ -x "$HOME/.local/bin/uv" ]; then
    echo "$HOME/.local/bin/uv"
  fi
}
uv_bin="$(find_uv)"

# Captured, not piped into `grep -q`: under pipefail, grep -q's early exit makes apt-cache die of SIGPIPE (141), which
# made this false for every package (the optional tools were never installed, and Java 21 never picked).
apt_has() {
  local policy
  policy="$(apt-cache policy "$1" 2>/dev/null)" || return 1
  [[ "$policy" == *"Candidate: "[0-9]* ]]
}
# The first of the given packages this machine's apt can install (Debian 13 has Java 21, not 17), else the first.
apt_pick() {
  local pkg
  for pkg in "$@"; do
    if apt_has "$pkg"; then
      echo "$pkg"
      return
    fi
  done
  echo "$1"
}
is_root() { [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; }

need_apt=()
if [ -z "$uv_bin" ]; then
  if ! command -v python3 >/dev/null 2>&1; then
    need_apt+=(python3 python3-venv)
  elif ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    need_apt+=(python3-venv)
  fi
fi
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
need_java=false
if ! command -v java >/dev/null 2>&1 || ! java -version 2>&1 | grep -qE 'version "(17|21)'; then
  need_java=true
fi
# Optional, root only (the tests skip, naming the package, without them): chromium for the feature catalog's browser
# test, promtool (package prometheus) for the alert rules, and a Pushgateway for the batch-metrics export test.
# Installed only where apt has them (Ubuntu ships chromium as a snap, which does not run in a container).
optional=()
if is_root; then
  command -v chromium >/dev/null 2>&1 || optional+=(chromium)
  command -v promtool >/dev/null 2>&1 || optional+=(prometheus)
  command -v prometheus-pushgateway >/dev/null 2>&1 || optional+=(prometheus-pushgateway)
fi
if ((${#need_apt[@]})) || $need_java || ((${#optional[@]})); then
  if is_root; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    ! $need_java || need_apt+=("$(apt_pick openjdk-17-jre-headless openjdk-21-jre-headless)")
    for pkg in "${optional[@]}"; do
      if apt_has "$pkg"; then need_apt+=("$pkg"); fi
    done
    if ((${#need_apt[@]})); then
      echo "bootstrap: installing ${need_apt[*]} with apt-get"
      apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
    fi
  else
    ! $need_java || need_apt+=("$(apt_pick openjdk-17-jre-headless openjdk-21-jre-headless)")
    echo "bootstrap: missing system packages; install them with: sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
fi

if [ -z "$uv_bin" ]; then
  echo "bootstrap: installing uv from PyPI into $uv_env"
  rm -rf "$uv_env"
  mkdir -p "$(dirname "$uv_env")"
  python3 -m venv "$uv_env"
  "$uv_env/bin/python" -m pip install --quiet --disable-pip-version-check uv
  uv_bin="$uv_env/bin/uv"
fi
"$uv_bin" sync --frozen --quiet
