// Package thread orders and threads the messages of a mailbox: the sort
// keys and comparison of IMAP SORT (RFC 5256 section 3, RFC 5957
// DISPLAYFROM/DISPLAYTO) and the ORDEREDSUBJECT and REFERENCES threading
// algorithms (RFC 5256 section 4). It is independent of IMAP: callers (the
// IMAP session, the web, JMAP) describe each message with a Message built
// from its envelope and get back an order or a forest of Nodes, which they
// number and print as their protocol needs.
//
// Everything here is iterative: a reply chain ten thousand messages deep
// or a References loop costs time proportional to its size, never stack.
package thread
