// @hocuspocus/server 3.4.4 with its default settings, for the benchmark, as plain Node (no
// TypeScript loader in the measured process, like the other servers). Prints `SYNC_PORT=<port>`.
import { Server } from '@hocuspocus/server';

const port = Number(process.env.PORT ?? 0);
const server = new Server({ port, address: '127.0.0.1', quiet: true });
await server.listen();
process.stdout.write(`SYNC_PORT=${port}\n`);
process.on('SIGTERM', () => void server.destroy().then(() => process.exit(0)));
