"""ROOT ntuples as features: which to read (:class:`FeatureSelection`, from a features
file with :func:`load_feature_file`) and reading them from chained trees in bounded
memory (:class:`NtupleReader`, :func:`check_aligned`)."""

# No re-exports: the schemas (feature_selection) load without uproot, which the
# reader needs; import from the modules.
