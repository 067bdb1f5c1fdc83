"""Forward passes without autograd, in fixed-size batches: embeddings and scores.

Used by the statistical phase (embeddings of the sample), by ``fit`` (the
training scores behind ``trim_fraction`` and ``offset_``) and by
``score_samples``.
"""

import copy

import numpy as np
import torch

# Pixels scored per forward pass. Every pass has exactly this many rows (the
# last one is zero-padded), so each pixel's score goes through the same BLAS
# kernel whatever the size of X: scores do not depend on how X is batched or
# chunked (subset invariance, bit-identical chunked scoring). It also bounds the
# working memory to about _SCORE_BATCH * (n_features + hidden + rep_dim) * 4 bytes.
_SCORE_BATCH = 2048
# Pixels read and scored at a time from a Dataset without its own ``chunk_rows``:
# a multiple of _SCORE_BATCH, 16 MiB of float32 at 64 bands.
CHUNK_ROWS = 65536


def map_batches(module, fn, X):
    """Apply ``fn`` to ``X`` in fixed-size chunks on ``module``'s device, without autograd.

    Each chunk has ``_SCORE_BATCH`` rows (the last one zero-padded), which
    bounds memory and makes the result for a row independent of the
    other rows. The module has no train/eval-dependent layers, so no mode
    is toggled here and concurrent calls are safe. Results are written
    into one preallocated CPU tensor: keeping a small output per chunk
    alive between freed chunk buffers fragments the heap (RSS then grows
    with the number of chunks).
    """
    device = module.center.device
    n, n_features = X.shape
    # Full chunks of C-contiguous, writeable float32 input are used in place;
    # anything else (read-only, strided, float64, the padded last chunk) is
    # copied chunk by chunk into one reused buffer, never all of X at once.
    direct = X.dtype == np.float32 and X.flags.c_contiguous and X.flags.writeable
    buffer = None
    out = None
    with torch.inference_mode():
        for start in range(0, n, _SCORE_BATCH):
            rows = min(_SCORE_BATCH, n - start)
            if direct and rows == _SCORE_BATCH:
                chunk = torch.from_numpy(X[start : start + rows])
            else:
                if buffer is None:
                    buffer = np.zeros((_SCORE_BATCH, n_features), dtype=np.float32)
                buffer[:rows] = X[start : start + rows]
                buffer[rows:] = 0.0
                chunk = torch.from_numpy(buffer)
            result = fn(chunk.to(device, non_blocking=True))[:rows].cpu()
            if out is None:
                out = torch.empty((n, *result.shape[1:]), dtype=result.dtype)
            out[start : start + rows] = result
    return out if out is not None else torch.empty(0)


def score_pixels(module, X):
    """``-||phi(x) - c||^2`` of the rows of ``X`` (float64), as ``score_samples`` returns."""
    dist2 = map_batches(module, module.dist2, X).numpy().astype(np.float64)
    overflow = ~np.isfinite(dist2)
    if overflow.any():
        # Pixels far outside the training range can overflow float32 inside
        # the network; score those few again in float64.
        dist2[overflow] = _dist2_float64(module, X[overflow])
    return -dist2


def score_dataset(module, dataset):
    """:func:`score_pixels` of every pixel of a pixel dataset, read with its ``slice``.

    Reads ``dataset.chunk_rows`` pixels at a time (``CHUNK_ROWS`` when it
    has no such attribute). Scores do not depend on the chunks.
    """
    n = len(dataset)
    chunk_rows = int(getattr(dataset, "chunk_rows", CHUNK_ROWS))
    scores = np.empty(n, dtype=np.float64)
    for start in range(0, n, chunk_rows):
        stop = min(start + chunk_rows, n)
        chunk = np.ascontiguousarray(dataset.slice(start, stop), dtype=np.float32)
        scores[start:stop] = score_pixels(module, chunk)
    return scores


def _dist2_float64(module, X):
    """``module.dist2`` computed in float64 on the CPU, for the rows that overflow float32."""
    module64 = copy.deepcopy(module).to("cpu", torch.float64)
    with torch.inference_mode():
        return module64.dist2(torch.as_tensor(np.asarray(X, dtype=np.float64))).numpy()
