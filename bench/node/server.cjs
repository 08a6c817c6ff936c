'use strict';
// The node stack of ginauth's comparison (bench/): Express with
// express-session on connect-redis and Passport's local strategy, serving
// the same POST /login and GET /me, with the same users and JSON, as the Go
// stacks. The bench command installs its packages into a temporary
// directory and starts it there with node; settings come from BENCH_*
// environment variables.

const crypto = require('node:crypto');
const express = require('express');
const session = require('express-session');
const passport = require('passport');
const { Strategy: LocalStrategy } = require('passport-local');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');

// Native bcrypt when it installed, else the pure JavaScript one.
let bcrypt;
try {
  bcrypt = require('bcrypt');
} catch {
  bcrypt = require('bcryptjs');
}

const BCRYPT_COST = 10;

function username(i) {
  return i === 0 ? 'bench' : `bench-${i}`;
}

async function main() {
  const addr = process.env.BENCH_ADDR;
  const sep = addr.lastIndexOf(':');
  const host = addr.slice(0, sep);
  const port = Number(addr.slice(sep + 1));
  const count = Number(process.env.BENCH_USERS);

  // Every user shares one hash of the password, made now, as in the Go
  // stacks; timestamps are whole seconds, as Go prints them.
  const hash = await bcrypt.hash(process.env.BENCH_PASSWORD, BCRYPT_COST);
  const stamp = new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace('.000Z', 'Z');
  const byName = new Map();
  const byId = new Map();
  for (let i = 0; i < count; i++) {
    const user = { id: i + 1, username: username(i), createdAt: stamp, updatedAt: stamp };
    byName.set(user.username, { user, hash });
    byId.set(String(user.id), user);
  }

  const redis = createClient({ url: `redis://${process.env.BENCH_REDIS}` });
  redis.on('error', (err) => console.error('redis:', err.message));
  await redis.connect();

  passport.use(new LocalStrategy((name, password, done) => {
    const entry = byName.get(name);
    if (!entry) return done(null, false);
    bcrypt.compare(password, entry.hash).then((ok) => done(null, ok ? entry.user : false), done);
  }));
  passport.serializeUser((user, done) => done(null, String(user.id)));
  passport.deserializeUser((id, done) => done(null, byId.get(id) || false));

  const app = express();
  app.use(express.json());
  app.use(session({
    store: new RedisStore({ client: redis }),
    secret: crypto.randomBytes(32).toString('hex'),
    name: 'sid',
    resave: false,
    saveUninitialized: false,
    cookie: { httpOnly: true, sameSite: 'lax' },
  }));
  app.use(passport.initialize());
  app.use(passport.session());

  app.post('/login', (req, res, next) => {
    passport.authenticate('local', (err, user) => {
      if (err) return next(err);
      if (!user) return res.status(401).json({ error: 'invalid credentials' });
      req.logIn(user, (err) => {
        if (err) return next(err);
        res.json({ user });
      });
    })(req, res, next);
  });
  app.get('/me', (req, res) => {
    if (!req.user) return res.status(401).json({ error: 'unauthenticated' });
    res.json({ user: req.user });
  });

  const server = app.listen(port, host);
  const stop = () => server.close(() => redis.quit().finally(() => process.exit(0)));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
