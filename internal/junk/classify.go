package junk

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// DefaultThreshold is the score from which a message is junk (Verdict.Junk).
// See docs/benchmarks.md for the measurement it rests on.
const DefaultThreshold = 0.9

// DefaultHamCutoff is the score below which a message is surely ham; from
// there up to the threshold it is unsure (Verdict.Unsure).
const DefaultHamCutoff = 0.2

// Params are the classifier's parameters. The defaults (DefaultParams)
// were tuned on the training half of the SpamAssassin public corpus only.
type Params struct {
	// S and X are Robinson's smoothing: a token seen n times with the raw
	// spam probability p scores f = (S·X + n·p) / (S + n), so a rare
	// token stays near X (the probability assumed for an unknown token)
	// and a frequent one approaches p. With a base model, the base's f
	// takes X's place for the account's own counts.
	S, X float64
	// MinDev: only tokens with |f − 0.5| ≥ MinDev are clues; the rest
	// would only add noise to the combination.
	MinDev float64
	// MaxClues bounds the clues combined (the strongest first), so that a
	// long message does not win by sheer numbers.
	MaxClues int
	// Threshold: Score ≥ Threshold is junk. HamCutoff: Score < HamCutoff
	// is ham; in between is unsure.
	Threshold, HamCutoff float64
	// Reasons is the number of clues reported in Verdict.Reasons.
	Reasons int
	// ESF is the effective size factor (bogofilter's): clues are not
	// independent, so n clues weigh as n·ESF in the combination. 1 is off.
	ESF float64
}

// DefaultParams returns the parameters Classify uses: chosen by 3-fold
// cross-validation on the train split of the SpamAssassin public corpus
// (`junkeval -tune`, docs/benchmarks.md) as the set that kept ham flagged
// lowest (1 of 2,919) over the widest range of thresholds (0.8 to 0.99)
// while catching the most spam. A high MinDev and a small S mean: only
// tokens with clear, repeated evidence count, the way bogofilter's
// defaults (min_dev 0.375) also do; X above 0.5 with that MinDev means an
// unknown token never counts.
func DefaultParams() Params {
	return Params{
		S:         0.2,
		X:         0.65,
		MinDev:    0.42,
		MaxClues:  150,
		Threshold: DefaultThreshold,
		HamCutoff: DefaultHamCutoff,
		Reasons:   5,
		ESF:       1,
	}
}

// Verdict is the result of classifying one message.
type Verdict struct {
	// Score is from 0 (ham) to 1 (spam); 0.5 when nothing is known.
	Score float64
	// Junk: Score ≥ the threshold.
	Junk bool
	// Unsure: neither junk nor surely ham (HamCutoff ≤ Score < threshold).
	Unsure bool
	// Reasons are the few clues that weighed most for the verdict's side
	// (spam when Score ≥ 0.5, else ham), strongest first, human-readable,
	// e.g. `"viagra" (spam 97%)`.
	Reasons []string
	// Clues is the number of tokens that counted.
	Clues int
}

// Classify scores tokens (from Tokens) against this model with
// DefaultParams, falling back to base (the shared model; may be nil) for
// what this one has not learned enough.
func (m *Model) Classify(tokens []string, base *Model) Verdict {
	return m.ClassifyParams(tokens, base, DefaultParams())
}

// clue is one token's probability f(w) and its distance from neutral.
type clue struct {
	f   float64
	dev float64
	tok string
}

// ClassifyParams is Classify with explicit parameters.
//
// The method is Gary Robinson's, as in SpamBayes and bogofilter: each token
// gets a smoothed spam probability f(w); the clues (tokens far enough from
// 0.5) are combined with Fisher's chi-square method into S (evidence for
// spam) and H (evidence for ham), and the score is (1 + S − H) / 2. Unlike
// a naive Bayes product, it says 0.5 when the evidence conflicts instead
// of going to an extreme.
//
// With a base model, a token's probability from the base is the prior that
// the account's own counts are smoothed towards, so an account that has
// learned nothing scores as the base does, and each message it learns
// moves its own tokens away from the base. For a class the account has not
// learned a single message of, the base's frequencies stand in.
func (m *Model) ClassifyParams(tokens []string, base *Model, p Params) Verdict {
	if base == m {
		base = nil
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	if base != nil {
		base.mu.RLock()
		defer base.mu.RUnlock()
	}
	clues := make([]clue, 0, 64)
	seen := make(map[uint64]struct{}, len(tokens))
	for _, t := range tokens {
		h := Hash(t)
		if _, dup := seen[h]; dup {
			continue
		}
		seen[h] = struct{}{}
		f, ok := m.prob(h, base, p)
		if !ok {
			continue
		}
		if dev := math.Abs(f - 0.5); dev >= p.MinDev {
			clues = append(clues, clue{f: f, dev: dev, tok: t})
		}
	}
	// Strongest first; ties by token so the result does not depend on the
	// order of tokens.
	slices.SortFunc(clues, func(a, b clue) int {
		if a.dev != b.dev {
			if a.dev > b.dev {
				return -1
			}
			return 1
		}
		return strings.Compare(a.tok, b.tok)
	})
	if p.MaxClues > 0 && len(clues) > p.MaxClues {
		clues = clues[:p.MaxClues]
	}
	v := Verdict{Score: chiCombine(clues, p.ESF), Clues: len(clues)}
	v.Junk = v.Score >= p.Threshold
	v.Unsure = !v.Junk && v.Score >= p.HamCutoff
	// Reasons explain the verdict, so they are the strongest clues on
	// its side (spam for a score above 0.5, ham below); clues against it
	// follow only if there are too few.
	spamSide := v.Score >= 0.5
	for pass := 0; pass < 2 && len(v.Reasons) < p.Reasons; pass++ {
		for _, c := range clues {
			if len(v.Reasons) >= p.Reasons {
				break
			}
			if (c.f >= 0.5 == spamSide) == (pass == 0) {
				v.Reasons = append(v.Reasons, reason(c))
			}
		}
	}
	return v
}

// prob is f(w) of token hash h; ok is false when neither model can say
// anything about it. Called with the read locks held.
func (m *Model) prob(h uint64, base *Model, p Params) (f float64, ok bool) {
	prior := p.X
	var bs, bh, bnS, bnH float64
	if base != nil {
		be := base.tokens[h]
		bs, bh = float64(be.spam), float64(be.ham)
		bnS, bnH = float64(base.nspam), float64(base.nham)
		if bf, ok := robinson(bs, bh, bnS, bnH, p.S, p.X); ok {
			prior = bf
		}
	}
	e, known := m.tokens[h]
	if !known {
		return prior, base != nil && (bs > 0 || bh > 0)
	}
	ns, nh := float64(e.spam), float64(e.ham)
	nS, nH := float64(m.nspam), float64(m.nham)
	// Per class, the account's own frequency if it has learned that class
	// at all, else the base's.
	var fs, fh float64
	switch {
	case nS > 0:
		fs = ns / nS
	case bnS > 0:
		fs = bs / bnS
	default:
		return prior, false
	}
	switch {
	case nH > 0:
		fh = nh / nH
	case bnH > 0:
		fh = bh / bnH
	default:
		return prior, false
	}
	if fs+fh == 0 {
		return prior, true
	}
	pw := fs / (fs + fh)
	n := ns + nh
	return (p.S*prior + n*pw) / (p.S + n), true
}

// robinson is f(w) for counts ns, nh out of nS, nH messages, smoothed
// towards x with strength s; ok is false if the model lacks a class.
func robinson(ns, nh, nS, nH, s, x float64) (float64, bool) {
	if nS == 0 || nH == 0 || ns+nh == 0 {
		return x, false
	}
	fs, fh := ns/nS, nh/nH
	pw := fs / (fs + fh)
	n := ns + nh
	return (s*x + n*pw) / (s + n), true
}

// chiCombine is Fisher's combination of the clues' probabilities as
// Robinson proposed and SpamBayes implements it: S = 1 − C⁻¹(−2 Σ ln(1−f),
// 2n) is near 1 when the clues lean to spam, H likewise for ham, and the
// score is (1 + S − H) / 2.
func chiCombine(clues []clue, esf float64) float64 {
	if len(clues) == 0 {
		return 0.5
	}
	if esf <= 0 || esf > 1 {
		esf = 1
	}
	var lnS, lnH float64
	for _, c := range clues {
		f := min(max(c.f, 1e-12), 1-1e-12)
		lnS += math.Log1p(-f)
		lnH += math.Log(f)
	}
	n := max(1, int(math.Round(float64(len(clues))*esf)))
	s := 1 - chi2Q(-2*lnS*esf, 2*n)
	h := 1 - chi2Q(-2*lnH*esf, 2*n)
	return (1 + s - h) / 2
}

// chi2Q is the probability that a chi-square variable with v (even)
// degrees of freedom exceeds x2: e^(−m) Σ_{i<v/2} mⁱ/i! with m = x2/2,
// summed in log space, as e^(−m) alone underflows for the m of a long
// message while the sum does not.
func chi2Q(x2 float64, v int) float64 {
	m := x2 / 2
	if m <= 0 {
		return 1
	}
	logm := math.Log(m)
	logTerm := -m
	logSum := logTerm
	for i := 1; i < v/2; i++ {
		logTerm += logm - math.Log(float64(i))
		// logSum = log(e^logSum + e^logTerm), without overflow.
		if logTerm > logSum {
			logSum = logTerm + math.Log1p(math.Exp(logSum-logTerm))
		} else {
			logSum += math.Log1p(math.Exp(logTerm - logSum))
		}
	}
	return min(math.Exp(logSum), 1)
}

// reason renders a clue for people: the token quoted, and how spammy it
// is.
func reason(c clue) string {
	tok := c.tok
	if len(tok) > 60 {
		cut := 60
		for cut > 0 && !utf8.RuneStart(tok[cut]) {
			cut--
		}
		tok = tok[:cut] + "…"
	}
	if c.f >= 0.5 {
		return fmt.Sprintf("%q (spam %d%%)", tok, int(math.Round(c.f*100)))
	}
	return fmt.Sprintf("%q (ham %d%%)", tok, int(math.Round((1-c.f)*100)))
}
