import { styleText } from 'node:util';
import { prettyFactory } from 'pino-pretty';

/**
 * What `npm start` and `npm run dev` show of serverless-offline's output. The functions always print JSON
 * lines (as deployed, for CloudWatch); Loki gets them over OTLP either way. Only this terminal view changes.
 */
export type LogFormat = 'json' | 'pretty';

export interface TerminalOptions {
  format: LogFormat;
  /** serverless-offline's route table and per-invocation banners, hidden unless asked for. */
  verbose: boolean;
  colour: boolean;
}

/** LOG_FORMAT wins; otherwise pretty on a terminal, JSON when piped (to a file, a test, a log shipper). */
export function terminalOptions(env: NodeJS.ProcessEnv, argv: string[], isTty: boolean): TerminalOptions {
  const requested = env.LOG_FORMAT?.trim().toLowerCase();
  if (requested && requested !== 'json' && requested !== 'pretty') {
    throw new Error(`LOG_FORMAT must be "json" or "pretty", got "${env.LOG_FORMAT}"`);
  }
  return {
    format: (requested as LogFormat | undefined) ?? (isTty ? 'pretty' : 'json'),
    verbose: argv.includes('--verbose') || env.OFFLINE_VERBOSE === 'true',
    colour: isTty && !env.NO_COLOR,
  };
}

/** serverless-offline's own lines that say nothing a developer acts on, on a healthy run. */
const CHATTER = [
  /^\s*$/,
  /^(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS|ANY) \S+ \(λ: [^)]+\)$/,
  /^Invoke \(λ: [^)]+\)$/,
  /^\(λ: [^)]+\) RequestId: /,
  /^[┌│└]/,
  /^Starting Offline at stage /,
  /^Offline \[http for lambda\] listening /,
  /^Function names exposed for local invocation/,
  /^ {3}\* [\w-]+: \S+$/,
  /^Scheduling \[[^\]]+\] cron: /,
  /^Server ready: /,
];

const SERVICE_COLOURS = ['cyan', 'magenta', 'yellow', 'green', 'blue', 'red', 'white'] as const;

/** One colour per service, the same on every run: picked from the name, not from the order of appearance. */
function serviceColour(service: string): (typeof SERVICE_COLOURS)[number] {
  let hash = 0;
  for (const char of service) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return SERVICE_COLOURS[hash % SERVICE_COLOURS.length] as (typeof SERVICE_COLOURS)[number];
}

const SERVICE_WIDTH = 17;
/** Eight hex digits find a trace in Grafana's search and tell concurrent orders apart in a terminal. */
const SHORT_TRACE_ID = 8;

/** Turns each line serverless-offline prints into what the terminal shows; undefined hides it. */
export function lineFormatter(options: TerminalOptions): (line: string) => string | undefined {
  const paint = (colour: Parameters<typeof styleText>[0], text: string) =>
    options.colour ? styleText(colour, text, { validateStream: false }) : text;
  const pretty = prettyFactory({
    colorize: options.colour,
    singleLine: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'service_name,trace_id,span_id',
    messageFormat: (log, messageKey) => {
      const service = String(log.service_name ?? '');
      const trace =
        typeof log.trace_id === 'string'
          ? ` ${paint('dim', `trace=${log.trace_id.slice(0, SHORT_TRACE_ID)}`)}`
          : '';
      return `${paint(serviceColour(service), service.padEnd(SERVICE_WIDTH))}| ${log[messageKey]}${trace}`;
    },
  });
  return (line) => {
    if (!options.verbose && CHATTER.some((pattern) => pattern.test(line))) return undefined;
    if (options.format === 'json' || !line.startsWith('{')) return line;
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return line;
    }
    if (typeof record.service_name !== 'string') return line;
    return pretty(record).replace(/\n$/, '');
  };
}
