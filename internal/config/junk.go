package config

// Junk configures the junk filter (internal/junkfilter).
type Junk struct {
	// Enabled: inbound mail is scored per recipient account, and what
	// users move into and out of Junk trains their filter.
	Enabled bool `toml:"enabled"`
	// Threshold is the score (0 to 1) from which a message goes to Junk.
	Threshold float64 `toml:"threshold"`
	// MaxTokens bounds each account's model (and the shared base
	// model): beyond it, the least useful tokens are dropped.
	MaxTokens int `toml:"max_tokens"`
}

// defaultJunk: on, at the classifier's measured threshold
// (junk.DefaultThreshold, see docs/benchmarks.md), 200,000 tokens (about
// 8 MB of database per account at most).
func defaultJunk() Junk {
	return Junk{Enabled: true, Threshold: 0.9, MaxTokens: 200_000}
}

func (j *Junk) validate() error {
	if !(j.Threshold > 0 && j.Threshold <= 1) {
		return &Error{Key: "junk.threshold", Msg: "must be above 0 and at most 1"}
	}
	if j.MaxTokens < 1000 {
		return &Error{Key: "junk.max_tokens", Msg: "must be at least 1000"}
	}
	return nil
}
