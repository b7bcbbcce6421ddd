// A Koa app using koa-generic-session with koa-redis (the seed's Koa + Redis stack: the
// cookie koa.sid holds the signed session id, the session lives in Redis under
// `prefix + sid` with its cookie options), the Node side of satchel's live interop test
// (issue 15).
//
// Run: node koa-generic-app.mjs [PORT]      (PORT 0 picks a free port)
// Env: PORT          listen port on 127.0.0.1 when not given as an argument (default 0)
//      KEYS          comma-separated app.keys, the first signs (default "key1,key2")
//      REDIS_URL     koa-redis `url` (default redis://127.0.0.1:6379)
//      REDIS_PREFIX  koa-generic-session `prefix` (default koa:sess:)
//      MAX_AGE_MS    cookie maxAge in ms (default 3600000)
// Prints "listening <port>" once it accepts connections.
//
// Routes: as koa-routes.mjs, except POST /login?user=NAME, which is koa-generic-session's
// idiom: regenerateSession() (a new sid, the old record deleted), then session.user = NAME
// (assigning a plain object to ctx.session would drop its `cookie` options).
import Koa from 'koa';
import session from 'koa-generic-session';
import redisStore from 'koa-redis';
import { serve } from './koa-routes.mjs';

const port = Number(process.argv[2] ?? process.env.PORT ?? 0);
const store = redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });

const app = new Koa();
app.keys = (process.env.KEYS ?? 'key1,key2').split(',');
app.use(
  session({
    store,
    prefix: process.env.REDIS_PREFIX ?? 'koa:sess:',
    cookie: { maxAge: Number(process.env.MAX_AGE_MS ?? '3600000') },
  }),
);

serve(app, port, () => store.client.disconnect(), {
  'POST /login': async (ctx) => {
    const user = ctx.query.user;
    if (typeof user !== 'string' || user === '') {
      ctx.status = 400;
      ctx.body = { error: 'user query parameter required' };
      return;
    }
    await ctx.regenerateSession();
    ctx.session.user = user;
    ctx.body = { user };
  },
});
