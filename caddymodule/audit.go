package caddymodule

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/google/uuid"
	"go.uber.org/zap"
	"go.uber.org/zap/exp/zapslog"
	"go.uber.org/zap/zapcore"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// AuditLoggerName is the name of the logger every decision record is written
// to. Route it with Caddy's log configuration, e.g.
//
//	log healthgate_audit {
//		include http.handlers.healthgate.audit
//		output file /var/log/caddy/audit.log
//	}
const AuditLoggerName = "http.handlers.healthgate.audit"

// AuditConfig configures the audit trail. Every decision is logged, one
// record per request, through the Caddy logger AuditLoggerName; AuditEvents
// are optionally shipped to a FHIR audit server.
type AuditConfig struct {
	// Site is the logical site or enterprise named in AuditEvents
	// (source.site). Default: none.
	Site string `json:"site,omitempty"`
	// Observer names this gateway instance in AuditEvents
	// (source.observer). Default: the host name.
	Observer string `json:"observer,omitempty"`
	// FHIRBase is the path of the FHIR base ("/fhir"); requests below it
	// are recorded with their FHIR type, id and interaction. Default: the
	// healthgate handler's fhir_base; with neither, no FHIR facts.
	FHIRBase string `json:"fhir_base,omitempty"`
	// LogAuditEvent adds the rendered FHIR AuditEvent to each log record,
	// under "audit_event". Default: false.
	LogAuditEvent bool `json:"log_audit_event,omitempty"`
	// Ship, when set, sends AuditEvents to a FHIR audit server.
	Ship *AuditShipConfig `json:"ship,omitempty"`
}

// AuditShipConfig configures shipping AuditEvents as FHIR batch Bundles.
type AuditShipConfig struct {
	// Endpoint is the FHIR base URL of the audit server. Required. It
	// must not carry credentials: use Headers.
	Endpoint string `json:"endpoint"`
	// Headers are added to every request (e.g. Authorization). Values may
	// use {env.*} placeholders, resolved at provision. Never logged.
	Headers map[string]string `json:"headers,omitempty"`
	// BatchSize is the most AuditEvents per Bundle. Default: 50.
	BatchSize int `json:"batch_size,omitempty"`
	// QueueSize bounds the AuditEvents waiting in memory; beyond it they
	// go to the spool. Default: 1024.
	QueueSize int `json:"queue_size,omitempty"`
	// FlushInterval is the longest an AuditEvent waits for its batch to
	// fill, and how often the spool is retried. Default: 1s.
	FlushInterval caddy.Duration `json:"flush_interval,omitempty"`
	// MinBackoff and MaxBackoff bound the wait between attempts while the
	// audit server fails. Default: 1s and 1m.
	MinBackoff caddy.Duration `json:"min_backoff,omitempty"`
	MaxBackoff caddy.Duration `json:"max_backoff,omitempty"`
	// Timeout bounds one batch request. Default: 10s.
	Timeout caddy.Duration `json:"timeout,omitempty"`
	// SpoolDir holds batches while the audit server is unreachable.
	// Default: healthgate/audit-spool/<hash of the endpoint> in Caddy's
	// data directory.
	SpoolDir string `json:"spool_dir,omitempty"`
	// SpoolLimit is the most bytes the spool holds; AuditEvents beyond
	// it are dropped, counted and logged. Default: 268435456 (256 MiB).
	SpoolLimit int64 `json:"spool_limit,omitempty"`
	// UnauthenticatedRate (per second) and UnauthenticatedBurst limit
	// the AuditEvents shipped for 401 refusals, which anyone can cause.
	// They are still logged. Default: 10 and 100.
	UnauthenticatedRate  float64 `json:"unauthenticated_rate,omitempty"`
	UnauthenticatedBurst int     `json:"unauthenticated_burst,omitempty"`
}

// parseAudit reads the audit sub-directive of healthgate; d is on the
// `audit` token. Syntax:
//
//	audit {
//		site             <name>
//		observer         <name>
//		fhir_base        <path>
//		log_audit_event
//		ship <endpoint> {
//			header               <name> <value>
//			batch_size           <n>
//			queue_size           <n>
//			flush_interval       <duration>
//			backoff              <min> <max>
//			timeout              <duration>
//			spool_dir            <path>
//			spool_limit          <size>      # e.g. 256MiB
//			unauthenticated_rate <per-second> [<burst>]
//		}
//	}
func parseAudit(d *caddyfile.Dispenser) (*AuditConfig, error) {
	cfg := new(AuditConfig)
	if d.NextArg() {
		return nil, d.Errf("audit: unexpected argument %q (settings go in a block)", d.Val())
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		switch name := d.Val(); name {
		case "site":
			if !d.AllArgs(&cfg.Site) {
				return nil, d.Errf("audit site: want one name")
			}
		case "observer":
			if !d.AllArgs(&cfg.Observer) {
				return nil, d.Errf("audit observer: want one name")
			}
		case "fhir_base":
			if !d.AllArgs(&cfg.FHIRBase) {
				return nil, d.Errf("audit fhir_base: want one path")
			}
		case "log_audit_event":
			if d.NextArg() {
				return nil, d.Errf("audit log_audit_event: takes no argument, got %q", d.Val())
			}
			cfg.LogAuditEvent = true
		case "ship":
			s, err := parseAuditShip(d)
			if err != nil {
				return nil, err
			}
			cfg.Ship = s
		default:
			return nil, d.Errf("audit: unknown setting %q", name)
		}
	}
	return cfg, nil
}

func parseAuditShip(d *caddyfile.Dispenser) (*AuditShipConfig, error) {
	s := new(AuditShipConfig)
	if !d.AllArgs(&s.Endpoint) {
		return nil, d.Errf("audit ship: want the audit server's FHIR base URL")
	}
	for nesting := d.Nesting(); d.NextBlock(nesting); {
		name := d.Val()
		if name == "spool_limit" {
			n, err := parseSize(d, "audit ship spool_limit")
			if err != nil {
				return nil, err
			}
			s.SpoolLimit = n
			continue
		}
		args := d.RemainingArgs()
		arity := func(min, max int) error {
			if len(args) < min || len(args) > max {
				return d.Errf("audit ship %s: want %d to %d arguments, got %d", name, min, max, len(args))
			}
			return nil
		}
		var err error
		switch name {
		case "header":
			if err = arity(2, 2); err == nil {
				if s.Headers == nil {
					s.Headers = make(map[string]string)
				}
				s.Headers[args[0]] = args[1]
			}
		case "batch_size", "queue_size":
			if err = arity(1, 1); err == nil {
				n, perr := strconv.Atoi(args[0])
				if perr != nil || n <= 0 {
					return nil, d.Errf("audit ship %s: %q is not a positive integer", name, args[0])
				}
				if name == "batch_size" {
					s.BatchSize = n
				} else {
					s.QueueSize = n
				}
			}
		case "flush_interval", "timeout":
			if err = arity(1, 1); err == nil {
				dur, perr := caddy.ParseDuration(args[0])
				if perr != nil || dur <= 0 {
					return nil, d.Errf("audit ship %s: %q is not a positive duration", name, args[0])
				}
				if name == "timeout" {
					s.Timeout = caddy.Duration(dur)
				} else {
					s.FlushInterval = caddy.Duration(dur)
				}
			}
		case "backoff":
			if err = arity(2, 2); err == nil {
				lo, e1 := caddy.ParseDuration(args[0])
				hi, e2 := caddy.ParseDuration(args[1])
				if e1 != nil || e2 != nil || lo <= 0 || hi < lo {
					return nil, d.Errf("audit ship backoff: want <min> <max> durations with 0 < min <= max, got %q %q", args[0], args[1])
				}
				s.MinBackoff, s.MaxBackoff = caddy.Duration(lo), caddy.Duration(hi)
			}
		case "spool_dir":
			if err = arity(1, 1); err == nil {
				s.SpoolDir = args[0]
			}
		case "unauthenticated_rate":
			if err = arity(1, 2); err == nil {
				r, perr := strconv.ParseFloat(args[0], 64)
				if perr != nil || r <= 0 {
					return nil, d.Errf("audit ship unauthenticated_rate: %q is not a positive rate per second", args[0])
				}
				s.UnauthenticatedRate = r
				if len(args) == 2 {
					b, perr := strconv.Atoi(args[1])
					if perr != nil || b <= 0 {
						return nil, d.Errf("audit ship unauthenticated_rate: burst %q is not a positive integer", args[1])
					}
					s.UnauthenticatedBurst = b
				}
			}
		default:
			return nil, d.Errf("audit ship: unknown setting %q", name)
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// auditor writes one record per decision to the audit logger, counts it in
// the metrics and hands its AuditEvent to the shipper.
type auditor struct {
	logger   *zap.Logger
	obs      audit.Observer
	source   audit.Source
	fhirBase string // audit fhir_base; "" defers to the handler's fhir_base
	logEvent bool
	shipper  *audit.Shipper
	spoolKey string
}

// spools shares a spool directory between the shippers of successive
// configs: during a reload both run, and the spool's claims keep them from
// sending a batch twice.
var spools = caddy.NewUsagePool()

type pooledSpool struct{ *audit.Spool }

func (pooledSpool) Destruct() error { return nil }

// newAuditor provisions the audit trail; cfg may be nil (log records only).
// ctx is the healthgate handler's, so the logger is a child of its.
func newAuditor(ctx caddy.Context, cfg *AuditConfig) (*auditor, error) {
	if cfg == nil {
		cfg = new(AuditConfig)
	}
	obs, err := observer(ctx)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	a := &auditor{
		logger:   ctx.Logger().Named("audit"),
		obs:      obs,
		source:   audit.Source{Site: cfg.Site, Observer: cmp.Or(cfg.Observer, host, "healthgate")},
		logEvent: cfg.LogAuditEvent,
	}
	a.fhirBase = cfg.FHIRBase
	if cfg.Ship != nil {
		if err := a.startShipper(ctx, cfg.Ship); err != nil {
			a.cleanup()
			return nil, fmt.Errorf("healthgate audit ship %s: %w", cfg.Ship.Endpoint, err)
		}
	}
	return a, nil
}

func (a *auditor) startShipper(ctx caddy.Context, s *AuditShipConfig) error {
	repl := caddy.NewReplacer()
	dir := repl.ReplaceKnown(s.SpoolDir, "")
	if dir == "" {
		sum := sha256.Sum256([]byte(s.Endpoint))
		dir = filepath.Join(caddy.AppDataDir(), "healthgate", "audit-spool", hex.EncodeToString(sum[:6]))
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("spool_dir: %w", err)
	}
	limit := cmp.Or(s.SpoolLimit, 256<<20)
	v, _, err := spools.LoadOrNew(dir, func() (caddy.Destructor, error) {
		sp, err := audit.OpenSpool(dir, limit)
		return pooledSpool{sp}, err
	})
	if err != nil {
		return fmt.Errorf("spool_dir: %w", err)
	}
	a.spoolKey = dir
	spool := v.(pooledSpool).Spool
	spool.SetLimit(limit)

	header := make(http.Header, len(s.Headers))
	for k, v := range s.Headers {
		header.Set(k, repl.ReplaceKnown(v, ""))
	}
	a.shipper, err = audit.NewShipper(audit.ShipperConfig{
		Endpoint:             s.Endpoint,
		Header:               header,
		Client:               &http.Client{Timeout: cmp.Or(time.Duration(s.Timeout), 10*time.Second)},
		BatchSize:            s.BatchSize,
		QueueSize:            s.QueueSize,
		FlushInterval:        time.Duration(s.FlushInterval),
		MinBackoff:           time.Duration(s.MinBackoff),
		MaxBackoff:           time.Duration(s.MaxBackoff),
		UnauthenticatedRate:  s.UnauthenticatedRate,
		UnauthenticatedBurst: s.UnauthenticatedBurst,
		Spool:                spool,
		Observer:             a.obs,
		Logger:               shipLogger(ctx),
	})
	return err
}

// shipLogger logs the shipper's state changes and drops under a name of its
// own, so the audit logger carries decision records only.
func shipLogger(ctx caddy.Context) *slog.Logger {
	l := ctx.Logger().Named("audit_shipper")
	return slog.New(zapslog.NewHandler(l.Core(), zapslog.WithName(l.Name())))
}

// record writes the record of one decision. status is what the client got
// (the upstream's status when allowed); elapsed is the time since the
// request started. A panic in building, logging or shipping the record is
// logged, never passed on: the client has its answer by now, and the audit
// must not turn it into a broken connection.
func (a *auditor) record(req *pipeline.Request, out pipeline.Outcome, status int, elapsed time.Duration) {
	defer func() {
		if v := recover(); v != nil {
			a.logger.Error("audit record failed", zap.String("panic", fmt.Sprint(v)), zap.Stack("stack"))
		}
	}()
	var id string
	if repl, ok := req.HTTP.Context().Value(caddy.ReplacerCtxKey).(*caddy.Replacer); ok {
		id, _ = repl.GetString("http.request.uuid")
	}
	rec := audit.NewRecord(req, out, status, elapsed, id)
	// The policies' classification when they made one (req.FHIR caches
	// it): the record names what was decided on, parsed once.
	rec.FHIR = audit.DescribeRequest(req, cmp.Or(a.fhirBase, req.FHIRBase))
	a.obs.Decision(string(rec.Decision), rec.Reason)

	var ev audit.AuditEvent
	if a.logEvent || a.shipper != nil {
		ev = rec.AuditEvent(a.source, uuid.NewString())
	}
	if c := a.logger.Check(zapcore.InfoLevel, "decision"); c != nil {
		fields := []zap.Field{zap.Inline(logRecord{&rec})}
		if a.logEvent {
			fields = append(fields, zap.Any("audit_event", ev))
		}
		c.Write(fields...)
	}
	if a.shipper != nil {
		a.shipper.Ship(ev, rec.Unauthenticated())
	}
}

// cleanup stops the shipper, delivering or spooling what it holds. It works
// on a partly provisioned auditor.
func (a *auditor) cleanup() {
	if a == nil {
		return
	}
	if a.shipper != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = a.shipper.Close(ctx)
		cancel()
	}
	if a.spoolKey != "" {
		_, _ = spools.Delete(a.spoolKey)
	}
}

// logRecord writes a Record's fields at the top level of the log entry.
type logRecord struct{ r *audit.Record }

func (l logRecord) MarshalLogObject(enc zapcore.ObjectEncoder) error {
	r := l.r
	str := func(k, v string) {
		if v != "" {
			enc.AddString(k, v)
		}
	}
	strs := func(k string, v []string) {
		if len(v) > 0 {
			_ = enc.AddArray(k, zapcore.ArrayMarshalerFunc(func(ae zapcore.ArrayEncoder) error {
				for _, s := range v {
					ae.AppendString(s)
				}
				return nil
			}))
		}
	}
	obj := func(k string, v any, present bool) {
		if present {
			_ = enc.AddReflected(k, v)
		}
	}
	enc.AddTime("time", r.Time)
	str("request_id", r.RequestID)
	str("route", r.Route)
	str("method", r.Method)
	str("host", r.Host)
	str("path", r.Path)
	str("query", r.Query)
	obj("fhir", r.FHIR, r.FHIR != nil)
	str("decision", string(r.Decision))
	enc.AddInt("status", r.Status)
	if r.UpstreamStatus != 0 {
		enc.AddInt("upstream_status", r.UpstreamStatus)
	}
	str("reason", r.Reason)
	obj("device", r.Device, r.Device != nil)
	obj("application", r.Application, r.Application != nil)
	obj("user", r.User, r.User != nil)
	strs("verified", r.Verified)
	obj("token", r.Token, r.Token != nil)
	obj("certificate", r.Certificate, r.Certificate != nil)
	str("cws_key_user", r.CWSKeyUser)
	strs("purpose_of_use", r.PurposeOfUse)
	if r.Override {
		enc.AddBool("override", true)
	}
	strs("overridden", r.Overridden)
	strs("grounds", r.Grounds)
	obj("policies", r.Policies, len(r.Policies) > 0)
	str("client_ip", r.ClientIP)
	enc.AddFloat64("duration", r.Duration)
	return nil
}
