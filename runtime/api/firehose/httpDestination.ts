// HttpEndpointDestinationConfiguration ↔ the stored definition: the endpoint,
// its request options and processing chain, with S3Configuration as the
// backup bucket (which gets source records, never processed ones).
import type { HttpDestinationDef, S3DestinationDef } from '../../../stream/deliveryStreams.js';
import type { Params } from '../context.js';
import { checkProcessors, describeDestination, destinationFromConfig, destinationUpdate } from './destination.js';

/** The processing chain of an HTTP endpoint: no dynamic partitioning (an S3 destination's), so no MetadataExtraction. */
function processingOf(pc: HttpDestinationDef['ProcessingConfiguration']): HttpDestinationDef['ProcessingConfiguration'] {
  if (pc === undefined) return undefined;
  checkProcessors(pc, false);
  return pc;
}

export function httpDestinationFromConfig(c: Params): { s3: S3DestinationDef; http: HttpDestinationDef } {
  const e = c.EndpointConfiguration as Params;
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
      ...(c.ProcessingConfiguration ? { ProcessingConfiguration: processingOf(c.ProcessingConfiguration) } : {}),
    },
  };
}

/**
 * HttpEndpointDestinationUpdate: the members given replace the stored ones,
 * the rest stay (as for S3DestinationUpdate). EndpointConfiguration is one
 * member: a new one without AccessKey sends none (a key meant for one URL is
 * never carried over to another). S3Update changes the backup bucket; its
 * buffering hints stay the endpoint's.
 */
export function httpDestinationUpdate(cur: { s3: S3DestinationDef; http: HttpDestinationDef }, u: Params): { s3: S3DestinationDef; http: HttpDestinationDef } {
  const http: HttpDestinationDef = structuredClone(cur.http);
  const e = u.EndpointConfiguration as Params | undefined;
  if (e) {
    http.Url = e.Url;
    if (e.Name !== undefined) http.Name = e.Name;
    else delete http.Name;
    if (e.AccessKey !== undefined) http.AccessKey = e.AccessKey;
    else delete http.AccessKey;
  }
  if (u.RequestConfiguration?.ContentEncoding !== undefined) http.ContentEncoding = u.RequestConfiguration.ContentEncoding;
  if (u.RequestConfiguration?.CommonAttributes !== undefined) http.CommonAttributes = u.RequestConfiguration.CommonAttributes;
  if (u.RetryOptions?.DurationInSeconds !== undefined) http.RetryDurationInSeconds = u.RetryOptions.DurationInSeconds;
  if (u.S3BackupMode !== undefined) http.S3BackupMode = u.S3BackupMode;
  if (u.ProcessingConfiguration !== undefined) http.ProcessingConfiguration = processingOf(u.ProcessingConfiguration);
  const hints = { ...cur.s3.BufferingHints, ...(u.BufferingHints ?? {}) };
  // S3DestinationUpdate has no format conversion: no tables to look up.
  const s3 = destinationUpdate(cur.s3, { ...((u.S3Update as Params | undefined) ?? {}), BufferingHints: hints }, () => undefined);
  return { s3, http };
}

export function describeHttpDestination(h: HttpDestinationDef, s3: S3DestinationDef) {
  return {
    HttpEndpointDestinationDescription: {
      // The access key is write-only, as in AWS.
      EndpointConfiguration: { Url: h.Url, Name: h.Name },
      BufferingHints: s3.BufferingHints,
      RequestConfiguration: { ContentEncoding: h.ContentEncoding, CommonAttributes: h.CommonAttributes },
      ProcessingConfiguration: h.ProcessingConfiguration ?? { Enabled: false, Processors: [] },
      RetryOptions: { DurationInSeconds: h.RetryDurationInSeconds },
      S3BackupMode: h.S3BackupMode,
      S3DestinationDescription: describeDestination(s3).S3DestinationDescription,
    },
  };
}
