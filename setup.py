"""Packaging beyond what pyproject.toml can say: the top-level templates/ and static/ folders
stay where they are in the checkout and travel inside the config package in the wheel
(config/templates, config/static), where settings look for them in an installed copy."""

from setuptools import find_namespace_packages, find_packages, setup

DATA = {"config.templates": "templates", "config.static": "static"}


def data_packages(package: str, folder: str) -> list[str]:
    return [package, *(f"{package}.{sub}" for sub in find_namespace_packages(where=folder))]


data = [name for package, folder in DATA.items() for name in data_packages(package, folder)]
setup(
    packages=[
        *find_packages(include=["config", "config.*", "connections", "connections.*"]),
        *data,
    ],
    package_dir=DATA,
    package_data={name: ["*"] for name in data},
)
