// Koa with koa-session's default cookie store: the whole session lives in the cookie, no
// server-side store. koa-session's defaults (app.keys set, so signed; httpOnly): cookie
// `koa.sess` = base64 of the session's JSON plus koa-session's `_expire` (ms since the epoch)
// and `_maxAge`, or only `_session: true` when MAX_AGE=session; cookie `koa.sess.sig` = its
// keygrip HMAC-SHA1 of `koa.sess=VALUE`. The Set-Cookies carry `expires` (no Max-Age), none
// when MAX_AGE=session. Started by tests/apps/run.sh koa-session.
// Env: PORT (default 3000), MAX_AGE (`session` for koa-session's maxAge: 'session', a
// browser-session cookie; else a number of ms; default 86400000, one day).
const Koa = require('koa');
const { createSession: session } = require('koa-session');  // its CommonJS build has no module.exports = fn
const escapeHtml = require('escape-html');

const port = Number(process.env.PORT || 3000);
const maxAge = process.env.MAX_AGE === 'session' ? 'session' : Number(process.env.MAX_AGE || 86400000);

const app = new Koa();
app.keys = ['replace this value with secret string ...'];

app.use(session({ maxAge }, app));

app.use(async (ctx) => {
    const { method, path } = ctx;
    if (method === 'GET' && path === '/') {
        ctx.session.views = (ctx.session.views || 0) + 1;
        ctx.body = `Number of views ${ctx.session.views}`;
    } else if (method === 'GET' && path === '/login') {
        // a fresh session, as express-session's regenerate would give
        ctx.session = { user: String(ctx.query.user ?? '') };
        ctx.body = `Logged in as ${escapeHtml(ctx.session.user)}`;
    } else if ((method === 'GET' || method === 'POST') && path === '/logout') {
        ctx.session = null;  // koa-session expires both cookies
        ctx.body = 'Logged out';
    } else {
        ctx.status = 404;
    }
});

app.listen(port, '127.0.0.1', () => console.log(`koa-session app listening on http://127.0.0.1:${port}/`));
