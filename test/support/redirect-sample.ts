// Microsoft's sample "iothubConnectionString" (@azure/event-hubs samples, v5/v6), as published:
// it turns an IoT Hub connection string into the Event Hubs-compatible one by following the
// amqp:link:redirect of the hub's `messages/events`. Only the port regex is the sample's newer
// form (the address carries a port).
import crypto from 'node:crypto';
import { Connection, ReceiverEvents, isAmqpError, parseConnectionString } from 'rhea-promise';

function generateSasToken(resourceUri: string, signingKey: string, policyName: string, expiresInMins: number): string {
  resourceUri = encodeURIComponent(resourceUri);
  const expiresInSeconds = Math.ceil(Date.now() / 1000 + expiresInMins * 60);
  const toSign = `${resourceUri}\n${expiresInSeconds}`;
  const hmac = crypto.createHmac('sha256', Buffer.from(signingKey, 'base64'));
  hmac.update(toSign);
  const base64UriEncoded = encodeURIComponent(hmac.digest('base64'));
  return `SharedAccessSignature sr=${resourceUri}&sig=${base64UriEncoded}&se=${expiresInSeconds}&skn=${policyName}`;
}

export async function convertIotHubToEventHubsConnectionString(connectionString: string): Promise<string> {
  const { HostName, SharedAccessKeyName, SharedAccessKey } = parseConnectionString<{ HostName: string; SharedAccessKeyName: string; SharedAccessKey: string }>(
    connectionString,
  );
  if (!HostName || !SharedAccessKey || !SharedAccessKeyName) throw new Error('Invalid IotHub connection string.');
  const [iotHubName] = HostName.split('.');
  if (!iotHubName) throw new Error('Unable to extract the IotHub name from the connection string.');
  const token = generateSasToken(`${HostName}/messages/events`, SharedAccessKey, SharedAccessKeyName, 5);
  const connection = new Connection({
    transport: 'tls',
    host: HostName,
    hostname: HostName,
    username: `${SharedAccessKeyName}@sas.root.${iotHubName}`,
    port: 5671,
    reconnect: false,
    password: token,
  });
  await connection.open();
  const receiver = await connection.createReceiver({ source: { address: `amqps://${HostName}/messages/events/$management` } });
  return new Promise((resolve, reject) => {
    receiver.on(ReceiverEvents.receiverError, (context) => {
      // eslint-disable-next-line @typescript-eslint/no-explicit-any
      const error = context.receiver?.error as any;
      if (isAmqpError(error) && error.condition === 'amqp:link:redirect') {
        const hostname = error.info?.hostname;
        const parsedAddress = error.info.address.match(/:\d+\/(.*)\/\$management/i);
        if (!hostname) reject(error);
        else if (!parsedAddress || parsedAddress[1] === undefined) reject(new Error(`Unable to parse the EventHub name from '${error.info.address}'`));
        else resolve(`Endpoint=sb://${hostname}/;EntityPath=${parsedAddress[1]};SharedAccessKeyName=${SharedAccessKeyName};SharedAccessKey=${SharedAccessKey}`);
      } else {
        reject(error);
      }
      connection.close().catch(() => {});
    });
  });
}
