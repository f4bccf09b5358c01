// Package e2e holds end-to-end tests that run every protocol of one real
// Mailroom together (SMTP, POP3, IMAP, the webmail in Chromium) and check
// that all clients see the same mailbox. Tests across protocols belong
// here, not in one protocol's package, so that no protocol's tests import
// another protocol. It has no code of its own: the rig is
// internal/testrig's, the browser internal/testrig/chromium's.
package e2e
