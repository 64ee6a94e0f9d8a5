'use strict';

const express = require('express');
const Redis = require('ioredis');
const { createRouter } = require('./routes');

function createApp(redis) {
  const app = express();
  app.use(express.json());

  app.get('/health', async (req, res) => {
    try {
      await redis.ping();
      res.json({ status: 'ok' });
    } catch (err) {
      res.status(503).json({ status: 'redis unavailable' });
    }
  });

  app.use('/visits', createRouter(redis));
  return app;
}

if (require.main === module) {
  const port = process.env.PORT || 3000;
  const redis = new Redis(process.env.REDIS_URL || 'redis://localhost:6379');
  const app = createApp(redis);

  const server = app.listen(port, () => {
    console.log(`visit-counter listening on port ${port}`);
  });

  const shutdown = () => {
    server.close(() => {
      redis.quit().finally(() => process.exit(0));
    });
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

module.exports = { createApp };
