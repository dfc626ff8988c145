"""Run an exported ``CAMClassifier`` with ``paddle.inference`` (the factory-PC path)."""
import glob
import os

import numpy as np
import paddle.inference as paddle_infer
import yaml
from ppdet.data.reader import Compose

from .export import INFER_CFG


def _model_files(model_dir):
    """``(program, params)`` paths: ``model.json`` (paddle 3 PIR) or ``model.pdmodel``."""
    for program in ('model.json', 'model.pdmodel'):
        path = os.path.join(model_dir, program)
        if os.path.isfile(path):
            return path, os.path.join(model_dir, 'model.pdiparams')
    found = ', '.join(sorted(os.path.basename(p) for p in glob.glob(os.path.join(model_dir, '*'))))
    raise FileNotFoundError(f'{model_dir}: no model.json or model.pdmodel (found: {found or "nothing"})')


class ExportedClassifier:
    """Load ``<model_dir>`` written by :func:`ppdet_wsd.deploy.export.export_classifier`.

    ``predict(paths)`` -> ``(scores float32 [N, C] in [0, 1], cam float32 [N, C, h, w])``.
    oneDNN is switched off: paddle 3.3's PIR predictor fails with it on for this graph.
    """

    def __init__(self, model_dir, cpu_threads=None):
        with open(os.path.join(model_dir, INFER_CFG)) as f:
            self.infer_cfg = yaml.safe_load(f)
        self.classes = self.infer_cfg['classes']
        ops = [{'DecodeImage': {}}] + [{op['type']: {k: v for k, v in op.items() if k != 'type'}}
                                        for op in self.infer_cfg['Preprocess']]
        self.transforms = Compose(ops)
        config = paddle_infer.Config(*_model_files(model_dir))
        config.disable_gpu()
        config.disable_mkldnn()
        config.set_cpu_math_library_num_threads(cpu_threads or os.cpu_count() or 1)
        self.predictor = paddle_infer.create_predictor(config)

    def predict(self, paths):
        images = np.stack([self.transforms({'im_file': p})['image'] for p in paths])
        handle = self.predictor.get_input_handle(self.predictor.get_input_names()[0])
        handle.reshape(images.shape)
        handle.copy_from_cpu(images.astype(np.float32))
        self.predictor.run()
        outputs = [self.predictor.get_output_handle(n).copy_to_cpu()
                   for n in self.predictor.get_output_names()]
        by_rank = sorted(outputs, key=lambda a: a.ndim)  # scores [N, C] before cam [N, C, h, w]
        return by_rank[0], by_rank[1]
