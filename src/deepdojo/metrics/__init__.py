"""deepdojo.metrics: imbalance-aware classification metrics, threshold tuning, calibration,
and generative metrics (PSNR, SSIM, Frechet distance)."""

from deepdojo.metrics.calibration import calibration_curve, expected_calibration_error
from deepdojo.metrics.classification import (
    average_precision,
    balanced_accuracy,
    classification_report,
    confusion_matrix,
    g_mean,
    matthews_corrcoef,
    precision_recall_curve,
    precision_recall_f1,
    roc_auc,
    roc_curve,
)
from deepdojo.metrics.generative import (
    classifier_features,
    frechet_distance,
    frechet_distance_from_stats,
    gradient_magnitude,
    gradient_spectrum_distance,
    modes_covered,
    precision_recall,
    psnr,
    radial_power_spectrum,
    ssim,
)
from deepdojo.metrics.thresholds import apply_threshold, threshold_curve, tune_threshold

__all__ = [
    "apply_threshold",
    "average_precision",
    "balanced_accuracy",
    "calibration_curve",
    "classifier_features",
    "classification_report",
    "confusion_matrix",
    "expected_calibration_error",
    "frechet_distance",
    "frechet_distance_from_stats",
    "g_mean",
    "gradient_magnitude",
    "gradient_spectrum_distance",
    "matthews_corrcoef",
    "modes_covered",
    "precision_recall_curve",
    "precision_recall",
    "psnr",
    "precision_recall_f1",
    "radial_power_spectrum",
    "roc_auc",
    "roc_curve",
    "ssim",
    "threshold_curve",
    "tune_threshold",
]
