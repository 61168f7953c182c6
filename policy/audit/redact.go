package audit

import (
	"net/url"
	"strings"
)

// secretParams are query parameters that carry credentials: RFC 6750 §2.3
// access_token, OAuth codes and client secrets, signatures. Their values
// never reach a record.
var secretParams = map[string]bool{
	"access_token": true, "id_token": true, "refresh_token": true, "token": true,
	"code": true, "client_secret": true, "client_assertion": true, "assertion": true,
	"password": true, "secret": true, "signature": true, "sig": true,
	"api_key": true, "apikey": true, "key": true, "x-amz-signature": true,
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
	if err == nil && (!hasValue || !secretParams[strings.ToLower(strings.TrimSpace(key))]) {
		return p
	}
	if err != nil {
		name = Redacted
	}
	return name + "=" + Redacted
}
