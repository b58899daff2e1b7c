"""Versions: TF Serving's layout, the version policy, and the folder watcher's rules
(polls are called one by one here, so every step is deterministic)."""

import asyncio
import shutil

import pytest

from app.errors import ModelError, ModelNotFound, ModelNotReady
from app.registry.policy import parse_policy
from app.registry.registry import load_latest, load_registry
from app.registry.versions.repository import scan_models
from app.registry.watcher import FolderWatcher
from tests.registry.versions.versioned import SHAPES, publish, versioned_shapes


@pytest.mark.parametrize(
    ("text", "versions", "kept"),
    [
        ("latest", [1, 3, 2], [3]),
        ("latest:2", [1, 3, 2], [3, 2]),
        ("latest:5", [1, 2], [2, 1]),
        ("all", [2, 1], [2, 1]),
        ("specific:1,3", [1, 2, 3], [3, 1]),
        ("specific:7", [1, 2], []),
    ],
)
def test_policy_chooses_versions(text, versions, kept):
    assert parse_policy(text).choose(versions) == kept


@pytest.mark.parametrize("text", ["newest", "latest:0", "latest:x", "specific:", "specific:a"])
def test_a_bad_policy_is_refused(text):
    with pytest.raises(ValueError, match="latest"):
        parse_policy(text)


def test_scan_reads_flat_and_versioned_folders(tmp_path):
    shutil.copytree(SHAPES, tmp_path / "flat")
    (tmp_path / "flat" / "model.toml").write_text(
        (SHAPES / "model.toml").read_text().replace('"shapes"', '"flat"')
    )
    versioned_shapes(tmp_path, (1, 10, 2))
    (tmp_path / "shapes" / "3.partial").mkdir()  # not a number: not a version
    (tmp_path / "tfs").mkdir()
    (tmp_path / "tfs" / "1").mkdir()  # TF Serving's folder without a card
    (tmp_path / "notes").mkdir()  # neither: not a model
    sources = scan_models(tmp_path)
    assert set(sources) == {"flat", "shapes", "tfs"}
    assert not sources["flat"].versioned and set(sources["flat"].versions) == {"1"}
    assert sources["shapes"].versioned and set(sources["shapes"].versions) == {"1", "2", "10"}
    assert sources["tfs"].card is None and "no model.toml" in sources["tfs"].error


def test_highest_version_serves_and_its_folder_name_is_its_version(tmp_path):
    versioned_shapes(tmp_path, (1, 2))
    registry = load_registry(tmp_path)
    assert registry.models["shapes"].card.version == "2"
    with pytest.raises(ModelNotFound, match="no version '1' loaded"):
        registry.entry("shapes").get("1")  # policy latest: only 2 is loaded


def test_card_policy_keeps_several_versions_reachable(tmp_path):
    versioned_shapes(tmp_path, (1, 2, 3), extra='version_policy = "specific:1,2"')
    entry = load_registry(tmp_path).entry("shapes")
    assert set(entry.loaded) == {"1", "2"} and entry.serving is entry.loaded["2"]
    assert entry.get("1").card.version == "1"


def test_setting_policy_applies_without_a_card_policy(tmp_path):
    versioned_shapes(tmp_path, (1, 2, 3))
    registry = load_registry(tmp_path, policy=parse_policy("latest:2"))
    assert set(registry.entry("shapes").loaded) == {"2", "3"}


def test_a_cardless_tf_serving_folder_is_reported_not_served(tmp_path):
    versioned_shapes(tmp_path)
    shutil.copytree(tmp_path / "shapes" / "1", tmp_path / "other" / "1")
    registry = load_registry(tmp_path)
    assert set(registry.models) == {"shapes"}
    with pytest.raises(ModelNotReady, match=r"no model\.toml"):
        registry.get("other")


def test_a_required_model_without_a_loadable_version_stops_start_up(tmp_path):
    folder = versioned_shapes(tmp_path, ())
    publish(folder, 1, model=b"not a zip")
    with pytest.raises(ModelError, match=r"model shapes: cannot load model\.keras"):
        load_registry(tmp_path)


def test_a_broken_saved_model_version_folder_is_refused_naming_it(tmp_path):
    folder = versioned_shapes(tmp_path, (), extra="required = false")
    card = (folder / "model.toml").read_text().replace('model_file = "model.keras"\n', "")
    (folder / "model.toml").write_text(card)
    (folder / "1" / "variables").mkdir(parents=True)
    (folder / "1" / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ModelNotReady, match=r"cannot load 1: .*no MetaGraph"):
        load_registry(tmp_path).get("shapes")


class Repository:
    """A registry on a versioned folder, a watcher with polls one at a time, and a
    record of the versions unloaded."""

    def __init__(self, tmp_path, versions=(1,), extra=""):
        self.folder = versioned_shapes(tmp_path, versions, extra)
        self.registry = load_registry(tmp_path)
        for served in self.registry.all_versions():
            served.ready = True  # as GRADCAM_WARM_UP=false does: these tests never explain
        self.unloaded = []
        self.registry.on_unload = lambda served: self.unloaded.append(served.card.version)
        self.watcher = FolderWatcher(self.registry, tmp_path, warm_up=False)

    def poll(self, times=1):
        for _ in range(times):
            asyncio.run(self.watcher.poll())

    @property
    def serving(self):
        return self.registry.models["shapes"].card.version


def test_a_published_version_serves_after_one_unchanged_poll(tmp_path):
    repo = Repository(tmp_path)
    repo.poll()  # the watcher sees what start-up loaded
    publish(repo.folder, 2)
    repo.poll()
    assert repo.serving == "1"  # seen once: it may still be being written
    repo.poll()
    assert repo.serving == "2"
    assert repo.unloaded == ["1"]  # policy latest: 1 is withdrawn at once (no requests)


def test_in_flight_requests_finish_on_their_version(tmp_path):
    repo = Repository(tmp_path)
    with repo.registry.lease("shapes") as served:
        publish(repo.folder, 2)
        repo.poll(3)
        assert repo.serving == "2" and served.card.version == "1"
        assert repo.unloaded == []  # withdrawn, not unloaded: a request still runs on it
        with pytest.raises(ModelNotFound):
            repo.registry.get("shapes", "1")  # new requests cannot reach it
    assert repo.unloaded == ["1"]


def test_removing_the_serving_version_keeps_it_until_its_successor_serves(tmp_path):
    repo = Repository(tmp_path)
    repo.poll()
    publish(repo.folder, 2)
    shutil.rmtree(repo.folder / "1")
    repo.poll()
    assert repo.serving == "1"  # 2 is not stable yet: 1 keeps serving from memory
    repo.poll()
    assert repo.serving == "2" and repo.unloaded == ["1"]


def test_a_broken_version_leaves_the_previous_one_serving(tmp_path):
    repo = Repository(tmp_path)
    publish(repo.folder, 3, model=b"truncated")
    repo.poll(2)
    entry = repo.registry.entry("shapes")
    assert repo.serving == "1"
    states = {state.version: state for state in entry.states()}
    assert states["3"].state == "END" and "cannot load model.keras" in states["3"].error
    assert states["1"].state == "AVAILABLE" and states["1"].serving
    with pytest.raises(ModelNotReady, match="version 3 is not available"):
        repo.registry.get("shapes", "3")
    repo.poll(2)
    assert states["3"].error == repo.registry.entry("shapes").errors["3"]  # not retried


def test_a_fixed_broken_version_is_tried_again(tmp_path):
    repo = Repository(tmp_path)
    folder = publish(repo.folder, 2, model=b"truncated")
    repo.poll(2)
    assert repo.serving == "1"
    shutil.copy(SHAPES / "model.keras", folder / "model.keras")
    repo.poll(2)
    assert repo.serving == "2" and "2" not in repo.registry.entry("shapes").errors


def test_a_failed_version_removed_is_forgotten(tmp_path):
    """What the watcher remembers stays bounded however many broken versions come and go."""
    repo = Repository(tmp_path)
    for version in (2, 3):
        folder = publish(repo.folder, version, model=b"truncated")
        repo.poll(2)
        assert list(repo.watcher._failed) == [("shapes", str(version))]
        shutil.rmtree(folder)
    repo.poll()
    assert repo.watcher._failed == {} and repo.serving == "1"


def test_a_folder_still_changing_is_never_loaded(tmp_path):
    repo = Repository(tmp_path)
    folder = repo.folder / "2"
    folder.mkdir()  # copied in place, slowly, instead of renamed into place
    data = (SHAPES / "model.keras").read_bytes()
    for part in range(1, 6):
        (folder / "model.keras").write_bytes(data[: part * len(data) // 5])
        repo.poll()
        assert repo.serving == "1"
        assert "2" not in repo.registry.entry("shapes").errors  # never even tried
    repo.poll()  # unchanged since the last poll: complete
    assert repo.serving == "2"


def test_model_folders_come_and_go_without_a_restart(tmp_path):
    repo = Repository(tmp_path)
    shutil.copytree(SHAPES, tmp_path / "staging")
    card = (SHAPES / "model.toml").read_text().replace('id = "shapes"', 'id = "more"')
    (tmp_path / "staging" / "model.toml").write_text(card)
    (tmp_path / "staging").rename(tmp_path / "more")
    repo.poll(2)
    assert set(repo.registry.models) == {"shapes", "more"}
    shutil.rmtree(repo.folder)
    repo.poll()
    assert set(repo.registry.models) == {"more"} and repo.unloaded == ["1"]
    with pytest.raises(ModelNotFound):
        repo.registry.get("shapes")


def test_the_cli_local_mode_loads_the_version_a_server_would_serve(tmp_path):
    versioned_shapes(tmp_path, (1, 4))
    served = load_latest(tmp_path, "shapes", None)
    assert served.card.version == "4" and served.labels[0] == "circle"
