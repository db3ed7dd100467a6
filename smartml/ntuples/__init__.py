"""ROOT ntuples as features: which to read (:class:`FeatureSelection`, from a features
file with :func:`load_feature_file`) and reading them from chained trees in bounded
memory (:class:`NtupleReader`, :func:`check_aligned`)."""

from smartml.ntuples.feature_file import load_feature_file
from smartml.ntuples.feature_selection import FeatureSelection
from smartml.ntuples.root_reader import Chunk, NtupleReader, check_aligned

__all__ = ["Chunk", "FeatureSelection", "NtupleReader", "check_aligned", "load_feature_file"]
