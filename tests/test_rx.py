"""RXDetector against an independent Mahalanobis computation."""

import numpy as np
import pytest
from scipy.spatial.distance import mahalanobis

from sksvdd import RXDetector


def test_rx_scores_are_minus_mahalanobis(blobs):
    X, _ = blobs
    X = X.astype(np.float64)
    rx = RXDetector(reg=0.0).fit(X)
    cov = np.cov(X, rowvar=False, bias=True)
    VI = np.linalg.inv(cov)
    mu = X.mean(axis=0)
    expected = np.array([-mahalanobis(x, mu, VI) ** 2 for x in X[:50]])
    np.testing.assert_allclose(rx.score_samples(X[:50]), expected, rtol=1e-8)


def test_rx_ridge_is_relative_to_scale(blobs):
    X, _ = blobs
    s1 = RXDetector(reg=0.1).fit(X).score_samples(X)
    s2 = RXDetector(reg=0.1).fit(X * 1000.0).score_samples(X * 1000.0)
    np.testing.assert_allclose(s1, s2, rtol=1e-5)


def test_rx_handles_more_bands_than_pixels():
    X = np.random.RandomState(0).normal(size=(10, 40))
    scores = RXDetector().fit(X).score_samples(X)
    assert np.isfinite(scores).all()


@pytest.mark.parametrize("contamination", [0.01, 0.05, 0.2])
def test_rx_contamination_sets_fraction_of_outliers(blobs, contamination):
    X, _ = blobs
    pred = RXDetector(contamination=contamination).fit_predict(X)
    assert abs(np.mean(pred == -1) - contamination) <= 1.0 / len(X)


def test_rx_finds_shifted_anomalies(blobs):
    X, y = blobs
    pred = RXDetector(contamination=12 / len(X)).fit(X).predict(X)
    assert set(np.unique(pred)) == {-1, 1}
    assert (pred[y == 1] == -1).mean() > 0.9
