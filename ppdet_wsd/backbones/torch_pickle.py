"""Read a PyTorch state-dict checkpoint (``.pth``) into numpy arrays, without torch.

Two on-disk layouts exist:

* **legacy** (``torch.save(..., _use_new_zipfile_serialization=False)``, torch < 1.6): five
  pickles back to back, then raw data. The pickles are the magic number, the protocol
  version (1001), a ``sys_info`` dict (byte order, C type sizes), the saved object itself
  and the list of storage keys. Tensors inside the saved object refer to storages by a
  *persistent id* ``('storage', <torch.XStorage>, key, location, numel, view_metadata)``.
  After the key list each storage follows in that order: an int64 element count, then
  ``count * itemsize`` bytes of little-endian data.
* **zip** (torch >= 1.6): a zip archive ``<name>/data.pkl`` (the saved object, persistent
  ids without ``view_metadata``) plus one record ``<name>/data/<key>`` of raw bytes per storage.

Tensors are rebuilt through ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride,
...)``. The unpickler here is restricted to the handful of globals a state dict needs
(``collections.OrderedDict``, ``_rebuild_tensor_v2`` and the typed storage classes), so
reading an untrusted file cannot run code.
"""
import collections
import pickle
import struct
import zipfile
from dataclasses import dataclass

import numpy as np

__all__ = ['TorchPickleError', 'load_torch_state_dict']

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001

# torch typed storage class name -> numpy dtype of its little-endian raw data.
_STORAGE_DTYPES = {
    'DoubleStorage': np.dtype('<f8'),
    'FloatStorage': np.dtype('<f4'),
    'HalfStorage': np.dtype('<f2'),
    'LongStorage': np.dtype('<i8'),
    'IntStorage': np.dtype('<i4'),
    'ShortStorage': np.dtype('<i2'),
    'CharStorage': np.dtype('i1'),
    'ByteStorage': np.dtype('u1'),
    'BoolStorage': np.dtype('?'),
}


class TorchPickleError(ValueError):
    """The file is not a torch state-dict checkpoint this reader understands."""


@dataclass
class _Storage:
    """A torch storage: ``numel`` elements of ``dtype``; ``data`` is filled after unpickling."""
    key: str
    dtype: np.dtype
    numel: int
    data: np.ndarray = None


@dataclass
class _TensorRef:
    """A tensor as pickled: a strided view (in elements) into a storage."""
    storage: _Storage
    offset: int
    shape: tuple
    stride: tuple


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: record the view, read data later."""
    return _TensorRef(storage, storage_offset, tuple(size), tuple(stride))


class _StateDictUnpickler(pickle.Unpickler):
    """Unpickler allowing only state-dict globals; collects the storages it meets in ``storages``."""

    def __init__(self, file, path):
        super().__init__(file)
        self.path = path
        self.storages = {}

    def find_class(self, module, name):
        if (module, name) == ('collections', 'OrderedDict'):
            return collections.OrderedDict
        if (module, name) == ('torch._utils', '_rebuild_tensor_v2'):
            return _rebuild_tensor_v2
        if module == 'torch' and name in _STORAGE_DTYPES:
            return _STORAGE_DTYPES[name]
        raise TorchPickleError(
            f'{self.path}: unsupported object {module}.{name} in the pickle; only state dicts of '
            'plain tensors can be read without torch')

    def persistent_load(self, pid):
        """Resolve ``('storage', dtype, key, location, numel[, view_metadata])`` to a _Storage."""
        if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == 'storage'):
            raise TorchPickleError(f'{self.path}: unexpected persistent id {pid!r}')
        dtype, key, numel = pid[1], str(pid[2]), int(pid[4])
        if len(pid) == 6 and pid[5] is not None:
            raise TorchPickleError(f'{self.path}: storage views (pre-1.0 torch files) are not supported')
        if key not in self.storages:
            self.storages[key] = _Storage(key, dtype, numel)
        return self.storages[key]


def _tensor_to_numpy(ref, name, path):
    """Materialise one tensor as a C-contiguous numpy array (a copy, not a view of the file)."""
    flat = ref.storage.data
    if 0 in ref.shape:
        return np.empty(ref.shape, dtype=flat.dtype)
    last = ref.offset + sum((n - 1) * s for n, s in zip(ref.shape, ref.stride))
    if ref.offset < 0 or min(ref.stride, default=0) < 0 or last >= flat.size:
        raise TorchPickleError(f'{path}: tensor {name!r} lies outside its storage')
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset:], shape=ref.shape, strides=[s * flat.itemsize for s in ref.stride])
    return np.array(view, dtype=flat.dtype.newbyteorder('='), order='C')


def _to_state_dict(obj, path):
    """Turn the unpickled mapping name -> _TensorRef into ``dict[str, np.ndarray]``."""
    if not isinstance(obj, dict):
        raise TorchPickleError(f'{path}: the checkpoint holds a {type(obj).__name__}, not a state dict')
    state = {}
    for name, value in obj.items():
        if not isinstance(value, _TensorRef):
            raise TorchPickleError(f'{path}: entry {name!r} is a {type(value).__name__}, not a tensor')
        state[name] = _tensor_to_numpy(value, name, path)
    return state


def _load_pickle(f, path, what):
    """Unpickle the next pickle in ``f`` with the restricted unpickler; returns (obj, unpickler)."""
    unpickler = _StateDictUnpickler(f, path)
    try:
        return unpickler.load(), unpickler
    except TorchPickleError:
        raise
    except Exception as exc:  # any malformed stream: UnpicklingError, EOFError, ValueError, ...
        raise TorchPickleError(f'{path}: not a torch checkpoint (cannot read {what}: {exc})') from exc


def _read_exact(f, nbytes, path, what):
    data = f.read(nbytes)
    if len(data) != nbytes:
        raise TorchPickleError(f'{path}: file is truncated while reading {what}')
    return data


def _load_legacy(f, path):
    """Read the legacy (non-zip) layout from an open binary file positioned at its start."""
    magic, _ = _load_pickle(f, path, 'the magic number')
    if magic != _LEGACY_MAGIC:
        raise TorchPickleError(f'{path}: a pickle file, but not a torch checkpoint (wrong magic number)')
    protocol, _ = _load_pickle(f, path, 'the protocol version')
    if protocol != _LEGACY_PROTOCOL:
        raise TorchPickleError(f'{path}: unsupported legacy torch protocol version {protocol!r}')
    sys_info, _ = _load_pickle(f, path, 'sys_info')
    if not (isinstance(sys_info, dict) and sys_info.get('little_endian', False)):
        raise TorchPickleError(f'{path}: only little-endian torch checkpoints are supported')
    obj, unpickler = _load_pickle(f, path, 'the saved object')
    keys, _ = _load_pickle(f, path, 'the storage key list')
    for key in keys:
        storage = unpickler.storages.get(str(key))
        if storage is None:
            raise TorchPickleError(f'{path}: storage {key!r} listed but never referenced')
        count, = struct.unpack('<q', _read_exact(f, 8, path, f'storage {key} size'))
        if count != storage.numel:
            raise TorchPickleError(f'{path}: storage {key} has {count} elements, expected {storage.numel}')
        raw = _read_exact(f, count * storage.dtype.itemsize, path, f'storage {key}')
        storage.data = np.frombuffer(raw, dtype=storage.dtype)
    missing = [k for k, s in unpickler.storages.items() if s.data is None]
    if missing:
        raise TorchPickleError(f'{path}: storages {missing[:5]} are referenced but not stored')
    return _to_state_dict(obj, path)


def _load_zip(path):
    """Read the zip layout (torch >= 1.6): ``<name>/data.pkl`` plus ``<name>/data/<key>`` records."""
    with zipfile.ZipFile(path) as archive:
        pickles = [n for n in archive.namelist() if n.endswith('data.pkl')]
        if len(pickles) != 1:
            raise TorchPickleError(f'{path}: a zip file, but not a torch checkpoint (no single data.pkl)')
        prefix = pickles[0][:-len('data.pkl')]
        byteorder = prefix + 'byteorder'
        if byteorder in archive.namelist() and archive.read(byteorder).decode() != 'little':
            raise TorchPickleError(f'{path}: only little-endian torch checkpoints are supported')
        with archive.open(pickles[0]) as f:
            obj, unpickler = _load_pickle(f, path, 'data.pkl')
        for key, storage in unpickler.storages.items():
            try:
                raw = archive.read(f'{prefix}data/{key}')
            except KeyError as exc:
                raise TorchPickleError(f'{path}: storage record data/{key} is missing') from exc
            if len(raw) != storage.numel * storage.dtype.itemsize:
                raise TorchPickleError(f'{path}: storage {key} has {len(raw)} bytes, expected '
                                       f'{storage.numel * storage.dtype.itemsize}')
            storage.data = np.frombuffer(raw, dtype=storage.dtype)
    return _to_state_dict(obj, path)


def load_torch_state_dict(path):
    """Load a torch state-dict checkpoint without torch.

    Args:
        path (str | os.PathLike): a ``.pth``/``.pt`` file written by ``torch.save(state_dict)``,
            legacy or zip layout.

    Returns:
        dict[str, np.ndarray]: tensor name -> C-contiguous array with the tensor's shape and
        dtype (float32 weights, int64 ``num_batches_tracked`` scalars of shape ``()``), in file order.

    Raises:
        TorchPickleError: the file is not a torch checkpoint, is truncated, or holds anything
            other than a flat mapping of tensors. The message names the file.
    """
    path = str(path)
    if zipfile.is_zipfile(path):
        return _load_zip(path)
    with open(path, 'rb') as f:
        return _load_legacy(f, path)
