import https from 'node:https';

/** Registers devices through the REST bulk API, 100 per call, and returns their primary keys. */
export async function provisionDevices(
  host: string,
  token: string,
  ids: readonly string[],
  tags?: (index: number) => Record<string, unknown>,
): Promise<{ deviceId: string; key: string }[]> {
  for (let i = 0; i < ids.length; i += 100) {
    const batch = ids.slice(i, i + 100).map((id, j) => ({ id, importMode: 'createOrUpdate', ...(tags ? { tags: tags(i + j) } : {}) }));
    await request(host, token, 'POST', '/devices?api-version=2021-04-12', batch);
  }
  const result: { deviceId: string; key: string }[] = [];
  for (const id of ids) {
    const device = (await request(host, token, 'GET', `/devices/${encodeURIComponent(id)}?api-version=2021-04-12`)) as {
      authentication: { symmetricKey: { primaryKey: string } };
    };
    result.push({ deviceId: id, key: device.authentication.symmetricKey.primaryKey });
  }
  return result;
}

/** One REST call to the emulator with a service SAS; rejects on any status ≥ 300 with the body. */
export function request(
  host: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
  options: { agent?: https.Agent; headers?: Record<string, string> } = {},
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const headers = { authorization: token, 'content-type': 'application/json; charset=utf-8', ...options.headers };
    const req = https.request({ host, port: 443, method, path, agent: options.agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
        else resolve(text ? JSON.parse(text) : undefined);
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
