"""Which TensorFlow ops a SavedModel may contain: the allow-list checked before loading.

A SavedModel is a program: its graph may read and write files (`ReadFile`, `WriteFile`,
`MatchingFiles`), run Python (`PyFunc`), open readers, queues and datasets, or talk to
other processes. Like `safe_mode` for Keras files, such a graph is refused before
TensorFlow loads it (`tf.saved_model.load` already runs its restore and init ops).

The rule, applied to TensorFlow's own op registry (`tf.raw_ops`, each op's `OpDef`):

1. `ALLOWED` = every registered op that is *not stateful* (its result depends on its
   inputs alone: math, nn, image, array, string ops), except those whose name matches
   `OUTSIDE` (stateless by the registry's flag yet reaching files, Python, devices or other
   processes: `ReadFile`, `MatchingFiles`, `ImmutableConst`, `PyFuncStateless`, the
   dataset, summary, debug, proto and TPU ops ...), plus the few stateful ops a served
   model needs: function calls, control flow and reading its own variables.
2. `CHECKPOINT_OPS`: what every SavedModel uses to save and restore its variables. They
   may appear in the SavedModel's load-time functions, never in the serving signature.
"""

from __future__ import annotations

import functools
import re

from tensorflow.python.framework import op_def_registry

OUTSIDE = re.compile(
    r"File|Reader|Dataset|Iterator|Queue|Summary|Debug|Print|Py|Proto|Immutable|Snapshot"
    r"|Checkpoint|Sharded|Save|Restore|Record|Collective|Send|Recv|Rpc|TPU|Barrier|Env"
)
STATEFUL_ALLOWED = frozenset(
    {
        "StatefulPartitionedCall",
        "While",
        "If",
        "Case",
        "VarHandleOp",
        "ReadVariableOp",
        "Assert",
        "CheckNumerics",
    }
)
CHECKPOINT_OPS = frozenset(
    {
        "SaveV2",
        "RestoreV2",
        "MergeV2Checkpoints",
        "ShardedFilename",
        "DisableCopyOnRead",
        "AssignVariableOp",
        "VarIsInitializedOp",
    }
)


@functools.cache
def allowed_ops() -> frozenset[str]:
    """The op types a serving graph may hold (rule 1 of the module docstring)."""
    import tensorflow as tf

    names = [name for name in dir(tf.raw_ops) if not name.startswith("_")]
    stateless = {
        name
        for name in names
        if (op_def := op_def_registry.get(name)) is not None and not op_def.is_stateful
    }
    return frozenset({name for name in stateless if not OUTSIDE.search(name)} | STATEFUL_ALLOWED)


def refused_op(op_types: set[str], *, load_time: bool) -> str | None:
    """The first op type (sorted) not allowed, or None; `load_time` adds CHECKPOINT_OPS."""
    allowed = allowed_ops() | CHECKPOINT_OPS if load_time else allowed_ops()
    refused = sorted(op_types - allowed)
    return refused[0] if refused else None
