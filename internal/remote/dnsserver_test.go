package remote

import (
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// fakeDNS is an authoritative-looking recursive server on loopback UDP and
// TCP, serving a table of names. Names in no table do not exist
// (NXDOMAIN); names that exist without records of the asked type get
// NOERROR with an empty answer.
type fakeDNS struct {
	addr string

	mu       sync.Mutex
	mx       map[string][]*dns.MX
	a        map[string][]string
	aaaa     map[string][]string
	cname    map[string]string
	servfail map[string]bool
	queries  []string // "TYPE name", in order
	tcp      int      // queries over TCP
}

func newFakeDNS(t *testing.T) *fakeDNS {
	t.Helper()
	f := &fakeDNS{
		mx:       map[string][]*dns.MX{},
		a:        map[string][]string{},
		aaaa:     map[string][]string{},
		cname:    map[string]string{},
		servfail: map[string]bool{},
	}
	// UDP and TCP on the same port, as a real server.
	var (
		pc  net.PacketConn
		ln  net.Listener
		err error
	)
	for range 10 {
		pc, err = net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err = net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			break
		}
		pc.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	f.addr = pc.LocalAddr().String()
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: f}, {Listener: ln, Handler: f}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		t.Cleanup(func() { s.Shutdown() })
	}
	return f
}

func fqdn(name string) string { return strings.ToLower(dns.Fqdn(name)) }

// addMX adds an MX record: pref and target host ("." for a null MX).
func (f *fakeDNS) addMX(name string, pref uint16, host string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mx[fqdn(name)] = append(f.mx[fqdn(name)], &dns.MX{
		Hdr:        dns.RR_Header{Name: fqdn(name), Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60},
		Preference: pref,
		Mx:         dns.Fqdn(host),
	})
}

// addA adds an A record for name (or AAAA, for an IPv6 address).
func (f *fakeDNS) addA(name string, ips ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ip := range ips {
		if strings.Contains(ip, ":") {
			f.aaaa[fqdn(name)] = append(f.aaaa[fqdn(name)], ip)
		} else {
			f.a[fqdn(name)] = append(f.a[fqdn(name)], ip)
		}
	}
}

func (f *fakeDNS) addCNAME(name, target string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cname[fqdn(name)] = dns.Fqdn(target)
}

func (f *fakeDNS) setServfail(name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.servfail[fqdn(name)] = true
}

// asked reports whether a query of type qtype ("MX", "A"…) for name came.
func (f *fakeDNS) asked(qtype, name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, q := range f.queries {
		if q == qtype+" "+fqdn(name) {
			return true
		}
	}
	return false
}

func (f *fakeDNS) tcpQueries() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tcp
}

func (f *fakeDNS) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = true
	if len(req.Question) != 1 {
		resp.Rcode = dns.RcodeFormatError
		w.WriteMsg(resp)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)

	f.mu.Lock()
	f.queries = append(f.queries, dns.TypeToString[q.Qtype]+" "+name)
	_, isTCP := w.RemoteAddr().(*net.TCPAddr)
	if isTCP {
		f.tcp++
	}
	switch {
	case f.servfail[name]:
		resp.Rcode = dns.RcodeServerFailure
	default:
		resp.Answer, resp.Rcode = f.answer(name, q.Qtype)
	}
	f.mu.Unlock()

	if !isTCP {
		size := dns.MinMsgSize
		if opt := req.IsEdns0(); opt != nil {
			size = int(opt.UDPSize())
		}
		resp.Truncate(size)
	}
	w.WriteMsg(resp)
}

// answer resolves name as a recursive server would, following CNAMEs.
func (f *fakeDNS) answer(name string, qtype uint16) ([]dns.RR, int) {
	var ans []dns.RR
	for range 8 {
		if target, ok := f.cname[name]; ok && qtype != dns.TypeCNAME {
			ans = append(ans, &dns.CNAME{
				Hdr:    dns.RR_Header{Name: name, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: 60},
				Target: target,
			})
			name = strings.ToLower(target)
			continue
		}
		break
	}
	_, hasMX := f.mx[name]
	_, hasA := f.a[name]
	_, hasAAAA := f.aaaa[name]
	if !hasMX && !hasA && !hasAAAA {
		return ans, dns.RcodeNameError
	}
	hdr := func(t uint16) dns.RR_Header {
		return dns.RR_Header{Name: name, Rrtype: t, Class: dns.ClassINET, Ttl: 60}
	}
	switch qtype {
	case dns.TypeMX:
		for _, mx := range f.mx[name] {
			ans = append(ans, mx)
		}
	case dns.TypeA:
		for _, ip := range f.a[name] {
			ans = append(ans, &dns.A{Hdr: hdr(dns.TypeA), A: net.ParseIP(ip)})
		}
	case dns.TypeAAAA:
		for _, ip := range f.aaaa[name] {
			ans = append(ans, &dns.AAAA{Hdr: hdr(dns.TypeAAAA), AAAA: net.ParseIP(ip)})
		}
	}
	return ans, dns.RcodeSuccess
}
