#!/usr/bin/env bash
# Checks that imports point one way (ARCHITECTURE.md): each module of src/
# may import only the modules listed for it. Fails naming every import
# against the direction. Run by .ci/run; run it by hand after moving code.
set -euo pipefail
cd "$(dirname "$0")/../src"

# module: the crate modules it may import (besides itself). `crypto` and
# `oauth` are crates of their own (crates/), re-exported under those names:
# Cargo keeps them from importing the server, and their Cargo.toml from
# depending on actix, diesel or jsonwebtoken.
declare -A ALLOWED=(
  [clock]=""
  [workers]=""
  [net]=""
  [private_files]="crypto"
  [text]=""
  [mail]="crypto"
  [hasher]="crypto workers"
  [store]="oauth crypto workers private_files clock text"
  [tokens]="store oauth crypto clock private_files"
  [config]="store oauth net text"
  [registry]="store oauth hasher crypto clock text mail"
  [app]="registry config store tokens oauth hasher crypto clock workers net text mail"
  [http]="app registry store tokens oauth config crypto clock hasher mail"
  [pages]="app registry store tokens oauth config crypto clock hasher mail"
  [cli]="registry app config store tokens oauth hasher crypto clock text mail private_files Application Clock"
)

# Crates a pure layer must not use at all.
declare -A FORBIDDEN_CRATES=(
  [store]="actix_web"
  [tokens]="actix_web"
  [registry]="actix_web"
  [mail]="actix_web diesel"
)

fail=0
for module in "${!ALLOWED[@]}"; do
  if [ -d "$module" ]; then files=$(find "$module" -name '*.rs'); else files="$module.rs"; fi
  [ -n "$files" ] || continue
  allowed=" ${ALLOWED[$module]} $module "
  while IFS=: read -r file line used; do
    [ -n "$used" ] || continue
    if [[ "$allowed" != *" $used "* ]]; then
      echo "layers: $file:$line imports crate::$used, which $module may not (ARCHITECTURE.md)"
      fail=1
    fi
  done < <(grep -noE '(crate|gatehouse)::[A-Za-z_]+' $files | sed -E 's/(crate|gatehouse):://' || true)
  for c in ${FORBIDDEN_CRATES[$module]:-}; do
    if grep -nE "\b$c::" $files >/dev/null; then
      grep -nE "\b$c::" $files | sed "s/^/layers: $module must not use $c: /"
      fail=1
    fi
  done
done
if [ "$fail" = 0 ]; then echo "layers: every import points the allowed way"; fi
exit "$fail"
