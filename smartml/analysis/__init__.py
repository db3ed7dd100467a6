"""Analysis of finished runs, for the notebooks under ``notebooks/`` (and scripts).

* :mod:`~smartml.analysis.run_contents`: open a run directory (config, metrics,
  history, model);
* :mod:`~smartml.analysis.weights`: float and quantized weights per layer, the
  quantized levels in use, zero fractions against MDMM targets;
* :mod:`~smartml.analysis.histories`: constraint values, multipliers, per-layer
  sparsity and BOPs per epoch;
* :mod:`~smartml.analysis.firmware_report`: the export's report.json;
* :mod:`~smartml.analysis.comparison`: several runs side by side (metrics, what
  differs in their configs, resolution against the track angles);
* :mod:`~smartml.analysis.figures`: the figures of all of the above;
* :mod:`~smartml.analysis.notebook_files`: run a notebook with parameters; keep them in
  git without outputs.
"""
