// L3 construct: a whole pipeline, stream -> delivery -> analytics. One
// DataStream producers write to, a DeliveryStream archiving it, and optionally
// an AnalyticsApp running SQL over it into a results DataStream.
import { Construct } from 'constructs';
import { AnalyticsApp, type AnalyticsInputProps } from './analyticsApp.js';
import { DataStream, type DataStreamProps } from './dataStream.js';
import { DeliveryStream, type DeliveryStreamProps } from './deliveryStream.js';

export interface PipelineProps {
  /** The ingest stream. @default DataStream defaults */
  readonly stream?: DataStreamProps;
  /** Archive of the ingest stream. @default no delivery */
  readonly delivery?: Omit<DeliveryStreamProps, 'source'>;
  /** SQL over the ingest stream; rows go to a results DataStream. @default no analytics */
  readonly analytics?: {
    readonly sql: string;
    readonly columns: AnalyticsInputProps['columns'];
    readonly format?: AnalyticsInputProps['format'];
    /** In-application stream written to the results stream. @default 'DESTINATION_SQL_STREAM' */
    readonly outputName?: string;
    /** The results stream. @default DataStream defaults */
    readonly results?: DataStreamProps;
  };
}

export class Pipeline extends Construct {
  readonly stream: DataStream;
  readonly delivery?: DeliveryStream;
  readonly analytics?: AnalyticsApp;
  readonly results?: DataStream;

  constructor(scope: Construct, id: string, props: PipelineProps = {}) {
    super(scope, id);
    this.stream = new DataStream(this, 'Stream', props.stream);
    if (props.delivery) this.delivery = new DeliveryStream(this, 'Delivery', { ...props.delivery, source: this.stream });
    if (props.analytics) {
      const a = props.analytics;
      this.results = new DataStream(this, 'Results', a.results);
      this.analytics = new AnalyticsApp(this, 'Analytics', {
        sql: a.sql,
        inputs: [{ stream: this.stream, columns: a.columns, format: a.format }],
        outputs: [{ name: a.outputName, to: this.results }],
      });
    }
  }
}
