// Package e2e holds end-to-end tests that run every protocol of one real
// Mailroom together (SMTP, POP3, IMAP) and check that all clients see the
// same mailbox. It has no code of its own.
package e2e
