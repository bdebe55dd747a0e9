import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';

/** The storage emulator's public, documented development account (not a secret). */
export const DEV_ACCOUNT = 'devstoreaccount1';
const DEV_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  readonly blobEndpoint: string;
  readonly tableEndpoint: string;
  readonly connectionString: string;
  stop(): Promise<void>;
}

/** Starts Azurite (blob, queue, table) as a child process on free loopback ports, in memory. */
export async function startAzurite(options: { timeoutInMs?: number } = {}): Promise<Azurite> {
  const entry = createRequire(import.meta.url).resolve('azurite/dist/src/azurite.js');
  const child: ChildProcess = spawn(
    process.execPath,
    [entry, '--inMemoryPersistence', '--skipApiVersionCheck', '--disableTelemetry', '--silent',
      '--blobHost', '127.0.0.1', '--blobPort', '0', '--queueHost', '127.0.0.1', '--queuePort', '0', '--tableHost', '127.0.0.1', '--tablePort', '0'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const ports = await new Promise<Record<string, string>>((resolve, reject) => {
    const found: Record<string, string> = {};
    let output = '';
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`Azurite did not start within ${options.timeoutInMs ?? 30_000} ms:\n${output.slice(-2000)}`));
    }, options.timeoutInMs ?? 30_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      for (const match of output.matchAll(/Azurite (Blob|Queue|Table) service is successfully listening at (http:\/\/[^\s]+)/g)) {
        found[match[1]!.toLowerCase()] = match[2]!;
      }
      if (found['blob'] && found['queue'] && found['table']) {
        clearTimeout(timer);
        resolve(found);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited with code ${code}:\n${output.slice(-2000)}`));
    });
  });
  // Never leave the emulator running when this process ends without stopping it.
  const killChild = () => child.kill();
  process.once('exit', killChild);
  const blobEndpoint = `${ports['blob']}/${DEV_ACCOUNT}`;
  const tableEndpoint = `${ports['table']}/${DEV_ACCOUNT}`;
  return {
    blobEndpoint,
    tableEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${DEV_ACCOUNT};AccountKey=${DEV_KEY};BlobEndpoint=${blobEndpoint};TableEndpoint=${tableEndpoint};`,
    stop: () =>
      new Promise<void>((resolve) => {
        process.removeListener('exit', killChild);
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill();
      }),
  };
}
