import cliProgress from 'cli-progress';
import { formatDuration } from '../scenario/duration.js';
import type { Counters } from '../runner/fleet-stats.js';
import { connectingLine, summaryLine } from './summary.js';

export type DisplayMode = 'bar' | 'lines' | 'off';

const LINE_EVERY_MS = 10_000;

/**
 * What a person watches: a bar while devices register and connect, then one summary line kept up
 * to date. Without a terminal (logs, containers) the same text is printed every 10 seconds.
 */
export class ProgressDisplay {
  private bar: cliProgress.SingleBar | undefined;
  private phase: 'registering' | 'connecting' | 'running' | undefined;
  private lastLine = 0;
  private lastConnected = 0;
  private lastSampleAt = performance.now();
  private rate = 0;

  constructor(
    private readonly mode: DisplayMode,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  registering(done: number, total: number): void {
    if (this.mode === 'off') return;
    if (this.enter('registering')) {
      this.openBar('registering  {bar} {value}/{total} devices', total);
      this.line(`registering ${total.toLocaleString('en-US')} devices`);
    }
    this.bar?.update(done);
  }

  connecting(c: Counters): void {
    if (this.mode === 'off') return;
    const target = Math.max(1, c.devices - c.neverConnect);
    if (this.enter('connecting')) this.openBar('connecting   {bar} {value}/{total} connected · {failed} failed · {rate}/s · ETA {remaining}', target);
    this.sampleRate(c.everConnected);
    // Our own estimate: cli-progress's is infinite until the first device is in.
    const remaining = this.rate > 0 ? formatDuration(((target - c.everConnected) * 1000) / this.rate) : '…';
    this.bar?.update(c.everConnected, { failed: c.connectFailures.toLocaleString('en-US'), rate: Math.round(this.rate).toLocaleString('en-US'), remaining });
    this.periodic(() => connectingLine(c, this.rate));
  }

  running(c: Counters, upMs: number): void {
    if (this.mode === 'off') return;
    if (this.enter('running')) {
      this.openBar('{summary}', 1);
      this.lastLine = 0;
    }
    const text = summaryLine(c, upMs);
    this.bar?.update(0, { summary: text });
    this.periodic(() => text);
  }

  /** A line of its own, above the live display. */
  message(text: string): void {
    if (this.mode === 'off') return;
    if (this.bar) this.bar.stop();
    this.bar = undefined;
    this.stream.write(`${text}\n`);
    this.phase = undefined;
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }

  private enter(phase: 'registering' | 'connecting' | 'running'): boolean {
    if (this.phase === phase) return false;
    this.bar?.stop();
    this.bar = undefined;
    this.phase = phase;
    return true;
  }

  private openBar(format: string, total: number): void {
    if (this.mode !== 'bar') return;
    this.bar = new cliProgress.SingleBar(
      { format, stream: this.stream, hideCursor: true, barsize: 30, etaBuffer: 50, fps: 5, clearOnComplete: false },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { failed: '0', rate: '0', remaining: '…', summary: '' });
  }

  private line(text: string): void {
    if (this.mode === 'lines') this.stream.write(`${text}\n`);
  }

  private periodic(text: () => string): void {
    if (this.mode !== 'lines') return;
    const now = performance.now();
    if (now - this.lastLine < LINE_EVERY_MS) return;
    this.lastLine = now;
    this.stream.write(`${text()}\n`);
  }

  private sampleRate(connected: number): void {
    const now = performance.now();
    const elapsed = now - this.lastSampleAt;
    if (elapsed < 1000) return;
    this.rate = ((connected - this.lastConnected) * 1000) / elapsed;
    this.lastConnected = connected;
    this.lastSampleAt = now;
  }
}
