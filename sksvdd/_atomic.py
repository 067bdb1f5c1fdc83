"""Atomic file output: write beside the target, then rename onto it."""

import os
import secrets
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; move it onto ``path`` on success.

    The caller writes the whole file to the yielded path. When the ``with``
    block ends normally the file is flushed to disk and renamed onto ``path``
    with :func:`os.replace`, which is atomic on POSIX and Windows when both
    names are on the same file system (hence the temporary file lives in the
    target's directory). If the block raises, including ``KeyboardInterrupt``,
    the temporary file is removed and ``path`` is left as it was: readers see
    either the old file or the complete new one, never a partial write.

    The temporary name keeps the target's suffix (``.scores.tmp-1a2b3c4d.npy``
    for ``scores.npy``) because writers such as :func:`numpy.save`,
    :func:`joblib.dump` and matplotlib's ``savefig`` choose the format, or
    append an extension, from it. The file is not created in advance, so it
    gets the usual permissions of a new file.

    Parameters
    ----------
    path : str or path-like
        The file to write. Its directory must exist.

    Yields
    ------
    tmp_path : pathlib.Path
        Where to write the contents.

    Raises
    ------
    FileNotFoundError
        If the block ends without having created ``tmp_path``.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sksvdd._atomic import atomic_path
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     target = pathlib.Path(folder) / "result.txt"
    ...     with atomic_path(target) as tmp:
    ...         _ = tmp.write_text("done")
    ...     print(target.read_text(), sorted(p.name for p in target.parent.iterdir()))
    done ['result.txt']
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp-{secrets.token_hex(4)}{path.suffix}")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync(path):
    """Flush ``path`` to disk so that the rename cannot outrun the data."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise FileNotFoundError(f"Nothing was written to the temporary file '{path}'.") from None
    try:
        os.fsync(fd)
    except OSError:  # some platforms (Windows) refuse fsync on a read-only handle
        pass
    finally:
        os.close(fd)
