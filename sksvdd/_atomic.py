"""Atomic file output: write beside the target, then rename onto it."""

import os
import re
import secrets
from contextlib import contextmanager
from pathlib import Path

# Temporary files are named ".sksvdd-tmp-<pid>-<8 hex digits><suffix>": short,
# so that any valid target name leaves a valid temporary name (file names are
# limited to 255 bytes), and recognisable with the writer's pid, so that the
# leftovers of a killed writer can be found and removed.
_TMP_PREFIX = ".sksvdd-tmp-"
_TMP_NAME = re.compile(re.escape(_TMP_PREFIX) + r"(\d+)-[0-9a-f]{8}(\.[^/]*)?\Z")
_MAX_SUFFIX = 16  # longer suffixes are dropped from the temporary name


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

    The temporary name is short and recognisable,
    ``.sksvdd-tmp-<pid>-<8 hex digits><suffix>``, so that it stays within the
    file system's limit on names whatever the target's length. It keeps the
    target's suffix (``.sksvdd-tmp-4242-1a2b3c4d.npy`` for ``scores.npy``)
    because writers such as :func:`numpy.save`, :func:`joblib.dump` and
    matplotlib's ``savefig`` choose the format, or append an extension, from
    it. The file is not created in advance, so it gets the usual permissions
    of a new file.

    A process killed outright (SIGKILL, power loss) cannot remove its
    temporary file. Each call therefore first removes, from the target's
    directory, the temporary files whose writer process no longer exists
    (not on Windows, where the check is not available).

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
    remove_stale_temporaries(path.parent)
    tmp = _temporary_name(path)
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


def check_writable(path):
    """Raise OSError unless a file can be written atomically to ``path``.

    Creates and removes a temporary file beside ``path``, named as
    :func:`atomic_path` names it, then checks that the final name is within
    the file system's limit, so that a run fails before its work rather than
    at the end of it.
    """
    path = Path(path)
    tmp = _temporary_name(path)
    with open(tmp, "xb"):
        pass
    try:
        limit = os.pathconf(tmp.parent, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # not on Windows
        limit = 255
    finally:
        tmp.unlink(missing_ok=True)
    if len(os.fsencode(path.name)) > limit:
        raise OSError(f"the file name is longer than the file system's limit of {limit} bytes")


def remove_stale_temporaries(folder):
    """Remove the temporary files left in ``folder`` by writers that no longer run.

    Returns the removed paths. Files of running processes, and files that do
    not match the temporary name, are left alone.
    """
    if os.name == "nt":  # os.kill(pid, 0) would terminate the process there
        return []
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        match = _TMP_NAME.match(name)
        if match is None or _process_exists(int(match.group(1))):
            continue
        stale = Path(folder) / name
        try:
            stale.unlink()
        except OSError:  # removed by another process meanwhile, or not ours to remove
            continue
        removed.append(stale)
    return removed


def _temporary_name(path):
    suffix = path.suffix if len(path.suffix) <= _MAX_SUFFIX else ""
    return path.with_name(f"{_TMP_PREFIX}{os.getpid()}-{secrets.token_hex(4)}{suffix}")


def _process_exists(pid):
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):  # another user's, or odd: keep
        return True
    return True
