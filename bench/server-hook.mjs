// Preloaded into both servers under test (`node --expose-gc --import bench/server-hook.mjs ...`)
// when bench/run.ts starts them with an IPC channel. It adds nothing to the hot path: it waits
// for the bench's commands, and ends the server when the bench goes away.
//   {cmd: 'gc'}          full GC twice, then reply with process.memoryUsage() and the size of
//                        each V8 heap space (`spaces`, bytes)
//   {cmd: 'prof-start'}  start the V8 CPU profiler (through node:inspector)
//   {cmd: 'prof-stop', file}  stop it and write the .cpuprofile there
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { getHeapSpaceStatistics } from 'node:v8';

if (process.send && process.channel) {
  /** @type {Session | undefined} */
  let session;
  const post = (method, params = {}) =>
    new Promise((resolve, reject) => {
      if (!session) return reject(new Error('no inspector session'));
      session.post(method, params, (err, result) => (err ? reject(err) : resolve(result)));
    });

  const handle = async (msg) => {
    switch (msg.cmd) {
      case 'gc': {
        const gc = globalThis.gc;
        if (typeof gc === 'function') {
          gc();
          await new Promise((r) => setTimeout(r, 50));
          gc();
        }
        const spaces = Object.fromEntries(
          getHeapSpaceStatistics().map((s) => [s.space_name, s.space_size]),
        );
        return { ...process.memoryUsage(), spaces };
      }
      case 'prof-start': {
        session = new Session();
        session.connect();
        await post('Profiler.enable');
        await post('Profiler.setSamplingInterval', { interval: msg.intervalUs ?? 500 });
        await post('Profiler.start');
        return { started: true };
      }
      case 'prof-stop': {
        const { profile } = await post('Profiler.stop');
        writeFileSync(msg.file, JSON.stringify(profile));
        session?.disconnect();
        session = undefined;
        return { file: msg.file };
      }
      default:
        throw new Error(`unknown command ${String(msg.cmd)}`);
    }
  };

  process.on('message', (msg) => {
    handle(msg).then(
      (result) => process.send?.({ id: msg.id, ok: true, result }),
      (err) => process.send?.({ id: msg.id, ok: false, error: String(err) }),
    );
  });
  // The bench went away: so does the server under test.
  process.on('disconnect', () => process.exit(0));
  // The channel alone must not keep a server alive.
  process.channel.unref();
}
