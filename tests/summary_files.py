"""Summary metrics that drive the comparison tests: the smart-pixel list (resolution,
RMS and pull spread of each target) as the task declares it, and a classifier's."""

from smartml.metrics.summary import SummaryMetric
from smartml.outputs.gaussian_mdn import GaussianMDN
from smartml.tasks.smart_pixels.layout import TARGET_LABELS, TARGET_UNITS, TARGETS

# as the smart-pixel task declares them (its output kind's)
PIXEL_SUMMARY = tuple(GaussianMDN(TARGETS, TARGET_UNITS, TARGET_LABELS).summary_metrics())

CLASSIFIER_SUMMARY = (
    SummaryMetric("roc.auc", "AUC", better="higher"),
    SummaryMetric("operating_points.efficiency_90.background_efficiency", "mis-ID at 90%"),
)
