package store

import "context"

// JunkClass is what a user's action said a message is, for the junk
// filter's training.
type JunkClass int

// The classes. JunkUntrained is also "forget what it was trained as".
const (
	JunkUntrained JunkClass = iota
	JunkSpam
	JunkHam
)

func (c JunkClass) String() string {
	switch c {
	case JunkSpam:
		return "spam"
	case JunkHam:
		return "ham"
	}
	return "untrained"
}

// JunkBaseModel is the account ID of the shared base model, which every
// account's classification falls back on.
const JunkBaseModel = 0

// JunkCount is how many spam and ham messages one token was seen in.
type JunkCount struct {
	Spam, Ham int32
}

// JunkModel is the part of one junk model a classification needs.
type JunkModel struct {
	AccountID int64 // JunkBaseModel for the base model
	// Spam and Ham count the messages the model was trained with.
	Spam, Ham int
	// Tokens is how many distinct tokens the model holds (what
	// junk.max_tokens bounds).
	Tokens int
	// Counts holds the requested tokens the model knows, by hash.
	Counts map[uint64]JunkCount
}

// JunkTraining is one message taught to one model.
type JunkTraining struct {
	AccountID int64 // JunkBaseModel trains the base model
	// ContentID names the message (MessageMeta.ContentID: every copy of it
	// in the account). The store remembers what each message was trained
	// as, so teaching the same class twice changes nothing and teaching
	// the other class moves its counts over (unlearn, then learn). Zero
	// means no such memory (a corpus taught to the base model): the
	// counts are simply added.
	ContentID int64
	As        JunkClass
	// Hashes are the message's distinct token hashes (junk.Hash).
	Hashes []uint64
}

// JunkMessage is a message as the trainer sees it.
type JunkMessage struct {
	MessageMeta
	Trained JunkClass // what its content was last trained as in this account
}

// JunkStore keeps the junk filter's models: per account, token counts
// keyed by a 64-bit hash, the number of messages trained, and what each
// message was trained as. Training is incremental (only the message's
// tokens are written) and each model is bounded (PruneJunk).
type JunkStore interface {
	// JunkModels reads, for each of accountIDs, its message counts and the
	// counts of the hashes it knows: one indexed lookup batch, what
	// classifying one message for several accounts needs. Models that were
	// never trained come back empty. The result is in accountIDs' order.
	JunkModels(ctx context.Context, accountIDs []int64, hashes []uint64) ([]JunkModel, error)
	// LoadJunkModel reads a whole model, every token's counts, from one
	// snapshot (what a cache of the base model loads).
	LoadJunkModel(ctx context.Context, accountID int64) (JunkModel, error)
	// TrainJunk applies trainings in one transaction and reports, for
	// each, what the message was trained as before (JunkUntrained for a
	// corpus training). An account that does not exist is ErrNotFound.
	TrainJunk(ctx context.Context, ts []JunkTraining) ([]JunkClass, error)
	// PruneJunk bounds a model to maxTokens tokens, dropping the least
	// useful first (seen in the fewest messages, then the longest
	// untrained); it drops down to 95% of maxTokens so it does not run on
	// every training. It returns how many tokens it dropped.
	PruneJunk(ctx context.Context, accountID int64, maxTokens int) (int, error)
	// JunkMessages returns a mailbox and the messages among uids it still
	// holds, with what each was trained as: what the trainer needs to
	// learn from a move, a copy or a keyword.
	JunkMessages(ctx context.Context, mailboxID int64, uids []uint32) (Mailbox, []JunkMessage, error)
}
