import device from 'azure-iot-device';
import deviceMqtt from 'azure-iot-device-mqtt';
import { startEmulator } from 'iothub-emulator';
import { lockDoor } from '../src/doors.js';

let emulator;

beforeAll(async () => {
  emulator = await startEmulator({ inMemory: true });
});

afterAll(async () => {
  await emulator?.stop();
});

test('the back end locks door-7', async () => {
  // A door, played by the real device SDK over MQTT.
  const door = await emulator.createDevice('door-7', { tags: { building: '43' } });
  const client = device.Client.fromConnectionString(door.connectionString, deviceMqtt.Mqtt);
  await client.open();
  client.onDeviceMethod('lockDoor', (_request, response) => response.send(200, { locked: true }));
  await emulator.waitForSubscription('door-7');

  try {
    expect(await lockDoor(emulator.connectionString, 'door-7', 'alice')).toEqual({ locked: true });
  } finally {
    await client.close();
  }

  expect(emulator.recording.methodCalls({ deviceId: 'door-7' })).toMatchObject([
    { methodName: 'lockDoor', payload: { by: 'alice' }, status: 200, response: { locked: true } },
  ]);
});
