"""Keras 2 activations whose name means something else in Keras 3, as the service's own.

Keras 2's `hard_sigmoid` was clip(0.2x + 0.5, 0, 1); Keras 3's is relu6(x + 3) / 6, i.e.
clip(x/6 + 0.5, 0, 1). Every LSTM and GRU saved by Keras < 2.3 names it as its
`recurrent_activation` (the default then), so a Keras 2 config's `hard_sigmoid` is
rewritten to `keras2_hard_sigmoid` below. The loader passes it to Keras as the one custom
object of its `safe_mode` deserialization (`KERAS2_OBJECTS`): nothing else is accepted,
and `.keras` files, loaded without it, keep Keras 3's meaning.
"""

from __future__ import annotations

from typing import Any

import keras

REGISTERED_NAME = "gradcam_server>keras2_hard_sigmoid"


def keras2_hard_sigmoid(x: Any) -> Any:
    """Keras 2's hard sigmoid, clip(0.2x + 0.5, 0, 1), in the order Keras 2 computed it."""
    return keras.ops.clip(0.2 * x + 0.5, 0.0, 1.0)


KERAS2_OBJECTS: dict[str, Any] = {REGISTERED_NAME: keras2_hard_sigmoid}

# How a translated config names it: Keras 3's serialized form of a registered function.
KERAS2_HARD_SIGMOID_CONFIG: dict[str, Any] = {
    "module": None,
    "class_name": "function",
    "config": REGISTERED_NAME,  # Keras looks a function up by this field
    "registered_name": REGISTERED_NAME,
}


def is_keras2_hard_sigmoid(value: object) -> bool:
    """`hard_sigmoid` as Keras 2 wrote it: a name, or (tf.keras 2.13+) a function dict."""
    if value == "hard_sigmoid":
        return True
    return (
        isinstance(value, dict)
        and value.get("class_name") == "function"
        and value.get("config") == "hard_sigmoid"
    )
