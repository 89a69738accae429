<?php
// PHP's native sessions (PHPSESSID, one file sess_<id> per session in session.save_path), as
// the PHP manual shows them: a new id at login with session_regenerate_id(true) (the old file
// deleted), and at logout the data cleared, the cookie expired and the session destroyed
// (session_destroy()'s example). php.ini's defaults otherwise.
// Started by tests/apps/run.sh php: php -d session.save_path=$SAVE_PATH -S 127.0.0.1:$PORT app.php
// Every method is routed alike, so POST /logout logs out too.
session_start();

switch (parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH)) {
    case '/':
        $_SESSION['views'] = ($_SESSION['views'] ?? 0) + 1;
        echo "Number of views {$_SESSION['views']}";
        break;
    case '/login':
        session_regenerate_id(true);
        $_SESSION['user'] = $_GET['user'] ?? '';
        echo 'Logged in as ' . htmlspecialchars($_SESSION['user']);
        break;
    case '/logout':
        $_SESSION = [];
        $params = session_get_cookie_params();
        setcookie(session_name(), '', time() - 42000, $params['path'], $params['domain'],
            $params['secure'], $params['httponly']);
        session_destroy();
        echo 'Logged out';
        break;
    default:
        http_response_code(404);
        echo 'Not found';
}
