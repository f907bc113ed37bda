"""The apps meet through real imports in one direction (import-linter checks the
order in ``make test``) and through signals; never through a name looked up at run
time, which would turn a renamed function into a silent "not available"."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "core", "accounts", "api", "devices", "refresh", "procurement", "disposals")
APPS += ("reports", "demo")

DYNAMIC_LOOKUPS = {
    ("importlib", "import_module"),
    ("importlib", "util"),
    ("apps", "get_model"),
}


def _application_modules():
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path


def _dynamic_lookups(path: Path) -> list[str]:
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in DYNAMIC_LOOKUPS
        ):
            found.append(f"{name}:{node.lineno} {node.value.id}.{node.attr}")
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names]
            module = getattr(node, "module", None) or ""
            if module == "importlib" or "importlib" in names:
                found.append(f"{name}:{node.lineno} imports importlib")
    return found


def test_no_app_looks_another_up_by_name_at_run_time():
    offenders = [hit for path in _application_modules() for hit in _dynamic_lookups(path)]
    assert offenders == [], "Import the other app directly, in the allowed direction:\n" + (
        "\n".join(offenders)
    )


@pytest.mark.parametrize(
    "source",
    [
        "import importlib\nmodule = importlib.import_module('refresh.selectors')\n",
        "from django.apps import apps\nmodel = apps.get_model('procurement', 'CapitalEnvelope')\n",
    ],
)
def test_the_check_finds_a_dynamic_lookup(tmp_path, source):
    path = tmp_path / "probe.py"
    path.write_text(source)
    assert _dynamic_lookups(path)
