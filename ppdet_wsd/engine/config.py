"""Load a ppdet-style YAML config the way ppdet's tools do, plus what ppdet-wsd needs."""
import contextlib
import os
import sys

import paddle
import yaml
from ppdet.core.workspace import create, merge_config
from ppdet.utils.cli import ArgsParser, merge_args

from ppdet_wsd_runtime.image_io import ImageReadError

from ..data.labels import DatasetError
from ..utils.config_files import read_with_bases

DEVICE_FLAGS = ('use_gpu', 'use_npu', 'use_xpu', 'use_mlu')


class ConfigError(ValueError):
    """A config contradicts the data or names what does not exist; the message names the
    key."""


@contextlib.contextmanager
def user_errors():
    """The tools' ``main``: a mistake in the config or the data (:class:`ConfigError`,
    :class:`~ppdet_wsd.data.labels.DatasetError`, an unreadable image, a missing file) ends
    the command with ``error: <message>`` instead of a traceback."""
    try:
        yield
    except (ConfigError, DatasetError, ImageReadError, FileNotFoundError) as e:
        sys.exit(f'error: {e}')


def make_parser(description):
    """ppdet's ``ArgsParser`` (``-c/--config``, ``-o key=value``) with a description."""
    parser = ArgsParser()
    parser.description = description
    return parser


def _read_one_file(path):
    """One ppdet-style config file's keys as written, read with ppdet's YAML loader (its
    tags, e.g. ``!CosineDecay``, build objects)."""
    with open(path, encoding='utf-8') as f:
        return yaml.load(f, Loader=yaml.Loader) or {}


def read_config(path):
    """A ppdet-style config with its ``_BASE_`` files merged in
    (:func:`ppdet_wsd.utils.config_files.read_with_bases`), as a dict; ppdet's global
    config is left alone."""
    return read_with_bases(path, _read_one_file)


def load_config(path):
    """What ppdet's ``load_config`` does, with the plugin's ``_BASE_`` resolver: the config
    (:func:`read_config`, ``filename`` its file name without the extension) merged into
    ppdet's global config.

    Returns:
        ppdet AttrDict: the global config.
    """
    cfg = read_config(path)
    cfg['filename'] = os.path.splitext(os.path.basename(path))[0]
    return merge_config(cfg)


def load_run_config(flags):
    """Load ``flags.config``, apply ``-o`` overrides and the flags; pick the device.

    Returns:
        ppdet AttrDict: the global config (``cfg.use_gpu`` etc. always set).
    """
    if not os.path.isfile(flags.config):
        raise FileNotFoundError(f'config file not found: {flags.config}')
    cfg = load_config(flags.config)
    merge_args(cfg, flags)
    merge_config(flags.opt)
    select_device(cfg)
    return cfg


def select_device(cfg):
    """Set every device flag the config leaves out to False and pick paddle's device: the
    GPU when ``use_gpu`` is on and paddle was built with CUDA, else the CPU."""
    for key in DEVICE_FLAGS:
        cfg.setdefault(key, False)
    paddle.set_device('gpu' if cfg.use_gpu and paddle.is_compiled_with_cuda() else 'cpu')


def resolve_classes(cfg, dataset_key):
    """Read the dataset named by ``dataset_key`` and fix ``num_classes`` from it.

    The class list comes from the data (``labels.csv`` or class folders) unless the
    dataset config names ``classes``. ``num_classes`` in the config must agree or
    be absent.

    Returns:
        list[str]: the class names, in model output order.
    Raises:
        ConfigError: ``num_classes`` in the config contradicts the data.
    """
    dataset = create(dataset_key)()
    dataset.check_or_download_dataset()
    dataset.parse_dataset()
    classes = list(dataset.classes)
    configured = cfg.get('num_classes')
    if configured not in (None, len(classes)):
        raise ConfigError(f'config says num_classes: {configured}, but {dataset_key} at '
                         f'{dataset.dataset_dir} has {len(classes)} classes {classes}; '
                         f'remove num_classes or fix it')
    merge_config({'num_classes': len(classes), 'classes': classes})
    return classes
