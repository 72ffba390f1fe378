"""The legacy HRNN_RECORD recipes (spec §5.1): listed and described like AWS does, but never trained here.

AWS keeps them in the catalogue for existing solutions and refuses new ones (CreateSolution points to
User-Personalization-v2), so they have no model class.
"""

from __future__ import annotations

from ._params import SEQUENCE, choice_param, float_param, hidden_dimension, int_param, user_percentiles
from ._records import (
    GA,
    PERCENTILE_FILTERING,
    USER_PERSONALIZATION,
    Algorithm,
    Capabilities,
    FeatureTransformation,
    RecipeRecord,
)

_HRNN = (hidden_dimension(43, tunable=True), *SEQUENCE, *user_percentiles(0.0, 0.99))
_COLDSTART = (
    hidden_dimension(149, tunable=True), *SEQUENCE,
    int_param("cold_start_max_interactions", 15, 1, None, scope="featurization"),
    float_param("cold_start_max_duration", 5.0, 0.0, None, scope="featurization", low_open=True),
    choice_param("cold_start_relative_from", "latestItem", ("latestItem", "currentTime"), scope="featurization"),
    *user_percentiles(0.0, 0.99),
)
_LEGACY = Capabilities(exploration=True)

HRNN_RECORD = RecipeRecord(
    "aws-hrnn", USER_PERSONALIZATION, Algorithm("aws-hrnn", "hierarchical-rnn", _HRNN, GA), PERCENTILE_FILTERING,
    "Legacy: hierarchical recurrent network over user interaction sequences. Superseded by "
    "User-Personalization.", GA, None, capabilities=_LEGACY, legacy=True)
HRNN_METADATA_RECORD = RecipeRecord(
    "aws-hrnn-metadata", USER_PERSONALIZATION, Algorithm("aws-hrnn-metadata", "hierarchical-rnn-metadata", _HRNN, GA),
    FeatureTransformation("featurize_metadata", GA),
    "Legacy: HRNN_RECORD that also uses item and user metadata. Superseded by User-Personalization.", GA, None,
    capabilities=_LEGACY, legacy=True)
HRNN_COLDSTART_RECORD = RecipeRecord(
    "aws-hrnn-coldstart", USER_PERSONALIZATION,
    Algorithm("aws-hrnn-coldstart", "hierarchical-rnn-coldstart", _COLDSTART, GA),
    FeatureTransformation("featurize_coldstart", GA),
    "Legacy: HRNN_RECORD-Metadata with personalized exploration of new (cold) items. Superseded by "
    "User-Personalization.", GA, None, capabilities=Capabilities(exploration=True, update_training=True), legacy=True)
RECORDS = (HRNN_RECORD, HRNN_METADATA_RECORD, HRNN_COLDSTART_RECORD)
