"""Features files: a :class:`~smartml.ntuples.feature_selection.FeatureSelection` written
as YAML (``.yaml``, ``.yml``) or JSON (``.json``), its keys at the top level.

>>> import tempfile
>>> path = Path(tempfile.mkdtemp()) / "features.yaml"
>>> _ = path.write_text("branches: [MET, 'Jet_PT[0]']\\nmissing_object: fill\\n")
>>> load_feature_file(path).branches
['MET', 'Jet_PT[0]']
>>> _ = path.write_text("brnches: [MET]\\n")
>>> load_feature_file(path)
Traceback (most recent call last):
...
smartml.errors.ConfigError: ...features.yaml: brnches: unknown key 'brnches'; did you mean ...
"""

from pathlib import Path

from pydantic import ValidationError

from smartml.config.messages import describe
from smartml.config.strict import validate_json_section
from smartml.errors import ConfigError
from smartml.files import DATA_FILE_SUFFIXES as SUFFIXES
from smartml.files import parse_data_file
from smartml.ntuples.feature_selection import FeatureSelection


def load_feature_file(path: str | Path) -> FeatureSelection:
    """Read and validate a features file.

    Args:
        path: a ``.yaml``, ``.yml`` or ``.json`` file holding one mapping.

    Returns:
        the selection.

    Raises:
        ConfigError: one line naming the file and, for a schema violation, the key (an
            unknown key with the nearest valid one).
    """
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise ConfigError(
            f"{path}: a features file must end in {', '.join(SUFFIXES)} (YAML or JSON)"
        )
    content = parse_data_file(path, "features file")
    if not isinstance(content, dict):
        raise ConfigError(
            f"{path}: expected a mapping of feature keys, found a {type(content).__name__}"
        )
    try:
        return validate_json_section(FeatureSelection, content)
    except ValidationError as err:
        raise ConfigError(describe(err, FeatureSelection, str(path), "")) from None
    except TypeError as err:  # YAML values JSON has no type for (dates, sets)
        raise ConfigError(f"{path}: not plain data ({err})") from None
