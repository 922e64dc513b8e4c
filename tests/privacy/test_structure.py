"""The shape privacy keeps (issue 10): kinds are specs, modules stay small and simple,
and the rule linking a call to its binding is privacy's own."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRIVACY = ROOT / "privacy"

# A branch on a kind's code: `binding.kind == "cyj"`, `kind != Binding.Kind.XA`,
# `self.Kind.CYJ`, or a list of kind codes kept outside the specs.
KIND_BRANCH = re.compile(
    r"""kind\s*[!=]=\s*["'](axb|xa|cyj)["']"""
    r"""|Kind\.(AXB|XA|CYJ)\b"""
    r"""|kind\s*(not\s+)?in\s+\(?["'](axb|xa|cyj)["']"""
    r"""|KINDS_(BY_VENDOR|HELD_UNTIL_END_TIME)"""
)


def _sources():
    for path in sorted(PRIVACY.rglob("*")):
        if path.suffix not in {".py", ".html"} or "migrations" in path.parts:
            continue
        if path.name == "kinds.py":
            continue
        yield path


@pytest.mark.parametrize("path", list(_sources()), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_kind_branches_outside_the_specs(path):
    hits = [
        f"{n}: {line.strip()}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if KIND_BRANCH.search(line)
    ]
    assert hits == []


@pytest.mark.parametrize(
    "path", sorted(PRIVACY.glob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_privacy_modules_stay_under_500_lines(path):
    assert len(path.read_text().splitlines()) <= 500


def test_privacy_functions_have_mccabe_complexity_at_most_10():
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "C901",
            "--config",
            "lint.mccabe.max-complexity=10",
            str(PRIVACY),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_callbacks_name_no_privacy_table():
    for path in sorted((ROOT / "callbacks").glob("*.py")):
        text = path.read_text()
        assert "privacy_binding" not in text and "accounts_privacynumber" not in text, path


def test_privacy_names_no_vendor_code():
    """Kinds come from the vendors' declarations (vendors.binding_kinds): privacy's code
    never spells a vendor's code (issue 10's acceptance grep)."""
    import vendors

    # A code between quotes (not "igw's" in prose).
    quoted = re.compile("|".join(f"[\"']{code}[\"'](?!\\w)" for code in vendors.REGISTRY))
    hits = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in [*_sources(), PRIVACY / "kinds.py"]
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if quoted.search(line)
    ]
    assert hits == []
