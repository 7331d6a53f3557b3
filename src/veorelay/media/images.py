"""Confirm a reference image really decodes (its magic bytes were checked in core/images.py).

Pillow is imported on first use: most requests carry no image.
"""

from __future__ import annotations

import io
import warnings

from veorelay.core.images import IMAGE_PARAM, MAX_PIXELS
from veorelay.core.models import ImageInput
from veorelay.errors import InvalidRequest

_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}


def check_image_decodes(image: ImageInput, param: str = IMAGE_PARAM) -> tuple[int, int]:
    """(width, height) of the image, or InvalidRequest if it is not a whole, sane image."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image.data)) as picture:
                if picture.format != _FORMATS[image.mime_type]:
                    raise InvalidRequest(
                        f"{param} claims {image.mime_type} but is {picture.format}.",
                        param=param,
                    )
                if picture.width * picture.height > MAX_PIXELS:
                    raise InvalidRequest(
                        f"{param} is {picture.width}x{picture.height}; too many pixels.",
                        param=param,
                    )
                picture.load()
                return picture.width, picture.height
    except InvalidRequest:
        raise
    except Image.DecompressionBombError:  # more pixels than any header we read declared
        raise InvalidRequest(
            f"{param} has too many pixels (the limit is {MAX_PIXELS} pixels).",
            param=param,
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Warning) as exc:
        raise InvalidRequest(
            f"{param} could not be decoded as an image ({type(exc).__name__}).",
            param=param,
        ) from None
