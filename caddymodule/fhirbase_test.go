package caddymodule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/modules/caddyhttp"
	"github.com/google/go-cmp/cmp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	zapobserver "go.uber.org/zap/zaptest/observer"

	"github.com/healthgate/healthgate/policy/audit"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestHandlerFHIRBaseCaddyfile(t *testing.T) {
	tests := []struct {
		name, input, want, wantErr string
	}{
		{name: "a path is the handler's base", input: "healthgate {\n fhir_base /fhir/R4\n}", want: "/fhir/R4"},
		{name: "/ is the root", input: "healthgate {\n fhir_base /\n}", want: "/"},
		{name: "unset is none", input: "healthgate {\n realm x\n}", want: ""},
		{name: "a base needs a path", input: "healthgate {\n fhir_base\n}", wantErr: "wrong argument count"},
		{name: "one path only", input: "healthgate {\n fhir_base /a /b\n}", wantErr: "wrong argument count"},
		{name: "a relative path is refused", input: "healthgate {\n fhir_base fhir\n}", wantErr: "want a path starting with /"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := new(Handler)
			if !checkErr(t, unmarshal(h, tt.input), tt.wantErr) {
				return
			}
			if h.FHIRBase != tt.want {
				t.Errorf("FHIRBase = %q, want %q", h.FHIRBase, tt.want)
			}
			raw, err := json.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(string(raw), `"fhir_base":`); got != (tt.want != "") {
				t.Errorf("JSON %s: fhir_base present = %v, want %v", raw, got, tt.want != "")
			}
		})
	}
}

func TestHandlerFHIRBaseProvisionRefusesARelativePath(t *testing.T) {
	h := &Handler{FHIRBase: "fhir"}
	if err := provision(t, h); err == nil || !strings.Contains(err.Error(), "fhir_base") {
		t.Errorf("Provision err = %v, want a fhir_base error", err)
	}
}

// fhirProbe is a policy that records the base the handler gave it and, like
// smart, classifies the request under it first (the record then reuses it).
type fhirProbe struct{ base string }

func (p *fhirProbe) Decide(_ context.Context, req *pipeline.Request) pipeline.Decision {
	p.base = req.FHIRBase
	_, _ = req.FHIR(req.FHIRBase)
	return pipeline.Abstained()
}

func (*fhirProbe) DecidesAnonymous() {}

func TestHandlerCarriesFHIRBaseToPoliciesAndAudit(t *testing.T) {
	tests := []struct {
		name, config, target string
		wantBase             string
		wantAudit            *audit.FHIR
	}{
		{"the handler's base reaches policies and the record", "fhir_base /fhir", "/fhir/Patient/1",
			"/fhir", &audit.FHIR{Interaction: "read", Type: "Patient", ID: "1"}},
		{"audit's own fhir_base overrides it", "fhir_base /fhir\n audit {\n fhir_base /api\n }", "/api/Observation/2",
			"/fhir", &audit.FHIR{Interaction: "read", Type: "Observation", ID: "2"}},
		{"no base: no FHIR facts in the record", "", "/fhir/Patient/1", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := provisionHandler(t, "healthgate {\n missing ignore\n "+tt.config+"\n}")
			probe := new(fhirProbe)
			h.pipeline.Policies = append(h.pipeline.Policies, pipeline.NamedPolicy{Name: "probe", Policy: probe})
			core, logs := zapobserver.New(zapcore.InfoLevel)
			h.auditor.logger = zap.New(core)

			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			r = r.WithContext(context.WithValue(r.Context(), caddy.ReplacerCtxKey, caddy.NewReplacer()))
			next := caddyhttp.HandlerFunc(func(http.ResponseWriter, *http.Request) error { return nil })
			if err := h.ServeHTTP(httptest.NewRecorder(), r, next); err != nil {
				t.Fatal(err)
			}
			if probe.base != tt.wantBase {
				t.Errorf("policy saw FHIRBase %q, want %q", probe.base, tt.wantBase)
			}
			entries := logs.FilterMessage("decision").All()
			if len(entries) != 1 {
				t.Fatalf("%d decision records, want 1", len(entries))
			}
			// The log encoder adds the record's *audit.FHIR as is.
			got, _ := entries[0].ContextMap()["fhir"].(*audit.FHIR)
			if diff := cmp.Diff(tt.wantAudit, got); diff != "" {
				t.Errorf("record fhir (-want +got):\n%s", diff)
			}
		})
	}
}
