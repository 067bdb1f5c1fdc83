"""BandpassByWavelength and PerPixelUnitNorm: behaviour against independent computations."""

import math
import warnings
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import Normalizer

from sksvdd import BandpassByWavelength, PerPixelUnitNorm

WL = np.array([420.0, 450.0, 600.0, 750.0, 900.0, 950.0])


def _X(n=5, dtype=np.float64):
    return np.random.RandomState(0).uniform(0.1, 1.0, size=(n, WL.size)).astype(dtype)


@pytest.mark.parametrize(
    "lo, hi, expected",
    [
        (450.0, 900.0, [False, True, True, True, True, False]),  # inclusive bounds
        (None, 600.0, [True, True, True, False, False, False]),
        (700.0, None, [False, False, False, True, True, True]),
        (None, None, [True] * 6),
    ],
)
def test_bandpass_keeps_bands_inside_closed_interval(lo, hi, expected):
    X = _X()
    bp = BandpassByWavelength(wavelengths=WL, min_wavelength_nm=lo, max_wavelength_nm=hi)
    Xt = bp.fit_transform(X)
    np.testing.assert_array_equal(bp.get_support(), expected)
    np.testing.assert_array_equal(Xt, X[:, np.array(expected)])


def test_bandpass_inverse_transform_and_feature_names():
    X = _X()
    bp = BandpassByWavelength(wavelengths=WL, min_wavelength_nm=500).fit(X)
    back = bp.inverse_transform(bp.transform(X))
    np.testing.assert_array_equal(back[:, :2], 0.0)
    np.testing.assert_array_equal(back[:, 2:], X[:, 2:])
    np.testing.assert_array_equal(bp.get_feature_names_out(), ["x2", "x3", "x4", "x5"])


def test_bandpass_reads_wavelengths_from_dataframe_columns_and_outputs_pandas():
    X = pd.DataFrame(_X(), columns=[f"{w:g}" for w in WL])
    bp = BandpassByWavelength(min_wavelength_nm=440, max_wavelength_nm=760)
    bp.set_output(transform="pandas")
    out = bp.fit_transform(X)
    assert isinstance(out, pd.DataFrame)
    assert list(out.columns) == ["450", "600", "750"]
    np.testing.assert_array_equal(bp.wavelengths_, WL)
    np.testing.assert_array_equal(bp.feature_names_in_, X.columns)


def test_bandpass_float32_stays_float32():
    X = _X(dtype=np.float32)
    assert BandpassByWavelength(wavelengths=WL, max_wavelength_nm=800).fit_transform(X).dtype == (
        np.float32
    )


@pytest.mark.parametrize(
    "params, X, match",
    [
        ({"wavelengths": WL[:-1]}, _X(), r"wavelengths has 5 values but X has 6 features"),
        ({"wavelengths": WL, "min_wavelength_nm": 2000.0}, _X(), r"No band is left.*420-950"),
        (
            {"wavelengths": WL, "min_wavelength_nm": 900.0, "max_wavelength_nm": 500.0},
            _X(),
            r"min_wavelength_nm=900.0 is greater than max_wavelength_nm=500.0",
        ),
        ({"wavelengths": np.r_[WL[:-1], np.nan]}, _X(), r"wavelengths contain NaN.*\[5\]"),
        (
            {"min_wavelength_nm": 500.0},
            _X(),
            r"wavelengths is None and X is not a DataFrame.*Hint: pass "
            r"wavelengths=scene.wavelengths.*store them \(in nm\) as a 'wavelengths' "
            r"variable.*or fit without a band-pass",
        ),
        (
            {"max_wavelength_nm": 900.0},
            pd.DataFrame(_X(), columns=list("abcdef")),
            r"column names that parse as numbers",
        ),
        ({"wavelengths": WL.reshape(2, 3)}, _X(), r"wavelengths must be 1-D"),
        ({"wavelengths": WL, "min_wavelength_nm": np.inf}, _X(), r"min_wavelength_nm must be"),
    ],
)
def test_bandpass_bad_input_raises_clear_value_error(params, X, match):
    with pytest.raises(ValueError, match=match):
        BandpassByWavelength(**params).fit(X)


def test_bandpass_rejects_nan_and_wrong_width_at_transform():
    bp = BandpassByWavelength(wavelengths=WL, min_wavelength_nm=500).fit(_X())
    X = _X()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        bp.transform(X)
    with pytest.raises(ValueError, match="features"):
        bp.transform(_X()[:, :4])


def test_unit_norm_matches_formula():
    X = _X(n=50)
    centred = X - X.mean(axis=1, keepdims=True)
    expected = centred / np.linalg.norm(centred, axis=1, keepdims=True)
    Xt = PerPixelUnitNorm().fit_transform(X)
    np.testing.assert_allclose(Xt, expected, rtol=1e-12)
    np.testing.assert_allclose(Xt.mean(axis=1), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(Xt, axis=1), 1.0, rtol=1e-12)


def test_unit_norm_without_centre_is_l2_normalizer():
    X = _X(n=50)
    np.testing.assert_allclose(
        PerPixelUnitNorm(center=False).fit_transform(X), Normalizer().fit_transform(X)
    )


def test_unit_norm_removes_brightness_and_keeps_float32():
    X = _X(n=10, dtype=np.float32)
    Xt = PerPixelUnitNorm().fit_transform(X)
    assert Xt.dtype == np.float32
    np.testing.assert_allclose(PerPixelUnitNorm().fit_transform(7.5 * X + 3.0), Xt, atol=1e-5)


def test_unit_norm_flat_spectrum_maps_to_zero_not_nan():
    X = np.vstack([np.full(6, 0.4), _X(n=1)[0]])
    Xt = PerPixelUnitNorm().fit_transform(X)
    np.testing.assert_allclose(Xt[0], 0.0, atol=1e-6)  # round-off / eps, not 1/0
    assert np.isfinite(Xt).all()


def test_unit_norm_does_not_modify_input_and_is_stateless():
    X = _X(n=10)
    X_copy = X.copy()
    norm = PerPixelUnitNorm()
    Xt_unfitted = norm.transform(X)  # stateless: no fit needed
    np.testing.assert_array_equal(X, X_copy)
    np.testing.assert_array_equal(Xt_unfitted, norm.fit(X[:2]).transform(X))


@pytest.mark.parametrize("eps", [0.0, -1.0])
def test_unit_norm_rejects_non_positive_eps(eps):
    with pytest.raises(ValueError, match="eps"):
        PerPixelUnitNorm(eps=eps).fit(_X())


def test_transformers_chain_in_a_pipeline():
    X = pd.DataFrame(_X(n=20), columns=[str(w) for w in WL])
    pipe = make_pipeline(
        BandpassByWavelength(min_wavelength_nm=450, max_wavelength_nm=900), PerPixelUnitNorm()
    )
    Xt = pipe.fit_transform(X)
    assert Xt.shape == (20, 4)
    np.testing.assert_allclose(np.linalg.norm(Xt, axis=1), 1.0)


def test_bandpass_without_wavelengths_or_bounds_keeps_every_band():
    # Files such as the ABU scenes carry no wavelengths: with no bound nothing is
    # selected, so none are needed.
    X = _X()
    bp = BandpassByWavelength().fit(X)
    assert bp.wavelengths_ is None
    assert bp.get_support().all()
    np.testing.assert_array_equal(bp.transform(X), X)


def _exact_unit_norm(row, center):
    """``(x - mean) / ||x - mean||`` in exact rational arithmetic, rounded once at the end."""
    values = [Fraction(float(v)) for v in row]
    if center:
        mean = sum(values) / len(values)
        values = [v - mean for v in values]
    squared_norm = sum(v * v for v in values)
    # c / sqrt(S) = sign(c) * sqrt(c**2 / S): the ratio is at most 1, so it fits a float
    # (c itself may not: a centred 1e308 row can exceed the float range).
    return [math.sqrt(v * v / squared_norm) * (-1.0 if v < 0 else 1.0) for v in values]


@pytest.mark.parametrize("center", [True, False])
@pytest.mark.parametrize(
    "row, dtype",
    [
        ([1e308, -1e308, 1e308, 1e308], np.float64),  # the reported case: sum overflows
        ([1.7e308, 1.6e308, -1.5e308, 3.0], np.float64),
        ([1e300, 3e300, -2e300, 5e299], np.float64),  # squared norm overflows
        ([3e-170, 1e-170, -4e-170, 0.0], np.float64),  # squares underflow to 0
        ([3.0e38, -3.0e38, 2.5e38, 1.0], np.float32),
        ([1.0, 2.0, 4.0, 8.0], np.float64),
    ],
)
def test_unit_norm_extreme_magnitudes_match_exact_arithmetic(row, dtype, center):
    X = np.array([row, [1.0, 2.0, 3.0, 5.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value warning either
        # eps below every norm here, so that the formula has no floor to apply.
        Xt = PerPixelUnitNorm(center=center, eps=1e-320).fit_transform(X)
    assert Xt.dtype == dtype
    assert np.all(np.isfinite(Xt))
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    for got, original in zip(Xt, X, strict=True):
        np.testing.assert_allclose(got, _exact_unit_norm(original, center), rtol=rtol,
                                   atol=rtol)
        np.testing.assert_allclose(np.linalg.norm(got.astype(np.float64)), 1.0, rtol=rtol)


def test_unit_norm_flat_huge_spectrum_maps_to_zero_not_nan():
    X = np.array([[1.7e308] * 4, [-1e-320] * 4])  # flat: nothing left after centring
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Xt = PerPixelUnitNorm().fit_transform(X)
    np.testing.assert_array_equal(Xt, np.zeros_like(X))
