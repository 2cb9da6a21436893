// What a service besides Kinesis brings to the shared endpoint (services.ts).
import type { Wire } from '../http/wire.js';
import type { ApiContext } from './context.js';

export interface Service {
  /** The SigV4 service name the credential scope must name. */
  signingName: string;
  isKnown(op: string): boolean;
  call(ctx: ApiContext, op: string, body: Record<string, unknown>, wire: Wire): Promise<Record<string, unknown>>;
}
