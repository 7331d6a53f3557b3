"""Raw request fields -> VideoSpec, with every precedence rule and limit of the spec documents.

Precedence (first one set wins):
    duration     = metadata.durationSeconds > duration > seconds > 8
    resolution   = metadata.resolution > resolution > size > 720p
    aspect ratio = metadata.aspectRatio > aspectRatio > size > 16:9

`fields` is a JSON object or the text fields of a multipart form; `files` are uploaded images.
Everything is checked here, before any money is held or any row is written (but for an
extension's source video, which the caller looks up: `extension_source`).

`referenceImages`, `lastFrame` and `video` are refused as the spec documents say, unless the
operator enabled them for the model (`extra_inputs`); then Veo 3.1's rules apply:
    referenceImages  1-3 asset images; 8 seconds, 16:9; not with input_reference, lastFrame, video
    lastFrame        needs input_reference (the first frame); 8 seconds
    video            the id of an earlier video to extend by 7 s; 8 seconds, 720p; no images
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import replace
from typing import Any, TypeVar

from veorelay.core.images import IMAGE_PARAM, image_from_string
from veorelay.core.models import (
    DURATIONS,
    EXTENSION_SECONDS,
    LONG_ONLY_RESOLUTIONS,
    MAX_EXTENSION_SOURCE_SECONDS,
    MAX_REFERENCE_IMAGES,
    SIZES,
    AspectRatio,
    ExtraInput,
    ImageInput,
    Resolution,
    SourceVideo,
    VideoSpec,
)
from veorelay.errors import Conflict, InvalidRequest, NotFound, ParseRequestFailed

MAX_PROMPT_CHARS = 4000
MAX_NEGATIVE_PROMPT_CHARS = 2000
DEFAULT_SECONDS = 8
MAX_SEED = 2**32 - 1
MAX_JSON_DEPTH = 32  # arrays and objects inside each other; a request needs 3

UNSUPPORTED_FIELDS: dict[str, str] = {
    "generateAudio": (
        "generateAudio is not supported: Veo 3.1 always renders native audio; "
        "describe the sound you want in the prompt instead."
    ),
    "referenceImages": "referenceImages is not supported; send one input_reference image.",
    "lastFrame": "lastFrame (first/last-frame generation) is not supported.",
    "video": "video (video extension) is not supported.",
    "image": "image is not a parameter of this API; send the reference image as input_reference.",
    "images": "Only one reference image is supported; send it as input_reference.",
}


# Every field this API reads, as written in docs/api.md, and the keys read inside metadata.
FIELDS = (
    "model",
    "prompt",
    "seconds",
    "duration",
    "size",
    "resolution",
    "aspectRatio",
    "metadata",
    "negativePrompt",
    "seed",
    IMAGE_PARAM,
    f"{IMAGE_PARAM}[image_url]",
    f"{IMAGE_PARAM}[file_id]",
)
METADATA_FIELDS = ("durationSeconds", "resolution", "aspectRatio")
# The field each extra input is read from, once the model has it enabled.
EXTRA_FIELDS: dict[ExtraInput, str] = {
    ExtraInput.REFERENCE_IMAGES: "referenceImages",
    ExtraInput.LAST_FRAME: "lastFrame",
    ExtraInput.EXTENSION: "video",
}


def _spelling(name: str) -> str:
    """A field name without case, underscores, hyphens or spaces: generate_audio, generateAudio
    and GENERATE-AUDIO are one field to a person, so they are one field here."""
    return "".join(ch for ch in name.casefold() if ch.isalnum())


_REFUSED = {_spelling(name): name for name in UNSUPPORTED_FIELDS}


def _check_field_names(
    fields: Mapping[str, Any], metadata: Mapping[str, Any], enabled: Collection[ExtraInput]
) -> None:
    """A refused field is refused under any spelling, whatever its value; a supported field
    spelled otherwise (aspect_ratio) would be ignored and the video made without it, so it is
    refused too, naming the spelling that works. Other unknown fields are ignored. The extra
    inputs the model has `enabled` are supported fields."""
    extra = tuple(EXTRA_FIELDS[kind] for kind in enabled)
    refusals = {key: name for key, name in _REFUSED.items() if name not in extra}
    for where, given, known in (
        ("", fields, FIELDS + extra),
        ("metadata.", metadata, METADATA_FIELDS),
    ):
        spellings = {_spelling(name): name for name in known}
        for name in given:
            if not isinstance(name, str):
                continue
            refused = refusals.get(_spelling(name))
            if refused is not None:
                message = UNSUPPORTED_FIELDS[refused]
                raise InvalidRequest(
                    message if name == refused else f"{name}: {message}", param=name
                )
            meant = spellings.get(_spelling(name))
            if meant is not None and meant != name and given[name] not in (None, ""):
                raise InvalidRequest(
                    f"{where}{name} is not a parameter of this API; did you mean {where}{meant}?",
                    param=f"{where}{name}",
                )


def parse_video_request(
    fields: Mapping[str, Any],
    files: Sequence[ImageInput],
    models: Collection[str],
    extra_inputs: Mapping[str, Collection[ExtraInput]] | None = None,
) -> VideoSpec:
    """`extra_inputs`: the extra inputs each model has enabled (none if not listed)."""
    metadata = _metadata(fields.get("metadata"))
    asked = fields.get("model")
    enabled = (extra_inputs or {}).get(asked, ()) if isinstance(asked, str) else ()
    _check_field_names(fields, metadata, enabled)

    model = _required_text(fields, "model")
    if model not in models:
        raise InvalidRequest(
            f"model {model!r} is not available; use one of: {', '.join(sorted(models))}.",
            param="model",
            code="model_not_found",
        )
    prompt = _required_text(fields, "prompt")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise InvalidRequest(
            f"prompt is {len(prompt)} characters; the limit is {MAX_PROMPT_CHARS}.",
            param="prompt",
        )

    seconds, seconds_param = _seconds(metadata, fields)
    size_resolution, size_aspect = _size(fields)
    resolution_given = _given(metadata, fields, "resolution", "resolution")
    resolution = _choice(Resolution, resolution_given, size_resolution or Resolution.P720)
    aspect_ratio = _choice(
        AspectRatio,
        _given(metadata, fields, "aspectRatio", "aspectRatio"),
        size_aspect or AspectRatio.LANDSCAPE,
    )
    if resolution in LONG_ONLY_RESOLUTIONS and seconds != 8:
        # Each field named as the client wrote it: duration, not seconds, if it sent duration.
        asked = (
            f"{resolution_given[0][0]} {resolution}"
            if resolution_given
            else f"size {fields['size']} ({resolution})"
        )
        raise InvalidRequest(
            f"{asked} requires {seconds_param}=8 (got {seconds}); "
            "4 and 6 seconds are available at 720p only.",
            param=seconds_param,
        )

    spec = VideoSpec(
        model=model,
        prompt=prompt,
        seconds=seconds,
        resolution=resolution,
        aspect_ratio=aspect_ratio,
        negative_prompt=_negative_prompt(fields),
        seed=_seed(fields.get("seed")),
        image=_image(fields, files),
        last_frame=_last_frame(fields) if ExtraInput.LAST_FRAME in enabled else None,
        reference_images=(
            _reference_images(fields) if ExtraInput.REFERENCE_IMAGES in enabled else ()
        ),
        video=_source_video(fields) if ExtraInput.EXTENSION in enabled else None,
    )
    _check_extra_inputs(spec, seconds_param)
    return spec


def _check_extra_inputs(spec: VideoSpec, seconds_param: str) -> None:
    """Veo 3.1's rules for the extra inputs, and which of them go together."""
    for used, field in [
        (spec.reference_images, "referenceImages"),
        (spec.last_frame, "lastFrame"),
        (spec.video, "video"),
    ]:
        if used and spec.seconds != 8:
            raise InvalidRequest(
                f"{field} requires {seconds_param}=8 (got {spec.seconds}).", param=seconds_param
            )
    if spec.reference_images:
        if spec.aspect_ratio is not AspectRatio.LANDSCAPE:
            raise InvalidRequest(
                "referenceImages work at 16:9 only (Veo 3.1); use a 16:9 size.",
                param="referenceImages",
            )
        if spec.image is not None or spec.last_frame is not None or spec.video is not None:
            raise InvalidRequest(
                "referenceImages cannot be combined with input_reference, lastFrame or video.",
                param="referenceImages",
            )
    if spec.last_frame is not None and spec.image is None:
        raise InvalidRequest(
            "lastFrame needs the first frame too: send it as input_reference.", param="lastFrame"
        )
    if spec.video is not None:
        if spec.image is not None or spec.last_frame is not None:
            raise InvalidRequest(
                "An extension (video) takes no input_reference or lastFrame.", param="video"
            )
        if spec.resolution is not Resolution.P720:
            raise InvalidRequest(
                f"Video extension works at 720p only (got {spec.resolution}).", param="video"
            )


def _last_frame(fields: Mapping[str, Any]) -> ImageInput | None:
    value = fields.get("lastFrame")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ParseRequestFailed(
            "lastFrame must be a base64 string or a data: URL.", param="lastFrame"
        )
    return image_from_string(value, "lastFrame")


def _reference_images(fields: Mapping[str, Any]) -> tuple[ImageInput, ...]:
    """A JSON array (a multipart field may hold it as text) of base64 strings / data: URLs,
    or of objects {"image": ..., "referenceType": "asset"}."""
    value = fields.get("referenceImages")
    if value in (None, "", []):
        return ()
    if isinstance(value, str) and value.lstrip().startswith("["):
        value = load_json(value, "referenceImages", param="referenceImages")
    items = value if isinstance(value, list) else [value]
    if len(items) > MAX_REFERENCE_IMAGES:
        raise InvalidRequest(
            f"At most {MAX_REFERENCE_IMAGES} referenceImages are supported (got {len(items)}).",
            param="referenceImages",
        )
    return tuple(_reference_image(item, f"referenceImages[{i}]") for i, item in enumerate(items))


def _reference_image(item: Any, param: str) -> ImageInput:
    if isinstance(item, dict):
        kind = item.get("referenceType", "asset")
        if not isinstance(kind, str) or kind.strip().lower() != "asset":
            raise InvalidRequest(
                f"{param}.referenceType must be asset (Veo 3.1 takes asset images only).",
                param=param,
            )
        item = item.get("image")
        param = f"{param}.image"
    if not isinstance(item, str) or not item:
        raise ParseRequestFailed(f"{param} must be a base64 string or a data: URL.", param=param)
    return image_from_string(item, param)


def _source_video(fields: Mapping[str, Any]) -> SourceVideo | None:
    value = fields.get("video")
    if value in (None, ""):
        return None
    if isinstance(value, dict):
        value = value.get("id")
    if not isinstance(value, str) or not value.strip():
        raise ParseRequestFailed(
            'video must be the id of one of your videos, or {"id": ...}.', param="video"
        )
    return SourceVideo(id=_plain_text("video", value.strip()))


def extension_source(spec: VideoSpec, source: VideoSpec | None, completed: bool) -> VideoSpec:
    """The request with its source video checked and its length known. `source` is the
    account's own video named by `spec.video` (None if it has none by that id)."""
    assert spec.video is not None
    video_id = spec.video.id
    if source is None:
        raise NotFound(f"No video found with id {video_id!r}.", param="video")
    if not completed:
        raise Conflict(
            f"Video {video_id} is not completed; only a completed video can be extended.",
            param="video",
            code="video_not_completed",
        )
    if source.resolution is not Resolution.P720:
        raise InvalidRequest(
            f"Video {video_id} is {source.resolution}; only 720p videos can be extended.",
            param="video",
        )
    if source.aspect_ratio is not spec.aspect_ratio:
        raise InvalidRequest(
            f"Video {video_id} is {source.aspect_ratio}; ask for the same aspect ratio "
            f"(size {source.size}).",
            param="video",
        )
    length = source.output_seconds
    if length > MAX_EXTENSION_SOURCE_SECONDS:
        raise InvalidRequest(
            f"Video {video_id} lasts {length} s; Veo extends videos of up to "
            f"{MAX_EXTENSION_SOURCE_SECONDS} s (by {EXTENSION_SECONDS} s each time).",
            param="video",
        )
    return replace(spec, video=SourceVideo(id=video_id, seconds=length))


def _metadata(raw: Any) -> Mapping[str, Any]:
    if raw is None or raw == "":
        return {}
    if isinstance(raw, str):
        raw = load_json(raw, "metadata", param="metadata")
    if not isinstance(raw, dict):
        raise ParseRequestFailed("metadata must be a JSON object.", param="metadata")
    return raw


def load_json(text: str | bytes | bytearray, what: str, param: str | None = None) -> Any:
    """json.loads for a request, with nesting capped at MAX_JSON_DEPTH: a parse error or a
    document nested deeper (which would exhaust Python's recursion) is a ParseRequestFailed."""
    too_deep = ParseRequestFailed(
        f"{what} is nested more than {MAX_JSON_DEPTH} levels deep.", param=param
    )
    try:
        value = json.loads(text)
    except RecursionError:
        raise too_deep from None
    except json.JSONDecodeError as exc:
        raise ParseRequestFailed(f"{what} is not valid JSON: {exc.msg}.", param=param) from None
    except UnicodeDecodeError:
        raise ParseRequestFailed(f"{what} is not valid UTF-8 JSON.", param=param) from None
    pending = [(value, 1)]
    while pending:  # a loop, not recursion: the depth is what is being checked
        node, depth = pending.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            if depth > MAX_JSON_DEPTH:
                raise too_deep
            pending.extend((child, depth + 1) for child in node)
    return value


def _required_text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if value is None:
        raise InvalidRequest(f"{name} is required.", param=name, code="missing_required_parameter")
    if not isinstance(value, str):
        raise ParseRequestFailed(f"{name} must be a string.", param=name)
    value = _plain_text(name, value).strip()
    if not value:
        raise InvalidRequest(f"{name} must not be empty.", param=name)
    return value


def _plain_text(param: str, value: str) -> str:
    """Refuse what no database or upstream can store: NUL characters and lone surrogates
    (JSON's "\\ud800"), which are not valid UTF-8."""
    if "\x00" in value:
        raise InvalidRequest(f"{param} must not contain NUL characters.", param=param)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidRequest(f"{param} is not valid Unicode text.", param=param) from None
    return value


def _given(
    metadata: Mapping[str, Any], fields: Mapping[str, Any], meta_key: str, *keys: str
) -> list[tuple[str, Any]]:
    """(param, value) pairs given for one setting, highest precedence first. Empty = not given.
    Every one is validated, not just the winner: a bad value is a bug worth reporting."""
    given = []
    if metadata.get(meta_key) not in (None, ""):
        given.append((f"metadata.{meta_key}", metadata[meta_key]))
    given += [(key, fields[key]) for key in keys if fields.get(key) not in (None, "")]
    return given


def _seconds(metadata: Mapping[str, Any], fields: Mapping[str, Any]) -> tuple[int, str]:
    """The duration and the parameter it came from."""
    given = _given(metadata, fields, "durationSeconds", "duration", "seconds")
    values = [(_duration(param, value), param) for param, value in given]
    return values[0] if values else (DEFAULT_SECONDS, "seconds")


def _duration(param: str, value: Any) -> int:
    # Strings per the documents; JSON integers too, deliberately (a documented leniency).
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParseRequestFailed(
            f'{param} must be a string such as "8" (got {type(value).__name__}).', param=param
        )
    text = str(value).strip()
    if not _is_decimal(text) or int(text) not in DURATIONS:
        raise InvalidRequest(
            f'{param} must be one of "4", "6" or "8" (got {value!r}).', param=param
        )
    return int(text)


def _is_decimal(text: str) -> bool:
    # str.isdigit() also accepts "²" and Arabic-Indic digits, which int() then refuses or reads.
    return text.isascii() and text.isdigit()


def _size(fields: Mapping[str, Any]) -> tuple[Resolution | None, AspectRatio | None]:
    value = fields.get("size")
    if value in (None, ""):
        return None, None
    if not isinstance(value, str):
        raise ParseRequestFailed('size must be a string such as "1280x720".', param="size")
    normalized = value.strip().lower()  # "1280*720" is refused, not guessed at: one spelling
    if normalized not in SIZES:
        raise InvalidRequest(
            f"size {value!r} is not supported; write WIDTHxHEIGHT with the letter x, "
            f"one of: {', '.join(SIZES)}.",
            param="size",
        )
    return SIZES[normalized]


_Choice = TypeVar("_Choice", Resolution, AspectRatio)


def _choice(enum: type[_Choice], given: list[tuple[str, Any]], default: _Choice) -> _Choice:
    values = [_member(enum, param, value) for param, value in given]
    return values[0] if values else default


def _member(enum: type[_Choice], param: str, value: Any) -> _Choice:
    if not isinstance(value, str):
        raise ParseRequestFailed(f"{param} must be a string.", param=param)
    try:
        return enum(value.strip().lower())
    except ValueError:
        allowed = ", ".join(member.value for member in enum)
        raise InvalidRequest(
            f"{param} {value!r} is not supported; use one of: {allowed}.", param=param
        ) from None


def _negative_prompt(fields: Mapping[str, Any]) -> str | None:
    value = fields.get("negativePrompt")
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ParseRequestFailed("negativePrompt must be a string.", param="negativePrompt")
    value = _plain_text("negativePrompt", value)
    if len(value) > MAX_NEGATIVE_PROMPT_CHARS:
        raise InvalidRequest(
            f"negativePrompt is longer than {MAX_NEGATIVE_PROMPT_CHARS} characters.",
            param="negativePrompt",
        )
    return value.strip() or None


def _seed(value: Any) -> int | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ParseRequestFailed('seed must be a string of digits such as "42".', param="seed")
    text = str(value).strip()
    if not _is_decimal(text) or int(text) > MAX_SEED:
        raise InvalidRequest(f"seed must be an integer from 0 to {MAX_SEED}.", param="seed")
    return int(text)


def _image(fields: Mapping[str, Any], files: Sequence[ImageInput]) -> ImageInput | None:
    images = list(files)
    for key in (IMAGE_PARAM, f"{IMAGE_PARAM}[image_url]", f"{IMAGE_PARAM}[file_id]"):
        value = fields.get(key)
        if value in (None, ""):
            continue
        if isinstance(value, dict):
            if value.get("file_id") or key.endswith("[file_id]"):
                raise InvalidRequest(_FILE_ID_MESSAGE, param=IMAGE_PARAM)
            value = value.get("image_url")
        if key.endswith("[file_id]"):
            raise InvalidRequest(_FILE_ID_MESSAGE, param=IMAGE_PARAM)
        if isinstance(value, list):
            raise InvalidRequest("Only one input_reference image is supported.", param=IMAGE_PARAM)
        if not isinstance(value, str):
            raise ParseRequestFailed(
                "input_reference must be a file, a base64 string or a data: URL.",
                param=IMAGE_PARAM,
            )
        images.append(image_from_string(value))
    if len(images) > 1:
        raise InvalidRequest("Only one input_reference image is supported.", param=IMAGE_PARAM)
    return images[0] if images else None


_FILE_ID_MESSAGE = (
    "input_reference file_id is not supported; upload the image as a file, base64 or data: URL."
)
