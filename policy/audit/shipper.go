package audit

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"
)

// ShipperConfig configures a Shipper. Zero values take the defaults given.
type ShipperConfig struct {
	// Endpoint is the FHIR base URL of the audit server; batch Bundles
	// are POSTed to it. It must not carry credentials (use Header).
	Endpoint string
	// Header is added to every request, e.g. the audit server's
	// Authorization. Never logged.
	Header http.Header
	// Client sends the batches. Default: an http.Client with a 10 s
	// timeout.
	Client *http.Client
	// BatchSize is the most AuditEvents per Bundle. Default: 50.
	BatchSize int
	// QueueSize bounds the AuditEvents waiting in memory; beyond it they
	// go straight to the spool. Default: 1024.
	QueueSize int
	// FlushInterval is the longest an AuditEvent waits for a batch to
	// fill, and how often the spool is retried. Default: 1 s.
	FlushInterval time.Duration
	// MinBackoff and MaxBackoff bound the exponential wait between
	// attempts while the audit server fails. Default: 1 s and 1 min.
	MinBackoff, MaxBackoff time.Duration
	// UnauthenticatedRate and UnauthenticatedBurst limit the AuditEvents
	// shipped for 401 refusals, which anyone can cause at will, so that
	// a flood cannot fill the spool. Default: 10 per second, burst 100.
	UnauthenticatedRate  float64
	UnauthenticatedBurst int
	// Spool holds batches while the audit server is unreachable.
	// Required.
	Spool *Spool
	// Observer receives queue depth, spool size, shipped and dropped
	// counts. Default: Nop.
	Observer Observer
	// Logger logs state changes and drops, never AuditEvent content.
	// Default: discard.
	Logger *slog.Logger
}

// Shipper sends AuditEvents to a FHIR server's audit endpoint off the request
// path: a bounded queue feeds batches; a batch that cannot be delivered goes
// to the disk spool, which is retried with exponential backoff and emptied,
// oldest first, when the server is back. AuditEvents are lost only when the
// spool is full (or the server refuses an entry for good); each loss is
// counted and logged.
//
// Two goroutines do the work: one turns the queue into batches and sends
// them (spooling them while the server is down), the other empties the
// spool. Draining a large spool after an outage thus never stalls the queue,
// which would push AuditEvents to disk one by one from the request path.
// The price is order: fresh batches may arrive before spooled ones, which
// AuditEvent.recorded puts right.
//
// Each entry is sent as PUT AuditEvent/<id>, so a batch that is resent after
// an answer was lost (a timeout after the server stored it) updates the same
// resources instead of duplicating them.
type Shipper struct {
	cfg     ShipperConfig
	target  string
	obs     Observer
	log     *slog.Logger
	limiter *rate.Limiter
	queue   chan AuditEvent // encoded by run, off the request path

	mu      sync.RWMutex // guards closed against Ship
	closed  bool
	done    chan struct{}
	workers sync.WaitGroup
	ctx     context.Context
	cancel  context.CancelFunc

	health  sync.Mutex // guards the fields below, shared by both workers
	backoff *backoff.ExponentialBackOff
	retryAt time.Time
	down    bool
}

// NewShipper validates cfg and starts shipping.
func NewShipper(cfg ShipperConfig) (*Shipper, error) {
	u, err := url.Parse(cfg.Endpoint)
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // url.Error repeats the URL, credentials and all
	}
	switch {
	case err != nil:
		return nil, fmt.Errorf("audit: endpoint is not a URL: %w", err)
	case u.User != nil:
		return nil, errors.New("audit: endpoint must not carry credentials; set a header instead")
	case u.Scheme != "http" && u.Scheme != "https" || u.Host == "":
		return nil, fmt.Errorf("audit: endpoint %q is not an http(s) URL", cfg.Endpoint)
	case cfg.Spool == nil:
		return nil, errors.New("audit: a shipper needs a spool")
	}
	cfg.Client = cmp.Or(cfg.Client, &http.Client{Timeout: 10 * time.Second})
	cfg.BatchSize = cmp.Or(cfg.BatchSize, 50)
	cfg.QueueSize = cmp.Or(cfg.QueueSize, 1024)
	cfg.FlushInterval = cmp.Or(cfg.FlushInterval, time.Second)
	cfg.MinBackoff = cmp.Or(cfg.MinBackoff, time.Second)
	cfg.MaxBackoff = max(cmp.Or(cfg.MaxBackoff, time.Minute), cfg.MinBackoff)
	cfg.UnauthenticatedRate = cmp.Or(cfg.UnauthenticatedRate, 10)
	cfg.UnauthenticatedBurst = cmp.Or(cfg.UnauthenticatedBurst, 100)
	s := &Shipper{
		cfg:     cfg,
		target:  strings.TrimSuffix(u.String(), "/"),
		obs:     cmp.Or[Observer](cfg.Observer, Nop{}),
		log:     cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		limiter: rate.NewLimiter(rate.Limit(cfg.UnauthenticatedRate), cfg.UnauthenticatedBurst),
		queue:   make(chan AuditEvent, cfg.QueueSize),
		done:    make(chan struct{}),
		backoff: &backoff.ExponentialBackOff{
			InitialInterval:     cfg.MinBackoff,
			RandomizationFactor: 0.2,
			Multiplier:          2,
			MaxInterval:         cfg.MaxBackoff,
		},
	}
	s.backoff.Reset()
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.obs.AuditSpool(cfg.Spool.Bytes())
	s.workers.Add(2)
	go s.run()
	go s.drain()
	return s, nil
}

// Ship queues an AuditEvent without blocking; it is encoded off the request
// path, so the caller must not change ev afterwards. unauthenticated marks an
// AuditEvent of a 401 refusal, which is rate-limited.
func (s *Shipper) Ship(ev AuditEvent, unauthenticated bool) {
	if unauthenticated && !s.limiter.Allow() {
		s.obs.AuditDropped("rate_limited", 1)
		return
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if !s.closed {
		select {
		case s.queue <- ev:
			s.obs.AuditQueue(len(s.queue))
			return
		default:
		}
	}
	// Queue full or shutting down: straight to disk.
	if raw, ok := s.encode(ev); ok {
		s.spill([]json.RawMessage{raw})
	}
}

// encode marshals an AuditEvent for a batch, logging (by id only) one that
// cannot be.
func (s *Shipper) encode(ev AuditEvent) (json.RawMessage, bool) {
	raw, err := json.Marshal(ev)
	if err != nil {
		s.log.Error("encoding audit event", "id", ev.ID, "error", err)
		return nil, false
	}
	return raw, true
}

// Close stops taking AuditEvents, delivers or spools what is queued and
// returns when done. If ctx ends first, sending is aborted and the rest is
// spooled.
func (s *Shipper) Close(ctx context.Context) error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		close(s.done)
	}
	s.mu.Unlock()
	exited := make(chan struct{})
	go func() { s.workers.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-ctx.Done():
		s.cancel()
		<-exited
	}
	s.cancel()
	return nil
}

// run turns the queue into batches and flushes them.
func (s *Shipper) run() {
	defer s.workers.Done()
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	var batch []json.RawMessage
	add := func(ev AuditEvent) {
		if raw, ok := s.encode(ev); ok {
			batch = append(batch, raw)
		}
		if len(batch) >= s.cfg.BatchSize {
			s.flush(batch)
			batch = nil
		}
	}
	for {
		select {
		case ev := <-s.queue:
			s.obs.AuditQueue(len(s.queue))
			add(ev)
		case <-tick.C:
			if len(batch) > 0 {
				s.flush(batch)
				batch = nil
			}
		case <-s.done:
			for len(s.queue) > 0 {
				add(<-s.queue)
			}
			if len(batch) > 0 {
				s.flush(batch)
			}
			s.obs.AuditQueue(0)
			return
		}
	}
}

// flush sends a batch, or spools it while the server is backing off, so a
// down server is not hammered; the drain goroutine probes it.
func (s *Shipper) flush(batch []json.RawMessage) {
	if s.isDown() {
		s.spill(batch)
		return
	}
	retry, err := s.send(batch)
	if err != nil {
		s.failed(err)
	}
	if len(retry) > 0 {
		s.spill(retry)
	}
}

// drain empties the spool every FlushInterval, once the backoff allows.
func (s *Shipper) drain() {
	defer s.workers.Done()
	tick := time.NewTicker(s.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-tick.C:
			s.drainSpool()
		}
	}
}

// drainSpool sends spooled batches, oldest first, until the spool is empty,
// a send fails or the shipper is closing.
func (s *Shipper) drainSpool() {
	for s.mayRetry() {
		select {
		case <-s.done:
			return
		default:
		}
		b, err := s.cfg.Spool.Claim()
		if errors.Is(err, ErrCorrupt) {
			s.obs.AuditDropped("corrupt", 1)
			s.log.Error("dropping unreadable audit spool file", "error", err)
			continue
		}
		if b == nil {
			s.recovered()
			return
		}
		retry, err := s.send(b.Events)
		switch {
		case err != nil:
			s.cfg.Spool.Release(b)
			s.failed(err)
			return
		case len(retry) > 0:
			if err := s.cfg.Spool.Replace(b, retry); err != nil {
				s.log.Error("rewriting audit spool file", "error", err)
			}
			s.failed(fmt.Errorf("audit server failed %d of %d entries", len(retry), len(b.Events)))
		default:
			if err := s.cfg.Spool.Done(b); err != nil {
				s.log.Error("removing delivered audit spool file", "error", err)
			}
		}
		s.obs.AuditSpool(s.cfg.Spool.Bytes())
	}
}

// spill writes events to the spool, counting and logging them as dropped
// when it is full.
func (s *Shipper) spill(events []json.RawMessage) {
	err := s.cfg.Spool.Put(events)
	s.obs.AuditSpool(s.cfg.Spool.Bytes())
	if err == nil {
		return
	}
	reason := "spool_full"
	if !errors.Is(err, ErrSpoolFull) {
		reason = "spool_error"
	}
	s.obs.AuditDropped(reason, len(events))
	s.log.Error("dropping audit events", "count", len(events), "reason", reason, "spool", s.cfg.Spool.Dir(), "error", err)
}

func (s *Shipper) isDown() bool {
	s.health.Lock()
	defer s.health.Unlock()
	return s.down
}

func (s *Shipper) mayRetry() bool {
	s.health.Lock()
	defer s.health.Unlock()
	return !time.Now().Before(s.retryAt)
}

func (s *Shipper) failed(err error) {
	s.health.Lock()
	defer s.health.Unlock()
	if !s.down {
		s.log.Warn("audit server unavailable; spooling audit events", "endpoint", s.target, "error", err)
	}
	s.down = true
	s.retryAt = time.Now().Add(s.backoff.NextBackOff())
}

func (s *Shipper) recovered() {
	s.health.Lock()
	defer s.health.Unlock()
	if s.down {
		s.log.Info("audit server available again", "endpoint", s.target)
	}
	s.down = false
	s.retryAt = time.Time{}
	s.backoff.Reset()
}

// send POSTs one batch Bundle and returns the entries to try again: all of
// them on an error, those the server failed with a retryable status
// otherwise. Entries it refused for good (4xx) are dropped and counted.
func (s *Shipper) send(events []json.RawMessage) ([]json.RawMessage, error) {
	bundle := Bundle{ResourceType: "Bundle", Type: "batch", Entry: make([]BundleEntry, len(events))}
	ids := make([]string, len(events))
	for i, ev := range events {
		var head struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(ev, &head)
		ids[i] = head.ID
		req := &BundleRequest{Method: http.MethodPut, URL: "AuditEvent/" + head.ID}
		if head.ID == "" {
			req = &BundleRequest{Method: http.MethodPost, URL: "AuditEvent"}
		}
		bundle.Entry[i] = BundleEntry{Resource: ev, Request: req}
	}
	body, err := json.Marshal(bundle)
	if err != nil {
		return events, fmt.Errorf("encoding batch: %w", err)
	}
	req, err := http.NewRequestWithContext(s.ctx, http.MethodPost, s.target, bytes.NewReader(body))
	if err != nil {
		return events, fmt.Errorf("building batch request: %w", err)
	}
	for k, v := range s.cfg.Header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/fhir+json")
	req.Header.Set("Accept", "application/fhir+json")
	resp, err := s.cfg.Client.Do(req)
	if err != nil {
		return events, fmt.Errorf("posting batch: %w", err)
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return events, fmt.Errorf("reading batch response: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return events, fmt.Errorf("posting batch: audit server answered %s", resp.Status)
	}
	statuses, err := ParseBatchResponse(answer, len(events))
	if err != nil {
		// The server took the batch; without per-entry answers there is
		// nothing better to do than count it delivered.
		s.log.Warn("audit server's batch response unreadable; counting the batch delivered", "error", err)
		s.obs.AuditShipped(len(events))
		return nil, nil
	}
	var retry []json.RawMessage
	shipped := 0
	for i, st := range statuses {
		switch {
		case st/100 == 2:
			shipped++
		case st/100 == 4 && st != http.StatusRequestTimeout && st != http.StatusTooManyRequests:
			s.obs.AuditDropped("rejected", 1)
			s.log.Error("audit server refused an audit event", "id", ids[i], "status", st)
		default:
			retry = append(retry, events[i])
		}
	}
	s.obs.AuditShipped(shipped)
	return retry, nil
}

// ParseBatchResponse reads a FHIR batch-response Bundle with n entries and
// returns each entry's HTTP status.
func ParseBatchResponse(data []byte, n int) ([]int, error) {
	var b Bundle
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("audit: reading batch response: %w", err)
	}
	if b.ResourceType != "Bundle" || b.Type != "batch-response" {
		return nil, fmt.Errorf("audit: batch response is a %s %q, want a batch-response Bundle", b.ResourceType, b.Type)
	}
	if len(b.Entry) != n {
		return nil, fmt.Errorf("audit: batch response has %d entries, want %d", len(b.Entry), n)
	}
	statuses := make([]int, n)
	for i, e := range b.Entry {
		if e.Response == nil {
			return nil, fmt.Errorf("audit: batch response entry %d has no response", i)
		}
		code, _, _ := strings.Cut(strings.TrimSpace(e.Response.Status), " ")
		st, err := strconv.Atoi(code)
		if err != nil || st < 100 || st > 599 {
			return nil, fmt.Errorf("audit: batch response entry %d has status %q", i, e.Response.Status)
		}
		statuses[i] = st
	}
	return statuses, nil
}
