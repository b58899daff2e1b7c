"""compile_step: one trace per compiled step, counted process-wide, argument names kept."""

import tensorflow as tf

from app.engine.compiled import TRACES, compile_step


class Scale:
    def step(self, pixels: tf.Tensor, factor: tf.Tensor) -> tf.Tensor:
        return pixels * tf.cast(factor, pixels.dtype)


SIGNATURE = [tf.TensorSpec([None, 3], tf.float32), tf.TensorSpec([], tf.int32)]


def test_each_compiled_step_traces_once_and_the_process_count_follows():
    before = TRACES.count
    first, second = (compile_step(Scale().step, SIGNATURE) for _ in range(2))
    for rows in (1, 2, 5):  # batch sizes and values never retrace
        assert first(tf.ones([rows, 3]), tf.constant(rows)).shape == (rows, 3)
        second(tf.ones([rows, 3]), tf.constant(2))
    assert first.experimental_get_tracing_count() == second.experimental_get_tracing_count() == 1
    assert TRACES.count == before + 2


def test_the_graph_inputs_keep_the_step_argument_names():
    compiled = compile_step(Scale().step, SIGNATURE)
    args, _ = compiled.get_concrete_function().structured_input_signature
    assert [spec.name for spec in args] == ["pixels", "factor"]
    assert float(compiled(tf.ones([1, 3]), tf.constant(3))[0, 0]) == 3.0
