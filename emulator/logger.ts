import { pino, type Logger } from 'pino';

export type LogFormat = 'pretty' | 'json';

/** Structured logs; readable lines on a terminal, JSON lines otherwise (or when asked). */
export function createLogger(level: string, format: LogFormat | undefined = process.stdout.isTTY ? 'pretty' : 'json'): Logger {
  if (format === 'pretty') {
    return pino({ level, transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' } } });
  }
  return pino({ level });
}
