"""The `gradcam` command: `serve`, `explain` files or folders, list `models`.

Only `serve` and `explain --local` import the server (and TensorFlow), lazily: the
other paths need the HTTP client alone.
"""

from __future__ import annotations

import sys

from app.cli.parser import build_parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sys.exit(args.run(args))
