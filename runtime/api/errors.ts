// Kinesis error shapes: the `__type` name, HTTP status and message clients see.
// Names and statuses follow the AWS API reference; messages follow AWS wording.

export class KinesisError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly statusCode = 400,
  ) {
    super(message);
    this.name = type;
  }
}

export const validationError = (messages: string[]) =>
  new KinesisError(
    'ValidationException',
    `${messages.length} validation error${messages.length > 1 ? 's' : ''} detected: ${messages.join('; ')}`,
  );

export const serializationError = (message: string) => new KinesisError('SerializationException', message);

export const unknownOperation = () => new KinesisError('UnknownOperationException', '');

export const resourceNotFound = (message: string) => new KinesisError('ResourceNotFoundException', message);

export const streamNotFound = (name: string, account: string) =>
  resourceNotFound(`Stream ${name} under account ${account} not found.`);

export const resourceInUse = (message: string) => new KinesisError('ResourceInUseException', message);

export const invalidArgument = (message: string) => new KinesisError('InvalidArgumentException', message);

export const limitExceeded = (message: string) => new KinesisError('LimitExceededException', message);

export const expiredIterator = (message: string) => new KinesisError('ExpiredIteratorException', message);

export const throughputExceeded = (message = 'Rate exceeded for shard.') =>
  new KinesisError('ProvisionedThroughputExceededException', message);

export const internalFailure = (message = 'Internal service error.') =>
  new KinesisError('InternalFailure', message, 500);

export const serviceUnavailable = (message = 'Service unavailable.') =>
  new KinesisError('ServiceUnavailable', message, 503);

export const accessDenied = (message: string) => new KinesisError('AccessDeniedException', message);

export const expiredNextToken = (message: string) => new KinesisError('ExpiredNextTokenException', message);
