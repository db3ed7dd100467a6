"""Summary metrics that drive the comparison tests: the smart-pixel list (resolution,
RMS and pull spread of each target) as the task declares it, and a classifier's."""

from smartml.evaluation.summary import SummaryMetric

PIXEL_TARGETS = (
    ("x-midplane", "x", "µm"),
    ("y-midplane", "y", "µm"),
    ("cotAlpha", "cotα", ""),
    ("cotBeta", "cotβ", ""),
)

PIXEL_SUMMARY = tuple(
    metric
    for key, label, unit in PIXEL_TARGETS
    for metric in (
        SummaryMetric(f"{key}.robust_width", f"{label} width", unit),
        SummaryMetric(f"{key}.rms", f"{label} RMS", unit),
        SummaryMetric(f"{key}.pull_std", f"{label} pull std", better="one"),
    )
)

CLASSIFIER_SUMMARY = (
    SummaryMetric("roc.auc", "AUC", better="higher"),
    SummaryMetric("operating_points.efficiency_90.background_efficiency", "mis-ID at 90%"),
)
