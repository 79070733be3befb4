#!/usr/bin/env bash
# The quality gates of `make lint` (ruff, mypy, import-linter), with two helpers for the tree before ruff's autofixes:
#   tools/gates.sh          check every gate as `make lint` does (ruff findings, mypy errors, broken contracts)
#   tools/gates.sh preview  ruff as it will be after `ruff check --fix` (autofixes applied to a copy, tree untouched)
#   tools/gates.sh fix      apply ruff's safe autofixes (import sorting, pyupgrade...) to the tree, then check all
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${VENV:-.venv}/bin
status=0

ruff_preview() {
    local tmp
    tmp=$(mktemp -d)
    git ls-files -z --cached --others --exclude-standard -- '*.py' '*.pyi' pyproject.toml | xargs -0 cp --parents -t "$tmp"
    echo "== ruff after autofix (on a copy):"
    local here=$PWD rc=0
    (cd "$tmp" && "$here/$BIN/ruff" check --fix --quiet . >/dev/null 2>&1; \
     "$here/$BIN/ruff" check --output-format concise .) || rc=1
    echo "== mypy after autofix (on the copy):"
    (cd "$tmp" && "$here/$BIN/mypy") || rc=1
    echo "== modules import after autofix (on the copy):"
    (cd "$tmp" && "$here/$BIN/python" -c "import importlib, pkgutil, gisportal
for m in pkgutil.walk_packages(gisportal.__path__, 'gisportal.'):
    if '.migrations' not in m.name: importlib.import_module(m.name)
print('all gisportal modules import')") || rc=1
    rm -rf "$tmp"
    return $rc
}

case "${1:-check}" in
    preview) ruff_preview; exit $? ;;
    fix) "$BIN/ruff" check --fix . ;;
    check) ;;
    *) echo "usage: $0 [check|preview|fix]" >&2; exit 2 ;;
esac
echo "== ruff"; "$BIN/ruff" check . || status=1
echo "== mypy"; "$BIN/mypy" || status=1
echo "== import-linter"; "$BIN/lint-imports" || status=1
exit $status
