"""Start-up cost of each bundled model: registry load (card, file, layers) and warm-up
(one traced explain), measured side by side in one process, several rounds.

TensorFlow's own start (the first op, the first trace machinery) is paid once before the
first round, so no model is charged for it. The last column is each model's share of
the round's total: what one more folder in models/ adds to the service's start-up.

    python -m bench.model_startup [--rounds 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import keras
import numpy as np

from app.registry.card import CARD_FILE, read_card
from app.registry.registry import load_served_model

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"


def start_tensorflow() -> None:
    """Pay TensorFlow's first-use costs outside the measured rounds."""
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    model.predict(np.zeros((1, 4)), verbose=0)


def measure(model_id: str) -> tuple[float, float]:
    """(load seconds, load + warm-up seconds) of one model, from its folder."""
    started = time.perf_counter()
    served = load_served_model(MODELS_DIR, read_card(MODELS_DIR / model_id), None)
    loaded = time.perf_counter() - started
    served.warm_up()
    return loaded, time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="load and warm-up time per bundled model")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    ids = sorted(p.name for p in MODELS_DIR.iterdir() if (p / CARD_FILE).is_file())
    start_tensorflow()
    for round_ in range(1, args.rounds + 1):
        figures = {model_id: measure(model_id) for model_id in ids}
        total = sum(warm for _, warm in figures.values())
        print(f"round {round_}: all models load+warm {total:.2f} s")
        for model_id, (loaded, warm) in figures.items():
            print(
                f"  {model_id:<20} load {loaded:5.2f} s  load+warm {warm:5.2f} s"
                f"  share {warm / total:5.1%}"
            )


if __name__ == "__main__":
    main()
