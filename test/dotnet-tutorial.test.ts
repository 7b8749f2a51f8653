import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../emulator/hub.js';
import { createSasToken } from '../protocol/sas.js';
import { DESIRED_FILTER, METHODS_FILTER, TWIN_RESPONSE_FILTER, methodResponseTopic, parseHubPublish } from '../protocol/topics.js';
import { startTestHub } from './support/hub-factory.js';
import { call, queryAll, registerDevices } from './support/job-helpers.js';
import { waitUntil } from './support/wait.js';

// The .NET/.NET "Schedule and broadcast jobs" tutorial, replayed byte for byte on the wire: its
// device (Microsoft.Azure.Devices.Client over MQTT) answers LockDoor with
// `new MethodResponse(Encoding.UTF8.GetBytes("'Door was locked.'"), 200)`, and its back end
// (Microsoft.Azure.Devices JobClient) schedules the method on `DeviceId IN ['…']`.
// There is no .NET runtime here, so the test speaks what those SDKs put on the wire.

let hub: Hub;

beforeAll(async () => {
  hub = await startTestHub();
});
afterAll(() => hub?.stop());

/** Uri.EscapeDataString: RFC 3986 unreserved characters stay, everything else is percent-encoded. */
function escapeDataString(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** ProductInfo.ToString() of Microsoft.Azure.Devices.Client: `.NET/{version} ({runtime}; {os}; {arch})`. */
const dotnetUserAgent = '.NET/1.42.3 (.NET 8.0.11; Linux 6.8.0-1017-azure #20~22.04.1-Ubuntu SMP Thu Oct 24 14:11:19 UTC 2024; X64)';

/**
 * The .NET device SDK's MQTT session: CONNECT with its username, keep-alive 300 and clean
 * session 0, then one QoS 1 SUBSCRIBE per packet (twin responses on open, then the method
 * handler and the desired-property callback the tutorial registers). It answers every method
 * with `answer` at QoS 1, as the SDK publishes method responses.
 */
async function dotnetDevice(deviceId: string, answer: string, status = 200): Promise<{ client: MqttClient; calls: string[] }> {
  const key = hub.registry.get(deviceId).authentication.symmetricKey.primaryKey!;
  const client = mqtt.connect(`mqtts://${hub.hostName}:${hub.mqttPort}`, {
    clientId: deviceId,
    username: `${hub.hostName}/${deviceId}/?api-version=2020-09-30&DeviceClientType=${escapeDataString(dotnetUserAgent)}`,
    password: createSasToken(`${hub.hostName}/devices/${deviceId}`, key, Math.floor(Date.now() / 1000) + 3600),
    protocolVersion: 4,
    keepalive: 300,
    clean: false,
    reconnectPeriod: 0,
    ca: hub.ca,
  });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });
  client.on('error', () => undefined);
  const calls: string[] = [];
  client.on('message', (topic) => {
    const publish = parseHubPublish(topic);
    if (publish?.kind !== 'methodRequest') return;
    calls.push(publish.methodName);
    client.publish(methodResponseTopic(status, publish.rid), Buffer.from(answer, 'utf8'), { qos: 1 });
  });
  for (const filter of [TWIN_RESPONSE_FILTER, METHODS_FILTER, DESIRED_FILTER]) {
    const granted = await client.subscribeAsync(filter, { qos: 1 });
    expect(granted[0].qos).toBe(1);
  }
  return { client, calls };
}

describe('the .NET tutorial device answering LockDoor with a single-quoted string', () => {
  it('escapes DeviceClientType as Uri.EscapeDataString does', () => {
    expect(escapeDataString('.NET/1.42.3 (.NET 8.0.11; X64)')).toBe('.NET%2F1.42.3%20%28.NET%208.0.11%3B%20X64%29');
  });

  it('a direct call returns 200 with the payload as a JSON string', async () => {
    await registerDevices(hub, ['dotnet-direct']);
    const { client, calls } = await dotnetDevice('dotnet-direct', "'Door was locked.'");
    try {
      // ServiceClient.InvokeDeviceMethodAsync(new CloudToDeviceMethod("LockDoor")): zero connect timeout omitted, payload null.
      const response = await call(
        hub,
        'POST',
        '/twins/dotnet-direct/methods?api-version=2021-04-12',
        '{"methodName":"LockDoor","responseTimeoutInSeconds":30,"payload":null}',
      );
      expect(response.status).toBe(200);
      expect(response.json).toEqual({ status: 200, payload: 'Door was locked.' });
      expect(calls).toEqual(['LockDoor']);
    } finally {
      await client.endAsync();
    }
  });

  it("the tutorial's method job over DeviceId IN ['…'] ends completed with 1 succeeded", async () => {
    await registerDevices(hub, ['dotnet-job']);
    const { client, calls } = await dotnetDevice('dotnet-job', "'Door was locked.'");
    try {
      // JobClient.ScheduleDeviceMethodAsync(jobId, "DeviceId IN ['dotnet-job']",
      //   new CloudToDeviceMethod("LockDoor", TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(5)), DateTime.UtcNow, 120)
      const startTime = new Date().toISOString().replace('Z', '1234Z');
      const jobId = 'DHJob-dotnet';
      const body = `{"jobId":"${jobId}","type":"scheduleDeviceMethod","cloudToDeviceMethod":{"methodName":"LockDoor","payload":null,"responseTimeoutInSeconds":5,"connectTimeoutInSeconds":5},"queryCondition":"DeviceId IN ['dotnet-job']","startTime":"${startTime}","maxExecutionTimeInSeconds":120}`;
      const created = await call(hub, 'PUT', `/jobs/v2/${jobId}?api-version=2021-04-12`, body);
      expect(created.status).toBe(200);

      // MonitorJob: GetJobAsync until Completed or Failed.
      const job = await waitUntil(
        async () => {
          const answer = await call(hub, 'GET', `/jobs/v2/${jobId}?api-version=2021-04-12`);
          return ['completed', 'failed'].includes(answer.json.status) ? answer.json : undefined;
        },
        15_000,
        'the job to finish',
      );
      expect(job.status).toBe('completed');
      expect(job.deviceJobStatistics).toEqual({ deviceCount: 1, failedCount: 0, succeededCount: 1, runningCount: 0, pendingCount: 0 });
      expect(calls).toEqual(['LockDoor']);

      const { items } = await queryAll(hub, `SELECT * FROM devices.jobs WHERE devices.jobs.jobId = '${jobId}'`);
      expect(items).toHaveLength(1);
      expect(items[0].status).toBe('completed');
      expect(items[0].outcome).toEqual({ deviceMethodResponse: { status: 200, payload: 'Door was locked.' } });
    } finally {
      await client.endAsync();
    }
  });

  it('plain text is still 502 InvalidResponseWhileProxying', async () => {
    await registerDevices(hub, ['dotnet-text']);
    const { client } = await dotnetDevice('dotnet-text', 'Door was locked.');
    try {
      const response = await call(
        hub,
        'POST',
        '/twins/dotnet-text/methods?api-version=2021-04-12',
        '{"methodName":"LockDoor","responseTimeoutInSeconds":30,"payload":null}',
      );
      expect(response.status).toBe(502);
      expect(response.headers.get('iothub-errorcode')).toBe('InvalidResponseWhileProxying');
    } finally {
      await client.endAsync();
    }
  });

  it('a lenient object with NaN comes back as strict JSON', async () => {
    await registerDevices(hub, ['dotnet-lenient']);
    const { client } = await dotnetDevice('dotnet-lenient', "{result: 'locked', temperature: NaN, /* why */ tries: [1, 2,],}");
    try {
      const response = await call(
        hub,
        'POST',
        '/twins/dotnet-lenient/methods?api-version=2021-04-12',
        '{"methodName":"LockDoor","responseTimeoutInSeconds":30,"payload":null}',
      );
      expect(response.status).toBe(200);
      expect(response.json).toEqual({ status: 200, payload: { result: 'locked', temperature: 'NaN', tries: [1, 2] } });
    } finally {
      await client.endAsync();
    }
  });
});
