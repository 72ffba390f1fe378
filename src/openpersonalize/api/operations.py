"""The one operations table: AWS operation name → handler (STYLE habit 1).

Every operation of the three botocore models is here (tests/api/test_protocol.py checks the set); a handler
takes the validated request and returns the response as a plain dict that api/serialize.py renders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..control import (
    batch_jobs,
    campaigns,
    catalogue,
    dataset_groups,
    datasets,
    deletion_jobs,
    event_trackers,
    events,
    export_jobs,
    filters,
    import_jobs,
    metric_attributions,
    recommenders,
    runtime,
    schemas,
    solution_versions,
    solutions,
    tags,
)
from ..control.context import RequestContext

Handler = Callable[[RequestContext, dict[str, Any]], dict[str, Any]]


OPERATIONS: dict[str, Handler] = {
    # dataset_groups
    "CreateDatasetGroup": dataset_groups.create_dataset_group,
    "DescribeDatasetGroup": dataset_groups.describe_dataset_group,
    "ListDatasetGroups": dataset_groups.list_dataset_groups,
    "DeleteDatasetGroup": dataset_groups.delete_dataset_group,
    # schemas
    "CreateSchema": schemas.create_schema,
    "DescribeSchema": schemas.describe_schema,
    "ListSchemas": schemas.list_schemas,
    "DeleteSchema": schemas.delete_schema,
    # datasets
    "CreateDataset": datasets.create_dataset,
    "DescribeDataset": datasets.describe_dataset,
    "ListDatasets": datasets.list_datasets,
    "DeleteDataset": datasets.delete_dataset,
    "UpdateDataset": datasets.update_dataset,
    # import_jobs
    "CreateDatasetImportJob": import_jobs.create_dataset_import_job,
    "DescribeDatasetImportJob": import_jobs.describe_dataset_import_job,
    "ListDatasetImportJobs": import_jobs.list_dataset_import_jobs,
    # export_jobs
    "CreateDatasetExportJob": export_jobs.create_dataset_export_job,
    "DescribeDatasetExportJob": export_jobs.describe_dataset_export_job,
    "ListDatasetExportJobs": export_jobs.list_dataset_export_jobs,
    # deletion_jobs
    "CreateDataDeletionJob": deletion_jobs.create_data_deletion_job,
    "DescribeDataDeletionJob": deletion_jobs.describe_data_deletion_job,
    "ListDataDeletionJobs": deletion_jobs.list_data_deletion_jobs,
    # event_trackers
    "CreateEventTracker": event_trackers.create_event_tracker,
    "DescribeEventTracker": event_trackers.describe_event_tracker,
    "ListEventTrackers": event_trackers.list_event_trackers,
    "DeleteEventTracker": event_trackers.delete_event_tracker,
    # events
    "PutEvents": events.put_events,
    "PutItems": events.put_items,
    "PutUsers": events.put_users,
    "PutActions": events.put_actions,
    "PutActionInteractions": events.put_action_interactions,
    # catalogue
    "ListRecipes": catalogue.list_recipes,
    "DescribeRecipe": catalogue.describe_recipe,
    "DescribeAlgorithm": catalogue.describe_algorithm,
    "DescribeFeatureTransformation": catalogue.describe_feature_transformation,
    # tags
    "TagResource": tags.tag_resource,
    "UntagResource": tags.untag_resource,
    "ListTagsForResource": tags.list_tags_for_resource,
    # filters
    "CreateFilter": filters.create_filter,
    "DescribeFilter": filters.describe_filter,
    "ListFilters": filters.list_filters,
    "DeleteFilter": filters.delete_filter,
    # training
    "CreateSolution": solutions.create_solution,
    "DescribeSolution": solutions.describe_solution,
    "ListSolutions": solutions.list_solutions,
    "DeleteSolution": solutions.delete_solution,
    "UpdateSolution": solutions.update_solution,
    "CreateSolutionVersion": solution_versions.create_solution_version,
    "DescribeSolutionVersion": solution_versions.describe_solution_version,
    "ListSolutionVersions": solution_versions.list_solution_versions,
    "StopSolutionVersionCreation": solution_versions.stop_solution_version_creation,
    "GetSolutionMetrics": solution_versions.get_solution_metrics,
    # serving
    "CreateCampaign": campaigns.create_campaign,
    "DescribeCampaign": campaigns.describe_campaign,
    "ListCampaigns": campaigns.list_campaigns,
    "UpdateCampaign": campaigns.update_campaign,
    "DeleteCampaign": campaigns.delete_campaign,
    "GetRecommendations": runtime.get_recommendations,
    "GetPersonalizedRanking": runtime.get_personalized_ranking,
    "GetActionRecommendations": runtime.get_action_recommendations,
    # batch, recommenders, metric attribution
    "CreateBatchInferenceJob": batch_jobs.create_batch_inference_job,
    "DescribeBatchInferenceJob": batch_jobs.describe_batch_inference_job,
    "ListBatchInferenceJobs": batch_jobs.list_batch_inference_jobs,
    "CreateBatchSegmentJob": batch_jobs.create_batch_segment_job,
    "DescribeBatchSegmentJob": batch_jobs.describe_batch_segment_job,
    "ListBatchSegmentJobs": batch_jobs.list_batch_segment_jobs,
    "CreateRecommender": recommenders.create_recommender,
    "DescribeRecommender": recommenders.describe_recommender,
    "ListRecommenders": recommenders.list_recommenders,
    "UpdateRecommender": recommenders.update_recommender,
    "DeleteRecommender": recommenders.delete_recommender,
    "StartRecommender": recommenders.start_recommender,
    "StopRecommender": recommenders.stop_recommender,
    "CreateMetricAttribution": metric_attributions.create_metric_attribution,
    "DescribeMetricAttribution": metric_attributions.describe_metric_attribution,
    "ListMetricAttributions": metric_attributions.list_metric_attributions,
    "UpdateMetricAttribution": metric_attributions.update_metric_attribution,
    "DeleteMetricAttribution": metric_attributions.delete_metric_attribution,
    "ListMetricAttributionMetrics": metric_attributions.list_metric_attribution_metrics,
}
