"""Shared ending of the small benchmark scripts: print the table, write JSON and Markdown."""

import json


def finish(args, meta, rows, text):
    """Print ``text``; write ``{"meta": meta, "rows": rows}`` to ``--json``, ``text`` to
    ``--markdown``."""
    print(text)
    if args.json:
        args.json.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2) + "\n")
    if args.markdown:
        args.markdown.write_text(text)
