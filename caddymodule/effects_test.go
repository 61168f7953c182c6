package caddymodule

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestEffects(t *testing.T) {
	names := defaultUpstreamHeaders()
	names.User = "X-Remote-User"
	e, err := newEffects(&names, []string{"X-Site-Secret"})
	if err != nil {
		t.Fatal(err)
	}
	newReq := func(hdr http.Header) *pipeline.Request {
		r := httptest.NewRequest(http.MethodGet, "/Patient/1", nil)
		r.Header = hdr
		return pipeline.NewRequest(r, &pipeline.Route{}, time.Now())
	}

	t.Run("spoofed identity and certificate headers go, the verified identity comes", func(t *testing.T) {
		req := newReq(http.Header{
			"X-Remote-User": {"admin"}, "X_ssl_clientcert": {"x"}, "Client-Cert": {":AA:"},
			"X-Site-Secret": {"1"}, "Accept": {"application/fhir+json"},
		})
		req.Principal.User = &identity.Facet{Kind: identity.User, ID: "allison", Proof: identity.ProofJWT}
		req.Principal.Scopes = []string{"patient/*.read"}
		if f := e.apply(req, pipeline.Outcome{Effect: pipeline.Allow}); f != nil {
			t.Fatal(f)
		}
		want := http.Header{
			"X-Remote-User": {"allison"}, "X-Healthgate-Scopes": {"patient/*.read"},
			"Accept": {"application/fhir+json"},
		}
		if diff := cmp.Diff(want, req.HTTP.Header); diff != "" {
			t.Errorf("upstream headers (-want +got):\n%s", diff)
		}
	})
	t.Run("an obligation cannot overwrite a renamed identity header", func(t *testing.T) {
		req := newReq(http.Header{})
		req.Principal.User = &identity.Facet{Kind: identity.User, ID: "allison", Proof: identity.ProofJWT}
		req.SetUpstream("X-Remote-User", "admin")
		req.SetUpstream("X-Ward", "7")
		if f := e.apply(req, pipeline.Outcome{Effect: pipeline.Allow}); f != nil {
			t.Fatal(f)
		}
		if got := req.HTTP.Header.Get("X-Remote-User"); got != "allison" {
			t.Errorf("X-Remote-User = %q", got)
		}
		if got := req.HTTP.Header.Get("X-Ward"); got != "7" {
			t.Errorf("X-Ward = %q", got)
		}
	})
	t.Run("an identity a header cannot carry refuses the request", func(t *testing.T) {
		req := newReq(http.Header{})
		req.Principal.User = &identity.Facet{Kind: identity.User, ID: "alli\nson", Proof: identity.ProofJWT}
		f := e.apply(req, pipeline.Outcome{Effect: pipeline.Allow})
		if f == nil || f.Reason != "identity_unrepresentable" {
			t.Fatalf("apply = %v, want identity_unrepresentable", f)
		}
	})
	t.Run("an anonymous pass is marked and carries no identity", func(t *testing.T) {
		req := newReq(http.Header{"X-Healthgate-Device": {"fake"}})
		if f := e.apply(req, pipeline.Outcome{Effect: pipeline.Allow, Anonymous: true}); f != nil {
			t.Fatal(f)
		}
		if diff := cmp.Diff(http.Header{"X-Healthgate-Anonymous": {"true"}}, req.HTTP.Header); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
}
