"""The personalize-runtime API: GetRecommendations, GetPersonalizedRanking, GetActionRecommendations (spec §2.14).

Handlers check the request against the campaign's recipe type and configuration, then hand a ``Query`` to
serving/recommend.py. Campaign and filter records are read through the serving state's one-second cache (a
runtime request must not cost a metadata query each time); a campaign update becomes visible within that
second, and the model it switches to is already loaded by then (campaigns.finish_update).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ranking
from ..errors import InvalidInputException, ResourceNotFoundException
from ..filters import compile as filter_compile
from ..filters.parse import parse_filter
from ..filters.values import parse_filter_values
from ..recipes import catalogue
from ..recipes.user_personalization import EXPLORATION_CONFIG
from ..serving import answers, recommend
from ..serving.actions import ActionFilter
from ..serving.models import Catalog, ServedModel
from ..serving.realtime import UserHistory
from . import recommenders
from .common import ACTIVE, DELETE_IN_PROGRESS, DELETE_PENDING
from .context import RequestContext
from ..data.metadata import Record
from ..jobs.attribution_records import KIND as ATTRIBUTION_KIND

DEFAULT_RESULTS, MAX_RESULTS, MAX_RESULTS_WITH_METADATA = 25, 500, 50  # API_RS_GetRecommendations
DEFAULT_ACTIONS, MAX_ACTIONS = 5, 100  # API_RS_GetActionRecommendations (spec §2.14)
MAX_METADATA_COLUMNS = 10
MAX_RANKING_INPUT, MAX_RANKING_INPUT_WITH_METADATA = 500, 50
SCORED_TYPES = ("USER_PERSONALIZATION", "PERSONALIZED_RANKING", "PERSONALIZED_ACTIONS")
EMPTY = UserHistory([], [], [])


def _record(ctx: RequestContext, arn: str, kind: str) -> Record | None:
    return ctx.services.serving.record(arn, kind)


# ---- handlers --------------------------------------------------------------------------------------------------


def get_recommendations(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """GetRecommendations. Wire-shaped output (api/app.py WIRE_SHAPED): a fixed item list is encoded JSON."""
    campaign, model = _campaign_model(ctx, params)
    state = ctx.services.serving
    key = _answer_key(ctx, campaign, model, params)
    found = state.answers.get(key) if key is not None else None
    if found is None:
        found = answers.of(_prepare(ctx, params, campaign, model))
        if key is not None:
            state.answers.put(key, found)
    if not isinstance(found, answers.Drawn):
        encoded, item_ids, _ = found
        return {"itemList": encoded, "recommendationId": _remember(ctx, campaign, model, item_ids)}
    items = recommend.explore(model, found.prepared)  # this request's exploration slots
    return {"itemList": items, "recommendationId": _remember(ctx, campaign, model, [i["itemId"] for i in items])}


def _remember(ctx: RequestContext, source: Record, model: ServedModel, item_ids: Sequence[str]) -> str:
    """The answer's recommendationId. It reaches the recommendation log only where the dataset group has a metric
    attribution, whose reports are the log's only reader: writing every answer costs about 12 µs of a cached
    request's 100 (bench/serving.py)."""
    group = model.group_arn
    durable = ctx.services.serving.fact(("attributed", group), lambda: bool(ctx.store.list(ATTRIBUTION_KIND, parent=group)))
    return ctx.services.serving.remember(source.arn, item_ids, durable=durable)


def _prepare(ctx: RequestContext, params: dict[str, Any], campaign: Record, model: ServedModel) -> recommend.Prepared:
    if campaign.kind == recommenders.KIND:  # domain use cases: their own userId/itemId rules and auto filter
        recommenders.check_request(campaign, params)
        history = _history(model, params)
        query = recommenders.domain_query(campaign, model, _query(ctx, params, campaign, model, history))
    else:
        _check_request_for(model, params)
        history = _history(model, params)
        query = _query(ctx, params, campaign, model, history)
    if query.promotion is not None:  # promotion positions are drawn per request: nothing to reuse
        return recommend.Prepared.final(recommend.recommend(model, query, history), query)
    return recommend.prepare(model, query, history)


def _answer_key(ctx: RequestContext, campaign: Record, model: ServedModel, params: dict[str, Any]) -> tuple[Any, ...] | None:
    """Everything a campaign's prepared answer depends on; None for promotions (their positions are drawn per
    request) and recommenders (domain rules). The user's streamed-change counter covers their events and
    impressions; the catalogue and history tokens cover PutItems and imports. With exploration, the pool's age
    cut-off follows the newest interaction to the hour."""
    if campaign.kind != "campaign" or params.get("promotions"):
        return None
    config = campaign.body.get("campaignConfig") or {}
    num = params.get("numResults") or DEFAULT_RESULTS
    exploring = model.recipe_type == "USER_PERSONALIZATION" and ranking.exploration_slots(num, _exploration(config)[0]) > 0
    if "filterArn" in params:
        record = _record(ctx, params["filterArn"], "filter")
        if record is None or record.status != ACTIVE:
            return None  # the full path raises the right error
    user = params.get("userId")
    history = model.history
    return (
        campaign.arn, campaign.body.get("lastUpdatedDateTime"), model.version_arn, model.revision, model.loaded_at,
        model.catalog.token, history.token, user, history.user_version(user) if user else -1,
        params.get("itemId"), num, params.get("filterArn"), answers.frozen(params.get("filterValues")),
        answers.frozen(params.get("context")), answers.frozen(params.get("metadataColumns")),
        int(history.latest_timestamp // 3600) if exploring else None,
    )


def get_personalized_ranking(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """GetPersonalizedRanking."""
    campaign, model = _campaign_model(ctx, params)
    if model.recipe_type != "PERSONALIZED_RANKING":
        raise InvalidInputException(
            f"Campaign {campaign.arn} deploys a {model.recipe_type} recipe; GetPersonalizedRanking needs a "
            "PERSONALIZED_RANKING recipe (use GetRecommendations)."
        )
    limit = MAX_RANKING_INPUT_WITH_METADATA if params.get("metadataColumns") else MAX_RANKING_INPUT
    if len(params["inputList"]) > limit:
        raise InvalidInputException(f"inputList has {len(params['inputList'])} items; at most {limit} are allowed here.")
    history = _history(model, params)
    query = _query(ctx, {**params, "numResults": len(params["inputList"]) or 1}, campaign, model, history)
    ranked = recommend.rank(model, query, history, params["inputList"])
    rid = _remember(ctx, campaign, model, [i["itemId"] for i in ranked])
    return {"personalizedRanking": ranked, "recommendationId": rid}


def get_action_recommendations(ctx: RequestContext, params: dict[str, Any]) -> dict[str, Any]:
    """GetActionRecommendations: PERSONALIZED_ACTIONS campaigns only (spec §2.14), answered by serving/actions.py."""
    if "campaignArn" not in params:
        raise InvalidInputException("GetActionRecommendations needs campaignArn.")
    campaign, model = _campaign_model(ctx, params)
    if model.recipe_type != "PERSONALIZED_ACTIONS":
        raise InvalidInputException(
            f"Campaign {campaign.arn} deploys a {model.recipe_type} recipe; GetActionRecommendations needs a "
            "PERSONALIZED_ACTIONS (Next-Best-Action) recipe."
        )
    num = params.get("numResults") or DEFAULT_ACTIONS  # 0 reads as the default, as for GetRecommendations
    if num > MAX_ACTIONS:
        raise InvalidInputException(f"numResults is {num}; at most {MAX_ACTIONS} are allowed.")
    action_filter = None
    if "filterArn" in params:
        values = params.get("filterValues", {})
        compiled = _compiled(ctx, _filter_record(ctx, model, params["filterArn"]), model)
        parse_filter_values(values)  # malformed values fail the request here, naming the key
        action_filter = ActionFilter(compiled, values, _user_record(model.catalog, params.get("userId")))
    items = _history(model, params).item_ids
    return ctx.services.serving.actions.recommend(model, params.get("userId"), items, int(num), action_filter)


# ---- campaign and model ----------------------------------------------------------------------------------------


def _campaign_model(ctx: RequestContext, params: dict[str, Any]) -> tuple[Record, ServedModel]:
    if ("campaignArn" in params) == ("recommenderArn" in params):
        raise InvalidInputException("Give exactly one of campaignArn or recommenderArn.")
    if "recommenderArn" in params:
        return recommenders.serving_model(ctx, _record(ctx, params["recommenderArn"], recommenders.KIND), params["recommenderArn"])
    arn = params["campaignArn"]
    campaign = _record(ctx, arn, "campaign")
    if campaign is None or campaign.status in (DELETE_PENDING, DELETE_IN_PROGRESS):
        raise ResourceNotFoundException(f"Could not find campaign with ARN {arn}.")
    if campaign.status != ACTIVE:
        raise InvalidInputException(f"Campaign {arn} is {campaign.status}; it must be ACTIVE to serve requests.")
    return campaign, ctx.services.serving.models.get(campaign.body["solutionVersionArn"])


def _check_request_for(model: ServedModel, params: dict[str, Any]) -> None:
    """Which of userId / itemId each recipe type needs (spec §2.14 table)."""
    kind = model.recipe_type
    if kind == "USER_PERSONALIZATION" and "userId" not in params:
        raise InvalidInputException("userId is required for a USER_PERSONALIZATION campaign.")
    if kind == "RELATED_ITEMS" and "itemId" not in params:
        raise InvalidInputException("itemId is required for a RELATED_ITEMS campaign.")
    operation = catalogue.runtime_operation(kind)
    if operation != "GetRecommendations":
        raise InvalidInputException(f"This campaign deploys a {kind} recipe: use {operation}.")


def _history(model: ServedModel, params: dict[str, Any]) -> UserHistory:
    return model.history.get(params["userId"]) if "userId" in params else EMPTY


def _query(
    ctx: RequestContext, params: dict[str, Any], campaign: Record, model: ServedModel, history: UserHistory
) -> recommend.Query:
    config = campaign.body.get("campaignConfig") or campaign.body.get("recommenderConfig") or {}
    columns = _metadata_columns(params, config, model)
    num = _num_results(params, bool(columns))
    weight, cutoff_days = _exploration(config)
    user_id = params.get("userId")
    mask = None
    if "filterArn" in params:
        mask = _filter(ctx, model, params["filterArn"], params.get("filterValues", {}), user_id, history, params.get("itemId"))
    return recommend.Query(
        user_id=user_id,
        item_id=params.get("itemId"),
        num_results=num,
        context=_context(params.get("context", {}), model),
        mask=mask,
        promotion=_promotion(ctx, params, model, user_id, history),
        metadata_columns=columns,
        exploration_weight=weight,
        exploration_cutoff_days=cutoff_days,
        with_scores=model.recipe_type in SCORED_TYPES,
        with_reasons=catalogue.recipe(model.recipe_arn).capabilities.reasons,
    )


def _exploration(config: dict[str, Any]) -> tuple[float, float]:
    """itemExplorationConfig's weight and item age cut-off (days), with Personalize's defaults (0.3 and 30)."""
    exploration = config.get("itemExplorationConfig") or {}
    weight, cutoff = (float(exploration.get(key, EXPLORATION_CONFIG[key].default))
                      for key in ("explorationWeight", "explorationItemAgeCutOff"))
    return weight, cutoff


def _num_results(params: dict[str, Any], with_metadata: bool) -> int:
    num = params.get("numResults") or DEFAULT_RESULTS  # 0 reads as the default (spec §2.14, impl. choice)
    limit = MAX_RESULTS_WITH_METADATA if with_metadata else MAX_RESULTS
    if num > limit:
        reason = " when metadataColumns are requested" if with_metadata else ""
        raise InvalidInputException(f"numResults is {num}; at most {limit} are allowed{reason}.")
    return int(num)


def _metadata_columns(params: dict[str, Any], config: dict[str, Any], model: ServedModel) -> list[str]:
    """metadataColumns = {"ITEMS": [...]}: needs metadata enabled on the campaign (v2 recipes: always)."""
    wanted = params.get("metadataColumns")
    if not wanted:
        return []
    enabled = config.get("enableMetadataWithRecommendations") or catalogue.recipe(model.recipe_arn).capabilities.reasons
    if not enabled:
        owner = ("recommenderConfig", "recommender") if params.get("recommenderArn") else ("campaignConfig", "campaign")
        raise InvalidInputException(
            f"metadataColumns needs {owner[0]}.enableMetadataWithRecommendations=true on the {owner[1]}."
        )
    unknown_types = [k for k in wanted if k != "ITEMS"]
    if unknown_types:
        raise InvalidInputException(f"metadataColumns key {unknown_types[0]!r} is not supported; use \"ITEMS\".")
    columns = list(wanted["ITEMS"])
    if len(columns) > MAX_METADATA_COLUMNS:
        raise InvalidInputException(f"metadataColumns.ITEMS has {len(columns)} columns; at most {MAX_METADATA_COLUMNS} are allowed.")
    schema = model.catalog.schemas.get("ITEMS")
    if schema is None:
        raise InvalidInputException(
            f"metadataColumns.ITEMS names {', '.join(columns)}, but the dataset group has no Items dataset."
        )
    missing = [c for c in columns if schema.field(c) is None or c == "ITEM_ID"]
    if missing:
        raise InvalidInputException(
            f"metadataColumns.ITEMS names {', '.join(missing)}, not a metadata column of the dataset group's Items dataset."
        )
    return columns


def _context(context: dict[str, str], model: ServedModel) -> dict[str, str]:
    """Context keys must be columns of the Interactions dataset (spec §10.3), e.g. DEVICE."""
    schema = model.catalog.schemas.get("INTERACTIONS")
    unknown = [k for k in context if schema is None or schema.field(k) is None]
    if unknown:
        raise InvalidInputException(
            f"context key {unknown[0]!r} is not a column of the dataset group's Interactions dataset."
        )
    return dict(context)


def _promotion(
    ctx: RequestContext, params: dict[str, Any], model: ServedModel, user_id: str | None, history: UserHistory
) -> recommend.Promotion | None:
    promotions = params.get("promotions") or []
    if not promotions:
        return None
    promo = promotions[0]
    for member in ("name", "percentPromotedItems", "filterArn"):
        if member not in promo:
            raise InvalidInputException(f"promotions[1].{member} is required.")
    mask = _filter(ctx, model, promo["filterArn"], promo.get("filterValues", {}), user_id, history, params.get("itemId"))
    return recommend.Promotion(promo["name"], int(promo["percentPromotedItems"]), mask)


# ---- filters (the contract of filters/compile.py) --------------------------------------------------------------

def _filter(
    ctx: RequestContext, model: ServedModel, arn: str, values: dict[str, str], user_id: str | None,
    history: UserHistory, item_id: str | None,
) -> recommend.MaskFn:
    """The filter as a mask function over a catalogue."""
    compiled = _compiled(ctx, _filter_record(ctx, model, arn), model)
    parse_filter_values(values)  # malformed values fail the request here, naming the key
    events = _user_events(filter_compile, history)
    user_record = _user_record(model.catalog, user_id)
    current = _current_item(model.catalog, item_id)

    def mask(catalog: Catalog) -> np.ndarray:
        filter_catalog = catalog.filter_catalog
        if filter_catalog is None:
            filter_catalog = filter_compile.FilterCatalog.build(catalog.item_ids, catalog.items, catalog.users)
            catalog.filter_catalog = filter_catalog
        return np.asarray(compiled.item_mask(
            filter_catalog, user_id=user_id, history=events, user_record=user_record, current_item=current,
            values=values,
        ), dtype=bool)

    return mask


def _filter_record(ctx: RequestContext, model: ServedModel, arn: str) -> Record:
    """A request's filter: its record must be ACTIVE and of the campaign's dataset group."""
    record = _record(ctx, arn, "filter")
    if record is None:
        raise ResourceNotFoundException(f"Could not find filter with ARN {arn}.")
    if record.status != ACTIVE:
        raise InvalidInputException(f"Filter {arn} is {record.status}; it must be ACTIVE.")
    if record.body["datasetGroupArn"] != model.group_arn:
        raise InvalidInputException(f"Filter {arn} belongs to another dataset group than the campaign ({model.group_arn}).")
    return record


def _compiled(ctx: RequestContext, record: Record, model: ServedModel) -> Any:
    """The filter's expression compiled against the group's schemas, once per (filter, expression)."""
    expression = record.body["filterExpression"]
    return ctx.services.serving.filters.get_or_compute(
        (record.arn, expression), lambda: filter_compile.compile_filter(parse_filter(expression), model.catalog.schemas),
    )


def _user_events(module: Any, history: UserHistory) -> Any:
    return module.UserEvents(item_ids=history.item_ids, event_types=history.event_types)  # the filter reads lists


def _user_record(catalog: Catalog, user_id: str | None) -> dict[str, Any] | None:
    if user_id is None or catalog.users is None:
        return None
    index = catalog.user_index
    if index is None:
        index = {str(u): i for i, u in enumerate(catalog.users["USER_ID"].to_list())}
        catalog.user_index = index
    row = index.get(user_id)
    return None if row is None else catalog.users.row(row, named=True)


def _current_item(catalog: Catalog, item_id: str | None) -> dict[str, Any] | None:
    if item_id is None:
        return None
    pos = int(catalog.index([item_id])[0])
    if pos < 0:
        return {"ITEM_ID": item_id}
    if catalog.items is None:
        return {"ITEM_ID": item_id}
    return catalog.items.row(pos, named=True)
