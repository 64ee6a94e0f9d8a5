'use strict';

const express = require('express');

const KEY_PREFIX = 'visits:';

function createRouter(redis) {
  const router = express.Router();

  // GET /visits/:page -> current count for a page
  router.get('/:page', async (req, res, next) => {
    try {
      const count = Number(await redis.get(KEY_PREFIX + req.params.page)) || 0;
      res.json({ page: req.params.page, count });
    } catch (err) {
      next(err);
    }
  });

  // POST /visits/:page -> count one more visit
  router.post('/:page', async (req, res, next) => {
    try {
      const count = await redis.incr(KEY_PREFIX + req.params.page);
      res.status(201).json({ page: req.params.page, count });
    } catch (err) {
      next(err);
    }
  });

  return router;
}

module.exports = { createRouter };
