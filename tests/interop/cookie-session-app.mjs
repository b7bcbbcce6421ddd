// An Express app using cookie-session (the whole session in a signed cookie), the Node
// side of satchel's live interop test (issue 7).
//
// Run: node cookie-session-app.mjs [PORT]    (PORT 0 picks a free port)
// Env: PORT         listen port on 127.0.0.1 when not given as an argument (default 0)
//      KEYS         comma-separated cookie-session keys, the first signs (default "key1,key2")
//      COOKIE_NAME  cookie-session `name` (default session)
//      MAX_AGE_MS   cookie-session maxAge in ms (default 3600000; "session" leaves it
//                   unset: browser-session cookies)
// Prints "listening <port>" once it accepts connections.
//
// Routes: POST /login?user=NAME  a new session holding {user: NAME}
//         POST /incr             req.session.n += 1 (from 0)
//         GET  /whoami           {"user", "n"}, or 401 when not logged in
//         POST /logout           req.session = null (both cookies expired)
import express from 'express';
import cookieSession from 'cookie-session';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const maxAgeEnv = process.env.MAX_AGE_MS ?? '3600000';
const options = {
  name: process.env.COOKIE_NAME ?? 'session',
  keys: (process.env.KEYS ?? 'key1,key2').split(','),
};
if (maxAgeEnv !== 'session') options.maxAge = Number(maxAgeEnv);

const app = express();
app.use(cookieSession(options));

app.post('/login', (req, res) => {
  const user = req.query.user;
  if (typeof user !== 'string' || user === '') {
    res.status(400).json({ error: 'user query parameter required' });
    return;
  }
  req.session = { user };
  res.json({ user });
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

app.post('/logout', (req, res) => {
  req.session = null;
  res.json({ ok: true });
});

const server = app.listen(port, '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
