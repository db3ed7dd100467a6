"""ROOT trees to HDF5 or parquet, one column per feature: the conversion behind
``smartml convert`` (:mod:`smartml.convert`, whose options the messages name).
The inputs are local files or URLs (``root://`` through the ``xrootd`` extra,
``http(s)://``), holding TTrees or RNTuples. The features are chosen by a features
file (:mod:`smartml.ntuples.feature_file`: branches, prefixes × suffixes, wildcards,
objects of jagged branches, derived features). The input files are chained and read
``--step`` entries at a time, so memory stays bounded whatever their size; a progress
bar shows on a terminal.

The output is written whole or not at all: into a hidden temporary file beside it
(``.<name>.partial-*``, :func:`smartml.files.atomic_file`), renamed into place at the
end; an error or ^C removes it.
The layouts are those of :mod:`smartml.ntuples.hdf5_writer` (``.h5``, ``.hdf5``: one
dataset per feature, chunked and compressed, with its ``source_branch`` attribute;
``source_files``, ``tree``, ``entries_read`` and ``dropped_rows`` as root attributes)
and :mod:`smartml.ntuples.parquet_writer` (``.parquet``: one column per feature, one
row group per chunk). Both add ``source_entry``, each row's entry in the input chain.
A feature of an integer or boolean branch keeps its dtype (``Event`` stays int64:
float32 would change event numbers above 2^24); the others are float32
(:mod:`smartml.ntuples.typed_columns`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from smartml.cli import require_writable_directory
from smartml.console import progress
from smartml.errors import ConfigError, OutputError
from smartml.files import atomic_file
from smartml.locations import Location
from smartml.ntuples.conversion_metadata import ConversionMetadata, FeatureWriter

if TYPE_CHECKING:
    from smartml.ntuples.root_reader import NtupleReader
    from smartml.ntuples.typed_columns import TypedColumns

log = logging.getLogger(__name__)

FORMATS = {".h5": "hdf5", ".hdf5": "hdf5", ".parquet": "parquet", ".pq": "parquet"}
COMPRESSIONS = {
    "hdf5": ("gzip", "lzf", "none"),
    "parquet": ("zstd", "snappy", "gzip", "lz4", "brotli", "none"),
}
DEFAULT_STEP = 100_000


def output_format(output: Path) -> str:
    """'hdf5' or 'parquet', by the output's suffix.

    >>> output_format(Path("events.h5")), output_format(Path("events.parquet"))
    ('hdf5', 'parquet')
    """
    kind = FORMATS.get(output.suffix.lower())
    if kind is None:
        raise ConfigError(f"--output {output}: expected a file ending in {', '.join(FORMATS)}")
    return kind


def convert(
    inputs: Sequence[Location],
    tree: str | None,
    features: Path,
    output: Path,
    step: int = DEFAULT_STEP,
    compression: str | None = None,
    overwrite: bool = False,
) -> ConversionMetadata:
    """Convert the features of ``tree`` in ``inputs`` to ``output``.

    Args:
        inputs: ROOT files or URLs, chained; tree: the TTree or RNTuple (None: the
            first file's only one).
        features: the features file; output: the ``.h5``/``.parquet`` file to write.
        step: entries per chunk; compression: see :data:`COMPRESSIONS` (None: the
            first); overwrite: replace an existing output.

    Returns:
        what was written (files, tree, features, entries read, rows dropped).

    Raises:
        SmartmlError: one line for a bad input, features file, option or output.
    """
    from smartml.ntuples.feature_file import load_feature_file
    from smartml.ntuples.root_reader import NtupleReader, single_tree

    if output.is_dir():
        raise OutputError(f"--output {output}: is a directory; expected a file name")
    kind = output_format(output)
    compression = _compression(kind, compression)
    if step < 1:
        raise ConfigError(f"--step {step}: must be greater than 0")
    if output.exists() and not overwrite:
        raise OutputError(f"--output {output}: exists; give --overwrite to replace it")
    require_writable_directory(output.parent, "--output")
    selection = load_feature_file(features)
    tree = tree or single_tree(inputs[0])
    with NtupleReader(inputs, tree, selection) as reader:
        return _convert(reader, output, kind, compression, step)


def _convert(
    reader: NtupleReader, output: Path, kind: str, compression: str, step: int
) -> ConversionMetadata:
    """Write the reader's features to ``output`` (through a staged file)."""
    from smartml.ntuples.root_reader import open_tree
    from smartml.ntuples.typed_columns import TypedColumns

    with ExitStack() as opened:
        trees = []
        for path in reader.files:  # the integer features are read again with their dtype
            trees.append(open_tree(path, reader.tree_name))
            opened.callback(trees[-1].file.close)
        columns = TypedColumns(reader, trees)
        metadata = _metadata(reader, columns.dtypes)
        metadata.check_names(str(output))
        output.parent.mkdir(parents=True, exist_ok=True)
        with atomic_file(output, OutputError) as temporary:
            _write(reader, columns, _writer(kind, temporary, metadata, compression), step, output)
    return metadata


def _metadata(reader: NtupleReader, dtypes: dict[str, str]) -> ConversionMetadata:
    """What the output records about its origin (all but the counts, set at the end)."""
    return ConversionMetadata(
        source_files=[str(path) for path in reader.files],
        tree=reader.tree_name,
        source_branches={name: reader.source_of(name) for name in reader.feature_names},
        object_indices={
            name: column.index
            for name, column in reader.resolved.columns.items()
            if column.index is not None and name in reader.feature_names
        },
        dtypes={name: dtype for name, dtype in dtypes.items() if dtype != "float32"},
    )


def _compression(kind: str, compression: str | None) -> str:
    choices = COMPRESSIONS[kind]
    if compression is None:
        return choices[0]
    if compression not in choices:
        raise ConfigError(f"--compression {compression}: {kind} takes one of {', '.join(choices)}")
    return compression


def _writer(kind: str, path: Path, metadata: ConversionMetadata, compression: str) -> FeatureWriter:
    from smartml.ntuples.hdf5_writer import Hdf5FeatureWriter
    from smartml.ntuples.parquet_writer import ParquetFeatureWriter

    if kind == "hdf5":
        return Hdf5FeatureWriter(path, metadata, compression)
    return ParquetFeatureWriter(path, metadata, compression)


def _write(
    reader: NtupleReader,
    columns: TypedColumns,
    writer: FeatureWriter,
    step: int,
    output: Path,
) -> None:
    """Stream the reader's chunks into the writer, with a progress bar on a terminal."""
    try:
        with progress(reader.n_entries, "event", f"converting to {output.name}") as bar:
            for start in range(0, reader.n_entries, step):
                stop = min(start + step, reader.n_entries)
                chunk = reader.read(start, stop)
                writer.write(columns.columns(chunk, start, stop), chunk.entries)
                writer.metadata.dropped_rows += chunk.dropped
                bar.update(stop - start)
        writer.metadata.entries_read = reader.n_entries
        writer.close()
    except OSError as err:
        writer.abort()
        raise OutputError(f"--output {output}: cannot write ({err.strerror or err})") from None
    except BaseException:
        writer.abort()
        raise
