package audit

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// The benchmarks report each step of auditing one request against the
// baseline of encoding/json marshalling the finished record, measured in the
// same run (see BENCHMARKS.md, "Audit (issue 8)").

func benchRecord() (*pipeline.Request, pipeline.Outcome) {
	req := request("GET", "/fhir/Patient/123?_elements=name&access_token=x", &pipeline.Route{Name: "fhir"}, tokenPrincipal(), "oidc")
	out := pipeline.Outcome{Effect: pipeline.Allow, Decisions: []pipeline.PolicyResult{
		{Policy: "grants", Decision: pipeline.Allowed("user/Patient.read")}}}
	return req, out
}

func BenchmarkBaselineMarshalRecord(b *testing.B) {
	req, out := benchRecord()
	rec := NewRecord(req, out, 200, time.Millisecond, "rid")
	for b.Loop() {
		if _, err := json.Marshal(&rec); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewRecord(b *testing.B) {
	req, out := benchRecord()
	for b.Loop() {
		_ = NewRecord(req, out, 200, time.Millisecond, "rid")
	}
}

func BenchmarkRenderAndMarshalAuditEvent(b *testing.B) {
	req, out := benchRecord()
	rec := NewRecord(req, out, 200, time.Millisecond, "rid")
	rec.FHIR = &FHIR{Interaction: "read", Type: "Patient", ID: "123"}
	for b.Loop() {
		ev := rec.AuditEvent(src, "ev-1")
		if _, err := json.Marshal(&ev); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkShip is the request path's share of shipping: marshalling and
// queueing, with the shipper delivering to a real HTTP audit endpoint. The
// queue is large enough that nothing spills during a run of -benchtime
// 500000x; an open-ended run outpaces the delivering goroutine (Ship only
// queues), fills the queue and measures the spill instead.
func BenchmarkShip(b *testing.B) {
	srv := newAuditServer(&testing.T{})
	defer srv.Close()
	sh, err := NewShipper(ShipperConfig{Endpoint: srv.URL, Spool: benchSpool(b), QueueSize: 1 << 21, BatchSize: 500,
		FlushInterval: 10 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ev := benchEvent()
	for b.Loop() {
		sh.Ship(ev, false)
	}
	b.StopTimer()
	_ = sh.Close(b.Context())
}

// BenchmarkShipSpill is the overload path: with the queue unavailable, each
// AuditEvent is written to the spool (a synced file) from the request path.
func BenchmarkShipSpill(b *testing.B) {
	sh, err := NewShipper(ShipperConfig{Endpoint: "http://127.0.0.1:1/fhir", Spool: benchSpool(b)})
	if err != nil {
		b.Fatal(err)
	}
	_ = sh.Close(b.Context()) // a closed shipper spools every AuditEvent
	ev := benchEvent()
	for b.Loop() {
		sh.Ship(ev, false)
	}
}

func benchSpool(b *testing.B) *Spool {
	spool, err := OpenSpool(b.TempDir(), 1<<40)
	if err != nil {
		b.Fatal(err)
	}
	return spool
}

func benchEvent() AuditEvent {
	req, out := benchRecord()
	rec := NewRecord(req, out, 200, time.Millisecond, "rid")
	return rec.AuditEvent(src, "ev-1")
}
