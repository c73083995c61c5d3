// A captive portal for the lab: `portal ADDR PORT` answers every HTTP request with a 302 to its login
// page, as hotel, train and ISP "walled garden" boxes do. Prints "listening", then "portal PATH" per request.
import { createServer } from 'node:http';

const [host, port] = process.argv.slice(2);
createServer((req, res) => {
  console.log(`portal ${req.url}`);
  res.statusCode = 302;
  res.setHeader('Location', 'http://portal.invalid/login');
  res.end('<html>Please log in</html>');
}).listen(Number(port), host, () => console.log('listening'));
