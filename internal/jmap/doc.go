// Package jmap is JMAP Core (RFC 8620) over HTTP: the session resource,
// the API endpoint with request batching and result references, blob
// upload and download, and push (EventSource, RFC 8620 §7.3, and JMAP
// over WebSocket, RFC 8887).
//
// It knows nothing of mail. The data types and their methods (Mailbox,
// Email, … in internal/jmap/mailapi) register with a Registry; the
// accounts a user sees, the blobs and the states pushed come from small
// interfaces the caller implements. Authentication is the caller's too
// (Authenticator): the server wires HTTP Basic with app passwords, Bearer
// tokens and the webmail's session cookie.
//
// Errors are as the RFC names them: request-level problems (RFC 7807
// problem details with the urn:ietf:params:jmap:error: types, limits
// named), method-level errors (MethodError) and per-object SetErrors.
// Limits are advertised in the session and enforced on every request
// before its method calls run.
package jmap
