package caddymodule

import (
	"net/http/httptest"
	"testing"
	"time"

	"github.com/caddyserver/caddy/v2"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestPlaceholdersFollowTheFinalOutcome(t *testing.T) {
	repl := caddy.NewReplacer()
	req := pipeline.NewRequest(httptest.NewRequest("GET", "/Patient/1", nil), &pipeline.Route{Name: "fhir"}, time.Now())
	req.Principal.User = &identity.Facet{Kind: identity.User, ID: "allison", Proof: identity.ProofJWT}
	req.Principal.Device = &identity.Facet{Kind: identity.Device, ID: "ward-tablet-7", Proof: identity.ProofMTLS}
	out := pipeline.Outcome{Effect: pipeline.Allow}
	setPlaceholders(repl, req, &out)

	for key, want := range map[string]string{
		"http.auth.user.id":         "allison",
		"healthgate.user.id":        "allison",
		"healthgate.device.id":      "ward-tablet-7",
		"healthgate.device.proof":   "mtls",
		"healthgate.application.id": "",
		"healthgate.decision":       "allow",
		"healthgate.route":          "fhir",
	} {
		if got, _ := repl.GetString(key); got != want {
			t.Errorf("%s = %q, want %q", key, got, want)
		}
	}

	// A response check refuses after the placeholders were set.
	out = pipeline.Outcome{Effect: pipeline.Deny, Failure: pipeline.Forbidden("compartment_escape", nil)}
	if got, ok := repl.GetString("http.auth.user.id"); ok || got != "" {
		t.Errorf("a refused request still carries http.auth.user.id %q", got)
	}
	if got, _ := repl.GetString("healthgate.reason"); got != "compartment_escape" {
		t.Errorf("healthgate.reason = %q", got)
	}
	if _, ok := repl.Get("healthgate.no_such_thing"); ok {
		t.Error("an unknown healthgate placeholder resolved")
	}
}
