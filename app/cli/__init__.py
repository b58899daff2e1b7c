"""The `gradcam` command: `serve`, `explain` files or folders, list `models`.

Only `serve` and `explain --local` import the server (and TensorFlow), lazily: the
other paths need the HTTP client alone.
"""

from __future__ import annotations

import sys

from app.cli.parser import build_parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        status = args.run(args)
    except KeyboardInterrupt:  # Ctrl-C before any work (e.g. while TensorFlow loads)
        print(f"gradcam {args.command}: interrupted", file=sys.stderr)
        status = 130
    sys.exit(status)
