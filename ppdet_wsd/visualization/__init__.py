"""Pages and pictures a person judges: galleries, the review pictures, the report page
(the drawing primitives, boxes and heat maps, live in :mod:`ppdet_wsd_runtime`)."""
