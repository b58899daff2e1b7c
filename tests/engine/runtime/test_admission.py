"""Admission: the normal bound, the tighter bound while overloaded, and its end."""

import asyncio
import time

import pytest

from app.engine.runtime.admission import Admission
from app.engine.runtime.batching import Batcher, BatchOptions
from app.errors import Overloaded
from tests.engine.runtime.test_batching import CountingGradCam


@pytest.fixture
def gradcam(image_model):
    return CountingGradCam(image_model)


def fill(admission: Admission, n: int):
    places = [admission.place() for _ in range(n)]
    for place in places:
        place.__enter__()
    return places


def release(places) -> None:
    for place in places:
        place.__exit__(None, None, None)


def test_steady_load_up_to_max_queue_is_never_refused():
    admission = Admission("m", 6, overload_queue=2)
    for _ in range(3):  # requests come and go, never more than 6 at once
        places = fill(admission, 6)
        release(places)
    assert not admission.overloaded and admission.limit == 6


def test_a_refusal_tightens_the_bound_until_refusals_stop_for_the_window():
    told = []
    admission = Admission("m", 6, overload_queue=2, overload_window=0.3, on_overload=told.append)
    places = fill(admission, 6)
    with pytest.raises(Overloaded), admission.place():
        pass
    assert admission.overloaded and admission.limit == 2 and told == [2]
    release(places[2:])  # 2 in progress: still no room while overloaded
    for _ in range(3):  # refused again and again: the overload goes on
        time.sleep(0.15)
        with pytest.raises(Overloaded), admission.place():
            pass
        assert admission.overloaded
    assert told == [2]  # told once, when overload began
    release(places[:1])
    with admission.place():  # 1 in progress: under the tighter bound
        pass
    time.sleep(0.35)  # no refusal for the window: the normal bound is back
    assert not admission.overloaded
    release(places[1:2])
    places = fill(admission, 6)
    with pytest.raises(Overloaded), admission.place():  # full again: a new overload
        pass
    assert told == [2, 2]


def test_overload_queue_never_exceeds_max_queue():
    assert Admission("m", 3, overload_queue=8).overload_queue == 3
    assert Admission("m", 3).overload_queue == 3  # no tighter bound unless asked


def test_overload_sheds_waiting_requests_past_the_tighter_bound(gradcam, images):
    gradcam.release.clear()  # the first batch holds the worker

    async def scenario():
        batcher = Batcher("tiny", max_batch=1, max_queue=5, overload_queue=2)

        async def request(i):
            with batcher.admit():
                return await batcher.explain(
                    gradcam, images[:1], [i % 3], BatchOptions(), timeout=10
                )

        running = [asyncio.ensure_future(request(i)) for i in range(5)]
        await asyncio.sleep(0.2)  # one computing, four waiting
        assert batcher.depth == 4
        with pytest.raises(Overloaded):
            await request(5)  # the sixth is refused: overload begins
        await asyncio.sleep(0.05)
        # At most 2 in progress: the one computing and the oldest waiting one.
        assert batcher.depth == 1 and batcher.admission.admitted == 2
        gradcam.release.set()
        outcomes = await asyncio.gather(*running, return_exceptions=True)
        await batcher.close()
        return outcomes

    outcomes = asyncio.run(scenario())
    answered = [o for o in outcomes if not isinstance(o, Exception)]
    shed = [o for o in outcomes if isinstance(o, Overloaded)]
    assert len(answered) == 2 and len(shed) == 3
    assert [o.targets.tolist() for o in answered] == [[0], [1]]  # the oldest two
    assert all(o.headers == {"Retry-After": "1"} for o in shed)


def test_requests_admitted_before_an_overload_are_refused_when_they_reach_the_queue(
    gradcam, images
):
    gradcam.release.clear()

    async def scenario():
        batcher = Batcher("tiny", max_batch=1, max_queue=4, overload_queue=1)
        places = [batcher.admit() for _ in range(4)]
        for place in places:
            place.__enter__()  # four admitted, still decoding
        with pytest.raises(Overloaded), batcher.admit():
            pass  # the fifth: overload begins (nothing waits yet, nothing to shed)
        with pytest.raises(Overloaded):  # one of the four, decoded now: 4 > 1 in progress
            await batcher.explain(gradcam, images[:1], [0], BatchOptions(), timeout=10)
        for place in places[1:]:
            place.__exit__(None, None, None)  # three leave: one in progress
        work = asyncio.ensure_future(
            batcher.explain(gradcam, images[:1], [1], BatchOptions(), timeout=10)
        )
        await asyncio.sleep(0.05)
        gradcam.release.set()
        result = await work
        places[0].__exit__(None, None, None)
        await batcher.close()
        return result

    assert asyncio.run(scenario()).targets.tolist() == [1]
