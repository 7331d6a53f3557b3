"""Read a create request's body, JSON or multipart, into plain fields and uploaded images."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from starlette.datastructures import FormData, UploadFile
from starlette.formparsers import MultiPartParser

from veorelay.core.images import IMAGE_PARAM, MAX_IMAGE_BYTES, image_from_bytes
from veorelay.core.models import ImageInput
from veorelay.core.params import load_json
from veorelay.errors import (
    InvalidRequest,
    ParseRequestFailed,
    RequestTooLarge,
    UnsupportedMediaType,
    VeorelayError,
)

MAX_JSON_BYTES = 32 * 1024 * 1024  # room for a 20 MB image as base64


async def read_create_body(request: Request) -> tuple[dict[str, Any], list[ImageInput]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json" or content_type.endswith("+json"):
        return await read_json_body(request), []
    if content_type == "multipart/form-data" or content_type == "application/x-www-form-urlencoded":
        return await _read_form(request)
    raise UnsupportedMediaType(
        "Send the request as application/json or multipart/form-data.", param=None
    )


async def read_json_body(request: Request) -> dict[str, Any]:
    body = bytearray()  # appending to bytes would copy the whole body each time
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_JSON_BYTES:
            raise RequestTooLarge(f"The JSON body is larger than {MAX_JSON_BYTES} bytes.")
    fields = load_json(body, "The body")
    if not isinstance(fields, dict):
        raise ParseRequestFailed("The JSON body must be an object.")
    return fields


class _StrictMultiPartParser(MultiPartParser):
    """Starlette's parser, made strict where it is lenient: a text field that is not valid in
    its charset is refused (Starlette falls back to latin-1), and so is a body that ends
    before its closing boundary (the parts read so far would otherwise count as the request,
    e.g. a prompt without the image cut off after it)."""

    complete = False

    def on_part_end(self) -> None:
        part = self._current_part
        if part.file is None:
            try:
                bytes(part.data).decode(self._charset)
            except UnicodeDecodeError:
                raise ParseRequestFailed(
                    f"Field {part.field_name!r} is not valid {self._charset} text.",
                    param=part.field_name,
                ) from None
        super().on_part_end()

    def on_end(self) -> None:
        self.complete = True


async def _parse_form(request: Request) -> FormData:
    limits: dict[str, Any] = {"max_files": 4, "max_fields": 100, "max_part_size": MAX_JSON_BYTES}
    if not request.headers.get("content-type", "").lower().startswith("multipart/"):
        return await request.form(**limits)
    parser = _StrictMultiPartParser(request.headers, request.stream(), **limits)
    form = await parser.parse()
    if not parser.complete:
        await form.close()
        raise ParseRequestFailed("The multipart body ends without its closing boundary.")
    return form


async def _read_form(request: Request) -> tuple[dict[str, Any], list[ImageInput]]:
    try:
        form = await _parse_form(request)
    except VeorelayError:
        raise  # e.g. the body size limit
    except Exception as exc:  # multipart's own errors carry a readable message
        raise ParseRequestFailed(f"The multipart body could not be read: {exc}.") from None
    fields: dict[str, Any] = {}
    images: list[ImageInput] = []
    if not form.multi_items():
        await form.close()
        raise ParseRequestFailed("The form body has no fields (or could not be read).")
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if name != IMAGE_PARAM:
                    raise InvalidRequest(
                        f"Unexpected file field {name!r}; the image goes in input_reference.",
                        param=name,
                    )
                data = await value.read(MAX_IMAGE_BYTES + 1)
                images.append(image_from_bytes(data))
            elif name in fields:
                if name.startswith(IMAGE_PARAM):
                    raise InvalidRequest(
                        "Only one input_reference image is supported.", param=IMAGE_PARAM
                    )
                raise ParseRequestFailed(f"Field {name!r} is given more than once.", param=name)
            else:
                fields[name] = value
    finally:
        await form.close()
    return fields, images
