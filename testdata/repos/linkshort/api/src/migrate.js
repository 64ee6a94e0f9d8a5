const fs = require('fs');
const path = require('path');

async function migrate(pool) {
  const dir = path.join(__dirname, '..', 'migrations');
  for (const f of fs.readdirSync(dir).sort()) {
    await pool.query(fs.readFileSync(path.join(dir, f), 'utf8'));
  }
}

module.exports = { migrate };
