const Redis = require('ioredis');
const { Pool } = require('pg');

const pool = new Pool({ connectionString: process.env.DATABASE_URL });
const redis = new Redis(process.env.REDIS_URL);
const api = process.env.LINKSHORT_API_URL || 'http://linkshort-api:3000';

async function loop() {
  for (;;) {
    const [, code] = await redis.brpop('clicks', 0);
    await pool.query('UPDATE links SET clicks = clicks + 1 WHERE code = $1', [code]);
    await fetch(`${api}/internal/clicked/${code}`, { method: 'POST' }).catch(() => {});
  }
}

loop();
