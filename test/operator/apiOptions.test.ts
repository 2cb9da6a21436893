// The operator's install-level settings for API-created delivery streams:
// the Lambda ARN → URL map and the worker autoscaling, checked when the
// operator starts, with a reason for a bad value (`shardline operator` exits
// with it as one line), and the same defaults as a DeliveryStream's spec.autoscaling.
import { lambdaFunctionMap, workerAutoscaling } from '../../operator/options.js';

test('--api-lambda-functions: Lambda function ARNs (with or without a qualifier) to http(s) URLs', () => {
  const map = {
    'arn:aws:lambda:us-east-1:000000000000:function:enrich': 'http://enrich.fn.svc:8080/',
    'arn:aws:lambda:eu-west-1:123456789012:function:tag-it:live': 'https://fn.example.com/tag',
  };
  expect(lambdaFunctionMap(JSON.stringify(map))).toEqual(map);
  expect(lambdaFunctionMap('{}')).toEqual({});
});

test.each([
  ['not json', /JSON object/],
  ['[]', /JSON object/],
  ['{"arn:aws:s3:::bucket": "http://x/"}', /is not a Lambda function ARN/],
  ['{"enrich": "http://x/"}', /is not a Lambda function ARN/],
  ['{"arn:aws:lambda:us-east-1:000000000000:function:enrich": "ftp://x/"}', /must be an http\(s\) URL/],
  ['{"arn:aws:lambda:us-east-1:000000000000:function:enrich": 3}', /must be an http\(s\) URL/],
])('--api-lambda-functions %s is refused', (raw, why) => {
  expect(() => lambdaFunctionMap(raw)).toThrow(why);
});

test('--api-delivery-autoscaling: a DeliveryStream spec.autoscaling, with its defaults', () => {
  expect(workerAutoscaling('{}')).toEqual({ minReplicas: 1, maxReplicas: 10, targetLagSeconds: 60, scaleUpStabilizationSeconds: 30, scaleDownStabilizationSeconds: 300 });
  expect(workerAutoscaling('{"maxReplicas": 4, "targetLagSeconds": 5}')).toMatchObject({ minReplicas: 1, maxReplicas: 4, targetLagSeconds: 5 });
});

test.each([
  ['nope', /JSON object/],
  ['{"minReplicas": 5, "maxReplicas": 2}', /minReplicas must not exceed maxReplicas/],
  ['{"maxReplicas": 0}', /maxReplicas/],
  ['{"maxReplica": 3}', /maxReplica/],
])('--api-delivery-autoscaling %s is refused', (raw, why) => {
  expect(() => workerAutoscaling(raw)).toThrow(why);
});
