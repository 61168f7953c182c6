package audit

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// FuzzRedactQuery: a credential parameter's value never survives, and
// nothing but values of credential parameters changes.
func FuzzRedactQuery(f *testing.F) {
	for _, s := range []string{"", "a=1", "access_token=x&b=2", "a=1;token=s", "%zz=1", "Code=1&code", "&&;=", "subject_token=t&code_verifier=v"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got := RedactQuery(raw)
		if RedactQuery(got) != got {
			t.Fatalf("RedactQuery is not idempotent: %q → %q → %q", raw, got, RedactQuery(got))
		}
		in, out := strings.FieldsFunc(raw, isSep), strings.FieldsFunc(got, isSep)
		if len(in) != len(out) {
			t.Fatalf("parameter count changed: %q → %q", raw, got)
		}
		for i, p := range out {
			name, _, hasValue := strings.Cut(in[i], "=")
			key, err := url.QueryUnescape(name)
			secret := err != nil || isSecretParam(key)
			_, value, _ := strings.Cut(p, "=")
			switch {
			case secret && (hasValue || err != nil) && value != Redacted:
				t.Fatalf("secret parameter %q kept value %q", in[i], value)
			case !secret && in[i] != p:
				t.Fatalf("plain parameter %q changed to %q", in[i], p)
			}
		}
	})
}

func isSep(r rune) bool { return r == '&' || r == ';' }

// FuzzRecordHoldsNoCredentials: whatever the request carries in its headers,
// query and body, neither the Record nor its AuditEvent contains the
// credential.
func FuzzRecordHoldsNoCredentials(f *testing.F) {
	f.Add("/fhir/Patient/1", "access_token", "CWS-SHA256 Access=u, Signature=c2ln")
	f.Add("/", "client_secret", "Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl")
	f.Fuzz(func(t *testing.T, path, param, authz string) {
		const secret = "S3CR3T-VALUE-7f1c"
		if strings.Contains(param, secret) || strings.Contains(path, secret) {
			return
		}
		r := httptest.NewRequest(http.MethodPost, "http://gw.example/", strings.NewReader("body "+secret))
		r.URL.Path = "/" + path
		r.URL.RawQuery = url.QueryEscape(param) + "=" + secret
		r.Header.Set("Authorization", authz+secret)
		r.Header.Set("Cookie", "session="+secret)
		req := pipeline.NewRequest(r, &pipeline.Route{Name: "r"}, t0)
		req.Principal.Token = &identity.Token{Issuer: "https://idp", Subject: "s", ID: "j"}
		rec := NewRecord(req, pipeline.Outcome{Effect: pipeline.Allow}, 200, 0, "rid")
		ev := rec.AuditEvent(src, "id")
		for _, v := range []any{rec, ev} {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			leaked := strings.Contains(string(b), secret)
			if leaked && !secretParams[strings.ToLower(strings.TrimSpace(param))] {
				// A plain query parameter is kept by design; only
				// credentials must never appear.
				continue
			}
			if leaked {
				t.Fatalf("credential leaked into %T: %s", v, b)
			}
		}
	})
}

// FuzzParseBatchResponse: never panics; a success returns n statuses that
// are all HTTP codes.
func FuzzParseBatchResponse(f *testing.F) {
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"201 Created"}}]}`), 1)
	f.Add([]byte(`{"resourceType":"Bundle","type":"batch-response","entry":[{"response":{"status":"abc"}}]}`), 1)
	f.Add([]byte(`[]`), 0)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n < 0 || n > 1000 {
			return
		}
		sts, err := ParseBatchResponse(data, n)
		if err != nil {
			return
		}
		if len(sts) != n {
			t.Fatalf("got %d statuses, want %d", len(sts), n)
		}
		for _, st := range sts {
			if st < 100 || st > 599 {
				t.Fatalf("status %d is not an HTTP status", st)
			}
		}
	})
}

// FuzzDecodeBatch: a spool file either decodes to JSON objects that
// re-encode to the same batch, or is refused.
func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`[{"id":"a"},{"id":"b"}]`))
	f.Add([]byte(`[1]`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := decodeBatch(data)
		if err != nil {
			return
		}
		for _, e := range evs {
			var m map[string]any
			if json.Unmarshal(e, &m) != nil {
				t.Fatalf("entry %q is not a JSON object", e)
			}
		}
		again, err := json.Marshal(evs)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := decodeBatch(again); err != nil {
			t.Fatalf("re-encoded batch refused: %v", err)
		}
	})
}
