// The routes and server loop shared by the Koa apps of the live interop tests
// (koa-app.mjs: cookie mode; koa-redis-app.mjs: external store mode), so both serve
// exactly the same behaviour. See either app's header for the routes.

/** Mounts the routes on `app` (`overrides` replaces some, for a session library whose
 * idiom differs), listens on 127.0.0.1:`port`, prints `listening <port>`, and exits
 * cleanly on SIGTERM/SIGINT after `onShutdown()`. */
export function serve(app, port, onShutdown = () => {}, overrides = {}) {
  const routes = {
    'POST /login': (ctx) => {
      const user = ctx.query.user;
      if (typeof user !== 'string' || user === '') {
        ctx.status = 400;
        ctx.body = { error: 'user query parameter required' };
        return;
      }
      ctx.session = { user };
      ctx.body = { user };
    },
    'POST /incr': (ctx) => {
      ctx.session.n = (ctx.session.n ?? 0) + 1;
      ctx.body = { n: ctx.session.n };
    },
    'GET /whoami': (ctx) => {
      if (!ctx.session.user) {
        ctx.status = 401;
        ctx.body = { error: 'not logged in' };
        return;
      }
      ctx.body = { user: ctx.session.user, n: ctx.session.n ?? 0 };
    },
    'POST /logout': (ctx) => {
      ctx.session = null;
      ctx.body = { ok: true };
    },
    ...overrides,
  };

  app.use((ctx) => {
    const route = routes[`${ctx.method} ${ctx.path}`];
    if (route) return route(ctx);
    ctx.status = 404;
  });

  const server = app.listen(port, '127.0.0.1', () => {
    console.log(`listening ${server.address().port}`);
  });

  function shutdown() {
    onShutdown();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  }
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
