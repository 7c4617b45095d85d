#!/usr/bin/env bash
# The nb2pipe-clean and nb2pipe-sync pre-commit hooks (.pre-commit-hooks.yaml): runs
# `nb2pipe ARGS...` with an nb2pipe built from this checkout, so that a user needs
# nothing installed but the build dependencies.
#
# pre-commit keeps one checkout of this repository per `rev` and runs this script from
# it. The first run builds nb2pipe into BUILD (below) inside that checkout; later runs
# reuse it. It is built again when it is missing, did not finish, no longer starts (a
# system library changed), or is older than a source file. A missing build dependency
# ends the hook with the apt-get command that installs it (exit 2), before anything is
# built. pre-commit may run this script several times at once (file batches in
# parallel): the build is done under a lock, by the first to get it.
#
# usage: scripts/pre-commit-hook.sh COMMAND [ARGS...]   (nb2pipe's own arguments)
# NB2PIPE_HOOK_JOBS sets the build's parallelism (default: the number of processors).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build="$root/build-hook"
binary="$build/nb2pipe"
stamp="$build/built.stamp" # touched when a build succeeded
log="$build/build.log"

say() { printf 'nb2pipe hook: %s\n' "$*" >&2; }

# True when the binary from the last successful build can be used as it is.
fresh() {
  [[ -x $binary && -e $stamp ]] || return 1
  # a source newer than the last build (an edited checkout; pre-commit's never changes)
  [[ -z $(find "$root/src" "$root/include" "$root/grammars" "$root/cmake" \
    "$root/CMakeLists.txt" -newer "$stamp" -print -quit) ]] || return 1
  "$binary" --version >/dev/null 2>&1
}

# Names the programs the build needs before CMake can say anything itself; CMake then
# names the missing libraries (CMakeLists.txt), all in one message.
check_tools() {
  local missing=() tool package
  for tool in cmake:cmake make:make cc:gcc; do
    package=${tool#*:}
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("$package")
  done
  if ((${#missing[@]})); then
    say "cannot build nb2pipe: missing build dependencies (Debian packages): ${missing[*]}"
    say "install them with: sudo apt-get install ${missing[*]}"
    say "(or install nb2pipe and use the nb2pipe-clean-system and nb2pipe-sync-system hooks)"
    exit 2
  fi
}

build_nb2pipe() {
  check_tools
  local start=$SECONDS jobs=${NB2PIPE_HOOK_JOBS:-$(nproc 2>/dev/null || echo 2)}
  say "building nb2pipe in $build (once per hook revision; a minute or two)"
  rm -f "$stamp"
  if ! cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release -DNB2PIPE_TESTS=OFF \
    >"$log" 2>&1; then
    say "configuring the build failed ($log):"
    # CMake's own message names the missing packages
    sed -n '/^CMake Error/,$p' "$log" | grep -v '^-- \|^See also' >&2 || tail -n 20 "$log" >&2
    exit 2
  fi
  if ! cmake --build "$build" --target nb2pipe -j "$jobs" >>"$log" 2>&1; then
    say "the build failed; the end of $log:"
    tail -n 30 "$log" >&2
    exit 2
  fi
  if ! "$binary" --version >/dev/null 2>&1; then
    say "the built $binary does not run; see $log"
    exit 2
  fi
  touch "$stamp"
  say "built $("$binary" --version) in $((SECONDS - start)) s"
}

if ! fresh; then
  mkdir -p "$build"
  exec 9>"$build/lock"
  flock 9 # another batch of this hook may be building: wait for it
  fresh || build_nb2pipe
  exec 9>&-
fi
exec "$binary" "$@"
