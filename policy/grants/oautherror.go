package grants

import (
	"encoding/json"
	"net/http"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// oauthError makes the failure a token endpoint answers (RFC 6749 §5.2): a
// JSON body with a fixed error code and description, never request data.
func oauthError(status int, reason, code, description string, err error) *pipeline.Failure {
	body, _ := json.Marshal(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, description})
	f := pipeline.Refuse(status, reason, err)
	f.Body, f.ContentType = body, "application/json"
	f.Header = http.Header{"Cache-Control": {"no-store"}, "Pragma": {"no-cache"}}
	return f
}

// insufficientScope makes the 403 SanteDB and RFC 6750 §3.1 answer when a
// scope or policy OID is missing: WWW-Authenticate names the missing ones.
func insufficientScope(reason string, missing []string, err error) *pipeline.Failure {
	f := pipeline.Forbidden(reason, err)
	f.Challenge = `Bearer error="insufficient_scope", scope="` + quoteSafe(missing) + `"`
	return f
}

// quoteSafe joins scopes for a quoted-string; RFC 6749 scope tokens never
// hold '"' or '\', but scopes here come from configuration and tokens, so
// drop anything that could break the header.
func quoteSafe(scopes []string) string {
	b := make([]byte, 0, 64)
	for i, s := range scopes {
		if i > 0 {
			b = append(b, ' ')
		}
		for j := 0; j < len(s); j++ {
			if c := s[j]; c >= 0x21 && c <= 0x7e && c != '"' && c != '\\' {
				b = append(b, c)
			}
		}
	}
	return string(b)
}
