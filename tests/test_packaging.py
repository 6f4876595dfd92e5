"""`pip install .` gives a working console: the wheel holds every package, the templates and
the static files, and the installed copy checks, migrates and finds them outside the checkout."""

import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", out, ROOT],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return next(out.glob("email_connections-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh venv outside the checkout with the wheel and its dependencies (pip's cache
    may serve them; the constraints of the project's own venv do not apply)."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", venv], check=True, timeout=120)
    subprocess.run(
        [venv / "bin" / "pip", "install", "-q", "--disable-pip-version-check", wheel],
        check=True,
        capture_output=True,
        timeout=600,
    )
    yield venv


def python_packages(folder: Path) -> set[str]:
    return {
        str(init.parent.relative_to(ROOT)).replace("/", ".")
        for init in folder.rglob("__init__.py")
        if "__pycache__" not in init.parts
    }


def test_the_wheel_holds_every_package_the_templates_and_the_static_files(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = python_packages(ROOT / "config") | python_packages(ROOT / "connections")
    assert {"connections.api", "connections.mail", "connections.migrations"} <= packages
    for package in packages:
        assert f"{package.replace('.', '/')}/__init__.py" in names, package
    shipped = [path for folder in ("templates", "static") for path in (ROOT / folder).rglob("*")]
    assert shipped
    for path in (path for path in shipped if path.is_file()):
        assert f"config/{path.relative_to(ROOT)}" in names, path


def run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "DATABASE", "PYTHON", "VIRTUAL_ENV", "APP_VAR"))
    }
    return subprocess.run(
        [venv / "bin" / "email-connections", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_installed_console_checks_and_migrates_outside_the_checkout(
    installed: Path, tmp_path: Path
) -> None:
    checked = run(installed, tmp_path, "check")
    assert checked.returncode == 0, checked.stderr
    assert "no issues" in checked.stdout
    migrated = run(installed, tmp_path, "migrate", "--noinput")
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "var" / "db.sqlite3").exists()
    located = run(
        installed, tmp_path, "shell", "-c", "import connections; print(connections.__file__)"
    )
    assert str(installed) in located.stdout
    assert str(ROOT) not in located.stdout


def test_the_installed_console_finds_its_templates_and_static_files(
    installed: Path, tmp_path: Path
) -> None:
    found = run(
        installed, tmp_path, "findstatic", "connections/app.css", "bootstrap/css/bootstrap.min.css"
    )
    assert found.returncode == 0, found.stderr
    assert str(ROOT) not in found.stdout
    rendered = run(
        installed,
        tmp_path,
        "shell",
        "-c",
        "from django.template.loader import get_template as t; "
        "print(t('connections/record_form.html').origin.name, t('base.html').origin.name)",
    )
    assert rendered.returncode == 0, rendered.stderr
    assert rendered.stdout.count(str(installed)) == 2
