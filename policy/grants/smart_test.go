package grants

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/policy/pipeline"
)

func testSMART(t testing.TB) *SMART {
	t.Helper()
	s := &SMART{Base: "/fhir", Operations: map[string]Perm{"everything": PermRead | PermSearch}}
	if err := s.Provision(); err != nil {
		t.Fatal(err)
	}
	return s
}

type smartCase struct {
	name    string
	scopes  string // space-separated
	patient string
	method  string
	target  string
	body    string
	ctype   string
	want    string
}

func runSMART(t *testing.T, s *SMART, tests []smartCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var hdr []string
			switch tt.ctype {
			case "":
			case "If-None-Exist":
				hdr = []string{"If-None-Exist", "identifier=x"}
			default:
				hdr = []string{"Content-Type", tt.ctype}
			}
			var claims []string
			if tt.patient != "" {
				claims = []string{"patient", tt.patient}
			}
			req := withToken(newRequest(cmpOrGET(tt.method), tt.target, tt.body, hdr...), strings.Fields(tt.scopes), claims...)
			defer req.Finish()
			d := s.Decide(context.Background(), req)
			wantDecision(t, d, tt.want)
			if d.Effect == pipeline.Allow && tt.body != "" {
				if got := readUpstream(t, req); got != tt.body {
					t.Errorf("upstream reads %q, want the exact bytes", got)
				}
			}
		})
	}
}

func cmpOrGET(m string) string {
	if m == "" {
		return http.MethodGet
	}
	return m
}

func TestSMARTScopeMatrixV1(t *testing.T) {
	runSMART(t, testSMART(t), []smartCase{
		{name: "user/Observation.read allows a read", scopes: "user/Observation.read", target: "/fhir/Observation/1", want: "allow"},
		{name: "user/Observation.read allows a search", scopes: "user/Observation.read", target: "/fhir/Observation?code=x", want: "allow"},
		{name: "user/Observation.read allows instance history", scopes: "user/Observation.read", target: "/fhir/Observation/1/_history", want: "allow"},
		{name: "user/Observation.read allows a vread", scopes: "user/Observation.read", target: "/fhir/Observation/1/_history/2", want: "allow"},
		{name: "user/Observation.read refuses a create", scopes: "user/Observation.read", method: "POST", target: "/fhir/Observation", want: "deny:scope_missing"},
		{name: "user/Observation.read refuses an update", scopes: "user/Observation.read", method: "PUT", target: "/fhir/Observation/1", want: "deny:scope_missing"},
		{name: "user/Observation.read refuses a delete", scopes: "user/Observation.read", method: "DELETE", target: "/fhir/Observation/1", want: "deny:scope_missing"},
		{name: "user/Observation.read refuses another type", scopes: "user/Observation.read", target: "/fhir/Condition/1", want: "deny:scope_missing"},
		{name: "user/*.write allows a create of any type", scopes: "user/*.write", method: "POST", target: "/fhir/Condition", want: "allow"},
		{name: "user/*.write refuses a read", scopes: "user/*.write", target: "/fhir/Condition/1", want: "deny:scope_missing"},
		{name: "user/*.* allows a delete", scopes: "user/*.*", method: "DELETE", target: "/fhir/Condition/1", want: "allow"},
		{name: "system/*.read allows a system search", scopes: "system/*.read", target: "/fhir?_lastUpdated=gt2020", want: "allow"},
		{name: "system/*.read allows system history", scopes: "system/*.read", target: "/fhir/_history", want: "allow"},
		{name: "a type scope refuses a system search", scopes: "user/Observation.read", target: "/fhir?_lastUpdated=gt2020", want: "deny:scope_missing"},
		{name: "a type scope allows a system search limited by _type to it", scopes: "user/Observation.read", target: "/fhir?_type=Observation", want: "allow"},
		{name: "a type scope refuses a _type list reaching further", scopes: "user/Observation.read", target: "/fhir?_type=Observation,Condition", want: "deny:scope_missing"},
		{name: "no SMART scope refuses everything but metadata", scopes: "openid 1.3.6.1.4.1.33349.3.1.5.9.2.1", target: "/fhir/Observation/1", want: "deny:scope_missing"},
		{name: "metadata is left to others", scopes: "", target: "/fhir/metadata", want: "abstain"},
	})
}

func TestSMARTScopeMatrixV2(t *testing.T) {
	runSMART(t, testSMART(t), []smartCase{
		{name: ".rs allows a read", scopes: "user/Observation.rs", target: "/fhir/Observation/1", want: "allow"},
		{name: ".rs allows a search", scopes: "user/Observation.rs", target: "/fhir/Observation?code=x", want: "allow"},
		{name: ".rs refuses a create", scopes: "user/Observation.rs", method: "POST", target: "/fhir/Observation", want: "deny:scope_missing"},
		{name: ".s alone refuses a read", scopes: "user/Observation.s", target: "/fhir/Observation/1", want: "deny:scope_missing"},
		{name: ".r alone refuses a search", scopes: "user/Observation.r", target: "/fhir/Observation?code=x", want: "deny:scope_missing"},
		{name: ".c allows a create", scopes: "user/Observation.c", method: "POST", target: "/fhir/Observation", want: "allow"},
		{name: ".c alone refuses a conditional create, which searches", scopes: "user/Observation.c", method: "POST", target: "/fhir/Observation", ctype: "If-None-Exist", want: "deny:scope_missing"},
		{name: ".cs allows a conditional create", scopes: "user/Observation.cs", method: "POST", target: "/fhir/Observation", ctype: "If-None-Exist", want: "allow"},
		{name: ".c refuses an update", scopes: "user/Observation.c", method: "PUT", target: "/fhir/Observation/1", want: "deny:scope_missing"},
		{name: ".u allows an update", scopes: "user/Observation.u", method: "PUT", target: "/fhir/Observation/1", want: "allow"},
		{name: ".u allows a patch", scopes: "user/Observation.u", method: "PATCH", target: "/fhir/Observation/1", want: "allow"},
		{name: ".u alone refuses a conditional update, which searches", scopes: "user/Observation.u", method: "PUT", target: "/fhir/Observation?identifier=x", want: "deny:scope_missing"},
		{name: ".us allows a conditional update", scopes: "user/Observation.us", method: "PUT", target: "/fhir/Observation?identifier=x", want: "allow"},
		{name: ".d allows a delete", scopes: "user/Observation.d", method: "DELETE", target: "/fhir/Observation/1", want: "allow"},
		{name: ".d refuses a read", scopes: "user/Observation.d", target: "/fhir/Observation/1", want: "deny:scope_missing"},
		{name: "letters of two scopes combine", scopes: "user/Observation.u user/Observation.s", method: "PUT", target: "/fhir/Observation?identifier=x", want: "allow"},
		{name: "a constrained scope allows a search carrying the constraint", scopes: "user/Observation.rs?category=laboratory", target: "/fhir/Observation?category=laboratory&code=x", want: "allow"},
		{name: "a constrained scope refuses a search without it", scopes: "user/Observation.rs?category=laboratory", target: "/fhir/Observation?code=x", want: "deny:scope_constraint_unverifiable"},
		{name: "a constrained scope refuses a search widening it with a comma", scopes: "user/Observation.rs?category=laboratory", target: "/fhir/Observation?category=laboratory,vital-signs", want: "deny:scope_constraint_unverifiable"},
		{name: "a constrained scope refuses a read by id", scopes: "user/Observation.rs?category=laboratory", target: "/fhir/Observation/1", want: "deny:scope_constraint_unverifiable"},
		{name: "an unconstrained scope beside a constrained one wins", scopes: "user/Observation.rs?category=laboratory user/Observation.rs", target: "/fhir/Observation/1", want: "allow"},
		{name: "a configured operation is allowed with its permissions", scopes: "user/Patient.rs", target: "/fhir/Patient/1/$everything", want: "allow"},
		{name: "a configured operation is refused without them", scopes: "user/Observation.rs", target: "/fhir/Patient/1/$everything", want: "deny:scope_missing"},
		{name: "an operation not configured is refused", scopes: "user/*.cruds", method: "POST", target: "/fhir/Patient/$merge", want: "deny:operation_not_allowed"},
		{name: "a path outside the FHIR base is refused", scopes: "user/*.cruds", target: "/admin/Patient/1", want: "deny:fhir_outside_base"},
		{name: "a dot-dot path is a bad request", scopes: "user/*.cruds", target: "/fhir/Observation/../Patient/1", want: "deny:fhir_request_malformed"},
		{name: "a broken query is a bad request", scopes: "user/*.cruds", target: "/fhir/Observation?code=%zz", want: "deny:fhir_request_malformed"},
	})
}

func TestSMARTRefusesIncludeSmuggling(t *testing.T) {
	runSMART(t, testSMART(t), []smartCase{
		{name: "an _include of a type not granted is refused", scopes: "user/Observation.rs", target: "/fhir/Observation?code=x&_include=Observation:subject:Patient", want: "deny:include_not_allowed"},
		{name: "an _include of a granted type is allowed", scopes: "user/Observation.rs user/Patient.rs", target: "/fhir/Observation?code=x&_include=Observation:subject:Patient", want: "allow"},
		{name: "an _include without a target type needs every type", scopes: "user/Observation.rs user/Patient.rs", target: "/fhir/Observation?_include=Observation:subject", want: "deny:include_not_allowed"},
		{name: "an _include without a target type is allowed with user/*.rs", scopes: "user/*.rs", target: "/fhir/Observation?_include=Observation:subject", want: "allow"},
		{name: "_include=* needs every type", scopes: "user/Observation.rs", target: "/fhir/Observation?_include=*", want: "deny:include_not_allowed"},
		{name: "an iterating _include is checked too", scopes: "user/Observation.rs user/Patient.rs", target: "/fhir/Observation?_include=Observation:subject:Patient&_include:iterate=Patient:organization:Organization", want: "deny:include_not_allowed"},
		{name: "a _revinclude of a type not granted is refused", scopes: "user/Patient.rs", target: "/fhir/Patient?name=x&_revinclude=Observation:subject", want: "deny:include_not_allowed"},
		{name: "a _revinclude on a read is refused too", scopes: "user/Patient.rs", target: "/fhir/Patient/1?_revinclude=Observation:subject", want: "deny:include_not_allowed"},
		{name: "a _has on a type not granted is refused", scopes: "user/Patient.rs", target: "/fhir/Patient?_has:Observation:patient:code=1234-5", want: "deny:include_not_allowed"},
		{name: "a _has of a granted type is allowed", scopes: "user/Patient.rs user/Observation.rs", target: "/fhir/Patient?_has:Observation:patient:code=1234-5", want: "allow"},
		{name: "every type of a chained _has is checked", scopes: "user/Patient.rs user/Observation.rs", target: "/fhir/Patient?_has:Observation:patient:_has:AuditEvent:entity:agent=x", want: "deny:include_not_allowed"},
		{name: "a chained _has of granted types is allowed", scopes: "user/Patient.rs user/Observation.rs user/AuditEvent.rs", target: "/fhir/Patient?_has:Observation:patient:_has:AuditEvent:entity:agent=x", want: "allow"},
		{name: "an _include in a POST _search form is refused", scopes: "user/Observation.rs", method: "POST", target: "/fhir/Observation/_search",
			body: "code=x&_include=Observation:subject:Patient", ctype: "application/x-www-form-urlencoded", want: "deny:include_not_allowed"},
		{name: "an _include in the form of a POST _search with a trailing slash is refused", scopes: "user/Observation.rs", method: "POST", target: "/fhir/Observation/_search/",
			body: "code=x&_include=Observation:subject:Patient", ctype: "application/x-www-form-urlencoded", want: "deny:include_not_allowed"},
		{name: "an _include in the form of a POST system _search is refused", scopes: "user/Observation.rs", method: "POST", target: "/fhir/_search/",
			body: "_type=Observation&_include=Observation:subject:Patient", ctype: "application/x-www-form-urlencoded", want: "deny:include_not_allowed"},
	})
}

func TestSMARTKeepsPatientScopesInTheCompartment(t *testing.T) {
	const obs123 = `{"resourceType":"Observation","subject":{"reference":"Patient/123"}}`
	runSMART(t, testSMART(t), []smartCase{
		{name: "the patient in context may be read", scopes: "patient/*.rs", patient: "123", target: "/fhir/Patient/123", want: "allow"},
		{name: "a patient claim written as a reference works", scopes: "patient/*.rs", patient: "Patient/123", target: "/fhir/Patient/123", want: "allow"},
		{name: "another patient by id is an escape", scopes: "patient/*.rs", patient: "123", target: "/fhir/Patient/456", want: "deny:compartment_escape"},
		{name: "another patient's history is an escape", scopes: "patient/*.rs", patient: "123", target: "/fhir/Patient/456/_history/1", want: "deny:compartment_escape"},
		{name: "another patient's $everything is an escape", scopes: "patient/*.rs", patient: "123", target: "/fhir/Patient/456/$everything", want: "deny:compartment_escape"},
		{name: "another patient's compartment is an escape", scopes: "patient/*.rs", patient: "123", target: "/fhir/Patient/456/Observation", want: "deny:compartment_escape"},
		{name: "the patient's own compartment may be searched", scopes: "patient/*.rs", patient: "123", target: "/fhir/Patient/123/Observation?code=x", want: "allow"},
		{name: "a search not narrowed to the patient is refused", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?code=x", want: "deny:search_not_narrowed"},
		{name: "a search narrowed with patient= is allowed", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?patient=123", want: "allow"},
		{name: "a search narrowed with a Patient reference is allowed", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?subject=Patient/123", want: "allow"},
		{name: "a search narrowed with subject:Patient is allowed", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?subject:Patient=123", want: "allow"},
		{name: "a bare id on subject could be a Group and is refused", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?subject=123", want: "deny:search_not_narrowed"},
		{name: "a comma adding another patient is refused", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?patient=123,456", want: "deny:search_not_narrowed"},
		{name: "a search narrowed to another patient is refused", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?patient=456", want: "deny:search_not_narrowed"},
		{name: "a second patient parameter only narrows further", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?patient=123&patient=456", want: "allow"},
		{name: "a modifier other than the type does not narrow", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation?patient:missing=false", want: "deny:search_not_narrowed"},
		{name: "a Patient search by name is refused", scopes: "patient/*.rs", patient: "123", target: "/fhir/Patient?name=smith", want: "deny:search_not_narrowed"},
		{name: "a Patient search by the patient's _id is allowed", scopes: "patient/*.rs", patient: "123", target: "/fhir/Patient?_id=123", want: "allow"},
		{name: "a search of a type outside the compartment is allowed", scopes: "patient/*.rs", patient: "123", target: "/fhir/Practitioner?name=x", want: "allow"},
		{name: "type history of a compartment type is refused", scopes: "patient/*.rs", patient: "123", target: "/fhir/Observation/_history", want: "deny:search_not_narrowed"},
		{name: "a system search is refused", scopes: "patient/*.rs", patient: "123", target: "/fhir?_lastUpdated=gt2020", want: "deny:search_not_narrowed"},
		{name: "an Encounter compartment search is not narrowed", scopes: "patient/*.rs", patient: "123", target: "/fhir/Encounter/e1/Observation", want: "deny:search_not_narrowed"},
		{name: "a HEAD of a compartment resource by id cannot be checked", scopes: "patient/*.rs", patient: "123", method: "HEAD", target: "/fhir/Observation/o1", want: "deny:compartment_unverifiable"},
		{name: "a HEAD of a narrowed search cannot be checked", scopes: "patient/*.rs", patient: "123", method: "HEAD", target: "/fhir/Observation?patient=123", want: "deny:compartment_unverifiable"},
		{name: "a HEAD of the patient in context is refused like any checked read", scopes: "patient/*.rs", patient: "123", method: "HEAD", target: "/fhir/Patient/123", want: "deny:compartment_unverifiable"},
		{name: "a HEAD under a user scope is allowed", scopes: "user/*.rs", method: "HEAD", target: "/fhir/Observation/o1", want: "allow"},
		{name: "a patient scope without a patient claim is refused", scopes: "patient/*.rs", target: "/fhir/Patient/123", want: "deny:patient_context_missing"},
		{name: "a malformed patient claim counts as none", scopes: "patient/*.rs", patient: "Patient/../456", target: "/fhir/Patient/456", want: "deny:patient_context_missing"},
		{name: "a user scope beside the patient scope lifts the compartment", scopes: "patient/*.rs user/Patient.rs", patient: "123", target: "/fhir/Patient/456", want: "allow"},
		{name: "a POST _search form narrowed to the patient is allowed", scopes: "patient/*.rs", patient: "123", method: "POST", target: "/fhir/Observation/_search",
			body: "patient=123&code=x", ctype: "application/x-www-form-urlencoded", want: "allow"},
		{name: "a POST _search form not narrowed is refused", scopes: "patient/*.rs", patient: "123", method: "POST", target: "/fhir/Observation/_search",
			body: "code=x", ctype: "application/x-www-form-urlencoded", want: "deny:search_not_narrowed"},
		{name: "the form of a POST compartment _search is read too", scopes: "patient/Observation.rs", patient: "123", method: "POST", target: "/fhir/Patient/123/Observation/_search/",
			body: "_include=Observation:performer", ctype: "application/x-www-form-urlencoded", want: "deny:include_not_allowed"},
		{name: "a POST _search with a body that is not a form is refused", scopes: "patient/*.rs", patient: "123", method: "POST", target: "/fhir/Observation/_search?patient=123",
			body: `{"patient":"456"}`, ctype: "application/json", want: "deny:fhir_request_malformed"},
		{name: "creating a resource about the patient is allowed", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Observation", body: obs123, ctype: "application/fhir+json", want: "allow"},
		{name: "creating a resource about another patient is an escape", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Observation",
			body: `{"resourceType":"Observation","subject":{"reference":"Patient/456"}}`, ctype: "application/fhir+json", want: "deny:compartment_escape"},
		{name: "creating a resource about another patient that the patient performed is an escape", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Observation",
			body: `{"resourceType":"Observation","subject":{"reference":"Patient/456"},"performer":[{"reference":"Patient/123"}]}`, ctype: "application/fhir+json", want: "deny:compartment_escape"},
		{name: "creating another Patient is an escape", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Patient", body: `{"resourceType":"Patient"}`, ctype: "application/fhir+json", want: "deny:compartment_escape"},
		{name: "creating a resource of another type than the URL is a bad request", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Observation",
			body: `{"resourceType":"Condition","subject":{"reference":"Patient/123"}}`, ctype: "application/fhir+json", want: "deny:fhir_request_malformed"},
		{name: "creating from XML cannot be checked", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Observation", body: "<Observation/>", ctype: "application/fhir+xml", want: "deny:compartment_unverifiable"},
		{name: "updating a resource about the patient is allowed", scopes: "patient/*.cruds", patient: "123", method: "PUT", target: "/fhir/Observation/o1",
			body: `{"resourceType":"Observation","id":"o1","subject":{"reference":"Patient/123"}}`, ctype: "application/fhir+json", want: "allow"},
		{name: "updating with another id in the body is a bad request", scopes: "patient/*.cruds", patient: "123", method: "PUT", target: "/fhir/Observation/o1",
			body: `{"resourceType":"Observation","id":"o2","subject":{"reference":"Patient/123"}}`, ctype: "application/fhir+json", want: "deny:fhir_request_malformed"},
		{name: "deleting a compartment resource by id cannot be checked", scopes: "patient/*.cruds", patient: "123", method: "DELETE", target: "/fhir/Observation/o1", want: "deny:compartment_unverifiable"},
		{name: "deleting another patient through another spelling of the type is refused", scopes: "patient/*.cruds", patient: "123", method: "DELETE", target: "/fhir/PATIENT/456", want: "deny:fhir_request_malformed"},
		{name: "creating through another spelling of a compartment type is refused", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/OBSERVATION",
			body: `{"resourceType":"Observation","subject":{"reference":"Patient/456"}}`, ctype: "application/fhir+json", want: "deny:fhir_request_malformed"},
		{name: "deleting with a narrowed condition is allowed", scopes: "patient/*.cruds", patient: "123", method: "DELETE", target: "/fhir/Observation?patient=123&code=x", want: "allow"},
		{name: "deleting with an unnarrowed condition is refused", scopes: "patient/*.cruds", patient: "123", method: "DELETE", target: "/fhir/Observation?code=x", want: "deny:search_not_narrowed"},
		{name: "a body over the limit is refused", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Observation",
			body: `{"resourceType":"Observation","note":"` + strings.Repeat("a", 2<<20) + `"}`, ctype: "application/fhir+json", want: "deny:body_too_large"},
	})
}

func TestSMARTRefusesWritingOperationsOnCompartmentResourcesUnderPatientScopes(t *testing.T) {
	s := &SMART{Base: "/fhir", Operations: map[string]Perm{"meta-add": PermUpdate, "meta": PermRead, "everything": PermRead | PermSearch}}
	if err := s.Provision(); err != nil {
		t.Fatal(err)
	}
	runSMART(t, s, []smartCase{
		{name: "a writing operation on a compartment resource by id cannot be checked", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Observation/o1/$meta-add", want: "deny:compartment_unverifiable"},
		{name: "a reading operation on a compartment resource by id is checked on the response", scopes: "patient/*.cruds", patient: "123", target: "/fhir/Observation/o1/$meta", want: "allow"},
		{name: "a writing operation on the patient in context is allowed", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir/Patient/123/$meta-add", want: "allow"},
		{name: "a writing operation under a user scope is allowed", scopes: "user/*.cruds", method: "POST", target: "/fhir/Observation/o1/$meta-add", want: "allow"},
	})
}

func TestSMARTChecksEveryBatchEntry(t *testing.T) {
	bundle := func(entries string) string {
		return `{"resourceType":"Bundle","type":"transaction","entry":[` + entries + `]}`
	}
	runSMART(t, testSMART(t), []smartCase{
		{name: "a batch of allowed entries is allowed", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir", ctype: "application/fhir+json",
			body: bundle(`{"request":{"method":"GET","url":"Patient/123"}},{"request":{"method":"GET","url":"Observation?patient=123"}}`), want: "allow"},
		{name: "a batch reading another patient is an escape", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir", ctype: "application/fhir+json",
			body: bundle(`{"request":{"method":"GET","url":"Patient/123"}},{"request":{"method":"GET","url":"Patient/456"}}`), want: "deny:compartment_escape"},
		{name: "a batch creating for another patient is an escape", scopes: "patient/*.cruds", patient: "123", method: "POST", target: "/fhir", ctype: "application/fhir+json",
			body: bundle(`{"resource":{"resourceType":"Observation","subject":{"reference":"Patient/456"}},"request":{"method":"POST","url":"Observation"}}`), want: "deny:compartment_escape"},
		{name: "a batch entry beyond the scopes is refused", scopes: "user/Patient.rs", method: "POST", target: "/fhir", ctype: "application/fhir+json",
			body: bundle(`{"request":{"method":"GET","url":"Patient/1"}},{"request":{"method":"DELETE","url":"Patient/1"}}`), want: "deny:scope_missing"},
		{name: "a batch smuggling an _include is refused", scopes: "user/Observation.rs", method: "POST", target: "/fhir", ctype: "application/fhir+json",
			body: bundle(`{"request":{"method":"GET","url":"Observation?_include=Observation:subject:Patient"}}`), want: "deny:include_not_allowed"},
		{name: "a batch entry hiding its request behind another spelling is judged by the one the server runs", scopes: "user/Practitioner.rs", method: "POST", target: "/fhir", ctype: "application/fhir+json",
			body: bundle(`{"request":{"method":"DELETE","url":"Patient/1"},"REQUEST":{"method":"GET","url":"Practitioner/1"}}`), want: "deny:scope_missing"},
		{name: "a malformed bundle is a bad request", scopes: "user/*.cruds", method: "POST", target: "/fhir", ctype: "application/fhir+json",
			body: `{"resourceType":"Bundle","type":"batch","entry":[{"request":{"method":"GET","url":"https://evil/Patient/1"}}]}`, want: "deny:fhir_request_malformed"},
	})
}

func TestSMARTChallengeNamesTheMissingScope(t *testing.T) {
	s := testSMART(t)
	req := withToken(newRequest(http.MethodPost, "/fhir/Observation", ""), []string{"system/Observation.rs"})
	d := s.Decide(context.Background(), req)
	if d.Failure == nil || d.Failure.Challenge != `Bearer error="insufficient_scope", scope="system/Observation.c"` {
		t.Errorf("failure = %+v", d.Failure)
	}
	req = withToken(newRequest(http.MethodGet, "/fhir/Observation/1", ""), []string{"user/Observation.rs"})
	if d := s.Decide(context.Background(), req); d.Effect != pipeline.Allow || len(d.Grounds) != 1 || d.Grounds[0] != "user/Observation.rs" {
		t.Errorf("grounds = %v, want the granting scope", d.Grounds)
	}
}

func TestSMARTBaseDefaultsToTheHandlers(t *testing.T) {
	tests := []struct {
		name, base, handlerBase, target, want string
	}{
		{"no base of its own: the handler's applies", "", "/fhir", "/fhir/Patient/1", "allow"},
		{"the handler's base refuses paths outside it", "", "/fhir", "/Patient/1", "deny:fhir_outside_base"},
		{"no base anywhere: the root", "", "", "/Patient/1", "allow"},
		{"its own base overrides the handler's", "/api", "/fhir", "/api/Patient/1", "allow"},
		{"its own base refuses the handler's paths", "/api", "/fhir", "/fhir/Patient/1", "deny:fhir_outside_base"},
		{"/ is the root, not unset", "/", "/fhir", "/Patient/1", "allow"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &SMART{Base: tt.base}
			if err := s.Provision(); err != nil {
				t.Fatal(err)
			}
			req := withToken(newRequest("GET", tt.target, ""), []string{"user/Patient.r"})
			req.FHIRBase = tt.handlerBase
			defer req.Finish()
			wantDecision(t, s.Decide(context.Background(), req), tt.want)
		})
	}
}

func TestSMARTUsesTheSharedClassification(t *testing.T) {
	s := testSMART(t)
	t.Run("it decides on the request's cached interaction", func(t *testing.T) {
		req := withToken(newRequest("GET", "/fhir/Patient/1", ""), []string{"user/Patient.r"})
		defer req.Finish()
		if _, err := req.FHIR("/fhir"); err != nil {
			t.Fatal(err)
		}
		// Were SMART to parse again it would see an Observation read,
		// which the scopes do not grant.
		req.HTTP.URL.Path = "/fhir/Observation/1"
		wantDecision(t, s.Decide(context.Background(), req), "allow")
	})
	t.Run("its conditional-create mark stays its own", func(t *testing.T) {
		req := withToken(newRequest("POST", "/fhir/Observation", "", "If-None-Exist", "identifier=x"), []string{"user/Observation.c"})
		defer req.Finish()
		wantDecision(t, s.Decide(context.Background(), req), "deny:scope_missing")
		in, err := req.FHIR("/fhir")
		if err != nil || in.Conditional {
			t.Errorf("shared interaction = %+v, %v; want an unconditional create (the audit and rules read it)", in, err)
		}
	})
	t.Run("a parse error still refuses when cached", func(t *testing.T) {
		req := withToken(newRequest("GET", "/fhir/Patient/../Observation", ""), []string{"user/*.r"})
		defer req.Finish()
		if _, err := req.FHIR("/fhir"); err == nil {
			t.Fatal("a dot segment classified")
		}
		wantDecision(t, s.Decide(context.Background(), req), "deny:fhir_request_malformed")
	})
}
