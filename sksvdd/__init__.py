"""sksvdd: Deep SVDD one-class anomaly detection for scikit-learn."""

__version__ = "0.1.0.dev0"
