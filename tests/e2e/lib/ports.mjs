// Ports for servers a test must know before they start: a URL written into a configuration
// first, a server started again on the same port after a kill.
//
// Binding port 0 and letting it go is not enough when tests run side by side: the kernel
// hands out the ports of its ephemeral range (ip_local_port_range) to every bind of port 0
// and to every outgoing connection, so another test can take the port before the server
// binds it ("address already in use"). These come from below that range, where only an
// explicit bind lands: picked at random, and checked free by binding it.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LOWEST = 10000;

function ephemeralStart() {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
  } catch {
    return 0;
  }
}

function bind(port) {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(0));
    s.listen(port, '127.0.0.1', () => { const bound = s.address().port; s.close(() => resolve(bound)); });
  });
}

export async function freePort() {
  const end = ephemeralStart();
  if (end > LOWEST + 1000) {
    for (let i = 0; i < 100; i++) {
      const port = await bind(LOWEST + Math.floor(Math.random() * (end - LOWEST)));
      if (port) return port;
    }
  }
  const port = await bind(0);  // no room below the range: the old way
  if (!port) throw new Error('no free port on 127.0.0.1');
  return port;
}
