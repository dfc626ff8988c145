"""Put ppdet-wsd classes where ppdet's config system looks for them.

ppdet finds a config ``type``/``name`` in three places (see docs/architecture.md):

* ``ppdet.core.workspace.global_config`` for models, heads, backbones and metrics,
* ``ppdet.data.source`` for datasets named as ``TrainDataset: {name: X}``,
* ``ppdet.data.transform`` for reader operators named in ``sample_transforms``.

The decorators below register a class in the first and, where needed, expose it in
the other two. They must run before ``load_config`` (so: ``import ppdet_wsd`` first).
"""
import ppdet.data.source
import ppdet.data.transform
from ppdet.core.workspace import register, serializable
from ppdet.data.transform.operators import register_op


def register_module(cls):
    """Register a model part (backbone, head, architecture) with ppdet's workspace."""
    return register(serializable(cls))


def register_data_source(cls):
    """Register a dataset and expose it as ``ppdet.data.source.<Name>``."""
    cls = register(serializable(cls))
    setattr(ppdet.data.source, cls.__name__, cls)
    return cls


def register_transform(cls):
    """Register a reader operator and expose it as ``ppdet.data.transform.<Name>``."""
    cls = register_op(cls)
    setattr(ppdet.data.transform, cls.__name__, cls)
    return cls
