import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { REJECT_REASONS, type DeadLetter } from '../contracts/messages.ts';
import type { IngestObserver } from '../ingest/ingest-stage.ts';
import type { UrgentLaneObserver } from '../ingest/uplink-lanes.ts';
import type { SeqOutcome } from '../ingest/batch-sequence.ts';
import type { EngineObserver } from '../processors/device-engine.ts';
import type { CheckpointObserver } from '../processors/partition-checkpoints.ts';
import type { Clock } from './clock.ts';

const RATE_WINDOW_S = 10;

/**
 * Every metric of the pipeline, in one place: the runner owns observability and the stages only
 * call the observer hooks they are given. Exposed in Prometheus text at `/metrics`.
 */
export class PipelineMetrics implements IngestObserver, UrgentLaneObserver, EngineObserver, CheckpointObserver {
  readonly registry = new Registry();
  readonly #messages = new Counter({ name: 'gas_ingest_messages_total', help: 'MQTT uplink messages received, by topic type', labelNames: ['type'], registers: [this.registry] });
  readonly #accepted = new Counter({ name: 'gas_ingest_readings_total', help: 'Readings accepted by ingest', registers: [this.registry] });
  readonly #rejects = new Counter({ name: 'gas_ingest_rejects_total', help: 'Messages or readings rejected, by reason', labelNames: ['reason'], registers: [this.registry] });
  readonly #duplicates = new Counter({ name: 'gas_ingest_duplicate_batches_total', help: 'Batches dropped as repeats of an already received (gatewayId, seq)', registers: [this.registry] });
  readonly #gaps = new Counter({ name: 'gas_ingest_missing_batches_total', help: 'Batches never received, counted from gaps in gateway seq', registers: [this.registry] });
  readonly #restarts = new Counter({ name: 'gas_ingest_seq_restarts_total', help: 'Gateways that restarted their seq counter', registers: [this.registry] });
  readonly #seqOutliers = new Counter({ name: 'gas_ingest_seq_outliers_total', help: 'Batches whose seq jumped too far ahead to be believed (ingest.maxSeqJump): judged, no high-water mark moved', registers: [this.registry] });
  readonly #urgent = new Counter({ name: 'gas_ingest_urgent_uplinks_total', help: 'Uplinks that may raise a gas alarm taken ahead of waiting messages (embedded broker)', registers: [this.registry] });
  readonly #overtaken = new Counter({ name: 'gas_ingest_urgent_overtaken_total', help: "Waiting messages of other gateways that urgent uplinks went ahead of", registers: [this.registry] });
  readonly #busRetries = new Counter({ name: 'gas_ingest_bus_retries_total', help: 'Publishes to the bus between stages that failed and were tried again', registers: [this.registry] });
  readonly #judged = new Counter({ name: 'gas_processor_readings_total', help: 'Readings judged by the detectors', registers: [this.registry] });
  readonly #late = new Counter({ name: 'gas_processor_late_readings_total', help: 'Readings older than the newest already judged for their device (judged in event time, apart from the current state)', registers: [this.registry] });
  readonly #lateTooOld = new Counter({ name: 'gas_processor_late_too_old_total', help: "Late readings older than the late-reading window before their device's newest: not judged", registers: [this.registry] });
  readonly #unregistered = new Counter({ name: 'gas_processor_unregistered_readings_total', help: 'Readings from devices missing from the registry, judged on kind defaults', registers: [this.registry] });
  readonly #checkpoints = new Counter({ name: 'gas_processor_checkpoints_total', help: "Checkpoints of a partition's device state (Kafka), by outcome", labelNames: ['outcome'], registers: [this.registry] });
  readonly #checkpointDevices = new Counter({ name: 'gas_processor_checkpoint_devices_total', help: 'Device states written by checkpoints', registers: [this.registry] });
  readonly #checkpointSeconds = new Gauge({ name: 'gas_processor_checkpoint_last_seconds', help: 'How long the last checkpoint of a partition took, s', registers: [this.registry] });
  readonly #covered = new Counter({ name: 'gas_processor_covered_readings_total', help: "Readings replayed or redelivered after a restore or rejoin and left out: their device's state already covered them", registers: [this.registry] });
  readonly #alertEvents = new Counter({ name: 'gas_alert_events_total', help: 'Alert raise/clear edges applied, by condition', labelNames: ['condition', 'type'], registers: [this.registry] });
  readonly #rate = new Gauge({ name: 'gas_readings_per_second', help: `Readings accepted per second over the last ${RATE_WINDOW_S} s`, registers: [this.registry] });
  readonly #lag = new Gauge({ name: 'gas_pipeline_lag_seconds', help: 'Time from a batch arriving to its readings being judged, latest batch', registers: [this.registry] });
  readonly #samples: Array<{ atMs: number; total: number }> = [];
  #acceptedTotal = 0;

  constructor(private readonly clock: Clock) {
    collectDefaultMetrics({ register: this.registry, prefix: 'gas_process_' });
    for (const reason of REJECT_REASONS) this.#rejects.inc({ reason }, 0);
  }

  /** Gauges computed from the rest of the system at scrape time. */
  addGauge(name: string, help: string, labelNames: string[], collect: (gauge: Gauge) => void): void {
    new Gauge({ name, help, labelNames, registers: [this.registry], collect() { this.reset(); collect(this); } });
  }

  /** Samples the accepted count once a second, for the readings/s gauge. */
  sampleRate(): void {
    const now = this.clock.now();
    this.#samples.push({ atMs: now, total: this.#acceptedTotal });
    while (this.#samples.length > RATE_WINDOW_S + 1) this.#samples.shift();
    const first = this.#samples[0]!;
    const spanS = (now - first.atMs) / 1000;
    this.#rate.set(spanS > 0 ? (this.#acceptedTotal - first.total) / spanS : 0);
  }

  onMessage(type: 'up' | 'status' | 'other'): void {
    this.#messages.inc({ type });
  }

  onReadings(count: number): void {
    this.#accepted.inc(count);
    this.#acceptedTotal += count;
  }

  onCheckpoint(outcome: 'committed' | 'failed', devices: number, durationMs: number): void {
    this.#checkpoints.inc({ outcome });
    if (devices > 0) this.#checkpointDevices.inc(devices);
    this.#checkpointSeconds.set(durationMs / 1000);
  }

  onCovered(readings: number): void {
    if (readings > 0) this.#covered.inc(readings);
  }

  onJudged(judged: number, late: number, unregistered: number, tooOld: number): void {
    this.#judged.inc(judged);
    if (late > 0) this.#late.inc(late);
    if (tooOld > 0) this.#lateTooOld.inc(tooOld);
    if (unregistered > 0) this.#unregistered.inc(unregistered);
  }

  onRejects(letters: readonly DeadLetter[]): void {
    for (const l of letters) this.#rejects.inc({ reason: l.reason });
  }

  onSequence(outcome: SeqOutcome): void {
    if (outcome.verdict === 'duplicate') this.#duplicates.inc();
    if (outcome.missing > 0) this.#gaps.inc(outcome.missing);
    if (outcome.restarted) this.#restarts.inc();
    if (outcome.outlier) this.#seqOutliers.inc();
  }

  onBusRetry(): void {
    this.#busRetries.inc();
  }

  onUrgent(overtaken: number): void {
    this.#urgent.inc();
    this.#overtaken.inc(overtaken);
  }

  onLag(seconds: number): void {
    this.#lag.set(seconds);
  }

  onAlertEdge(condition: string, type: 'raise' | 'clear'): void {
    this.#alertEvents.inc({ condition, type });
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
