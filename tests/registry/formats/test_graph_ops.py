"""The op allow-list: derived from TensorFlow's op registry by the rule in graph_ops."""

import pytest

from app.registry.formats.savedmodel.ops import CHECKPOINT_OPS, allowed_ops, refused_op


@pytest.mark.parametrize(
    "op",
    [
        "Conv2D",
        "MatMul",
        "Softmax",
        "DecodeJpeg",
        "ResizeBilinear",
        "GatherV2",
        "While",
        "StatelessWhile",
        "TensorListStack",
        "StatefulPartitionedCall",
        "ReadVariableOp",
    ],
)
def test_math_nn_image_array_and_control_flow_ops_are_allowed(op):
    assert op in allowed_ops()


@pytest.mark.parametrize(
    "op",
    [
        "ReadFile",
        "WriteFile",
        "MatchingFiles",
        "SaveV2",
        "RestoreV2",
        "MergeV2Checkpoints",
        "PyFunc",
        "EagerPyFunc",
        "PyFuncStateless",
        "ImmutableConst",
        "TFRecordReaderV2",
        "FixedLengthRecordDataset",
        "QueueDequeueV2",
        "InitializeTableFromTextFileV2",
        "PrintV2",
        "WriteScalarSummary",
        "CollectiveReduce",
        "DebugIdentity",
    ],
)
def test_ops_that_reach_outside_the_graph_are_refused(op):
    assert op not in allowed_ops()
    assert refused_op({"Conv2D", op}, load_time=False) == op


def test_checkpoint_ops_only_at_load_time():
    assert refused_op({"RestoreV2", "SaveV2", "Identity"}, load_time=True) is None
    assert refused_op({"RestoreV2"}, load_time=False) == "RestoreV2"
    assert refused_op({"ReadFile"}, load_time=True) == "ReadFile"
    assert not CHECKPOINT_OPS & allowed_ops()
