//go:build race

package imap

// raceEnabled: the race detector's shadow memory and slowness would
// swamp what the memory tests measure.
const raceEnabled = true
