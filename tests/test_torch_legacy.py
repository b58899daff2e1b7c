"""The torch-free reader of legacy `.pth` state dicts (training/torch_legacy.py).

The files are written here in PyTorch's legacy layout with stand-ins for the torch
names (registered as modules `torch` and `torch._utils` only while writing), so the
test needs no torch either.
"""

import collections
import io
import os
import pickle
import sys
import types

import numpy as np
import pytest

from training.torch_legacy import LEGACY_MAGIC, load_state_dict


class Storage:
    def __init__(self, key: str, data: np.ndarray, kind: type) -> None:
        self.key, self.data, self.kind = key, data, kind


class Tensor:
    def __init__(self, storage: Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return sys.modules["torch._utils"]._rebuild_tensor_v2, self.args


class LegacyPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.kind, obj.key, "cpu", obj.data.size, None)
        return None


@pytest.fixture
def fake_torch(monkeypatch):
    """Classes and a function that pickle as torch.FloatStorage, torch.LongStorage and
    torch._utils._rebuild_tensor_v2."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    for name in ("FloatStorage", "LongStorage"):
        kind = type(name, (), {"__module__": "torch"})
        setattr(torch, name, kind)

    def _rebuild_tensor_v2(*args):
        raise AssertionError("only pickled here, never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def legacy_file(state: collections.OrderedDict, storages: list[Storage]) -> bytes:
    stream = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"protocol_version": 1001, "little_endian": True}):
        pickle.dump(header, stream, protocol=2)
    LegacyPickler(stream, protocol=2).dump(state)
    pickle.dump([s.key for s in storages], stream, protocol=2)
    for storage in storages:
        stream.write(np.int64(storage.data.size).tobytes())
        stream.write(storage.data.tobytes())
    return stream.getvalue()


def test_reads_offsets_strides_and_dtypes(fake_torch, tmp_path):
    floats = np.arange(20, dtype="<f4")
    longs = np.array([7], dtype="<i8")
    float_storage = Storage("100", floats, fake_torch.FloatStorage)
    long_storage = Storage("200", longs, fake_torch.LongStorage)
    state = collections.OrderedDict(
        conv=Tensor(float_storage, 2, (2, 3), (3, 1)),  # floats[2:8] as 2x3
        transposed=Tensor(float_storage, 0, (4, 5), (1, 4)),  # a 5x4 block, transposed
        count=Tensor(long_storage, 0, (), ()),
    )
    path = tmp_path / "weights.pth"
    path.write_bytes(legacy_file(state, [float_storage, long_storage]))
    tensors = load_state_dict(path)
    assert list(tensors) == ["conv", "transposed", "count"]
    np.testing.assert_array_equal(tensors["conv"], floats[2:8].reshape(2, 3))
    np.testing.assert_array_equal(tensors["transposed"], floats.reshape(5, 4).T)
    assert tensors["conv"].dtype == np.float32 and tensors["count"].dtype == np.int64
    assert int(tensors["count"]) == 7


class Evil:
    def __reduce__(self):
        return os.system, ("echo pwned",)


def test_any_other_global_is_refused(tmp_path):
    stream = io.BytesIO()
    for header in (LEGACY_MAGIC, 1001, {"little_endian": True}):
        pickle.dump(header, stream, protocol=2)
    pickle.dump(collections.OrderedDict(weight=Evil()), stream, protocol=2)
    path = tmp_path / "evil.pth"
    path.write_bytes(stream.getvalue())
    with pytest.raises(pickle.UnpicklingError, match=r"refused global (os|posix)\.system"):
        load_state_dict(path)


def test_a_file_that_is_not_legacy_is_refused(tmp_path):
    path = tmp_path / "zip.pth"
    path.write_bytes(pickle.dumps(12345, protocol=2))
    with pytest.raises(ValueError, match="not a legacy PyTorch file"):
        load_state_dict(path)


def test_a_truncated_storage_is_refused(fake_torch, tmp_path):
    storage = Storage("1", np.ones(6, "<f4"), fake_torch.FloatStorage)
    data = legacy_file(collections.OrderedDict(w=Tensor(storage, 0, (6,), (1,))), [storage])
    path = tmp_path / "short.pth"
    path.write_bytes(data[:-4])
    with pytest.raises(ValueError, match="file ends early"):
        load_state_dict(path)
