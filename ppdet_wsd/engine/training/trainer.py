"""``WSDTrainer``: ppdet's Trainer with ppdet-wsd metrics and checkpointing."""
from ppdet.engine import Trainer
from ppdet.engine.callbacks import ComposeCallback, LogPrinter

from ...data.box_dataset import boxes_as_truth
from ...data.ground_truth import load_ground_truth
from ...data.labels import file_key
from ...metrics import DetectionMetric, ImageLabelMetric
from ...metrics.box_mode import NO_BOXES
from .checkpointer import WSDCheckpointer
from .epoch_start import EpochLoader, EpochStart
from .loss_guard import FiniteLossGuard
from .refinement import OnlineRefinement, refinement_options
from .train_state import load_state
from .vdl_writer import WSDVisualDLWriter

IMAGE_LABEL_METRIC = 'ImageLabel'
DETECTION_METRIC = 'WSDDetection'


class WSDTrainer(Trainer):
    """Trainer for ppdet-wsd architectures.

    ``metric: ImageLabel`` evaluates image-level scores (:class:`ImageLabelMetric`,
    classes from the evaluation dataset, threshold from ``verdict_threshold``,
    default 0.5); ``metric: WSDDetection`` a detector's verdicts and, outside
    training only (and unless ``eval_box_metrics: false`` or ``eval_box_mode: none``), its
    boxes against the dataset's ``annotations.json`` in the ``eval_box_mode`` the config
    names (class-aware / class-agnostic, :mod:`ppdet_wsd.metrics.box_mode`; decided from
    the data when absent); ``eval_truth_file`` (a COCO file, e.g. the detector's own
    ``pseudo_boxes.json``) replaces ``annotations.json`` as the boxes to measure against
    (:class:`DetectionMetric`); any other metric is ppdet's own. Training stops at the
    first NaN / inf loss (:class:`FiniteLossGuard`). A ``Refinement``
    section with ``enable: true`` adds :class:`OnlineRefinement` to training. Checkpoints are written by
    :class:`WSDCheckpointer`, curves by :class:`WSDVisualDLWriter`. ``last_results`` keeps the latest evaluation's
    results (ppdet resets its metrics right after logging them).

    Resuming gives the uninterrupted run's result: each epoch's batches and random draws
    depend on ``(seed, epoch)`` only (:mod:`~ppdet_wsd.engine.training.epoch_start`), and a snapshot
    carries the callbacks' state (:mod:`~ppdet_wsd.engine.training.train_state`), read back into
    ``resume_state`` by :meth:`resume_weights` (``{}`` for a run that was not resumed).
    """
    last_results = {}

    def __init__(self, cfg, mode='train'):
        self.resume_state = {}
        self.validating = False
        super().__init__(cfg, mode)
        if self.mode == 'train':
            self.loader = EpochLoader(self.loader)
        elif getattr(self.model, 'cache', None) is not None:
            # one pass over the data: a feature cache would only cost memory and round
            # features to float16
            self.model.cache = None

    def _init_callbacks(self):
        if self.mode != 'train':
            return super()._init_callbacks()
        self._callbacks = [EpochStart(self), FiniteLossGuard(self), LogPrinter(self)]
        refinement = refinement_options(self.cfg)
        if refinement['enable']:  # before the checkpointer: an epoch's refresh is in its snapshot
            self._callbacks.append(OnlineRefinement(self, refinement))
        self._callbacks.append(WSDCheckpointer(self))
        if self.cfg.get('use_vdl', False):
            self._callbacks.append(WSDVisualDLWriter(self))
        self._compose_callback = ComposeCallback(self._callbacks)

    def resume_weights(self, weights):
        """ppdet's resume (weights, optimiser and learning-rate schedule, start epoch), plus
        the callbacks' state saved with the snapshot ``weights``."""
        super().resume_weights(weights)
        self.resume_state = load_state(weights)

    def train(self, validate=False):
        self.validating = validate
        super().train(validate)

    def _init_metrics(self, validate=False):
        if self.cfg.metric not in (IMAGE_LABEL_METRIC, DETECTION_METRIC):
            return super()._init_metrics(validate)
        if self.mode == 'test' or (self.mode == 'train' and not validate):
            self._metrics = []
            return
        dataset = self.cfg['EvalDataset'] if self.mode == 'train' else self.dataset
        threshold = self.cfg.get('verdict_threshold', 0.5)
        if self.cfg.metric == IMAGE_LABEL_METRIC:
            self._metrics = [ImageLabelMetric(dataset.classes, threshold)]
            return
        box_mode = self.cfg.get('eval_box_mode')
        box_metrics = self.mode != 'train' and self.cfg.get('eval_box_metrics', True) \
            and box_mode != NO_BOXES
        truth_file = self.cfg.get('eval_truth_file')
        if not box_metrics:
            truth = None
        elif truth_file:
            truth = self._truth_from_file(truth_file, dataset)
        else:
            truth = lambda files: load_ground_truth(dataset.dataset_dir, files)  # noqa: E731
        self._metrics = [DetectionMetric(dataset, self.cfg.classes, threshold, truth, box_mode,
                                         self.model.finest_stride)]

    def _truth_from_file(self, path, dataset):
        """A ground-truth loader reading the boxes of ``path`` (image sizes from the
        dataset's records)."""
        def load(files):
            dataset.parse_dataset()
            sizes = {file_key(r['im_file'], dataset.image_root): (r['h'], r['w'])
                     for r in dataset.roidbs}
            return boxes_as_truth(path, self.cfg.classes, files, [sizes[f] for f in files])
        return load

    def _reset_metrics(self):
        for metric in getattr(self, '_metrics', []):
            results = metric.get_results()
            if results:
                self.last_results = results
        super()._reset_metrics()
