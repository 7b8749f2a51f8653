import { useEffect, useState } from 'preact/hooks';
import { api, get, type DeviceJob, type Job } from '../api';
import { Card, ErrorBox, ProgressBar, StatusPill } from '../components/ui';
import { compactJson, dateTime, fmt } from '../format';
import { useLive } from '../live';

const ACTIVE = new Set(['queued', 'scheduled', 'running']);

function localInput(date: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${p(date.getMonth() + 1)}-${p(date.getDate())}T${p(date.getHours())}:${p(date.getMinutes())}:${p(date.getSeconds())}`;
}

export function JobsPage() {
  const [jobs, setJobs] = useState<Job[]>([]);
  const [error, setError] = useState<unknown>();
  const [open, setOpen] = useState<string>();

  useEffect(() => {
    get<Job[]>('/jobs').then(setJobs, setError);
  }, []);
  useLive({ jobs: '1' }, { jobs: (list: Job[]) => setJobs(list) });

  const cancel = async (jobId: string): Promise<void> => {
    setError(undefined);
    try {
      await api('POST', `/jobs/${encodeURIComponent(jobId)}/cancel`);
    } catch (e) {
      setError(e);
    }
  };

  const newestFirst = [...jobs].reverse();
  return (
    <div class="page">
      <header class="page-head">
        <h1>Jobs</h1>
        <p class="subtitle">{`${fmt(jobs.filter((j) => ACTIVE.has(j.status)).length)} active · ${fmt(jobs.length)} in all`}</p>
      </header>
      <ScheduleForm
        onScheduled={(job) => {
          setJobs((list) => (list.some((j) => j.jobId === job.jobId) ? list : [...list, job]));
          setOpen(job.jobId);
        }}
      />
      <ErrorBox error={error} />
      <Card title="Jobs">
        <table class="table jobs-table" aria-label="Jobs">
          <colgroup>
            <col class="c-job" />
            <col class="c-type" />
            <col class="c-jstatus" />
            <col class="c-progress" />
            <col class="c-jtime" />
            <col class="c-jactions" />
          </colgroup>
          <thead>
            <tr>
              <th>Job ID</th>
              <th>Type</th>
              <th>Status</th>
              <th>Progress</th>
              <th>Start</th>
              <th>
                <span class="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {newestFirst.length === 0 && (
              <tr>
                <td colSpan={6} class="empty">
                  No jobs yet. Schedule one above.
                </td>
              </tr>
            )}
            {newestFirst.map((job) => {
              const s = job.deviceJobStatistics;
              const expanded = open === job.jobId;
              return [
                <tr key={job.jobId} data-job-id={job.jobId} class={expanded ? 'selected' : ''}>
                  <td class="mono ellipsis">
                    <button type="button" class="link" aria-expanded={expanded} onClick={() => setOpen(expanded ? undefined : job.jobId)}>
                      {expanded ? '▾' : '▸'} {job.jobId}
                    </button>
                  </td>
                  <td>{job.type === 'scheduleDeviceMethod' ? `method ${job.cloudToDeviceMethod?.methodName ?? ''}` : 'twin update'}</td>
                  <td>
                    <StatusPill status={job.status} />
                  </td>
                  <td>
                    <div class="progress-cell">
                      <ProgressBar done={s.succeededCount} failed={s.failedCount} total={s.deviceCount} />
                      <span class="small muted stats-text" data-testid="job-stats">
                        {fmt(s.succeededCount)} ok · {fmt(s.failedCount)} failed · {fmt(s.runningCount + s.pendingCount)} left of {fmt(s.deviceCount)}
                      </span>
                    </div>
                  </td>
                  <td class="muted small">{dateTime(job.startTime)}</td>
                  <td class="actions">
                    {ACTIVE.has(job.status) && (
                      <button class="btn btn-small" type="button" onClick={() => void cancel(job.jobId)}>
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>,
                expanded && (
                  <tr key={`${job.jobId}-detail`} class="detail-row">
                    <td colSpan={6}>
                      <JobDetail job={job} />
                    </td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      </Card>
    </div>
  );
}

function JobDetail({ job }: { job: Job }) {
  const [results, setResults] = useState<{ total: number; rows: DeviceJob[] }>();
  const [error, setError] = useState<unknown>();
  const s = job.deviceJobStatistics;
  const progress = s.succeededCount + s.failedCount;
  useEffect(() => {
    get<{ total: number; rows: DeviceJob[] }>(`/jobs/${encodeURIComponent(job.jobId)}/devices`).then(setResults, setError);
  }, [job.jobId, job.status, progress]);
  return (
    <div class="job-detail">
      <dl class="facts">
        <div>
          <dt>Query condition</dt>
          <dd class="mono">{job.queryCondition}</dd>
        </div>
        <div>
          <dt>Created</dt>
          <dd>{dateTime(job.createdTime)}</dd>
        </div>
        <div>
          <dt>Ended</dt>
          <dd>{dateTime(job.endTime)}</dd>
        </div>
        <div>
          <dt>Max execution</dt>
          <dd>{fmt(job.maxExecutionTimeInSeconds)} s</dd>
        </div>
        {job.failureReason && (
          <div>
            <dt>Failure</dt>
            <dd>{job.failureReason}</dd>
          </div>
        )}
      </dl>
      <ErrorBox error={error} />
      <table class="table compact" aria-label={`Device results of ${job.jobId}`}>
        <thead>
          <tr>
            <th>Device</th>
            <th>Status</th>
            <th>Result</th>
            <th>Updated</th>
          </tr>
        </thead>
        <tbody>
          {results?.rows.length === 0 && (
            <tr>
              <td colSpan={4} class="empty">
                No device results yet.
              </td>
            </tr>
          )}
          {results?.rows.map((r) => (
            <tr>
              <td class="mono">
                <a href={`/devices/${encodeURIComponent(r.deviceId)}`}>{r.deviceId}</a>
              </td>
              <td>
                <StatusPill status={r.status} />
              </td>
              <td class="mono small ellipsis">
                {r.error
                  ? `${r.error.code}: ${r.error.description}`
                  : r.outcome?.deviceMethodResponse
                    ? `${r.outcome.deviceMethodResponse.status} ${compactJson(r.outcome.deviceMethodResponse.payload)}`
                    : ''}
              </td>
              <td class="muted small">{dateTime(r.lastUpdatedDateTimeUtc)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {results && results.total > results.rows.length && (
        <p class="muted small">
          First {fmt(results.rows.length)} of {fmt(results.total)} devices; query <code>SELECT * FROM devices.jobs WHERE jobId = '{job.jobId}'</code> for all.
        </p>
      )}
    </div>
  );
}

function ScheduleForm({ onScheduled }: { onScheduled: (job: Job) => void }) {
  const [type, setType] = useState<'method' | 'twin'>('method');
  const [jobId, setJobId] = useState(() => `job-${Date.now().toString(36)}`);
  const [condition, setCondition] = useState('*');
  const [method, setMethod] = useState('lockDoor');
  const [payload, setPayload] = useState('{}');
  const [timeout, setTimeoutSeconds] = useState('30');
  const [twinPatch, setTwinPatch] = useState('{\n  "properties": { "desired": { "telemetryInterval": 10 } }\n}');
  const [start, setStart] = useState('');
  const [maxSeconds, setMaxSeconds] = useState('3600');
  const [error, setError] = useState<unknown>();

  const submit = async (): Promise<void> => {
    setError(undefined);
    let body: Record<string, unknown>;
    try {
      body = {
        jobId,
        queryCondition: condition,
        startTime: (start ? new Date(start) : new Date()).toISOString(),
        maxExecutionTimeInSeconds: Number(maxSeconds),
        ...(type === 'method'
          ? {
              type: 'scheduleDeviceMethod',
              cloudToDeviceMethod: { methodName: method, payload: payload.trim() ? JSON.parse(payload) : null, responseTimeoutInSeconds: Number(timeout) },
            }
          : { type: 'scheduleUpdateTwin', updateTwin: { etag: '*', ...JSON.parse(twinPatch) } }),
      };
    } catch (e) {
      setError(new Error(`Not valid JSON: ${(e as Error).message}`));
      return;
    }
    try {
      const job = await api<Job>('PUT', `/jobs/${encodeURIComponent(jobId)}`, body);
      onScheduled(job);
      setJobId(`job-${Date.now().toString(36)}`);
    } catch (e) {
      setError(e);
    }
  };

  return (
    <Card title="Schedule a job">
      <form
        class="schedule-form"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <div class="fields">
          <fieldset class="segmented" aria-label="Job type">
            <label class={type === 'method' ? 'on' : ''}>
              <input type="radio" name="job-type" checked={type === 'method'} onChange={() => setType('method')} />
              Direct method
            </label>
            <label class={type === 'twin' ? 'on' : ''}>
              <input type="radio" name="job-type" checked={type === 'twin'} onChange={() => setType('twin')} />
              Twin update
            </label>
          </fieldset>
          <label class="field">
            Job ID
            <input class="mono" value={jobId} onInput={(e) => setJobId((e.target as HTMLInputElement).value)} required />
          </label>
          <label class="field grow">
            Query condition
            <input
              class="mono"
              value={condition}
              onInput={(e) => setCondition((e.target as HTMLInputElement).value)}
              placeholder="* or e.g. tags.building = 43"
              required
            />
          </label>
          <label class="field">
            Start time (local, empty = now)
            <input type="datetime-local" step="1" value={start} onInput={(e) => setStart((e.target as HTMLInputElement).value)} min={localInput(new Date(0))} />
          </label>
          <label class="field narrow">
            Max execution (s)
            <input type="number" min="1" value={maxSeconds} onInput={(e) => setMaxSeconds((e.target as HTMLInputElement).value)} />
          </label>
        </div>
        {type === 'method' ? (
          <div class="fields">
            <label class="field">
              Method name
              <input value={method} onInput={(e) => setMethod((e.target as HTMLInputElement).value)} required />
            </label>
            <label class="field grow">
              Payload (JSON)
              <input class="mono" value={payload} onInput={(e) => setPayload((e.target as HTMLInputElement).value)} />
            </label>
            <label class="field narrow">
              Response timeout (s)
              <input type="number" min="5" max="300" value={timeout} onInput={(e) => setTimeoutSeconds((e.target as HTMLInputElement).value)} />
            </label>
          </div>
        ) : (
          <label class="field">
            Twin patch (tags and/or properties.desired)
            <textarea class="code" rows={4} spellcheck={false} value={twinPatch} onInput={(e) => setTwinPatch((e.target as HTMLTextAreaElement).value)} />
          </label>
        )}
        <div class="row">
          <button class="btn btn-primary" type="submit">
            Schedule job
          </button>
          <span class="muted small">Runs on the emulator clock: a start time ahead waits until the clock passes it (advance it on the Hub page).</span>
        </div>
        <ErrorBox error={error} />
      </form>
    </Card>
  );
}
