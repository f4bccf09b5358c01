package junk

import (
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
)

// A small hand-made corpus: spam about pills, loans and prizes; ham about
// work and family. Each message is a subject and a body.
var (
	handSpam = [][2]string{
		{"Cheap pills online", "Buy cheap pills online now, no prescription needed. Order today!"},
		{"You have won a prize", "Congratulations winner! Claim your cash prize now, click here."},
		{"Low interest loans", "Get a loan approved today, low interest, no credit check, click here."},
		{"Lose weight fast", "Miracle pills make you lose weight fast. Order now, limited offer!"},
		{"Limited offer inside", "Exclusive offer: cash bonus for new customers, click here today."},
		{"Your account winner", "You are our lucky winner, claim your free cash bonus now."},
		{"Cheap meds", "Discount meds and pills shipped overnight, no prescription, order now."},
		{"Free money", "Free cash, no credit check, approved instantly, click here now!"},
	}
	handHam = [][2]string{
		{"Meeting notes", "Here are the notes from Monday's meeting about the release schedule."},
		{"Dinner on Sunday", "Mum asked whether you are coming for dinner on Sunday with the kids."},
		{"Code review", "I left comments on your patch; the tests fail on the parser change."},
		{"Release schedule", "The release moves to Thursday; please update the schedule and notes."},
		{"Holiday photos", "The kids loved the beach, photos from the holiday are attached to the album."},
		{"Re: parser change", "Thanks for the review, I fixed the parser and the failing tests."},
		{"Project update", "Status of the project: the schedule holds, the review is done."},
		{"Birthday", "Remember grandma's birthday on Sunday, the family meets for lunch."},
	}
	heldSpam = [][2]string{
		{"Claim your prize", "Winner! Claim your free cash prize today, click here, limited offer."},
		{"Pills discount", "Order cheap pills now, no prescription, discount today."},
	}
	heldHam = [][2]string{
		{"Notes from the review", "Notes from the review of the parser patch; tests pass now."},
		{"Sunday lunch", "The family meets for lunch on Sunday, bring the kids and photos."},
	}
)

func handMessage(m [2]string) []string {
	return Tokens(crlf(fmt.Sprintf("From: someone@example.org\nSubject: %s\n\n%s\n", m[0], m[1])))
}

func handModel() *Model {
	m := NewModel()
	for _, s := range handSpam {
		m.Learn(handMessage(s), true)
	}
	for _, h := range handHam {
		m.Learn(handMessage(h), false)
	}
	return m
}

func TestClassifySeparates(t *testing.T) {
	m := handModel()
	minSpam, maxHam := 1.0, 0.0
	for _, s := range heldSpam {
		v := m.Classify(handMessage(s), nil)
		t.Logf("spam %q: %.4f %v", s[0], v.Score, v.Reasons)
		if !v.Junk {
			t.Errorf("held-out spam %q not junk: %.4f", s[0], v.Score)
		}
		minSpam = min(minSpam, v.Score)
	}
	for _, h := range heldHam {
		v := m.Classify(handMessage(h), nil)
		t.Logf("ham %q: %.4f %v", h[0], v.Score, v.Reasons)
		if v.Junk || v.Unsure {
			t.Errorf("held-out ham %q not ham: %.4f", h[0], v.Score)
		}
		maxHam = max(maxHam, v.Score)
	}
	if minSpam <= maxHam {
		t.Fatalf("not separated: lowest spam %.4f, highest ham %.4f", minSpam, maxHam)
	}

	// Nothing known: neutral, and no reasons.
	v := m.Classify([]string{"zzunknown1", "zzunknown2"}, nil)
	if v.Score != 0.5 || v.Junk || !v.Unsure || len(v.Reasons) != 0 {
		t.Fatalf("unknown tokens: %+v", v)
	}
	// An empty model knows nothing either.
	if v := NewModel().Classify(handMessage(heldSpam[0]), nil); v.Score != 0.5 {
		t.Fatalf("empty model: %+v", v)
	}
}

// TestReasons: the strongest clues, readable, with the side they weigh on.
func TestReasons(t *testing.T) {
	m := handModel()
	v := m.Classify(handMessage(heldSpam[0]), nil)
	if len(v.Reasons) == 0 || len(v.Reasons) > DefaultParams().Reasons {
		t.Fatalf("reasons: %q", v.Reasons)
	}
	re := regexp.MustCompile(`^"[^"]+" \((spam|ham) \d{1,3}%\)$`)
	for _, r := range v.Reasons {
		if !re.MatchString(r) {
			t.Errorf("reason %q not in the documented form", r)
		}
		// A junk verdict is explained by spam clues: the held-out spam
		// has more than enough of them.
		if !strings.Contains(r, "(spam ") {
			t.Errorf("a junk verdict explained by a ham clue: %q", v.Reasons)
		}
	}
	// And a ham verdict by ham clues.
	for _, r := range m.Classify(handMessage(heldHam[0]), nil).Reasons {
		if !strings.Contains(r, "(ham ") {
			t.Errorf("a ham verdict explained by a spam clue: %q", r)
		}
	}
	long := clue{f: 0.99, tok: strings.Repeat("é", 40)}
	if r := reason(long); !strings.HasSuffix(r, "…\" (spam 99%)") || strings.Contains(r, `\x`) {
		t.Errorf("long token reason %q", r)
	}
}

// TestBaseFallback: an account that learned nothing scores as the shared
// base model does; what it learns moves its own verdicts, and only its own.
func TestBaseFallback(t *testing.T) {
	base := handModel()
	account := NewModel()
	spam := handMessage(heldSpam[0])
	vb := base.Classify(spam, nil)
	va := account.Classify(spam, base)
	if math.Abs(va.Score-vb.Score) > 1e-9 || !va.Junk {
		t.Fatalf("empty account with base: %.4f, base alone: %.4f", va.Score, vb.Score)
	}

	// The user moves this message out of Junk: it is ham to them. The
	// next similar message must land in the INBOX for them, while the
	// base (everyone else) still calls it junk.
	account.Learn(spam, false)
	next := handMessage([2]string{heldSpam[0][0], heldSpam[0][1] + " Regards."})
	if v := account.Classify(next, base); v.Junk {
		t.Fatalf("after learning as ham, a similar message is still junk: %.4f %q", v.Score, v.Reasons)
	}
	if v := base.Classify(next, nil); !v.Junk {
		t.Fatalf("the base changed: %.4f", v.Score)
	}
	// Spam that has nothing to do with it is still caught for the account.
	if v := account.Classify(handMessage(heldSpam[1]), base); !v.Junk {
		t.Fatalf("unrelated spam no longer junk for the account: %.4f %q", v.Score, v.Reasons)
	}

	// And the other way round: an account that learns a message as spam
	// gets the next one like it in Junk although the base says ham.
	account2 := NewModel()
	ham := handMessage(heldHam[0])
	if v := account2.Classify(ham, base); v.Junk {
		t.Fatalf("ham junk before learning: %.4f", v.Score)
	}
	account2.Learn(ham, true)
	if v := account2.Classify(ham, base); !v.Junk {
		t.Fatalf("after learning as spam: %.4f %q", v.Score, v.Reasons)
	}
	if v := account2.Classify(handMessage(heldHam[1]), base); v.Junk {
		t.Fatalf("unrelated ham junk after learning one spam: %.4f %q", v.Score, v.Reasons)
	}
}

// TestChi2Q checks the chi-square tail against closed forms: for 2
// degrees of freedom it is e^(−x/2); for 4, e^(−x/2)(1 + x/2).
func TestChi2Q(t *testing.T) {
	for _, x := range []float64{0.1, 1, 5, 20, 100} {
		if got, want := chi2Q(x, 2), math.Exp(-x/2); math.Abs(got-want) > 1e-12 {
			t.Errorf("chi2Q(%v, 2) = %v, want %v", x, got, want)
		}
		if got, want := chi2Q(x, 4), math.Exp(-x/2)*(1+x/2); math.Abs(got-want) > 1e-12 {
			t.Errorf("chi2Q(%v, 4) = %v, want %v", x, got, want)
		}
	}
	// Large arguments, where e^(−m) alone underflows: still a probability,
	// and monotone.
	if q := chi2Q(3000, 300); q < 0 || q > 1e-100 {
		t.Errorf("chi2Q(3000, 300) = %v", q)
	}
	if a, b := chi2Q(1500, 1000), chi2Q(1600, 1000); !(a > b) {
		t.Errorf("not decreasing: %v %v", a, b)
	}
}
