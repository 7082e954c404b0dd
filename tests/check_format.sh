#!/usr/bin/env bash
# Style held by CI: every C++ source the project owns must be as clang-format
# (Debian's, with the committed .clang-format) would write it. Before checking
# the tree, the check is shown to catch a deliberate violation, so a missing or
# broken clang-format can never pass silently.
#
#   tests/check_format.sh SOURCE_DIR
# To fix a failure: clang-format -i FILE (or the command printed below).
set -euo pipefail
src="${1:?usage: $0 SOURCE_DIR}"
command -v clang-format >/dev/null || {
  echo "format: clang-format is not installed (scripts/setup.sh installs it)" >&2; exit 2; }

scratch="$(mktemp -d)"; trap 'rm -rf "$scratch"' EXIT
cp "$src/.clang-format" "$scratch/"
printf 'int  main( ) {return 0 ;}\n' >"$scratch/bad.cc"
if clang-format --dry-run -Werror "$scratch/bad.cc" 2>/dev/null; then
  echo "format: the check does not catch a misformatted file: it is broken" >&2; exit 2
fi
echo "format: the check catches a misformatted file"

cd "$src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files '*.cc' '*.h' ':!third_party')
else
  mapfile -t files < <(find . -path ./third_party -prune -o \( -name '*.cc' -o -name '*.h' \) -print)
fi
[ "${#files[@]}" -gt 0 ] || { echo "format: no sources found under $src" >&2; exit 2; }
if ! clang-format --dry-run -Werror "${files[@]}"; then
  echo "format: run: clang-format -i <file> (or: git ls-files '*.cc' '*.h' ':!third_party' | xargs clang-format -i)" >&2
  exit 1
fi
echo "format: ${#files[@]} files as clang-format writes them"
