"""Small helpers the other packages share; a leaf: it imports no other ``ppdet_wsd``
package (the image, box and file helpers the deploy runtime also needs live in
:mod:`ppdet_wsd_runtime`)."""
