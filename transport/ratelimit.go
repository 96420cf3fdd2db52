package transport

import (
	"context"
	"sync"
	"time"
)

// rateLimiter is a token bucket over bytes shared by every outgoing
// snapshot stream of a node. A request larger than the bucket is allowed
// and paid for afterwards (the bucket goes negative), so a chunk is never
// split and the long-run rate still holds.
type rateLimiter struct {
	rate  float64 // bytes per second; Invariant: > 0
	burst float64
	mu    struct {
		sync.Mutex
		tokens float64
		last   time.Time
	}
}

func newRateLimiter(bytesPerSec int64, burst int) *rateLimiter {
	r := &rateLimiter{rate: float64(bytesPerSec), burst: float64(burst)}
	r.mu.tokens = r.burst
	r.mu.last = time.Now()
	return r
}

// wait takes n bytes from the bucket, sleeping until the debt is paid, or
// returns early with ctx's error or ErrClosed when done closes.
func (r *rateLimiter) wait(ctx context.Context, done <-chan struct{}, n int) error {
	r.mu.Lock()
	now := time.Now()
	r.mu.tokens = min(r.burst, r.mu.tokens+now.Sub(r.mu.last).Seconds()*r.rate)
	r.mu.last = now
	r.mu.tokens -= float64(n)
	debt := r.mu.tokens
	r.mu.Unlock()
	if debt >= 0 {
		return nil
	}
	timer := time.NewTimer(time.Duration(-debt / r.rate * float64(time.Second)))
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-done:
		return ErrClosed
	}
}
