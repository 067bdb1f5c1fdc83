"""scikit-learn's estimator checks over every public estimator."""

import numpy as np
import pytest
from sklearn.utils import estimator_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from sksvdd import (
    BandpassByWavelength,
    DeepSVDDDetector,
    PerPixelUnitNorm,
    RXDetector,
    make_reference_pipeline,
)


def _bandpass(n_bands):
    # Descending wavelengths, and a bound that drops the last band: the selection
    # is not trivial (except for a single band, which must be kept).
    return BandpassByWavelength(
        wavelengths=np.linspace(1000.0, 400.0, n_bands), min_wavelength_nm=500.0
    )


# Every public pixel-level estimator, with no skipped check and no expected
# failure except the two outlier-share checks of a held-out threshold
# (validation_fraction). BandpassByWavelength() keeps every band (no wavelengths,
# no bounds); its selection is checked with wavelengths that match each check's X below.
ESTIMATORS = [
    BandpassByWavelength(),
    PerPixelUnitNorm(),
    DeepSVDDDetector(max_epochs=3, random_state=0),
    DeepSVDDDetector(max_epochs=3, validation_fraction=0.2, random_state=0),
    make_reference_pipeline(random_state=0),
    RXDetector(),
]

# The checks that build X themselves: run again with a selecting band-pass.
BANDPASS_CHECKS = [
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


def _expected_failures(estimator):
    """Checks that a held-out threshold fails by design; none for any other estimator."""
    if getattr(estimator, "validation_fraction", None) is None:
        return {}
    why = ("validation_fraction sets offset_ from the held-out pixels' scores, so the share "
           "of training pixels predicted -1 is not contamination (the point of the option)")
    return {"check_outliers_train": why, "check_outliers_fit_predict": why}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_compatible_estimator(estimator, check, monkeypatch):
    # check_array_api_input skips itself unless SCIPY_ARRAY_API is set; with NumPy
    # inputs (our estimators declare no other array namespace) it only needs the flag.
    monkeypatch.setenv("SCIPY_ARRAY_API", "1")
    check(estimator)


@pytest.mark.parametrize("check_name", BANDPASS_CHECKS)
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
