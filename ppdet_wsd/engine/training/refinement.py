"""Online refinement of pseudo boxes by an EMA teacher during detector training."""
import copy
import os

import numpy as np
import paddle
from ppdet.data.reader import Compose
from ppdet.engine.callbacks import Callback
from ppdet.utils.logger import setup_logger

from ppdet_wsd_runtime.atomic import write_json_atomic

from ...pseudo.refine import MiningRule
from ...pseudo.settings import Refinement
from ...utils.dist import is_main_process
from ...utils.settings import section
from ..prediction.detect import detect_records

logger = setup_logger(__name__)
REFINED_FILE = 'refined_boxes.json'


def refinement_options(cfg):
    """The ``Refinement`` config section as a dict, the defaults of
    :class:`~ppdet_wsd.pseudo.settings.Refinement` for what it leaves out (a misspelt key
    is an error naming it)."""
    return vars(section(Refinement, cfg))


class EMATeacher:
    """A copy of the student whose trainable parameters follow an exponential moving
    average: ``t <- d * t + (1 - d) * s`` after every optimiser step, with the usual
    warm-up ``d = min(decay, (1 + n) / (10 + n))`` at update ``n`` so that early updates
    forget the random initialisation quickly. Frozen parts (and a frozen backbone's
    feature cache) are shared with the student, not copied."""

    def __init__(self, student, decay):
        cache, student.cache = getattr(student, 'cache', None), None
        try:
            self.model = copy.deepcopy(student)
        finally:
            student.cache = cache
        self.model.cache = cache
        self.model.eval()
        self.decay = decay
        self.updates = 0
        teacher_params = dict(self.model.named_parameters())
        self.names = [name for name, param in student.named_parameters()
                      if not param.stop_gradient]
        student_params = dict(student.named_parameters())
        self.pairs = [(teacher_params[name], student_params[name]) for name in self.names]

    @paddle.no_grad()
    def update(self):
        decay = min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))
        self.updates += 1
        for teacher, student in self.pairs:
            teacher.set_value(decay * teacher + (1.0 - decay) * student.detach())

    def state(self):
        """``{'weights': {parameter name: float32 array} of the averaged parameters,
        'updates': int}``."""
        return {'weights': {name: t.numpy() for name, (t, _) in zip(self.names, self.pairs)},
                'updates': self.updates}

    def load(self, state):
        """Continue from a :meth:`state` of a teacher of the same architecture."""
        for name, (teacher, _) in zip(self.names, self.pairs):
            teacher.set_value(state['weights'][name])
        self.updates = state['updates']


def changed_images(before, after):
    """How many images' box sets differ between two lists of ``(boxes, classes, scores)``."""
    return sum(not (b[0].shape == a[0].shape and np.allclose(b[0], a[0]) and
                    np.array_equal(b[1], a[1])) for b, a in zip(before, after))


class OnlineRefinement(Callback):
    """Re-mine the training set's pseudo boxes with an EMA teacher every few epochs.

    After epoch ``start_epoch`` and every ``interval`` epochs after it (1-based
    epoch counts), the teacher predicts every defective training image (evaluation transforms)
    and :class:`MiningRule` turns its detections into the image's new boxes
    (only labelled classes, several instances, old boxes kept where the teacher
    finds nothing). The student trains on the refreshed boxes from the next epoch.
    Each refresh is logged (boxes before / after, images changed), drawn in VisualDL
    (``refine/*``) and written to ``<save_dir>/<config>/refined_boxes.json``.

    The teacher's weights and update count, the training images' current boxes and the
    refresh history are part of every training snapshot (:meth:`state`); a resumed run
    continues from them, so it refines exactly as an uninterrupted run does.

    Config: the ``Refinement`` section (:class:`~ppdet_wsd.pseudo.settings.Refinement`).
    """
    state_key = 'refinement'

    def __init__(self, trainer, options):
        super().__init__(trainer)
        self.options = options
        self.rule = MiningRule(options['top_p'], options['nms_iou'], options['min_score'],
                               options['max_per_class'])
        self.teacher = None
        self.path = os.path.join(trainer.cfg.save_dir, trainer.cfg.filename, REFINED_FILE)
        self.history = []

    @property
    def records(self):
        """The training records with an image label (a good image never gets a box)."""
        return [r for r in self.model.dataset.roidbs if r['img_label'].any()]

    def on_train_begin(self, status):
        self.teacher = EMATeacher(self.model.model, self.options['ema_decay'])
        saved = self.model.resume_state.get(self.state_key)
        if saved is not None:
            self._restore(saved)

    def state(self):
        """What a resumed run needs: ``teacher`` (:meth:`EMATeacher.state`), ``records``
        (each defective training image's ``im_file`` and its current ``gt_bbox`` float32
        [N, 4], ``gt_class`` int32 [N, 1], ``gt_score`` float32 [N, 1]) and ``history``
        (the refreshes so far)."""
        return {'teacher': self.teacher.state(),
                'records': [{k: r[k] for k in ('im_file', 'gt_bbox', 'gt_class', 'gt_score')}
                            for r in self.records],
                'history': list(self.history)}

    def on_step_end(self, status):
        if status['mode'] == 'train':
            self.teacher.update()

    def on_epoch_end(self, status):
        if status['mode'] != 'train':
            return
        done = status['epoch_id'] + 1
        start, interval = self.options['start_epoch'], self.options['interval']
        if done >= start and (done - start) % interval == 0 and done < self.model.cfg.epoch:
            self.refresh(done)

    def refresh(self, epoch):
        """Re-mine every training image's boxes with the teacher (after ``epoch`` epochs)."""
        cfg = self.model.cfg
        before = [(r['gt_bbox'], r['gt_class'], r['gt_score']) for r in self.records]
        after = []
        transforms = Compose(cfg.EvalReader['sample_transforms'])
        for record, detections, _ in detect_records(self.teacher.model, transforms, self.records,
                                                    cfg.EvalReader.get('batch_size', 8),
                                                    desc=f'refining boxes (epoch {epoch})'):
            new = self.rule(detections, record['img_label'],
                            (record['gt_bbox'], record['gt_class'], record['gt_score']))
            record['gt_bbox'], record['gt_class'], record['gt_score'] = new
            after.append(new)
        entry = {'epoch': epoch, 'boxes_before': int(sum(len(b[0]) for b in before)),
                 'boxes_after': int(sum(len(a[0]) for a in after)),
                 'images_changed': int(changed_images(before, after)),
                 'images': len(after)}
        self.history.append(entry)
        logger.info(f'refinement after epoch {epoch}: {entry["boxes_before"]} -> '
                    f'{entry["boxes_after"]} boxes, {entry["images_changed"]} of '
                    f'{entry["images"]} images changed')
        writer = self._vdl_writer()
        if writer is not None:
            for key in ('boxes_after', 'images_changed'):
                writer.add_scalar(f'refine/{key}', entry[key], epoch)
        if is_main_process():
            self._save()

    def _vdl_writer(self):
        for callback in getattr(self.model, '_callbacks', []):
            if hasattr(callback, 'vdl_writer'):
                return callback.vdl_writer
        return None

    def _save(self):
        write_json_atomic(self.path, {
            'history': self.history,
            'records': [{'im_file': r['im_file'], 'boxes': r['gt_bbox'].tolist(),
                         'classes': r['gt_class'].reshape(-1).tolist(),
                         'scores': r['gt_score'].reshape(-1).tolist()} for r in self.records]})

    def _restore(self, saved):
        self.teacher.load(saved['teacher'])
        by_file = {entry['im_file']: entry for entry in saved['records']}
        for record in self.records:
            if record['im_file'] not in by_file:
                raise ValueError(f'the snapshot has no refined boxes for {record["im_file"]}: '
                                 f'it was written for other training images')
            record.update({k: by_file[record['im_file']][k]
                           for k in ('gt_bbox', 'gt_class', 'gt_score')})
        self.history = list(saved['history'])
        logger.info(f'resumed with the teacher and the refined boxes after '
                    f'{len(self.history)} refinement(s)')
