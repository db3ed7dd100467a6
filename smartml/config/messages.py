"""One-line messages for schema violations, with the key path as the user wrote it.

pydantic reports where validation failed as a location tuple in *its* terms: a union
adds the member it tried (``("constraints", 0, "sparsity", "targt")``: ``sparsity``
is the discriminator's value, not a key of the file). :func:`locate` walks the
schema that was validated along that tuple, through models, optional values
(``X | None``), unions, lists, tuples, dicts and ``Annotated``, so that the message
names the key path the user wrote (``constraints[0].targt``) and, for an unknown key,
the keys the section at that place does accept. Schemas are found by walking types,
never by class name, so two sections whose classes share a name cannot be confused.
"""

import difflib
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic.fields import FieldInfo

_SEQUENCES = (list, tuple, set, frozenset, Sequence)
_MAPPINGS = (dict, Mapping)


@dataclass(frozen=True)
class Location:
    """Where a validation error is, in the user's terms.

    Attributes:
        keys: the path as written in the file: ``"mdmm.constraints[0].targt"``.
        section: the schema whose key the last path element is (the one holding an
            unknown key); None when the path does not end in a section's key.
    """

    keys: str
    section: type[BaseModel] | None


def locate(schema: type[BaseModel], loc: tuple[int | str, ...]) -> Location:
    """Follow pydantic's error location ``loc`` through ``schema``.

    Args:
        schema: the class that was validated.
        loc: ``ValidationError.errors()[i]["loc"]``.

    Returns:
        the user's key path and the section owning its last key.

    >>> from typing import Literal
    >>> class Cut(BaseModel):
    ...     kind: Literal["cut"]
    ...     low: float = 0.0
    >>> class Cuts(BaseModel):
    ...     cuts: list[Cut] | None = None
    >>> where = locate(Cuts, ("cuts", 2, "lo"))
    >>> where.keys, where.section.__name__
    ('cuts[2].lo', 'Cut')
    """
    written: list[str] = []
    section: type[BaseModel] | None = None
    node: Any = schema
    discriminator: Any = None  # a field name, or a pydantic Discriminator
    remaining = list(loc)
    while remaining:
        node, discriminator = _unwrap(node, discriminator)
        part = remaining[0]
        members = _union_members(node)
        if members is not None:
            # pydantic names the member it tried (a tag or a type label): not a key.
            remaining.pop(0)
            node = _member(members, part, discriminator)
            discriminator = None
            continue
        remaining.pop(0)
        section = None
        written.append(f"[{part}]" if isinstance(part, int) else f".{part}")
        if _is_model(node):
            section = node
            field = _field(node, part)
            node, discriminator = (field.annotation, field.discriminator) if field else (None, None)
        elif get_origin(node) in _SEQUENCES:
            node = _item_type(node, part)
        elif get_origin(node) in _MAPPINGS:
            node = get_args(node)[1] if get_args(node) else None
        else:
            node = None
    return Location("".join(written).removeprefix("."), section)


def describe(
    err: ValidationError,
    schema: type[BaseModel],
    source: str,
    prefix: str,
    options: Mapping[str, str] | None = None,
) -> str:
    """One line for the most telling violation in ``err``: file, key path, what was expected.

    An unknown key is reported before anything else it causes (a misspelled required
    key is also a missing one). A value that came from a command-line option is
    reported under that option, since the file does not hold it.

    Args:
        err: raised by ``schema.model_validate``.
        schema: the validated class.
        source: the file (or other origin) named first in the message.
        prefix: the section's own path in the file (``"training"``), "" at the top.
        options: dotted key -> the option that set it, as typed
            (``{"training.epochs": "--epochs -1"}``).

    Returns:
        ``"<source>: <key path>: <what is wrong>[ (and N more problems)]"``, or
        ``"<option> <value>: <what is wrong>[ ...]"``.
    """
    problems = err.errors()
    first = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    where = locate(schema, first["loc"])
    key = ".".join(part for part in (prefix, where.keys) if part).replace(".[", "[")
    # A union reports each member's failure; count the places, not pydantic's entries.
    more = len({locate(schema, p["loc"]).keys for p in problems} - {where.keys})
    suffix = f" (and {more} more problem{'s' * (more > 1)})" if more else ""
    option = _option_at(key, options or {})
    if first["type"] == "extra_forbidden":
        message = unknown_key_message(str(first["loc"][-1]), _known_keys(schema, problems, where))
        if option is not None:  # --set of a misspelled key
            return f"{option}: {message}{suffix}"
    elif option is not None:
        return f"{option}: {_requirement(first['msg'])}{suffix}"
    elif first["type"] == "missing":
        message = "required key is missing"
    else:
        message = f"{first['msg']} (got {first['input']!r})"
    return f"{source}: {key or '(top level)'}: {message}{suffix}"


def _option_at(key: str, options: Mapping[str, str]) -> str | None:
    """The option that set ``key`` or a section holding it (``data.time_slices`` for
    ``data.time_slices[0]``); None when the file did."""
    for dotted, option in options.items():
        if key == dotted or key.startswith((f"{dotted}.", f"{dotted}[")):
            return option
    return None


def _requirement(pydantic_message: str) -> str:
    """pydantic's message as a requirement on a value the line already shows.

    >>> _requirement("Input should be greater than 0")
    'must be greater than 0'
    >>> _requirement("Value error, unknown part 'x'")
    "unknown part 'x'"
    """
    should = "Input should be "
    if pydantic_message.startswith(should):
        return "must be " + pydantic_message.removeprefix(should)
    return pydantic_message.removeprefix("Value error, ")


def unknown_key_message(key: str, known: Sequence[str]) -> str:
    """What to say about the unknown ``key`` where ``known`` keys are accepted.

    >>> unknown_key_message("dampng", ["constraints", "damping"])
    "unknown key 'dampng'; did you mean 'damping'?"
    >>> unknown_key_message("x", ["low", "high"])
    "unknown key 'x'; expected one of: low, high"
    >>> unknown_key_message("x", [])
    "unknown key 'x'"
    """
    if not known:
        return f"unknown key {key!r}"
    close = difflib.get_close_matches(key, list(known), n=1)
    hint = f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(known)}"
    return f"unknown key {key!r}; {hint}"


def _known_keys(schema: type[BaseModel], problems: list[Any], where: Location) -> list[str]:
    """Keys accepted where ``where`` points; for a union of sections that all rejected
    the key, those of every member (pydantic reports one error per member)."""
    known: dict[str, None] = {}
    for problem in problems:
        other = locate(schema, problem["loc"])
        if problem["type"] == "extra_forbidden" and other.keys == where.keys and other.section:
            known.update(dict.fromkeys(_keys_of(other.section)))
    return list(known)


def _keys_of(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items()]


def _unwrap(node: Any, discriminator: Any) -> tuple[Any, Any]:
    """Strip ``Annotated`` layers (keeping a ``Field(discriminator=...)`` found there)
    and ``| None``: pydantic validates ``X | None`` as ``X`` without naming it."""
    while True:
        if get_origin(node) is Annotated:
            node, *metadata = get_args(node)
            for item in metadata:
                if isinstance(item, FieldInfo) and item.discriminator is not None:
                    discriminator = item.discriminator
        elif _is_union(node) and len(_not_none(node)) == 1:
            node = _not_none(node)[0]
        else:
            return node, discriminator if isinstance(discriminator, str) else None


def _union_members(node: Any) -> list[Any] | None:
    """Members of a union that pydantic validates as a choice (None: not such a union)."""
    return _not_none(node) if _is_union(node) else None


def _is_union(node: Any) -> bool:
    return get_origin(node) in (Union, types.UnionType)


def _not_none(union: Any) -> list[Any]:
    return [member for member in get_args(union) if member is not type(None)]


def _member(members: list[Any], tag: Any, discriminator: Any) -> Any:
    """The union member pydantic tried under ``tag``: the one marked ``Tag(tag)``, whose
    discriminator field admits it, or whose class name or type label it is; None when
    unknown."""
    for member in members:
        inner, _ = _unwrap(member, None)
        if tag in _tags(member):
            return inner
        if discriminator and _is_model(inner):
            field = inner.model_fields.get(discriminator)
            if field is not None and tag in _literal_values(field.annotation):
                return inner
        elif not discriminator and tag in (getattr(inner, "__name__", None), repr(inner)):
            return inner
    return None


def _tags(member: Any) -> list[str]:
    """Tags given with ``Annotated[X, Tag("t")]`` (callable discriminators use them)."""
    if get_origin(member) is not Annotated:
        return []
    return [item.tag for item in get_args(member)[1:] if isinstance(item, Tag)]


def _literal_values(annotation: Any) -> tuple[Any, ...]:
    annotation, _ = _unwrap(annotation, None)
    return get_args(annotation) if get_origin(annotation) is Literal else ()


def _item_type(node: Any, index: Any) -> Any:
    """Type of element ``index`` of a list/set/``tuple[X, ...]``/``tuple[X, Y]``."""
    args = get_args(node)
    if get_origin(node) is tuple and args and args[-1] is not Ellipsis:
        return args[index] if isinstance(index, int) and index < len(args) else None
    return args[0] if args else None


def _field(model: type[BaseModel], key: Any) -> FieldInfo | None:
    for name, field in model.model_fields.items():
        if key in (name, field.alias):
            return field
    return None


def _is_model(node: Any) -> bool:
    return isinstance(node, type) and issubclass(node, BaseModel)
