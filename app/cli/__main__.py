"""`python -m app.cli`: the `gradcam` command without installing its console script."""

from app.cli import main

main()
