'use strict';

const { test } = require('node:test');
const assert = require('node:assert');
const { createApp } = require('../src/server');

// fakeRedis implements the few ioredis calls the app makes.
function fakeRedis() {
  const data = new Map();
  return {
    ping: async () => 'PONG',
    get: async (k) => data.get(k) ?? null,
    incr: async (k) => {
      const v = (Number(data.get(k)) || 0) + 1;
      data.set(k, String(v));
      return v;
    },
  };
}

async function withServer(fn) {
  const server = createApp(fakeRedis()).listen(0);
  await new Promise((resolve) => server.once('listening', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await fn(base);
  } finally {
    server.close();
  }
}

test('GET /health answers ok', async () => {
  await withServer(async (base) => {
    const res = await fetch(`${base}/health`);
    assert.strictEqual(res.status, 200);
    assert.deepStrictEqual(await res.json(), { status: 'ok' });
  });
});

test('POST then GET /visits/:page counts', async () => {
  await withServer(async (base) => {
    await fetch(`${base}/visits/home`, { method: 'POST' });
    await fetch(`${base}/visits/home`, { method: 'POST' });
    const res = await fetch(`${base}/visits/home`);
    assert.deepStrictEqual(await res.json(), { page: 'home', count: 2 });
  });
});
