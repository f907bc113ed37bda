"""The apps meet through real imports in one direction (import-linter checks the
order in ``make test``) and through signals; never through a name looked up at run
time, which would turn a renamed function into a silent "not available"."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "core", "accounts", "api", "devices", "refresh", "procurement", "disposals")
APPS += ("reports", "workspace", "demo", "ops")

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


def _settings_with_defaults(path: Path) -> list[str]:
    """``getattr(settings, NAME, default)``: a setting read with a fallback of its own,
    which can disagree with config/settings.py (or with another reader's fallback)."""
    name = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
    return [
        f"{name}:{node.lineno} getattr(settings, ...)"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "getattr"
        and len(node.args) == 3
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "settings"
    ]


def test_every_setting_is_read_as_config_settings_defines_it():
    offenders = [hit for path in _application_modules() for hit in _settings_with_defaults(path)]
    assert offenders == [], "Define the setting in config/settings.py and read it directly:\n" + (
        "\n".join(offenders)
    )


def test_the_check_finds_a_setting_read_with_its_own_default(tmp_path):
    path = tmp_path / "probe.py"
    path.write_text("from django.conf import settings\nn = getattr(settings, 'X', 3)\n")
    assert _settings_with_defaults(path)
