"""The base of every configuration schema: strict about keys, types and numbers.

Nothing is coerced: ``"3"`` or ``true`` is not an integer, ``1e9`` (a float) is not
an integer either, ``1`` is not a boolean. The one conversion left is the one JSON
cannot avoid: an integer is a valid float (``"learning_rate": 1``). Configuration
files are validated in pydantic's JSON mode (:func:`validate_json_section`), where a
JSON array is a valid ``tuple`` as well as a ``list``.

pydantic compares ``Literal`` values by equality, even in strict mode (``true``
passes for ``Literal[1]``): give a choice of numbers as a bounded ``int`` instead.

>>> class Fit(StrictModel):
...     epochs: PositiveInt = 1
...     rate: PositiveFloat = 0.1
>>> validate_json_section(Fit, {"epochs": 3, "rate": 1}).rate
1.0
>>> validate_json_section(Fit, {"epochs": True})
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for Fit
epochs
  Input should be a valid integer [type=int_type, input_value=True, input_type=bool]
...
"""

import json
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

PositiveInt = Annotated[int, Field(gt=0)]
PositiveFloat = Annotated[float, Field(gt=0, allow_inf_nan=False)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
# numpy's legacy seeding (keras.utils.set_random_seed) takes 0 <= seed < 2**32.
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
# A layer this wide on a detector front end is a typing mistake, not a design.
LayerWidth = Annotated[int, Field(ge=1, le=4096)]

Schema = TypeVar("Schema", bound=BaseModel)


class StrictModel(BaseModel):
    """Base of every schema section: unknown keys, values of another type (no
    coercion) and NaN/inf are rejected."""

    model_config = ConfigDict(
        extra="forbid", strict=True, validate_assignment=True, allow_inf_nan=False
    )


def validate_json_section(schema: type[Schema], value: Any) -> Schema:
    """Validate parsed JSON ``value`` against ``schema`` in pydantic's JSON mode.

    Strict Python-mode validation refuses a list for a ``tuple`` field; JSON mode
    takes a JSON array for both, as a configuration file can only write arrays.

    Args:
        schema: the section's class.
        value: what ``json.loads`` gave (dicts, lists, strings, numbers, booleans).

    Returns:
        the validated section.

    Raises:
        pydantic.ValidationError: as ``schema.model_validate`` would.
        TypeError: ``value`` holds something JSON cannot represent.

    >>> class Window(StrictModel):
    ...     size: tuple[int, int]
    >>> validate_json_section(Window, {"size": [13, 21]}).size
    (13, 21)
    """
    return schema.model_validate_json(json.dumps(value, allow_nan=True))
