package wire

import "time"

// monthNumber returns 1..12 for a three-letter month name in any case
// (RFC 9051: alphabetic characters are case-insensitive), or 0.
func monthNumber(b []byte) time.Month {
	var buf [3]byte
	u, ok := upperInto(buf[:], b)
	if !ok || len(u) != 3 {
		return 0
	}
	switch string(u) {
	case "JAN":
		return time.January
	case "FEB":
		return time.February
	case "MAR":
		return time.March
	case "APR":
		return time.April
	case "MAY":
		return time.May
	case "JUN":
		return time.June
	case "JUL":
		return time.July
	case "AUG":
		return time.August
	case "SEP":
		return time.September
	case "OCT":
		return time.October
	case "NOV":
		return time.November
	case "DEC":
		return time.December
	}
	return 0
}

// digits parses a fixed run of ASCII digits.
func digits(b []byte) (int, bool) {
	if len(b) == 0 {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// ReadDateTime reads an IMAP date-time (APPEND):
//
//	date-time = DQUOTE date-day-fixed "-" date-month "-" date-year
//	            SP time SP zone DQUOTE
//	date-day-fixed = (SP DIGIT) / 2DIGIT
//
// e.g. "17-Jul-1996 02:44:25 -0700". Impossible dates (31-Feb) and times
// are refused. The result carries the client's zone offset.
func (d *Decoder) ReadDateTime() (time.Time, error) {
	if err := d.fill(); err != nil {
		return time.Time{}, err
	}
	const n = len(`"dd-Mon-yyyy hh:mm:ss +zzzz"`)
	start := d.pos
	if start >= len(d.line) || d.line[start] != '"' {
		return time.Time{}, d.unexpected("a date-time in double quotes")
	}
	if len(d.line)-start < n {
		d.pos = len(d.line)
		if err := d.truncErr(); err != nil {
			return time.Time{}, err
		}
		d.pos = start
		return time.Time{}, syntaxErr(start, `invalid date-time, expected "dd-Mon-yyyy hh:mm:ss +zzzz"`)
	}
	b := d.line[start : start+n]
	t, ok := parseDateTime(b)
	if !ok {
		return time.Time{}, syntaxErr(start, `invalid date-time, expected "dd-Mon-yyyy hh:mm:ss +zzzz"`)
	}
	d.pos += n
	return t, nil
}

// parseDateTime parses the 28 bytes of a quoted date-time.
func parseDateTime(b []byte) (time.Time, bool) {
	if b[0] != '"' || b[27] != '"' || b[3] != '-' || b[7] != '-' || b[12] != ' ' ||
		b[15] != ':' || b[18] != ':' || b[21] != ' ' {
		return time.Time{}, false
	}
	dayb := b[1:3]
	if dayb[0] == ' ' {
		dayb = dayb[1:]
	}
	day, ok1 := digits(dayb)
	month := monthNumber(b[4:7])
	year, ok2 := digits(b[8:12])
	hh, ok3 := digits(b[13:15])
	mm, ok4 := digits(b[16:18])
	ss, ok5 := digits(b[19:21])
	zh, ok6 := digits(b[23:25])
	zm, ok7 := digits(b[25:27])
	sign := b[22]
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || !ok7 || month == 0 || (sign != '+' && sign != '-') {
		return time.Time{}, false
	}
	if day < 1 || day > daysIn(month, year) || hh > 23 || mm > 59 || ss > 59 || zm > 59 {
		return time.Time{}, false
	}
	off := (zh*60 + zm) * 60
	if sign == '-' {
		off = -off
	}
	loc := time.UTC
	if off != 0 {
		loc = time.FixedZone("", off)
	}
	return time.Date(year, month, day, hh, mm, ss, 0, loc), true
}

// ReadDate reads a SEARCH date: date = date-text / DQUOTE date-text DQUOTE,
// date-text = date-day "-" date-month "-" date-year, date-day = 1*2DIGIT,
// e.g. 1-Feb-1994. The result is midnight UTC of that day; RFC 9051 6.4.4
// compares dates "disregarding time and timezone", so the caller applies
// it to the message's date in its own zone.
func (d *Decoder) ReadDate() (time.Time, error) {
	if err := d.fill(); err != nil {
		return time.Time{}, err
	}
	start := d.pos
	line := d.line
	p := start
	quoted := p < len(line) && line[p] == '"'
	if quoted {
		p++
	}
	bad := func() (time.Time, error) {
		d.pos = p
		if p >= len(line) {
			if err := d.truncErr(); err != nil {
				return time.Time{}, err
			}
		}
		d.pos = start
		return time.Time{}, syntaxErr(start, "invalid date, expected d-Mon-yyyy")
	}
	ds := p
	for p < len(line) && isDigit(line[p]) && p-ds < 2 {
		p++
	}
	day, ok := digits(line[ds:p])
	if !ok || p >= len(line) || line[p] != '-' {
		return bad()
	}
	p++
	if len(line)-p < 8 || line[p+3] != '-' {
		p = len(line)
		return bad()
	}
	month := monthNumber(line[p : p+3])
	year, ok := digits(line[p+4 : p+8])
	if !ok || month == 0 || day < 1 || day > daysIn(month, year) {
		return bad()
	}
	p += 8
	if p < len(line) && isDigit(line[p]) {
		return bad() // a five-digit year
	}
	if quoted {
		if p >= len(line) || line[p] != '"' {
			return bad()
		}
		p++
	}
	d.pos = p
	return time.Date(year, month, day, 0, 0, 0, 0, time.UTC), nil
}
