"""Reading a PyTorch state dict saved in the legacy (non-zip) format, without torch.

The file is a run of pickles: a magic number, the protocol version, system info,
then the state dict, whose tensors refer to storages by persistent id
`('storage', <Type>Storage, key, location, numel, view)` and are rebuilt by
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`; then the list
of storage keys, then each storage as an int64 element count and its raw bytes.

The unpickler resolves only the names such a file needs (to local stand-ins) and
refuses every other global, so a hostile file cannot run code.
"""

from __future__ import annotations

import collections
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_DTYPES = {
    "FloatStorage": np.dtype("<f4"),
    "DoubleStorage": np.dtype("<f8"),
    "HalfStorage": np.dtype("<f2"),
    "LongStorage": np.dtype("<i8"),
    "IntStorage": np.dtype("<i4"),
    "ShortStorage": np.dtype("<i2"),
    "CharStorage": np.dtype("i1"),
    "ByteStorage": np.dtype("u1"),
    "BoolStorage": np.dtype("?"),
}


@dataclass(frozen=True)
class StorageType:
    dtype: np.dtype[Any]


@dataclass(frozen=True)
class StorageRef:
    key: str
    dtype: np.dtype[Any]
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """A tensor still waiting for its storage's bytes (they come after the pickle)."""

    storage: StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]


def rebuild_tensor(storage: StorageRef, offset: int, size: Any, stride: Any, *_: Any) -> TensorRef:
    return TensorRef(storage, int(offset), tuple(size), tuple(stride))


class RestrictedUnpickler(pickle.Unpickler):
    """Only an OrderedDict of tensors: every other global is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild_tensor
        if module == "torch" and name in STORAGE_DTYPES:
            return StorageType(STORAGE_DTYPES[name])
        raise pickle.UnpicklingError(f"refused global {module}.{name}")

    def persistent_load(self, pid: Any) -> StorageRef:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type, key, _location, numel = pid[1:5]
        if not isinstance(storage_type, StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
        return StorageRef(str(key), storage_type.dtype, int(numel))


def restricted_load(stream: IO[bytes]) -> Any:
    return RestrictedUnpickler(stream).load()


def read_storages(
    stream: IO[bytes], keys: list[str], refs: dict[str, StorageRef]
) -> dict[str, np.ndarray]:
    storages = {}
    for key in keys:
        count = int(np.frombuffer(stream.read(8), "<i8")[0])
        dtype = refs[key].dtype
        data = stream.read(count * dtype.itemsize)
        if len(data) != count * dtype.itemsize:
            raise ValueError(f"storage {key}: file ends early")
        storages[key] = np.frombuffer(data, dtype)
    return storages


def materialize(ref: TensorRef, storage: np.ndarray) -> np.ndarray:
    view = storage[ref.offset :]
    strides = tuple(step * storage.itemsize for step in ref.stride)
    return np.lib.stride_tricks.as_strided(view, ref.size, strides).copy()


def load_state_dict(path: Path) -> dict[str, np.ndarray]:
    """Every tensor of a legacy `.pth` state dict as a numpy array, in file order."""
    with path.open("rb") as stream:
        if restricted_load(stream) != LEGACY_MAGIC:
            raise ValueError(f"{path}: not a legacy PyTorch file (zip files are not read here)")
        restricted_load(stream)  # protocol version
        info = restricted_load(stream)
        if not info.get("little_endian", False):
            raise ValueError(f"{path}: big-endian files are not read here")
        tensors = restricted_load(stream)
        keys = [str(key) for key in restricted_load(stream)]
        refs = {ref.storage.key: ref.storage for ref in tensors.values()}
        storages = read_storages(stream, keys, refs)
    return {name: materialize(ref, storages[ref.storage.key]) for name, ref in tensors.items()}
