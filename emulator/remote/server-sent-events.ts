export interface ServerSentEvent {
  event: string;
  data: string;
  id?: string;
}

/**
 * Reads a text/event-stream body (WHATWG HTML §9.2): `field: value` lines, blank line ends an
 * event, lines starting with `:` are comments (the emulator's keep-alives).
 */
export async function* readServerSentEvents(body: AsyncIterable<Buffer | string>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let pending = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  for await (const chunk of body) {
    pending += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
    for (let newline = pending.search(/\r\n|\r|\n/); newline >= 0; newline = pending.search(/\r\n|\r|\n/)) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + (pending.startsWith('\r\n', newline) ? 2 : 1));
      if (line === '') {
        if (data.length > 0) yield { event: event || 'message', data: data.join('\n'), id };
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
  }
}
