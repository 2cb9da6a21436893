// The CRD path of processing with an HTTP endpoint destination, pure:
// spec.processing becomes the endpoint's ProcessingConfiguration, the backup
// bucket keeps only its format's delimiter, and dynamic partitioning (an S3
// destination's) is refused by the CRD rule and by the operator.
import { DeliveryStreamSpec, type DeliveryStream } from '../../crds/schema/deliverystream.js';
import { deliveryDefinitionOf } from '../../operator/model/deliveryDefinition.js';

const resource = (spec: DeliveryStreamSpec): DeliveryStream => ({ apiVersion: 'shardline.dev/v1alpha1', kind: 'DeliveryStream', metadata: { name: 'hook', namespace: 'web', uid: 'u-1', generation: 1 }, spec });
const base = { source: { type: 'DirectPut' }, s3: { bucket: 'backup' }, http: { url: 'https://collector.example/in' } };

test('spec.processing with spec.http is the endpoint\'s chain, in Firehose\'s order; the backup bucket gets none of it', () => {
  const spec = DeliveryStreamSpec.parse({ ...base, processing: { deAggregation: { subRecordType: 'DELIMITED', delimiter: '|' }, transform: { functionUrl: 'http://fn.example/t', numberOfRetries: 2 }, appendDelimiter: true } });
  const r = deliveryDefinitionOf(resource(spec), spec, undefined, 'us-east-1', '000000000000');
  if (!r.ok) throw new Error(r.message);
  expect(r.def.http!.ProcessingConfiguration).toEqual({
    Enabled: true,
    Processors: [
      { Type: 'RecordDeAggregation', Parameters: [{ ParameterName: 'SubRecordType', ParameterValue: 'DELIMITED' }, { ParameterName: 'Delimiter', ParameterValue: Buffer.from('|').toString('base64') }] },
      { Type: 'Lambda', Parameters: [{ ParameterName: 'LambdaArn', ParameterValue: 'http://fn.example/t' }, { ParameterName: 'NumberOfRetries', ParameterValue: '2' }, { ParameterName: 'BufferSizeInMBs', ParameterValue: '1' }, { ParameterName: 'BufferIntervalInSeconds', ParameterValue: '60' }] },
      { Type: 'AppendDelimiterToRecord' },
    ],
  });
  expect(r.def.s3.ProcessingConfiguration).toBeUndefined();
  expect(r.def.s3.DynamicPartitioningConfiguration).toBeUndefined();
});

test('without spec.processing the endpoint has no chain', () => {
  const spec = DeliveryStreamSpec.parse(base);
  const r = deliveryDefinitionOf(resource(spec), spec, undefined, 'us-east-1', '000000000000');
  if (!r.ok) throw new Error(r.message);
  expect(r.def.http!.ProcessingConfiguration).toBeUndefined();
});

test('dynamic partitioning with spec.http: refused (InvalidProcessing), and the CRD carries the rule', () => {
  const spec = DeliveryStreamSpec.parse({ ...base, buffering: { sizeMiB: 64 }, processing: { dynamicPartitioning: { partitionKeys: { k: '.k' } } } });
  expect(deliveryDefinitionOf(resource(spec), spec, undefined, 'us-east-1', '000000000000')).toMatchObject({ ok: false, reason: 'InvalidProcessing', message: expect.stringMatching(/S3 destination only/) });
  const rules = JSON.stringify(DeliveryStreamSpec.meta());
  expect(rules).toContain('!has(self.http) || !has(self.processing) || !has(self.processing.dynamicPartitioning)');
});
