import iothub from 'azure-iothub';
import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
const HOST = process.env.HOST;
const key = process.env.KEY;
const svc = iothub.Client.fromConnectionString(`HostName=${HOST};SharedAccessKeyName=iothubowner;SharedAccessKey=rRLBpgnCo0Oa8ww60kU1nM5HT4L3rAVjRIb3RRiooFk=`);
await svc.open();
const rec = (await svc.getFeedbackReceiver()).result;
const waiters = new Map();
rec.on('message', (m) => { for (const r of JSON.parse(m.getData().toString())) waiters.get(r.originalMessageId)?.(); });
const dev = device.Client.fromConnectionString(`HostName=${HOST};DeviceId=probe;SharedAccessKey=${key}`, deviceMqtt.Mqtt);
let got = 0;
dev.on('message', () => { got = performance.now(); });
await dev.open();
await new Promise(r => setTimeout(r, 500));
for (let i = 0; i < 30; i++) {
  const id = 'x' + i;
  const fed = new Promise(r => waiters.set(id, r));
  const m = new device.Message('hi'); m.messageId = id; m.ack = 'full';
  if (process.env.PAUSE) await new Promise(r => setTimeout(r, 60));
  const t0 = performance.now();
  await svc.send('probe', m);
  const t1 = performance.now();
  await fed;
  const t2 = performance.now();
  console.log(`send ${(t1-t0).toFixed(2)} deliver ${(got-t0).toFixed(2)} feedback ${(t2-t0).toFixed(2)}`);
}
process.exit(0);
