package audit

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// events renders n distinct AuditEvents.
func events(n int, prefix string) []AuditEvent {
	rec := NewRecord(request("GET", "/fhir/Patient/1", &pipeline.Route{Name: "fhir"}, tokenPrincipal(), "oidc"),
		pipeline.Outcome{Effect: pipeline.Allow}, 200, time.Millisecond, "rid")
	evs := make([]AuditEvent, n)
	for i := range evs {
		evs[i] = rec.AuditEvent(src, fmt.Sprintf("%s-%d", prefix, i))
	}
	return evs
}

func fastConfig(t *testing.T, endpoint string, spool *Spool, obs Observer) ShipperConfig {
	return ShipperConfig{
		Endpoint: endpoint, Spool: spool, Observer: obs,
		BatchSize: 20, QueueSize: 32, FlushInterval: 10 * time.Millisecond,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond,
	}
}

func openSpool(t *testing.T, dir string, limit int64) *Spool {
	t.Helper()
	s, err := OpenSpool(dir, limit)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newShipper(t *testing.T, cfg ShipperConfig) *Shipper {
	t.Helper()
	s, err := NewShipper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s
}

func onceEach(n int, prefix string) map[string]int {
	m := make(map[string]int, n)
	for i := range n {
		m[fmt.Sprintf("%s-%d", prefix, i)] = 1
	}
	return m
}

func TestShipperDeliversABurstOnceAfterTheServerReturns(t *testing.T) {
	srv := newAuditServer(t)
	srv.setDown(true)
	spool := openSpool(t, t.TempDir(), 64<<20)
	obs := newCounts()
	sh := newShipper(t, fastConfig(t, srv.URL, spool, obs))

	const n = 500 // more than the queue holds: the overflow goes to disk
	for _, ev := range events(n, "burst") {
		sh.Ship(ev, false)
	}
	eventually(t, "the server refused a few attempts", func() bool { return srv.refusedWhileDown() >= 3 })
	if got := len(srv.storedCounts()); got != 0 {
		t.Fatalf("%d events stored while the server was down", got)
	}
	srv.setDown(false)
	eventually(t, "every event arrived", func() bool { return len(srv.storedCounts()) == n })
	eventually(t, "the spool is empty", func() bool { return spool.Len() == 0 })
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(onceEach(n, "burst"), srv.storedCounts()); diff != "" {
		t.Errorf("stored events (-want +got):\n%s", diff)
	}
	shipped, dropped := obs.snapshot()
	if shipped != n || len(dropped) != 0 {
		t.Errorf("observer: shipped %d, dropped %v; want %d and none", shipped, dropped, n)
	}
}

func TestShipperCountsDropsOnlyWhenTheSpoolIsFull(t *testing.T) {
	srv := newAuditServer(t)
	srv.setDown(true)
	dir := t.TempDir()
	obs := newCounts()
	const n = 200
	// About 40 events fit: the rest must be counted as dropped.
	sh := newShipper(t, fastConfig(t, srv.URL, openSpool(t, dir, 80<<10), obs))
	for _, ev := range events(n, "full") {
		sh.Ship(ev, false)
	}
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, dropped := obs.snapshot()
	if dropped["spool_full"] == 0 || dropped["spool_full"] == n {
		t.Fatalf("dropped %v: want some but not all of %d events dropped as spool_full", dropped, n)
	}

	// A new shipper (a restart) on the same spool delivers the rest.
	srv.setDown(false)
	spool := openSpool(t, dir, 80<<10)
	newShipper(t, fastConfig(t, srv.URL, spool, obs))
	eventually(t, "the spool is delivered", func() bool { return spool.Len() == 0 })
	stored := srv.storedCounts()
	shipped, dropped := obs.snapshot()
	if len(stored)+dropped["spool_full"] != n || shipped != len(stored) {
		t.Errorf("stored %d + dropped %d != %d events (shipped %d)", len(stored), dropped["spool_full"], n, shipped)
	}
	for id, c := range stored {
		if c != 1 {
			t.Errorf("event %s stored %d times", id, c)
		}
	}
}

func TestShipperRateLimitsUnauthenticatedRefusals(t *testing.T) {
	srv := newAuditServer(t)
	obs := newCounts()
	cfg := fastConfig(t, srv.URL, openSpool(t, t.TempDir(), 64<<20), obs)
	cfg.UnauthenticatedRate, cfg.UnauthenticatedBurst = 0.001, 5
	sh := newShipper(t, cfg)
	for _, ev := range events(50, "flood") {
		sh.Ship(ev, true)
	}
	for _, ev := range events(3, "user") {
		sh.Ship(ev, false)
	}
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	shipped, dropped := obs.snapshot()
	if diff := cmp.Diff(map[string]int{"rate_limited": 45}, dropped); diff != "" {
		t.Errorf("dropped (-want +got):\n%s", diff)
	}
	if shipped != 8 || len(srv.storedCounts()) != 8 {
		t.Errorf("shipped %d, stored %d; want 8 (burst of 5 + 3 authenticated)", shipped, len(srv.storedCounts()))
	}
}

func TestShipperRetriesFailedEntriesAndDropsRefusedOnes(t *testing.T) {
	srv := newAuditServer(t)
	srv.entry["mixed-1"] = http.StatusInternalServerError
	srv.entry["mixed-2"] = http.StatusUnprocessableEntity
	obs := newCounts()
	spool := openSpool(t, t.TempDir(), 64<<20)
	sh := newShipper(t, fastConfig(t, srv.URL, spool, obs))
	for _, ev := range events(4, "mixed") {
		sh.Ship(ev, false)
	}
	eventually(t, "the failed entry was retried", func() bool { return srv.storedCounts()["mixed-1"] == 1 && spool.Len() == 0 })
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"mixed-0": 1, "mixed-1": 1, "mixed-3": 1}
	if diff := cmp.Diff(want, srv.storedCounts()); diff != "" {
		t.Errorf("stored (-want +got):\n%s", diff)
	}
	if _, dropped := obs.snapshot(); !cmp.Equal(dropped, map[string]int{"rejected": 1}) {
		t.Errorf("dropped %v, want the refused entry counted as rejected", dropped)
	}
}

func TestShipperNeverLogsTheAuditServerCredentials(t *testing.T) {
	srv := newAuditServer(t)
	srv.setDown(true)
	var logs bytes.Buffer
	cfg := fastConfig(t, srv.URL, openSpool(t, t.TempDir(), 64<<20), nil)
	cfg.Header = http.Header{"Authorization": {"Bearer AUDIT-SERVER-SECRET"}}
	cfg.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	sh := newShipper(t, cfg)
	for _, ev := range events(30, "cred") {
		sh.Ship(ev, false)
	}
	eventually(t, "a few attempts failed", func() bool { return srv.refusedWhileDown() >= 2 })
	srv.setDown(false)
	eventually(t, "everything arrived", func() bool { return len(srv.storedCounts()) == 30 })
	if err := sh.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := srv.header.Get("Authorization"); got != "Bearer AUDIT-SERVER-SECRET" {
		t.Errorf("audit server got Authorization %q", got)
	}
	if !strings.Contains(logs.String(), "audit server unavailable") {
		t.Errorf("the outage was not logged: %s", logs.String())
	}
	for _, secret := range []string{"AUDIT-SERVER-SECRET", "jti-42", "alice"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log contains %q: %s", secret, logs.String())
		}
	}
}

func TestNewShipperRefusesUnsafeConfig(t *testing.T) {
	spool := openSpool(t, t.TempDir(), 1<<20)
	tests := []struct {
		name string
		cfg  ShipperConfig
		want string
	}{
		{"an endpoint with credentials in the URL", ShipperConfig{Endpoint: "https://u:p@audit.example/fhir", Spool: spool}, "must not carry credentials"},
		{"an endpoint that is not http", ShipperConfig{Endpoint: "ftp://audit.example/fhir", Spool: spool}, "is not an http(s) URL"},
		{"a relative endpoint", ShipperConfig{Endpoint: "/fhir", Spool: spool}, "is not an http(s) URL"},
		{"an endpoint with credentials that is no URL", ShipperConfig{Endpoint: "https://u:p@audit.example/%zz", Spool: spool}, "is not a URL"},
		{"no spool", ShipperConfig{Endpoint: "https://audit.example/fhir"}, "needs a spool"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := NewShipper(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewShipper error %v, want one containing %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "u:p") {
				t.Errorf("error echoes the credentials: %v", err)
			}
		})
	}
}
