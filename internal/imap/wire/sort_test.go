package wire

import (
	"fmt"
	"strings"
	"testing"
)

// sortLine reads "t [UID ]SORT args" or "t [UID ]THREAD args" and renders
// what was read.
func sortLine(t *testing.T, line string) (string, error) {
	t.Helper()
	var out string
	var err error
	eachRig(t, line+"\r\n", Limits{}, func(t *testing.T, r *rig) {
		d := r.d
		mustTag(t, d, "t")
		mustSP(t, d)
		name, _ := d.ReadAtom()
		if name == "UID" {
			mustSP(t, d)
			name, _ = d.ReadAtom()
		}
		mustSP(t, d)
		out, err = "", nil
		switch strings.ToUpper(name) {
		case "SORT":
			var s *Sort
			if s, err = d.ReadSort(); err == nil {
				if s.Return != nil {
					out += fmt.Sprintf("return%+v ", *s.Return)
					if p := s.Return.Partial; p != nil {
						out += "partial=" + p.String() + " "
					}
				}
				if s.Update {
					out += "update "
					for _, it := range s.UpdateFetch {
						out += "fetch=" + it.Name + " "
					}
				}
				out += fmt.Sprint(s.Criteria) + " charset=" + s.Charset + " " + dumpKey(s.Key)
			}
		case "THREAD":
			var th *Thread
			if th, err = d.ReadThread(); err == nil {
				out = th.Algorithm + " charset=" + th.Charset + " " + dumpKey(th.Key)
			}
		}
		if err == nil {
			err = d.ExpectCRLF()
		}
		if err != nil {
			out = ""
			d.DiscardLine()
		}
		mustEOF(t, d)
	})
	return out, err
}

func TestReadSort(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		// RFC 5256 section 3 examples
		{`t SORT (SUBJECT) UTF-8 SINCE 1-Feb-1994`, `[{SUBJECT false}] charset=UTF-8 (SINCE 1994-02-01)`, ""},
		{`t SORT (SUBJECT REVERSE DATE) UTF-8 ALL`, `[{SUBJECT false} {DATE true}] charset=UTF-8 (ALL)`, ""},
		{`t UID SORT (REVERSE ARRIVAL) US-ASCII UNSEEN SMALLER 500`, `[{ARRIVAL true}] charset=US-ASCII (AND (UNSEEN) (SMALLER 500))`, ""},
		{`t sort (cc from size to reverse subject) "utf-8" (OR SEEN DRAFT)`,
			`[{CC false} {FROM false} {SIZE false} {TO false} {SUBJECT true}] charset=utf-8 (OR (SEEN) (DRAFT))`, ""},
		// RFC 5957 display keys
		{`t SORT (DISPLAYFROM reverse displayto) UTF-8 ALL`, `[{DISPLAYFROM false} {DISPLAYTO true}] charset=UTF-8 (ALL)`, ""},
		// RFC 5267 ESORT, RFC 9394 PARTIAL
		{`t SORT RETURN (MIN MAX COUNT) (DATE) UTF-8 ALL`,
			`return{Min:true Max:true All:false Count:true Save:false Partial:<nil>} [{DATE false}] charset=UTF-8 (ALL)`, ""},
		{`t SORT RETURN () (DATE) UTF-8 ALL`,
			`return{Min:false Max:false All:true Count:false Save:false Partial:<nil>} [{DATE false}] charset=UTF-8 (ALL)`, ""},
		{`t UID SORT RETURN (PARTIAL 4:2) (ARRIVAL) UTF-8 ALL`, `partial=2:4 [{ARRIVAL false}] charset=UTF-8 (ALL)`, ""},
		{`t UID SORT RETURN (PARTIAL -1:-100 COUNT) (ARRIVAL) UTF-8 ALL`, `partial=-1:-100 [{ARRIVAL false}] charset=UTF-8 (ALL)`, ""},
		{`t SORT RETURN (PARTIAL -100:-1) (ARRIVAL) UTF-8 ALL`, `partial=-1:-100 [{ARRIVAL false}] charset=UTF-8 (ALL)`, ""},
		// RFC 5267 CONTEXT=SORT: UPDATE (with RFC 5465 7's fetch-att list)
		// and the CONTEXT hint; with only these, RETURN means ALL.
		{`t UID SORT RETURN (UPDATE) (REVERSE DATE) UTF-8 ALL`,
			`return{Min:false Max:false All:true Count:false Save:false Partial:<nil>} update [{DATE true}] charset=UTF-8 (ALL)`, ""},
		{`t SORT RETURN (update count context) (SUBJECT) UTF-8 UNSEEN`,
			`return{Min:false Max:false All:false Count:true Save:false Partial:<nil>} update [{SUBJECT false}] charset=UTF-8 (UNSEEN)`, ""},
		{`t SORT RETURN (CONTEXT MIN) (DATE) UTF-8 ALL`,
			`return{Min:true Max:false All:false Count:false Save:false Partial:<nil>} [{DATE false}] charset=UTF-8 (ALL)`, ""},
		{`t SORT RETURN (UPDATE (FLAGS UID) ALL) (ARRIVAL) UTF-8 ALL`,
			`return{Min:false Max:false All:true Count:false Save:false Partial:<nil>} update fetch=FLAGS fetch=UID [{ARRIVAL false}]`, ""},
		{`t SORT RETURN (UPDATE ()) (DATE) UTF-8 ALL`, ``, "empty fetch-att list"},
		{`t SORT RETURN (UPDATE (NOSUCH)) (DATE) UTF-8 ALL`, ``, "FETCH"},
		{`t SORT RETURN (UPDATES) (DATE) UTF-8 ALL`, ``, "unknown RETURN option"},
		// errors
		{`t SORT () UTF-8 ALL`, ``, "empty sort criteria"},
		{`t SORT (BOGUS) UTF-8 ALL`, ``, "unknown sort key"},
		{`t SORT (REVERSE) UTF-8 ALL`, ``, "space"},
		{`t SORT (REVERSE REVERSE DATE) UTF-8 ALL`, ``, "unknown sort key"},
		{`t SORT DATE UTF-8 ALL`, ``, `"("`},
		{`t SORT (DATE) UTF-8`, ``, "space"},
		{`t SORT (DATE) ALL`, ``, "space"}, // the charset is not optional
		{`t SORT (DATE) UTF-8 BOGUS`, ``, "unknown search key"},
		{`t SORT RETURN (PARTIAL 1) (ARRIVAL) UTF-8 ALL`, ``, "PARTIAL needs a range"},
		{`t SORT RETURN (PARTIAL 1:*) (ARRIVAL) UTF-8 ALL`, ``, "number"},
		{`t SORT RETURN (PARTIAL *:1) (ARRIVAL) UTF-8 ALL`, ``, "number"},
		{`t SORT RETURN (PARTIAL 0:5) (ARRIVAL) UTF-8 ALL`, ``, "number"},
		{`t SORT RETURN (PARTIAL -1:5) (ARRIVAL) UTF-8 ALL`, ``, "both"},
		{`t SORT RETURN (PARTIAL 1:-5) (ARRIVAL) UTF-8 ALL`, ``, "both"},
		{`t SORT RETURN (PARTIAL 1:2 PARTIAL 3:4) (ARRIVAL) UTF-8 ALL`, ``, "twice"},
		{`t SORT RETURN (PARTIAL 1:4294967296) (ARRIVAL) UTF-8 ALL`, ``, "too large"},
	} {
		got, err := sortLine(t, c.in)
		errContains(t, err, c.err)
		if err == nil && c.err == "" && !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got  %s\n want %s", c.in, got, c.want)
		}
	}
}

func TestReadThread(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`t THREAD ORDEREDSUBJECT UTF-8 SINCE 5-MAR-2000`, `ORDEREDSUBJECT charset=UTF-8 (SINCE 2000-03-05)`, ""},
		{`t UID THREAD references US-ASCII TEXT "gewp"`, `REFERENCES charset=US-ASCII (TEXT "gewp")`, ""},
		{`t THREAD REFERENCES "UTF-8" 1:5 UNDELETED`, `REFERENCES charset=UTF-8 (AND (SEQ 1:5) (UNDELETED))`, ""},
		{`t THREAD REFS UTF-8 ALL`, ``, "unknown threading algorithm"},
		{`t THREAD REFERENCES`, ``, "space"},
		{`t THREAD REFERENCES UTF-8`, ``, "space"},
		{`t THREAD REFERENCES UTF-8 (ALL`, ``, "end of line"},
	} {
		got, err := sortLine(t, c.in)
		errContains(t, err, c.err)
		if err == nil && c.err == "" && got != c.want {
			t.Errorf("%s:\n got  %s\n want %s", c.in, got, c.want)
		}
	}
}

func TestSearchPartial(t *testing.T) {
	for _, c := range []struct{ in, want, err string }{
		{`t SEARCH RETURN (PARTIAL 1:1) ALL`, `return{Min:false Max:false All:false Count:false Save:false Partial:`, ""},
		{`t SEARCH RETURN (PARTIAL 1) ALL`, ``, "PARTIAL needs a range"},
		{`t SEARCH RETURN (PARTIAL 1:*) ALL`, ``, "number"},
		{`t SEARCH RETURN (PARTIAL *:1) ALL`, ``, "number"},
		{`t SEARCH RETURN (PARTIAL) ALL`, ``, "space"},
	} {
		got, err := searchLine(t, c.in, Limits{})
		errContains(t, err, c.err)
		if err == nil && c.err == "" && !strings.Contains(got, c.want) {
			t.Errorf("%s:\n got  %s\n want %s", c.in, got, c.want)
		}
	}
}

func TestPartialWindow(t *testing.T) {
	for _, c := range []struct {
		p        PartialRange
		n        int
		from, to int
	}{
		{PartialRange{Lo: 1, Hi: 1}, 5, 0, 1},
		{PartialRange{Lo: 2, Hi: 4}, 5, 1, 4},
		{PartialRange{Lo: 1, Hi: 6}, 5, 0, 5},
		{PartialRange{Lo: 6, Hi: 6}, 5, 0, 0},
		{PartialRange{Lo: 5, Hi: 10}, 4, 0, 0},
		{PartialRange{Lo: 1, Hi: 1, FromEnd: true}, 5, 4, 5},  // the last result
		{PartialRange{Lo: 1, Hi: 3, FromEnd: true}, 5, 2, 5},  // the last three
		{PartialRange{Lo: 2, Hi: 10, FromEnd: true}, 5, 0, 4}, // all but the last
		{PartialRange{Lo: 6, Hi: 9, FromEnd: true}, 5, 0, 0},
		{PartialRange{Lo: 1, Hi: 4294967295}, 0, 0, 0},
		{PartialRange{Lo: 4294967295, Hi: 4294967295, FromEnd: true}, 3, 0, 0},
	} {
		from, to := c.p.Window(c.n)
		if from != c.from || to != c.to {
			t.Errorf("%+v of %d: [%d,%d), want [%d,%d)", c.p, c.n, from, to, c.from, c.to)
		}
	}
}
