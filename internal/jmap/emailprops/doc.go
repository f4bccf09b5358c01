// Package emailprops computes the content properties of a JMAP Email (RFC
// 8621 section 4.1) from a message's bytes and the structure the mime
// package recorded when the message was delivered: header fields in their
// raw and parsed forms (4.1.2, 4.1.3), the convenience properties
// (messageId, from, subject, sentAt, …), bodyStructure, textBody,
// htmlBody and attachments (4.1.4, by the RFC's own parseStructure
// algorithm), hasAttachment, body values (Email/get's fetch*BodyValues
// and maxBodyValueBytes, 4.2) and the preview. Email/parse (4.9) needs
// the same, over a blob scanned on the fly.
//
// The functions are pure: they read the message through an io.ReaderAt
// at the offsets the scan recorded and know nothing of the store, of
// accounts, of ids or of HTTP. The caller decides what a blobId is (a
// func from partId to blobId) and which parts' values to fetch.
//
// # Part ids
//
// A partId is the part's IMAP section path: "1" for the only part of a
// single-part message, "1", "2", "2.1.3" within multiparts. Multiparts
// have none (partId and blobId are null for them, as the RFC requires),
// and message/rfc822 parts are leaves, their content one blob. So the
// same string names the part over IMAP (BODY[2.1.3]) and JMAP, and
// PartByID resolves it.
//
// # Decoding
//
// Content is decoded only through the mime package's decoders
// (TransferReader, LookupCharset, DecodeHeader, ParseAddressList,
// MessageIDs), so that a part reads the same over IMAP, the webmail and
// JMAP. Those decoders are lenient and never fail; for isEncodingProblem
// the raw octets of a base64 or quoted-printable part are checked on the
// side as the decoder reads them.
//
// # Bounds
//
// Every function reads at most what it returns plus fixed buffers: a
// header block at most the given limit, a body value at most
// maxBytes (capped at MaxBodyValueBytes), a decoded size by streaming.
// Structures are as deep and wide as the scanner's limits made them
// (depth at most 1000, parts at most Limits.MaxParts).
package emailprops
