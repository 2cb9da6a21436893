// Firehose request shapes (firehose 2015-08-04 model): the same type and
// constraint checker as the Kinesis API, with Firehose's members and limits.
import type { Members, OperationRules, Shape } from '../validation/types.js';

const str = (minLength: number, maxLength: number, pattern?: string, notNull = false): Shape => ({ type: 'String', notNull, minLength, maxLength, pattern });
const int = (min: number, max: number, notNull = false): Shape => ({ type: 'Integer', notNull, min, max });
const enumOf = (values: string[], notNull = false): Shape => ({ type: 'String', notNull, enum: values });
const struct = (members: Members, notNull = false): Shape => ({ type: 'Structure', notNull, members });
const list = (member: Shape, minLength: number, maxLength: number, notNull = false): Shape => ({ type: 'List', notNull, minLength, maxLength, member });
const bool: Shape = { type: 'Boolean' };

const deliveryStreamName = (notNull = true) => str(1, 64, '[a-zA-Z0-9_.-]+', notNull);
const roleArn = (notNull = false) => str(1, 512, 'arn:.*:iam::\\d{12}:role/[a-zA-Z_0-9+=,.@\\-_/]+', notNull);
const bucketArn = (notNull = false) => str(1, 2048, 'arn:.*:s3:::[\\w\\.\\-]{1,255}', notNull);
const prefix = () => str(0, 1024);

const COMPRESSION = ['UNCOMPRESSED', 'GZIP', 'ZIP', 'Snappy', 'HADOOP_SNAPPY'];

// The model's Unicode-class patterns need the 'u' flag the shared checker does not set: lengths only here.
const tag = struct({ Key: str(1, 128, undefined, true), Value: str(0, 256) });

const bufferingHints = struct({ SizeInMBs: int(1, 128), IntervalInSeconds: int(0, 900) });

const processorParameter = struct({
  ParameterName: enumOf(['LambdaArn', 'NumberOfRetries', 'MetadataExtractionQuery', 'JsonParsingEngine', 'RoleArn', 'BufferSizeInMBs', 'BufferIntervalInSeconds', 'SubRecordType', 'Delimiter', 'CompressionFormat', 'DataMessageExtraction'], true),
  ParameterValue: str(1, 5120, '^(?!\\s*$).+', true),
});
const processingConfiguration = struct({
  Enabled: bool,
  Processors: list(struct({
    Type: enumOf(['RecordDeAggregation', 'Decompression', 'CloudWatchLogProcessing', 'Lambda', 'MetadataExtraction', 'AppendDelimiterToRecord'], true),
    Parameters: list(processorParameter, 0, 100),
  }), 0, 100),
});

const encryptionConfiguration = struct({
  NoEncryptionConfig: enumOf(['NoEncryption']),
  KMSEncryptionConfig: struct({ AWSKMSKeyARN: str(1, 512, 'arn:.*', true) }),
});
const cloudWatchLoggingOptions = struct({ Enabled: bool, LogGroupName: str(0, 512), LogStreamName: str(0, 512) });

const s3Members = (notNull: boolean): Members => ({
  RoleARN: roleArn(notNull),
  BucketARN: bucketArn(notNull),
  Prefix: prefix(),
  ErrorOutputPrefix: prefix(),
  BufferingHints: bufferingHints,
  CompressionFormat: enumOf(COMPRESSION),
  EncryptionConfiguration: encryptionConfiguration,
  CloudWatchLoggingOptions: cloudWatchLoggingOptions,
});

const extendedMembers = (notNull: boolean): Members => ({
  ...s3Members(notNull),
  ProcessingConfiguration: processingConfiguration,
  S3BackupMode: enumOf(['Disabled', 'Enabled']),
  DataFormatConversionConfiguration: dataFormatConversion,
  DynamicPartitioningConfiguration: struct({ RetryOptions: struct({ DurationInSeconds: int(0, 7200) }), Enabled: bool }),
  FileExtension: str(0, 128, "^$|\\.[0-9a-z!\\-_.*'()]+"),
  CustomTimeZone: str(0, 50),
});

const nonEmpty = (max: number) => str(1, max, '^(?!\\s*$).+');
const dataFormatConversion = struct({
  SchemaConfiguration: struct({
    RoleARN: nonEmpty(512), CatalogId: nonEmpty(1024), DatabaseName: nonEmpty(1024), TableName: nonEmpty(1024), Region: nonEmpty(1024), VersionId: nonEmpty(1024),
  }),
  InputFormatConfiguration: struct({
    Deserializer: struct({
      OpenXJsonSerDe: struct({
        ConvertDotsInJsonKeysToUnderscores: bool,
        CaseInsensitive: bool,
        ColumnToJsonKeyMappings: { type: 'Map', keyLengths: [1, 1024], valueLengths: [1, 1024], member: { type: 'String' } },
      }),
      HiveJsonSerDe: struct({ TimestampFormats: { type: 'List', memberLengths: [0, 1024], member: { type: 'String' } } }),
    }),
  }),
  OutputFormatConfiguration: struct({
    Serializer: struct({
      ParquetSerDe: struct({
        BlockSizeBytes: int(67108864, 2147483647),
        PageSizeBytes: int(65536, 2147483647),
        Compression: enumOf(['UNCOMPRESSED', 'GZIP', 'SNAPPY']),
        EnableDictionaryCompression: bool,
        MaxPaddingBytes: int(0, 2147483647),
        WriterVersion: enumOf(['V1', 'V2']),
      }),
      // Accepted by the shape so the refusal can say why (runtime/api/firehose/conversion.ts).
      OrcSerDe: struct({
        StripeSizeBytes: int(8388608, 2147483647), BlockSizeBytes: int(67108864, 2147483647), RowIndexStride: int(1000, 2147483647), EnablePadding: bool,
        Compression: enumOf(['NONE', 'ZLIB', 'SNAPPY']), FormatVersion: enumOf(['V0_11', 'V0_12']),
      }),
    }),
  }),
  Enabled: bool,
});

const httpEndpoint = (notNull: boolean): Members => ({
  EndpointConfiguration: struct({ Url: str(1, 1000, 'https?://.*', true), Name: str(1, 256), AccessKey: str(0, 4096) }, notNull),
  BufferingHints: struct({ SizeInMBs: int(1, 64), IntervalInSeconds: int(0, 900) }),
  CloudWatchLoggingOptions: cloudWatchLoggingOptions,
  RequestConfiguration: struct({
    ContentEncoding: enumOf(['NONE', 'GZIP']),
    CommonAttributes: list(struct({ AttributeName: str(1, 256, undefined, true), AttributeValue: str(0, 1024, undefined, true) }), 0, 50),
  }),
  ProcessingConfiguration: processingConfiguration,
  RoleARN: roleArn(),
  RetryOptions: struct({ DurationInSeconds: int(0, 7200) }),
  S3BackupMode: enumOf(['FailedDataOnly', 'AllData']),
  S3Configuration: struct(s3Members(true), notNull),
});

const encryptionInput = struct({ KeyARN: str(1, 512, 'arn:.*'), KeyType: enumOf(['AWS_OWNED_CMK', 'CUSTOMER_MANAGED_CMK'], true) });

export const FIREHOSE_RULES: Record<string, OperationRules> = {
  CreateDeliveryStream: {
    DeliveryStreamName: deliveryStreamName(),
    DeliveryStreamType: enumOf(['DirectPut', 'KinesisStreamAsSource', 'MSKAsSource', 'DatabaseAsSource']),
    KinesisStreamSourceConfiguration: struct({ KinesisStreamARN: str(1, 512, 'arn:.*:kinesis:[a-zA-Z0-9\\-]+:\\d{12}:stream/[a-zA-Z0-9_.-]+', true), RoleARN: roleArn(true) }),
    DeliveryStreamEncryptionConfigurationInput: encryptionInput,
    S3DestinationConfiguration: struct(s3Members(true)),
    ExtendedS3DestinationConfiguration: struct(extendedMembers(true)),
    HttpEndpointDestinationConfiguration: struct(httpEndpoint(true)),
    RedshiftDestinationConfiguration: struct({}),
    ElasticsearchDestinationConfiguration: struct({}),
    AmazonopensearchserviceDestinationConfiguration: struct({}),
    SplunkDestinationConfiguration: struct({}),
    SnowflakeDestinationConfiguration: struct({}),
    IcebergDestinationConfiguration: struct({}),
    MSKSourceConfiguration: struct({}),
    Tags: list(tag, 1, 50),
  },
  DeleteDeliveryStream: { DeliveryStreamName: deliveryStreamName(), AllowForceDelete: bool },
  DescribeDeliveryStream: { DeliveryStreamName: deliveryStreamName(), Limit: int(1, 10000), ExclusiveStartDestinationId: str(1, 100, '[a-zA-Z0-9-]+') },
  ListDeliveryStreams: {
    Limit: int(1, 10000),
    DeliveryStreamType: enumOf(['DirectPut', 'KinesisStreamAsSource', 'MSKAsSource', 'DatabaseAsSource']),
    ExclusiveStartDeliveryStreamName: deliveryStreamName(false),
  },
  UpdateDestination: {
    DeliveryStreamName: deliveryStreamName(),
    CurrentDeliveryStreamVersionId: str(1, 50, '[0-9]+', true),
    DestinationId: str(1, 100, '[a-zA-Z0-9-]+', true),
    S3DestinationUpdate: struct(s3Members(false)),
    ExtendedS3DestinationUpdate: struct(extendedMembers(false)),
    HttpEndpointDestinationUpdate: struct({}),
  },
  PutRecord: { DeliveryStreamName: deliveryStreamName(), Record: struct({ Data: { type: 'Blob', notNull: true, minLength: 0, maxLength: 1024000 } }, true) },
  PutRecordBatch: {
    DeliveryStreamName: deliveryStreamName(),
    Records: list(struct({ Data: { type: 'Blob', notNull: true, minLength: 0, maxLength: 1024000 } }), 1, 500, true),
  },
  TagDeliveryStream: { DeliveryStreamName: deliveryStreamName(), Tags: list(tag, 1, 50, true) },
  UntagDeliveryStream: { DeliveryStreamName: deliveryStreamName(), TagKeys: { type: 'List', notNull: true, minLength: 1, maxLength: 50, memberLengths: [1, 128], member: { type: 'String' } } },
  ListTagsForDeliveryStream: { DeliveryStreamName: deliveryStreamName(), ExclusiveStartTagKey: str(1, 128), Limit: int(1, 50) },
  StartDeliveryStreamEncryption: { DeliveryStreamName: deliveryStreamName(), DeliveryStreamEncryptionConfigurationInput: encryptionInput },
  StopDeliveryStreamEncryption: { DeliveryStreamName: deliveryStreamName() },
};
