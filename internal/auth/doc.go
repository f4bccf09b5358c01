// Package auth is the authentication core shared by every protocol Mailroom
// speaks (SMTP submission, POP3, IMAP and the web interface).
//
// It provides:
//
//   - password hashing: argon2id in PHC string form for plaintext logins, plus
//     PostgreSQL-style SCRAM-SHA-256 stored credentials for SASL SCRAM;
//   - a login Throttle keyed by client network and by account, designed so
//     that nothing is ever a permanent lockout and an attacker guessing from
//     many addresses cannot lock the real user out;
//   - a cache of recent successful verifications, so clients that log in
//     over and over (IMAP clients opening several connections, POP3 pollers)
//     do not pay for argon2 every time;
//   - the Authenticator that ties these together and that protocol code
//     calls with a username and password.
package auth
