"""``PseudoBoxes:`` and ``Refinement:``, the config sections of the CAM pseudo boxes
(``tools/gen_pseudo_boxes.py``) and of the detector's online refinement, with every
default in one place (the ``__init__`` arguments). YAML only overrides; a misspelt key is an
error naming it (:func:`ppdet_wsd.utils.settings.section`). Every default is a rule chosen
without ground-truth boxes."""
from ..registry import register_module


@register_module
class PseudoBoxes:
    """How ``tools/gen_pseudo_boxes.py`` runs a trained classifier's CAM over a split (the
    box rules are the ``CAMPseudoBoxGenerator`` section).

    Args:
        split (str | None): images to box: ``train``, ``val``, ``test`` or None (all).
        method (str): the CAM method: ``cam``, ``gradcam``, ``gradcam++``, ``layercam``.
        target_layer (str | None): the layer the method reads; None: the fused features
            entering the class conv.
        flips (bool): test-time flip averaging (about 2x the time).
        scales (Sequence[float]): test-time scales, e.g. ``[1.0, 1.25]``.
        use_image_labels (bool): box the classes in the image label (good images get no
            box); otherwise the classes scored >= ``class_threshold``.
        class_threshold (float): the classifier's class decision when image labels are not
            used.
        num_review (int): label-balanced images drawn into ``review/index.html``.
        few_boxes (int): N boxed val images per class choose per-class thresholds (the
            explicit few-boxes mode, :mod:`ppdet_wsd.pseudo.few_boxes`); 0 = off.
        chunk_size (int): images per resumable part (the processes of a distributed run
            share them out).
    """

    def __init__(self, split='train', method='cam', target_layer=None, flips=False,
                 scales=(1.0,), use_image_labels=True, class_threshold=0.5, num_review=48,
                 few_boxes=0, chunk_size=64):
        self.split = split
        self.method = method
        self.target_layer = target_layer
        self.flips = flips
        self.scales = list(scales)
        self.use_image_labels = use_image_labels
        self.class_threshold = class_threshold
        self.num_review = num_review
        self.few_boxes = few_boxes
        self.chunk_size = chunk_size


@register_module
class Refinement:
    """Online refinement (:class:`ppdet_wsd.engine.training.refinement.OnlineRefinement`): an EMA
    teacher re-mines the training images' pseudo boxes after epoch ``start_epoch`` and every
    ``interval`` epochs after it.

    The mining rule is MIST's (Ren et al., CVPR 2020: top 15% of a class's candidates, NMS
    at 0.2), with the detector's own NMS score floor (0.05) as the only absolute threshold.
    A stricter floor (0.3) never fired on magnetic tile: the weak detector's scores stay
    below it (docs/benchmarks.md).

    Args:
        enable (bool): refine at all (``configs/_base_/refinement/ema_teacher.yml`` turns
            it on).
        start_epoch (int): the first refresh, after this epoch (let the student learn from
            the CAM boxes first).
        interval (int): epochs between refreshes.
        ema_decay (float): the teacher's decay per iteration (after a short warm-up).
        top_p (float): share of a class's detections kept before NMS (at least one).
        nms_iou (float): NMS IoU of the mined boxes (several instances per class survive).
        min_score (float): teacher score needed to replace the old boxes of a class.
        max_per_class (int): boxes per class and image.
    """

    def __init__(self, enable=False, start_epoch=4, interval=2, ema_decay=0.99, top_p=0.15,
                 nms_iou=0.2, min_score=0.05, max_per_class=10):
        self.enable = enable
        self.start_epoch = start_epoch
        self.interval = interval
        self.ema_decay = ema_decay
        self.top_p = top_p
        self.nms_iou = nms_iou
        self.min_score = min_score
        self.max_per_class = max_per_class
