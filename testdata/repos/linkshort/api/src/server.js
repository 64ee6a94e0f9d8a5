const express = require('express');
const Redis = require('ioredis');
const { Pool } = require('pg');
const { migrate } = require('./migrate');

const pool = new Pool({ connectionString: process.env.DATABASE_URL });
const redis = new Redis(process.env.REDIS_URL);
const app = express();

app.get('/healthz', (req, res) => res.send('ok'));
app.get('/:code', async (req, res) => {
  const { rows } = await pool.query('SELECT target FROM links WHERE code = $1', [req.params.code]);
  if (rows.length === 0) return res.sendStatus(404);
  await redis.lpush('clicks', req.params.code);
  res.redirect(rows[0].target);
});

const port = process.env.PORT || 3000;
migrate(pool).then(() => app.listen(port, () => console.log(`linkshort-api on ${port}`)));
