package caddymodule

import (
	"encoding/json"
	"maps"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestParseAudit(t *testing.T) {
	tests := []struct {
		name  string
		input string
		want  *AuditConfig
		err   string
	}{
		{
			name:  "an empty block logs records only",
			input: `audit`,
			want:  &AuditConfig{},
		},
		{
			name: "every setting is read",
			input: `audit {
				site hospital-a
				observer gw-1
				fhir_base /fhir
				log_audit_event
				ship https://audit.example/fhir {
					header Authorization "Bearer {env.AUDIT_TOKEN}"
					batch_size 20
					queue_size 500
					flush_interval 250ms
					backoff 2s 5m
					timeout 3s
					spool_dir /var/spool/hg
					spool_limit 64MiB
					unauthenticated_rate 2.5 20
				}
			}`,
			want: &AuditConfig{Site: "hospital-a", Observer: "gw-1", FHIRBase: "/fhir", LogAuditEvent: true,
				Ship: &AuditShipConfig{
					Endpoint: "https://audit.example/fhir", Headers: map[string]string{"Authorization": "Bearer {env.AUDIT_TOKEN}"},
					BatchSize: 20, QueueSize: 500, FlushInterval: caddy.Duration(250 * time.Millisecond),
					MinBackoff: caddy.Duration(2 * time.Second), MaxBackoff: caddy.Duration(5 * time.Minute),
					Timeout: caddy.Duration(3 * time.Second), SpoolDir: "/var/spool/hg", SpoolLimit: 64 << 20,
					UnauthenticatedRate: 2.5, UnauthenticatedBurst: 20,
				}},
		},
		{name: "an argument on audit is refused", input: `audit on`, err: `audit: unexpected argument "on"`},
		{name: "an unknown setting is named", input: "audit {\n verbose\n}", err: `audit: unknown setting "verbose"`},
		{name: "ship needs an endpoint", input: "audit {\n ship\n}", err: "audit ship: want the audit server's FHIR base URL"},
		{name: "a bad batch size is named", input: "audit {\n ship https://a/fhir {\n batch_size -3\n }\n}", err: `audit ship batch_size: "-3" is not a positive integer`},
		{name: "a bad spool limit is named", input: "audit {\n ship https://a/fhir {\n spool_limit lots\n }\n}", err: `audit ship spool_limit "lots": want a positive size`},
		{name: "a spool limit takes one size", input: "audit {\n ship https://a/fhir {\n spool_limit 1MiB 2MiB\n }\n}", err: "wrong argument count"},
		{name: "a backoff whose max is below its min is refused", input: "audit {\n ship https://a/fhir {\n backoff 5s 1s\n }\n}", err: `audit ship backoff: want <min> <max>`},
		{name: "a header needs a name and a value", input: "audit {\n ship https://a/fhir {\n header Authorization\n }\n}", err: "audit ship header: want 2 to 2 arguments, got 1"},
		{name: "an unknown ship setting is named", input: "audit {\n ship https://a/fhir {\n retries 3\n }\n}", err: `audit ship: unknown setting "retries"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := caddyfile.NewTestDispenser(tt.input)
			d.Next()
			got, err := parseAudit(d)
			if !checkErr(t, err, tt.err) {
				return
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parseAudit (-want +got):\n%s", diff)
			}
		})
	}
}

// TestTheLogRecordCarriesEveryRecordField keeps the hand-written log encoder
// in step with audit.Record: a field added there must be logged too.
func TestTheLogRecordCarriesEveryRecordField(t *testing.T) {
	facet := &identity.Facet{Kind: identity.User, ID: "u", Proof: identity.ProofJWT}
	rec := audit.Record{
		Time: time.Now(), RequestID: "r", Route: "r", Method: "GET", Host: "h", Path: "/", Query: "a=1",
		FHIR: &audit.FHIR{Interaction: "read"}, Decision: audit.DecisionAllow, Status: 200, UpstreamStatus: 200,
		Reason: "x", Device: facet, Application: facet, User: facet, Verified: []string{"oidc"},
		Token: &identity.Token{Issuer: "i"}, Certificate: &audit.Certificate{SHA256: "ab"}, CWSKeyUser: "k",
		PurposeOfUse: []string{"TREAT"}, Override: true, Overridden: []string{"1.2"}, Grounds: []string{"g"},
		Policies: []audit.PolicyResult{{Policy: "p", Effect: "allow"}}, ClientIP: "192.0.2.1", Duration: 1,
	}
	raw, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON map[string]any
	if err := json.Unmarshal(raw, &fromJSON); err != nil {
		t.Fatal(err)
	}
	enc := zapcore.NewMapObjectEncoder()
	if err := (logRecord{&rec}).MarshalLogObject(enc); err != nil {
		t.Fatal(err)
	}
	want, got := slices.Sorted(maps.Keys(fromJSON)), slices.Sorted(maps.Keys(enc.Fields))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("logged fields (-json +log):\n%s", diff)
	}
}

// panickingObserver panics when a decision is counted.
type panickingObserver struct{ audit.Nop }

func (panickingObserver) Decision(string, string) { panic("observer broke") }

// TestAuditRecordSurvivesAPanic: a panic while recording is logged and does
// not reach the handler, whose client already has its answer.
func TestAuditRecordSurvivesAPanic(t *testing.T) {
	core, logs := zapobserver.New(zapcore.InfoLevel)
	a := &auditor{logger: zap.New(core), obs: panickingObserver{}}
	req := pipeline.NewRequest(httptest.NewRequest("GET", "/fhir/Patient/1", nil), &pipeline.Route{}, time.Now())
	func() {
		defer func() {
			if v := recover(); v != nil {
				t.Fatalf("record passed a panic on: %v", v)
			}
		}()
		a.record(req, pipeline.Outcome{Effect: pipeline.Allow}, 200, time.Millisecond)
	}()
	got := logs.FilterMessage("audit record failed").All()
	if len(got) != 1 || got[0].ContextMap()["panic"] != "observer broke" {
		t.Errorf("logged %v, want one \"audit record failed\" entry naming the panic", logs.All())
	}
}
