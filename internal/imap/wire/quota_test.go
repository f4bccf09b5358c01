package wire

import "testing"

func TestReadGetQuota(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadGetQuota, []cmdCase[string]{
		// RFC 9208 4.2.1 and 4.2.2 examples
		{in: `G0001 GETQUOTA "!partition/sda4"`, want: "!partition/sda4"},
		{in: `a GETQUOTA ""`, want: ""},
		{in: `a GETQUOTA #user/ann@example.test`, want: "#user/ann@example.test"},
		{in: "a GETQUOTA {4+}\r\nroot", want: "root"},
		{in: `a GETQUOTA`, err: "expected a space"},
		{in: `a GETQUOTA "" extra`, err: "end of line"},
	})
}

func TestReadSetQuota(t *testing.T) {
	runCmdCases(t, (*Decoder).ReadSetQuota, []cmdCase[SetQuota]{
		// RFC 9208 4.1.3 example
		{in: `S0000 SETQUOTA "" (STORAGE 512)`, want: SetQuota{Limits: []QuotaLimit{{"STORAGE", 512}}}},
		{in: `a SETQUOTA "#user/b@example.test" (storage 10 Message 0)`,
			want: SetQuota{Root: "#user/b@example.test", Limits: []QuotaLimit{{"STORAGE", 10}, {"MESSAGE", 0}}}},
		{in: `a SETQUOTA "" ()`, want: SetQuota{}},
		{in: `a SETQUOTA "" (X-FOO 1)`, want: SetQuota{Limits: []QuotaLimit{{"X-FOO", 1}}}},
		{in: `a SETQUOTA "" (STORAGE 9223372036854775807)`, want: SetQuota{Limits: []QuotaLimit{{"STORAGE", 1<<63 - 1}}}},
		{in: `a SETQUOTA "" (STORAGE 9223372036854775808)`, err: "number too large"},
		{in: `a SETQUOTA "" (STORAGE -1)`, err: "expected a number"},
		{in: `a SETQUOTA "" (STORAGE)`, err: "expected a space"},
		{in: `a SETQUOTA "" (STORAGE 1 STORAGE 2)`, err: "given twice"},
		{in: `a SETQUOTA "" STORAGE 1`, err: `expected "("`},
		{in: `a SETQUOTA ""`, err: "expected a space"},
		{in: `a SETQUOTA "" (STORAGE 1`, err: "end of line"},
	})
}
