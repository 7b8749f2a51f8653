import { Option, type Command } from 'commander';
import type { TargetOptions } from '../hub-target.js';
import { printList, printRecord, type OutputOptions } from '../output.js';
import { clientCommand, runCommand } from '../run-command.js';

type Options = TargetOptions & OutputOptions;

interface JobJson {
  jobId?: string;
  type?: string;
  status?: string;
  startTime?: string;
  endTime?: string;
  queryCondition?: string;
  deviceJobStatistics?: { deviceCount?: number; succeededCount?: number; failedCount?: number; pendingCount?: number; runningCount?: number };
}

/** `job list|show|cancel`, in the shape of `az iot hub job`. */
export function registerJobCommands(program: Command): void {
  const job = program.command('job').description('list, show and cancel scheduled jobs (jobs v2), as az iot hub job does');

  clientCommand(job.command('list').description('list jobs, newest first'))
    .addOption(new Option('--type <type>', 'only jobs of this type').choices(['scheduleDeviceMethod', 'scheduleUpdateTwin']))
    .addOption(new Option('--status <status>', 'only jobs in this status').choices(['queued', 'scheduled', 'running', 'completed', 'failed', 'cancelled']))
    .action((opts: Options & { type?: string; status?: string }) =>
      runCommand(opts, async (target, format) => {
        const query = target.jobs().createQuery(opts.type as never, opts.status as never);
        const jobs: JobJson[] = [];
        while (query.hasMoreResults) {
          const page = await query.next(query.continuationToken as string);
          jobs.push(...(page.result as JobJson[]));
        }
        printList(format, jobs, [
          { header: 'JobId', value: (j) => j.jobId },
          { header: 'Type', value: (j) => j.type },
          { header: 'Status', value: (j) => j.status },
          { header: 'StartTime', value: (j) => j.startTime },
          { header: 'EndTime', value: (j) => j.endTime },
          { header: 'Devices', value: (j) => statistics(j) },
          { header: 'Query', value: (j) => j.queryCondition },
        ]);
      }),
    );

  clientCommand(job.command('show <jobId>').description("print a job, with its devices' statistics")).action((jobId: string, opts: Options) =>
    runCommand(opts, async (target, format) => {
      printRecord(format, (await target.jobs().getJob(jobId)).jobStatus);
    }),
  );

  clientCommand(job.command('cancel <jobId>').description('cancel a scheduled or running job (device operations already done stay done)')).action(
    (jobId: string, opts: Options) =>
      runCommand(opts, async (target, format) => {
        printRecord(format, (await target.jobs().cancelJob(jobId)).jobStatus);
      }),
  );
}

function statistics(job: JobJson): string {
  const s = job.deviceJobStatistics;
  if (!s) return '';
  return `${s.succeededCount ?? 0}/${s.deviceCount ?? 0} ok, ${s.failedCount ?? 0} failed, ${(s.pendingCount ?? 0) + (s.runningCount ?? 0)} to go`;
}
