package cws

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// The replay errors, for errors.Is.
var (
	ErrDateMissing = errors.New("cws: no Date header (replay protection requires one)")
	ErrDateInvalid = errors.New("cws: Date header is not an HTTP date")
	ErrDateSkew    = errors.New("cws: Date header outside the replay window")
	ErrReplay      = errors.New("cws: signature seen before within the replay window")
	// ErrReplayCacheFull: the cache holds Capacity signatures, none yet
	// expired. Refusing is the only answer that cannot let a replay in.
	ErrReplayCacheFull = errors.New("cws: replay cache full")
)

// DefaultReplayCapacity bounds the replay cache when no capacity is given:
// 100,000 signatures, about 10 MB.
const DefaultReplayCapacity = 100_000

// ReplayGuard refuses a request whose Date header is more than Window away
// from the gateway's clock, and a signature already accepted within the
// last Window.
//
// CWS does not sign the Date header, so the window does not bind the
// signature to a time: it only refuses clients that do not send a current
// Date. The cache is what refuses a replay, and only for Window after the
// first use. Because a CWS signature covers the body alone, two requests
// with the same body (two GETs of one user, say) have the same signature:
// with replay protection on, each signed body is accepted once per Window.
// Turn it on for clients that make every body unique.
type ReplayGuard struct {
	window   time.Duration
	capacity int

	mu    sync.Mutex
	seen  map[[32]byte]int64 // signature digest → expiry, Unix ns
	queue []seenSig          // in order of insertion
	head  int
}

type seenSig struct {
	digest [32]byte
	expiry int64
}

// NewReplayGuard returns a guard for window (which must be positive) holding
// at most capacity signatures (DefaultReplayCapacity if zero or less).
func NewReplayGuard(window time.Duration, capacity int) (*ReplayGuard, error) {
	if window <= 0 {
		return nil, fmt.Errorf("cws: replay window %v is not positive", window)
	}
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	return &ReplayGuard{window: window, capacity: capacity, seen: make(map[[32]byte]int64)}, nil
}

// CheckDate requires exactly one Date header within the window of now.
func (g *ReplayGuard) CheckDate(h http.Header, now time.Time) error {
	vs := h.Values("Date")
	switch len(vs) {
	case 0:
		return ErrDateMissing
	case 1:
	default:
		return fmt.Errorf("%w: given %d times", ErrDateInvalid, len(vs))
	}
	t, err := http.ParseTime(vs[0])
	if err != nil {
		return ErrDateInvalid
	}
	if skew := now.Sub(t).Abs(); skew > g.window {
		return fmt.Errorf("%w: %v off, window %v", ErrDateSkew, skew.Round(time.Second), g.window)
	}
	return nil
}

// Remember records a verified signature at now. It returns ErrReplay if the
// signature was accepted within the window, and ErrReplayCacheFull if the
// cache holds capacity unexpired signatures.
func (g *ReplayGuard) Remember(signature []byte, now time.Time) error {
	d := sha256.Sum256(signature)
	t := now.UnixNano()
	g.mu.Lock()
	defer g.mu.Unlock()
	g.expire(t)
	if exp, ok := g.seen[d]; ok && exp > t {
		return ErrReplay
	}
	if len(g.seen) >= g.capacity {
		return fmt.Errorf("%w: %d signatures within %v", ErrReplayCacheFull, g.capacity, g.window)
	}
	exp := t + int64(g.window)
	g.seen[d] = exp
	g.queue = append(g.queue, seenSig{d, exp})
	return nil
}

// expire drops entries whose time has passed, oldest first. Entries are
// inserted in time order, give or take concurrent requests' clocks, so the
// sweep stops at the first live one.
func (g *ReplayGuard) expire(now int64) {
	for g.head < len(g.queue) && g.queue[g.head].expiry <= now {
		e := g.queue[g.head]
		if g.seen[e.digest] == e.expiry {
			delete(g.seen, e.digest)
		}
		g.head++
	}
	// Compact once half the queue is spent, so it never grows past about
	// twice the capacity.
	if g.head > len(g.queue)/2 && g.head > 64 {
		g.queue = append(g.queue[:0], g.queue[g.head:]...)
		g.head = 0
	}
}

// Len is the number of signatures held (expired ones included until the
// next call sweeps them).
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.seen)
}
