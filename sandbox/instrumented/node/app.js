// An Express app instrumented with express-prom-bundle (on prom-client), as its README sets it up, plus
// includeMethod and includePath: without them the histogram has only status_code, and KAMS' endpoint
// breakdown would have no method or path. Served on a free loopback port (listen(0)).
//
// It answers GET /orders/:orderId and POST /orders with the status the `status` query parameter asks
// for, after `ms` milliseconds, and serves /metrics. Prints one JSON line once it listens:
//   {"app": "http://127.0.0.1:PORT", "metrics": "http://127.0.0.1:PORT/metrics"}
"use strict";

const express = require("express");
const promBundle = require("express-prom-bundle");

const app = express();
app.use(promBundle({ includeMethod: true, includePath: true }));

function answer(req, res) {
  const ms = Math.max(0, Number(req.query.ms || 0));
  const status = Number(req.query.status || 200);
  setTimeout(() => res.status(status).type("text/plain").send(`status ${status} after ${ms} ms\n`), ms);
}

app.get("/orders/:orderId", answer);
app.post("/orders", answer);

const server = app.listen(0, "127.0.0.1", () => {
  const base = `http://127.0.0.1:${server.address().port}`;
  process.stdout.write(JSON.stringify({ app: base, metrics: `${base}/metrics` }) + "\n");
});

// The launcher stops apps with SIGTERM: close the listener so the process exits at once.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
