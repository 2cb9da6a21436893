// The one place the consumer reaches the KPL aggregation format. The producer
// library owns the codec (stream/kinesis/aggregation.ts); until it is merged
// here nothing is recognised as aggregated and records pass through whole.
export function deaggregate(_data: Uint8Array): { partitionKey: string; explicitHashKey?: string; data: Buffer }[] | undefined {
  return undefined;
}
