"""The README stands alone: every setting it should document is in its table, it links only
inside the repository, and it keeps the two commands CI runs."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
ENV_HELPERS = {"env", "env_bool", "env_list", "env_int", "env_float"}


def settings_variables() -> set[str]:
    """Every environment variable config/settings.py reads (env helpers, os.environ.get)."""
    tree = ast.parse((ROOT / "config" / "settings.py").read_text())
    names = {"DATABASE_URL"}  # read by dj_database_url.config()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and is_environ(node.value):
            key = node.slice
        elif isinstance(node, ast.Call) and node.args and reads_env(node.func):
            key = node.args[0]
        else:
            continue
        if isinstance(key, ast.Constant) and re.fullmatch(r"[A-Z][A-Z0-9_]*", str(key.value)):
            names.add(key.value)
    return names


def is_environ(node: ast.expr) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "environ"


def reads_env(function: ast.expr) -> bool:
    if isinstance(function, ast.Name):
        return function.id in ENV_HELPERS
    if isinstance(function, ast.Attribute):
        return function.attr == "getenv" or (function.attr == "get" and is_environ(function.value))
    return False


def readme_table_variables() -> set[str]:
    section = README.split("\n## Environment", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split("|")[1])}


def test_every_variable_the_settings_read_is_in_the_readme_table() -> None:
    variables = settings_variables()
    assert {"DJANGO_SECRET_KEY", "DJANGO_SECURE_SSL_REDIRECT", "FIELD_ENCRYPTION_KEYS"} <= variables
    assert sorted(variables - readme_table_variables()) == []


def test_the_readme_and_docs_link_nothing_outside_the_repository() -> None:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    for document in documents:
        text = document.read_text()
        assert "../" not in text, document
        assert "SPEC.md" not in text, document
        for target in re.findall(r"\]\(([^)]+)\)", text):
            assert not re.match(r"[a-z]+:", target), (document, target)
            assert (document.parent / target.split("#")[0]).exists(), (document, target)


def test_the_readme_links_its_docs_and_keeps_the_two_commands() -> None:
    for page in ("docs/product.md", "docs/api.md", "docs/production.md"):
        assert f"]({page})" in README
    assert "make run " in README and "make test " in README
    assert "make run PORT=8080" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_readme_fits_on_two_screens() -> None:
    assert len(README.splitlines()) <= 120
