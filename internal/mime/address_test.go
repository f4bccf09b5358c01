package mime

import "testing"

func TestParseAddressList(t *testing.T) {
	tests := []struct {
		in   string
		want []string // see wantAddrs
	}{
		{"", nil},
		{"  ", nil},
		{"a@b.example", []string{"|a@b.example"}},
		{"John Doe <jdoe@machine.example>", []string{"John Doe|jdoe@machine.example"}},
		{`"Joe Q. Public" <john.q.public@example.com>`, []string{"Joe Q. Public|john.q.public@example.com"}},
		{"Joe Q. Public <john.q.public@example.com>", []string{"Joe Q. Public|john.q.public@example.com"}},
		{`"quoted \"name\"" <q@x>`, []string{`quoted "name"|q@x`}},
		{"<@a.example,@b.example:user@c.example>", []string{"|user@c.example@a.example,@b.example"}},
		{"user@example.com (User Name)", []string{"User Name|user@example.com"}},
		{"(Comment Name) <user@example.com>", []string{"Comment Name|user@example.com"}},
		{"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", []string{"Pete|pete@silly.test"}},
		{"A Group:Ed Jones <c@a.test>,joe@where.test,John <jdoe@one.test>;", []string{
			"group:A Group", "Ed Jones|c@a.test", "|joe@where.test", "John|jdoe@one.test", "end"}},
		{"Undisclosed recipients:;", []string{"group:Undisclosed recipients", "end"}},
		{"group: a@b", []string{"group:group", "|a@b", "end"}},
		{"a@b, , ,c@d,", []string{"|a@b", "|c@d"}},
		{"jdoe@example.org <jdoe@example.org>", []string{"|jdoe@example.org"}},
		{"<>", nil},
		{"Name <>", []string{"Name|"}},
		{`"john doe"@example.com`, []string{"|john doe@example.com"}},
		{"john . doe @ example . com", []string{"|john.doe@example.com"}},
		{"<user@[192.0.2.1]>", []string{"|user@[192.0.2.1]"}},
		{"user@example.com John", []string{"|user@example.com"}},
		{"Missing <angle@example.com", []string{"Missing|angle@example.com"}},
		{`"unterminated <x@y>`, []string{"|unterminated <x@y>"}},
		{"=?utf-8?q?J=C3=B6rg?= <j@x>", []string{"Jörg|j@x"}},
		{"=?utf-8?q?a?= =?utf-8?q?b?= <j@x>", []string{"ab|j@x"}},
		{"just-a-word", []string{"|just-a-word"}},
		{"a@b;c@d", []string{"|a@b", "|c@d"}},
		{":;", []string{"group:", "end"}},
		{">>>,<<<", nil},
	}
	for _, tc := range tests {
		got := ParseAddressList(tc.in)
		t.Run(tc.in, func(t *testing.T) {
			wantAddrs(t, tc.in, got, tc.want...)
		})
	}
}

func TestAddressRawName(t *testing.T) {
	l := ParseAddressList(`"A \"B\"" C   D <x@y>`)
	if len(l) != 1 || l[0].Name != `A "B" C D` {
		t.Fatalf("%+v", l)
	}
}
