package grants

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// superSecret is the Elbonia MPI's "SUPER SECRET DISCLOSURE" policy from the
// seed (the scope Allison requests).
const superSecret = "2.25.3049340304933"

func testBreakGlass(t *testing.T) *BreakGlassPolicy {
	t.Helper()
	b := &BreakGlassPolicy{BreakGlass{Purposes: []string{"EMERG", "8b18c2b6-916a-11ea-bb37-0242ac130002"}, Policies: []string{superSecret}}}
	if err := b.Provision(); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBreakGlassPolicy(t *testing.T) {
	tests := []struct {
		name        string
		header      string
		scopes      []string
		claims      []string
		want        string
		wantGrounds []string
		wantPOU     []string
	}{
		{"Allison overriding SUPER SECRET DISCLOSURE with an override token is accepted",
			"PolicyOverride=1;PurposeOfUse=EMERG", []string{superSecret, OIDOverride}, []string{"isOverride", "true", "purpose_of_use", "EMERG"},
			"allow", []string{"override", "purpose:EMERG", "overridden:" + superSecret}, []string{"EMERG"}},
		{"the URN form with a SanteDB purpose concept is accepted",
			b64(ClaimOverride + "=true;" + ClaimPurposeOfUse + "=8b18c2b6-916a-11ea-bb37-0242ac130002"), []string{superSecret}, []string{"santedb.isOverride", "True"},
			"allow", []string{"override", "purpose:8b18c2b6-916a-11ea-bb37-0242ac130002", "overridden:" + superSecret}, []string{"8b18c2b6-916a-11ea-bb37-0242ac130002"}},
		{"an override token alone opens the override",
			"", []string{superSecret, OIDOverride}, []string{"purpose_of_use", "EMERG"},
			"allow", []string{"override", "purpose:EMERG", "overridden:" + superSecret}, []string{"EMERG"}},
		{"an override claimed with an ordinary token is refused",
			"PolicyOverride=1;PurposeOfUse=EMERG", []string{superSecret}, nil, "deny:override_token_required", nil, nil},
		{"an override claimed against a token that says isOverride=false is contradicted",
			"PolicyOverride=1;PurposeOfUse=EMERG", nil, []string{"isOverride", "false"}, "deny:client_claim_contradicted", nil, nil},
		{"a spoofed purpose the token does not carry is contradicted",
			"PolicyOverride=1;PurposeOfUse=EMERG", []string{OIDOverride}, []string{"purpose_of_use", "TREAT"}, "deny:client_claim_contradicted", nil, nil},
		{"refusing an override on an override token is contradicted",
			"PolicyOverride=0", []string{OIDOverride}, []string{"purpose_of_use", "EMERG"}, "deny:client_claim_contradicted", nil, nil},
		{"a purpose that is not configured is refused",
			"PolicyOverride=1;PurposeOfUse=HMARKT", []string{OIDOverride}, nil, "deny:purpose_not_accepted", nil, nil},
		{"an override without a purpose is refused",
			"PolicyOverride=1", []string{OIDOverride}, nil, "deny:purpose_not_accepted", nil, nil},
		{"an override token whose purpose is not configured is refused",
			"", nil, []string{"isOverride", "1", "purpose_of_use", "HMARKT"}, "deny:purpose_not_accepted", nil, nil},
		{"a malformed header is a bad request",
			"PolicyOverride", []string{OIDOverride}, nil, "deny:client_claim_malformed", nil, nil},
		{"a purpose without override sets the purpose of use",
			"PurposeOfUse=EMERG", nil, nil, "allow", []string{"purpose:EMERG"}, []string{"EMERG"}},
		{"no header and an ordinary token is left to others", "", []string{superSecret}, nil, "abstain", nil, nil},
	}
	b := testBreakGlass(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			if tt.header != "" {
				hdr = []string{ClientClaimHeader, tt.header}
			}
			req := withToken(newRequest(http.MethodGet, "/fhir/Patient/1", "", hdr...), tt.scopes, tt.claims...)
			d := b.Decide(context.Background(), req)
			wantDecision(t, d, tt.want)
			if d.Failure != nil && tt.want != "deny:"+d.Failure.Reason {
				return
			}
			if diff := cmp.Diff(tt.wantGrounds, d.Grounds); diff != "" {
				t.Errorf("grounds (-want +got):\n%s", diff)
			}
			if got := req.Principal.Override; got != (len(tt.wantGrounds) > 0 && tt.wantGrounds[0] == "override") {
				t.Errorf("Principal.Override = %v", got)
			}
			if diff := cmp.Diff(tt.wantPOU, req.Principal.PurposeOfUse); diff != "" {
				t.Errorf("PurposeOfUse (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("status codes follow SanteDB: 400 for malformed and contradicted claims, 403 otherwise", func(t *testing.T) {
		for header, status := range map[string]int{"x": 400, "PolicyOverride=1;PurposeOfUse=HMARKT": 403} {
			req := withToken(newRequest(http.MethodGet, "/fhir/Patient/1", "", ClientClaimHeader, header), []string{OIDOverride})
			if d := b.Decide(context.Background(), req); d.Failure == nil || d.Failure.Status != status {
				t.Errorf("%q: failure %v, want %d", header, d.Failure, status)
			}
		}
	})
	t.Run("two client claim headers are malformed", func(t *testing.T) {
		req := withToken(newRequest(http.MethodGet, "/fhir/Patient/1", "", ClientClaimHeader, "PurposeOfUse=EMERG", ClientClaimHeader, "PurposeOfUse=EMERG"), nil)
		wantDecision(t, b.Decide(context.Background(), req), "deny:client_claim_malformed")
	})
}

func TestBreakGlassProvisionRefusesBadConfiguration(t *testing.T) {
	if err := (&BreakGlass{}).Provision(); err == nil {
		t.Error("no purposes accepted")
	}
	if err := (&BreakGlass{Purposes: []string{"EMERG"}, Policies: []string{"SUPER SECRET"}}).Provision(); err == nil {
		t.Error("a policy name accepted as OID")
	}
}
