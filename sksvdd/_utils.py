"""Private helpers shared by several subpackages (one helper per job)."""

import warnings

import torch


def resolve_device(device, *, cpu_fallback=False, context="DeepSVDDDetector", stacklevel=2):
    """Turn a ``device`` parameter into a torch device string.

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"auto"`` (CUDA when it is
        available, else the CPU).
    cpu_fallback : bool, default=False
        What to do when CUDA is requested but not available: ``False``
        raises ValueError (fitting must not silently run elsewhere);
        ``True`` warns (UserWarning) and returns ``"cpu"`` (loading a model
        fitted on another machine).
    context : str, default="DeepSVDDDetector"
        Who asks, for the messages.
    stacklevel : int, default=2
        Passed to :func:`warnings.warn`, counted from the caller.

    Returns
    -------
    device : str

    Raises
    ------
    ValueError
        If ``device`` is not a torch device, is neither a CPU nor a CUDA
        device, or is CUDA where there is none and ``cpu_fallback`` is False.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"{context}: device={device!r} is not a torch device; use 'cpu', 'cuda', "
            "'cuda:N' or 'auto'."
        ) from exc
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(
            f"{context}: device={device!r} is not supported; use 'cpu', 'cuda' or 'auto'."
        )
    if dev.type == "cuda" and not torch.cuda.is_available():
        if not cpu_fallback:
            raise ValueError(
                f"{context}: device={device!r} was requested but CUDA is not available on "
                "this machine; use device='cpu' or device='auto'."
            )
        warnings.warn(
            f"{context}: device={device!r} was requested but CUDA is not available here; "
            "the network is put on the CPU (scores may differ from CUDA scores in the last "
            "bits). Set device='cpu' before refitting on this machine.",
            UserWarning,
            stacklevel=stacklevel + 1,
        )
        return "cpu"
    return device
