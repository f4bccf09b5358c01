// Package jamtest holds TestJMAPJamClient: jmap-jam, a JMAP client library
// for Node.js, drives a real Mailroom (client.mjs, with the npm packages
// pinned in package-lock.json and installed by scripts/install-test-deps.sh),
// so the server is tested against a client written by others, not only
// against the project's own idea of JMAP.
package jamtest
