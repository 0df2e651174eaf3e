"""The models a caller may use, as ModelService lists them: the registry (with configuration
overrides), configured aliases and allow-list entries the registry does not know, without
duplicates, in a stable order, filtered by capability and paged with opaque tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence

import grpc
from vertex_gateway.v1 import common_pb2, model_pb2

from server.errors import GatewayError, invalid_argument
from server.translate import model_listing

from .registry import Capability, Family, ModelSpec
from .router import Router, vertex_resource

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000

_FAMILY = {
    Family.GEMINI: model_pb2.MODEL_FAMILY_GEMINI,
    Family.CLAUDE: model_pb2.MODEL_FAMILY_CLAUDE,
    Family.OPENAI_COMPATIBLE: model_pb2.MODEL_FAMILY_MODEL_GARDEN_OPENAI,
    Family.IMAGEN: model_pb2.MODEL_FAMILY_IMAGEN,
    Family.TEXT_EMBEDDING: model_pb2.MODEL_FAMILY_EMBEDDING,
    Family.GEMINI_EMBEDDING: model_pb2.MODEL_FAMILY_EMBEDDING,
    Family.MULTIMODAL_EMBEDDING: model_pb2.MODEL_FAMILY_MULTIMODAL_EMBEDDING,
    Family.GEMINI_TTS: model_pb2.MODEL_FAMILY_GEMINI_TTS,
    Family.VEO: model_pb2.MODEL_FAMILY_VEO,
}
_CAPABILITY = {
    Capability.CHAT: model_pb2.CAPABILITY_CHAT,
    Capability.STREAMING: model_pb2.CAPABILITY_STREAMING,
    Capability.TOOLS: model_pb2.CAPABILITY_TOOLS,
    Capability.JSON_OUTPUT: model_pb2.CAPABILITY_STRUCTURED_OUTPUT,
    Capability.REASONING: model_pb2.CAPABILITY_REASONING,
    Capability.EMBEDDINGS: model_pb2.CAPABILITY_EMBEDDINGS,
    Capability.IMAGES: model_pb2.CAPABILITY_IMAGES,
    Capability.IMAGE_EDIT: model_pb2.CAPABILITY_IMAGE_EDIT,
    Capability.SPEECH: model_pb2.CAPABILITY_SPEECH,
    Capability.TRANSCRIPTION: model_pb2.CAPABILITY_TRANSCRIPTION,
    Capability.BATCH: model_pb2.CAPABILITY_BATCH,
    Capability.VIDEO: model_pb2.CAPABILITY_VIDEO,
}
_INPUTS = (
    (Capability.IMAGE_INPUT, common_pb2.MODALITY_IMAGE),
    (Capability.DOCUMENT_INPUT, common_pb2.MODALITY_DOCUMENT),
    (Capability.AUDIO_INPUT, common_pb2.MODALITY_AUDIO),
    (Capability.VIDEO_INPUT, common_pb2.MODALITY_VIDEO),
)
_OUTPUTS = (
    (Capability.CHAT, common_pb2.MODALITY_TEXT),
    (Capability.IMAGES, common_pb2.MODALITY_IMAGE),
    (Capability.SPEECH, common_pb2.MODALITY_AUDIO),
    (Capability.VIDEO, common_pb2.MODALITY_VIDEO),
)


def _route(spec: ModelSpec, location: str) -> common_pb2.ServedBy:
    return common_pb2.ServedBy(
        location=spec.location or location, vertex_model=vertex_resource(spec)
    )


def model_entry(spec: ModelSpec, default_location: str) -> model_pb2.Model:
    """The listing of one registry model."""
    inputs = [common_pb2.MODALITY_TEXT] if spec.family is not Family.MULTIMODAL_EMBEDDING else []
    if spec.family is Family.MULTIMODAL_EMBEDDING:
        inputs = [common_pb2.MODALITY_TEXT, common_pb2.MODALITY_IMAGE, common_pb2.MODALITY_VIDEO]
    inputs += [m for cap, m in _INPUTS if cap in spec.capabilities]
    model = model_pb2.Model(
        name=f"models/{spec.key}",
        id=spec.key,
        display_name=spec.display_name or spec.id,
        family=_FAMILY.get(spec.family, model_pb2.MODEL_FAMILY_OTHER),
        publisher=spec.publisher,
        capabilities=sorted(_CAPABILITY[c] for c in spec.capabilities if c in _CAPABILITY),
        input_modalities=inputs,
        output_modalities=[m for cap, m in _OUTPUTS if cap in spec.capabilities],
        routes=[_route(spec, default_location)],
        source=model_pb2.MODEL_SOURCE_REGISTRY,
    )
    if spec.input_token_limit is not None:
        model.input_token_limit = spec.input_token_limit
    if spec.output_token_limit is not None:
        model.output_token_limit = spec.output_token_limit
    return model


def all_models(
    router: Router, discovered: model_listing.DiscoveredModels | None = None
) -> list[model_pb2.Model]:
    """Every model a caller may use, without duplicates, in a stable order: the registry,
    aliases and allow-list, then what Vertex lists (endpoints, custom models, then catalog
    models the registry does not know), publisher metadata filling in version and stage."""
    out = _configured(router)
    if discovered is not None:
        _add_discovered(router, out, discovered)
    return out


def _configured(router: Router) -> list[model_pb2.Model]:
    out: list[model_pb2.Model] = []
    by_key: dict[str, model_pb2.Model] = {}
    for spec in router.registry.all():
        if router.allows(spec):
            entry = model_entry(spec, router.default_location)
            out.append(entry)
            by_key[spec.key] = entry
    for alias, target in sorted(router.aliases.items()):
        aliased = router.lookup(target)
        if aliased is None or not router.allows(aliased) or alias in by_key:
            continue
        entry = model_pb2.Model()
        entry.CopyFrom(by_key.get(aliased.key) or model_entry(aliased, router.default_location))
        entry.name, entry.id, entry.source = f"models/{alias}", alias, model_pb2.MODEL_SOURCE_ALIAS
        entry.alias_target = aliased.key
        out.append(entry)
    for name in router.allow_list:
        if router.lookup(name) is None and name not in router.aliases:
            out.append(
                model_pb2.Model(
                    name=f"models/{name}",
                    id=name,
                    display_name=name,
                    family=model_pb2.MODEL_FAMILY_OTHER,
                    source=model_pb2.MODEL_SOURCE_ALLOW_LIST,
                )
            )
    return out


def _add_discovered(
    router: Router, out: list[model_pb2.Model], found: model_listing.DiscoveredModels
) -> None:
    catalog: dict[str, dict[str, object]] = {}
    for item in found.catalog:
        key = model_listing.catalog_key(item)
        if key is not None and key not in catalog:
            catalog[key] = item
    for entry in out:
        metadata = catalog.get(entry.alias_target or entry.id)
        if metadata is not None:
            model_listing.enrich(entry, metadata)
    custom = [
        c for m in found.custom_models if (c := model_listing.custom_model_entry(m, found.location))
    ]
    by_id = {e.id: e for e in custom}
    endpoints = [
        _callable(router, e)
        for item in found.endpoints
        if (e := model_listing.endpoint_entry(item, by_id, found.location))
    ]
    position = {e.id: i for i, e in enumerate(out)}
    for entry in (*endpoints, *custom):
        if not router.allows_name(entry.id):
            continue
        at = position.get(entry.id)
        if at is None:
            position[entry.id] = len(out)
            out.append(entry)
        elif out[at].source == model_pb2.MODEL_SOURCE_ALLOW_LIST:
            out[at] = entry  # what Vertex says about an allowed endpoint beats a bare name
    for key, item in catalog.items():
        if key in position or not router.allows_name(key):
            continue
        listed = model_listing.publisher_entry(item)
        if listed is not None:
            position[key] = len(out)
            out.append(listed)


def _callable(router: Router, entry: model_pb2.Model) -> model_pb2.Model:
    """An endpoint serving a tuned Gemini model, with what Chat can do with it by name
    (`endpoints/{id}`, routed as `Router.endpoint_spec` says); other endpoints stay listed
    without capabilities."""
    if entry.family != model_pb2.MODEL_FAMILY_TUNED:
        return entry
    endpoint_id = entry.id.removeprefix("endpoints/")
    if router.lookup(entry.id) is None:
        return entry
    served = model_entry(router.endpoint_spec(endpoint_id), router.default_location)
    entry.capabilities.extend(served.capabilities)
    entry.input_modalities.extend(served.input_modalities)
    entry.output_modalities.extend(served.output_modalities)
    return entry


def _filter_key(capabilities: Sequence[int]) -> str:
    return hashlib.sha256(",".join(str(c) for c in sorted(set(capabilities))).encode()).hexdigest()[
        :16
    ]


def _token(offset: int, last_id: str, capabilities: Sequence[int]) -> str:
    raw = json.dumps({"o": offset, "l": last_id, "f": _filter_key(capabilities)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _cursor(token: str, capabilities: Sequence[int]) -> tuple[int, str]:
    if not token:
        return 0, ""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        offset, last_id = int(data["o"]), str(data["l"])
        same = data["f"] == _filter_key(capabilities)
    except (ValueError, KeyError, TypeError):
        raise invalid_argument("page_token", "is not a token this service issued") from None
    if not same or offset < 0:
        raise invalid_argument(
            "page_token", "belongs to a listing with other capabilities; start again without it"
        )
    return offset, last_id


def check_list_request(request: model_pb2.ListModelsRequest) -> tuple[list[int], int, str]:
    """The capability filter and the cursor of a valid request; INVALID_ARGUMENT otherwise."""
    if request.page_size < 0 or request.page_size > MAX_PAGE_SIZE:
        raise invalid_argument(
            "page_size", f"must be 1 to {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"
        )
    wanted = [int(c) for c in request.capabilities]
    for k, cap in enumerate(wanted):
        if cap == model_pb2.CAPABILITY_UNSPECIFIED or cap not in model_pb2.Capability.values():
            raise invalid_argument(f"capabilities[{k}]", f"unknown capability {cap}")
    offset, last_id = _cursor(request.page_token, wanted)
    return wanted, offset, last_id


def _start(models: Sequence[model_pb2.Model], offset: int, last_id: str) -> int:
    """Where the next page starts: after the last model sent, even if the listing changed
    between pages (Vertex's lists are re-read every few minutes)."""
    if not last_id or (0 < offset <= len(models) and models[offset - 1].id == last_id):
        return offset
    for i, model in enumerate(models):
        if model.id == last_id:
            return i + 1
    return offset


def list_page(
    listing: Sequence[model_pb2.Model], request: model_pb2.ListModelsRequest
) -> model_pb2.ListModelsResponse:
    """One page of the listing."""
    wanted, offset, last_id = check_list_request(request)
    models = [m for m in listing if set(wanted) <= set(m.capabilities)]
    start = _start(models, offset, last_id)
    size = request.page_size or DEFAULT_PAGE_SIZE
    page = models[start : start + size]
    reply = model_pb2.ListModelsResponse(models=page)
    if start + size < len(models):
        reply.next_page_token = _token(start + size, page[-1].id, wanted)
    return reply


def check_model_name(name: str) -> str:
    """The id a GetModel name stands for; INVALID_ARGUMENT when there is none."""
    ident = name.removeprefix("models/").strip()
    if not ident:
        raise invalid_argument("name", 'is required: "models/{id}", an id or an alias')
    return ident


def get_model(router: Router, listing: Sequence[model_pb2.Model], name: str) -> model_pb2.Model:
    """One model by "models/{id}", id, publisher/id or alias."""
    ident = check_model_name(name)
    for model in listing:
        if model.id == ident:
            return model
    spec = router.lookup(ident)
    if spec is not None and router.registry.get(spec.publisher, spec.id) is None:
        spec = None  # an endpoint only Vertex knows about: listed above once discovered
    if spec is not None and not router.allows(spec):
        raise GatewayError(
            grpc.StatusCode.PERMISSION_DENIED,
            f"model {ident!r} is not on this gateway's allow-list",
            "MODEL_NOT_ALLOWED",
            metadata={"model": ident},
        )
    if spec is not None:
        return model_entry(spec, router.default_location)
    raise GatewayError(
        grpc.StatusCode.NOT_FOUND,
        f"model {ident!r} is not known to this gateway (ListModels shows the models you can use)",
        "MODEL_NOT_FOUND",
        metadata={"model": ident},
    )
