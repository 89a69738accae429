// The seed's express-session app (bench/tools/frameworks/express/express-session.js) with its
// sessions in Redis through connect-redis and the `redis` client, as connect-redis's README
// shows it (resave: false). Started by tests/apps/run.sh express-redis; the Rust tests read the
// store read-only.
// Env: PORT (default 3000), REDIS_URL (default redis://127.0.0.1:6379), PREFIX (connect-redis's
// key prefix, default `sess:`), SAVE_UNINITIALIZED (`true` for saveUninitialized: true, default
// false), MAX_AGE_MS (the cookie's maxAge in ms; unset: a browser-session cookie, and
// connect-redis's default TTL of one day).
const express = require('express');
const session = require('express-session');
const escapeHtml = require('escape-html');
const { RedisStore } = require('connect-redis');
const { createClient } = require('redis');

const port = Number(process.env.PORT || 3000);
const redisClient = createClient({ url: process.env.REDIS_URL || 'redis://127.0.0.1:6379' });
redisClient.on('error', (err) => console.error('redis:', err.message));

const cookie = {};
if (process.env.MAX_AGE_MS) cookie.maxAge = Number(process.env.MAX_AGE_MS);

const app = express();

app.use(
    session({
        store: new RedisStore({ client: redisClient, prefix: process.env.PREFIX ?? 'sess:' }),
        resave: false,
        saveUninitialized: process.env.SAVE_UNINITIALIZED === 'true',
        secret: 'replace this value with secret string ...',  // it is good to use random string
        cookie,
    })
);

app.get('/', (request, response) => {
    if (request.session.views) {
        request.session.views++;
    } else {
        request.session.views = 1;
    }
    response.send(`Number of views ${request.session.views}`);
});

app.get('/login', (request, response, next) => {
    // regenerate the session, which is good practice to help guard against session fixation
    request.session.regenerate((err) => {
        if (err) return next(err);
        request.session.user = request.query.user;
        request.session.save((err) => {
            if (err) return next(err);
            response.send(`Logged in as ${escapeHtml(request.session.user)}`);
        });
    });
});

const logout = (request, response, next) => {
    request.session.destroy((err) => {
        if (err) return next(err);
        response.clearCookie('connect.sid');
        response.send('Logged out');
    });
};
app.get('/logout', logout);
app.post('/logout', logout);

redisClient.connect().then(
    () => app.listen(port, '127.0.0.1', () => console.log(`express-redis app listening on http://127.0.0.1:${port}/`)),
    (err) => { console.error('cannot connect to redis:', err.message); process.exit(1); }
);
