// Express with the session as a JWT in a cookie and no server-side store: jsonwebtoken, HS256,
// expiresIn '1h' (the token's `exp`), payload { views, user } (and jsonwebtoken's `iat`, `exp`).
// The cookie `token` is HttpOnly, Path=/, with no Max-Age or Expires (a browser-session
// cookie); the only expiry is the token's `exp`. Each request verifies the token: a missing,
// bad or expired one means a new, empty session. The token is re-issued on each change.
// Started by tests/apps/run.sh express-jwt.
// Env: PORT (default 3000).
const express = require('express');
const cookieParser = require('cookie-parser');
const jwt = require('jsonwebtoken');
const escapeHtml = require('escape-html');

const port = Number(process.env.PORT || 3000);
const secret = 'replace this value with secret string ...';
const cookieName = 'token';
const cookieOptions = { httpOnly: true, path: '/' };

const app = express();
app.use(cookieParser());

// req.session: the verified token's { views, user }, or {} for a missing, bad or expired token.
app.use((request, response, next) => {
    request.session = {};
    const token = request.cookies[cookieName];
    if (token) {
        try {
            const { views, user } = jwt.verify(token, secret, { algorithms: ['HS256'] });
            request.session = { views, user };
        } catch (err) {
            // a new anonymous session
        }
    }
    next();
});

const issue = (response, session) => {
    const payload = { views: session.views, user: session.user };
    const token = jwt.sign(payload, secret, { algorithm: 'HS256', expiresIn: '1h' });
    response.cookie(cookieName, token, cookieOptions);
};

app.get('/', (request, response) => {
    request.session.views = (request.session.views || 0) + 1;
    issue(response, request.session);
    response.send(`Number of views ${request.session.views}`);
});

app.get('/login', (request, response) => {
    // a fresh session, as express-session's regenerate would give
    request.session = { user: String(request.query.user ?? '') };
    issue(response, request.session);
    response.send(`Logged in as ${escapeHtml(request.session.user)}`);
});

const logout = (request, response) => {
    response.clearCookie(cookieName, cookieOptions);
    response.send('Logged out');
};
app.get('/logout', logout);
app.post('/logout', logout);

app.listen(port, '127.0.0.1', () => console.log(`express-jwt app listening on http://127.0.0.1:${port}/`));
