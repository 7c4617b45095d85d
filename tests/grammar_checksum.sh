#!/usr/bin/env bash
# The pinned grammar tarball passes the checksum check; the same tarball with one byte
# changed stops the build with a clear message.
# usage: grammar_checksum.sh SOURCE_DIR TARBALL
set -euo pipefail
src=$1 tarball=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake -DTARBALL="$tarball" -P "$src/grammars/fetch.cmake" > "$work/good.log" 2>&1 ||
  { cat "$work/good.log"; echo "FAIL: the pinned tarball was refused"; exit 1; }

cp "$tarball" "$work/bad.tgz"
printf 'X' | dd of="$work/bad.tgz" bs=1 seek=1000 conv=notrunc status=none
if cmake -DTARBALL="$work/bad.tgz" -P "$src/grammars/fetch.cmake" > "$work/bad.log" 2>&1; then
  echo "FAIL: a corrupted tarball was accepted"; exit 1
fi
grep -q "checksum mismatch" "$work/bad.log" ||
  { cat "$work/bad.log"; echo "FAIL: no 'checksum mismatch' message"; exit 1; }
echo "grammar checksum: 2 passed, 0 failed"
