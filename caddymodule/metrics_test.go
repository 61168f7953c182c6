package caddymodule

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestMetrics(t *testing.T) {
	t.Run("two handlers of one config share the collectors", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		a, err := newMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := newMetrics(reg)
		if err != nil {
			t.Fatalf("second registration: %v", err)
		}
		a.Decision("deny", "insufficient_scope")
		b.Decision("deny", "insufficient_scope")
		if got := value(t, a.decisions.WithLabelValues("deny", "insufficient_scope")); got != 2 {
			t.Errorf("decisions = %v, want 2 (both handlers count in one series)", got)
		}
	})
	t.Run("every observation lands in its series", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		m, err := newMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		m.Fetch("jwks", nil)
		m.Fetch("jwks", errors.New("down"))
		m.Revocation("ocsp", "revoked")
		m.Verification("oidc", "verified", time.Millisecond)
		m.WASMEvaluation("office_hours", "error", time.Millisecond)
		m.WASMPoolSaturated("office_hours")
		m.AuditQueue(7)
		m.AuditSpool(4096)
		m.AuditShipped(3)
		m.AuditDropped("spool_full", 2)
		checks := []struct {
			name string
			c    prometheus.Collector
			want float64
		}{
			{"fetches", m.fetches.WithLabelValues("jwks"), 2},
			{"fetch failures", m.fetchFailures.WithLabelValues("jwks"), 1},
			{"revocations", m.revocations.WithLabelValues("ocsp", "revoked"), 1},
			{"wasm errors", m.wasmEvals.WithLabelValues("office_hours", "error"), 1},
			{"wasm saturation", m.wasmSaturated.WithLabelValues("office_hours"), 1},
			{"queue depth", m.auditQueue, 7},
			{"spool bytes", m.auditSpool, 4096},
			{"shipped", m.auditShipped, 3},
			{"dropped", m.auditDropped.WithLabelValues("spool_full"), 2},
		}
		for _, c := range checks {
			if got := value(t, c.c); got != c.want {
				t.Errorf("%s = %v, want %v", c.name, got, c.want)
			}
		}
		if n := value(t, m.verification.WithLabelValues("oidc", "verified").(prometheus.Histogram)); n != 1 {
			t.Errorf("verification histogram counted %v observations, want 1", n)
		}
		if _, err := reg.Gather(); err != nil {
			t.Errorf("the pedantic registry refuses the metrics: %v", err)
		}
	})
	t.Run("a foreign collector under our name is an error, not a panic", func(t *testing.T) {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(prometheus.NewGauge(prometheus.GaugeOpts{Name: "healthgate_decisions_total", Help: "x"}))
		if _, err := newMetrics(reg); err == nil {
			t.Fatal("newMetrics accepted a gauge registered as healthgate_decisions_total")
		}
	})
}

// value reads a single-series collector: a counter's or gauge's value, a
// histogram's sample count.
func value(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		t.Fatal(err)
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	t.Fatalf("unsupported metric %v", &m)
	return 0
}
