"""Project hygiene: environment.yml in step with pyproject, SQL names, docs."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _name(req: str) -> str:
    return re.split(r"[<>=!\[ ;]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in ("postgres", "excel", "test"):
        wanted |= {_name(r) for r in project["optional-dependencies"][extra]}
    wanted.discard("taxsale-toolkit")
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    have = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    assert wanted == have, (
        f"only in pyproject: {wanted - have}; only in environment.yml: {have - wanted}"
    )


def test_every_migration_is_numbered_and_applies(tmp_path):
    import toolkit
    from toolkit.sql import load_migrations

    versions = [m.version for m in load_migrations("toolkit.backends.duckdb")]
    assert versions == list(range(1, len(versions) + 1))
    ws = toolkit.connect(str(tmp_path / "m.duckdb"))
    assert ws.sql("SELECT max(version) AS v FROM schema_migrations").v[0] == versions[-1]


def test_sql_files_only_bind_values():
    for path in sorted((ROOT / "toolkit" / "backends").glob("*/sql/*.sql")):
        text = path.read_text()
        # no Python-style formatting of values into SQL (identifiers only: {view}, {table})
        assert "{0}" not in text and "%(" not in text and ".format(" not in text, path


def test_sample_data_says_synthetic():
    for path in [
        ROOT / "data" / "sample" / "properties.csv",
        *sorted((ROOT / "data" / "sample").glob("*/README.md")),
    ]:
        assert "synthetic" in path.read_text()[:2000].lower(), path
