package audit

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// auditServer is a real HTTP FHIR audit endpoint for the shipper tests: it
// takes batch Bundles, answers batch-responses, and can be switched down.
type auditServer struct {
	*httptest.Server

	mu       sync.Mutex
	down     bool
	stored   map[string]int // AuditEvent id → times stored
	attempts int
	failures int            // batches refused while down
	entry    map[string]int // id → status to answer once for that entry
	header   http.Header
}

func newAuditServer(t *testing.T) *auditServer {
	a := &auditServer{stored: make(map[string]int), entry: make(map[string]int)}
	a.Server = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.Close)
	return a
}

func (a *auditServer) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.attempts++
	a.header = r.Header.Clone()
	if a.down {
		a.failures++
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	var b struct {
		ResourceType, Type string
		Entry              []struct {
			Resource struct{ ResourceType, ID string }
			Request  BundleRequest
		}
	}
	if err := json.NewDecoder(r.Body).Decode(&b); err != nil || b.Type != "batch" || r.Method != http.MethodPost {
		http.Error(w, "not a batch", http.StatusBadRequest)
		return
	}
	resp := Bundle{ResourceType: "Bundle", Type: "batch-response"}
	for _, e := range b.Entry {
		st := http.StatusCreated
		if s, ok := a.entry[e.Resource.ID]; ok {
			st = s
			delete(a.entry, e.Resource.ID)
		} else if e.Request.Method != http.MethodPut || e.Request.URL != "AuditEvent/"+e.Resource.ID || e.Resource.ResourceType != "AuditEvent" {
			st = http.StatusBadRequest
		} else {
			a.stored[e.Resource.ID]++
		}
		resp.Entry = append(resp.Entry, BundleEntry{Response: &BundleResponse{Status: fmt.Sprintf("%d %s", st, http.StatusText(st))}})
	}
	w.Header().Set("Content-Type", "application/fhir+json")
	_ = json.NewEncoder(w).Encode(resp)
}

func (a *auditServer) setDown(down bool) {
	a.mu.Lock()
	a.down = down
	a.mu.Unlock()
}

// storedCounts returns a copy of the ids stored and how often.
func (a *auditServer) storedCounts() map[string]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := make(map[string]int, len(a.stored))
	for k, v := range a.stored {
		c[k] = v
	}
	return c
}

func (a *auditServer) refusedWhileDown() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.failures
}

// counts is an Observer that keeps the audit measurements.
type counts struct {
	Nop
	mu      sync.Mutex
	shipped int
	dropped map[string]int
	spool   int64
}

func newCounts() *counts { return &counts{dropped: make(map[string]int)} }

func (c *counts) AuditShipped(n int) {
	c.mu.Lock()
	c.shipped += n
	c.mu.Unlock()
}

func (c *counts) AuditDropped(reason string, n int) {
	c.mu.Lock()
	c.dropped[reason] += n
	c.mu.Unlock()
}

func (c *counts) AuditSpool(n int64) {
	c.mu.Lock()
	c.spool = n
	c.mu.Unlock()
}

func (c *counts) snapshot() (shipped int, dropped map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	d := make(map[string]int, len(c.dropped))
	for k, v := range c.dropped {
		d[k] = v
	}
	return c.shipped, d
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
