"""Modules under ~400 lines (issue #13): a module that grows past the limit is split along a real seam."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The most lines a module of ``gisportal/`` may have.
MAX_LINES = 400


def too_long(package: Path, limit: int = MAX_LINES) -> list[str]:
    """The Python modules under ``package`` longer than ``limit`` lines, with their length."""
    sizes = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in sorted(package.rglob("*.py"))}
    return [f"{path.relative_to(package.parent)}: {lines} lines" for path, lines in sizes.items() if lines > limit]


def test_the_size_check_finds_a_long_module(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "short.py").write_text("x = 1\n" * 5, encoding="utf-8")
    (package / "sub" / "long.py").write_text("x = 1\n" * 6, encoding="utf-8")
    assert too_long(package, limit=5) == ["pkg/sub/long.py: 6 lines"]


def test_every_module_of_gisportal_stays_under_the_limit():
    assert len(list((ROOT / "gisportal").rglob("*.py"))) > 100  # the whole package was read
    assert too_long(ROOT / "gisportal") == []
