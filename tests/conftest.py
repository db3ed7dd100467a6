"""Shared test set-up.

``import smartml`` comes first so that TF_USE_LEGACY_KERAS is set before any test
module imports TensorFlow or QKeras (QKeras needs the Keras 2 API).

pytest runs with ``--import-mode=importlib``, which does not put ``tests/`` on
``sys.path``; it is added here so that tests can import the helper modules next to
them (``from pixel_files import write_parts``).
"""

import smartml  # noqa: F401, I001  (must precede every TensorFlow import)

import sys
from pathlib import Path

import pytest

# Importing it registers the conformance suite's toy tasks (it is the SMARTML_PLUGINS
# module of the suite's subprocesses): --doctest-modules must not import it for everyone.
# The example plugin is an installed package: imported again from its folder, under
# another module name, its layer handler would be registered twice.
collect_ignore = ["conformance_plugin.py", "plugin_example"]

TESTS_DIR = str(Path(__file__).resolve().parent)
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)

from pixel_files import WrittenClusters, write_parts, write_recon3d  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def private_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """SMARTML_CACHE_DIR set to a temporary folder for the whole session (and the
    subprocesses it starts): no test reads or fills the user's real cache."""
    with pytest.MonkeyPatch.context() as environment:
        directory = tmp_path_factory.mktemp("smartml_cache")
        environment.setenv("SMARTML_CACHE_DIR", str(directory))
        yield directory


@pytest.fixture(scope="session")
def pixel_parts(tmp_path_factory: pytest.TempPathFactory) -> WrittenClusters:
    """A small ``parts`` dataset shared by all tests; do not modify its files.

    Files part.1, part.2, part.10 (natural order) of 40 clusters each, row groups
    of 15: 9 chunks of 15, 15, 10 rows; 120 clusters, about a third not contained.
    """
    directory = tmp_path_factory.mktemp("pixel_parts")
    return write_parts(directory, rows_per_file=40, rows_per_group=15, part_numbers=[1, 2, 10])


@pytest.fixture(scope="session")
def pixel_recon3d(tmp_path_factory: pytest.TempPathFactory) -> WrittenClusters:
    """A small ``recon3d`` dataset (2 files x 40 clusters; pixel row groups of 20,
    label row groups of 15) shared by all tests; do not modify its files."""
    root = tmp_path_factory.mktemp("pixel_recon3d")
    return write_recon3d(root / "pixels", root / "labels", n_files=2, rows_per_file=40)
