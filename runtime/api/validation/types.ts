// Rule types for request validation. A Shape describes one member the way the
// AWS model does (type, nullability, ranges, lengths, pattern, enum); the
// checker reports violations in a fixed order that matches kinesalite's
// validation tables (which mirror what Kinesis itself reports).

export type WireProtocol = 'json' | 'cbor';

export type ShapeType =
  | 'Boolean'
  | 'Integer'
  | 'Long'
  | 'String'
  | 'Blob'
  | 'Timestamp'
  | 'List'
  | 'Map'
  | 'Structure';

export interface Shape {
  readonly type: ShapeType;
  /** Required by the model: "Member must not be null". */
  readonly notNull?: boolean;
  /** Numeric range (Integer/Long). */
  readonly min?: number;
  readonly max?: number;
  /** Whole-value regular expression, printed verbatim in the message. */
  readonly pattern?: string;
  /** Length of strings, decoded blobs, lists and maps. */
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly enum?: readonly string[];
  /** Lists of strings: member length/enum, reported once against the whole list. */
  readonly memberLengths?: readonly [number, number];
  readonly memberEnum?: readonly string[];
  /** Maps of strings: key and value lengths, reported once against the whole map. */
  readonly keyLengths?: readonly [number, number];
  readonly valueLengths?: readonly [number, number];
  /** How AWS prints a list member that has no useful toString (a Java object id). */
  readonly memberStr?: string;
  /** List member / map value shape. */
  readonly member?: Shape;
  /** Structure members, in the order their violations are reported. */
  readonly members?: Members;
}

export type Members = Readonly<Record<string, Shape>>;

/** Input members of one operation, in the order violations are reported. */
export type OperationRules = Members;
