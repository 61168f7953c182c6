package tests

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/tests/harness"
)

// smartClients hold SMART App Launch v1 and v2 scopes; smart-patient's
// tokens carry the launch-context patient 123.
func smartClients() []harness.OPClient {
	return []harness.OPClient{
		{ID: "smart-v1", Secret: "s-v1", Scope: "user/Observation.read user/Patient.read"},
		{ID: "smart-v2", Secret: "s-v2", Scope: "user/Observation.rs user/Observation.c user/Condition.d"},
		{ID: "smart-system", Secret: "s-sys", Scope: "system/*.read"},
		{ID: "smart-lab", Secret: "s-lab", Scope: "user/Observation.rs?category=laboratory"},
		{ID: "smart-patient", Secret: "s-pt", Scope: "patient/*.rs", ExtraTokenClaims: map[string]any{"patient": "123"}},
		{ID: "smart-no-patient", Secret: "s-nopt", Scope: "patient/Observation.rs"},
	}
}

// fhirUpstream answers like a FHIR server holding Patient/123 and
// Patient/456 with one Observation each; a search with leak=1 answers
// both patients' observations, as a server ignoring the gateway's
// narrowing would.
func fhirUpstream(t *testing.T) *harness.Upstream {
	up := harness.NewUpstream(t)
	obs := func(id, patient string) map[string]any {
		return map[string]any{"resourceType": "Observation", "id": id, "status": "final",
			"code": map[string]any{"text": "x"}, "subject": map[string]any{"reference": "Patient/" + patient}}
	}
	up.Handle(func(w http.ResponseWriter, r *http.Request) {
		var res any
		switch p := r.URL.Path; {
		case p == "/fhir/Patient/123", p == "/fhir/Patient/456":
			res = map[string]any{"resourceType": "Patient", "id": strings.TrimPrefix(p, "/fhir/Patient/")}
		case p == "/fhir/Observation/o-123":
			res = obs("o-123", "123")
		case p == "/fhir/Observation/o-456":
			res = obs("o-456", "456")
		case p == "/fhir/Observation" && r.Method == http.MethodGet:
			entries := []any{map[string]any{"resource": obs("o-123", "123")}}
			if r.URL.Query().Get("leak") == "1" {
				entries = append(entries, map[string]any{"resource": obs("o-456", "456")})
			}
			res = map[string]any{"resourceType": "Bundle", "type": "searchset", "entry": entries}
		default:
			res = map[string]any{"resourceType": "OperationOutcome", "issue": []any{map[string]any{"severity": "information", "code": "informational"}}}
		}
		w.Header().Set("Content-Type", "application/fhir+json")
		_ = json.NewEncoder(w).Encode(res)
	})
	return up
}

type smartFixture struct {
	op     *harness.OP
	up     *harness.Upstream
	gw     *grantsFixture
	tokens map[string]string
}

func newSMARTFixture(t *testing.T) *smartFixture {
	t.Helper()
	op := harness.StartOP(t, harness.OPConfig{Clients: smartClients()})
	pki, up := harness.NewPKI(t), fhirUpstream(t)
	gw := harness.Start(t, harness.Config{Caddyfile: siteWith(pki, up, fmt.Sprintf(`healthgate {
		public /fhir/metadata
		oidc %s {
			audience %s
			typ at+jwt
		}
		route /fhir /fhir/* {
			smart {
				base /fhir
				operation $everything rs
			}
		}
	}
	handle_errors {
		respond "{healthgate.reason}" {err.status_code}
	}`, op.Issuer, oidcResource))})
	f := &smartFixture{op: op, up: up, gw: &grantsFixture{op: op, pki: pki, up: up, gw: gw, c: pki.Client(nil)}, tokens: map[string]string{}}
	for _, c := range smartClients() {
		f.tokens[c.ID] = op.Token(t, c.ID, c.Scope, oidcResource)
	}
	return f
}

type smartCase struct {
	name, client, method, path string
	ctype, body                string
	want                       int
	reason                     string
}

func (f *smartFixture) run(t *testing.T, cases []smartCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := http.Header{}
			if tc.client != "" {
				hdr.Set("Authorization", "Bearer "+f.tokens[tc.client])
			}
			if tc.ctype != "" {
				hdr.Set("Content-Type", tc.ctype)
			}
			before := f.up.Count()
			r := f.gw.send(t, cmpOr(tc.method, http.MethodGet), tc.path, hdr, tc.body)
			if r.status != tc.want {
				t.Fatalf("status = %d (%s), want %d %s", r.status, r.body, tc.want, tc.reason)
			}
			if tc.reason != "" {
				if r.body != tc.reason {
					t.Errorf("reason = %q, want %q", r.body, tc.reason)
				}
				if f.up.Count() != before && r.status != http.StatusForbidden && r.status != http.StatusBadGateway {
					t.Error("a refused request reached the upstream")
				}
				return
			}
			if f.up.Count() != before+1 {
				t.Error("an allowed request did not reach the upstream")
			}
			if tc.body != "" && string(f.up.Last().Body) != tc.body {
				t.Errorf("upstream got %q, want the exact body", f.up.Last().Body)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestSMARTScopeMatrix(t *testing.T) {
	f := newSMARTFixture(t)
	const obs = `{"resourceType":"Observation","status":"final","code":{"text":"x"},"subject":{"reference":"Patient/123"}}`
	f.run(t, []smartCase{
		{name: "v1 user/Observation.read reads an Observation", client: "smart-v1", path: "/fhir/Observation/o-123", want: 200},
		{name: "v1 user/Observation.read searches Observations", client: "smart-v1", path: "/fhir/Observation?code=x", want: 200},
		{name: "v1 user/Observation.read reads its history", client: "smart-v1", path: "/fhir/Observation/o-123/_history/1", want: 200},
		{name: "v1 user/Observation.read may not create", client: "smart-v1", method: "POST", path: "/fhir/Observation", ctype: "application/fhir+json", body: obs, want: 403, reason: "scope_missing"},
		{name: "v1 user/Observation.read may not read Conditions", client: "smart-v1", path: "/fhir/Condition/c1", want: 403, reason: "scope_missing"},
		{name: "v2 .c creates an Observation with the exact body", client: "smart-v2", method: "POST", path: "/fhir/Observation", ctype: "application/fhir+json", body: obs, want: 200},
		{name: "v2 .rs reads an Observation", client: "smart-v2", path: "/fhir/Observation/o-123", want: 200},
		{name: "v2 without .u may not update", client: "smart-v2", method: "PUT", path: "/fhir/Observation/o-123", ctype: "application/fhir+json", body: obs, want: 403, reason: "scope_missing"},
		{name: "v2 .d deletes a Condition", client: "smart-v2", method: "DELETE", path: "/fhir/Condition/c1", want: 200},
		{name: "v2 .d alone may not read the Condition", client: "smart-v2", path: "/fhir/Condition/c1", want: 403, reason: "scope_missing"},
		{name: "system/*.read runs a system search", client: "smart-system", path: "/fhir?_type=Observation,Condition", want: 200},
		{name: "system/*.read may not delete", client: "smart-system", method: "DELETE", path: "/fhir/Observation/o-123", want: 403, reason: "scope_missing"},
		{name: "a v2 constrained scope allows a search carrying its constraint", client: "smart-lab", path: "/fhir/Observation?category=laboratory", want: 200},
		{name: "a v2 constrained scope refuses a search without it", client: "smart-lab", path: "/fhir/Observation?code=x", want: 403, reason: "scope_constraint_unverifiable"},
		{name: "a v2 constrained scope refuses a read by id", client: "smart-lab", path: "/fhir/Observation/o-123", want: 403, reason: "scope_constraint_unverifiable"},
		{name: "an operation not configured is refused", client: "smart-system", path: "/fhir/Patient/123/$meta", want: 403, reason: "operation_not_allowed"},
		{name: "a configured operation passes with its scopes", client: "smart-system", path: "/fhir/Patient/123/$everything", want: 200},
		{name: "a dot-dot path is a bad request", client: "smart-system", path: "/fhir/Observation/%2E%2E/Patient/1", want: 400, reason: "fhir_request_malformed"},
		{name: "metadata stays public", path: "/fhir/metadata", want: 200},
		{name: "a request without a token is refused", path: "/fhir/Observation/o-123", want: 401, reason: "credentials_missing"},
	})
	t.Run("a missing scope is named in WWW-Authenticate", func(t *testing.T) {
		r := f.gw.send(t, http.MethodPost, "/fhir/Observation", http.Header{"Authorization": {"Bearer " + f.tokens["smart-v1"]}, "Content-Type": {"application/fhir+json"}}, obs)
		if got, want := r.header.Get("WWW-Authenticate"), `Bearer error="insufficient_scope", scope="user/Observation.c"`; got != want {
			t.Errorf("WWW-Authenticate = %q, want %q", got, want)
		}
	})
}

func TestSMARTRefusesIncludeSmuggling(t *testing.T) {
	f := newSMARTFixture(t)
	form := "application/x-www-form-urlencoded"
	f.run(t, []smartCase{
		{name: "an _include of a granted type passes", client: "smart-v1", path: "/fhir/Observation?code=x&_include=Observation:subject:Patient", want: 200},
		{name: "an _include of a type not granted is refused", client: "smart-v1", path: "/fhir/Observation?code=x&_include=Observation:performer:Practitioner", want: 403, reason: "include_not_allowed"},
		{name: "an _include without a target type is refused", client: "smart-v1", path: "/fhir/Observation?code=x&_include=Observation:performer", want: 403, reason: "include_not_allowed"},
		{name: "_include=* is refused", client: "smart-v1", path: "/fhir/Observation?code=x&_include=*", want: 403, reason: "include_not_allowed"},
		{name: "a _revinclude of a type not granted is refused", client: "smart-v1", path: "/fhir/Patient?name=x&_revinclude=Provenance:target", want: 403, reason: "include_not_allowed"},
		{name: "an _include:iterate is checked", client: "smart-v1", path: "/fhir/Observation?_include=Observation:subject:Patient&_include:iterate=Patient:general-practitioner:Practitioner", want: 403, reason: "include_not_allowed"},
		{name: "a _has on a type not granted is refused", client: "smart-v1", path: "/fhir/Patient?_has:Condition:patient:code=x", want: 403, reason: "include_not_allowed"},
		{name: "an _include hidden in a POST _search form is refused", client: "smart-v1", method: "POST", path: "/fhir/Observation/_search", ctype: form,
			body: "code=x&_include=Observation:performer:Practitioner", want: 403, reason: "include_not_allowed"},
		{name: "a POST _search form without smuggling passes with the exact body", client: "smart-v1", method: "POST", path: "/fhir/Observation/_search", ctype: form,
			body: "code=x&_include=Observation:subject:Patient", want: 200},
		{name: "an _include hidden in a batch entry is refused", client: "smart-v1", method: "POST", path: "/fhir", ctype: "application/fhir+json",
			body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation?_include=Observation:performer:Practitioner"}}]}`, want: 403, reason: "include_not_allowed"},
		{name: "a batch within the scopes passes", client: "smart-v1", method: "POST", path: "/fhir", ctype: "application/fhir+json",
			body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Observation/o-123"}},{"request":{"method":"GET","url":"Patient/123"}}]}`, want: 200},
	})
}

func TestSMARTPatientScopesStayInTheCompartment(t *testing.T) {
	f := newSMARTFixture(t)
	f.run(t, []smartCase{
		{name: "the patient in context is read", client: "smart-patient", path: "/fhir/Patient/123", want: 200},
		{name: "another patient by id is an escape", client: "smart-patient", path: "/fhir/Patient/456", want: 403, reason: "compartment_escape"},
		{name: "another patient's compartment is an escape", client: "smart-patient", path: "/fhir/Patient/456/Observation", want: 403, reason: "compartment_escape"},
		{name: "another patient's $everything is an escape", client: "smart-patient", path: "/fhir/Patient/456/$everything", want: 403, reason: "compartment_escape"},
		{name: "a search not narrowed to the patient is refused", client: "smart-patient", path: "/fhir/Observation?code=x", want: 403, reason: "search_not_narrowed"},
		{name: "a search widened to another patient by a comma is refused", client: "smart-patient", path: "/fhir/Observation?patient=123,456", want: 403, reason: "search_not_narrowed"},
		{name: "a search for another patient is refused", client: "smart-patient", path: "/fhir/Observation?subject=Patient/456", want: 403, reason: "search_not_narrowed"},
		{name: "a Patient search by name is refused", client: "smart-patient", path: "/fhir/Patient?name=smith", want: 403, reason: "search_not_narrowed"},
		{name: "a search narrowed to the patient passes", client: "smart-patient", path: "/fhir/Observation?patient=123", want: 200},
		{name: "the patient's compartment search passes", client: "smart-patient", path: "/fhir/Patient/123/Observation", want: 200},
		{name: "a batch reaching another patient is an escape", client: "smart-patient", method: "POST", path: "/fhir", ctype: "application/fhir+json",
			body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"Patient/123"}},{"request":{"method":"GET","url":"Patient/456"}}]}`, want: 403, reason: "compartment_escape"},
		{name: "a patient scope without a patient claim is refused", client: "smart-no-patient", path: "/fhir/Observation?patient=123", want: 403, reason: "patient_context_missing"},
	})
}

// TestSMARTPatientScopesCheckResponses needs the handler to call
// pipeline.ResponseChecker (see docs/grants.md): reads by id of other
// compartment resources are only caught on the response.
func TestSMARTPatientScopesCheckResponses(t *testing.T) {
	f := newSMARTFixture(t)
	f.run(t, []smartCase{
		{name: "an observation of the patient is returned", client: "smart-patient", path: "/fhir/Observation/o-123", want: 200},
		{name: "another patient's observation by id is refused on the response", client: "smart-patient", path: "/fhir/Observation/o-456", want: 403, reason: "response_outside_compartment"},
		{name: "a search answer holding another patient's observation is refused", client: "smart-patient", path: "/fhir/Observation?patient=123&leak=1", want: 403, reason: "response_outside_compartment"},
		{name: "a user scope is not checked on the response", client: "smart-v1", path: "/fhir/Observation/o-456", want: 200},
	})
}
