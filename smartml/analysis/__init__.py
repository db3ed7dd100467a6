"""Analysis of finished runs, for the notebooks under ``notebooks/`` (and scripts).

* :mod:`~smartml.analysis.run_contents`: open run directories (config, metrics,
  history, model, hardware cost);
* :mod:`~smartml.analysis.weights`: float and quantized weights per layer, the
  quantized levels in use, zero fractions against the MDMM targets, every MDMM
  constraint evaluated on the trained weights, per-layer BOPs;
* :mod:`~smartml.analysis.histories`: constraint values, multipliers λ, per-layer
  sparsity and BOPs per epoch (history.csv);
* :mod:`~smartml.analysis.firmware_report`: the export's report.json (agreement,
  estimates, metrics of firmware and Keras);
* :mod:`~smartml.analysis.comparison`: several runs side by side (what differs in their
  configs, resolution and pulls, hardware cost, resolution against the track angles);
* :mod:`~smartml.analysis.figures`: matplotlib figures of all of the above;
* :mod:`~smartml.analysis.working_directory`: where relative run paths are found (the
  notebooks run from ``notebooks/`` or from the repository root).

The measurements themselves are those of the training and evaluation
(:mod:`smartml.hardware.cost`, :mod:`smartml.training.mdmm`,
:mod:`smartml.evaluation`), so that a notebook shows what the run counted.
"""
