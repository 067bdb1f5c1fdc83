"""Safe model files: :func:`save` and :func:`load` (JSON + safetensors in a zip, no pickle).

- ``_file``: the archive (members, manifest, size caps) and the two public functions.
- ``_tree``: estimators to and from the manifest's JSON tree.
- ``_schema``: the allow-list of classes, their parameters and fitted attributes.
"""

from ._file import load, save

__all__ = ["load", "save"]
