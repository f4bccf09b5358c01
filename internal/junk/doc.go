// Package junk is Mailroom's statistical junk classifier: it turns a
// message into tokens (Tokens), learns per-token spam and ham counts from
// messages users classify (Model.Learn, Model.Unlearn), and scores new
// messages (Model.Classify) with Robinson's smoothing and Fisher's
// chi-square combination, the method of SpamBayes and bogofilter.
//
// The package knows nothing of storage, accounts or delivery: the caller
// keeps one Model per account plus a shared base model, loads and saves
// them through Each/Add/AddMessages or MarshalBinary, and decides what a
// Verdict means for the message. A Model stores token hashes, not tokens,
// so its memory is bounded by Prune and a stored model holds no text of
// anyone's mail; the tokens appear only in a Verdict's Reasons, computed
// from the message being classified.
package junk
