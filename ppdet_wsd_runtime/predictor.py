"""Run an exported model on image files: preprocessing (:mod:`.preprocess`), a backend
(:mod:`.backends`: Paddle Inference with oneDNN or onnxruntime) and, for a detector, the
decoding and NMS outside the graph (:mod:`.retina_decode`) and the image verdict the
export carries (:mod:`.verdict`; with the stage-1 classifier, :mod:`.evidence`). Imports
no ppdet."""
import os
import time

import numpy as np

from .backends import create_backend
from .detections import fit_boxes_to_image
from .evidence import ExportedEvidence
from .model_dir import (INFER_CFG, ModelFolderError, is_detector, model_size_mb,
                        read_infer_cfg)
from .preprocess import Preprocess
from .results import detector_class_scores
from .retina_decode import RetinaDecoder
from .verdict import read_verdict, source_scores


class ExportedModel:
    """Load ``<model_dir>`` written by :func:`ppdet_wsd.deploy.export.export_model`.

    Args:
        model_dir (str): the exported folder.
        backend (str): ``paddle`` (Paddle Inference, oneDNN) or ``onnx`` (onnxruntime).
        threads (int | None): CPU threads; None = every core.
        int8 (bool): run ``model_int8.onnx`` (onnx backend only).
    Raises:
        ModelFolderError: the folder or a file in it is missing or broken.
        ValueError: a preprocessing op the runtime does not implement.
    """

    def __init__(self, model_dir, backend='paddle', threads=None, int8=False):
        self.model_dir = model_dir
        self.infer_cfg = read_infer_cfg(model_dir)
        self.classes = list(self.infer_cfg['classes'])
        self.threshold = float(self.infer_cfg['operating_threshold'])
        self.preprocess = Preprocess(self.infer_cfg['Preprocess'])
        self.backend = create_backend(backend, model_dir, threads, int8)

    def run(self, samples):
        """The graph's outputs (list of numpy arrays, ``infer_cfg.yml`` order) for
        preprocessed ``samples``."""
        if not samples:
            raise ValueError('no image to run: samples is empty')
        return self.run_batch(np.stack([s['image'] for s in samples]).astype(np.float32))

    def run_batch(self, batch):
        """The graph's outputs for a preprocessed float32 ``batch`` ``[B, 3, H, W]``."""
        return self.backend.run(batch)

    def predict(self, paths):
        """:meth:`predict_samples` of the image files ``paths`` (unreadable files raise
        :class:`~ppdet_wsd_runtime.image_io.ImageReadError`)."""
        return self.predict_samples([self.preprocess(p) for p in paths])


class ExportedClassifier(ExportedModel):
    """An exported ``CAMClassifier``."""

    def predict_samples(self, samples):
        """Per sample ``(scores float32 [C] in [0, 1], cam float32 [C, h, w])`` (class maps
        over the whole model input)."""
        outputs = dict(zip(self.infer_cfg['outputs'], self.run(samples)))
        return list(zip(outputs['scores'], outputs['cam']))


class ExportedDetector(ExportedModel):
    """An exported ``RetinaNetMIL`` and the image verdict its export carries.

    Attributes:
        verdict (dict): :func:`~ppdet_wsd_runtime.verdict.read_verdict` (``source``,
            ``threshold``; the detector at ``operating_threshold`` without the section).
        evidence (ExportedEvidence | None): the stage-1 classifier, when the verdict's
            source needs it or the export has heat maps (on ``backend``; float32 also
            with ``int8``).
    """

    def __init__(self, model_dir, backend='paddle', threads=None, int8=False):
        super().__init__(model_dir, backend, threads, int8)
        self.decoder = RetinaDecoder(self.infer_cfg['postprocess'])
        self.verdict = read_verdict(self.infer_cfg, os.path.join(model_dir, INFER_CFG))
        self.evidence = None
        if self.verdict['evidence'] is not None:
            self.evidence = ExportedEvidence(model_dir, self.verdict['evidence'], self.classes,
                                             backend, threads)
        self.preprocess.keep_rgb = True  # small boxes take their edges from the image
        self.backbone = self.infer_cfg.get('backbone')
        if self.backbone is not None and self.evidence is None:
            raise ModelFolderError(f'{os.path.join(model_dir, INFER_CFG)}: the detector\'s '
                                   f'backbone is the stage-1 graph ({self.backbone}), but the '
                                   f'verdict section has no evidence to load it from')

    def run_batch(self, batch):
        """The detector graph's outputs for a preprocessed ``batch``; with a backbone
        shared with the stage-1 classifier (``infer_cfg.yml``'s ``backbone``), the
        ``evidence.*`` graph's maps of the same input feed ``model.*``."""
        if self.backbone is None:
            return super().run_batch(batch)
        maps = self.evidence.backbone_maps(batch)
        return self.backend.run(*[maps[n] for n in self.backend.input_names])

    @property
    def heat_map(self):
        """The kind of the export's stage-1 heat maps (``fused``, ``normality``, ``mil``),
        or None when it has none."""
        maps = self.evidence.maps if self.evidence is not None else None
        return maps.kind if maps is not None else None

    @property
    def size_mb(self):
        """MiB of the graph files this detector loads (with the evidence backbone and the
        heat maps' bank)."""
        if self.evidence is None:
            return self.backend.size_mb
        bank = model_size_mb(self.evidence.maps.files) if self.evidence.maps else 0.0
        return self.backend.size_mb + self.evidence.backend.size_mb + bank

    def predict_samples(self, samples):
        """Per sample ``(detections float32 [m, 6] (class, score, x1, y1, x2, y2 in original
        pixels, clipped to the image, small boxes sharpened: :func:`fit_boxes_to_image`;
        by class, then score), im_score float32 [C] in [0, 1])``."""
        im_score, *head = self.run(samples)
        detections = self.decoder.decode(head, np.stack([s['scale_factor'] for s in samples]))
        stride = float(self.decoder.cfg['strides'][0])
        for sample, det in zip(samples, detections):
            fit_boxes_to_image(det, sample['rgb'], stride, sample['scale_factor'])
        return list(zip(detections, im_score))

    def judge_samples(self, samples, maps=False):
        """:meth:`predict_samples` and the image verdict's class scores of preprocessed
        ``samples`` (and, with ``maps``, their stage-1 heat maps when the export has them).

        Returns:
            list[dict]: per sample ``detections`` and ``im_score`` (as
            :meth:`predict_samples`), ``detector_scores`` float32 ``[C]`` (per class the
            larger of ``im_score`` and the best box score), ``classifier_scores``
            (the stage-1 classifier's ``[C]``, or None when the verdict does not use it),
            ``scores``: the verdict source's ``[C]``, to compare with
            ``verdict['threshold']``, and ``maps``: float32 ``[C, rows, cols]`` over the
            stage-1 input's stride-8 cells
            (:meth:`~ppdet_wsd_runtime.evidence_maps.EvidenceMaps.grid_maps`; None
            without ``maps`` or without heat maps in the export).
        """
        outputs = self.predict_samples(samples)
        detector = np.stack([detector_class_scores(d, s) for d, s in outputs])
        maps = maps and self.heat_map is not None
        classifier, grid_maps = None, [None] * len(samples)
        if self.evidence is not None and (self.verdict['source'] != 'detector' or maps):
            classifier, grid_maps = self.evidence.evaluate([s['rgb'] for s in samples], maps)
            if self.verdict['source'] == 'detector':
                classifier = None  # there for the maps only
        scores = source_scores(self.verdict['source'], detector, classifier)
        return [{'detections': d, 'im_score': s, 'detector_scores': detector[i],
                 'classifier_scores': None if classifier is None else classifier[i],
                 'scores': scores[i], 'maps': grid_maps[i]} for i, (d, s) in enumerate(outputs)]

    def judge(self, paths, maps=False):
        """:meth:`judge_samples` of the image files ``paths``."""
        return self.judge_samples([self.preprocess(p) for p in paths], maps)

    def image_map(self, judged, image_hw):
        """The heat map of the verdict's top class as drawn, or None without maps.

        Args:
            judged (dict): one item of :meth:`judge_samples` (with ``maps``).
            image_hw (tuple[int, int]): the original image's ``(height, width)``.
        Returns:
            tuple | None: ``(float32 [height, width] in [0, 1]`` (0 the class's background
            level, 0.5 its level; :meth:`EvidenceMaps.image_map`), ``class index)``.
        """
        if judged.get('maps') is None:
            return None
        best = int(np.argmax(judged['scores']))
        return self.evidence.maps.image_map(judged['maps'], best, image_hw), best


def load_exported(model_dir, backend='paddle', threads=None, int8=False):
    """:class:`ExportedDetector` or :class:`ExportedClassifier`, as the folder holds."""
    kind = ExportedDetector if is_detector(read_infer_cfg(model_dir)) else ExportedClassifier
    return kind(model_dir, backend, threads, int8)


def exported_heat_map(model_dir):
    """The kind of stage-1 heat map (``fused``, ``normality``, ``mil``) an export's
    ``infer_cfg.yml`` declares, or None (read without loading the models)."""
    evidence = (read_infer_cfg(model_dir).get('verdict') or {}).get('evidence') or {}
    return (evidence.get('heat_map') or {}).get('kind')


def exported_speed(model_dir, paths, maps=False):
    """Size of an exported detector's Paddle files (MiB; with the verdict's evidence
    backbone when it has one) and its images/s one image at a time (the factory case:
    decoding + preprocessing + Paddle Inference with oneDNN + decoding and NMS + the image
    verdict; with ``maps`` also the stage-1 heat maps on the grid, when the export has
    them), after one warm-up image."""
    detector = ExportedDetector(model_dir)
    detector.judge(paths[:1], maps)
    tic = time.perf_counter()
    for path in paths:
        detector.judge([path], maps)
    return detector.size_mb, len(paths) / (time.perf_counter() - tic)
