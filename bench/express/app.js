// The seed's example (express-create-session), unchanged but for the port and address: GET /
// counts views per session, the session id in a signed cookie. express-session's defaults apply
// (resave and saveUninitialized true; it warns that they are deprecated defaults).
const express = require('express');
const session = require('express-session');

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

const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`express-session seed app on http://127.0.0.1:${port}/`));
