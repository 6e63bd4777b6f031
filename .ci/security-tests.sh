#!/usr/bin/env bash
# Checks that every test docs/SECURITY.md names is real: each backticked
# `path/to/file.rs::name` must point at a file of this repository that
# defines `fn name(` or `fn name<` (`async fn` and `pub fn` too), and that
# function must be a test: marked `#[test]` or `#[…::test]` just above its
# definition, or listed in a `backend_tests!(…)` of the same file (which
# makes `sqlite::name` and `postgres::name`). Prints every reference that
# fails and exits 1; otherwise prints one line. Run by .ci/run; run it by
# hand after renaming or moving a test.
set -euo pipefail
cd "$(dirname "$0")/.."

doc=docs/SECURITY.md
if [ ! -f "$doc" ]; then
  echo "security: $doc is missing"
  exit 1
fi

# Every distinct `FILE.rs::NAME` in the document.
refs=$(grep -oE '`[A-Za-z0-9_./-]+\.rs::[A-Za-z_][A-Za-z0-9_]*`' "$doc" | tr -d '`' | sort -u || true)
if [ -z "$refs" ]; then
  echo "security: $doc names no test (expected \`path/to/file.rs::test_name\`)"
  exit 1
fi

# The names listed in the file's backend_tests!(…) invocations, one a line.
# Each invocation is read to its closing parenthesis; a `with TWEAK;` prefix
# (everything up to the last `;`) is dropped before the names are taken.
backend_names() {
  awk '
    {
      line = $0
      if (!inside) {
        i = index(line, "backend_tests!(")
        if (i == 0) next
        line = substr(line, i + length("backend_tests!"))
        inside = 1; depth = 0; block = ""
      }
      block = block " " line
      depth += gsub(/\(/, "(", line) - gsub(/\)/, ")", line)
      if (depth <= 0) {
        inside = 0
        sub(/\)[^)]*$/, "", block)
        n = split(block, parts, ";")
        print parts[n]
      }
    }
  ' "$1" | grep -oE '[A-Za-z_][A-Za-z0-9_]*' || true
}

count=0
missing=0
while IFS= read -r ref; do
  count=$((count + 1))
  file=${ref%%::*}
  name=${ref##*::}
  if [ ! -f "$file" ]; then
    echo "security: $ref: no file $file"
    missing=$((missing + 1))
    continue
  fi
  # Line numbers of `fn NAME(` / `fn NAME<`, possibly async and/or pub.
  defs=$(grep -nE "^[[:space:]]*(pub(\([a-z]+\))?[[:space:]]+)?(async[[:space:]]+)?fn[[:space:]]+${name}[[:space:]]*[(<]" "$file" | cut -d: -f1 || true)
  if [ -z "$defs" ]; then
    echo "security: $ref: $file has no fn $name"
    missing=$((missing + 1))
    continue
  fi
  # (Captured before grep -q reads them, so an early exit of grep cannot
  # fail the pipeline under pipefail.)
  is_test=0
  listed=$(backend_names "$file")
  if grep -qxF "$name" <<<"$listed"; then
    is_test=1
  else
    for line in $defs; do
      [ "$line" -gt 1 ] || continue
      from=$((line > 4 ? line - 4 : 1))
      above=$(sed -n "${from},$((line - 1))p" "$file")
      if grep -qE '^[[:space:]]*#\[([A-Za-z_]+::)?test(\(.*\))?\]' <<<"$above"; then
        is_test=1
      fi
    done
  fi
  if [ "$is_test" = 0 ]; then
    echo "security: $ref: fn $name in $file is not a test (no #[test] above it, not in backend_tests!)"
    missing=$((missing + 1))
  fi
done <<<"$refs"

if [ "$missing" -gt 0 ]; then
  echo "security: $missing of $count tests named in $doc are missing or not tests"
  exit 1
fi
echo "security: $count tests named in $doc, all present"
