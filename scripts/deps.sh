#!/usr/bin/env bash
# Installs the Debian packages nb2pipe needs, only those missing: idempotent, and
# quick (no apt-get update) when everything is already there.
#   scripts/deps.sh           to build nb2pipe and run converted pipelines
#   scripts/deps.sh --tests   also what the test suite needs
set -euo pipefail

packages=(
  cmake make gcc pkg-config
  libjansson-dev libpcre2-dev libyaml-dev libtree-sitter-dev libxxhash-dev libsqlite3-dev
  python3 python3-pandas python3-sklearn
  python3-dill python3-cloudpickle  # the runtime's fallbacks for values pickle cannot save
)
if [[ "${1:-}" == "--tests" ]]; then
  packages+=(
    libcmocka-dev valgrind clang
    python3-nbformat python3-yaml python3-jsonschema python3-pytest pre-commit git
    shellcheck python3-jinja2 python3-botocore
    protobuf-compiler libprotobuf-dev python3-protobuf
    dpkg-dev binutils groff-base
    graphviz  # nb2pipe plot draws SVG, PNG and HTML with its dot
    # tests/realrun: the notebooks of ../shared/realrun run through Jupyter's own client
    python3-nbclient python3-ipykernel python3-scipy python3-matplotlib python3-seaborn
    python3-xgboost python3-openpyxl
  )
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
# npm fetches the pinned grammar once; any npm will do (the machine's own or Debian's)
command -v npm >/dev/null 2>&1 || missing+=(npm)

if ((${#missing[@]})); then
  sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  echo "deps: installing ${missing[*]}" >&2
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
