package caddymodule

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/healthgate/healthgate/policy/pipeline"
)

func TestGrantsCaddyfile(t *testing.T) {
	got, err := adapt(t, new(Grants), `grants {
		deny  password application reader-app other-app
		deny  1.3.6.1.4.1.33349.3.1.5.9.2.1.0.0.1.0 application default-app
		grant client_credentials role SYNCHRONIZERS
		token_path /auth/oauth2_token /oauth/token
		max_body 16KiB
		allow_client_credentials_without_device
		authmethod ClientSecret client_credentials
		claim role roles
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"rules":[{"effect":"deny","policy":"password","subject":"application","ids":["reader-app","other-app"]},` +
		`{"effect":"deny","policy":"1.3.6.1.4.1.33349.3.1.5.9.2.1.0.0.1.0","subject":"application","ids":["default-app"]},` +
		`{"effect":"grant","policy":"client_credentials","subject":"role","ids":["SYNCHRONIZERS"]}],` +
		`"token_paths":["/auth/oauth2_token","/oauth/token"],"max_body":16384,"allow_client_credentials_without_device":true,` +
		`"authmethods":{"ClientSecret":"client_credentials"},"claims":{"role":["roles"]}}`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

func TestGrantsCaddyfileErrorsNameTheDirectiveAndValue(t *testing.T) {
	tests := []struct {
		name, input, wantErr string
	}{
		{"an unknown grant", `grants {
			deny implicit application a
		}`, `grants deny implicit application a: grants: "implicit" is neither a grant type`},
		{"an unknown subject kind", `grants {
			deny password user a
		}`, `grants deny password user a: grants: unknown subject "user"`},
		{"a rule without ids", `grants {
			deny password application
		}`, `grants deny: want <grant|oid> device|application|role <id...>`},
		{"a bad size", `grants {
			max_body lots
		}`, `grants max_body "lots": want a positive size`},
		{"an unknown option", `grants {
			allow_everything
		}`, `grants: unknown option "allow_everything"`},
		{"a bad claim kind", `grants {
			claim subject sub
		}`, `grants claim "subject": want role, device`},
		{"an authmethod mapped to an OID", `grants {
			authmethod X 1.2.3
		}`, `grants authmethod "X": "1.2.3" is not a grant type`},
		{"a policy granted and denied to one role", `grants {
			deny password role A
			grant password role a
		}`, "both granted and denied to role:a"},
	}
	for _, tt := range tests {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := adapt(t, new(Grants), tt.input)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestRequirePolicyAndBreakGlassCaddyfile(t *testing.T) {
	got, err := adapt(t, new(RequirePolicy), `require_policy 1.3.6.1.4.1.33349.3.1.5.9.2.2.3 2.25.3049340304933 {
		inherit
		override {
			purposes EMERG ETREAT
			policies 2.25.3049340304933
			claim override santedb.isOverride
		}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"oids":["1.3.6.1.4.1.33349.3.1.5.9.2.2.3","2.25.3049340304933"],"inherit":true,` +
		`"override":{"purposes":["EMERG","ETREAT"],"policies":["2.25.3049340304933"],"claims":{"override":["santedb.isOverride"]}}}`
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	got, err = adapt(t, new(BreakGlass), `break_glass {
		purposes EMERG
		allow_without_token
	}`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(`{"purposes":["EMERG"],"allow_without_token":true}`, got); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
	for _, tt := range []struct {
		name    string
		m       caddyfileModule
		input   string
		wantErr string
	}{
		{"require_policy without OIDs", new(RequirePolicy), `require_policy`, "name at least one policy OID"},
		{"require_policy with a grant name", new(RequirePolicy), `require_policy password`, `require_policy "password": not a policy OID`},
		{"an override without purposes", new(RequirePolicy), `require_policy 1.2.3 {
			override {
				policies 1.2.3
			}
		}`, "require_policy override: purposes is required"},
		{"break_glass without purposes", new(BreakGlass), `break_glass {
			policies 1.2.3
		}`, "break_glass: purposes is required"},
		{"break_glass with a policy name", new(BreakGlass), `break_glass {
			policies SUPER-SECRET
		}`, `break_glass policies "SUPER-SECRET"`},
	} {
		t.Run("refuses "+tt.name, func(t *testing.T) {
			_, err := adapt(t, tt.m, tt.input)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestGrantsDecideOverAnonymousTokenRequests(t *testing.T) {
	g := new(Grants)
	if _, err := adapt(t, g, `grants {
		deny password application reader-app
	}`); err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Policies: []pipeline.NamedPolicy{{Name: "grants", Policy: g}}}
	tests := []struct {
		name, form string
		wantReason string
	}{
		{"a denied grant is refused without any credentials", "grant_type=password&client_id=reader-app", "grant_denied"},
		{"an allowed grant passes as anonymous", "grant_type=password&client_id=other-app", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/auth/oauth2_token", strings.NewReader(tt.form))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req := pipeline.NewRequest(r, &pipeline.Route{Missing: pipeline.MissingIgnore}, time.Now())
			defer req.Finish()
			out := p.Run(context.Background(), req)
			switch {
			case tt.wantReason == "" && (out.Effect != pipeline.Allow || !out.Anonymous):
				t.Errorf("Run = %+v, want an anonymous allow", out)
			case tt.wantReason != "" && (out.Effect != pipeline.Deny || out.Failure.Reason != tt.wantReason):
				t.Errorf("Run = %+v, want %s", out, tt.wantReason)
			}
			if b, _ := io.ReadAll(req.HTTP.Body); string(b) != tt.form {
				t.Errorf("body after the policy = %q, want %q", b, tt.form)
			}
		})
	}
}
