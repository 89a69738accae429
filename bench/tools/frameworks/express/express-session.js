// The seed's express-session app (bench/express/app.js) with a login and a logout, written as
// express-session's README shows them: regenerate the session at login, destroy it and clear
// the cookie at logout. express-session's defaults otherwise (MemoryStore, connect.sid).
const express = require('express');
const session = require('express-session');
const escapeHtml = require('escape-html');

const app = express();

app.use(
    session({
        secret: 'replace this value with secret string ...'  // it is good to use random string
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

app.get('/logout', (request, response, next) => {
    request.session.destroy((err) => {
        if (err) return next(err);
        response.clearCookie('connect.sid');
        response.send('Logged out');
    });
});

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`express-session app on http://127.0.0.1:${port}/`));
