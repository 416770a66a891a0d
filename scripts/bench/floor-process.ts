import {
  type Floor,
  type Instance,
  localInstanceNodeOptions,
  offlineInstanceExecArgv,
  startFloor,
} from './floor-server';

/**
 * The floor as a process of its own (the bench's mode (a)): its handlers write their log lines to its stdout,
 * not the bench's. Over IPC it starts new instances as serverless offline would start them, traced or not,
 * and reports their cold starts and memory.
 */
export type FloorRequest =
  | { id: number; newInstance: { key: string; env: NodeJS.ProcessEnv } }
  | { id: number; coldStart: number }
  | { id: number; memoryUsage: number };

function serveOverIpc(floor: Floor): void {
  const instances = new Map<number, Instance>();
  process.on('message', async (request: FloorRequest) => {
    const reply = (value?: unknown) => process.send?.({ id: request.id, value });
    if ('newInstance' in request) {
      const { key, env } = request.newInstance;
      instances.set(
        request.id,
        floor.newInstance(key, { execArgv: offlineInstanceExecArgv(floor.service), env }),
      );
      reply(request.id); // the instance's handle for the requests that follow
    } else if ('coldStart' in request) {
      reply(await instances.get(request.coldStart)?.coldStart);
    } else {
      reply(await instances.get(request.memoryUsage)?.memoryUsage());
    }
  });
  process.send?.({ ready: floor.url, instanceNodeOptions: localInstanceNodeOptions(floor.service) });
}

if (require.main === module) {
  const port = Number(process.env.FLOOR_PORT ?? 4100);
  startFloor({ port, env: process.env }).then(
    (floor) => {
      console.log(`floor ready: ${floor.url}`);
      if (process.send) serveOverIpc(floor);
      const stop = () => void floor.stop().then(() => process.exit(0));
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    },
    (error) => {
      console.error(error);
      process.exit(1);
    },
  );
}
