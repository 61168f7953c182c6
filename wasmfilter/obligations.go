package wasmfilter

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/healthgate/healthgate/policy/pipeline"
)

// Obligations are what an allowing rule asks of the request: upstream
// headers to set or remove, and claims to add for later rules and for the
// identity headers. They apply only on allow and only within the rule's
// ObligationPolicy.
type Obligations struct {
	// SetHeaders maps canonical header names to values.
	SetHeaders map[string]string
	// RemoveHeaders holds canonical header names.
	RemoveHeaders []string
	// Claims maps claim names to the values that replace them.
	Claims map[string][]string
}

// Empty reports whether there is nothing to apply.
func (o *Obligations) Empty() bool {
	return len(o.SetHeaders) == 0 && len(o.RemoveHeaders) == 0 && len(o.Claims) == 0
}

// ObligationPolicy is what a rule's obligations may touch.
type ObligationPolicy struct {
	// Headers are the upstream headers the rule may set or remove.
	Headers []string
	// Claims are the claims the rule may set.
	Claims []string
}

// forbiddenHeaders are headers no rule may set or remove, whatever is
// allow-listed: credentials, hop-by-hop headers (RFC 9110 §7.6.1), framing,
// and the headers that carry a forwarded identity or certificate.
var forbiddenHeaders = []string{
	"authorization", "proxy-authorization", "cookie", "host", "content-length",
	"connection", "keep-alive", "proxy-connection", "proxy-authenticate", "te", "trailer",
	"transfer-encoding", "upgrade", "forwarded", "x-real-ip", "via",
	"x-device-authorization", "x-santedbclient-claim",
}

// forbiddenPrefixes: forwarded-for headers and the gateway's own identity
// headers.
var forbiddenPrefixes = []string{"x-forwarded-", "x-healthgate-"}

// CheckObligationHeader reports an error if name may never be an obligation.
// extra lists further forbidden names (the forwarded-certificate headers the
// handler strips).
func CheckObligationHeader(name string, extra []string) error {
	if !httpguts.ValidHeaderFieldName(name) {
		return fmt.Errorf("wasmfilter: invalid header name %q", name)
	}
	if strings.Contains(name, "_") {
		// CGI, PHP, gunicorn and others read X_Remote_User as
		// X-Remote-User: an underscore name could stand in for an
		// identity header the gateway sets (whatever its configured
		// name), which no list here can know.
		return fmt.Errorf("wasmfilter: header %q has an underscore, which upstreams may read as a dash; it can never be a rule obligation", name)
	}
	l := strings.ToLower(name)
	forbidden := slices.Contains(forbiddenHeaders, l) ||
		slices.ContainsFunc(forbiddenPrefixes, func(p string) bool { return strings.HasPrefix(l, p) }) ||
		slices.ContainsFunc(extra, func(e string) bool { return strings.EqualFold(strings.ReplaceAll(e, "_", "-"), l) })
	if forbidden {
		return fmt.Errorf("wasmfilter: header %q carries credentials, identity or connection state and can never be a rule obligation", name)
	}
	return nil
}

// permit checks o against the policy: every header and claim must be
// allow-listed.
func (p *ObligationPolicy) permit(o *Obligations) error {
	header := func(name string) bool {
		return slices.ContainsFunc(p.Headers, func(h string) bool { return strings.EqualFold(h, name) })
	}
	for name := range o.SetHeaders {
		if !header(name) {
			return abiError("obligation sets header %q, which is not allow-listed", name)
		}
	}
	for _, name := range o.RemoveHeaders {
		if !header(name) {
			return abiError("obligation removes header %q, which is not allow-listed", name)
		}
	}
	for name := range o.Claims {
		if !slices.Contains(p.Claims, name) {
			return abiError("obligation sets claim %q, which is not allow-listed", name)
		}
	}
	return nil
}

// Apply carries the obligations out on req: claims on the Principal (later
// rules and the identity headers see them), header sets through
// req.SetUpstream, removals on the request itself (the handler proxies it)
// and on anything an earlier rule set.
func (o *Obligations) Apply(req *pipeline.Request) {
	if len(o.Claims) > 0 {
		// The claims map may be shared with a verifier's cache: copy
		// it, so one request's rule cannot change another's claims.
		req.Principal.Claims = maps.Clone(req.Principal.Claims)
	}
	for name, vs := range o.Claims {
		req.Principal.SetClaim(name, slices.Clone(vs)...)
	}
	for _, name := range o.RemoveHeaders {
		if req.HTTP != nil {
			req.HTTP.Header.Del(name)
		}
		req.Upstream.Del(name)
	}
	for name, v := range o.SetHeaders {
		req.SetUpstream(name, v)
	}
}
