// shardline/cdk8s: constructs for Shardline resources (L2), a whole pipeline
// (L3) and the install itself.
export { DataStream, type DataStreamProps } from './dataStream.js';
export { DeliveryStream, type DeliveryStreamProps } from './deliveryStream.js';
export { S3Destination, HttpDestination, type S3Bucket, type IDeliveryDestination, type S3DestinationOptions, type HttpDestinationOptions } from './destinations.js';
export { AnalyticsApp, type AnalyticsAppProps, type AnalyticsFunctionTarget, type AnalyticsInputProps, type AnalyticsOutputProps } from './analyticsApp.js';
export { Pipeline, type PipelineProps } from './pipeline.js';
export { ShardlineInstall, type ShardlineInstallProps } from './install.js';
