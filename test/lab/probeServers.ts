// What the probes of probes.test.ts talk to in the lab's internet: `probeServers ADDR TCP_PORT HTTP_PORT`
// listens on ADDR: TCP_PORT accepts and closes; HTTP_PORT answers /ok 204, /moved 302, anything else 503.
// Prints "listening", then one line per connection: "tcp FROM" or "http FROM PATH HOST".
import { createServer } from 'node:net';
import { createServer as createHttpServer } from 'node:http';

const [host, tcpPort, httpPort] = process.argv.slice(2);
let ready = 0;
const listening = () => ++ready === 2 && console.log('listening');

createServer((sock) => {
  console.log(`tcp ${sock.remoteAddress}`);
  sock.on('error', () => {});
  sock.end();
}).listen(Number(tcpPort), host, listening);

createHttpServer((req, res) => {
  console.log(`http ${req.socket.remoteAddress} ${req.url} ${req.headers.host}`);
  if (req.url === '/ok') res.statusCode = 204;
  else if (req.url === '/moved') {
    res.statusCode = 302;
    res.setHeader('Location', '/ok');
  } else res.statusCode = 503;
  res.end();
}).listen(Number(httpPort), host, listening);
