package caddymodule

import (
	"fmt"
	"strings"

	"golang.org/x/net/http/httpguts"

	"github.com/healthgate/healthgate/policy/clientcert"
	"github.com/healthgate/healthgate/policy/identity"
	"github.com/healthgate/healthgate/policy/pipeline"
)

// UpstreamHeaders names the request headers that carry the verified identity
// to the upstream. An empty name (or "off" in the Caddyfile) turns one off.
// Whatever the client sent under these names is always removed first, so the
// upstream never sees a client-supplied identity.
type UpstreamHeaders struct {
	// Default: X-Healthgate-Device.
	Device string `json:"device,omitempty"`
	// Default: X-Healthgate-Application.
	Application string `json:"application,omitempty"`
	// Default: X-Healthgate-User.
	User string `json:"user,omitempty"`
	// UserName carries the user's display name. Default: X-Healthgate-User-Name.
	UserName string `json:"user_name,omitempty"`
	// Anonymous is "true" on an anonymous pass. Default: X-Healthgate-Anonymous.
	Anonymous string `json:"anonymous,omitempty"`
	// Scopes carries the granted scopes, space-separated. Default: X-Healthgate-Scopes.
	Scopes string `json:"scopes,omitempty"`
	// PurposeOfUse carries accepted purposes of use. Default: X-Healthgate-Purpose-Of-Use.
	PurposeOfUse string `json:"purpose_of_use,omitempty"`
	// Override is "true" after an accepted break-the-glass. Default: X-Healthgate-Override.
	Override string `json:"override,omitempty"`
}

func defaultUpstreamHeaders() UpstreamHeaders {
	return UpstreamHeaders{
		Device:       "X-Healthgate-Device",
		Application:  "X-Healthgate-Application",
		User:         "X-Healthgate-User",
		UserName:     "X-Healthgate-User-Name",
		Anonymous:    "X-Healthgate-Anonymous",
		Scopes:       "X-Healthgate-Scopes",
		PurposeOfUse: "X-Healthgate-Purpose-Of-Use",
		Override:     "X-Healthgate-Override",
	}
}

// effects applies an allowed decision to the request the upstream receives.
type effects struct {
	names UpstreamHeaders
	// strip holds lower-cased header names with '_' folded to '-':
	// servers such as IIS and some CGI bridges treat X_SSL_ClientCert
	// like X-SSL-ClientCert, so both spellings go.
	strip map[string]struct{}
}

func newEffects(cfg *UpstreamHeaders, extra []string) (*effects, error) {
	names := defaultUpstreamHeaders()
	if cfg != nil {
		names = *cfg
	}
	e := &effects{names: names, strip: make(map[string]struct{})}
	for _, n := range names.all() {
		if n == "" {
			continue
		}
		if !httpguts.ValidHeaderFieldName(n) {
			return nil, fmt.Errorf("invalid header name %q", n)
		}
		e.strip[foldHeader(n)] = struct{}{}
	}
	// A client may send any forwarded-certificate header to impersonate a
	// certificate holder: none reaches the upstream unless the gateway set
	// it itself after verification.
	for _, n := range append(clientcert.ForwardedHeaders(), extra...) {
		e.strip[foldHeader(n)] = struct{}{}
	}
	return e, nil
}

func (u UpstreamHeaders) all() []string {
	return []string{u.Device, u.Application, u.User, u.UserName, u.Anonymous, u.Scopes, u.PurposeOfUse, u.Override}
}

func foldHeader(name string) string {
	return string(appendFolded(nil, name))
}

// appendFolded appends name lower-cased with '_' as '-'.
func appendFolded(dst []byte, name string) []byte {
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_':
			c = '-'
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return dst
}

// stripped reports whether a request header must go. It folds the name
// into buf (a stack buffer for ordinary names), so the check costs no
// allocation per header per request.
func (e *effects) stripped(name string, buf []byte) bool {
	_, ok := e.strip[string(appendFolded(buf, name))]
	return ok
}

// apply strips spoofable headers and sets the verified ones. It refuses the
// request when an identity cannot be carried in a header as it is, rather
// than altering it into someone else's.
func (e *effects) apply(req *pipeline.Request, out pipeline.Outcome) *pipeline.Failure {
	h := req.HTTP.Header
	var buf [64]byte
	for k := range h {
		if e.stripped(k, buf[:0]) {
			delete(h, k)
		}
	}
	p := &req.Principal
	set := func(name, value string) bool {
		if name == "" || value == "" {
			return true
		}
		if !httpguts.ValidHeaderFieldValue(value) {
			return false
		}
		h.Set(name, value)
		return true
	}
	ok := true
	if out.Anonymous {
		ok = set(e.names.Anonymous, "true")
	} else {
		ok = set(e.names.Device, facetID(p.Device)) &&
			set(e.names.Application, facetID(p.Application)) &&
			set(e.names.User, facetID(p.User)) &&
			set(e.names.UserName, facetName(p.User)) &&
			set(e.names.Scopes, strings.Join(p.Scopes, " ")) &&
			set(e.names.PurposeOfUse, strings.Join(p.PurposeOfUse, " "))
		if p.Override {
			ok = ok && set(e.names.Override, "true")
		}
	}
	for k, vs := range req.Upstream {
		// Only the gateway's own effects name the identity headers: a
		// rule's obligation allow-listing one must not overwrite them.
		if e.isIdentityHeader(k) {
			continue
		}
		for _, v := range vs {
			ok = ok && httpguts.ValidHeaderFieldValue(v)
		}
		h[k] = vs
	}
	if !ok {
		return pipeline.Forbidden("identity_unrepresentable",
			fmt.Errorf("a verified identity contains characters a header cannot carry"))
	}
	return nil
}

func (e *effects) isIdentityHeader(name string) bool {
	for _, n := range e.names.all() {
		if n != "" && strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

func facetID(f *identity.Facet) string {
	if f == nil {
		return ""
	}
	return f.ID
}

func facetName(f *identity.Facet) string {
	if f == nil {
		return ""
	}
	return f.Name
}
