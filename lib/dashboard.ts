import { ArnFormat, Duration, Stack } from "aws-cdk-lib";
import { SlackChannelConfiguration } from "aws-cdk-lib/aws-chatbot";
import {
  Alarm,
  AlarmStatusWidget,
  Dashboard as CloudWatchDashboard,
  ComparisonOperator,
  GraphWidget,
  type IMetric,
  type IWidget,
  Metric,
  Row,
  TextWidget,
  TreatMissingData,
} from "aws-cdk-lib/aws-cloudwatch";
import { SnsAction } from "aws-cdk-lib/aws-cloudwatch-actions";
import { PolicyStatement, ServicePrincipal } from "aws-cdk-lib/aws-iam";
import { Topic } from "aws-cdk-lib/aws-sns";
import { EmailSubscription, UrlSubscription } from "aws-cdk-lib/aws-sns-subscriptions";
import { Construct } from "constructs";
import type { AlarmSubscriptions } from "../functions/core/manifest/types.ts";
import { BATCH_SERVICE } from "../functions/core/metrics.ts";
import type { DataKey } from "./data-key.ts";
import type { EventStream } from "./event-stream.ts";
import type { IngestApi } from "./ingest-api.ts";
import type { Pipeline } from "./pipeline.ts";
import { StreamMetrics } from "./stream-metrics.ts";

export interface DashboardProps {
  /** Shown on the dashboard (`{app}` or `{app}-{stage}`). */
  readonly app: string;
  readonly topicName: string;
  /** Account-global: carries the stage and region (functions/core/names.ts). */
  readonly dashboardName: string;
  readonly key: DataKey;
  readonly ingest: IngestApi;
  readonly events: EventStream;
  /** Pipelines by name. */
  readonly pipelines: ReadonlyMap<string, Pipeline>;
  /** Further alarms to send to the topic and show (the import jobs'). @default none */
  readonly alarms?: readonly Alarm[];
  /** The streams, each with the pipelines reading it: a row of per-stream figures each. @default none */
  readonly streams?: readonly { readonly name: string; readonly pipelines: readonly string[] }[];
  /** Where the functions' EMF metrics are (`Sluice/<app>`). @default "Sluice" */
  readonly metricsNamespace?: string;
  /**
   * End-to-end lag (a committed batch's oldest event time to its files, any pipeline) at which to
   * alarm, three minutes in a row. @default Duration.minutes(15)
   */
  readonly deliveryLagAlarm?: Duration;
  /** Who the alarms reach (the manifest's `alarms`). @default nobody */
  readonly subscriptions?: AlarmSubscriptions;
}

/**
 * The alarm topic every Sluice alarm notifies (KMS-encrypted, TLS only, publishable only by this
 * account's CloudWatch alarms) and one dashboard: ingest requests, 4xx/5xx and latency p50/p99;
 * the stream's traffic and throttles; per stream records accepted, duplicated and delivered,
 * rejections by code, bytes, files and the end-to-end lag (the functions' EMF metrics, as
 * `GET /v1/streams/{stream}/stats` reads them); per pipeline iterator age, records in (read,
 * filtered out, invoked), records out (delivered, to errors, dropped), delivery lag, dead letters
 * and function health.
 */
export class Dashboard extends Construct {
  public readonly topic: Topic;
  public readonly dashboard: CloudWatchDashboard;

  constructor(scope: Construct, id: string, props: DashboardProps) {
    super(scope, id);
    const topicName = props.topicName;
    props.key.allowAlarmTopic(topicName);
    this.topic = new Topic(this, "Alarms", {
      topicName,
      displayName: `Sluice ${props.app} alarms`,
      masterKey: props.key.key,
      enforceSSL: true,
    });
    // The TLS-only policy replaces SNS's default one, so CloudWatch's publishing is allowed here.
    const stack = Stack.of(this);
    this.topic.addToResourcePolicy(
      new PolicyStatement({
        sid: "CloudWatchAlarmsPublish",
        principals: [new ServicePrincipal("cloudwatch.amazonaws.com")],
        actions: ["sns:Publish"],
        resources: [this.topic.topicArn],
        conditions: {
          ArnLike: {
            "aws:SourceArn": stack.formatArn({
              service: "cloudwatch",
              resource: "alarm",
              resourceName: "*",
              arnFormat: ArnFormat.COLON_RESOURCE_NAME,
            }),
          },
          StringEquals: { "aws:SourceAccount": stack.account },
        },
      }),
    );

    const subs = props.subscriptions;
    for (const email of subs?.email ?? []) this.topic.addSubscription(new EmailSubscription(email));
    for (const url of subs?.https ?? []) this.topic.addSubscription(new UrlSubscription(url));
    (subs?.slack ?? []).forEach((slack, i) => {
      // Chatbot's role gets no policies: it only relays the topic's notifications to the channel.
      new SlackChannelConfiguration(this, `Slack${i}`, {
        slackChannelConfigurationName: `${props.topicName}-${i}`.slice(0, 128),
        slackWorkspaceId: slack.workspaceId,
        slackChannelId: slack.channelId,
        notificationTopics: [this.topic],
      });
    });

    // One alarm for the app, on the batcher's DeliveryLag by `service` (functions/core/metrics.ts):
    // one per pipeline would cost a resource each of the stack's 500.
    const deliveryLag = new Alarm(this, "DeliveryLagAlarm", {
      alarmDescription: `${props.app}: records reach their files late (event time to file): the pipelines or producers' clocks`,
      metric: new Metric({
        namespace: props.metricsNamespace ?? "Sluice",
        metricName: "DeliveryLag",
        dimensionsMap: { service: BATCH_SERVICE },
        statistic: "Maximum",
        period: Duration.minutes(1),
      }),
      threshold: (props.deliveryLagAlarm ?? Duration.minutes(15)).toMilliseconds(),
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: 3,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    const alarms: Alarm[] = [
      deliveryLag,
      ...props.ingest.alarms,
      ...props.events.alarms,
      ...[...props.pipelines.values()].flatMap((p) => [...p.alarms]),
      ...(props.alarms ?? []),
    ];
    const action = new SnsAction(this.topic);
    for (const alarm of alarms) alarm.addAlarmAction(action);

    const graph = (title: string, left: IMetric[], right: IMetric[] = []) =>
      new GraphWidget({ title, left, right, width: 8, height: 6 });
    const rows: IWidget[] = [
      new TextWidget({ markdown: `# Sluice ${props.app}`, width: 24, height: 1 }),
      ...alarmStatusWidgets(alarms),
      new Row(
        graph(
          "Ingest requests and errors",
          [props.ingest.metricRequests()],
          [props.ingest.metricClientErrors(), props.ingest.metricServerErrors()],
        ),
        graph("Ingest latency", [props.ingest.metricLatency("p50"), props.ingest.metricLatency("p99")]),
        graph("Event stream", [props.events.metricIncomingRecords()], [props.events.metricWriteThrottles()]),
      ),
    ];
    for (const stream of props.streams ?? []) {
      const m = new StreamMetrics({
        namespace: props.metricsNamespace ?? "Sluice",
        stream: stream.name,
        pipelines: stream.pipelines,
      });
      rows.push(
        new TextWidget({ markdown: `## Stream ${stream.name}`, width: 24, height: 1 }),
        new Row(
          graph(
            `${stream.name}: records`,
            [m.ingest("RecordsAccepted", "accepted"), ...m.delivery("RecordsDelivered")],
            [m.ingest("RecordsDuplicate", "duplicates"), m.ingest("RecordsRejected", "rejected")],
          ),
          graph(`${stream.name}: rejected by code`, [m.rejectedByCode()]),
          graph(
            `${stream.name}: bytes, files and lag`,
            [m.ingest("BytesAccepted", "bytes accepted"), ...m.delivery("FilesWritten")],
            m.delivery("DeliveryLag"),
          ),
        ),
      );
    }
    for (const [name, p] of props.pipelines) {
      rows.push(
        new TextWidget({ markdown: `## Pipeline ${name}`, width: 24, height: 1 }),
        new Row(
          graph(`${name}: iterator age`, [p.metricIteratorAge()]),
          graph(`${name}: records in`, [
            p.metricMappingEvents("PolledEventCount"),
            p.metricMappingEvents("FilteredOutEventCount"),
            p.metricMappingEvents("InvokedEventCount"),
          ]),
          graph(
            `${name}: records out`,
            [p.metricRecordsDelivered(), p.metricRecordsDropped()],
            [p.metricRecordsFailed().with({ period: Duration.minutes(1) }), p.metricFailedBatches()],
          ),
        ),
        new Row(
          graph(`${name}: delivery lag (event time to file)`, [
            p.metricDeliveryLag().with({ label: "lag (max)" }),
          ]),
          graph(
            `${name}: batcher`,
            [p.batcher.metricDuration({ statistic: "p99" })],
            [p.batcher.metricErrors(), p.batcher.metricThrottles()],
          ),
          ...(p.transformer
            ? [
                graph(
                  `${name}: transformer`,
                  [p.transformer.metricDuration({ statistic: "p99" })],
                  [p.transformer.metricErrors(), p.transformer.metricThrottles()],
                ),
              ]
            : []),
        ),
      );
    }
    this.dashboard = new CloudWatchDashboard(this, "Dashboard", {
      dashboardName: props.dashboardName,
      widgets: rows.map((row) => [row]),
    });
  }
}

/** CloudWatch allows 100 alarms in one alarm status widget: one widget per hundred. */
export const ALARMS_PER_STATUS_WIDGET = 100;

function alarmStatusWidgets(alarms: readonly Alarm[]): AlarmStatusWidget[] {
  const widgets: AlarmStatusWidget[] = [];
  for (let i = 0; i < alarms.length; i += ALARMS_PER_STATUS_WIDGET) {
    const part = alarms.slice(i, i + ALARMS_PER_STATUS_WIDGET);
    const title = alarms.length > ALARMS_PER_STATUS_WIDGET ? `Alarms ${i + 1}-${i + part.length}` : "Alarms";
    widgets.push(new AlarmStatusWidget({ title, alarms: part, width: 24, height: 3 }));
  }
  return widgets;
}
