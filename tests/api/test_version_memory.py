"""A withdrawn version leaves no trace in memory: after swaps, the versions that served
(their Keras models, compiled functions and batchers) are garbage, so weeks of
publishing do not grow the process (bench/soak.py measures the whole server)."""

import gc
import shutil
import weakref

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.registry.watcher import FolderWatcher
from app.settings import Settings
from tests.api.conftest import b64
from tests.registry.versions.versioned import publish, versioned_shapes


@pytest.mark.slow  # three loads and warm-ups of a version
def test_swapped_out_versions_are_freed_after_serving_requests(tmp_path, shape_png):
    folder = versioned_shapes(tmp_path, (1,))
    settings = Settings(models_dir=tmp_path, poll_seconds=0, _env_file=None)
    body = {
        "instances": [{"image": {"b64": b64(shape_png)}}],
        "parameters": {"method": "gradcam++", "metrics": ["deletion"], "overlay": "layer"},
    }
    gone = []
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        registry, batchers = client.app.state.registry, client.app.state.batchers
        watcher = FolderWatcher(registry, tmp_path, warm_up=True)
        client.portal.call(watcher.poll)  # the watcher sees what start-up loaded
        for version in (2, 3, 4):
            served = registry.get("shapes")
            assert client.post("/v1/models/shapes:explain", json=body).status_code == 200
            assert served in batchers  # it had a batcher, a compiled method, a forward
            gone.append((weakref.ref(served), weakref.ref(served.model)))
            del served
            publish(folder, version)
            shutil.rmtree(folder / str(version - 1))
            client.portal.call(watcher.poll)
            client.portal.call(watcher.poll)
            assert registry.get("shapes").card.version == str(version)
        client.get("/metrics")  # the scrape-time collectors read the registry
        gc.collect()
        assert [(served() is None, model() is None) for served, model in gone] == [(True, True)] * 3
