package wasmfilter_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
	"github.com/healthgate/healthgate/wasmfilter"
	"github.com/healthgate/healthgate/wasmfilter/wasmtest"
)

// newHost returns a Host with an in-memory compilation cache.
func newHost(t testing.TB) *wasmfilter.Host {
	t.Helper()
	h, err := wasmfilter.NewHost("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	return h
}

// fixture compiles testdata/<name>.wat.
func fixture(t testing.TB, name string) []byte {
	return wasmtest.WAT(t, filepath.Join("testdata", name+".wat"))
}

// newRule loads wasm as a rule closed at the end of the test.
func newRule(t testing.TB, h *wasmfilter.Host, wasm []byte, opts wasmfilter.Options) *wasmfilter.Rule {
	t.Helper()
	if opts.Name == "" {
		opts.Name = "test"
	}
	r, err := h.NewRule(context.Background(), wasm, opts)
	if err != nil {
		t.Fatalf("loading rule: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// input returns a security context with the given claims.
func input(claims map[string][]string) *wasmfilter.Input {
	return &wasmfilter.Input{Version: 1, Principal: identity.Principal{Claims: claims}, UnixMilli: time.Now().UnixMilli()}
}

var failing = map[string][]string{"fail": {"yes"}}

// classOf returns the class of an *EvalError, or "" for nil or another error.
func classOf(err error) wasmfilter.Class {
	var ee *wasmfilter.EvalError
	if errors.As(err, &ee) {
		return ee.Class
	}
	return ""
}

// request returns a pipeline request for a GET of target by a user with
// the given claims.
func request(target string, claims map[string][]string) *pipeline.Request {
	req := pipeline.NewRequest(httptest.NewRequest("GET", target, nil), &pipeline.Route{Name: "test"}, time.Now())
	req.Principal = identity.Principal{User: &identity.Facet{Kind: identity.User, ID: "u1", Proof: identity.ProofJWT}, Claims: claims}
	req.Verified = []string{"oidc"}
	return req
}

// goRule builds the Go rule in dir.
func goRule(t testing.TB, dir string) []byte { return wasmtest.Go(t, dir) }
