package listener

import "time"

// Metrics is the server's instrumentation as the protocols see it
// (internal/metrics implements it, through internal/server); nil in Deps
// when listen.metrics is off.
type Metrics interface {
	// Protocol returns proto's instruments; commands are every command
	// name the protocol knows (others are counted together).
	Protocol(proto string, commands []string) ProtocolMetrics
	// Deliveries returns what an SMTP listener counts of the mail it takes.
	Deliveries(proto string) DeliveryMetrics
}

// ProtocolMetrics counts one protocol's sessions and times its commands.
type ProtocolMetrics interface {
	SessionOpened()
	SessionClosed()
	Command(name string, elapsed time.Duration)
}

// DeliveryMetrics counts messages accepted and refusals by reason.
type DeliveryMetrics interface {
	Accepted()
	Rejected(reason string)
}

// ProtocolMetrics returns proto's instruments, ones that count nothing
// without metrics.
func (d Deps) ProtocolMetrics(proto string, commands []string) ProtocolMetrics {
	if d.Metrics == nil {
		return NopMetrics{}
	}
	return d.Metrics.Protocol(proto, commands)
}

// DeliveryMetrics returns proto's delivery counters, ones that count
// nothing without metrics.
func (d Deps) DeliveryMetrics(proto string) DeliveryMetrics {
	if d.Metrics == nil {
		return NopMetrics{}
	}
	return d.Metrics.Deliveries(proto)
}

// NopMetrics counts nothing: for protocols built without a server.
type NopMetrics struct{}

func (NopMetrics) SessionOpened()                {}
func (NopMetrics) SessionClosed()                {}
func (NopMetrics) Command(string, time.Duration) {}
func (NopMetrics) Accepted()                     {}
func (NopMetrics) Rejected(string)               {}
