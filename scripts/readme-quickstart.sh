#!/usr/bin/env bash
# Runs the README's quickstart: every ```sh block whose info string includes
# "quickstart", in order, from the repo root, each under `set -e`. Fails on the
# first non-zero exit and says which block and command. `make test` runs it so
# the README's first steps cannot rot.
set -euo pipefail
cd "$(dirname "$0")/.."

readme=${1:-README.md}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Split the quickstart blocks into numbered files.
awk -v dir="$tmp" '
  /^```/ && !inblock { if ($0 ~ /^```(sh|bash)[ ]+.*quickstart/) { inblock=1; n++; file=sprintf("%s/%02d.sh", dir, n) } ; next }
  /^```/ && inblock  { inblock=0; close(file); next }
  inblock            { print > file }
' "$readme"

blocks=("$tmp"/*.sh)
if [[ ! -e "${blocks[0]}" ]]; then
  echo "readme-quickstart: no \`\`\`sh quickstart blocks in $readme" >&2
  exit 1
fi
for b in "${blocks[@]}"; do
  name=$(basename "$b" .sh)
  echo "== README quickstart block $name"
  sed 's/^/   $ /' "$b"
  t0=$SECONDS
  if ! bash -euo pipefail -x "$b" >"$tmp/out" 2>&1; then
    tail -n 40 "$tmp/out" >&2
    echo "readme-quickstart: block $name failed (see above)" >&2
    exit 1
  fi
  echo "   ok ($((SECONDS - t0)) s)"
done
echo "readme-quickstart: ${#blocks[@]} block(s) ok"
