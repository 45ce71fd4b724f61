"""Pictures from node outputs (uint8 numpy arrays) as Qt images, for the viewer and
the step previews drawn on nodes."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def to_qimage(array: np.ndarray) -> QImage:
    """A QImage that owns a copy of a uint8 picture (H×W×3, H×W×4 or an H×W mask)."""
    if array.dtype != np.uint8:
        scaled = array.astype(np.float32)
        if scaled.size and float(np.nanmax(scaled)) <= 1.0:
            scaled = scaled * 255.0
        array = np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)
    if array.ndim == 3 and array.shape[2] not in (3, 4):
        array = array[:, :, 0]
    array = np.ascontiguousarray(array)
    height, width = array.shape[:2]
    if array.ndim == 2:
        image_format = QImage.Format.Format_Grayscale8
    elif array.shape[2] == 4:
        image_format = QImage.Format.Format_RGBA8888
    else:
        image_format = QImage.Format.Format_RGB888
    return QImage(array.data, width, height, array.strides[0], image_format).copy()
