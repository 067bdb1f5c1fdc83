"""The names of the per-epoch training history, in one place.

skorch records phase 2 in ``net_.history`` under its own names
(``train_loss``, ``train_loss_best``); ``DeepSVDDDetector.history_`` uses
shorter ones. :data:`HISTORY_KEYS` is the only mapping between the two: the
detector, persistence, plotting and monitoring all go through it.
"""

# skorch's key in net_.history -> key in DeepSVDDDetector.history_, in history_'s order.
HISTORY_KEYS = {
    "epoch": "epoch",
    "train_loss": "loss",
    "train_loss_best": "loss_best",
    "radius": "radius",
    "center_shift": "center_shift",
    "outside_frac": "outside_frac",
    "lr": "lr",
    "dur": "dur",
    # Only with DeepSVDDDetector(validation_fraction=...): the loss of the validation pixels.
    "valid_loss": "valid_loss",
    "valid_loss_best": "valid_loss_best",
}
_SKORCH_KEYS = {public: skorch for skorch, public in HISTORY_KEYS.items()}


def public_key(key):
    """The ``history_`` name of a skorch history key (other keys unchanged)."""
    return HISTORY_KEYS.get(key, key)


def public_row(row):
    """A history row (from ``net_.history`` or ``history_``) with ``history_``'s names."""
    return {public_key(key): value for key, value in row.items()}


def history_from_net(history):
    """``history_`` from a skorch History: the known keys, renamed, ``loss_best`` a bool."""
    rows = []
    for row in history:
        out = {HISTORY_KEYS[key]: row[key] for key in HISTORY_KEYS if key in row}
        out["loss_best"] = bool(out.get("loss_best", False))
        if "valid_loss_best" in out:
            out["valid_loss_best"] = bool(out["valid_loss_best"])
        rows.append(out)
    return rows


def net_history(rows):
    """A skorch History whose epochs hold ``rows`` (``history_``) under skorch's names."""
    from skorch.history import History

    # One list.extend of plain dicts: History.record indexes through History.__getitem__,
    # which costs time proportional to the history per call (quadratic overall).
    history = History()
    history.extend(
        {"batches": [], **{_SKORCH_KEYS.get(key, key): value for key, value in row.items()}}
        for row in rows
    )
    return history
