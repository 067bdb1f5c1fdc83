"""Shared outlier-detector plumbing: threshold, decision function and labels."""

import numpy as np


class OffsetOutlierMixin:
    """``decision_function`` and ``predict`` from ``score_samples`` and ``offset_``.

    Subclasses implement ``score_samples`` (higher = more normal) and set
    ``offset_`` in ``fit`` with :func:`offset_from_scores`.
    """

    def decision_function(self, X):
        """Shifted score: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Pixels to score.

        Returns
        -------
        decision : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """Predict inliers (+1) and outliers (-1).

        Parameters
        ----------
        X : {array-like, DataFrame} of shape (n_samples, n_features)
            Pixels to classify.

        Returns
        -------
        labels : ndarray of shape (n_samples,), dtype=int
            ``-1`` where ``decision_function(X) < 0``, else ``+1``.
        """
        decision = self.decision_function(X)
        labels = np.ones(decision.shape[0], dtype=int)
        labels[decision < 0] = -1
        return labels


def offset_from_scores(scores, contamination):
    """The ``contamination`` quantile of the training scores.

    Pixels strictly below it are outliers, so a fraction ``contamination``
    of the training pixels (up to ties) is predicted ``-1``.
    """
    return float(np.percentile(scores, 100.0 * contamination))
