package audit

import (
	"net/url"
	"strings"
)

// secretParams are query parameters that carry credentials: RFC 6750 §2.3
// access_token, OAuth codes, PKCE verifiers, client secrets and assertions,
// RFC 8628 device codes, signed request objects (RFC 9101 request), signed
// URLs' signatures and keys. Their values never reach a record. Names that
// end in one of secretSuffixes are secret too (id_token_hint is not, so it
// is listed).
var secretParams = map[string]bool{
	"access_token": true, "id_token": true, "refresh_token": true, "token": true,
	"code": true, "code_verifier": true, "device_code": true, "id_token_hint": true,
	"client_secret": true, "client_assertion": true, "assertion": true, "request": true,
	"password": true, "passwd": true, "pwd": true, "secret": true, "signature": true, "sig": true,
	"api_key": true, "apikey": true, "key": true, "x-amz-credential": true,
}

// secretSuffixes catch the credential parameters no list keeps up with:
// subject_token and actor_token (RFC 8693), x-amz-security-token,
// x-goog-signature, login_hint_token…
var secretSuffixes = []string{"token", "secret", "password", "signature", "assertion"}

// isSecretParam reports whether the unescaped parameter name key carries a
// credential.
func isSecretParam(key string) bool {
	key = strings.ToLower(strings.TrimSpace(key))
	if secretParams[key] {
		return true
	}
	for _, s := range secretSuffixes {
		if strings.HasSuffix(key, s) {
			return true
		}
	}
	return false
}

// Redacted replaces the value of a credential-bearing query parameter.
const Redacted = "REDACTED"

// RedactQuery returns the raw query with the value of every credential-bearing
// parameter replaced by Redacted. Everything else is kept as sent, so the
// audit shows the search the client ran. Both "&" and ";" separate
// parameters, since some servers split on either; a name that cannot be
// unescaped is treated as secret, since what cannot be read cannot be cleared.
func RedactQuery(raw string) string {
	var b strings.Builder
	for raw != "" {
		end := strings.IndexAny(raw, "&;")
		if end < 0 {
			end = len(raw)
		}
		b.WriteString(redactParam(raw[:end]))
		if end < len(raw) {
			b.WriteByte(raw[end])
			end++
		}
		raw = raw[end:]
	}
	return b.String()
}

func redactParam(p string) string {
	name, _, hasValue := strings.Cut(p, "=")
	key, err := url.QueryUnescape(name)
	if err == nil && (!hasValue || !isSecretParam(key)) {
		return p
	}
	if err != nil {
		name = Redacted
	}
	return name + "=" + Redacted
}
