// The tool of the network-bytes test: connects to 127.0.0.1:PORT, sends SEND bytes, reads until the server closes
// (it answers RECV bytes), holds HOLD_MS (so the sampler reads it again after the transfer), then appends what it
// sent and received, with its pid, as a JSON line to OUT and exits.
const fs = require('node:fs');
const net = require('node:net');
const send = Number(process.env.SEND);
let recv = 0;
const s = net.connect(Number(process.env.PORT), '127.0.0.1', () => s.write(Buffer.alloc(send, 0x78)));
s.on('data', (d) => (recv += d.length));
s.on('close', () => {
  setTimeout(() => {
    fs.appendFileSync(process.env.OUT, JSON.stringify({ pid: process.pid, sent: send, recv }) + '\n');
  }, Number(process.env.HOLD_MS || 0));
});
