package rule

import (
	"bytes"
	"slices"
	"strconv"
	"time"
)

// Decision is what a rule returns. The values are ABI v1's return codes.
type Decision int32

const (
	Deny    Decision = 0
	Allow   Decision = 1
	Abstain Decision = 2
)

// Level is a log level.
type Level int32

const (
	LevelDebug Level = -1
	LevelInfo  Level = 0
	LevelWarn  Level = 1
	LevelError Level = 2
)

var (
	handler   func() Decision
	configure func() error
	// buffer and out are reused by every call: a guest instance serves
	// one request at a time, and each allocation costs about 0.5 µs in
	// a Go guest.
	buffer = make([]byte, 1024)
	out    []byte
)

// Handle registers the rule function. Call it from init.
func Handle(f func() Decision) { handler = f }

// Configure registers a function the host calls once per instance, before
// any request: read Config there, keep the parsed result in package
// variables, and return an error to refuse the configuration (the rule then
// does not load, and the error is logged).
func Configure(f func() error) { configure = f }

// runConfigure is the body of the configure export.
func runConfigure() int32 {
	if configure == nil {
		return 0
	}
	if err := configure(); err != nil {
		logAt(LevelError, "configure: "+err.Error())
		return 1
	}
	return 0
}

// Attrs returns every value of an attribute of the security context, such
// as "claims.role", "request.method" or "fhir.resource_type" (docs/rules.md
// lists them), or nil if it is absent.
func Attrs(key string) []string {
	count, b := attr(key)
	return split(count, b)
}

// Attr returns the first value of an attribute, or "".
func Attr(key string) string {
	count, b := attr(key)
	if count == 0 {
		return ""
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

// Is reports whether an attribute's first value is value. Unlike
// Attr(key) == value it allocates nothing.
func Is(key, value string) bool {
	count, b := attr(key)
	if count == 0 {
		return false
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b) == value
}

// Has reports whether an attribute has the value. It allocates nothing.
func Has(key, value string) bool { return HasAny(key, value) }

// HasAny reports whether an attribute has any of the values. It allocates
// nothing.
func HasAny(key string, values ...string) bool {
	count, b := attr(key)
	for ; count > 0 && len(b) > 0; count-- {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		if slices.Contains(values, string(b[:i])) {
			return true
		}
		b = b[min(i+1, len(b)):]
	}
	return false
}

// Claim returns the first value of a verified claim.
func Claim(name string) string { return Attr("claims." + name) }

// Config returns the values of the rule's configuration key (the Caddyfile's
// `config KEY VALUES...`), or nil.
func Config(key string) []string { return Attrs("config." + key) }

// ConfigJSON returns the whole configuration as JSON.
func ConfigJSON() []byte { return slices.Clone(config()) }

// InputJSON returns the whole security context as JSON. Parsing it in Go
// costs about 100 times more than a few attribute reads.
func InputJSON() []byte { return slices.Clone(input()) }

// Now returns the request's time; every rule of a request sees the same.
func Now() time.Time { return time.UnixMilli(now()) }

// Log logs a message through the gateway's logger, capped per evaluation.
func Log(level Level, msg string) { logAt(level, msg) }

// Result is what a rule may say besides its decision.
type Result struct {
	// Reason is logged and audited, never sent to the client.
	Reason string
	// Code is a stable reason code for the client on deny, [a-z0-9_].
	Code string
	// Status is the deny status: 401, 403 (the default), 404 or 451.
	Status int
	// SetHeaders and RemoveHeaders change upstream request headers on
	// allow; the gateway must allow-list each name.
	SetHeaders    map[string]string
	RemoveHeaders []string
	// Claims are added for later rules on allow; each name must be
	// allow-listed.
	Claims map[string][]string
}

// Respond sets the result and returns d. It returns Deny if the host refused
// the result as too large.
func Respond(d Decision, r Result) Decision {
	out = r.appendJSON(out[:0], d)
	if !result(out) {
		return Deny
	}
	return d
}

// DenyWith denies with a status, a client-visible code and a logged reason.
func DenyWith(status int, code, reason string) Decision {
	return Respond(Deny, Result{Status: status, Code: code, Reason: reason})
}

func split(count int, b []byte) []string {
	if count == 0 {
		return nil
	}
	vs := make([]string, 0, count)
	for len(b) > 0 {
		i := bytes.IndexByte(b, 0)
		if i < 0 {
			i = len(b)
		}
		vs = append(vs, string(b[:i]))
		b = b[min(i+1, len(b)):]
	}
	return vs
}

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return "abstain"
}

// appendJSON writes the result document by hand: encoding/json would add
// about 1.4 MB to the module and tens of microseconds per call.
func (r Result) appendJSON(b []byte, d Decision) []byte {
	b = append(b, `{"decision":`...)
	b = appendString(b, d.String())
	if r.Reason != "" {
		b = appendString(append(b, `,"reason":`...), r.Reason)
	}
	if r.Code != "" {
		b = appendString(append(b, `,"code":`...), r.Code)
	}
	if r.Status != 0 {
		b = strconv.AppendInt(append(b, `,"status":`...), int64(r.Status), 10)
	}
	if len(r.SetHeaders)+len(r.RemoveHeaders)+len(r.Claims) > 0 {
		b = append(b, `,"obligations":{"request_headers":{"set":{`...)
		for i, k := range sortedKeys(r.SetHeaders) {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(append(appendString(b, k), ':'), r.SetHeaders[k])
		}
		b = append(b, `},"remove":[`...)
		for i, k := range r.RemoveHeaders {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
		}
		b = append(b, `]},"claims":{"set":{`...)
		for i, k := range sortedKeys(r.Claims) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), ":["...)
			for j, v := range r.Claims[k] {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendString(b, v)
			}
			b = append(b, ']')
		}
		b = append(b, "}}}"...)
	}
	return append(b, '}')
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// appendString appends s as a JSON string (RFC 8259 §7).
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
