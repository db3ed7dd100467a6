#!/usr/bin/env python3
# /// script
# dependencies = ["nox>=2024.10.9"]
# ///
"""Task runner: `nox -s ci` is what CI runs (the README's test command), `nox -s docs`
builds the documentation site, `nox -s build` builds and checks the package.

Sessions that use the project's tools run in the current environment
(`venv_backend="none"`): they need smartml with its whole dependency tree (TensorFlow,
QKeras, hls4ml: gigabytes), which `pip install -e ".[test]"` has put there; a virtual
environment per session would install it again on every CI run, on a 2-core machine.
`build` instead gets a small environment of its own for the packaging tools (build,
twine, cffconvert, which pins an old jsonschema that the project's environment should
not get), and installs the wheel into a fresh, empty virtual environment: that is the
point of the check (see `build`).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import nox

nox.needs_version = ">=2024.10.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.error_on_missing_interpreters = True

ROOT = Path(__file__).resolve().parent


@nox.session(venv_backend="none", default=False)
def lint(session: nox.Session) -> None:
    """ruff (lint and format check), mypy, the import layers (lint-imports) and
    spelling (codespell)."""
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")
    session.run("lint-imports")
    session.run("codespell", "smartml", "tests", "docs", "benchmarks", "README.md", "CHANGELOG.md")


@nox.session(venv_backend="none", default=False)
def docs(session: nox.Session) -> None:
    """The documentation site into build/site/, warnings as errors.

    `nox -s docs -- serve` serves it while you edit instead.
    """
    session.run("python", "docs/generate.py", "--check")
    if session.posargs == ["serve"]:
        session.run("mkdocs", "serve")
    else:
        session.run("mkdocs", "build", "--strict")


@nox.session(venv_backend="none", default=False)
def tests(session: nox.Session) -> None:
    """The test suite on two xdist workers.

    Arguments replace those: `nox -s tests -- tests/test_cli.py`.
    """
    session.run("python", "-m", "pytest", *(session.posargs or ["-n", "2", "--dist", "loadscope"]))


@nox.session(venv_backend="none")
def ci(session: nox.Session) -> None:
    """What CI runs: lint, the documentation, the tests."""
    lint(session)
    docs(session)
    tests(session)


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """The package built, checked and installed in a fresh virtual environment.

    sdist and wheel, `twine check --strict`, CITATION.cff validated; the wheel installed
    into a fresh virtual environment without the system's packages, where `smartml
    --version` and every `smartml <command> --help` must run.

    The fresh environment downloads every dependency from the package index (minutes,
    mostly TensorFlow), but it is what a user gets from `pip install smartml-hep`: with
    `--system-site-packages` the shared environment would hide a dependency missing
    from setup.cfg, and the checkout could be imported instead of the wheel.
    """
    session.install("build", "twine", "cffconvert")
    work = Path(session.create_tmp()).resolve()
    dist = work / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    session.run("python", "-m", "build", "--outdir", str(dist), str(ROOT))
    packages = sorted(str(path) for path in dist.iterdir())
    session.run("twine", "check", "--strict", *packages)
    session.run("cffconvert", "--validate", "--infile", str(ROOT / "CITATION.cff"))

    (wheel,) = dist.glob("*.whl")
    fresh = work / "fresh-venv"
    session.run("python", "-m", "venv", "--clear", str(fresh))
    # --no-compile: byte-compiling TensorFlow's files is a good part of the install time
    pip = str(fresh / "bin" / "pip")
    started = time.monotonic()
    session.run(pip, "install", "--quiet", "--no-compile", str(wheel), external=True)
    session.log(f"the wheel and its dependencies installed in {time.monotonic() - started:.0f} s")
    session.chdir(work)  # away from the checkout: `import smartml` must find the wheel's
    smartml = str(fresh / "bin" / "smartml")
    session.run(smartml, "--version", external=True)
    listing = session.run(
        str(fresh / "bin" / "python"),
        "-c",
        "from smartml.__main__ import COMMANDS; print(*COMMANDS)",
        external=True,
        silent=True,
    )
    for command in str(listing).split():
        session.run(smartml, command, "--help", external=True, silent=True)
    session.log(f"{wheel.name}: smartml --version and {len(listing.split())} --help ran")


if __name__ == "__main__":
    nox.main()
