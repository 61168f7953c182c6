package caddymodule

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/caddyserver/caddy/v2"
	"github.com/caddyserver/caddy/v2/caddyconfig/caddyfile"
)

// caddyfileModule is a module a Caddyfile (sub-)directive configures.
type caddyfileModule interface {
	caddyfile.Unmarshaler
	caddy.Provisioner
}

// unmarshal reads the Caddyfile snippets into m in order and returns the
// first error.
func unmarshal(m caddyfile.Unmarshaler, inputs ...string) error {
	for _, in := range inputs {
		if err := m.UnmarshalCaddyfile(caddyfile.NewTestDispenser(in)); err != nil {
			return err
		}
	}
	return nil
}

// testContext is a caddy.Context cancelled when the test ends.
func testContext(tb testing.TB) caddy.Context {
	tb.Helper()
	ctx, cancel := caddy.NewContext(caddy.Context{Context: context.Background()})
	tb.Cleanup(cancel)
	return ctx
}

// provision provisions m with a testContext and returns its error. A module
// with a Cleanup is cleaned up when the test ends, before the context is
// cancelled, whether provisioning succeeded or not.
func provision(tb testing.TB, m caddy.Provisioner) error {
	tb.Helper()
	ctx := testContext(tb)
	err := m.Provision(ctx)
	if c, ok := m.(caddy.CleanerUpper); ok {
		tb.Cleanup(func() { _ = c.Cleanup() })
	}
	return err
}

// adapt unmarshals a Caddyfile snippet into m and provisions it; it returns
// the module's JSON or the first error.
func adapt(tb testing.TB, m caddyfileModule, input string) (string, error) {
	tb.Helper()
	if err := unmarshal(m, input); err != nil {
		return "", err
	}
	if err := provision(tb, m); err != nil {
		return "", err
	}
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b), nil
}

// checkErr fails the test unless err is what a case wants: nil when wantErr
// is empty, else an error containing wantErr. It reports whether the case
// wants no error, so that the caller goes on to check the result.
func checkErr(t *testing.T, err error, wantErr string) bool {
	t.Helper()
	if wantErr != "" {
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Fatalf("err = %v, want one containing %q", err, wantErr)
		}
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}
