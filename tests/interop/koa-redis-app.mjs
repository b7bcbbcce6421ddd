// A Koa app using koa-session in external-store mode with koa-redis (the cookie holds a
// signed UUID, the session lives in Redis under that UUID), the Node side of satchel's
// live interop test (issue 7).
//
// Run: node koa-redis-app.mjs [PORT]      (PORT 0 picks a free port)
// Env: PORT         listen port on 127.0.0.1 when not given as an argument (default 0)
//      KEYS         comma-separated app.keys, the first signs (default "key1,key2")
//      REDIS_URL    koa-redis `url` (default redis://127.0.0.1:6379)
//      COOKIE_NAME  koa-session `key` (default koa.sess)
//      MAX_AGE_MS   koa-session maxAge in ms (default 3600000; "default" to leave it
//                   unset, koa-session's one day; koa-redis cannot store 'session')
// Prints "listening <port>" once it accepts connections.
//
// Routes: POST /login?user=NAME  a new session holding {user: NAME}
//         POST /incr             session.n += 1 (from 0)
//         GET  /whoami           {"user", "n"}, or 401 when not logged in
//         POST /logout           ctx.session = null (record deleted, both cookies expired)
import Koa from 'koa';
import session from 'koa-session';
import redisStore from 'koa-redis';
import { serve } from './koa-routes.mjs';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const maxAgeEnv = process.env.MAX_AGE_MS ?? '3600000';
const store = redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
const options = { key: process.env.COOKIE_NAME ?? 'koa.sess', store };
if (maxAgeEnv !== 'default') options.maxAge = Number(maxAgeEnv);

const app = new Koa();
app.keys = (process.env.KEYS ?? 'key1,key2').split(',');
app.use(session(options, app));

serve(app, port, () => store.client.disconnect());
