// An Express app using express-session + connect-redis, the Node side of satchel's live
// interop test (issue 7). A user logged in here must be logged in on the satchel app that
// shares the Redis, and back.
//
// Run: node express-app.mjs [PORT]        (PORT 0 picks a free port)
// Env: PORT            listen port on 127.0.0.1 when not given as an argument (default 0)
//      SESSION_SECRET  comma-separated secrets, the first signs (default "keyboard cat")
//      REDIS_URL       default redis://127.0.0.1:6379
//      REDIS_PREFIX    connect-redis key prefix (default "sess:")
//      COOKIE_NAME     default connect.sid
//      MAX_AGE_MS      cookie maxAge in ms (default 3600000; "none" for a browser session)
// Prints "listening <port>" once it accepts connections.
//
// Routes: POST /login?user=NAME  regenerate the session, then session.user = NAME
//         POST /incr             session.n += 1 (from 0)
//         GET  /whoami           {"user", "n"}, or 401 when not logged in
//         POST /logout           destroy the session (server-side; no clearing cookie,
//                                as express-session does)
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const secrets = (process.env.SESSION_SECRET ?? 'keyboard cat').split(',');
const maxAge = process.env.MAX_AGE_MS === 'none' ? undefined : Number(process.env.MAX_AGE_MS ?? 3600000);

const redis = createClient({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
redis.on('error', (err) => console.error('redis:', err.message));
await redis.connect();

const app = express();
app.use(
  session({
    name: process.env.COOKIE_NAME ?? 'connect.sid',
    secret: secrets,
    store: new RedisStore({ client: redis, prefix: process.env.REDIS_PREFIX ?? 'sess:' }),
    resave: false,
    saveUninitialized: false,
    cookie: { maxAge },
  }),
);

app.post('/login', (req, res, next) => {
  const user = req.query.user;
  if (typeof user !== 'string' || user === '') {
    res.status(400).json({ error: 'user query parameter required' });
    return;
  }
  req.session.regenerate((err) => {
    if (err) return next(err);
    req.session.user = user;
    res.json({ user });
  });
});

app.post('/incr', (req, res) => {
  req.session.n = (req.session.n ?? 0) + 1;
  res.json({ n: req.session.n });
});

app.get('/whoami', (req, res) => {
  if (!req.session.user) {
    res.status(401).json({ error: 'not logged in' });
    return;
  }
  res.json({ user: req.session.user, n: req.session.n ?? 0 });
});

app.post('/logout', (req, res, next) => {
  req.session.destroy((err) => {
    if (err) return next(err);
    res.json({ ok: true });
  });
});

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});

function shutdown() {
  server.close(() => redis.quit().finally(() => process.exit(0)));
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
