"""Schema of the ``data`` section of the ntuple signal/background classifier.

The data are ROOT trees (uproot): one or more **samples**, each a set of files holding
one tree, a class (``signal`` or ``background``) and a per-event weight (e.g. cross
section × luminosity / generated events). By default (``source: "simulation"``) the
samples are the built-in generator's Drell–Yan μ⁺μ⁻ events (signal) and dileptonic
t t̄ events (background) at 13 TeV (:mod:`smartml.collider.event_generator`), cached.
The features are a :class:`~smartml.ntuples.feature_selection.FeatureSelection`, given
inline or as the path of a features file (``.yaml``, ``.json``). Imports no TensorFlow.

>>> data = NtupleClassifierDataConfig()
>>> data.source, data.class_weighting, data.simulation.n_signal
('simulation', 'balanced', 100000)
>>> NtupleClassifierDataConfig(source="files")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for NtupleClassifierDataConfig
  Value error, source 'files' needs samples of both classes (signal and background); got none ...
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartml.collider.constants import MUON_MASS as MUON_MASS_GEV
from smartml.collider.generation_config import GenerationConfig
from smartml.config.common import SplitConfig
from smartml.config.inputs import InputPath, NamedInput, named_file
from smartml.config.strict import StrictModel
from smartml.ntuples.aliases import AliasTarget
from smartml.ntuples.feature_selection import FeatureSelection, pair_mass
from smartml.registry import TASKS

CLASS_NAMES = ("background", "signal")
MAX_ENTRIES_PER_CHUNK = 10_000_000
MAX_EVENTS = 100_000_000

Events = Annotated[int, Field(ge=10, le=MAX_EVENTS)]
Positive = Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]


class SampleWeight(StrictModel):
    """A per-event weight: ``scale`` × the value of ``branch`` (when given), normalised
    with ``normalize: "sum_of_weights"`` to cross_section_pb × luminosity_per_pb / Σw,
    Σw the sum of ``scale`` × ``branch`` over all the sample's entries (signed: NLO
    negative weights count negatively, as in the generator's cross section).

    >>> SampleWeight(branch="EventWeight", cross_section_pb=2.5, luminosity_per_pb=1e3,
    ...              normalize="sum_of_weights").scale
    1.0
    """

    branch: str | None = Field(
        None,
        min_length=1,
        description="the per-event weight's branch (or a name of the sample's aliases)",
    )
    scale: Positive = Field(1.0, description="a constant factor on every event")
    cross_section_pb: Positive | None = Field(None, description="the sample's cross section, pb")
    luminosity_per_pb: Positive | None = Field(
        None, description="the integrated luminosity the sample stands for, pb⁻¹"
    )
    normalize: Literal["none", "sum_of_weights"] = Field(
        "none",
        description="sum_of_weights: scaled so that the sample's weights sum to "
        "cross_section_pb × luminosity_per_pb",
    )

    @model_validator(mode="after")
    def _normalisation_complete(self) -> "SampleWeight":
        given = self.cross_section_pb is not None and self.luminosity_per_pb is not None
        either = self.cross_section_pb is not None or self.luminosity_per_pb is not None
        if (self.normalize == "sum_of_weights") != given or either != given:
            raise ValueError(
                "normalize 'sum_of_weights', cross_section_pb and luminosity_per_pb go "
                "together: give all three or none"
            )
        return self


class SampleConfig(StrictModel):
    """One sample: files of one tree, a class, a per-event weight and branch aliases."""

    name: str = Field(min_length=1, description="shown in logs, plots and the predictions")
    files: list[InputPath] = Field(
        min_length=1, description="ROOT files or globs, chained in this order"
    )
    tree: str = Field("events", min_length=1, description="the tree's path in each file")
    label: Literal["signal", "background"]
    weight: Positive | SampleWeight = Field(
        1.0,
        description="per-event weight: a number, or a branch × scale, optionally "
        "normalised to cross section × luminosity",
    )
    aliases: dict[Annotated[str, Field(min_length=1)], AliasTarget] = Field(
        default_factory=dict,
        description="the features' names -> this sample's branches ('pt1', 'Muon_PT[0]') "
        "or {pt_from|eta_from|phi_from: [px, py(, pz)]}",
    )


class ClassifierSimulation(StrictModel):
    """The built-in samples: Drell–Yan μ⁺μ⁻ (signal) and dileptonic t t̄ (background)."""

    n_signal: Events = 100_000
    n_background: Events = 100_000
    generation: GenerationConfig = GenerationConfig()


def default_features() -> FeatureSelection:
    """Features of the built-in samples: the two muons only (pT, η), their mass and
    their azimuthal difference. The missing transverse momentum and the b jets
    separate t t̄ from Drell–Yan almost perfectly (AUC 0.9999 measured with
    ``MET`` and ``Jet_PT[0]``, ``Jet_PT[1]`` added): add them with
    ``"branches": ["MET", "Jet_PT[0]"]`` and ``"missing_object": "fill"`` (Drell–Yan
    events have no jet)."""
    return FeatureSelection.model_validate(
        {
            "prefixes": [["lep1_", "lep2_"]],
            "suffixes": [["PT", "Eta"]],
            "derived": [
                pair_mass("mll", "lep1_", "lep2_", MUON_MASS_GEV),
                {
                    "kind": "delta_phi",
                    "name": "dphi_ll",
                    "phi": "lep2_Phi",
                    "reference": "lep1_Phi",
                },
            ],
        }
    )


@TASKS.register(
    "ntuple_classifier", implementation="smartml.tasks.ntuple_classifier.task:NtupleClassifierTask"
)
class NtupleClassifierDataConfig(StrictModel):
    source: Literal["simulation", "files"] = "simulation"
    samples: list[SampleConfig] = Field(
        default_factory=list, description="the samples (source 'files')"
    )
    simulation: ClassifierSimulation = ClassifierSimulation()
    features: FeatureSelection | InputPath = Field(
        default_factory=default_features,
        description="a feature selection, or the path of a features file (.yaml, .yml, .json)",
    )
    class_weighting: Literal["none", "balanced"] = Field(
        "balanced",
        description="balanced: weights scaled so that both classes carry the same total "
        "training weight; none: the samples' weights as they are",
    )
    negative_weights: Literal["keep", "drop", "absolute", "error"] = Field(
        "keep",
        description="events of negative weight (NLO generators), in training and in the "
        "weighted metrics: kept signed, dropped, made positive, or an error naming the first",
    )
    working_point: float = Field(
        0.5, gt=0, lt=1, description="signal-score threshold of the confusion matrix"
    )
    split: SplitConfig = SplitConfig()
    entries_per_chunk: int = Field(
        10_000, ge=1, le=MAX_ENTRIES_PER_CHUNK, description="entries read at a time"
    )

    def input_files(self) -> list[NamedInput]:
        """The files this configuration reads: the samples' (source 'files') and a
        features file."""
        features = self.features
        named = [named_file("data.features", features)] if isinstance(features, str) else []
        if self.source == "files":
            named += [
                NamedInput(f"data.samples[{sample.name}].files", tuple(sample.files))
                for sample in self.samples
            ]
        return named

    @model_validator(mode="after")
    def _samples_of_both_classes(self) -> "NtupleClassifierDataConfig":
        if self.source == "files":
            labels = {sample.label for sample in self.samples}
            if labels != {"signal", "background"}:
                raise ValueError(
                    "source 'files' needs samples of both classes (signal and background); "
                    f"got {', '.join(sorted(labels)) or 'none'}"
                )
            names = [sample.name for sample in self.samples]
            twice = sorted({name for name in names if names.count(name) > 1})
            if twice:
                raise ValueError(f"sample name {twice[0]!r} is used twice")
        return self
