// Express with cookie-session: the whole session in signed cookies (`session` and
// `session.sig`), no id and no server-side store. cookie-session's defaults otherwise.
const express = require('express');
const cookieSession = require('cookie-session');
const escapeHtml = require('escape-html');

const app = express();

app.use(
    cookieSession({
        keys: ['some secret']
    })
);

app.get('/', (request, response) => {
    request.session.views = (request.session.views || 0) + 1;
    response.send(`Number of views ${request.session.views}`);
});

app.get('/login', (request, response) => {
    request.session.user = request.query.user;
    response.send(`Logged in as ${escapeHtml(request.session.user)}`);
});

app.get('/logout', (request, response) => {
    request.session = null;
    response.send('Logged out');
});

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`cookie-session app on http://127.0.0.1:${port}/`));
