"""Pictures of the deploy runner's results (``--draw``): boxes, or a heat map, over the
original image with the verdict as a caption. uint8 RGB ``[H, W, 3]`` in, out."""
import numpy as np

from .boxes import class_colour, draw_boxes
from .heatmap import caption, normalise_map, overlay_heatmap, resize_map


def draw_detection(image, result, classes):
    """``image`` with the boxes of a :func:`~ppdet_wsd_runtime.results.detection_result`
    (class and score above each) and its verdict."""
    boxes = result['boxes']
    picture = draw_boxes(image, [b['box'] for b in boxes],
                         [class_colour(classes.index(b['class'])) for b in boxes],
                         [f'{b["class"]} {b["score"]:.2f}' for b in boxes],
                         thickness=max(1, round(max(image.shape[:2]) / 300)))
    return caption(picture, f'{result["verdict"]} | defect score {result["defect_score"]:.2f}')


def content_map(cam, im_shape, input_shape):
    """The part of a class map ``cam`` ``[h, w]`` (covering the whole model input of
    ``input_shape`` ``(H, W)``) that shows the image, whose size in the input is
    ``im_shape`` ``(height, width)`` (the rest is letterbox padding)."""
    rows = max(1, int(np.ceil(cam.shape[0] * im_shape[0] / input_shape[0])))
    cols = max(1, int(np.ceil(cam.shape[1] * im_shape[1] / input_shape[1])))
    return cam[:rows, :cols]


def draw_heatmap(image, result, cams, sample, classes):
    """``image`` under the map of its highest-scoring class, scaled by that class's
    probability (a confident defect glows, a good image stays nearly clear), with the
    verdict. ``cams`` float32 ``[C, h, w]``; ``sample`` the preprocessed sample."""
    scores = np.array([result['scores'][c] for c in classes])
    best = int(np.argmax(scores))
    cam = content_map(cams[best], sample['im_shape'], sample['image'].shape[1:])
    heat = resize_map(normalise_map(cam) * float(scores[best]), *image.shape[:2])
    return caption(overlay_heatmap(image, heat),
                   f'{result["verdict"]} | map: {classes[best]} {scores[best]:.2f}')
