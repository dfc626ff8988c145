"""Run an exported model with ``paddle.inference`` (the factory-PC path)."""
import glob
import os
import time

import numpy as np
import paddle.inference as paddle_infer
import yaml
from ppdet.data.reader import Compose

from ..utils.detections import split_detections
from .export import INFER_CFG


def _model_files(model_dir):
    """``(program, params)`` paths: ``model.json`` (paddle 3 PIR) or ``model.pdmodel``."""
    for program in ('model.json', 'model.pdmodel'):
        path = os.path.join(model_dir, program)
        if os.path.isfile(path):
            return path, os.path.join(model_dir, 'model.pdiparams')
    found = ', '.join(sorted(os.path.basename(p) for p in glob.glob(os.path.join(model_dir, '*'))))
    raise FileNotFoundError(f'{model_dir}: no model.json or model.pdmodel (found: {found or "nothing"})')


class ExportedModel:
    """Load ``<model_dir>`` written by :func:`ppdet_wsd.deploy.export.export_model` and run
    it with ``paddle.inference`` on the CPU. oneDNN is switched off: paddle 3.3's PIR
    predictor fails with it on for these graphs."""

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
        config.disable_glog_info()  # no "--- Running PIR pass ..." lines on the console
        self.predictor = paddle_infer.create_predictor(config)

    def run(self, paths):
        """Preprocess ``paths``, run the model; returns ``{output name: np.ndarray}``
        (names from ``infer_cfg.yml``)."""
        if not paths:
            raise ValueError('no image to run: paths is empty')
        samples = [self.transforms({'im_file': p}) for p in paths]
        for name in self.predictor.get_input_names():
            handle = self.predictor.get_input_handle(name)
            data = np.stack([s[name] for s in samples]).astype(np.float32)
            handle.reshape(data.shape)
            handle.copy_from_cpu(data)
        self.predictor.run()
        return {name: self.predictor.get_output_handle(handle).copy_to_cpu()
                for name, handle in zip(self.infer_cfg['outputs'],
                                        self.predictor.get_output_names())}


class ExportedClassifier(ExportedModel):
    """An exported ``CAMClassifier``: ``predict(paths)`` -> ``(scores float32 [N, C] in
    [0, 1], cam float32 [N, C, h, w])``."""

    def predict(self, paths):
        out = self.run(paths)
        return out['scores'], out['cam']


class ExportedDetector(ExportedModel):
    """An exported ``RetinaNetMIL``: ``predict(paths)`` -> per image ``(detections float32
    [m, 6] (class, score, x1, y1, x2, y2 in original pixels), im_score float32 [C])``."""

    def predict(self, paths):
        out = self.run(paths)
        return list(zip(split_detections(out['bbox'], out['bbox_num']), out['im_score']))


def exported_speed(model_dir, paths):
    """Size of an exported model (MiB) and its images/s one image at a time (the factory
    case: decoding + preprocessing + ``paddle.inference``), after one warm-up image."""
    size = sum(os.path.getsize(os.path.join(model_dir, f)) for f in os.listdir(model_dir)
               if f.startswith('model.')) / 2**20
    detector = ExportedDetector(model_dir)
    detector.predict(paths[:1])
    tic = time.perf_counter()
    for path in paths:
        detector.predict([path])
    return size, len(paths) / (time.perf_counter() - tic)
