package listener

import (
	"context"
	"fmt"
	"time"
)

// HealthTimeout bounds a health check's store ping: a load balancer
// waits no longer than its own timeout anyway, and a slow store is not a
// healthy one.
const HealthTimeout = 2 * time.Second

// Pinger is what a health check asks: the store.
type Pinger interface {
	Ping(ctx context.Context) error
}

// CheckStore is the store check the webmail's /health and the metrics
// listener's /readyz share: the store answers a ping within HealthTimeout.
func CheckStore(ctx context.Context, st Pinger) error {
	ctx, cancel := context.WithTimeout(ctx, HealthTimeout)
	defer cancel()
	if err := st.Ping(ctx); err != nil {
		return fmt.Errorf("store unavailable: %w", err)
	}
	return nil
}
