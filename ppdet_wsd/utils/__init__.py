"""Small helpers shared by the engine and the tools (the image, box and file helpers
the deploy runtime also needs live in :mod:`ppdet_wsd_runtime`)."""
