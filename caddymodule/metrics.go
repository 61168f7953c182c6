package caddymodule

import (
	"errors"
	"fmt"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/healthgate/healthgate/policy/audit"
)

// metrics implements audit.Observer on Caddy's metrics registry, so
// healthgate's measurements appear on Caddy's Prometheus endpoint (the admin
// /metrics, or the metrics handler) next to Caddy's own:
//
//	healthgate_decisions_total{outcome,reason}
//	healthgate_verification_duration_seconds{verifier,result}
//	healthgate_fetches_total{kind}, healthgate_fetch_failures_total{kind}
//	healthgate_revocation_checks_total{method,result}
//	healthgate_wasm_evaluations_total{rule,result}   (errors: result="error")
//	healthgate_wasm_evaluation_duration_seconds{rule}
//	healthgate_wasm_pool_saturated_total{rule}
//	healthgate_audit_queue_depth, healthgate_audit_spool_bytes
//	healthgate_audit_shipped_total, healthgate_audit_dropped_total{reason}
type metrics struct {
	decisions     *prometheus.CounterVec
	verification  *prometheus.HistogramVec
	fetches       *prometheus.CounterVec
	fetchFailures *prometheus.CounterVec
	revocations   *prometheus.CounterVec
	wasmEvals     *prometheus.CounterVec
	wasmDuration  *prometheus.HistogramVec
	wasmSaturated *prometheus.CounterVec
	auditQueue    prometheus.Gauge
	auditSpool    prometheus.Gauge
	auditShipped  prometheus.Counter
	auditDropped  *prometheus.CounterVec
}

const metricsNamespace = "healthgate"

// observer returns the audit.Observer on ctx's metrics registry. Every
// healthgate module may call it in Provision: the collectors are registered
// once per registry (Caddy makes one per config load) and shared by every
// handler and module of that config.
func observer(ctx caddy.Context) (audit.Observer, error) {
	return newMetrics(ctx.GetMetricsRegistry())
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	if reg == nil {
		return nil, errors.New("healthgate metrics: no metrics registry in the Caddy context")
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: metricsNamespace, Name: name, Help: help}, labels)
	}
	seconds := func(name, help string, labels ...string) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: metricsNamespace, Name: name, Help: help,
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10)}, labels)
	}
	m := &metrics{
		decisions:     counter("decisions_total", "Pipeline decisions by outcome and reason.", "outcome", "reason"),
		verification:  seconds("verification_duration_seconds", "Time spent in each verifier, by result.", "verifier", "result"),
		fetches:       counter("fetches_total", "Fetches of remote dependencies (jwks, discovery, introspection, ocsp, crl).", "kind"),
		fetchFailures: counter("fetch_failures_total", "Failed fetches of remote dependencies.", "kind"),
		revocations:   counter("revocation_checks_total", "Certificate revocation checks by method and result.", "method", "result"),
		wasmEvals:     counter("wasm_evaluations_total", "WASM rule evaluations by result (allow, deny, abstain, error).", "rule", "result"),
		wasmDuration:  seconds("wasm_evaluation_duration_seconds", "Time spent evaluating WASM rules.", "rule"),
		wasmSaturated: counter("wasm_pool_saturated_total", "Evaluations that found no idle instance in a rule's pool.", "rule"),
		auditQueue: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "audit_queue_depth",
			Help: "AuditEvents waiting in memory to be shipped."}),
		auditSpool: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: metricsNamespace, Name: "audit_spool_bytes",
			Help: "Bytes of AuditEvents spooled to disk while the audit server is unavailable."}),
		auditShipped: prometheus.NewCounter(prometheus.CounterOpts{Namespace: metricsNamespace, Name: "audit_shipped_total",
			Help: "AuditEvents the audit server accepted."}),
		auditDropped: counter("audit_dropped_total", "AuditEvents that will never be delivered, by reason.", "reason"),
	}
	err := errors.Join(adopt(reg, &m.decisions), adopt(reg, &m.verification), adopt(reg, &m.fetches),
		adopt(reg, &m.fetchFailures), adopt(reg, &m.revocations), adopt(reg, &m.wasmEvals), adopt(reg, &m.wasmDuration),
		adopt(reg, &m.wasmSaturated), adopt(reg, &m.auditQueue), adopt(reg, &m.auditSpool), adopt(reg, &m.auditShipped),
		adopt(reg, &m.auditDropped))
	if err != nil {
		return nil, fmt.Errorf("registering healthgate metrics: %w", err)
	}
	return m, nil
}

// adopt registers the collector *c, or, when another handler or module of
// the same config registered one under its name already, points *c at that.
func adopt[C prometheus.Collector](reg *prometheus.Registry, c *C) error {
	err := reg.Register(*c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		existing, ok := are.ExistingCollector.(C)
		if !ok {
			return fmt.Errorf("a %T is registered under the name of a %T", are.ExistingCollector, *c)
		}
		*c = existing
		return nil
	}
	return err
}

func (m *metrics) Decision(outcome, reason string) {
	m.decisions.WithLabelValues(outcome, reason).Inc()
}

func (m *metrics) Verification(verifier, result string, elapsed time.Duration) {
	m.verification.WithLabelValues(verifier, result).Observe(elapsed.Seconds())
}

func (m *metrics) Fetch(kind string, err error) {
	m.fetches.WithLabelValues(kind).Inc()
	if err != nil {
		m.fetchFailures.WithLabelValues(kind).Inc()
	}
}

func (m *metrics) Revocation(method, result string) {
	m.revocations.WithLabelValues(method, result).Inc()
}

func (m *metrics) WASMEvaluation(rule, result string, elapsed time.Duration) {
	m.wasmEvals.WithLabelValues(rule, result).Inc()
	m.wasmDuration.WithLabelValues(rule).Observe(elapsed.Seconds())
}

func (m *metrics) WASMPoolSaturated(rule string) { m.wasmSaturated.WithLabelValues(rule).Inc() }
func (m *metrics) AuditQueue(depth int)          { m.auditQueue.Set(float64(depth)) }
func (m *metrics) AuditSpool(bytes int64)        { m.auditSpool.Set(float64(bytes)) }
func (m *metrics) AuditShipped(n int)            { m.auditShipped.Add(float64(n)) }

func (m *metrics) AuditDropped(reason string, n int) {
	m.auditDropped.WithLabelValues(reason).Add(float64(n))
}

// Interface guards
var _ audit.Observer = (*metrics)(nil)
