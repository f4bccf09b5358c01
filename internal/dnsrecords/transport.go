package dnsrecords

import "fmt"

// transportRecords are the records of outbound transport security for
// mail sent to domain: the MTA-STS policy (RFC 8461) and where TLS reports
// go (RFC 8460).
func transportRecords(in Input, domain, target string) []Record {
	var recs []Record
	add := func(name, typ, value, why string) {
		recs = append(recs, Record{Name: name, Type: typ, Value: value, TTL: ttl, Why: why})
	}
	if p := in.MTASTS; p != nil {
		add("mta-sts."+domain, "CNAME", target,
			"MTA-STS: senders fetch the policy from https://mta-sts."+domain+"/.well-known/mta-sts.txt, which this server answers. "+
				"Its TLS certificate must cover the name mta-sts."+domain+" as well as "+in.Hostname+".")
		why := fmt.Sprintf("MTA-STS: announces the policy (mode %s) and its id; the id changes whenever the policy does, "+
			"and senders then fetch it again. Publish the new value after changing [mta_sts] in the configuration.", p.Mode)
		add("_mta-sts."+domain, "TXT", p.Record(), why)
	}
	if in.TLSRPTEmail != "" {
		add("_smtp._tls."+domain, "TXT", "v=TLSRPTv1; rua=mailto:"+dmarcURIEscape(in.TLSRPTEmail),
			"TLS-RPT: senders mail a daily report of their TLS sessions with this server to "+in.TLSRPTEmail+
				", which shows whether MTA-STS or a certificate problem is costing mail.")
	}
	return recs
}
