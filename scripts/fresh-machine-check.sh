#!/usr/bin/env bash
# Run the README's set-up commands the way a new user on a fresh Debian/Ubuntu machine would: on a copy of this
# working tree (tracked and new files; no .venv, no data), with an empty HOME and the stock Debian PATH, so nothing
# installed in the developer's home (uv, pyenv, pip --user packages) or PATH can make them pass by accident.
#
#   scripts/fresh-machine-check.sh            # make demo, then make test
#   scripts/fresh-machine-check.sh demo       # only the given make targets, in order
#
# Kept from the caller's environment: proxy and CA-bundle settings (a machine behind a TLS-inspecting proxy needs
# them to reach PyPI) and PIP_*/UV_* index settings; set UV_CACHE_DIR to reuse a download cache. Everything else is
# dropped. Each target's output goes to a log in the work directory, printed at the end with the timings.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
targets=("$@")
((${#targets[@]})) || targets=(demo test)

work="$(mktemp -d "${TMPDIR:-/tmp}/featurekit-fresh.XXXXXX")"
mkdir -p "$work/home" "$work/repo"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work/repo"

env_args=(
  "HOME=$work/home"
  "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "LANG=C.UTF-8"
  "TERM=${TERM:-dumb}"
)
while IFS='=' read -r name _; do
  case "$name" in
  SSL_CERT_FILE | SSL_CERT_DIR | REQUESTS_CA_BUNDLE | CURL_CA_BUNDLE | AWS_CA_BUNDLE | PIP_* | UV_* | \
    http_proxy | https_proxy | no_proxy | HTTP_PROXY | HTTPS_PROXY | NO_PROXY)
    env_args+=("$name=${!name}")
    ;;
  esac
done < <(env)

echo "fresh-machine check in $work (HOME=$work/home, stock PATH)"
status=0
summary=()
for target in "${targets[@]}"; do
  log="$work/make-$target.log"
  start=$SECONDS
  echo "== make $target (log: $log)"
  if env -i "${env_args[@]}" make -C "$work/repo" "$target" >"$log" 2>&1; then
    result=passed
  else
    result="FAILED (exit $?)"
    status=1
  fi
  summary+=("make $target: $result in $((SECONDS - start)) s, log $log")
  tail -n 5 "$log"
  [ "$status" = 0 ] || break
done
echo
printf '%s\n' "${summary[@]}"
exit "$status"
