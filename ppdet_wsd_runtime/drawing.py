"""Pictures of the deploy runner's results (``--draw``): boxes (over the stage-1 heat map
when the export has one), or a classifier's heat map, over the original image with the
verdict as a caption. uint8 RGB ``[H, W, 3]`` in, out."""
import numpy as np

from .boxes import class_colour, draw_boxes
from .heatmap import caption, normalise_map, overlay_heatmap, resize_map


def draw_detection(image, result, classes, heat=None, heat_class=None):
    """``image`` with the boxes of a :func:`~ppdet_wsd_runtime.results.detection_result`
    (class and score above each) and its verdict; with ``heat`` (float ``[H, W]`` in
    [0, 1], the stage-1 map of class ``heat_class``, as the pipeline's report colours it)
    the boxes lie over that heat map."""
    boxes = result['boxes']
    if heat is not None:
        image = overlay_heatmap(image, heat)
    picture = draw_boxes(image, [b['box'] for b in boxes],
                         [class_colour(classes.index(b['class'])) for b in boxes],
                         [f'{b["class"]} {b["score"]:.2f}' for b in boxes],
                         thickness=max(1, round(max(image.shape[:2]) / 300)))
    text = f'{result["verdict"]} | defect score {result["defect_score"]:.2f}'
    if heat is not None:
        text += f' | map: {heat_class}'
    return caption(picture, text)


def content_map(cam, im_shape, input_shape):
    """The part of a class map ``cam`` ``[h, w]`` (covering the whole model input of
    ``input_shape`` ``(H, W)``) that shows the image, whose size in the input is
    ``im_shape`` ``(height, width)`` (the rest is letterbox padding)."""
    rows = max(1, int(np.ceil(cam.shape[0] * im_shape[0] / input_shape[0])))
    cols = max(1, int(np.ceil(cam.shape[1] * im_shape[1] / input_shape[1])))
    return cam[:rows, :cols]


def classifier_heat(result, cams, sample, classes, image_hw):
    """The heat map a classifier's picture shows: the map of the highest-scoring class,
    min-max scaled and multiplied by that class's probability (a confident defect glows, a
    good image stays nearly clear), at image size.

    Args:
        result (dict): the image's :func:`~ppdet_wsd_runtime.results.classification_result`.
        cams (np.ndarray): float32 ``[C, h, w]`` over the whole model input.
        sample (dict): the preprocessed sample.
        classes (list[str]): class names.
        image_hw (tuple[int, int]): the original image's ``(height, width)``.
    Returns:
        tuple: float32 ``[height, width]`` in [0, 1] and the class index.
    """
    scores = np.array([result['scores'][c] for c in classes])
    best = int(np.argmax(scores))
    cam = content_map(cams[best], sample['im_shape'], sample['image'].shape[1:])
    return resize_map(normalise_map(cam) * float(scores[best]), *image_hw), best


def draw_heatmap(image, result, cams, sample, classes, heat=None):
    """``image`` under the map of its highest-scoring class (:func:`classifier_heat`, or
    ``heat`` = its result when already computed), with the verdict. ``cams`` float32
    ``[C, h, w]``; ``sample`` the preprocessed sample."""
    if heat is None:
        heat = classifier_heat(result, cams, sample, classes, image.shape[:2])
    heat, best = heat
    score = result['scores'][classes[best]]
    return caption(overlay_heatmap(image, heat),
                   f'{result["verdict"]} | map: {classes[best]} {score:.2f}')
