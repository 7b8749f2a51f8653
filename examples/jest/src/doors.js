import iothub from 'azure-iothub';

/** The back end under test: asks a door to lock itself through IoT Hub. */
export async function lockDoor(hubConnectionString, doorId, by) {
  const client = iothub.Client.fromConnectionString(hubConnectionString);
  const { result } = await client.invokeDeviceMethod(doorId, { methodName: 'lockDoor', payload: { by }, responseTimeoutInSeconds: 10 });
  return result.payload;
}
