"""The models a token may use, OpenAI-style (`GET /v1/models`), with that token's prices."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from veorelay.api.deps import IdentityDep, ServicesDep
from veorelay.api.schemas import error_responses
from veorelay.core import pricing
from veorelay.core.models import (
    DURATIONS,
    LONG_ONLY_RESOLUTIONS,
    AspectRatio,
    Resolution,
    VideoSpec,
)
from veorelay.core.pricing import PPM, BillingMode, ModelPrice
from veorelay.db import catalog
from veorelay.db.accounts import TokenIdentity
from veorelay.errors import NotFound, PermissionDenied
from veorelay.services import Services

router = APIRouter(tags=["models"])


class ModelPricing(BaseModel):
    billing_mode: BillingMode
    multiplier: str = Field(description="The token's group multiplier, already applied below.")
    per_call_usd: str | None = Field(
        description="Per video, where the billing mode charges per call; null where it never does."
    )
    per_second_usd: dict[Resolution, str] = Field(
        description="Per second of video, by resolution, where the billing mode charges so."
    )
    per_video_usd: dict[Resolution, dict[str, str]] = Field(
        description="What one video costs this token, by resolution and seconds: the amount "
        "held at create. A combination missing here cannot be made with this token."
    )


class UnavailableReason(BaseModel):
    code: str
    message: str


class PublicModel(BaseModel):
    """OpenAI's Model object, plus this token's prices and whether it can be served now."""

    id: str
    object: Literal["model"] = "model"
    created: int = Field(description="When the model was added to this gateway or last repriced.")
    owned_by: Literal["veorelay"] = "veorelay"
    pricing: ModelPricing
    available: bool = Field(description="Some upstream channel can serve it now for this token.")
    unavailable_reason: UnavailableReason | None


class PublicModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PublicModel]


@router.get(
    "/v1/models",
    operation_id="listModels",
    response_model=PublicModelList,
    responses=error_responses(401, 403),
)
async def list_models(identity: IdentityDep, services: ServicesDep) -> PublicModelList:
    """The models this token may create videos with, each with its price for this token."""
    return PublicModelList(data=await _models(identity, services))


@router.get(
    "/v1/models/{model_id}",
    operation_id="retrieveModel",
    response_model=PublicModel,
    responses=error_responses(401, 403, 404),
)
async def retrieve_model(
    model_id: str, identity: IdentityDep, services: ServicesDep
) -> PublicModel:
    """One model this token may use; 404 for any other name (unknown, disabled or forbidden)."""
    for model in await _models(identity, services, only=model_id):
        return model
    raise NotFound(f"The model {model_id!r} does not exist.", param="model", code="model_not_found")


async def _models(
    identity: TokenIdentity, services: Services, only: str | None = None
) -> list[PublicModel]:
    token = identity.settings
    multiplier = await services.prices.multiplier(token.group_name)
    if multiplier is None:
        raise PermissionDenied(
            f"The token's group {token.group_name!r} does not exist.", code="group_not_found"
        )
    allowed = identity.policy.allowed_models
    names = sorted(
        name
        for name in await services.prices.models()
        if (allowed is None or name in allowed) and (only is None or name == only)
    )
    if not names:
        return []
    async with services.db.read() as conn:
        update_times = await catalog.model_update_times(conn)
    found = []
    for name in names:
        try:
            price = await services.prices.price(name)
        except KeyError:  # deleted since the price book listed it (a reload in between)
            continue
        quotes = _quotes(price, token.billing_mode, multiplier)
        if not quotes:  # e.g. a per_request token and a model without a per-call price
            continue
        failure = await services.prices.unservable(name, token.group_name)
        found.append(
            PublicModel(
                id=name,
                created=int(update_times.get(name, 0)),
                pricing=_pricing(price, token.billing_mode, multiplier, quotes),
                available=failure is None,
                unavailable_reason=None
                if failure is None
                else UnavailableReason(code=failure.code, message=failure.message),
            )
        )
    return found


def _quotes(
    price: ModelPrice, mode: BillingMode, multiplier: int
) -> dict[Resolution, dict[str, str]]:
    """The quote of every resolution and duration, as a create would be quoted."""
    quotes: dict[Resolution, dict[str, str]] = {}
    for resolution in Resolution:
        durations = (max(DURATIONS),) if resolution in LONG_ONLY_RESOLUTIONS else DURATIONS
        for seconds in durations:
            spec = VideoSpec(price.model, "", seconds, resolution, AspectRatio.LANDSCAPE)
            try:
                micros = pricing.quote(spec, price, mode, multiplier)
            except pricing.BillingModeNotSupported:
                continue
            quotes.setdefault(resolution, {})[str(seconds)] = _usd(Decimal(micros))
    return quotes


def _pricing(
    price: ModelPrice,
    mode: BillingMode,
    multiplier: int,
    quotes: dict[Resolution, dict[str, str]],
) -> ModelPricing:
    per_call = price.per_call_micros if mode is not BillingMode.PAY_AS_YOU_GO else None
    per_second = price.per_second_micros if mode is not BillingMode.PER_REQUEST else {}
    return ModelPricing(
        billing_mode=mode,
        multiplier=_plain(Decimal(multiplier) / PPM),
        per_call_usd=None if per_call is None else _usd(Decimal(per_call * multiplier) / PPM),
        per_second_usd={res: _usd(Decimal(m * multiplier) / PPM) for res, m in per_second.items()},
        per_video_usd=quotes,
    )


def _usd(micros: Decimal) -> str:
    """USD with at least two decimals and no trailing zeros beyond them: 0.30, 0.0425."""
    amount = (micros / pricing.MICROS_PER_USD).normalize()
    exponent = amount.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        amount = amount.quantize(Decimal("0.01"))
    return f"{amount:f}"


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"
