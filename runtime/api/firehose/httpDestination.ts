// HttpEndpointDestinationConfiguration ↔ the stored definition: the endpoint
// and its request options, with S3Configuration as the backup bucket.
import type { HttpDestinationDef, S3DestinationDef } from '../../../stream/deliveryStreams.js';
import { invalidArgument } from '../errors.js';
import type { Params } from '../context.js';
import { describeDestination, destinationFromConfig } from './destination.js';

export function httpDestinationFromConfig(c: Params): { s3: S3DestinationDef; http: HttpDestinationDef } {
  const e = c.EndpointConfiguration as Params;
  if (c.ProcessingConfiguration?.Enabled) throw invalidArgument('Processing for an HTTP endpoint destination is not supported by this Shardline version yet.');
  // The endpoint's buffering hints are the worker's; the backup bucket gets the same (its own are not used).
  const hints = { SizeInMBs: 5, IntervalInSeconds: 300, ...(c.BufferingHints ?? {}) };
  // The backup bucket's S3DestinationConfiguration has no format conversion: no tables to look up.
  const s3 = destinationFromConfig({ ...(c.S3Configuration as Params), BufferingHints: hints }, () => undefined);
  return {
    s3,
    http: {
      Url: e.Url,
      Name: e.Name,
      AccessKey: e.AccessKey,
      ContentEncoding: c.RequestConfiguration?.ContentEncoding ?? 'NONE',
      CommonAttributes: c.RequestConfiguration?.CommonAttributes ?? [],
      RetryDurationInSeconds: c.RetryOptions?.DurationInSeconds ?? 300,
      S3BackupMode: c.S3BackupMode ?? 'FailedDataOnly',
    },
  };
}

export function describeHttpDestination(h: HttpDestinationDef, s3: S3DestinationDef) {
  return {
    HttpEndpointDestinationDescription: {
      // The access key is write-only, as in AWS.
      EndpointConfiguration: { Url: h.Url, Name: h.Name },
      BufferingHints: s3.BufferingHints,
      RequestConfiguration: { ContentEncoding: h.ContentEncoding, CommonAttributes: h.CommonAttributes },
      RetryOptions: { DurationInSeconds: h.RetryDurationInSeconds },
      S3BackupMode: h.S3BackupMode,
      S3DestinationDescription: describeDestination(s3).S3DestinationDescription,
    },
  };
}
