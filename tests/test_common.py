"""scikit-learn's estimator checks over every public estimator."""

import numpy as np
import pytest
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksvdd import (
    BandpassByWavelength,
    DeepSVDDDetector,
    DualWindowResidual,
    PerPixelUnitNorm,
    RXDetector,
)


def _bandpass(n_bands):
    # Descending wavelengths, and a bound that drops the last band: the selection
    # is not trivial (except for a single band, which must be kept).
    return BandpassByWavelength(
        wavelengths=np.linspace(1000.0, 400.0, n_bands), min_wavelength_nm=500.0
    )


ESTIMATORS = [
    _bandpass(3),
    PerPixelUnitNorm(),
    DeepSVDDDetector(max_epochs=3, random_state=0),
    RXDetector(),
    DualWindowResidual(image_shape=(4, 5), outer_window=3, inner_window=1),
]

# BandpassByWavelength is defined for one sensor's band set: its wavelengths
# must match X's columns. These checks generate X with another number of
# features than the 3 wavelengths given above, so they cannot apply to that
# instance; test_bandpass_passes_each_check_with_matching_bands below runs each
# of them again with wavelengths of the width the check uses.
_BANDPASS_OTHER_WIDTH = "generates X with a number of features other than len(wavelengths)=3"
BANDPASS_XFAIL = {
    name: _BANDPASS_OTHER_WIDTH
    for name in [
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params",
        "check_fit2d_1feature",
        "check_fit2d_1sample",
        "check_fit_check_is_fitted",
        "check_fit_idempotent",
        "check_n_features_in",
        "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
    ]
}


# DualWindowResidual transforms the pixels of one (rows, cols) image; checks that
# generate X with another number of rows than 4 x 5 = 20 cannot apply to it.
_OTHER_PIXEL_COUNT = "generates X whose number of rows is not image_shape rows x cols = 20"
SPATIAL_XFAIL = {
    name: _OTHER_PIXEL_COUNT
    for name in [
        "check_dtype_object", "check_fit_score_takes_y",
        "check_estimators_fit_returns_self", "check_pipeline_consistency",
        "check_estimators_nan_inf", "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_transformer_data_not_an_array", "check_transformer_general",
        "check_transformer_preserve_dtypes", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature",
        "check_fit_idempotent",
        "check_fit_check_is_fitted", "check_n_features_in", "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input", "check_n_features_in_after_fitting",
    ]
}


def _expected_failed_checks(estimator):
    if isinstance(estimator, BandpassByWavelength):
        return BANDPASS_XFAIL
    if isinstance(estimator, DualWindowResidual):
        return SPATIAL_XFAIL
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize("check_name", sorted(BANDPASS_XFAIL))
def test_bandpass_passes_each_check_with_matching_bands(check_name):
    check = getattr(estimator_checks, check_name)
    errors = []
    for n_bands in (1, 2, 3, 4, 5, 10, 20):
        try:
            check("BandpassByWavelength", _bandpass(n_bands))
            return
        except (AssertionError, ValueError) as exc:
            errors.append(f"{n_bands} bands: {exc}")
    pytest.fail(f"{check_name} failed for every band count:\n" + "\n".join(errors))
