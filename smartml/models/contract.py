"""What a model builder is: the :class:`ModelBuilder` protocol, and its typed lookup.

A model registered in :data:`smartml.registry.MODELS` names its builder (the
``implementation`` of its schema); the trainer and the exporter reach it only through
:func:`builder_of`, typed, so mypy checks every call, and the decorator
:func:`model_builder` makes mypy check each builder class against the protocol where
it is defined. This module imports no TensorFlow at runtime.

>>> builder = builder_of("mlp")
>>> builder.exportable, builder.__name__
(True, 'MLP')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from smartml.config.base import ModelSection
from smartml.errors import ConfigError
from smartml.registry import MODELS

if TYPE_CHECKING:
    from smartml.backend import keras
    from smartml.outputs.base import OutputKind
    from smartml.tasks.base import InputSpec

ConfigT = TypeVar("ConfigT", bound=ModelSection, contravariant=True)


@runtime_checkable
class ModelBuilder(Protocol[ConfigT]):
    """A model builder: usually a class of static methods, used as the class itself.

    Attributes:
        exportable: whether the model can have a bit-exact firmware form at all (False:
            never, whatever its configuration).
    """

    exportable: bool

    def build(
        self, config: ConfigT, inputs: dict[str, InputSpec], output: OutputKind
    ) -> keras.Model:
        """The uncompiled Keras model of ``config``: one ``keras.Input`` per task input
        (same name and shape), an output of ``output.n_outputs`` values.

        Args:
            config: the run's ``model`` section (the builder's own schema).
            inputs: the task's named inputs.
            output: the task's output kind.
        """
        ...

    def export_refusal(self, config: ConfigT) -> str | None:
        """Why the model of ``config`` has no bit-exact firmware form, in words; None
        when it has one."""
        ...


BuilderT = TypeVar("BuilderT", bound=ModelBuilder[Any])


def model_builder(builder: BuilderT) -> BuilderT:
    """Class decorator of a builder: mypy checks the class against
    :class:`ModelBuilder` here (a wrong signature is an error where the builder is
    defined, not where it is called), and so does Python, when the class is created.

    Raises:
        TypeError: a member of the protocol is missing, one line naming it.
    """
    missing = _missing_members(builder)
    if missing:
        raise TypeError(f"{builder!r} is not a ModelBuilder: it lacks {', '.join(missing)}")
    return builder


def builder_of(name: str) -> ModelBuilder[Any]:
    """The builder of the model registered as ``name``, imported on first use.

    Raises:
        ConfigError: no such model, or its registered implementation lacks a member of
            :class:`ModelBuilder` (a plugin's mistake), one line naming it.
    """
    builder = MODELS.get(name)
    missing = _missing_members(builder)
    if missing:
        raise ConfigError(
            f"model {name!r}: {MODELS.entry(name).implementation} is not a model builder "
            f"(it lacks {', '.join(missing)}; see smartml.models.contract.ModelBuilder)"
        )
    return builder


#: The protocol's members: its annotated attributes and its methods.
MEMBERS = tuple(
    sorted(
        {
            *ModelBuilder.__annotations__,
            *(name for name, value in vars(ModelBuilder).items() if callable(value)),
        }
        - {name for name in vars(ModelBuilder) if name.startswith("_")}
    )
)


def _missing_members(builder: object) -> list[str]:
    return [name for name in MEMBERS if not hasattr(builder, name)]
