"""The dynamic batcher: batching, isolation of options, overload, deadlines, cancellation."""

import asyncio
import threading

import numpy as np
import pytest

from app.engine.runtime.batching import Batcher, BatchOptions
from app.engine.runtime.gradcam import GradCam
from app.errors import DeadlineExceeded, InvalidInput, Overloaded
from app.metrics import Metrics


class CountingGradCam(GradCam):
    """A real Grad-CAM that records its calls and can be held mid-call."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls: list[int] = []
        self.release = threading.Event()
        self.release.set()

    def explain(self, inputs, targets=None, **options):
        self.release.wait(10)
        self.calls.append(len(inputs))
        return super().explain(inputs, targets, **options)


@pytest.fixture
def gradcam(image_model):
    return CountingGradCam(image_model)


def run(coroutine):
    return asyncio.run(coroutine)


def test_concurrent_requests_share_one_call_and_get_their_own_maps(gradcam, images):
    async def scenario():
        batcher = Batcher("tiny", max_batch=8, max_queue=16, max_wait=0.05)
        jobs = [
            batcher.explain(gradcam, images[i : i + 1], [i % 3], BatchOptions(), timeout=10)
            for i in range(4)
        ]
        results = await asyncio.gather(*jobs)
        await batcher.close()
        return results

    results = run(scenario())
    assert gradcam.calls == [4]  # one compiled call for the four requests
    alone = GradCam(gradcam.model).explain(images, [[0], [1], [2], [0]])
    for i, result in enumerate(results):
        assert result.sample.tolist() == [0]
        assert result.targets.tolist() == [i % 3]
        np.testing.assert_allclose(result.cams[0], alone.cams[i], rtol=1e-5, atol=1e-7)
    assert gradcam.trace_count == 1


def test_different_options_never_share_a_call(gradcam, images):
    async def scenario():
        batcher = Batcher("tiny", max_batch=8, max_queue=16, max_wait=0.05)
        plain = batcher.explain(gradcam, images[:2], None, BatchOptions(), timeout=10)
        signed = batcher.explain(gradcam, images[2:], None, BatchOptions(relu=False), timeout=10)
        results = await asyncio.gather(plain, signed)
        await batcher.close()
        return results

    plain, signed = run(scenario())
    assert sorted(gradcam.calls) == [2, 2]
    assert signed.cams.min() < 0 <= plain.cams.min()


def test_batches_are_capped_at_max_batch(gradcam, images):
    async def scenario():
        batcher = Batcher("tiny", max_batch=3, max_queue=16, max_wait=0.05)
        jobs = [
            batcher.explain(gradcam, images[:1], [0], BatchOptions(), timeout=10) for _ in range(7)
        ]
        await asyncio.gather(*jobs)
        await batcher.close()

    run(scenario())
    assert sum(gradcam.calls) == 7 and max(gradcam.calls) <= 3


def test_admission_refuses_past_max_queue_with_retry_after():
    batcher = Batcher("tiny", max_batch=1, max_queue=2)
    with batcher.admit(), batcher.admit():
        with pytest.raises(Overloaded) as refused, batcher.admit():
            pass
        assert refused.value.status == 503
        assert refused.value.headers == {"Retry-After": "1"}
    with batcher.admit():  # places are given back when requests end, errors included
        pass
    with pytest.raises(RuntimeError), batcher.admit():
        raise RuntimeError("request failed")
    with batcher.admit(), batcher.admit():
        pass


def test_deadline_gives_504_and_frees_the_slot(gradcam, images):
    async def scenario():
        batcher = Batcher("tiny", max_batch=1, max_queue=1)
        gradcam.release.clear()
        running = asyncio.ensure_future(
            batcher.explain(gradcam, images[:1], None, BatchOptions(), timeout=10)
        )
        await asyncio.sleep(0.05)
        with pytest.raises(DeadlineExceeded):
            await batcher.explain(gradcam, images[:1], None, BatchOptions(), timeout=0.1)
        assert batcher.depth == 0
        gradcam.release.set()
        await running
        await batcher.close()

    run(scenario())


def test_cancelled_request_leaves_the_queue(gradcam, images):
    async def scenario():
        batcher = Batcher("tiny", max_batch=1, max_queue=1)
        gradcam.release.clear()
        running = asyncio.ensure_future(
            batcher.explain(gradcam, images[:1], None, BatchOptions(), timeout=10)
        )
        await asyncio.sleep(0.05)
        waiting = asyncio.ensure_future(
            batcher.explain(gradcam, images[:1], None, BatchOptions(), timeout=10)
        )
        await asyncio.sleep(0.05)
        assert batcher.depth == 1
        waiting.cancel()
        await asyncio.sleep(0.01)
        assert batcher.depth == 0
        gradcam.release.set()
        await running
        await batcher.close()

    run(scenario())
    assert gradcam.calls == [1]  # the cancelled request was never computed


def test_bad_request_is_refused_before_it_can_spoil_a_batch(gradcam, images):
    async def scenario():
        batcher = Batcher("tiny", max_batch=8, max_queue=8, max_wait=0.05)
        good = asyncio.ensure_future(
            batcher.explain(gradcam, images[:1], [1], BatchOptions(), timeout=10)
        )
        with pytest.raises(InvalidInput, match="out of range"):
            await batcher.explain(gradcam, images[:1], [9], BatchOptions(), timeout=10)
        with pytest.raises(InvalidInput, match="score must be one of"):
            await batcher.explain(gradcam, images[:1], [1], BatchOptions(score="x"), timeout=10)
        result = await good
        await batcher.close()
        return result

    assert run(scenario()).targets.tolist() == [1]


def test_metrics_record_batches_and_stages(gradcam, images):
    metrics = Metrics()

    async def scenario():
        batcher = Batcher("tiny", max_batch=8, max_queue=8, max_wait=0.05, metrics=metrics)
        jobs = [
            batcher.explain(gradcam, images[:2], [0, 1], BatchOptions(), timeout=10)
            for _ in range(2)
        ]
        await asyncio.gather(*jobs)
        await batcher.close()

    run(scenario())
    value = metrics.registry.get_sample_value
    assert value("gradcam_batch_size_count", {"model": "tiny"}) == 1
    assert value("gradcam_batch_size_sum", {"model": "tiny"}) == 8  # 2 requests x 2 samples x 2
    assert value("gradcam_stage_seconds_count", {"model": "tiny", "stage": "queue_wait"}) == 2
    assert value("gradcam_queue_depth", {"model": "tiny", "version": ""}) == 0


class BarrierGradCam(GradCam):
    """A real Grad-CAM whose calls each wait for a second call to be running too."""

    def __init__(self, *args, parties: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.barrier = threading.Barrier(parties, timeout=10)

    def explain(self, inputs, targets=None, **options):
        self.barrier.wait()  # BrokenBarrierError unless `parties` calls overlap
        return super().explain(inputs, targets, **options)


def test_workers_run_batches_in_parallel(image_model, images):
    gradcam = BarrierGradCam(image_model, parties=2)

    async def scenario():
        batcher = Batcher("tiny", max_batch=1, max_queue=8, workers=2)
        jobs = [
            batcher.explain(gradcam, images[i : i + 1], [i], BatchOptions(), timeout=20)
            for i in range(2)
        ]
        results = await asyncio.gather(*jobs)
        await batcher.close()
        return results

    results = run(scenario())
    assert [r.targets.tolist() for r in results] == [[0], [1]]


def test_one_worker_runs_one_batch_at_a_time(image_model, images):
    gradcam = BarrierGradCam(image_model, parties=2)
    gradcam.barrier = threading.Barrier(2, timeout=0.5)

    async def scenario():
        batcher = Batcher("tiny", max_batch=1, max_queue=8, workers=1)
        jobs = [
            batcher.explain(gradcam, images[i : i + 1], [i], BatchOptions(), timeout=20)
            for i in range(2)
        ]
        outcomes = await asyncio.gather(*jobs, return_exceptions=True)
        await batcher.close()
        return outcomes

    outcomes = run(scenario())
    assert all(isinstance(o, threading.BrokenBarrierError) for o in outcomes)


def test_leaving_the_queue_never_formats_the_images(gradcam):
    # deque.remove of a missing item puts repr(item) in its error: with arrays in the
    # repr that cost ms on every request (seen with py-spy).
    class NoRepr(np.ndarray):
        def __repr__(self):
            raise AssertionError("the job's images were formatted")

    inputs = np.zeros((1, 16, 16, 3), np.float32).view(NoRepr)

    async def scenario():
        batcher = Batcher("tiny", max_batch=1, max_queue=8)
        result = await batcher.explain(gradcam, inputs, [0], BatchOptions(), timeout=10)
        await batcher.close()
        return result

    assert run(scenario()).targets.tolist() == [0]


def test_methods_and_their_options_batch_only_with_equal_ones(image_model, images):
    scorecam = CountingGradCam(image_model, method="scorecam")

    async def scenario():
        batcher = Batcher("tiny", max_batch=8, max_queue=16, max_wait=0.05)
        few = BatchOptions(max_channels=2)
        jobs = [
            batcher.explain(scorecam, images[:1], [1], few, timeout=10),
            batcher.explain(scorecam, images[1:2], [2], few, timeout=10),
            batcher.explain(scorecam, images[2:3], [0], BatchOptions(max_channels=5), timeout=10),
        ]
        results = await asyncio.gather(*jobs)
        await batcher.close()
        return results

    results = run(scenario())
    assert sorted(scorecam.calls) == [1, 2]
    alone = GradCam(image_model, method="scorecam")
    for index, (result, target, channels) in enumerate(
        zip(results, [1, 2, 0], [2, 2, 5], strict=True)
    ):
        single = alone.explain(images[index : index + 1], [target], max_channels=channels)
        np.testing.assert_allclose(result.cams, single.cams, rtol=1e-5, atol=1e-7)


def test_metrics_run_for_batched_requests(gradcam, images):
    pixels = images * 255
    options = BatchOptions(metrics=("deletion", "drop"), metric_steps=4)

    def scaling(values):
        return values / np.float32(255)

    async def scenario():
        batcher = Batcher("tiny", max_batch=8, max_queue=16, max_wait=0.05)
        jobs = [
            batcher.explain(
                gradcam,
                images[i : i + 1],
                [i % 3],
                options,
                timeout=10,
                pixels=pixels[i : i + 1],
                scaling=scaling,
            )
            for i in range(3)
        ]
        results = await asyncio.gather(*jobs)
        await batcher.close()
        return results

    results = run(scenario())
    assert gradcam.calls == [3]
    for i, result in enumerate(results):
        alone = gradcam.explain(images[i : i + 1], [i % 3])
        alone = gradcam.add_metrics(alone, pixels[i : i + 1], scaling, ["deletion", "drop"], 4)
        assert list(result.metrics) == ["deletion", "drop"]
        for name in ("deletion", "drop"):
            np.testing.assert_allclose(result.metrics[name], alone.metrics[name], rtol=1e-5)


def test_bad_metrics_fail_before_queueing(gradcam, images):
    async def scenario():
        batcher = Batcher("tiny", max_batch=8, max_queue=16)
        try:
            await batcher.explain(
                gradcam, images, None, BatchOptions(metrics=("nope",)), timeout=10
            )
        finally:
            await batcher.close()

    with pytest.raises(InvalidInput, match="unknown metric"):
        run(scenario())
