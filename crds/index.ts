// Public surface of the APIs: types, zod schemas and identifiers.
export * from './schema/common.js';
export * from './schema/datastream.js';
export * from './schema/deliverystream.js';
export * from './schema/analyticsapp.js';
