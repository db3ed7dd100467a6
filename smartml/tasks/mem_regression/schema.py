"""Schema of the ``data`` section of the MEM regression (the DeepMEM seed).

A network learns ``−log10 w``, the Matrix-Element-Method weight of an event under the
Drell–Yan hypothesis, from the event's reconstructed features, so that the weight of
a new event costs one inference instead of one integral. The events are a ROOT tree;
the weights a tree aligned with it entry by entry (MoMEMta's ``momemta`` tree with
``weight_DY``, or what ``python -m smartml.mem`` writes). By default
(``source: "simulation"``) the built-in generator writes LO Drell–Yan μ⁺μ⁻ events
and the weights are integrated here, both cached. Imports no TensorFlow.

>>> data = MemDataConfig()
>>> data.source, data.weights.tree, data.weights.branch, data.non_positive_weights
('simulation', 'momemta', 'weight_DY', 'drop')
>>> MemDataConfig(source="files")
Traceback (most recent call last):
...
pydantic_core._pydantic_core.ValidationError: 1 validation error for MemDataConfig
  Value error, source 'files' needs the events' files and the weights' files ...
"""

from typing import Annotated, Literal

from pydantic import Field, model_validator

from smartml.collider.constants import MUON_MASS as MUON_MASS_GEV
from smartml.collider.generation_config import GenerationConfig
from smartml.collider.mem_engine import SCHEDULER_ADDRESS_EXPECTED, is_scheduler_address
from smartml.collider.mem_settings import MemSettings
from smartml.config.common import SplitConfig
from smartml.config.inputs import InputPath, NamedInput, named_file
from smartml.config.strict import StrictModel
from smartml.ntuples.aliases import AliasTarget
from smartml.ntuples.feature_selection import FeatureSelection, pair_mass
from smartml.registry import TASKS

MAX_EVENTS = 100_000_000
Files = list[InputPath]


class WeightTree(StrictModel):
    """Where the MEM weights are: a tree aligned entry by entry with the events."""

    files: Files = Field(
        default_factory=list,
        description="ROOT files or globs (source 'files'), in the events' order",
    )
    tree: str = Field("momemta", min_length=1)
    branch: str = Field("weight_DY", min_length=1, description="the weight (must be > 0)")


class MemSimulation(StrictModel):
    """Built-in events and their weights."""

    n_events: int = Field(20_000, ge=10, le=MAX_EVENTS)
    generation: GenerationConfig = GenerationConfig()
    mem: MemSettings = MemSettings()
    workers: int = Field(
        2,
        ge=1,
        le=1024,
        description="worker processes of the local Dask cluster integrating the weights "
        "(1: in this process); not with scheduler",
    )
    scheduler: str | None = Field(
        None,
        description="address of a running Dask scheduler (tcp://host:port) whose workers "
        "integrate the weights instead (docs: ROOT ntuples, MEM on Dask and dask-jobqueue)",
    )
    speed_events: int = Field(
        50, ge=0, le=10_000, description="test events integrated again to time the integrator"
    )

    @model_validator(mode="after")
    def _one_engine(self) -> "MemSimulation":
        if self.scheduler is not None and not is_scheduler_address(self.scheduler):
            raise ValueError(f"scheduler {self.scheduler!r}: {SCHEDULER_ADDRESS_EXPECTED}")
        if self.scheduler is not None and "workers" in self.model_fields_set:
            raise ValueError("workers and scheduler: the scheduler's workers integrate; give one")
        return self


def default_features() -> FeatureSelection:
    """What the LO Drell–Yan weight depends on: the muons' pT and η, the size of their
    azimuthal difference (near π; its size has no jump where pairs wrap), and in the
    variables where the weight is simple: the pT balance and the acoplanarity set the
    transfer functions' Gaussian factors (at LO the true muons balance exactly), the
    dimuon mass the Breit–Wigner."""
    return FeatureSelection.model_validate(
        {
            "prefixes": [["lep1_", "lep2_"]],
            "suffixes": [["PT", "Eta"]],
            "derived": [
                {
                    "kind": "delta_phi",
                    "name": "abs_dphi_ll",
                    "phi": "lep2_Phi",
                    "reference": "lep1_Phi",
                    "absolute": True,
                },
                {"kind": "balance", "name": "pt_balance", "first": "lep1_PT", "second": "lep2_PT"},
                pair_mass("mll", "lep1_", "lep2_", MUON_MASS_GEV),
            ],
        }
    )


@TASKS.register(
    "mem_regression", implementation="smartml.tasks.mem_regression.task:MemRegressionTask"
)
class MemDataConfig(StrictModel):
    source: Literal["simulation", "files"] = "simulation"
    files: Files = Field(
        default_factory=list, description="the events' ROOT files (source 'files')"
    )
    tree: str = Field("events", min_length=1, description="the events' tree")
    aliases: dict[Annotated[str, Field(min_length=1)], AliasTarget] = Field(
        default_factory=dict,
        description="names the features and the integrator's speed measurement use "
        "(lep1_PT, ...) -> the events' branches ('pt1', 'Muon_PT[0]') or "
        "{pt_from|eta_from|phi_from: [px, py(, pz)]}",
    )
    weights: WeightTree = WeightTree()
    simulation: MemSimulation = MemSimulation()
    features: FeatureSelection | InputPath = Field(
        default_factory=default_features,
        description="a feature selection, or the path of a features file (.yaml, .yml, .json)",
    )
    non_positive_weights: Literal["drop", "error"] = Field(
        "drop",
        description="events whose weight is zero, negative or not finite: dropped and "
        "counted, or an error naming the first",
    )
    loss: Literal["mse", "gaussian_nll"] = Field(
        "mse", description="mean squared error of −log10 w, or a Gaussian NLL with predicted σ"
    )
    split: SplitConfig = SplitConfig()
    entries_per_chunk: int = Field(10_000, ge=1, le=10_000_000)

    def input_files(self) -> list[NamedInput]:
        """The files this configuration reads: the events' and the weights' (source
        'files') and a features file."""
        features = self.features
        named = [named_file("data.features", features)] if isinstance(features, str) else []
        if self.source == "files":
            named += [
                NamedInput("data.files", tuple(self.files)),
                NamedInput("data.weights.files", tuple(self.weights.files)),
            ]
        return named

    @model_validator(mode="after")
    def _files_given(self) -> "MemDataConfig":
        if self.source == "files" and not (self.files and self.weights.files):
            raise ValueError(
                "source 'files' needs the events' files and the weights' files "
                "(data.files, data.weights.files)"
            )
        return self
